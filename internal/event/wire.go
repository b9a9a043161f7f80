package event

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// The wire form carries events between processes (ingest → queue → detection
// workers) without re-parsing their original format: whatever reader made an
// event, the worker sees exactly the fields, time and source reference that
// reader produced, so a served event matches the same rules as a hunted one.
//
// One event is:
//
//	uvarint flags (bit 0: time present, bit 1: scalar marks present)
//	[varint unix nanoseconds]           when bit 0 is set
//	uvarint record, varint offset
//	uvarint len, source bytes
//	uvarint field count, then per field: uvarint len, name, uvarint len, value
//	[uvarint word count, uvarint words] when bit 1 is set: bit i of word
//	                                    i/64 marks field i a scalar (AddScalar)
//
// A batch is the concatenation of events; readers stop at the end of the
// buffer.

// AppendWire appends the wire form of ev to dst.
func AppendWire(dst []byte, ev *Event) []byte {
	var flags uint64
	if !ev.Time.IsZero() {
		flags |= 1
	}
	scalars := ev.scalars
	for len(scalars) > 0 && scalars[len(scalars)-1] == 0 {
		scalars = scalars[:len(scalars)-1]
	}
	if len(scalars) > 0 {
		flags |= 2
	}
	dst = binary.AppendUvarint(dst, flags)
	if flags&1 != 0 {
		dst = binary.AppendVarint(dst, ev.Time.UnixNano())
	}
	dst = binary.AppendUvarint(dst, ev.Record)
	dst = binary.AppendVarint(dst, ev.Offset)
	dst = binary.AppendUvarint(dst, uint64(len(ev.Source)))
	dst = append(dst, ev.Source...)
	dst = binary.AppendUvarint(dst, uint64(len(ev.names)))
	for i, n := range ev.names {
		dst = binary.AppendUvarint(dst, uint64(len(n)))
		dst = append(dst, n...)
		s := ev.spans[i]
		dst = binary.AppendUvarint(dst, uint64(s.End-s.Off))
		dst = append(dst, ev.buf[s.Off:s.End]...)
	}
	if flags&2 != 0 {
		dst = binary.AppendUvarint(dst, uint64(len(scalars)))
		for _, w := range scalars {
			dst = binary.AppendUvarint(dst, w)
		}
	}
	return dst
}

// ErrWire is wrapped by every error of WireReader.Next.
var ErrWire = errors.New("event wire form")

// maxWireNames bounds a WireReader's table of interned names.
const maxWireNames = 1 << 16

// WireReader decodes a batch of events in wire form. Field names are
// interned, so decoding allocates nothing once a batch's names have been
// seen; source strings are interned the same way.
type WireReader struct {
	data  []byte
	pos   int
	names map[string]string
}

// Reset starts reading data from its beginning. data must not change while
// it is read.
func (r *WireReader) Reset(data []byte) {
	r.data, r.pos = data, 0
	if r.names == nil {
		r.names = make(map[string]string)
	}
}

// Next decodes the next event into ev. It returns false at the end of the
// data; an error means the rest of the batch cannot be read.
func (r *WireReader) Next(ev *Event) (bool, error) {
	if r.pos >= len(r.data) {
		return false, nil
	}
	start := r.pos
	fail := func(what string) (bool, error) {
		r.pos = len(r.data)
		return false, fmt.Errorf("%w: event at byte %d: %s", ErrWire, start, what)
	}
	flags, ok := r.uvarint()
	if !ok {
		return fail("bad flags")
	}
	ev.Reset()
	if flags&1 != 0 {
		ns, ok := r.varint()
		if !ok {
			return fail("bad time")
		}
		ev.Time = time.Unix(0, ns).UTC()
	}
	rec, ok := r.uvarint()
	if !ok {
		return fail("bad record")
	}
	ev.Record = rec
	off, ok := r.varint()
	if !ok {
		return fail("bad offset")
	}
	ev.Offset = off
	src, ok := r.bytes()
	if !ok {
		return fail("bad source")
	}
	ev.Source = r.intern(src)
	n, ok := r.uvarint()
	if !ok || n > uint64(len(r.data)-r.pos) {
		return fail("bad field count")
	}
	for i := uint64(0); i < n; i++ {
		name, ok := r.bytes()
		if !ok {
			return fail(fmt.Sprintf("field %d: bad name", i))
		}
		val, ok := r.bytes()
		if !ok {
			return fail(fmt.Sprintf("field %d: bad value", i))
		}
		ev.Add(r.intern(name), val)
	}
	if flags&2 != 0 {
		words, ok := r.uvarint()
		if !ok || words > (n+63)/64 {
			return fail("bad scalar marks")
		}
		for w := uint64(0); w < words; w++ {
			bits, ok := r.uvarint()
			if !ok {
				return fail("bad scalar marks")
			}
			ev.scalars = append(ev.scalars, bits)
		}
	}
	return true, nil
}

func (r *WireReader) uvarint() (uint64, bool) {
	v, n := binary.Uvarint(r.data[r.pos:])
	if n <= 0 {
		return 0, false
	}
	r.pos += n
	return v, true
}

func (r *WireReader) varint() (int64, bool) {
	v, n := binary.Varint(r.data[r.pos:])
	if n <= 0 {
		return 0, false
	}
	r.pos += n
	return v, true
}

func (r *WireReader) bytes() ([]byte, bool) {
	l, ok := r.uvarint()
	if !ok || l > uint64(len(r.data)-r.pos) {
		return nil, false
	}
	b := r.data[r.pos : r.pos+int(l)]
	r.pos += int(l)
	return b, true
}

func (r *WireReader) intern(b []byte) string {
	if s, ok := r.names[string(b)]; ok {
		return s
	}
	if len(r.names) >= maxWireNames {
		clear(r.names)
	}
	s := string(b)
	r.names[s] = s
	return s
}
