package serve

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigil-defense/vigil/internal/bus"
	"github.com/vigil-defense/vigil/internal/detect"
	"github.com/vigil-defense/vigil/internal/event"
	"github.com/vigil-defense/vigil/internal/intel"
	"github.com/vigil-defense/vigil/internal/store"
)

// committer is the part of the store a worker needs.
type committer interface {
	CommitBatches(ctx context.Context, bs []*store.Batch) ([]bool, error)
}

// worker runs detection on delivered batches: decode, match, store, ack.
type worker struct {
	engine   *detect.Engine
	intel    *intel.Index // nil without --intel
	store    committer
	log      *slog.Logger
	metrics  *metrics
	disabled *ruleSwitch

	matchers sync.Pool
	pool     sync.Pool // *workState
}

type workState struct {
	im   *intel.Matcher // nil without intel
	ev   event.Event
	wire event.WireReader
	dets []detect.Detection
	out  []byte
	rows []store.Detection
}

// ruleSwitch holds the ids of disabled rules, refreshed from the store.
type ruleSwitch struct {
	v atomic.Pointer[map[string]bool]
}

func (r *ruleSwitch) disabled(id string) bool {
	m := r.v.Load()
	return m != nil && (*m)[id]
}

func (r *ruleSwitch) set(m map[string]bool) { r.v.Store(&m) }

// maxGroup is the most deliveries a worker stores in one transaction.
const maxGroup = 8

// handle processes deliveries: each batch is decoded and matched, then the
// detections of all of them, with each batch's processed marker, are
// committed in one transaction before the acks. A batch already committed
// (a redelivery after a crash between commit and ack) is only
// acknowledged again.
func (w *worker) handle(ctx context.Context, ds []*bus.Delivery) {
	st, _ := w.pool.Get().(*workState)
	if st == nil {
		st = &workState{}
		if w.intel != nil {
			st.im = w.intel.NewMatcher()
		}
	}
	defer w.pool.Put(st)
	m, _ := w.matchers.Get().(*detect.Matcher)
	if m == nil {
		m = w.engine.NewMatcher()
	}
	st.out = st.out[:0]
	st.rows = st.rows[:0]
	batches := make([]*store.Batch, len(ds))
	type span struct{ start, end int }
	spans := make([]span, len(ds))
	for i, d := range ds {
		st.dets = st.dets[:0]
		st.wire.Reset(d.Data)
		events := 0
		for {
			ok, err := st.wire.Next(&st.ev)
			if err != nil {
				// A batch vigil published but cannot read: keep what was
				// read and say so; retrying would fail again.
				w.log.Error("damaged event batch: events after the damage are lost", "batch", d.ID, "source", d.Source, "read", events, "expected", d.Events, "error", err)
				w.metrics.rejected.WithLabelValues(d.Source, "damaged-batch").Add(float64(max(d.Events-events, 0)))
				break
			}
			if !ok {
				break
			}
			events++
			m.Match(&st.ev, func(p *detect.Program) {
				if w.disabled.disabled(p.Rule.ID) {
					return
				}
				st.dets = append(st.dets, detect.NewDetection(p, &st.ev))
			})
			if st.im != nil {
				st.im.Match(&st.ev, func(field, value string, im intel.Match) {
					st.dets = append(st.dets, intel.NewDetection(&st.ev, field, value, im))
				})
			}
		}
		spans[i].start = len(st.rows)
		for j := range st.dets {
			det := &st.dets[j]
			start := len(st.out)
			st.out = det.AppendJSON(st.out)
			st.rows = append(st.rows, store.Detection{Time: det.Time, RuleID: det.RuleID, Level: det.Level, Computer: det.Computer})
			st.rows[len(st.rows)-1].JSON = st.out[start:len(st.out):len(st.out)]
		}
		spans[i].end = len(st.rows)
		batches[i] = &store.Batch{Key: d.ID, Source: d.Source, Events: events}
		clear(st.dets)
	}
	w.matchers.Put(m)
	// Each row's JSON was cut from st.out with a full slice expression, so
	// it stays valid when st.out grows into a new array.
	for i := range batches {
		batches[i].Detections = st.rows[spans[i].start:spans[i].end]
	}
	applied, err := w.store.CommitBatches(ctx, batches)
	if err != nil {
		w.log.Error("storing detections failed; the batches will be delivered again", "batches", len(ds), "error", err)
		w.metrics.storeErrors.Inc()
		for _, d := range ds {
			_ = d.Nak(2 * time.Second)
		}
		return
	}
	for i, d := range ds {
		if err := d.Ack(ctx); err != nil {
			// Stored but not acknowledged: the redelivery will find the
			// batch committed and only acknowledge it.
			w.log.Warn("acknowledging a stored batch failed; it will be delivered again and recognised", "batch", d.ID, "error", err)
		}
		if !applied[i] {
			w.metrics.redelivered.Inc()
			continue
		}
		w.metrics.processed.WithLabelValues(d.Source).Add(float64(batches[i].Events))
		for _, row := range batches[i].Detections {
			w.metrics.detections.WithLabelValues(row.Level).Inc()
		}
		if !d.Received.IsZero() {
			w.metrics.latency.Observe(time.Since(d.Received).Seconds())
		}
	}
	if cap(st.out) > 16<<20 {
		st.out = nil
	}
}

// refreshRules reloads the disabled rules every interval until ctx ends.
func (w *worker) refreshRules(ctx context.Context, load func(context.Context) (map[string]bool, error), interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if m, err := load(ctx); err == nil {
			w.disabled.set(m)
		} else if ctx.Err() == nil {
			w.log.Warn("reading disabled rules failed", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
