package syslog

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
	"unicode/utf8"

	"github.com/vigil-defense/vigil/internal/event"
)

var seeds = []string{
	"<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \xEF\xBB\xBF'su root' failed",
	`<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"]`,
	`<13>1 - - - - - [a b="q\"uo\]te\\ \x"]`,
	"<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8",
	"Mar  2 08:01:02 web01 sshd[1234]: Failed password for invalid user admin",
	"2026-02-28T10:00:00.123456+01:00 web01 sudo:   alice : TTY=pts/0",
	"<189>Feb 28 2026 10:00:04 fw01 %ASA-5-111008: User executed",
	"Feb 29 10:00:00.5 web01 leap: day",
	"<0>1990 Oct 22 10:52:01 TZ-6 scapegoat sched[0]: x",
	"Use the BFG!",
}

func FuzzParse(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	var m Message
	var ev event.Event
	f.Fuzz(func(t *testing.T, b []byte) {
		in := bytes.Clone(b)
		err := m.Parse(b, ParseOptions{Now: now})
		if !bytes.Equal(in, b) {
			t.Fatal("Parse changed its input")
		}
		var pe *ParseError
		if err != nil && !errors.As(err, &pe) {
			t.Fatalf("error %v is not a *ParseError", err)
		}
		if err != nil && (m.Format != FormatText || !bytes.Equal(m.Message, trimEnd(b))) {
			t.Fatalf("on error the whole input must be kept as text: %q", m.Message)
		}
		if pe != nil && (pe.Offset < 0 || pe.Offset > len(b)) {
			t.Fatalf("error offset %d outside the input of %d bytes", pe.Offset, len(b))
		}
		if m.HasPRI && (m.Facility > 23 || m.Severity > 7) {
			t.Fatalf("PRI out of range: %d %d", m.Facility, m.Severity)
		}
		m.Event(&ev, "fuzz")
		if v, ok := ev.Get("Message"); !ok || v != string(m.Message) {
			t.Fatalf("Message field %q, want %q", v, m.Message)
		}
		if m.Format != FormatText && utf8.Valid(b) && !bytes.Contains(b, m.Message) && len(m.StructuredData) == 0 {
			t.Fatalf("message text %q is not from the input", m.Message)
		}
	})
}

func trimEnd(b []byte) []byte {
	return bytes.TrimRight(b, "\n\r\x00")
}

func FuzzReader(f *testing.F) {
	f.Add([]byte("<13>one\n10 <13>two\nlf<13>three\r\n<13>four\x00\n\n17 apples are red\n8 <13>nine<13>last"), uint8(16))
	f.Add([]byte("105 <13>xxxxxxxx\n<13>b\n"), uint8(8))
	f.Add([]byte("50 <13>short"), uint8(64))
	f.Fuzz(func(t *testing.T, b []byte, max uint8) {
		limit := int(max)%64 + 1
		var rd io.Reader = bytes.NewReader(b)
		if max&1 == 1 {
			rd = iotest.OneByteReader(rd) // frames across reads
		}
		r := NewReader(rd, limit)
		total := 0
		for i := 0; ; i++ {
			if i > len(b)+1 {
				t.Fatalf("more frames than bytes: %d from %d bytes", i, len(b))
			}
			msg, err := r.Next()
			if err == io.EOF {
				break
			}
			var fe *FrameError
			if errors.As(err, &fe) {
				if fe.Truncated {
					if _, err := r.Next(); err != io.EOF {
						t.Fatalf("after a truncated frame: %v, want EOF", err)
					}
					break
				}
				continue
			}
			if err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			if len(msg) == 0 || len(msg) > limit {
				t.Fatalf("frame of %d bytes (limit %d)", len(msg), limit)
			}
			if !bytes.Contains(b, msg) {
				t.Fatalf("frame %q not in the input", msg)
			}
			total += len(msg)
		}
		if total > len(b) {
			t.Fatalf("frames hold %d bytes of %d", total, len(b))
		}
		if r.Offset() > int64(len(b)) {
			t.Fatalf("offset %d past the end %d", r.Offset(), len(b))
		}
	})
}
