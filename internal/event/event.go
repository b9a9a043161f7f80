package event

import (
	"time"
	"unsafe"
)

// Event is one log event: a time, a reference to where it came from, and
// its fields in the order the reader found them. A name may occur more than
// once (for example several unnamed <Data> elements of a classic Windows
// event).
type Event struct {
	Time   time.Time // when the event happened (UTC); zero if unknown
	Source string    // file path or listener the event came from
	Record uint64    // record identifier (EVTX EventRecordID) or line number
	Offset int64     // byte offset in the source, or -1

	names   []string
	spans   []Span
	buf     []byte
	scalars []uint64 // bit i set: field i was added by AddScalar
}

// Span is where a field's value lies in the event's text (Text): bytes Off to End.
type Span struct{ Off, End int32 }

// Field is a name and a value copied out of an Event.
type Field struct {
	Name  string
	Value string
}

// Reset empties the event for reuse, keeping its buffers.
func (e *Event) Reset() {
	e.Time = time.Time{}
	e.Source = ""
	e.Record = 0
	e.Offset = -1
	e.names = e.names[:0]
	e.spans = e.spans[:0]
	e.buf = e.buf[:0]
	e.scalars = e.scalars[:0]
}

// Add appends a field; value is copied.
func (e *Event) Add(name string, value []byte) {
	off := len(e.buf)
	e.buf = append(e.buf, value...)
	e.names = append(e.names, name)
	e.spans = append(e.spans, Span{int32(off), int32(len(e.buf))})
}

// AddScalar appends a field whose value the log typed as something other
// than text (a JSON number or boolean; an EVTX number, GUID, time, SID or
// hex integer); value is copied. Readers that look for text in values,
// such as indicator matching, may skip scalars (Scalar).
func (e *Event) AddScalar(name string, value []byte) {
	e.Add(name, value)
	e.MarkScalar(len(e.names) - 1)
}

// MarkScalar marks field i (< Len) as a scalar, for a reader that learns it
// after adding the field (a string it parsed as the event's time).
func (e *Event) MarkScalar(i int) {
	w := i >> 6
	for len(e.scalars) <= w {
		e.scalars = append(e.scalars, 0)
	}
	e.scalars[w] |= 1 << (i & 63)
}

// Scalar reports whether field i was added by AddScalar.
func (e *Event) Scalar(i int) bool {
	w := i >> 6
	return w < len(e.scalars) && e.scalars[w]&(1<<(i&63)) != 0
}

// ScalarWord returns the scalar marks of fields 64w to 64w+63: bit j is
// set if field 64w+j is a scalar. A reader that skips scalars can visit
// the other fields by these bits instead of asking Scalar of each.
func (e *Event) ScalarWord(w int) uint64 {
	if w < len(e.scalars) {
		return e.scalars[w]
	}
	return 0
}

// AddString appends a field; value is copied.
func (e *Event) AddString(name, value string) {
	off := len(e.buf)
	e.buf = append(e.buf, value...)
	e.names = append(e.names, name)
	e.spans = append(e.spans, Span{int32(off), int32(len(e.buf))})
}

// AddFunc appends a field whose value render appends to the buffer it is
// given, so a reader can decode straight into the event.
func (e *Event) AddFunc(name string, render func(dst []byte) []byte) {
	off := len(e.buf)
	e.buf = render(e.buf)
	e.names = append(e.names, name)
	e.spans = append(e.spans, Span{int32(off), int32(len(e.buf))})
}

// Len returns the number of fields.
func (e *Event) Len() int { return len(e.names) }

// Name returns the name of field i.
func (e *Event) Name(i int) string { return e.names[i] }

// Bytes returns the value of field i; valid until the event changes.
func (e *Event) Bytes(i int) []byte {
	s := e.spans[i]
	return e.buf[s.Off:s.End:s.End]
}

// Text returns the bytes that hold the event's values and the span of
// each field's value in them, to be read only and valid until the event
// changes: for a reader that visits many fields, without the checks of
// Value for each.
func (e *Event) Text() (buf []byte, spans []Span) { return e.buf, e.spans }

// Value returns the value of field i as a string sharing the event's buffer;
// valid until the event changes.
func (e *Event) Value(i int) string {
	s := e.spans[i]
	if s.End == s.Off {
		return ""
	}
	return unsafe.String(&e.buf[s.Off], int(s.End-s.Off))
}

// Index returns the index of the first field named name, or -1.
func (e *Event) Index(name string) int {
	for i, n := range e.names {
		if n == name {
			return i
		}
	}
	return -1
}

// Get returns the value of the first field named name.
func (e *Event) Get(name string) (string, bool) {
	if i := e.Index(name); i >= 0 {
		return e.Value(i), true
	}
	return "", false
}

// Fields returns a copy of every field. The values share one copy of the
// event's text (two allocations per call, not one per field): a detection
// keeps all of them or none.
func (e *Event) Fields() []Field { return e.FieldsRoom(0) }

// FieldsRoom is Fields in a slice with room for extra more fields, for a
// caller that appends its own.
func (e *Event) FieldsRoom(extra int) []Field {
	out := make([]Field, len(e.names), len(e.names)+extra)
	end := int32(0)
	for _, s := range e.spans {
		end = max(end, s.End)
	}
	text := string(e.buf[:end])
	for i := range e.names {
		s := e.spans[i]
		out[i] = Field{Name: e.names[i], Value: text[s.Off:s.End]}
	}
	return out
}

// Clone returns a deep copy of the event that stays valid whatever happens
// to e.
func (e *Event) Clone() *Event {
	c := &Event{Time: e.Time, Source: e.Source, Record: e.Record, Offset: e.Offset}
	c.names = append([]string(nil), e.names...)
	c.spans = append([]Span(nil), e.spans...)
	c.buf = append([]byte(nil), e.buf...)
	if len(e.scalars) > 0 {
		c.scalars = append([]uint64(nil), e.scalars...)
	}
	return c
}
