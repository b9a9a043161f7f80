package syslog

import (
	"github.com/vigil-defense/vigil/internal/event"
)

// Event field names; see the package documentation.
const (
	FieldFormat   = "SyslogFormat"
	FieldFacility = "Facility"
	FieldSeverity = "Severity"
	FieldHost     = "Computer"
	FieldAppName  = "AppName"
	FieldProcID   = "ProcID"
	FieldMsgID    = "MsgID"
	FieldMessage  = "Message"
	FieldRaw      = "Raw"
)

// maxNames bounds the interned structured data field names of a Message.
const maxNames = 4096

// Event resets ev and fills it with the message: Time is the timestamp in
// UTC, Source is source, and the fields are, in this order and only when
// present, SyslogFormat, Facility, Severity, Computer, AppName, ProcID,
// MsgID, one "SDID.PARAM" field per structured data parameter, Message
// (always present, possibly empty) and Raw (the whole message, unless it is
// FormatText, whose Message is already all of it). The caller sets ev.Record and
// ev.Offset. It does not allocate once the message's structured data names
// have been seen.
func (m *Message) Event(ev *event.Event, source string) {
	ev.Reset()
	if m.HasTimestamp || !m.Timestamp.IsZero() {
		ev.Time = m.Timestamp.UTC()
	}
	ev.Source = source
	ev.AddString(FieldFormat, m.Format.String())
	if m.HasPRI {
		ev.AddString(FieldFacility, FacilityName(m.Facility))
		ev.AddString(FieldSeverity, SeverityName(m.Severity))
	}
	if len(m.Hostname) > 0 {
		ev.Add(FieldHost, m.Hostname)
	}
	if len(m.AppName) > 0 {
		ev.Add(FieldAppName, m.AppName)
	}
	if len(m.ProcID) > 0 {
		ev.Add(FieldProcID, m.ProcID)
	}
	if len(m.MsgID) > 0 {
		ev.Add(FieldMsgID, m.MsgID)
	}
	for _, e := range m.StructuredData {
		for _, p := range e.Params {
			ev.Add(m.sdName(e.ID, p.Name), p.Value)
		}
	}
	ev.Add(FieldMessage, m.Message)
	if m.Format != FormatText {
		ev.Add(FieldRaw, m.Raw)
	}
}

// sdName returns the interned field name "id.name".
func (m *Message) sdName(id, name []byte) string {
	m.name = append(append(append(m.name[:0], id...), '.'), name...)
	if s, ok := m.names[string(m.name)]; ok {
		return s
	}
	if m.names == nil || len(m.names) >= maxNames {
		m.names = make(map[string]string)
	}
	s := string(m.name)
	m.names[s] = s
	return s
}
