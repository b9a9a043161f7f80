package detect

import (
	"context"
	"testing"

	"github.com/vigil-defense/vigil/internal/event"
	"github.com/vigil-defense/vigil/internal/normalize"
	"github.com/vigil-defense/vigil/internal/source"
	"github.com/vigil-defense/vigil/sigma"
)

// BenchmarkMatch evaluates every SigmaHQ Windows rule against every event
// of the shared EVTX corpus (decoded beforehand) on one goroutine.
func BenchmarkMatch(b *testing.B) {
	set, err := sigma.LoadDir("../../../shared/corpus/sigma/rules/windows")
	if err != nil {
		b.Skipf("shared corpus not found: %v", err)
	}
	e, _ := Compile(set.Files, normalize.Default(), Options{})
	files, err := source.Expand([]string{"../../../shared/corpus/evtx"})
	if err != nil {
		b.Skipf("shared corpus not found: %v", err)
	}
	var events []*event.Event
	source.Scan(context.Background(), files, 0, func(u *source.Unit) []*event.Event {
		var out []*event.Event
		var ev event.Event
		u.Events(&ev, func(ev *event.Event) { out = append(out, ev.Clone()) }, func(error) {})
		return out
	}, func(evs []*event.Event) error { events = append(events, evs...); return nil })
	m := e.NewMatcher()
	b.ReportAllocs()
	matches := 0
	for b.Loop() {
		matches = 0
		for _, ev := range events {
			m.Match(ev, func(*Program) { matches++ })
		}
	}
	b.ReportMetric(float64(len(events))*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(matches), "matches")
}
