package serve

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigil-defense/vigil/internal/bus"
	"github.com/vigil-defense/vigil/internal/detect"
	"github.com/vigil-defense/vigil/internal/event"
	"github.com/vigil-defense/vigil/internal/store"
)

// committer is the part of the store a worker needs.
type committer interface {
	CommitBatch(ctx context.Context, b *store.Batch) (bool, error)
}

// worker runs detection on delivered batches: decode, match, store, ack.
type worker struct {
	engine   *detect.Engine
	store    committer
	log      *slog.Logger
	metrics  *metrics
	disabled *ruleSwitch

	matchers sync.Pool
	pool     sync.Pool // *workState
}

type workState struct {
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

// handle processes one delivery. Detections and the batch's processed
// marker are committed in one transaction before the ack; a batch already
// committed (a redelivery after a crash between commit and ack) is only
// acknowledged again.
func (w *worker) handle(ctx context.Context, d *bus.Delivery) {
	st, _ := w.pool.Get().(*workState)
	if st == nil {
		st = &workState{}
	}
	defer w.pool.Put(st)
	m, _ := w.matchers.Get().(*detect.Matcher)
	if m == nil {
		m = w.engine.NewMatcher()
	}
	st.dets = st.dets[:0]
	st.wire.Reset(d.Data)
	events := 0
	var decodeErr error
	for {
		ok, err := st.wire.Next(&st.ev)
		if err != nil {
			decodeErr = err
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
	}
	w.matchers.Put(m)
	if decodeErr != nil {
		// A batch vigil published but cannot read: keep what was read,
		// say so; the batch is not retried (it would fail again).
		w.log.Error("damaged event batch: events after the damage are lost", "batch", d.ID, "source", d.Source, "read", events, "expected", d.Events, "error", decodeErr)
		w.metrics.rejected.WithLabelValues(d.Source, "damaged-batch").Add(float64(max(d.Events-events, 0)))
	}
	st.out = st.out[:0]
	st.rows = st.rows[:0]
	for i := range st.dets {
		det := &st.dets[i]
		start := len(st.out)
		st.out = det.AppendJSON(st.out)
		st.rows = append(st.rows, store.Detection{Time: det.Time, RuleID: det.RuleID, Level: det.Level, Computer: det.Computer, JSON: st.out[start:len(st.out):len(st.out)]})
	}
	b := &store.Batch{Key: d.ID, Source: d.Source, Events: events, Detections: st.rows}
	applied, err := w.store.CommitBatch(ctx, b)
	if err != nil {
		w.log.Error("storing detections failed; the batch will be delivered again", "batch", d.ID, "error", err)
		w.metrics.storeErrors.Inc()
		_ = d.Nak(2 * time.Second)
		return
	}
	if err := d.Ack(ctx); err != nil {
		// Stored but not acknowledged: the redelivery will find the batch
		// committed and only acknowledge it.
		w.log.Warn("acknowledging a stored batch failed; it will be delivered again and recognised", "batch", d.ID, "error", err)
	}
	if applied {
		w.metrics.processed.WithLabelValues(d.Source).Add(float64(events))
		for i := range st.dets {
			w.metrics.detections.WithLabelValues(st.dets[i].Level).Inc()
		}
		if !d.Received.IsZero() {
			w.metrics.latency.Observe(time.Since(d.Received).Seconds())
		}
	} else {
		w.metrics.redelivered.Inc()
	}
	// Drop references to large batches' buffers.
	if cap(st.out) > 8<<20 {
		st.out = nil
	}
	clear(st.dets[:cap(st.dets)])
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

func describeBatch(d *bus.Delivery) string {
	return fmt.Sprintf("%s (%d events from %s)", d.ID, d.Events, d.Source)
}
