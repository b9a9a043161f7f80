package source

import (
	"bytes"
	"fmt"

	"github.com/valyala/fastjson"

	"github.com/vigil-defense/vigil/evtx"
	"github.com/vigil-defense/vigil/internal/event"
)

// JSONError is a JSON record that could not be read. Reading goes on with
// the next record.
type JSONError struct {
	Path   string
	Line   int   // line of the record's first byte (1-based)
	Offset int64 // byte offset of the record in the (decompressed) stream
	Reason string
}

func (e *JSONError) Error() string { return fmt.Sprintf("%s:%d: %s", e.Path, e.Line, e.Reason) }

func (u *Unit) jsonEvents(ev *event.Event, fn func(*event.Event), problem func(error)) int {
	w := u.w
	f := &w.flat
	n := 0
	for _, r := range u.batch.recs {
		if r.tooLong {
			problem(&JSONError{Path: u.Path, Line: r.line, Offset: r.offset, Reason: fmt.Sprintf("record longer than %d MiB; skipped", maxRecord>>20)})
			continue
		}
		v, err := f.parser.ParseBytes(u.batch.data[r.start:r.end])
		if err != nil {
			problem(&JSONError{Path: u.Path, Line: r.line, Offset: r.offset, Reason: "invalid JSON: " + err.Error()})
			continue
		}
		switch v.Type() {
		case fastjson.TypeObject:
			f.event(ev, u.Path, r, v)
			fn(ev)
			n++
		case fastjson.TypeArray:
			for i, e := range v.GetArray() {
				if e.Type() != fastjson.TypeObject {
					problem(&JSONError{Path: u.Path, Line: r.line, Offset: r.offset, Reason: fmt.Sprintf("element %d of the array is not a JSON object but a %s; skipped", i, e.Type())})
					continue
				}
				f.event(ev, u.Path, r, e)
				fn(ev)
				n++
			}
		default:
			problem(&JSONError{Path: u.Path, Line: r.line, Offset: r.offset, Reason: fmt.Sprintf("not a JSON object but a %s; skipped", v.Type())})
		}
	}
	return n
}

// maxNames bounds the table of interned field names of a worker (JSON
// whose keys are data, not names, would otherwise grow it without end).
const maxNames = 1 << 16

// Time fields in order of preference.
const (
	timeTimeCreated = iota
	timeAtTimestamp
	timeEventTime
	timeEventTimeCamel
	timeUtcTime
	timeTimestamp
	timeTs
	timeTime
	numTimeFields
)

func timeField(name string) int {
	switch name {
	case "TimeCreated":
		return timeTimeCreated
	case "@timestamp":
		return timeAtTimestamp
	case "EventTime":
		return timeEventTime
	case "eventTime":
		return timeEventTimeCamel
	case "UtcTime":
		return timeUtcTime
	case "timestamp":
		return timeTimestamp
	case "ts":
		return timeTs
	case "time":
		return timeTime
	}
	return -1
}

// flattener turns a parsed JSON object into event fields. It belongs to a
// worker: names are interned in its table, so that filling an event
// allocates nothing once the names of a source have been seen.
type flattener struct {
	ev       *event.Event
	parser   fastjson.Parser
	names    map[string]string
	name     []byte // dotted name being built
	scratch  []byte
	times    [numTimeFields]int
	recordID int
	trim     bool
}

func (f *flattener) intern(b []byte) string {
	if s, ok := f.names[string(b)]; ok {
		return s
	}
	if len(f.names) >= maxNames {
		clear(f.names)
	}
	s := string(b)
	f.names[s] = s
	return s
}

// event fills ev from the object v.
func (f *flattener) event(ev *event.Event, path string, r record, v *fastjson.Value) {
	ev.Reset()
	ev.Source = path
	ev.Record = uint64(r.line)
	ev.Offset = r.offset
	f.ev = ev
	for i := range f.times {
		f.times[i] = -1
	}
	f.recordID = -1
	v.GetObject().Visit(func(k []byte, c *fastjson.Value) {
		if string(k) == "Event" && isEvtxEvent(c) {
			f.trim = true
			f.evtxEvent(c)
			f.trim = false
			return
		}
		f.name = append(f.name[:0], k...)
		f.flat(c)
	})
	for _, i := range f.times {
		if i < 0 {
			continue
		}
		if t, ok := parseTime(ev.Bytes(i)); ok {
			ev.Time = t
			ev.MarkScalar(i) // a time, whatever the JSON typed it as
			break
		}
	}
	if f.recordID >= 0 {
		if id, ok := parseUint(ev.Bytes(f.recordID)); ok {
			ev.Record = id
		}
	}
}

// isEvtxEvent reports whether v is the "Event" object of the evtx_dump
// layout.
func isEvtxEvent(v *fastjson.Value) bool {
	o, err := v.Object()
	if err != nil {
		return false
	}
	return o.Get("System") != nil || o.Get("EventData") != nil || o.Get("UserData") != nil
}

// flat adds v under the dotted name in f.name: objects are walked, arrays
// give repeated fields.
func (f *flattener) flat(v *fastjson.Value) {
	switch v.Type() {
	case fastjson.TypeObject:
		n := len(f.name)
		v.GetObject().Visit(func(k []byte, c *fastjson.Value) {
			f.name = append(f.name[:n], '.')
			f.name = append(f.name, k...)
			f.flat(c)
		})
		f.name = f.name[:n]
	case fastjson.TypeArray:
		n := len(f.name)
		for _, e := range v.GetArray() {
			f.name = f.name[:n]
			f.flat(e)
		}
	default:
		name := f.intern(f.name)
		f.add(name, v)
		if bytes.HasPrefix(f.name, winlogPrefix) {
			if alias := f.winlogAlias(f.name[len(winlogPrefix):]); alias != "" {
				last := f.ev.Len() - 1
				f.addBytes(alias, f.ev.Bytes(last), f.ev.Scalar(last))
			}
		}
	}
}

var (
	winlogPrefix    = []byte("winlog.")
	eventDataPrefix = []byte("event_data.")
	userDataPrefix  = []byte("user_data.")
)

// winlogAlias returns the EVTX name of a Winlogbeat field (the part after
// "winlog."), or "".
func (f *flattener) winlogAlias(rest []byte) string {
	switch string(rest) {
	case "channel":
		return evtx.FieldChannel
	case "event_id":
		return evtx.FieldEventID
	case "provider_name":
		return evtx.FieldProviderName
	case "provider_guid":
		return evtx.FieldProviderGUID
	case "computer_name":
		return evtx.FieldComputer
	case "record_id":
		return evtx.FieldEventRecordID
	case "version":
		return evtx.FieldVersion
	case "activity_id":
		return evtx.FieldActivityID
	case "related_activity_id":
		return evtx.FieldRelatedActivityID
	case "process.pid":
		return evtx.FieldProcessID
	case "process.thread.id":
		return evtx.FieldThreadID
	case "user.identifier":
		return evtx.FieldUserID
	}
	if bytes.HasPrefix(rest, eventDataPrefix) {
		return f.intern(rest[len(eventDataPrefix):])
	}
	if bytes.HasPrefix(rest, userDataPrefix) {
		return f.intern(rest[len(userDataPrefix):])
	}
	return ""
}

// add appends the scalar v as field name: a string unescaped, a number as
// its JSON text, true/false, null (or a missing value) as empty.
func (f *flattener) add(name string, v *fastjson.Value) {
	var b []byte
	scalar := false
	if v != nil {
		switch v.Type() {
		case fastjson.TypeString:
			b, _ = v.StringBytes()
		case fastjson.TypeNumber:
			f.scratch = v.MarshalTo(f.scratch[:0])
			b, scalar = f.scratch, true
		case fastjson.TypeTrue:
			b, scalar = trueText, true
		case fastjson.TypeFalse:
			b, scalar = falseText, true
		case fastjson.TypeObject, fastjson.TypeArray:
			// Only the evtx layout adds a container as a value (an element
			// with children and no text): as empty.
		}
	}
	f.addBytes(name, b, scalar)
}

var trueText, falseText = []byte("true"), []byte("false")

// addBytes appends field name; scalar marks a JSON number or boolean (see
// event.Event.AddScalar).
func (f *flattener) addBytes(name string, b []byte, scalar bool) {
	if f.trim {
		b = trimSpace(b)
	}
	if t := timeField(name); t >= 0 && f.times[t] < 0 {
		f.times[t] = f.ev.Len()
	}
	if name == evtx.FieldEventRecordID && f.recordID < 0 {
		f.recordID = f.ev.Len()
	}
	if scalar {
		f.ev.AddScalar(name, b)
	} else {
		f.ev.Add(name, b)
	}
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// The evtx_dump layout: {"Event":{"System":{…},"EventData":{…}}}, with
// attributes under "#attributes" and text beside them under "#text". It is
// flattened to the names evtx.Record.AppendFields gives, in the same order.

func (f *flattener) evtxEvent(v *fastjson.Value) {
	v.GetObject().Visit(func(k []byte, c *fastjson.Value) {
		switch string(k) {
		case "System":
			if o, err := c.Object(); err == nil {
				o.Visit(f.systemChild)
			}
		case "EventData", "UserData":
			f.data(c)
		}
	})
}

func (f *flattener) systemChild(k []byte, c *fastjson.Value) {
	if c.Type() == fastjson.TypeArray { // a repeated element
		for _, e := range c.GetArray() {
			f.systemChild(k, e)
		}
		return
	}
	a := c.Get("#attributes")
	switch string(k) {
	case "Provider":
		f.attr(a, "Name", evtx.FieldProviderName)
		f.attr(a, "Guid", evtx.FieldProviderGUID)
		f.attr(a, "EventSourceName", evtx.FieldEventSourceName)
	case "EventID":
		f.add(evtx.FieldEventID, text(c))
		f.attr(a, "Qualifiers", evtx.FieldQualifiers)
	case "TimeCreated":
		f.attr(a, "SystemTime", evtx.FieldTimeCreated)
	case "Correlation":
		f.attr(a, "ActivityID", evtx.FieldActivityID)
		f.attr(a, "RelatedActivityID", evtx.FieldRelatedActivityID)
	case "Execution":
		f.attr(a, "ProcessID", evtx.FieldProcessID)
		f.attr(a, "ThreadID", evtx.FieldThreadID)
	case "Security":
		f.attr(a, "UserID", evtx.FieldUserID)
	default:
		// As AppendFields: an element with content gives its own text.
		switch c.Type() {
		case fastjson.TypeNull:
		case fastjson.TypeObject:
			if t := c.Get("#text"); t != nil || hasElements(c) {
				f.add(f.intern(k), t)
			}
		default:
			f.add(f.intern(k), c)
		}
	}
}

// attr adds attribute name of the "#attributes" object a as field.
func (f *flattener) attr(a *fastjson.Value, name, field string) {
	if a == nil {
		return
	}
	if v := a.Get(name); v != nil {
		f.add(field, v)
	}
}

// text returns the text of an element: itself when it has only text, its
// "#text" when it also has attributes or children.
func text(c *fastjson.Value) *fastjson.Value {
	if c.Type() == fastjson.TypeObject {
		return c.Get("#text")
	}
	return c
}

// hasElements reports whether the object has child elements (keys other
// than "#attributes" and "#text").
func hasElements(c *fastjson.Value) bool {
	found := false
	c.GetObject().Visit(func(k []byte, _ *fastjson.Value) {
		if len(k) == 0 || k[0] != '#' {
			found = true
		}
	})
	return found
}

// data adds the fields of EventData or UserData: leaf elements by name,
// nested elements walked.
func (f *flattener) data(v *fastjson.Value) {
	o, err := v.Object()
	if err != nil {
		return
	}
	o.Visit(func(k []byte, c *fastjson.Value) {
		if len(k) > 0 && k[0] == '#' {
			return // attributes and text of the container itself
		}
		f.dataChild(k, c)
	})
}

func (f *flattener) dataChild(k []byte, c *fastjson.Value) {
	switch c.Type() {
	case fastjson.TypeArray:
		for _, e := range c.GetArray() {
			f.dataChild(k, e)
		}
	case fastjson.TypeObject:
		if hasElements(c) {
			f.data(c)
			return
		}
		f.add(f.intern(k), c.Get("#text"))
	default:
		f.add(f.intern(k), c)
	}
}
