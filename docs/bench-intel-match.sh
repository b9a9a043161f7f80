#!/usr/bin/env bash
# What one Matcher costs over every event of the shared corpus, counted:
# instructions and mispredicted branches inside intel.(*Matcher).Match and
# what it calls (docs/benchmarks.md, sessions 6-8: "Match alone").
#
#   docs/bench-intel-match.sh [FEED_DIR] [CALLGRIND_OUT]
#
# Runs internal/intel's TestMatchCallgrind under valgrind's callgrind with
# branch simulation. Loading the feeds and the events runs with callgrind's
# instrumentation off; the script switches it on (callgrind_control) once
# the test says it is ready, so a run takes about half a minute. Counts are
# the same from run to run of one binary to about 0.1 M. FEED_DIR defaults
# to the shared corpus's intel folder. Needs valgrind (Debian: valgrind).
# Per-function counts: callgrind_annotate CALLGRIND_OUT.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
feed=$(cd "${1:-$repo/../shared/corpus/intel}" && pwd)
work=${TMPDIR:-/tmp}/vigil-intel-match
out=${2:-$work/callgrind.out}
mkdir -p "$work"
rm -f "$work/ready" "$work/go"
(cd "$repo" && go test -c -o "$work/intel.test" ./internal/intel)
cd "$repo/internal/intel"
VIGIL_MATCH_CALLGRIND="$work" VIGIL_INTEL_FEED_DIR="$feed" GOGC=off GOMAXPROCS=1 GODEBUG=asyncpreemptoff=1 \
	valgrind --tool=callgrind --instr-atstart=no --branch-sim=yes --callgrind-out-file="$out" \
	--toggle-collect='github.com/vigil-defense/vigil/internal/intel.(*Matcher).Match' \
	"$work/intel.test" -test.run '^TestMatchCallgrind$' 2>"$work/valgrind.log" &
pid=$!
while [ ! -e "$work/ready" ]; do
	if ! kill -0 "$pid" 2>/dev/null; then
		wait "$pid" || true
		cat "$work/valgrind.log" >&2
		exit 1
	fi
	sleep 1
done
callgrind_control -i on "$pid" >/dev/null
touch "$work/go"
wait "$pid"
grep -E 'refs|Mispred' "$work/valgrind.log"
