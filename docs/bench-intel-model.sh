#!/usr/bin/env bash
# What intel matching adds to a hunt, counted rather than timed (issue 5's
# "adds no more than 10% to hunt time"; docs/benchmarks.md).
#
#   docs/bench-intel-model.sh [FEED_DIR] [RULES]
#
# Runs internal/cli's TestHuntIntelModel under valgrind's callgrind with
# cache and branch simulation: vigil's built-in rules (or RULES) over the
# shared corpus's EVTX and logs on one worker, four passes (without intel,
# with, without, with), then prints each pass's counts and a cycle estimate
# and what intel adds. Counts do not move with the machine's load: the same
# code gives the same numbers to a few tenths of a percent, where timings on
# a shared machine resolve only differences of about 3 points.
#
# The cycle estimate is a model, not a measurement: instructions/1.5, plus
# 12 cycles per first-level cache miss (instructions or data, 32 KiB 8-way
# caches), 45 per last-level miss (1 MiB 16-way) and 15 per mispredicted
# branch.
#
# FEED_DIR defaults to the shared corpus's intel folder (real feeds and
# warninglists). Needs valgrind (Debian: valgrind); takes about 15 minutes.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
feed=$(cd "${1:-$repo/../shared/corpus/intel}" && pwd)
rules=${2:-}
[ -n "$rules" ] && rules=$(cd "$rules" && pwd)
work=${TMPDIR:-/tmp}/vigil-intel-model
mkdir -p "$work"
rm -f "$work"/callgrind.out*
(cd "$repo" && go test -c -o "$work/cli.test" ./internal/cli)
cd "$repo/internal/cli"
VIGIL_HUNT_MODEL=1 VIGIL_INTEL_FEED_DIR="$feed" VIGIL_HUNT_RULES="$rules" GOMAXPROCS=1 GODEBUG=asyncpreemptoff=1 \
	valgrind --tool=callgrind --callgrind-out-file="$work/callgrind.out" \
	--cache-sim=yes --I1=32768,8,64 --D1=32768,8,64 --LL=1048576,16,64 --branch-sim=yes \
	--dump-before='*cli.modelMark' \
	"$work/cli.test" -test.run '^TestHuntIntelModel$' -test.v 2>"$work/valgrind.log" | grep -E '^(pass|--- |ok|FAIL)'
# Dump k (k = 2, 4, 6, 8) holds pass k/2-1: from the mark before it to the
# mark after it.
for k in 2 4 6 8; do
	awk -v k=$k '/^summary:/ {
		ir=$2; l1=$5+$6+$7; ll=$8+$9+$10; bcm=$12+$14
		printf "pass %d  instructions %.0f  L1 misses %.0f  LL misses %.0f  mispredicts %.0f  est. cycles %.1f M\n", k/2-1, ir, l1, ll, bcm, (ir/1.5 + 12*l1 + 45*ll + 15*bcm)/1e6
		exit }' "$work/callgrind.out.$k"
done | tee "$work/passes.txt"
awk '{c[NR-1]=$(NF-1); i[NR-1]=$4} END {
	printf "intel adds: instructions %+.1f%%, est. cycles %+.1f%% (passes 0-1 %+.1f%%, 2-3 %+.1f%%)\n",
		100*((i[1]+i[3])/(i[0]+i[2])-1), 100*((c[1]+c[3])/(c[0]+c[2])-1), 100*(c[1]/c[0]-1), 100*(c[3]/c[2]-1) }' "$work/passes.txt"
