package detect

import (
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
}

// NewDetection copies what a detection needs out of the program and the
// event (which may be reused after the call).
func NewDetection(p *Program, ev *event.Event) Detection {
	r := p.Rule
	d := Detection{
		Time:      ev.Time,
		RuleID:    r.ID,
		RuleTitle: r.Title,
		Level:     r.Level,
		Status:    r.Status,
		Author:    r.Author,
		Tags:      r.Tags,
		RulePath:  p.Path,
		RecordID:  ev.Record,
		Source:    ev.Source,
		Fields:    ev.Fields(),
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
	written := 0
	for i, f := range d.Fields {
		dup := false
		for _, g := range d.Fields[:i] {
			if g.Name == f.Name {
				dup = true
				break
			}
		}
		if dup {
			continue
		}
		if written > 0 {
			dst = append(dst, ',')
		}
		written++
		dst = appendJSONString(dst, f.Name)
		dst = append(dst, ':')
		n := 0
		for _, g := range d.Fields[i:] {
			if g.Name == f.Name {
				n++
			}
		}
		if n == 1 {
			dst = appendJSONString(dst, f.Value)
			continue
		}
		dst = append(dst, '[')
		k := 0
		for _, g := range d.Fields[i:] {
			if g.Name == f.Name {
				if k > 0 {
					dst = append(dst, ',')
				}
				k++
				dst = appendJSONString(dst, g.Value)
			}
		}
		dst = append(dst, ']')
	}
	return append(dst, '}', '}')
}

func appendKV(dst []byte, k, v string) []byte {
	dst = append(dst, ',', '"')
	dst = append(dst, k...)
	dst = append(dst, '"', ':')
	return appendJSONString(dst, v)
}

// appendJSONString writes s as a JSON string; invalid UTF-8 becomes U+FFFD.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			case c == '\t':
				dst = append(dst, '\\', 't')
			case c < 0x20:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, "\ufffd"...)
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}
