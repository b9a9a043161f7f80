package serve

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"

	"github.com/vigil-defense/vigil/internal/bus"
	"github.com/vigil-defense/vigil/internal/detect"
	"github.com/vigil-defense/vigil/internal/normalize"
	"github.com/vigil-defense/vigil/internal/store"
	"github.com/vigil-defense/vigil/sigma"
)

// benchEvents returns the OTRF Windows events of the corpus as NDJSON.
func benchEvents(b *testing.B) ([]byte, int) {
	b.Helper()
	var files []string
	filepath.WalkDir(filepath.Join(corpus, "logs/otrf-security-datasets/atomic/windows"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && filepath.Ext(p) == ".json" {
			files = append(files, p)
		}
		return nil
	})
	if len(files) == 0 {
		b.Skipf("shared corpus not found at %s", corpus)
	}
	sort.Strings(files)
	var buf bytes.Buffer
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		buf.Write(data)
	}
	return buf.Bytes(), bytes.Count(buf.Bytes(), []byte("\n"))
}

func windowsEngine(b *testing.B) *detect.Engine {
	b.Helper()
	set, err := sigma.LoadDir(filepath.Join(corpus, "sigma/rules/windows"))
	if err != nil {
		b.Skip(err)
	}
	e, _ := detect.Compile(set.Files, normalize.Default(), detect.Options{})
	return e
}

// BenchmarkIngestHTTP measures POST /api/v1/events up to the queue: body
// reading, JSON decoding into events, wire encoding (events/s reported).
func BenchmarkIngestHTTP(b *testing.B) {
	body, n := benchEvents(b)
	pub := &countPub{}
	s := ingestOnly(pub)
	s.opts.MaxBody = 1 << 30
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		rec := httptest.NewRecorder()
		s.handleEvents(rec, httptest.NewRequest(http.MethodPost, "/api/v1/events", bytes.NewReader(body)))
		if rec.Code != http.StatusAccepted {
			b.Fatal(rec.Code, rec.Body.String())
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// countPub counts and drops batches.
type countPub struct{ batches []bus.Batch }

func (p *countPub) Publish(_ context.Context, b *bus.Batch) error {
	if len(p.batches) < 1<<10 {
		c := *b
		c.Data = bytes.Clone(b.Data)
		p.batches = append(p.batches, c)
	}
	return nil
}

// BenchmarkWorker measures a worker on queued batches: wire decoding,
// matching all SigmaHQ Windows rules, rendering detections and committing
// them to SQLite (events/s reported).
func BenchmarkWorker(b *testing.B) {
	body, _ := benchEvents(b)
	pub := &countPub{}
	s := ingestOnly(pub)
	s.opts.MaxBody = 1 << 30
	rec := httptest.NewRecorder()
	s.handleEvents(rec, httptest.NewRequest(http.MethodPost, "/api/v1/events", bytes.NewReader(body)))
	st, err := store.Open(context.Background(), "", b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	w := &worker{engine: windowsEngine(b), store: st, log: slog.New(slog.NewTextHandler(io.Discard, nil)), metrics: newMetrics(nil), disabled: &ruleSwitch{}}
	events := 0
	b.ReportAllocs()
	b.ResetTimer()
	id := 0
	for range b.N {
		for _, batch := range pub.batches {
			id++
			batch.ID = "bench-" + strconv.Itoa(id)
			w.handle(context.Background(), []*bus.Delivery{{Batch: batch}})
			events += batch.Events
		}
	}
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
}
