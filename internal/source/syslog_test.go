package source

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-defense/vigil/internal/event"
	"github.com/vigil-defense/vigil/internal/syslog"
)

// authLog is a made-up /var/log/auth.log as Debian's rsyslog writes it
// (traditional format, no PRI, no year) spanning a new year, with a line a
// program wrote without a tag, a blank line, and one broken RFC 5424 line.
const authLog = "Dec 31 23:59:58 bastion sshd[811]: Accepted publickey for alice from 192.0.2.10 port 50122 ssh2: ED25519 SHA256:abc\n" +
	"Dec 31 23:59:59 bastion sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/id\n" +
	"\n" +
	"Jan  1 00:00:01 bastion sshd[812]: error: Corrupted MAC on input. [preauth]\r\n" +
	"<34>1 2026-13-01T00:00:02Z bastion sshd 813 - - broken month\n" +
	"Jan  1 00:00:03 bastion no tag here\n"

func writeSyslog(t *testing.T, name, content string, gz bool, mtime time.Time) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	data := []byte(content)
	if gz {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		zw.Write(data)
		zw.Close()
		data = b.Bytes()
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, mtime, mtime); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSyslogFile(t *testing.T) {
	mtime := time.Date(2026, 1, 1, 0, 5, 0, 0, time.UTC)
	for _, gz := range []bool{false, true} {
		p := writeSyslog(t, "auth.log", authLog, gz, mtime)
		format, isGz, err := Sniff(p)
		if err != nil || format != FormatSyslog || isGz != gz {
			t.Fatalf("Sniff = %v, %v, %v", format, isGz, err)
		}
		rs := scanAll(t, []string{p}, 2)
		evs := eventsOf(rs)
		var problems []error
		for _, r := range rs {
			problems = append(problems, r.problems...)
			if r.err != nil {
				t.Fatalf("unit error: %v", r.err)
			}
		}
		type row struct {
			time, host, app, pid, msg string
			line                      uint64
		}
		want := []row{
			{"2025-12-31T23:59:58Z", "bastion", "sshd", "811", "Accepted publickey for alice from 192.0.2.10 port 50122 ssh2: ED25519 SHA256:abc", 1},
			{"2025-12-31T23:59:59Z", "bastion", "sudo", "", "   alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/id", 2},
			{"2026-01-01T00:00:01Z", "bastion", "sshd", "812", "error: Corrupted MAC on input. [preauth]", 4},
			{"2026-01-01T00:05:00Z", "", "", "", "<34>1 2026-13-01T00:00:02Z bastion sshd 813 - - broken month", 5},
			{"2026-01-01T00:00:03Z", "bastion", "", "", "no tag here", 6},
		}
		if len(evs) != len(want) {
			t.Fatalf("gz=%v: %d events, want %d", gz, len(evs), len(want))
		}
		for i, ev := range evs {
			host, _ := ev.Get("Computer")
			app, _ := ev.Get("AppName")
			pid, _ := ev.Get("ProcID")
			msg, _ := ev.Get("Message")
			got := row{ev.Time.Format(time.RFC3339), host, app, pid, msg, ev.Record}
			if got != want[i] || ev.Source != p {
				t.Errorf("gz=%v: event %d = %+v from %s, want %+v", gz, i, got, ev.Source, want[i])
			}
		}
		if evs[3].Offset != int64(strings.Index(authLog, "<34>")) {
			t.Errorf("offset of line 5 = %d", evs[3].Offset)
		}
		var se *SyslogError
		var pe *syslog.ParseError
		if len(problems) != 1 || !errors.As(problems[0], &se) || !errors.As(problems[0], &pe) || se.Line != 5 ||
			problems[0].Error() != p+":5: syslog: RFC 5424 header: timestamp at byte 11: invalid month; kept as a text event" {
			t.Errorf("gz=%v: problems = %v", gz, problems)
		}
	}
}

func TestDetectSyslog(t *testing.T) {
	for in, want := range map[string]Format{
		authLog: FormatSyslog,
		"<13>1 2026-01-01T00:00:00Z h a - - - x\n":         FormatSyslog,
		"<13>Jan  1 00:00:00 h a: x\n":                     FormatSyslog,
		"2026-01-01T00:00:00.5+01:00 h a[1]: x\n":          FormatSyslog,
		"\xEF\xBB\xBFJan  1 00:00:00 h a: x\n":             FormatSyslog,
		"Just some text\nJan  1 00:00:00 h a: x\n":         FormatUnknown,
		`{"EventID":4624}` + "\n":                          FormatJSONL,
		"2026-01-01 00:00:00,123 INFO a python log line\n": FormatUnknown,
		"<?xml version=\"1.0\"?>\n":                        FormatUnknown,
	} {
		if got := Detect([]byte(in)); got != want {
			t.Errorf("Detect(%.30q) = %v, want %v", in, got, want)
		}
	}
}

func BenchmarkScanSyslog(b *testing.B) {
	var buf bytes.Buffer
	for buf.Len() < 8<<20 {
		buf.WriteString(authLog)
	}
	p := filepath.Join(b.TempDir(), "auth.log")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(buf.Len()))
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		err := Scan(context.Background(), []string{p}, 0, func(u *Unit) int {
			var ev event.Event
			return u.Events(&ev, func(*event.Event) {}, func(error) {})
		}, func(k int) error { n += k; return nil })
		if err != nil || n == 0 {
			b.Fatal(err, n)
		}
	}
}
