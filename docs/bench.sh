#!/usr/bin/env bash
# Reproduces the numbers of docs/benchmarks.md.
#
#   docs/bench.sh [CORPUS]
#
# CORPUS is the shared corpus folder (default: ../shared/corpus beside the
# repository); the files measured are every .evtx under CORPUS/evtx and
# CORPUS/sigma/regression_data. Nothing is copied into the repository: the
# binary, the results and the synthetic large file go to $TMPDIR/vigil-bench
# (the large file is deleted at the end).
#
# Needs go, evtxexport (Debian: libevtx-utils), /usr/bin/time (Debian: time)
# and taskset (util-linux); uses hyperfine when installed
# (apt-get install -y hyperfine), else /usr/bin/time.
#
# Environment:
#   RUNS=10        whole-process runs per command (evtxexport: RUNS/2, at least 3)
#   COUNT=6        -count of the Go benchmarks
#   BIG_MB=1024    size of the synthetic EVTX file for the memory bound
#   VIGIL=path     measure this vigil binary instead of building ./cmd/vigil
#   SKIP_GO=1      skip the Go benchmarks
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
corpus=$(cd "${1:-$repo/../shared/corpus}" && pwd)
dirs=("$corpus/evtx" "$corpus/sigma/regression_data")
work=${TMPDIR:-/tmp}/vigil-bench
mkdir -p "$work"
runs=${RUNS:-10}
xruns=$(( runs / 2 < 3 ? 3 : runs / 2 ))
count=${COUNT:-6}
big_mb=${BIG_MB:-1024}
ncpu=$(nproc)

echo "## machine"
echo "cpus: $ncpu; $(grep -m1 'model name' /proc/cpuinfo)"
go version
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

# The binary under test.
if [ -n "${VIGIL:-}" ]; then
	vigil=$VIGIL
else
	vigil=$work/vigil
	(cd "$repo" && go build -o "$vigil" ./cmd/vigil)
fi

# The files: the corpus, and its largest file alone.
find "${dirs[@]}" -iname '*.evtx' -print0 >"$work/files0"
nfiles=$(tr -cd '\0' <"$work/files0" | wc -c)
bytes=$(xargs -0 stat -c %s <"$work/files0" | awk '{s += $1} END {print s}')
largest=$(find "${dirs[@]}" -iname '*.evtx' -printf '%s\t%p\n' | sort -n | tail -1 | cut -f2-)
lbytes=$(stat -c %s "$largest")
records=$("$vigil" dump "${dirs[@]}" 2>&1 >/dev/null | sed -n 's/.* files, \([0-9]*\) records.*/\1/p')
lrecords=$("$vigil" dump "$largest" 2>&1 >/dev/null | sed -n 's/.* files, \([0-9]*\) records.*/\1/p')
echo "## input"
echo "corpus: $nfiles files, $bytes bytes, $records records"
echo "largest: $largest: $lbytes bytes, $lrecords records"
echo

# 1. Go benchmarks (in-memory files; Velocidex v0.2.0 on the same files).
if [ -z "${SKIP_GO:-}" ]; then
	echo "## go benchmarks, one core (-cpu 1)"
	(cd "$repo" && go test ./evtx -run '^$' -bench '^Benchmark(Decode|JSON|XML|Scan|Velocidex)$' -benchmem -count "$count" -cpu 1 -timeout 60m) | tee "$work/go-cpu1.txt"
	echo "## go benchmarks, all cores (-cpu $ncpu)"
	(cd "$repo" && go test ./evtx -run '^$' -bench '^BenchmarkScan$' -benchmem -count "$count" -cpu "$ncpu" -timeout 60m) | tee "$work/go-cpuN.txt"
	echo
fi

# 2. Whole process, output to /dev/null. "One core" is taskset -c 0 and
# --workers 1; evtxexport runs one process per file, one after the other
# (so its figure includes ~1 ms of process start per file: see the largest
# file alone for its steady speed).
q() { printf '%q' "$1"; }
d="$(q "${dirs[0]}") $(q "${dirs[1]}")"
L=$(q "$largest")
V=$(q "$vigil")
# hf BYTES RECORDS RUNS NAME CMD [NAME CMD]...: median time, MB/s, records/s
hf() {
	local by=$1 rec=$2 n=$3
	shift 3
	if command -v hyperfine >/dev/null; then
		local args=()
		while [ $# -gt 0 ]; do args+=(-n "$1" "$2"); shift 2; done
		hyperfine -i --warmup 1 --runs "$n" --style none --export-csv "$work/hf.csv" "${args[@]}" >/dev/null
		awk -F, -v by="$by" -v rec="$rec" 'NR > 1 {
			printf "%-34s median %8.3f s (min %8.3f)  %8.1f MB/s  %9.0f records/s\n", $1, $4, $7, by / 1e6 / $4, rec / $4 }' "$work/hf.csv"
	else
		while [ $# -gt 0 ]; do
			local best=
			for _ in 1 2 3; do
				local t0 t1
				t0=$(date +%s.%N); bash -c "$2" >/dev/null 2>&1 || true; t1=$(date +%s.%N)
				best=$(echo "$t0 $t1 $best" | awk '{t = $2 - $1; if ($3 == "" || t < $3) print t; else print $3}')
			done
			awk -v n="$1" -v t="$best" -v by="$by" -v rec="$rec" 'BEGIN {
				printf "%-34s best of 3 %8.3f s  %8.1f MB/s  %9.0f records/s\n", n, t, by / 1e6 / t, rec / t }'
			shift 2
		done
	fi
}
echo "## whole process, corpus (stdout to /dev/null)"
hf "$bytes" "$records" "$runs" \
	"vigil jsonl 1 core" "taskset -c 0 $V dump --format jsonl --workers 1 $d" \
	"vigil jsonl $ncpu cores" "$V dump --format jsonl $d" \
	"vigil xml 1 core" "taskset -c 0 $V dump --format xml --workers 1 $d" \
	"vigil xml $ncpu cores" "$V dump --format xml $d"
hf "$bytes" "$records" "$xruns" \
	"evtxexport -f xml 1 core" "taskset -c 0 xargs -0 -n1 evtxexport -f xml <$(q "$work/files0")"
echo "## whole process, largest file"
hf "$lbytes" "$lrecords" "$runs" \
	"vigil jsonl 1 core" "taskset -c 0 $V dump --format jsonl --workers 1 $L" \
	"vigil jsonl $ncpu cores" "$V dump --format jsonl $L" \
	"vigil xml 1 core" "taskset -c 0 $V dump --format xml --workers 1 $L"
hf "$lbytes" "$lrecords" "$xruns" \
	"evtxexport -f xml 1 core" "taskset -c 0 evtxexport -f xml $L"
echo

# 3. Peak memory (maximum resident set size), corpus, largest file and a
# synthetic file of BIG_MB megabytes built from corpus chunks.
rss() { /usr/bin/time -v "$@" 2>&1 >/dev/null | awk -F': ' '/Maximum resident/ {printf "%.1f MiB", $2/1024}'; }
echo "## peak RSS"
echo "vigil dump corpus, all cores:      $(rss "$vigil" dump "${dirs[@]}")"
echo "vigil dump corpus, --workers 1:    $(rss "$vigil" dump --workers 1 "${dirs[@]}")"
echo "vigil dump largest file:           $(rss "$vigil" dump "$largest")"
echo "evtxexport largest file:           $(rss evtxexport -f xml "$largest")"
big=$work/big.evtx
(cd "$repo" && VIGIL_BIG_EVTX=$big VIGIL_BIG_EVTX_MB=$big_mb go test ./evtx -run '^TestWriteBigEVTX$' -count 1 -v | grep -E 'wrote|ok|FAIL')
cat "$big" >/dev/null # into the page cache
echo "vigil dump $big_mb MB file, all cores:     $(rss "$vigil" dump "$big")"
echo "vigil dump $big_mb MB file, --workers 1:   $(rss "$vigil" dump --workers 1 "$big")"
echo "vigil dump --format xml $big_mb MB file:   $(rss "$vigil" dump --format xml "$big")"
"$vigil" dump "$big" 2>&1 >/dev/null | tail -1
taskset -c 0 "$vigil" dump --workers 1 "$big" 2>&1 >/dev/null | tail -1
rm -f "$big"
