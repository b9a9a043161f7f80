package cli

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-defense/vigil/internal/intel"
	"github.com/vigil-defense/vigil/internal/source"
)

// BenchmarkHunt runs the whole hunt pipeline (read, decode, route,
// prefilter, evaluate, render jsonl) with every SigmaHQ Windows rule over
// the shared EVTX corpus, on one worker and on all CPUs.
func BenchmarkHunt(b *testing.B) {
	corpus := "../../../shared/corpus"
	if _, err := os.Stat(corpus); err != nil {
		b.Skipf("shared corpus not found at %s: %v", corpus, err)
	}
	ro := ruleOptions{paths: multiFlag{filepath.Join(corpus, "sigma/rules/windows")}}
	lr, err := ro.load()
	if err != nil {
		b.Fatal(err)
	}
	files, err := source.Expand([]string{filepath.Join(corpus, "evtx")})
	if err != nil {
		b.Fatal(err)
	}
	var size int64
	for _, f := range files {
		st, _ := os.Stat(f)
		size += st.Size()
	}
	for _, workers := range []int{1, 0} {
		name := "workers=1"
		if workers == 0 {
			name = "workers=all"
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(size)
			b.ReportAllocs()
			var events int
			for b.Loop() {
				h := &hunter{engine: lr.engine, format: "jsonl", stderr: io.Discard}
				st, err := h.run(context.Background(), files, workers, io.Discard)
				if err != nil {
					b.Fatal(err)
				}
				events = st.events
			}
			b.ReportMetric(float64(events)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkHuntIntel measures what inline intelligence matching adds to a
// hunt (issue 5: at most 10%): vigil's built-in rules (or those of
// VIGIL_HUNT_RULES) over the shared EVTX and log corpus on one worker,
// without intel and with the index of the feed folder VIGIL_INTEL_FEED_DIR
// (a million synthetic indicators: see internal/intel's TestLoadMillion;
// or the shared corpus's real feeds and warninglists,
// ../../../shared/corpus/intel). Each iteration runs both hunts on a tenth
// of the files, one after the other, then on the next tenth, so that a
// shared machine's changing speed falls on both alike; the metrics are the
// process's CPU time per event of each, the difference in percent of the
// sums (intel-%) and the median of the iterations' differences
// (intel-%-median, less moved by a slow moment).
func BenchmarkHuntIntel(b *testing.B) {
	corpus := "../../../shared/corpus"
	if _, err := os.Stat(corpus); err != nil {
		b.Skipf("shared corpus not found at %s: %v", corpus, err)
	}
	dir := os.Getenv("VIGIL_INTEL_FEED_DIR")
	if dir == "" {
		b.Skip("set VIGIL_INTEL_FEED_DIR to a feed folder (VIGIL_INTEL_BENCH=1 VIGIL_INTEL_FEED_DIR=DIR go test ./internal/intel -run TestLoadMillion writes one)")
	}
	idx := benchIntelIndex(b, dir)
	lr := envHuntRules(b)
	// VIGIL_HUNT_WORKERS sets the workers (0: one per CPU, as vigil hunt
	// does by default); one unless set.
	workers := 1
	if w, err := strconv.Atoi(os.Getenv("VIGIL_HUNT_WORKERS")); err == nil {
		workers = w
	}
	files, err := source.Expand([]string{filepath.Join(corpus, "evtx"), filepath.Join(corpus, "logs")})
	if err != nil {
		b.Fatal(err)
	}
	// The files in ten groups of about equal size: both hunts run on one
	// group, then on the next, so that the two runs of a pair are a tenth
	// of a second apart rather than a second.
	var total int64
	sizes := make([]int64, len(files))
	for i, f := range files {
		if st, err := os.Stat(f); err == nil {
			sizes[i] = st.Size()
			total += st.Size()
		}
	}
	var groups [][]string
	var acc int64
	for i, f := range files {
		if len(groups) == 0 || acc >= total*int64(len(groups))/10 {
			groups = append(groups, nil)
		}
		groups[len(groups)-1] = append(groups[len(groups)-1], f)
		acc += sizes[i]
	}
	var cpu, wall [2]time.Duration
	var ratios, wallRatios []float64
	events := 0
	for iter := 0; b.Loop(); iter++ {
		var this, thisWall [2]time.Duration
		events = 0
		for g, group := range groups {
			// Both hunts of a group in turns (none first, then intel
			// first), so that neither order's effect (a warm cache, the
			// other's garbage) falls on one side only.
			for j := range 2 {
				k := j ^ (iter+g)&1
				x := []*intel.Index{nil, idx}[k]
				// Labelled, so that a -cpuprofile of this benchmark
				// compares the two hunts (pprof -tagfocus hunt=intel).
				labels := pprof.Labels("hunt", [2]string{"none", "intel"}[k])
				pprof.Do(context.Background(), labels, func(ctx context.Context) {
					start, t0 := processCPU(), time.Now()
					h := &hunter{engine: lr.engine, format: "jsonl", stderr: io.Discard, intel: x}
					st, err := h.run(ctx, group, workers, io.Discard)
					if err != nil {
						b.Fatal(err)
					}
					this[k] += processCPU() - start
					thisWall[k] += time.Since(t0)
					if k == 0 {
						events += st.events
					}
				})
			}
		}
		for k := range 2 {
			cpu[k] += this[k]
			wall[k] += thisWall[k]
		}
		ratios = append(ratios, 100*(float64(this[1])/float64(this[0])-1))
		wallRatios = append(wallRatios, 100*(float64(thisWall[1])/float64(thisWall[0])-1))
	}
	n := float64(events) * float64(b.N)
	b.ReportMetric(float64(cpu[0])/n, "none-cpu-ns/event")
	b.ReportMetric(float64(cpu[1])/n, "intel-cpu-ns/event")
	b.ReportMetric(100*(float64(cpu[1])/float64(cpu[0])-1), "intel-%")
	slices.Sort(ratios)
	b.ReportMetric(ratios[len(ratios)/4], "intel-%-p25")
	b.ReportMetric(ratios[len(ratios)/2], "intel-%-median")
	b.ReportMetric(ratios[len(ratios)*3/4], "intel-%-p75")
	slices.Sort(wallRatios)
	b.ReportMetric(100*(float64(wall[1])/float64(wall[0])-1), "intel-wall-%")
	b.ReportMetric(wallRatios[len(wallRatios)/2], "intel-wall-%-median")
}

// envHuntRules loads the rules the intel benchmarks hunt with: the folder
// VIGIL_HUNT_RULES names (SigmaHQ's: a heavier hunt, of which intel is a
// smaller part), or the built-in rules.
func envHuntRules(tb testing.TB) *loadedRules {
	var ro ruleOptions
	if p := os.Getenv("VIGIL_HUNT_RULES"); p != "" {
		ro.paths = multiFlag{p}
	}
	lr, err := ro.load()
	if err != nil {
		tb.Fatal(err)
	}
	return lr
}

var benchIntel struct {
	sync.Once
	idx *intel.Index
}

func benchIntelIndex(b *testing.B, dir string) *intel.Index {
	benchIntel.Do(func() {
		// Entries a loader refuses are reported and skipped (the shared
		// corpus's intel folder has thousands): the benchmark needs only
		// indicators.
		idx, errs := intel.LoadPaths([]string{dir})
		if idx.Len() == 0 {
			b.Fatalf("%s: no indicators (%d errors, first %v)", dir, len(errs), errs[:min(len(errs), 1)])
		}
		b.Logf("%s: %d indicators, %d entries refused", dir, idx.Len(), len(errs))
		benchIntel.idx = idx
		runtime.GC()
	})
	return benchIntel.idx
}

// processCPU is the process's user and system CPU time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
