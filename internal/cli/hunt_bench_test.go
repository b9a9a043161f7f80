package cli

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

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
