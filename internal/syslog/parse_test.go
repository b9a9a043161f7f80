package syslog

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vigil-defense/vigil/internal/event"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type want struct {
	format         Format
	pri            bool
	fac, sev       uint8
	ts             string // RFC 3339 with nanoseconds, "" for no timestamp
	host, app, pid string
	msgid, msg     string
	sd             string // "id k=v k=v|id k=v"
}

func sdString(m *Message) string {
	var parts []string
	for _, e := range m.StructuredData {
		s := string(e.ID)
		for _, p := range e.Params {
			s += " " + string(p.Name) + "=" + string(p.Value)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "|")
}

func check(t *testing.T, in string, m *Message, w want) {
	t.Helper()
	got := want{m.Format, m.HasPRI, m.Facility, m.Severity, "", string(m.Hostname), string(m.AppName), string(m.ProcID), string(m.MsgID), string(m.Message), sdString(m)}
	if m.HasTimestamp {
		got.ts = m.Timestamp.Format(time.RFC3339Nano)
	}
	if got != w {
		t.Errorf("Parse(%q)\n got %+v\nwant %+v", in, got, w)
	}
}

// Examples from RFC 5424 section 6.5 and RFC 3164 section 5.4, and lines
// as rsyslog and sshd write them to files.
func TestParse(t *testing.T) {
	cases := []struct {
		in string
		w  want
	}{
		{"<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \xEF\xBB\xBF'su root' failed for lonvick on /dev/pts/8",
			want{FormatRFC5424, true, 4, 2, "2003-10-11T22:14:15.003Z", "mymachine.example.com", "su", "", "ID47", "'su root' failed for lonvick on /dev/pts/8", ""}},
		{"<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts.",
			want{FormatRFC5424, true, 20, 5, "2003-08-24T05:14:15.000003-07:00", "192.0.2.1", "myproc", "8710", "", "%% It's time to make the do-nuts.", ""}},
		{`<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"] ` + "\xEF\xBB\xBFAn application event log entry...",
			want{FormatRFC5424, true, 20, 5, "2003-10-11T22:14:15.003Z", "mymachine.example.com", "evntslog", "", "ID47", "An application event log entry...", "exampleSDID@32473 iut=3 eventSource=Application eventID=1011"}},
		{`<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"]`,
			want{FormatRFC5424, true, 20, 5, "2003-10-11T22:14:15.003Z", "mymachine.example.com", "evntslog", "", "ID47", "", "exampleSDID@32473 iut=3 eventSource=Application eventID=1011|examplePriority@32473 class=high"}},
		{`<13>1 - - - - - [a b="q\"uo\]te\\ \x"]` + "\n",
			want{FormatRFC5424, true, 1, 5, "", "", "", "", "", "", `a b=q"uo]te\ \x`}},
		{"<35>1 - - sshd 30276 -",
			want{FormatRFC5424, true, 4, 3, "", "", "sshd", "30276", "", "", ""}},
		{"<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8",
			want{FormatRFC3164, true, 4, 2, "2025-10-11T22:14:15Z", "mymachine", "su", "", "", "'su root' failed for lonvick on /dev/pts/8", ""}},
		{"Use the BFG!",
			want{FormatText, false, 0, 0, "", "", "", "", "", "Use the BFG!", ""}},
		{"<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!",
			want{FormatRFC3164, true, 1, 5, "2026-02-05T17:32:18Z", "10.0.0.99", "", "", "", "Use the BFG!", ""}},
		{"<0>1990 Oct 22 10:52:01 TZ-6 scapegoat.dmz.example.org 10.1.2.3 sched[0]: That's All Folks!",
			want{FormatRFC3164, true, 0, 0, "", "", "", "", "", "1990 Oct 22 10:52:01 TZ-6 scapegoat.dmz.example.org 10.1.2.3 sched[0]: That's All Folks!", ""}},
		{"Mar  2 08:01:02 web01 sshd[1234]: Failed password for invalid user admin from 203.0.113.9 port 52100 ssh2\r\n",
			want{FormatRFC3164, false, 0, 0, "2026-03-02T08:01:02Z", "web01", "sshd", "1234", "", "Failed password for invalid user admin from 203.0.113.9 port 52100 ssh2", ""}},
		{"Dec 31 23:59:59 web01 CRON[77]: (root) CMD (run-parts /etc/cron.hourly)",
			want{FormatRFC3164, false, 0, 0, "2025-12-31T23:59:59Z", "web01", "CRON", "77", "", "(root) CMD (run-parts /etc/cron.hourly)", ""}},
		{"2026-02-28T10:00:00.123456+01:00 web01 sudo:   alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/bash",
			want{FormatRFC3164, false, 0, 0, "2026-02-28T10:00:00.123456+01:00", "web01", "sudo", "", "", "  alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/bash", ""}},
		{"2026-02-28T10:00:00+0100 web01 systemd[1]: Started session-5.scope.",
			want{FormatRFC3164, false, 0, 0, "2026-02-28T10:00:00+01:00", "web01", "systemd", "1", "", "Started session-5.scope.", ""}},
		{"<86>Feb 28 10:00:01 sshd[99]: no hostname from /dev/log",
			want{FormatRFC3164, true, 10, 6, "2026-02-28T10:00:01Z", "", "sshd", "99", "", "no hostname from /dev/log", ""}},
		{"Feb 28 10:00:02 web01 kernel: [ 12.5] eth0: entered promiscuous mode",
			want{FormatRFC3164, false, 0, 0, "2026-02-28T10:00:02Z", "web01", "kernel", "", "", "[ 12.5] eth0: entered promiscuous mode", ""}},
		{"Feb 28 10:00:03.250 web01 postfix/smtpd[12]: connect",
			want{FormatRFC3164, false, 0, 0, "2026-02-28T10:00:03.25Z", "web01", "postfix/smtpd", "12", "", "connect", ""}},
		{"<189>Feb 28 2026 10:00:04 fw01 %ASA-5-111008: User 'enable_15' executed the 'write' command.",
			want{FormatRFC3164, true, 23, 5, "2026-02-28T10:00:04Z", "fw01", "%ASA-5-111008", "", "", "User 'enable_15' executed the 'write' command.", ""}},
		{"Feb 29 10:00:00 web01 leap: day",
			want{FormatRFC3164, false, 0, 0, "2024-02-29T10:00:00Z", "web01", "leap", "", "", "day", ""}},
	}
	var m Message
	for _, c := range cases {
		if err := m.Parse([]byte(c.in), ParseOptions{Now: now}); err != nil {
			t.Errorf("Parse(%q): %v", c.in, err)
		}
		check(t, c.in, &m, c.w)
	}
}

func TestParseLocation(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skipf("no time zone data: %v", err)
	}
	m, err := Parse([]byte("Jan  5 08:00:00 h p: x"), ParseOptions{Now: now, Location: ny})
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Timestamp.UTC().Format(time.RFC3339); got != "2026-01-05T13:00:00Z" {
		t.Errorf("zone-less time in New York = %s UTC", got)
	}
}

// TestParseErrors: a message that claims a syntax and breaks it gives a
// *ParseError naming the part and byte, and is kept as text.
func TestParseErrors(t *testing.T) {
	cases := []struct{ in, err string }{
		{"", "syslog: message at byte 0: empty message"},
		{"<>x", "syslog: PRI at byte 1: expected a number after '<'"},
		{"<1234>x", "syslog: PRI at byte 1: more than 3 digits"},
		{"<192>Oct 11 22:14:15 h p: x", "syslog: PRI at byte 1: priority above 191 (facility 23, severity 7)"},
		{"<html><body>", "syslog: PRI at byte 1: expected a number after '<'"},
		{"<34>1 2003-13-11T22:14:15Z h a p m - x", "syslog: RFC 5424 header: timestamp at byte 11: invalid month"},
		{"<34>1 2003-10-11T22:14:15 h a p m - x", "syslog: RFC 5424 header: timestamp at byte 25: expected a time offset (Z or +hh:mm)"},
		{"<34>1 2003-02-30T22:14:15Z h a p m - x", "syslog: RFC 5424 header: timestamp at byte 14: no such day in that month"},
		{"<34>1 - h  p m - x", "syslog: RFC 5424 header: app-name at byte 10: empty (use \"-\" for none)"},
		{"<34>1 - h a p", "syslog: RFC 5424 header: msgid at byte 13: expected a space before the msgid"},
		{"<34>1 - h a p m x", "syslog: structured data at byte 16: expected '[' or \"-\""},
		{`<34>1 - h a p m [id k="v] x`, "syslog: structured data: PARAM-VALUE at byte 23: unterminated value (no closing '\"')"},
		{`<34>1 - h a p m [id k=v] x`, "syslog: structured data: PARAM-VALUE at byte 21: expected =\" after the parameter name"},
		{`<34>1 - h a p m [id k="v"`, "syslog: structured data at byte 25: expected ']' or a space and a parameter"},
		{`<34>1 - h a p m [id k="v"]x`, "syslog: structured data at byte 26: expected a space or '[' after ']'"},
	}
	for _, c := range cases {
		m, err := Parse([]byte(c.in), ParseOptions{Now: now})
		var pe *ParseError
		if !errors.As(err, &pe) || err.Error() != c.err {
			t.Errorf("Parse(%q) error = %v, want %s", c.in, err, c.err)
			continue
		}
		if m.Format != FormatText || string(m.Message) != c.in || !m.Timestamp.Equal(now) {
			t.Errorf("Parse(%q) kept %v %q %v, want the whole input as text at Now", c.in, m.Format, m.Message, m.Timestamp)
		}
	}
}

func TestSniff(t *testing.T) {
	yes := []string{
		"<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - x",
		"<34>Oct 11 22:14:15 mymachine su: x",
		"Mar  2 08:01:02 web01 sshd[1234]: Accepted publickey",
		"2026-02-28T10:00:00.123456+01:00 web01 sudo: x",
	}
	no := []string{
		`{"a":1}`, "Use the BFG!", "<html>", "2026-02-28 is a date", "Mar 2 is a month", "<34>1 2003-10-11 h a p m - x", "",
	}
	for _, s := range yes {
		if !Sniff([]byte(s)) {
			t.Errorf("Sniff(%q) = false", s)
		}
	}
	for _, s := range no {
		if Sniff([]byte(s)) {
			t.Errorf("Sniff(%q) = true", s)
		}
	}
}

func TestEvent(t *testing.T) {
	in := `<86>1 2026-02-28T10:00:00.5+01:00 web01 sshd 4242 AUTH [origin@32473 ip="192.0.2.7"][meta x="1"] Accepted publickey for alice`
	var m Message
	if err := m.Parse([]byte(in), ParseOptions{Now: now}); err != nil {
		t.Fatal(err)
	}
	var ev event.Event
	m.Event(&ev, "udp://0.0.0.0:5514")
	got := ev.Fields()
	wantFields := []event.Field{
		fld("SyslogFormat", "rfc5424"), fld("Facility", "authpriv"), fld("Severity", "info"), fld("Computer", "web01"),
		fld("AppName", "sshd"), fld("ProcID", "4242"), fld("MsgID", "AUTH"), fld("origin@32473.ip", "192.0.2.7"), fld("meta.x", "1"),
		fld("Message", "Accepted publickey for alice"), fld("Raw", in),
	}
	if len(got) != len(wantFields) {
		t.Fatalf("fields = %v", got)
	}
	for i := range got {
		if got[i] != wantFields[i] {
			t.Errorf("field %d = %v, want %v", i, got[i], wantFields[i])
		}
	}
	if ev.Time != time.Date(2026, 2, 28, 9, 0, 0, 5e8, time.UTC) || ev.Time.Location() != time.UTC || ev.Source != "udp://0.0.0.0:5514" {
		t.Errorf("Time %v Source %q", ev.Time, ev.Source)
	}
	// Text: only the format and the message.
	m.Parse([]byte("just words"), ParseOptions{})
	m.Event(&ev, "f")
	if f := ev.Fields(); len(f) != 2 || f[0] != fld("SyslogFormat", "text") || f[1] != fld("Message", "just words") || !ev.Time.IsZero() {
		t.Errorf("text event = %v at %v", f, ev.Time)
	}
}

func TestParseEventAllocs(t *testing.T) {
	lines := [][]byte{
		[]byte(`<165>1 2003-10-11T22:14:15.003+02:00 mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Appl\"ication" eventID="1011"] An application event log entry`),
		[]byte("Mar  2 08:01:02 web01 sshd[1234]: Failed password for invalid user admin from 203.0.113.9 port 52100 ssh2"),
		[]byte("2026-02-28T10:00:00.123456+01:00 web01 sudo:   alice : TTY=pts/0 ; COMMAND=/bin/bash"),
	}
	var m Message
	var ev event.Event
	opts := ParseOptions{Now: now}
	for _, l := range lines { // warm up
		m.Parse(l, opts)
		m.Event(&ev, "s")
	}
	allocs := testing.AllocsPerRun(100, func() {
		for _, l := range lines {
			m.Parse(l, opts)
			m.Event(&ev, "s")
		}
	})
	if allocs != 0 {
		t.Errorf("Parse+Event allocates %v times per 3 messages in the steady state", allocs)
	}
}

func fld(name, value string) event.Field { return event.Field{Name: name, Value: value} }
