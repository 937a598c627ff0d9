-- wrk script for the verify endpoints: POSTs the JSON body in the file named
-- by $BODY to the URL path wrk was given (e.g. /credentials/verify), counts
-- answers by status, and prints latency percentiles and the count of
-- answers that were not 200 (a verification that did not verify is a 400).
--
--   BODY=cred.json wrk -t2 -c16 -d10s -s bench/verify.lua http://127.0.0.1:8080/credentials/verify

local path = os.getenv("BODY")
local f = assert(io.open(path, "rb"), "BODY must name a readable file")
local body = f:read("*a")
f:close()

wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Relying-Party"] = "bench"

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  not200 = 0
end

function response(status, headers, body)
  if status ~= 200 then
    not200 = not200 + 1
    if not200 == 1 then
      io.stderr:write("first non-200 answer: " .. status .. " " .. string.sub(body, 1, 400) .. "\n")
    end
  end
end

function done(summary, latency, requests)
  local bad = 0
  for _, t in ipairs(threads) do
    bad = bad + t:get("not200")
  end
  local secs = summary.duration / 1e6
  io.write(string.format("RESULT requests=%d rps=%.0f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f non200=%d errors=%d\n",
    summary.requests, summary.requests / secs,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, bad,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status + summary.errors.timeout))
end
