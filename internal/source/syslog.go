package source

import (
	"bytes"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/vigil-defense/vigil/internal/event"
	"github.com/vigil-defense/vigil/internal/syslog"
)

// Syslog text files (/var/log/syslog, /var/log/auth.log, files written by
// rsyslog or syslog-ng, and files of raw RFC 5424 or RFC 3164 messages one
// per line) are read like JSON Lines: the producer batches lines into units
// and workers parse them with internal/syslog. A file is syslog when its
// first line is (syslog.Sniff). Dates without a year (RFC 3164) take the
// year that puts them no later than two days after the file's modification
// time, and lines without a timestamp take the modification time itself;
// times without a zone are UTC.

// SyslogError is a line of a syslog file that did not parse as the syntax
// it claims (a broken PRI or RFC 5424 header). The line is not lost: its
// event holds the whole line as Message (SyslogFormat text). A line too long
// to read is skipped.
type SyslogError struct {
	Path   string
	Line   int   // line number (1-based)
	Offset int64 // byte offset of the line in the (decompressed) stream
	Err    error // a *syslog.ParseError, or nil when Reason says what happened
	Reason string
}

func (e *SyslogError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s:%d: %v; kept as a text event", e.Path, e.Line, e.Err)
	}
	return fmt.Sprintf("%s:%d: %s", e.Path, e.Line, e.Reason)
}

func (e *SyslogError) Unwrap() error { return e.Err }

// syslogInfo is what the workers need to know about a syslog file.
type syslogInfo struct {
	modTime time.Time
}

// isSyslog reports whether the first line of b is a syslog message.
func isSyslog(b []byte) bool {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	}
	return syslog.Sniff(bytes.TrimRight(b, "\r"))
}

func produceSyslog(path string, f io.Reader, size int64, modTime time.Time, gz bool, send func(*Unit) sendResult) bool {
	info := &syslogInfo{modTime: modTime}
	return produceJSON(path, f, size, FormatSyslog, gz, func(u *Unit) sendResult {
		u.syslog = info
		return send(u)
	})
}

var messagePool = sync.Pool{New: func() any { return new(syslog.Message) }}

func (u *Unit) syslogEvents(ev *event.Event, fn func(*event.Event), problem func(error)) int {
	m := messagePool.Get().(*syslog.Message)
	defer messagePool.Put(m)
	var opts syslog.ParseOptions
	if u.syslog != nil {
		opts.Now = u.syslog.modTime
	}
	n := 0
	for _, r := range u.batch.recs {
		if r.tooLong {
			problem(&SyslogError{Path: u.Path, Line: r.line, Offset: r.offset, Reason: fmt.Sprintf("line longer than %d MiB; skipped", maxRecord>>20)})
			continue
		}
		if err := m.Parse(u.batch.data[r.start:r.end], opts); err != nil {
			problem(&SyslogError{Path: u.Path, Line: r.line, Offset: r.offset, Err: err})
		}
		m.Event(ev, u.Path)
		ev.Record = uint64(r.line)
		ev.Offset = r.offset
		fn(ev)
		n++
	}
	return n
}
