package source

import (
	"fmt"

	"github.com/valyala/fastjson"

	"github.com/vigil-defense/vigil/internal/event"
)

// Decoder turns JSON records that arrive one at a time (an HTTP request's
// NDJSON lines, a tailed file's lines) into events exactly as hunt reads
// JSON and JSON Lines files: flat objects, nested objects with dotted
// names, the evtx_dump layout and Winlogbeat's names. A Decoder is not safe
// for concurrent use; it keeps interned field names between records.
type Decoder struct {
	f flattener
}

// NewDecoder returns a Decoder.
func NewDecoder() *Decoder {
	return &Decoder{f: flattener{names: make(map[string]string)}}
}

// Record decodes one JSON record — an object (one event) or an array of
// objects (one event each) — calling fn for each event with ev reused
// between calls. source, line and offset say where the record came from;
// they become the events' Source, Record (unless the record carries an
// EVTX record id) and Offset, and place errors. It returns the number of
// events and, for a record or array element that is not a JSON object, a
// *JSONError (an array's good elements are still passed to fn).
func (d *Decoder) Record(data []byte, source string, line int, offset int64, ev *event.Event, fn func(*event.Event)) (int, error) {
	r := record{start: 0, end: len(data), line: line, offset: offset}
	v, err := d.f.parser.ParseBytes(data)
	if err != nil {
		return 0, &JSONError{Path: source, Line: line, Offset: offset, Reason: "invalid JSON: " + err.Error()}
	}
	switch v.Type() {
	case fastjson.TypeObject:
		d.f.event(ev, source, r, v)
		fn(ev)
		return 1, nil
	case fastjson.TypeArray:
		n := 0
		var bad error
		for i, e := range v.GetArray() {
			if e.Type() != fastjson.TypeObject {
				if bad == nil {
					bad = &JSONError{Path: source, Line: line, Offset: offset, Reason: fmt.Sprintf("element %d of the array is not a JSON object but a %s; skipped", i, e.Type())}
				}
				continue
			}
			d.f.event(ev, source, r, e)
			fn(ev)
			n++
		}
		return n, bad
	}
	return 0, &JSONError{Path: source, Line: line, Offset: offset, Reason: fmt.Sprintf("not a JSON object but a %s; skipped", v.Type())}
}
