-- wrk script: POST /credentials/issue with the admin token.
--
--   TOKEN=<admin token> FORMAT=eddsa-rdfc-2022|ecdsa-rdfc-2019|dc+sd-jwt \
--   CREDENTIAL=bench/credential.json wrk -s bench/issue.lua http://127.0.0.1:8080
--
-- Every request issues a new credential (the issuer gives it an id and two
-- status list entries, or one for dc+sd-jwt). At the end it prints one line:
-- format, requests/s, p50 and p99 latency, and the responses that were not
-- 201 (any such response is a failure of the run).

local token = os.getenv("TOKEN") or error("TOKEN: the admin token")
local format = os.getenv("FORMAT") or "eddsa-rdfc-2022"
local path = os.getenv("CREDENTIAL") or "bench/credential.json"

local f = assert(io.open(path, "r"))
local credential = f:read("*a")
f:close()

local options = {
  ["eddsa-rdfc-2022"] = '{}',
  ["ecdsa-rdfc-2019"] = '{"cryptosuite": "ecdsa-rdfc-2019"}',
  ["dc+sd-jwt"] = '{"format": "dc+sd-jwt"}',
}
assert(options[format], "FORMAT: eddsa-rdfc-2022, ecdsa-rdfc-2019 or dc+sd-jwt")

wrk.method = "POST"
wrk.path = "/credentials/issue"
wrk.body = '{"credential": ' .. credential .. ', "options": ' .. options[format] .. '}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. token

-- Count answers other than 201 Created per thread; done() adds them up.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  failed = 0
end

function response(status, headers, body)
  if status ~= 201 then
    failed = failed + 1
    if failed == 1 then
      io.stderr:write("unexpected answer " .. status .. ": " .. body .. "\n")
    end
  end
end

function done(summary, latency, requests)
  local failures = 0
  for _, t in ipairs(threads) do
    failures = failures + t:get("failed")
  end
  local seconds = summary.duration / 1e6
  io.write(string.format("RESULT format=%s requests=%d requests/s=%.0f p50=%.1fms p99=%.1fms failed=%d errors=%d\n",
    format, summary.requests, summary.requests / seconds,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    failures, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status + summary.errors.timeout))
end
