#!/usr/bin/env bash
# Measures vigil serve on this machine: sustained throughput at full load,
# then detection latency at half that rate, single node, all SigmaHQ Windows
# rules loaded. Numbers go to docs/benchmarks.md ("vigil serve").
#
#   docs/bench-serve.sh [CORPUS]
#
# Workloads (each against a fresh data directory):
#   http     Windows events (the OTRF datasets of the corpus, NDJSON) posted
#            by vigil-loadgen over HTTP, 4 connections, 500 events per request
#   mixed    the same with 20% of the events sent as RFC 5424 syslog over TCP
#
# Environment: DURATION=30s  RULES=path (default CORPUS/sigma/rules/windows)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
corpus=$(cd "${1:-$repo/../shared/corpus}" && pwd)
work=${TMPDIR:-/tmp}/vigil-bench-serve
rm -rf "$work"; mkdir -p "$work"
duration=${DURATION:-30s}
rules=${RULES:-$corpus/sigma/rules/windows}
cd "$repo"
go build -o "$work/vigil" ./cmd/vigil
go build -o "$work/vigil-loadgen" ./cmd/vigil-loadgen
find "$corpus/logs/otrf-security-datasets/atomic/windows" -name '*.json' | sort | xargs cat > "$work/events.jsonl"
echo "events file: $(wc -l < "$work/events.jsonl") events, $(du -h "$work/events.jsonl" | cut -f1)"

run() { # name rate extra-loadgen-args...
	local name=$1 rate=$2; shift 2
	local dir="$work/data-$name-$rate"
	"$work/vigil" serve --data-dir "$dir" --http 127.0.0.1:18480 --syslog-udp off \
		--syslog-tcp 127.0.0.1:18514 --rules "$rules" --log-level warn 2>"$work/serve-$name-$rate.log" &
	local pid=$!
	for _ in $(seq 300); do
		curl -fs http://127.0.0.1:18480/healthz >/dev/null 2>&1 && [ -f "$dir/admin.token" ] && break
		sleep 0.1
	done
	echo "== $name, rate ${rate:-max} ($(uptime | sed 's/.*load/load/'))"
	"$work/vigil-loadgen" --url http://127.0.0.1:18480 --token-file "$dir/admin.token" \
		--events "$work/events.jsonl" --duration "$duration" --rate "$rate" "$@" | tee "$work/result-$name-$rate.json"
	kill -TERM $pid; wait $pid || true
}
for w in http mixed; do
	extra=()
	[ "$w" = mixed ] && extra=(--syslog-tcp 127.0.0.1:18514 --syslog-share 0.2)
	run "$w" 0 "${extra[@]}"
	max=$(sed -n 's/.*"processed_per_second": \([0-9]*\).*/\1/p' "$work/result-$w-0.json")
	run "$w" $(( max / 2 )) "${extra[@]}"
done
