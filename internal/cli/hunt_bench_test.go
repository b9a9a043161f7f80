package cli

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
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
// VIGIL_HUNT_RULES) over the shared EVTX
// and log corpus on one worker, without intel and with the index of the
// feed folder VIGIL_INTEL_FEED_DIR (a million indicators: see
// internal/intel's TestLoadMillion). Each iteration runs both hunts, one
// after the other, so that a shared machine's changing speed falls on both
// alike; the metrics are the process's CPU time per event of each and the
// difference in percent (intel-%).
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
	// VIGIL_HUNT_RULES names a rule folder to hunt with instead of the
	// built-in rules (SigmaHQ's: a heavier hunt, of which intel is a
	// smaller part).
	var ro ruleOptions
	if p := os.Getenv("VIGIL_HUNT_RULES"); p != "" {
		ro.paths = multiFlag{p}
	}
	lr, err := ro.load()
	if err != nil {
		b.Fatal(err)
	}
	files, err := source.Expand([]string{filepath.Join(corpus, "evtx"), filepath.Join(corpus, "logs")})
	if err != nil {
		b.Fatal(err)
	}
	var cpu [2]time.Duration
	events := 0
	for b.Loop() {
		for k, x := range []*intel.Index{nil, idx} {
			// Labelled, so that a -cpuprofile of this benchmark compares
			// the two hunts (pprof -tagfocus hunt=intel).
			labels := pprof.Labels("hunt", [2]string{"none", "intel"}[k])
			pprof.Do(context.Background(), labels, func(ctx context.Context) {
				start := processCPU()
				h := &hunter{engine: lr.engine, format: "jsonl", stderr: io.Discard, intel: x}
				st, err := h.run(ctx, files, 1, io.Discard)
				if err != nil {
					b.Fatal(err)
				}
				cpu[k] += processCPU() - start
				events = st.events
			})
		}
	}
	n := float64(events) * float64(b.N)
	b.ReportMetric(float64(cpu[0])/n, "none-cpu-ns/event")
	b.ReportMetric(float64(cpu[1])/n, "intel-cpu-ns/event")
	b.ReportMetric(100*(float64(cpu[1])/float64(cpu[0])-1), "intel-%")
}

var benchIntel struct {
	sync.Once
	idx *intel.Index
}

func benchIntelIndex(b *testing.B, dir string) *intel.Index {
	benchIntel.Do(func() {
		idx, errs := intel.LoadPaths([]string{dir})
		if len(errs) > 0 || idx.Len() == 0 {
			b.Fatalf("%s: %d indicators, errors %v", dir, idx.Len(), errs)
		}
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
