package detect

import (
	"encoding/binary"
	"math/bits"
	"slices"
	"sort"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/vigil-defense/vigil/internal/event"
)

// Detection is one match of a rule on an event: the contract that every
// output (hunt's jsonl, csv and table, the API) renders. It owns its data.
type Detection struct {
	Time      time.Time
	RuleID    string
	RuleTitle string
	Level     string
	Status    string
	Author    string // kept as the Detection Rule License requires
	Tags      []string
	RulePath  string
	Computer  string
	Channel   string
	EventID   string
	RecordID  uint64
	Source    string
	Fields    []event.Field

	// Set when the detection stands for several de-duplicated matches.
	Count     int       // number of matches (0 or 1: a single match)
	FirstTime time.Time // earliest and latest event time of the matches
	LastTime  time.Time

	// Set on a correlation detection.
	Correlation *CorrelationInfo
}

// CorrelationInfo describes what a correlation rule saw: the group-by
// values, the window and the events that contributed.
type CorrelationInfo struct {
	Type        string            // event_count, value_count, temporal, ...
	Group       map[string]string // group-by field -> value
	WindowStart time.Time
	WindowEnd   time.Time
	Value       float64    // the aggregated value compared with the condition (count, distinct values, sum, …)
	Events      []EventRef // contributing events, in time order
}

// EventRef identifies one event that contributed to a correlation.
type EventRef struct {
	Time     time.Time
	Source   string
	RecordID uint64
	RuleID   string // the referenced rule that matched it
}

// NewDetection copies what a detection needs out of the program and the
// event (which may be reused after the call).
func NewDetection(p *Program, ev *event.Event) Detection {
	r := p.Rule
	d := FromEvent(ev)
	d.RuleID, d.RuleTitle, d.Level, d.Status = r.ID, r.Title, r.Level, r.Status
	d.Author, d.Tags, d.RulePath = r.Author, r.Tags, p.Path
	return d
}

// FromEvent returns a detection holding a copy of the event (time, record,
// source, fields, and the computer, channel and event id read from them),
// for a producer to fill in what matched.
func FromEvent(ev *event.Event) Detection { return FromEventRoom(ev, 0) }

// FromEventRoom is FromEvent with room in Fields for extra fields the
// producer appends (without copying them all again).
func FromEventRoom(ev *event.Event, extra int) Detection {
	d := Detection{
		Time:     ev.Time,
		RecordID: ev.Record,
		Source:   ev.Source,
		Fields:   ev.FieldsRoom(extra),
	}
	for _, f := range d.Fields {
		switch f.Name {
		case "Computer":
			if d.Computer == "" {
				d.Computer = f.Value
			}
		case "Channel":
			if d.Channel == "" {
				d.Channel = f.Value
			}
		case "EventID":
			if d.EventID == "" {
				d.EventID = f.Value
			}
		}
	}
	return d
}

// UserFields name the event fields that say who acted or was acted upon,
// in order of preference.
var UserFields = [...]string{"User", "TargetUserName", "SubjectUserName", "AccountName", "UserName"}

// User returns the first meaningful value (not empty, not "-") of the
// UserFields, or "".
func (d *Detection) User() string {
	for _, name := range UserFields {
		for _, f := range d.Fields {
			if f.Name == name && f.Value != "" && f.Value != "-" {
				return f.Value
			}
		}
	}
	return ""
}

// Field returns the first value of the named event field.
func (d *Detection) Field(name string) string {
	for _, f := range d.Fields {
		if f.Name == name {
			return f.Value
		}
	}
	return ""
}

// AppendJSON writes the detection as one JSON object with the keys of the
// hunt jsonl contract: time (RFC 3339 UTC), rule_id, rule_title, level,
// status, tags, author, rule_path, computer, channel, event_id, record_id,
// source and fields (the event's fields; a name that occurs several times
// holds an array).
func (d *Detection) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"time":`...)
	if d.Time.IsZero() {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, '"')
		dst = d.Time.UTC().AppendFormat(dst, time.RFC3339Nano)
		dst = append(dst, '"')
	}
	dst = appendKV(dst, "rule_id", d.RuleID)
	dst = appendKV(dst, "rule_title", d.RuleTitle)
	dst = appendKV(dst, "level", d.Level)
	dst = appendKV(dst, "status", d.Status)
	dst = append(dst, `,"tags":[`...)
	for i, t := range d.Tags {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, t)
	}
	dst = append(dst, ']')
	dst = appendKV(dst, "author", d.Author)
	dst = appendKV(dst, "rule_path", d.RulePath)
	dst = appendKV(dst, "computer", d.Computer)
	dst = appendKV(dst, "channel", d.Channel)
	dst = appendKV(dst, "event_id", d.EventID)
	dst = append(dst, `,"record_id":`...)
	dst = strconv.AppendUint(dst, d.RecordID, 10)
	dst = appendKV(dst, "source", d.Source)
	dst = append(dst, `,"fields":{`...)
	dst = appendFields(dst, d.Fields)
	dst = append(dst, '}')
	if d.Count > 1 {
		dst = append(dst, `,"count":`...)
		dst = strconv.AppendInt(dst, int64(d.Count), 10)
		dst = appendTimeKV(dst, "first_time", d.FirstTime)
		dst = appendTimeKV(dst, "last_time", d.LastTime)
	}
	if c := d.Correlation; c != nil {
		dst = append(dst, `,"correlation":{"type":`...)
		dst = appendJSONString(dst, c.Type)
		dst = append(dst, `,"group":{`...)
		keys := make([]string, 0, len(c.Group))
		for k := range c.Group {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, k)
			dst = append(dst, ':')
			dst = appendJSONString(dst, c.Group[k])
		}
		dst = append(dst, '}')
		dst = appendTimeKV(dst, "window_start", c.WindowStart)
		dst = appendTimeKV(dst, "window_end", c.WindowEnd)
		dst = append(dst, `,"value":`...)
		dst = strconv.AppendFloat(dst, c.Value, 'g', -1, 64)
		dst = append(dst, `,"events":[`...)
		for i, ev := range c.Events {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, `{"source":`...)
			dst = appendJSONString(dst, ev.Source)
			dst = appendTimeKV(dst, "time", ev.Time)
			dst = append(dst, `,"record_id":`...)
			dst = strconv.AppendUint(dst, ev.RecordID, 10)
			dst = appendKV(dst, "rule_id", ev.RuleID)
			dst = append(dst, '}')
		}
		dst = append(dst, ']', '}')
	}
	return append(dst, '}')
}

// appendFields writes fs as the members of a JSON object, in the order
// of their names' first occurrences; the values of a name that occurs
// several times make an array. Names are grouped through a small hash
// table: events have tens of fields, and comparing each name with all
// those before it cost more than writing the event.
func appendFields(dst []byte, fs []event.Field) []byte {
	// next[i] is the next field with fs[i]'s name (0: none; never the
	// first field), repeat[i] says fs[i] is not its name's first.
	var nextBuf [64]int32
	var repeatBuf [64]bool
	var tableBuf [128]int32
	next, repeat, table := nextBuf[:], repeatBuf[:], tableBuf[:]
	if len(fs) > len(nextBuf) {
		next, repeat = make([]int32, len(fs)), make([]bool, len(fs))
		table = make([]int32, 2<<bits.Len(uint(len(fs))))
	}
	// table holds, per name, 1 + the index of its last field so far
	// (0: empty), by open addressing.
	mask := uint32(len(table) - 1)
	for i, f := range fs {
		for h := nameHash(f.Name) & mask; ; h = (h + 1) & mask {
			j := table[h] - 1
			if j < 0 {
				table[h] = int32(i) + 1
				break
			}
			if fs[j].Name == f.Name {
				next[j], repeat[i], table[h] = int32(i), true, int32(i)+1
				break
			}
		}
	}
	written := 0
	for i, f := range fs {
		if repeat[i] {
			continue
		}
		if written > 0 {
			dst = append(dst, ',')
		}
		written++
		dst = appendJSONString(dst, f.Name)
		dst = append(dst, ':')
		if next[i] == 0 {
			dst = appendJSONString(dst, f.Value)
			continue
		}
		dst = append(dst, '[')
		for j := int32(i); ; j = next[j] {
			dst = appendJSONString(dst, fs[j].Value)
			if next[j] == 0 {
				break
			}
			dst = append(dst, ',')
		}
		dst = append(dst, ']')
	}
	return dst
}

// nameHash hashes a field name for appendFields' table from its length
// and its first and last eight bytes (names of one event often differ only
// in a digit, as in param1 and param2); probes compare whole names.
func nameHash(name string) uint32 {
	n := uint64(len(name))
	var a, b uint64
	if n >= 8 {
		a = binary.LittleEndian.Uint64(unsafeBytes(name))
		b = binary.LittleEndian.Uint64(unsafeBytes(name[n-8:]))
	} else {
		for i := range n {
			a = a<<8 | uint64(name[i])
		}
	}
	h := (a^n)*0x9e3779b97f4a7c15 ^ b*0xc2b2ae3d27d4eb4f
	h = (h ^ h>>32) * 0x9e3779b97f4a7c15 // the table takes the low bits: fold the high ones in
	return uint32(h >> 32)
}

// appendTimeKV writes ,"k":"RFC 3339 time" (or null for a zero time).
func appendTimeKV(dst []byte, k string, t time.Time) []byte {
	dst = append(dst, ',', '"')
	dst = append(dst, k...)
	dst = append(dst, '"', ':')
	if t.IsZero() {
		return append(dst, "null"...)
	}
	dst = append(dst, '"')
	dst = t.UTC().AppendFormat(dst, time.RFC3339Nano)
	return append(dst, '"')
}

func appendKV(dst []byte, k, v string) []byte {
	dst = append(dst, ',', '"')
	dst = append(dst, k...)
	dst = append(dst, '"', ':')
	return appendJSONString(dst, v)
}

// appendJSONString writes s as a JSON string; invalid UTF-8 becomes U+FFFD.
//
// Room for s with every byte escaped in two bytes (the common escapes: a
// quote, a backslash, \n, \r, \t) and eight more is made once. Then s is
// read eight bytes at a time: each word is stored as it is and the output
// advanced past its bytes that need no escaping (jsonUnsafe finds the
// first that does), so a Windows path, with a backslash every few bytes,
// costs a word or two per backslash and no call. The rare longer forms
// (\u00XX, a multi-byte character, U+FFFD) append. The last bytes of a
// string of eight or more are read as the low bytes of its last word; a
// shorter string is read a byte at a time.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = slices.Grow(dst, 2*len(s)+10)
	n := len(dst)
	b := dst[:cap(dst)]
	b[n] = '"'
	n++
	for i := 0; i < len(s); {
		if r := len(s) - i; r >= 8 {
			w := binary.LittleEndian.Uint64(unsafeBytes(s[i:]))
			binary.LittleEndian.PutUint64(b[n:], w)
			m := jsonUnsafe(w)
			if m == 0 {
				n, i = n+8, i+8
				continue
			}
			k := bits.TrailingZeros64(m) >> 3
			n, i = n+k, i+k
		} else if len(s) >= 8 {
			// The last r bytes, as the low bytes of s's last word.
			w := binary.LittleEndian.Uint64(unsafeBytes(s[len(s)-8:])) >> (64 - 8*r)
			binary.LittleEndian.PutUint64(b[n:], w)
			m := jsonUnsafe(w) & (1<<(8*r) - 1)
			if m == 0 {
				n, i = n+r, len(s)
				continue
			}
			k := bits.TrailingZeros64(m) >> 3
			n, i = n+k, i+k
		} else if c := s[i]; jsonSafe[c] {
			b[n] = c
			n, i = n+1, i+1
			continue
		}
		c := s[i]
		if e := jsonEscape[c]; e != 0 {
			b[n], b[n+1] = '\\', e
			n, i = n+2, i+1
			continue
		}
		// A control character without a short escape, or a byte of a
		// multi-byte character: appended (this may move the buffer).
		dst = b[:n]
		switch r, size := utf8.DecodeRuneInString(s[i:]); {
		case c < utf8.RuneSelf:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
		case r == utf8.RuneError && size == 1:
			dst = append(dst, "\ufffd"...)
		default:
			dst = append(dst, s[i:i+size]...)
			i += size - 1
		}
		i++
		dst = slices.Grow(dst, 2*(len(s)-i)+9)
		n = len(dst)
		b = dst[:cap(dst)]
	}
	b[n] = '"'
	return b[:n+1]
}

// jsonUnsafe returns, for the eight bytes of w (little-endian), a mask
// whose lowest set bit is the top bit of the first byte JSON does not
// take as it is (a control character, '"', '\\' or a byte of a multi-byte
// character); zero if there is none. A byte below 0x20 (or equal to '"' or
// '\\' after the XOR) is found by the borrow of the subtraction; a borrow
// can mark a later byte falsely, never an earlier one.
func jsonUnsafe(w uint64) uint64 {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	q, bs := w^(lo*'"'), w^(lo*'\\')
	return ((w-lo*0x20)|(q-lo)|(bs-lo))&^w&hi | w&hi
}

// jsonSafe reports the bytes appendJSONString copies as they are: printable
// ASCII other than '"' and '\\'.
var jsonSafe = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// jsonEscape gives, for the bytes JSON writes as a backslash and one
// character, that character (0 for the others).
var jsonEscape = [256]byte{'"': '"', '\\': '\\', '\n': 'n', '\r': 'r', '\t': 't'}
