package source

import (
	"bufio"
	"fmt"
	"io"
)

// document splits a JSON document into records: each top-level value, and
// each element of a top-level array, so that an object, an array of
// objects and concatenated (pretty-printed) objects all give one record per
// object. The split only tracks strings and nesting; the worker parses each
// record.
func (p *jsonProducer) document(br *bufio.Reader) error {
	skipBOM(br)
	s := docScanner{br: br, line: 1}
	b := getBatch()
	inArray := false
	for {
		c, err := s.skipSpace()
		if err == io.EOF {
			break
		}
		if err != nil {
			return p.docError(b, err, s.line)
		}
		switch {
		case c == '[' && !inArray:
			s.next()
			inArray = true
			continue
		case inArray && c == ',':
			s.next()
			continue
		case inArray && c == ']':
			s.next()
			inArray = false
			continue
		}
		start, line, off := len(b.data), s.line, s.off
		b.data, err = s.value(b.data)
		if err == errTooLong {
			b.data = b.data[:start]
			b.recs = append(b.recs, record{start: start, end: start, line: line, offset: off, tooLong: true})
		} else if err != nil {
			b.data = b.data[:start]
			if err == io.ErrUnexpectedEOF && !p.gz {
				err = fmt.Errorf("%s:%d: invalid JSON: the document ends inside the value that starts here", p.path, line)
				return p.docFail(b, err)
			}
			return p.docError(b, err, line)
		} else {
			b.recs = append(b.recs, record{start: start, end: len(b.data), line: line, offset: off})
		}
		if len(b.recs) >= batchRecords || len(b.data) >= batchBytes {
			if !p.full(b) {
				return nil
			}
			b = getBatch()
		}
	}
	if len(b.recs) == 0 {
		putBatch(b)
		return nil
	}
	p.full(b)
	return nil
}

// docError passes on the records read so far and describes a read error.
func (p *jsonProducer) docError(b *batch, err error, line int) error {
	return p.docFail(b, p.streamError(err, line))
}

func (p *jsonProducer) docFail(b *batch, err error) error {
	if len(b.recs) > 0 {
		if !p.full(b) {
			return nil
		}
	} else {
		putBatch(b)
	}
	return err
}

var errTooLong = fmt.Errorf("record longer than %d MiB", maxRecord>>20)

// docScanner reads a JSON stream byte by byte, counting lines.
type docScanner struct {
	br   *bufio.Reader
	line int
	off  int64
	c    byte // the byte peeked by skipSpace, not yet consumed
	have bool
}

func (s *docScanner) read() (byte, error) {
	if s.have {
		s.have = false
		return s.c, nil
	}
	c, err := s.br.ReadByte()
	if err != nil {
		return 0, err
	}
	s.off++
	if c == '\n' {
		s.line++
	}
	return c, nil
}

// skipSpace returns the next byte that is not white space without
// consuming it.
func (s *docScanner) skipSpace() (byte, error) {
	for {
		c, err := s.read()
		if err != nil {
			return 0, err
		}
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			s.c, s.have = c, true
			return c, nil
		}
	}
}

func (s *docScanner) next() { s.have = false }

// value appends the next value to dst: an object or array up to its
// matching bracket, a string, or a bare word up to a delimiter.
func (s *docScanner) value(dst []byte) ([]byte, error) {
	start := len(dst)
	depth := 0
	inString, escaped := false, false
	tooLong := false
	for {
		c, err := s.read()
		if err != nil {
			if err == io.EOF {
				if depth == 0 && !inString && len(dst) > start {
					return dst, nil // a bare word at the end
				}
				err = io.ErrUnexpectedEOF
			}
			return dst, err
		}
		if !tooLong {
			dst = append(dst, c)
			if len(dst)-start > maxRecord {
				tooLong = true
				dst = dst[:start]
			}
		}
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
				if depth == 0 {
					return s.done(dst, tooLong)
				}
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			if depth == 0 && len(dst) > start+1 {
				// A bracket ends a bare word.
				return s.unread(dst, c, tooLong)
			}
			depth++
		case c == '}' || c == ']':
			if depth == 0 {
				if len(dst) == start+1 {
					return dst, nil // a stray bracket: a record of its own, reported as invalid
				}
				return s.unread(dst, c, tooLong)
			}
			depth--
			if depth == 0 {
				return s.done(dst, tooLong)
			}
		case depth == 0 && (c == ',' || c == ' ' || c == '\t' || c == '\r' || c == '\n'):
			if len(dst) == start+1 {
				return dst, nil // a stray comma: a record of its own, reported as invalid
			}
			return s.unread(dst, c, tooLong)
		}
	}
}

func (s *docScanner) done(dst []byte, tooLong bool) ([]byte, error) {
	if tooLong {
		return dst, errTooLong
	}
	return dst, nil
}

// unread gives back the delimiter c that ended a bare word.
func (s *docScanner) unread(dst []byte, c byte, tooLong bool) ([]byte, error) {
	if !tooLong {
		dst = dst[:len(dst)-1]
	}
	s.c, s.have = c, true
	return s.done(dst, tooLong)
}
