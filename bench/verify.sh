#!/usr/bin/env bash
# Load test of the verifier over HTTP with wrk on loopback.
#
# Builds agentid, starts `agentid serve` on a fresh data directory (SQLite,
# or PostgreSQL with --database URL), issues the credentials it posts, and
# runs wrk (bench/verify.lua) at several connection counts for each
# scenario:
#
#   eddsa           POST /credentials/verify, eddsa-rdfc-2022 credential
#                   without status entries
#   eddsa+status    the same with its two BitstringStatusListEntry entries:
#                   the server fetches its own lists over loopback and
#                   revalidates them per --status-staleness (default 60 s)
#   sdjwt           POST /presentations/verify, SD-JWT VC (ES256) with a
#                   KB-JWT; options.challenge is a nonce /challenges did not
#                   issue, so it is checked against the KB-JWT only and the
#                   same presentation may be posted again (an issued
#                   challenge is single use)
#   vp              POST /presentations/verify, VC 2.0 presentation of an
#                   eddsa-rdfc-2022 credential with the holder's (Ed25519)
#                   eddsa-rdfc-2022 authentication proof, same nonce rule
#
# Every verification writes its audit event (hash chain, group commit)
# before the answer. For each run it prints wrk's throughput and latency
# percentiles, the server's CPU time per verification (a ceiling that holds
# on a busy machine: C cores give at most C·10⁶/cpu_us verifications/s),
# its peak RSS during the run, and the load average. Then, per scenario,
# the highest throughput (saturation) and a run with fewer connections at
# about half that throughput, with its p50/p99.
#
# Usage: bench/verify.sh [--database postgres://...] [--duration 10s (seconds only)]
#                        [--conns "1 2 4 8 16 32 64"] [--scenarios "eddsa eddsa+status sdjwt vp"]
#                        [--port 18181] [--open-rate N (open loop at N/s instead of half the saturation)]
# Environment: GOMEMLIMIT, GOGC are passed to the server (e.g.
# GOMEMLIMIT=16MiB); AGENTID_BIN runs that agentid binary instead of
# building one. Needs go, wrk, curl, jq (and psql with --database).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
database=""
duration=10s
conns="1 2 4 8 16 32 64"
scenarios="eddsa eddsa+status sdjwt vp"
port=18181
open_rate=""
while [ $# -gt 0 ]; do
  case "$1" in
    --database) database=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --conns) conns=$2; shift 2 ;;
    --scenarios) scenarios=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    --open-rate) open_rate=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
for tool in go wrk curl jq; do
  command -v $tool >/dev/null || { echo "$tool is required" >&2; exit 2; }
done

work=$(mktemp -d)
chmod 700 "$work"
pid=""
schema=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  if [ -n "$schema" ]; then PGOPTIONS="-c client_min_messages=warning" psql -q "$database" -c "DROP SCHEMA $schema CASCADE" || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

(cd "$root" && go build -o "$work/openloop" ./bench/openloop)
if [ -n "${AGENTID_BIN:-}" ]; then
  agentid=$AGENTID_BIN
else
  # Built as a server is deployed (README, Quick start): without cgo (a cgo
  # build also links the in-process TPM simulator and OpenSSL, about 12 MB
  # more resident) and without gin's MessagePack codec.
  (cd "$root" && CGO_ENABLED=0 go build -tags nomsgpack -o "$work/agentid" ./cmd/agentid)
  agentid="$work/agentid"
fi
url="http://127.0.0.1:$port"
token="tok_bench_$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"

# On PostgreSQL the server gets a schema of its own (search_path), dropped
# at the end, so that the test neither reads nor leaves tables elsewhere.
db_label=sqlite
if [ -n "$database" ]; then
  command -v psql >/dev/null || { echo "psql is required with --database" >&2; exit 2; }
  db_label=postgres
  schema="agentid_bench_$$"
  psql -q "$database" -c "CREATE SCHEMA $schema"
  case "$database" in *\?*) sep='&' ;; *) sep='?' ;; esac
  server_db="$database${sep}search_path=$schema"
fi
args=(serve --data "$work/data" --addr "127.0.0.1:$port" --log-level warn)
[ -n "$database" ] && args+=(--database "$server_db")
mkdir -m 700 "$work/data"
AGENTID_ADMIN_TOKEN=$token "$agentid" "${args[@]}" >"$work/server.log" 2>&1 &
pid=$!
up=""
for _ in $(seq 100); do
  curl -fs "$url/healthz" >/dev/null 2>&1 && up=1 && break
  sleep 0.1
done
if [ -z "$up" ]; then
  echo "the server did not come up:" >&2
  cat "$work/server.log" >&2
  exit 1
fi

# The credentials: the schemas package's AgentIdentityCredential example,
# issued by the server's default organization.
valid_until=$(date -u -d '+30 days' +%Y-%m-%dT%H:%M:%SZ)
issue() { # issue OPTIONS_JSON SUBJECT_DID → the verifiableCredential
  jq -c --arg until "$valid_until" --arg subject "$2" --argjson options "$1" '
    del(.issuer, .id, .validFrom, .credentialStatus) | .validUntil = $until
    | (if $subject != "" then .credentialSubject.id = $subject else . end)
    | {credential: ., options: $options}' "$root/schemas/testdata/agent-identity.json" |
    curl -fsS -X POST -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
      --data @- "$url/credentials/issue" | jq -c .verifiableCredential
}
issue '{"credentialStatus": false}' "" | jq -c '{verifiableCredential: .}' >"$work/eddsa.json"
issue '{}' "" | jq -c '{verifiableCredential: .}' >"$work/eddsa+status.json"
holder=$("$agentid" key generate --type p256 --out "$work/holder.jwk" | grep -o 'did:key:[A-Za-z0-9]*' | head -1)
issue '{"format": "dc+sd-jwt"}' "$holder" | jq -r . >"$work/cred.sdjwt"
edholder=$("$agentid" key generate --type ed25519 --out "$work/edholder.jwk" | grep -o 'did:key:[A-Za-z0-9]*' | head -1)
issue '{"credentialStatus": false}' "$edholder" >"$work/held.json"
"$agentid" vc present --key "$work/edholder.jwk" --challenge bench-nonce --domain https://rp.example "$work/held.json" |
  jq -c '{verifiablePresentation: ., options: {challenge: "bench-nonce", domain: "https://rp.example"}}' >"$work/vp.json"

# A KB-JWT is accepted for 5 minutes (plus the clock skew) after its iat, so
# the presentation is made again before each run.
present_sdjwt() {
  "$agentid" vc present --key "$work/holder.jwk" --challenge bench-nonce --domain https://rp.example \
    --disclose /name "$work/cred.sdjwt" | tr -d '\n' |
    jq -Rc '{verifiablePresentation: ., options: {challenge: "bench-nonce", domain: "https://rp.example"}}' >"$work/sdjwt.json"
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
tck=$(getconf CLK_TCK)

echo "# agentid verify load test, $(date -u +%FT%TZ), $(nproc) CPUs, database $db_label, GOMEMLIMIT=${GOMEMLIMIT:-unset} GOGC=${GOGC:-unset}"
echo "# scenario conns rps p50_ms p90_ms p99_ms max_ms non200 errors cpu_us_per_verify rss_peak_kib (of which anon) load1"
declare -A best_rps
declare -A results
for sc in $scenarios; do
  case $sc in
    eddsa | eddsa+status) path=/credentials/verify ;;
    sdjwt | vp) path=/presentations/verify ;;
    *) echo "unknown scenario $sc" >&2; exit 2 ;;
  esac
  best_rps[$sc]=0
  for c in $conns; do
    [ "$sc" = sdjwt ] && present_sdjwt
    threads=$((c < 2 ? 1 : 2))
    before=$(cpu_ticks)
    rss_file="$work/rss"
    echo "0 0" >"$rss_file"
    (peak=0; while kill -0 "$pid" 2>/dev/null; do
      read -r r a < <(awk '/^VmRSS/{r=$2} /^RssAnon/{a=$2} END{print r+0, a+0}' "/proc/$pid/status" 2>/dev/null || echo "0 0")
      [ "${r:-0}" -gt "$peak" ] && peak=$r && echo "$peak $a" >"$rss_file"
      sleep 0.2
    done) &
    sampler=$!
    out=$(BODY="$work/$sc.json" wrk -t$threads -c$c -d"$duration" -s "$here/verify.lua" "$url$path" 2>"$work/wrk.err" | grep '^RESULT' || true)
    kill $sampler 2>/dev/null || true; wait $sampler 2>/dev/null || true
    after=$(cpu_ticks)
    load=$(cut -d' ' -f1 /proc/loadavg)
    if [ -z "$out" ]; then echo "wrk failed: $(cat "$work/wrk.err")" >&2; continue; fi
    eval "$(echo "$out" | sed 's/^RESULT //')" # requests rps p50_ms ... errors
    cpu_us=$(awk -v t=$((after - before)) -v hz="$tck" -v n="$requests" 'BEGIN{ if (n > 0) printf "%.0f", t * 1e6 / hz / n; else print "NaN" }')
    read -r rss anon <"$rss_file"
    line="$sc $c $rps $p50_ms $p90_ms $p99_ms $max_ms $non200 $errors $cpu_us $rss $anon $load"
    echo "$line"
    [ -s "$work/wrk.err" ] && sed 's/^/#   /' "$work/wrk.err"
    results["$sc $c"]=$line
    [ "$rps" -gt "${best_rps[$sc]}" ] && best_rps[$sc]=$rps
  done
done

echo "# saturation, and about half of it: the wrk run whose throughput is closest to half (wrk is closed-loop),"
echo "# then bench/openloop sending at exactly half the saturation rate, latency measured from when each request was due"
for sc in $scenarios; do
  half=$((best_rps[$sc] / 2))
  pick=""; dist=-1
  for c in $conns; do
    line=${results["$sc $c"]:-}
    [ -z "$line" ] && continue
    r=$(echo "$line" | cut -d' ' -f3)
    d=$((r > half ? r - half : half - r))
    if [ $dist -lt 0 ] || [ $d -lt $dist ]; then dist=$d; pick=$line; fi
  done
  echo "# $sc: saturation ${best_rps[$sc]}/s; closest wrk run: $pick"
  case $sc in
    sdjwt) path=/presentations/verify; present_sdjwt ;;
    vp) path=/presentations/verify ;;
    *) path=/credentials/verify ;;
  esac
  [ -n "$open_rate" ] && half=$open_rate
  if [ "$half" -gt 0 ]; then
    before=$(cpu_ticks)
    ol=$("$work/openloop" -url "$url$path" -body "$work/$sc.json" -rate "$half" -duration "$duration" || true)
    after=$(cpu_ticks)
    echo "# $sc: open loop at $half/s: ${ol#RESULT } cpu_us_per_verify=$(awk -v t=$((after - before)) -v hz="$tck" -v r="$half" -v d="${duration%s}" 'BEGIN{printf "%.0f", t * 1e6 / hz / (r * d)}') rss_kib=$(awk '/^VmRSS/{print $2}' "/proc/$pid/status") load1=$(cut -d' ' -f1 /proc/loadavg)"
  fi
done
echo "# server VmHWM (peak RSS over the whole test): $(awk '/^VmHWM/{print $2, $3}' "/proc/$pid/status"); now $(grep -E '^(RssAnon|RssFile)' "/proc/$pid/status" | tr -s ' \t' ' ' | tr '\n' ' ')"
echo "# RssFile is the executable's pages mapped from the page cache (shared, clean, reclaimable); RssAnon is the process's own memory"
