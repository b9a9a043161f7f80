package syslog

import (
	"bytes"
	"fmt"
	"io"
)

// DefaultMaxMessage is the frame size limit NewReader uses when given 0.
const DefaultMaxMessage = 64 << 10

// maxLenDigits bounds the MSG-LEN of an octet-counted frame.
const maxLenDigits = 10

// FrameError is a frame the Reader skipped: longer than the limit, or cut
// short by the end of the stream. After an oversized frame the Reader goes
// on with the next one (Next can be called again); after a truncated one
// the stream is over.
type FrameError struct {
	Offset    int64 // byte offset of the frame in the stream
	Length    int64 // announced length (octet counting), or the bytes seen so far
	Max       int
	Truncated bool // the stream ended inside an octet-counted frame
}

func (e *FrameError) Error() string {
	if e.Truncated {
		return fmt.Sprintf("syslog: frame at byte %d: stream ends inside a frame of %d bytes", e.Offset, e.Length)
	}
	return fmt.Sprintf("syslog: frame at byte %d: longer than %d bytes (%d or more); skipped", e.Offset, e.Max, e.Length)
}

// Reader splits a syslog TCP or TLS stream into messages (RFC 6587). Each
// frame is either octet-counted ("LEN SP MSG", recognised by a LEN of 1 to
// 10 digits followed by a space and '<') or delimited by LF, NUL or CRLF
// (non-transparent framing); the two may be mixed. Empty frames are
// skipped. Frames longer than the limit are skipped and reported as a
// *FrameError, after which reading goes on. A Reader uses one buffer of
// about the limit and does not allocate per message.
type Reader struct {
	rd      io.Reader
	buf     []byte
	r, w    int
	base    int64 // stream offset of buf[0]
	max     int
	err     error // sticky read error
	skipN   int64 // bytes still to discard of an oversized octet-counted frame
	skipEOL bool  // discarding an oversized delimited frame up to its delimiter
	scanned int   // delimiter search already done up to buf[r+scanned]
	skipped int64
}

// NewReader returns a Reader of r accepting frames of up to maxMessage
// bytes (DefaultMaxMessage when maxMessage <= 0).
func NewReader(r io.Reader, maxMessage int) *Reader {
	if maxMessage <= 0 {
		maxMessage = DefaultMaxMessage
	}
	return &Reader{rd: r, max: maxMessage, buf: make([]byte, maxMessage+maxLenDigits+8)}
}

// Skipped returns the number of frames skipped for being too long.
func (r *Reader) Skipped() int64 { return r.skipped }

// Offset returns the stream offset of the next unread byte.
func (r *Reader) Offset() int64 { return r.base + int64(r.r) }

// fill reads more data, compacting the buffer first; it returns false when
// no more can be read (r.err is set).
func (r *Reader) fill() bool {
	if r.err != nil {
		return false
	}
	if r.r > 0 {
		copy(r.buf, r.buf[r.r:r.w])
		r.base += int64(r.r)
		r.w -= r.r
		r.r = 0
	}
	for tries := 0; tries < 100; tries++ {
		n, err := r.rd.Read(r.buf[r.w:])
		r.w += n
		if err != nil {
			r.err = err
			return n > 0
		}
		if n > 0 {
			return true
		}
	}
	r.err = io.ErrNoProgress
	return false
}

// Next returns the next message, without its framing. The slice is valid
// until the next call. At the end of the stream it returns io.EOF (a final
// delimited frame without delimiter is returned first); an oversized frame
// gives a *FrameError and the next call goes on after it; other errors are
// those of the underlying reader.
func (r *Reader) Next() ([]byte, error) {
	for {
		if r.skipN > 0 {
			if r.r == r.w && !r.fill() {
				return nil, r.eof()
			}
			n := min(r.skipN, int64(r.w-r.r))
			r.r += int(n)
			r.skipN -= n
			continue
		}
		if r.skipEOL {
			if k := indexDelim(r.buf[r.r:r.w]); k >= 0 {
				r.r += k + 1
				r.skipEOL = false
				continue
			}
			r.r = r.w
			if !r.fill() {
				return nil, r.eof()
			}
			continue
		}
		// Skip delimiters between frames.
		for r.r < r.w && (r.buf[r.r] == '\n' || r.buf[r.r] == '\r' || r.buf[r.r] == 0) {
			r.r++
		}
		if r.r == r.w {
			if !r.fill() {
				return nil, r.eof()
			}
			continue
		}
		if c := r.buf[r.r]; c >= '1' && c <= '9' {
			if msg, err, ok := r.octetCounted(); ok {
				return msg, err
			}
		}
		return r.delimited()
	}
}

func (r *Reader) eof() error {
	if r.err == nil || r.err == io.EOF {
		return io.EOF
	}
	return r.err
}

// octetCounted reads "LEN SP <..." at r.buf[r.r]; ok is false when the
// bytes there are not such a header (the frame is then delimited).
func (r *Reader) octetCounted() (msg []byte, err error, ok bool) {
	var n int64
	i := r.r
	for {
		n, i = 0, r.r
		for i < r.w && i-r.r < maxLenDigits && isDigit(r.buf[i]) {
			n = n*10 + int64(r.buf[i]-'0')
			i++
		}
		if i+1 < r.w || i-r.r == maxLenDigits || (i < r.w && r.buf[i] != ' ') {
			break // enough bytes to decide
		}
		if !r.fill() {
			break
		}
	}
	if i+1 >= r.w || r.buf[i] != ' ' || r.buf[i+1] != '<' {
		return nil, nil, false
	}
	start := r.base + int64(r.r)
	r.r = i + 1
	if n > int64(r.max) {
		r.skipped++
		r.skipN = n
		return nil, &FrameError{Offset: start, Length: n, Max: r.max}, true
	}
	for int64(r.w-r.r) < n {
		if !r.fill() {
			have := int64(r.w - r.r)
			if have >= n {
				break
			}
			r.r = r.w
			if r.err != nil && r.err != io.EOF {
				return nil, r.err, true
			}
			return nil, &FrameError{Offset: start, Length: n, Max: r.max, Truncated: true}, true
		}
	}
	msg = r.buf[r.r : r.r+int(n) : r.r+int(n)]
	r.r += int(n)
	return msg, nil, true
}

// delimited reads a frame ending at LF or NUL (a CR before it is dropped).
func (r *Reader) delimited() ([]byte, error) {
	start := r.base + int64(r.r) // invariant across fill
	scanned := 0
	for {
		if k := indexDelim(r.buf[r.r+scanned : r.w]); k >= 0 {
			end := r.r + scanned + k
			msg := r.buf[r.r:end]
			r.r = end + 1
			msg = trimCR(msg)
			if len(msg) > r.max {
				r.skipped++
				return nil, &FrameError{Offset: start, Length: int64(len(msg)), Max: r.max}
			}
			return msg, nil
		}
		scanned = r.w - r.r
		if scanned > r.max+1 {
			r.skipped++
			r.r = r.w
			r.skipEOL = true
			return nil, &FrameError{Offset: start, Length: int64(scanned), Max: r.max}
		}
		if !r.fill() {
			if r.w > r.r {
				msg := r.buf[r.r:r.w]
				r.r = r.w
				msg = trimCR(msg)
				if len(msg) > r.max {
					r.skipped++
					return nil, &FrameError{Offset: start, Length: int64(len(msg)), Max: r.max}
				}
				return msg, nil
			}
			return nil, r.eof()
		}
	}
}

func trimCR(b []byte) []byte {
	if len(b) > 0 && b[len(b)-1] == '\r' {
		return b[: len(b)-1 : len(b)-1]
	}
	return b[:len(b):len(b)]
}

func indexDelim(b []byte) int {
	k := bytes.IndexByte(b, '\n')
	lim := b
	if k >= 0 {
		lim = b[:k]
	}
	if z := bytes.IndexByte(lim, 0); z >= 0 {
		return z
	}
	return k
}
