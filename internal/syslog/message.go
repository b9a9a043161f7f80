package syslog

import (
	"fmt"
	"time"
)

// Format is the syntax a message was parsed as.
type Format uint8

const (
	// FormatText is a line that is not syslog: only Message is set.
	FormatText Format = iota
	// FormatRFC3164 is a BSD syslog line, with or without PRI.
	FormatRFC3164
	// FormatRFC5424 is an RFC 5424 message.
	FormatRFC5424
)

func (f Format) String() string {
	switch f {
	case FormatRFC3164:
		return "rfc3164"
	case FormatRFC5424:
		return "rfc5424"
	}
	return "text"
}

// Message is one parsed syslog message. Its byte slices alias the input
// given to Parse (or, for unescaped structured data values, a buffer of the
// Message): they are valid until the input changes or the Message is parsed
// into again.
type Message struct {
	Format   Format
	HasPRI   bool  // a PRI (<N>) was present; Facility and Severity are meaningful only then
	Facility uint8 // 0..23 (RFC 5424 section 6.2.1)
	Severity uint8 // 0..7
	// Timestamp is when the message says it happened; ParseOptions.Now when
	// it carries no timestamp (HasTimestamp false).
	Timestamp    time.Time
	HasTimestamp bool
	Version      int    // RFC 5424 VERSION (1); 0 otherwise
	Hostname     []byte // empty when absent (or the NILVALUE "-")
	AppName      []byte // RFC 5424 APP-NAME, or the RFC 3164 TAG's program
	ProcID       []byte // RFC 5424 PROCID, or the pid of "prog[pid]:"
	MsgID        []byte // RFC 5424 MSGID
	// StructuredData holds the RFC 5424 SD elements in message order.
	StructuredData []SDElement
	Message        []byte // the free-form text (RFC 5424 MSG without its BOM)
	// Raw is the whole message as parsed, without trailing LF, CR and NUL.
	Raw []byte

	params []SDParam
	buf    []byte // unescaped parameter values
	names  map[string]string
	name   []byte
	zone   *time.Location // last fixed zone made, reused when the offset repeats
	zoneS  int
}

// SDElement is one RFC 5424 structured data element: [ID name="value" ...].
type SDElement struct {
	ID     []byte
	Params []SDParam
}

// SDParam is one parameter of an SD element; Value is unescaped.
type SDParam struct {
	Name, Value []byte
}

// ParseOptions are the assumptions Parse makes for what a message leaves
// out.
type ParseOptions struct {
	// Now is the time of reception: the timestamp of a message without
	// one, and the reference for the year of an RFC 3164 timestamp (the
	// year that puts the date no later than two days after Now). Zero
	// means the current time is not used: a message without a timestamp
	// gets the zero time, and a date without a year takes the year of
	// time.Now().
	Now time.Time
	// Location is the zone of timestamps that do not give one (RFC 3164
	// dates, ISO times without an offset); nil means UTC.
	Location *time.Location
}

// ParseError is a message that does not follow the syntax it claims (a
// broken PRI, an RFC 5424 header that is not one). Offset is the byte
// offset in the input where the problem is.
type ParseError struct {
	Part   string // "PRI", "RFC 5424 header", "structured data", ...
	Field  string // field within Part, or ""
	Offset int
	Reason string
}

func (e *ParseError) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("syslog: %s: %s at byte %d: %s", e.Part, e.Field, e.Offset, e.Reason)
	}
	return fmt.Sprintf("syslog: %s at byte %d: %s", e.Part, e.Offset, e.Reason)
}

var facilityNames = [24]string{
	"kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news",
	"uucp", "cron", "authpriv", "ftp", "ntp", "security", "console", "solaris-cron",
	"local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
}

var severityNames = [8]string{"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"}

// FacilityName returns the conventional keyword of a facility code (kern,
// user, mail, daemon, auth, syslog, lpr, news, uucp, cron, authpriv, ftp,
// ntp, security, console, solaris-cron, local0..local7), or "" if out of
// range.
func FacilityName(f uint8) string {
	if int(f) < len(facilityNames) {
		return facilityNames[f]
	}
	return ""
}

// SeverityName returns the keyword of a severity code (emerg, alert, crit,
// err, warning, notice, info, debug), or "" if out of range.
func SeverityName(s uint8) string {
	if int(s) < len(severityNames) {
		return severityNames[s]
	}
	return ""
}
