package syslog

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// readAll returns the frames of the stream, "ERR" for each *FrameError.
func readAll(t *testing.T, r *Reader) []string {
	t.Helper()
	var out []string
	for {
		msg, err := r.Next()
		var fe *FrameError
		switch {
		case err == io.EOF:
			return out
		case errors.As(err, &fe):
			out = append(out, "ERR")
			if fe.Truncated {
				return out
			}
		case err != nil:
			t.Fatalf("Next: %v", err)
		default:
			out = append(out, string(msg))
		}
	}
}

func TestReaderFraming(t *testing.T) {
	stream := "<13>one\n" + // LF
		"10 <13>two\nlf" + // octet counting; the frame holds an LF
		"<13>three\r\n" + // CRLF
		"<13>four\x00" + // NUL
		"\n\n" + // empty frames
		"17 apples are red\n" + // digits and a space but no '<': delimited
		"2026-02-28T10:00:00Z h p: iso\n" +
		"8 <13>nine" + // octet counting right up to the end
		"<13>last without LF"
	want := []string{"<13>one", "<13>two\nlf", "<13>three", "<13>four", "17 apples are red", "2026-02-28T10:00:00Z h p: iso", "<13>nine", "<13>last without LF"}
	for _, rd := range []struct {
		name string
		r    io.Reader
	}{{"whole", strings.NewReader(stream)}, {"byte by byte", iotest.OneByteReader(strings.NewReader(stream))}, {"half", iotest.HalfReader(strings.NewReader(stream))}} {
		got := readAll(t, NewReader(rd.r, 64))
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("%s: frames\n got %q\nwant %q", rd.name, got, want)
		}
	}
}

func TestReaderOversized(t *testing.T) {
	long := strings.Repeat("x", 100)
	stream := "<13>a\n" + "105 <13>" + long + "!" + "<13>b\n" + "<13>" + long + "\n" + "<13>c\n" + "<13>" + long
	r := NewReader(iotest.HalfReader(strings.NewReader(stream)), 32)
	got := readAll(t, r)
	want := []string{"<13>a", "ERR", "<13>b", "ERR", "<13>c", "ERR"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("frames\n got %q\nwant %q", got, want)
	}
	if r.Skipped() != 3 {
		t.Errorf("Skipped = %d, want 3", r.Skipped())
	}
	// The error says where and what.
	r = NewReader(strings.NewReader("<13>a\n105 <13>"+long), 32)
	r.Next()
	_, err := r.Next()
	if err == nil || err.Error() != "syslog: frame at byte 6: longer than 32 bytes (105 or more); skipped" {
		t.Errorf("oversized error = %v", err)
	}
}

func TestReaderTruncated(t *testing.T) {
	r := NewReader(strings.NewReader("<13>a\n50 <13>short"), 64)
	got := readAll(t, r)
	if strings.Join(got, "|") != "<13>a|ERR" {
		t.Errorf("frames %q", got)
	}
	r = NewReader(strings.NewReader("50 <13>short"), 64)
	_, err := r.Next()
	if err == nil || err.Error() != "syslog: frame at byte 0: stream ends inside a frame of 50 bytes" {
		t.Errorf("truncated error = %v", err)
	}
	if _, err := r.Next(); err != io.EOF {
		t.Errorf("after truncation: %v, want EOF", err)
	}
}

func TestReaderReadError(t *testing.T) {
	boom := errors.New("connection reset")
	r := NewReader(io.MultiReader(strings.NewReader("<13>a\n<13>b"), iotest.ErrReader(boom)), 64)
	if m, err := r.Next(); err != nil || string(m) != "<13>a" {
		t.Fatalf("first = %q, %v", m, err)
	}
	if m, err := r.Next(); err != nil || string(m) != "<13>b" {
		t.Fatalf("second = %q, %v (the bytes before the error are a frame)", m, err)
	}
	if _, err := r.Next(); !errors.Is(err, boom) {
		t.Fatalf("third: %v, want the read error", err)
	}
}

func TestReaderAllocs(t *testing.T) {
	var stream bytes.Buffer
	for range 200 {
		stream.WriteString("<13>Mar  2 08:01:02 web01 sshd[1234]: Failed password\n")
		msg := `<13>1 2026-02-28T10:00:00Z web01 sshd 1 - [timeQuality tzKnown="1"] octet counted`
		fmt.Fprintf(&stream, "%d %s", len(msg), msg)
	}
	data := stream.Bytes()
	br := bytes.NewReader(data)
	r := NewReader(br, 1024)
	allocs := testing.AllocsPerRun(20, func() {
		br.Reset(data)
		*r = Reader{rd: br, buf: r.buf, max: r.max}
		for {
			if _, err := r.Next(); err != nil {
				break
			}
		}
	})
	if allocs != 0 {
		t.Errorf("reading 400 frames allocates %v times", allocs)
	}
}
