#!/bin/sh
# Load test of POST /credentials/issue with wrk.
#
# Builds agentid, starts `agentid serve` on a fresh data directory (a new
# SQLite database, or the PostgreSQL database DATABASE names, which should
# be empty), and runs wrk against it for each format: eddsa-rdfc-2022,
# ecdsa-rdfc-2019 and dc+sd-jwt. Prints one RESULT line per format
# (requests/s, p50 and p99 latency, failed requests) with the machine's load
# average before and after, then stops the server.
#
# Usage (from the repository root):
#
#   bench/issue.sh                       # SQLite, 10 s per format, 64 connections
#   DURATION=30s CONNECTIONS=128 bench/issue.sh
#   DATABASE='postgres://postgres@127.0.0.1:5432/bench?sslmode=disable' bench/issue.sh
#   FORMATS=eddsa-rdfc-2022 bench/issue.sh
#
# Needs go and wrk (Debian: apt-get install wrk). The server and wrk share
# the machine: on a 2-core machine wrk takes a part of one core.
set -eu

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
FORMATS=${FORMATS:-"eddsa-rdfc-2022 ecdsa-rdfc-2019 dc+sd-jwt"}
ADDR=${ADDR:-127.0.0.1:18080}

root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
server=
cleanup() {
	if [ -n "$server" ]; then
		kill "$server" 2>/dev/null || true
		wait "$server" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

command -v wrk >/dev/null || { echo "wrk is not installed" >&2; exit 1; }
# Built as a server is deployed (README, Quick start): without cgo or gin's
# MessagePack codec.
(cd "$root" && CGO_ENABLED=0 go build -tags nomsgpack -o "$work/agentid" ./cmd/agentid)

TOKEN=tok_bench_$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
export TOKEN
AGENTID_ADMIN_TOKEN=$TOKEN "$work/agentid" serve --addr "$ADDR" --data "$work/data" \
	${DATABASE:+--database "$DATABASE"} >"$work/server.log" 2>&1 &
server=$!

i=0
until curl -fsS "http://$ADDR/readyz" >/dev/null 2>&1; do
	i=$((i + 1))
	if [ $i -gt 100 ] || ! kill -0 "$server" 2>/dev/null; then
		echo "the server did not start:" >&2
		cat "$work/server.log" >&2
		exit 1
	fi
	sleep 0.1
done

db=SQLite
[ -n "${DATABASE:-}" ] && db=PostgreSQL
echo "agentid serve on $db; wrk -t$THREADS -c$CONNECTIONS -d$DURATION; $(nproc) CPUs"
# cputicks: the server's CPU time (user + system) in clock ticks.
cputicks() { awk '{print $14 + $15}' "/proc/$server/stat"; }
hz=$(getconf CLK_TCK)

for format in $FORMATS; do
	# One request first: opens the status lists and loads the keys.
	FORMAT=$format CREDENTIAL=$root/bench/credential.json \
		wrk -t1 -c1 -d1s -s "$root/bench/issue.lua" "http://$ADDR" >/dev/null
	echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
	t0=$(cputicks)
	result=$(FORMAT=$format CREDENTIAL=$root/bench/credential.json \
		wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "$root/bench/issue.lua" "http://$ADDR" | grep '^RESULT')
	t1=$(cputicks)
	# Server CPU per request: on an idle machine with C cores the server
	# alone could not exceed C / that many requests per second.
	n=$(echo "$result" | sed 's/.* requests=\([0-9]*\) .*/\1/')
	echo "$result server-cpu-per-request=$(awk -v t=$((t1 - t0)) -v hz="$hz" -v n="$n" 'BEGIN {printf "%.0fus", t / hz / n * 1e6}')"
	echo "load after:  $(cut -d' ' -f1-3 /proc/loadavg)"
done
