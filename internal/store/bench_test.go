package store

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// benchBackends runs f on SQLite and, with VIGIL_TEST_POSTGRES, PostgreSQL.
func benchBackends(b *testing.B, f func(b *testing.B, s *Store)) {
	b.Run("sqlite", func(b *testing.B) {
		f(b, backend{name: "sqlite", dir: b.TempDir()}.open(b))
	})
	b.Run("postgres", func(b *testing.B) {
		f(b, postgresBackend(b).open(b))
	})
}

// BenchmarkCommitBatch commits batches of 500 events with 5 detections of
// real events (Sigma regression data, ~1–2 KiB of JSON each), as a worker
// does per queue message; "parallel" has 4 committers, as several workers.
func BenchmarkCommitBatch(b *testing.B) {
	ds := corpusDetections(b)
	var size int
	for _, d := range ds {
		size += len(d.JSON)
	}
	const events, perBatch = 500, 5
	var seq atomic.Int64
	batch := func() *Batch {
		k := int(seq.Add(1))
		off := (k * perBatch) % (len(ds) - perBatch)
		return &Batch{Key: fmt.Sprintf("b%d", k), Source: "bench", Events: events, Detections: ds[off : off+perBatch]}
	}
	benchBackends(b, func(b *testing.B, s *Store) {
		ctx := context.Background()
		b.Run("10-per-transaction", func(b *testing.B) {
			b.ReportAllocs()
			start := time.Now()
			for b.Loop() {
				bs := make([]*Batch, 10)
				for i := range bs {
					bs[i] = batch()
				}
				if _, err := s.CommitBatches(ctx, bs); err != nil {
					b.Fatal(err)
				}
			}
			sec := time.Since(start).Seconds()
			b.ReportMetric(float64(10*b.N)/sec, "batches/s")
			b.ReportMetric(float64(10*b.N*events)/sec, "events/s")
		})
		for _, par := range []int{1, 4} {
			b.Run(fmt.Sprintf("committers=%d", par), func(b *testing.B) {
				b.ReportAllocs()
				start := time.Now()
				b.SetParallelism(par)
				if par == 1 {
					for b.Loop() {
						if _, err := s.CommitBatch(ctx, batch()); err != nil {
							b.Fatal(err)
						}
					}
				} else {
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							if _, err := s.CommitBatch(ctx, batch()); err != nil {
								b.Error(err)
								return
							}
						}
					})
				}
				sec := time.Since(start).Seconds()
				b.ReportMetric(float64(b.N)/sec, "batches/s")
				b.ReportMetric(float64(b.N*events)/sec, "events/s")
				b.ReportMetric(float64(size)/float64(len(ds)), "B/detection")
			})
		}
	})
}

// BenchmarkDetectionsPage reads one page of 100 from a table of 50,000
// detections, unfiltered from a cursor and filtered by rule id.
func BenchmarkDetectionsPage(b *testing.B) {
	ds := corpusDetections(b)
	benchBackends(b, func(b *testing.B, s *Store) {
		ctx := context.Background()
		const total = 50_000
		for k := 0; k*100 < total; k++ {
			bt := &Batch{Key: fmt.Sprintf("p%d", k), Source: "bench", Events: 1000}
			for i := range 100 {
				bt.Detections = append(bt.Detections, ds[(k*100+i)%len(ds)])
			}
			if _, err := s.CommitBatch(ctx, bt); err != nil {
				b.Fatal(err)
			}
		}
		mid := encodeCursor(total / 2)
		for _, c := range []struct {
			name string
			q    Query
		}{
			{"cursor", Query{After: mid}},
			{"rule_id", Query{RuleID: ds[len(ds)/2].RuleID}},
			{"level+since", Query{Level: "high", Since: ds[0].Time}},
		} {
			b.Run(c.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					rows, _, err := s.Detections(ctx, c.q)
					if err != nil || len(rows) == 0 {
						b.Fatal(len(rows), err)
					}
				}
			})
		}
	})
}
