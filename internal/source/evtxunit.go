package source

import (
	"github.com/vigil-defense/vigil/evtx"
	"github.com/vigil-defense/vigil/internal/event"
)

// evtxEvents decodes the records of the unit's chunk into ev, with the
// fields evtx.Record.AppendFieldsTyped gives (scalars marked as such).
func (u *Unit) evtxEvents(ev *event.Event, fn func(*event.Event), problem func(error)) int {
	w := u.w
	n := 0
	timeIdx, idIdx := -1, -1
	add := func(name string, value []byte, scalar bool) {
		switch {
		case timeIdx < 0 && name == evtx.FieldTimeCreated:
			timeIdx = ev.Len()
		case idIdx < 0 && name == evtx.FieldEventRecordID:
			idIdx = ev.Len()
		}
		if scalar {
			ev.AddScalar(name, value)
		} else {
			ev.Add(name, value)
		}
	}
	for {
		ok, err := u.chunk.Next(&w.rec)
		if !ok {
			return n
		}
		if err != nil {
			problem(err)
			continue
		}
		ev.Reset()
		ev.Source = u.Path
		ev.Record = w.rec.ID
		ev.Offset = w.rec.Offset
		timeIdx, idIdx = -1, -1
		w.scratch = w.rec.AppendFieldsTyped(w.scratch, add)
		if idIdx >= 0 {
			// The System EventRecordID is what Windows shows; it is normally
			// the record header's, but tools that rewrite logs keep the
			// original.
			if id, ok := parseUint(ev.Bytes(idIdx)); ok {
				ev.Record = id
			}
		}
		if timeIdx >= 0 {
			if t, ok := parseTime(ev.Bytes(timeIdx)); ok {
				ev.Time = t
			}
		}
		if ev.Time.IsZero() {
			ev.Time = w.rec.Written.UTC() // no TimeCreated: when the record was written
		}
		fn(ev)
		n++
	}
}

func parseUint(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, true
}
