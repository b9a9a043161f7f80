package intel

import (
	"encoding/binary"
	"hash/maphash"
)

// seenValues remembers recent field values that MatchEvent looked up and
// found nothing for: events repeat their values (the same host names,
// addresses, images and providers, event after event; two thirds of the
// values of the shared corpus's events are the value the previous event
// had in the same field), and a value seen a moment ago costs a comparison
// (or a hash and a comparison) instead of its classification and the
// probes of a 1M-indicator index (cache misses to main memory).
//
// Whether a value finds anything depends only on its bytes (see
// MatchEvent: the field's name matters only for Hashes fields and for MD5
// sized values in an imphash field, which are not remembered), and the
// index does not change, so skipping a remembered value gives the same
// output. A value is remembered by its bytes, copied into a ring buffer,
// and compared byte for byte: a hash collision cannot hide a match.
//
// One seenValues serves one goroutine at a time: it is part of a Matcher.
type seenValues struct {
	seed maphash.Seed
	// last is, per field position, the value remembered last at that
	// position: a value of up to lastInline bytes is copied into it (one
	// cache line to compare, nothing written to the ring), a longer one
	// points into the ring.
	last [seenFields]lastValue
	ents [seenEntries]seenEntry // by hash
	ring [seenRing]byte
	pos  uint64 // bytes written to ring since the start
}

const (
	seenFields  = 64      // field positions with a last value
	seenEntries = 256     // direct-mapped by hash
	seenRing    = 1 << 13 // value bytes; older values are overwritten
	seenMaxLen  = 160     // longer values are not remembered
)

// lastInline is the longest value a lastValue holds itself.
const lastInline = 48

// lastValue is the value last remembered at a field position: n is its
// length plus one (0: none). A value of 3 to 16 bytes is held as its
// shortWords (words 0 and 1 of b: two loads and two compares, no call), a
// longer one that fits as b[:n-1]; the bytes of others end at ring
// position end.
type lastValue struct {
	n   uint64
	end uint64
	b   [lastInline]byte
}

// words returns the two words a value of 3 to 16 bytes is held as.
func (e *lastValue) words() (a, b uint64) {
	return binary.LittleEndian.Uint64(e.b[:8]), binary.LittleEndian.Uint64(e.b[8:16])
}

// sameLong reports whether v, of 17 to lastInline bytes and as long as
// e's value, is e's value. It compares words, the last one first: times,
// counters and identifiers that change with every event differ there. (A
// call to compare the bytes cost more than the comparison.)
func (e *lastValue) sameLong(v string) bool {
	p, n := unsafeBytes(v), len(v)
	if binary.LittleEndian.Uint64(p[n-8:]) != binary.LittleEndian.Uint64(e.b[n-8:]) {
		return false
	}
	for i := 0; i < n-8; i += 8 {
		if binary.LittleEndian.Uint64(p[i:]) != binary.LittleEndian.Uint64(e.b[i:]) {
			return false
		}
	}
	return true
}

// seenEntry is a remembered value: for ents, tag holds the value's hash
// above 16 bits and its length in the low 16; end is the ring position
// after its bytes (0: none).
type seenEntry struct {
	tag uint64
	end uint64
}

func newSeenValues() *seenValues {
	c := &seenValues{}
	c.init()
	return c
}

func (c *seenValues) init() { c.seed = maphash.MakeSeed() }

func (c *seenValues) hash(v string) uint64 { return maphash.String(c.seed, v) }

// at reports whether v's bytes end at ring position end (still in the
// ring).
func (c *seenValues) at(end uint64, v string) bool {
	n := uint64(len(v))
	if end == 0 || c.pos-end > seenRing-n {
		return false
	}
	start := (end - n) % seenRing
	return string(c.ring[start:start+n]) == v
}

// same reports whether v is the value remembered last at field position
// i (< seenFields). Matcher.Match does the same test written out in its
// loop (this function is too large to be inlined there).
func (c *seenValues) same(i int, v string) bool {
	e := &c.last[i]
	if e.n != uint64(len(v))+1 {
		return false
	}
	switch {
	case len(v) >= 3 && len(v) <= 16:
		a, b := shortWords(v)
		ea, eb := e.words()
		return a == ea && b == eb
	case len(v) > 16 && len(v) <= lastInline:
		return e.sameLong(v)
	case len(v) <= lastInline:
		return v == string(e.b[:len(v)])
	}
	return c.at(e.end, v)
}

// remember makes v (at most seenMaxLen bytes) the last value at field
// position i, if i < seenFields.
func (c *seenValues) remember(i int, v string) {
	if i >= seenFields {
		return
	}
	var end uint64
	if len(v) > lastInline {
		end = c.put(v)
	}
	c.rememberAt(i, v, end)
}

// rememberWords is remember for a value of n bytes (3 to 16) whose
// shortWords are a and b: no bytes to read again.
func (c *seenValues) rememberWords(i int, n, a, b uint64) {
	if i < seenFields {
		e := &c.last[i]
		e.n = n + 1
		binary.LittleEndian.PutUint64(e.b[:8], a)
		binary.LittleEndian.PutUint64(e.b[8:16], b)
	}
}

// rememberAt is remember for a value whose bytes end at ring position end
// (used only when v is longer than lastInline).
func (c *seenValues) rememberAt(i int, v string, end uint64) {
	if i >= seenFields {
		return
	}
	if len(v) >= 3 && len(v) <= 16 {
		a, b := shortWords(v)
		c.rememberWords(i, uint64(len(v)), a, b)
		return
	}
	e := &c.last[i]
	e.n = uint64(len(v)) + 1
	if len(v) <= lastInline {
		copy(e.b[:], v)
	} else {
		e.end = end
	}
}

// find returns where v (of hash h, at most seenMaxLen bytes) ends in the
// ring, if it was added and is still there.
func (c *seenValues) find(h uint64, v string) (uint64, bool) {
	e := &c.ents[h%seenEntries]
	if e.tag != h&^0xffff|uint64(len(v)) || !c.at(e.end, v) {
		return 0, false
	}
	return e.end, true
}

// put copies v (at most seenMaxLen bytes) into the ring and returns the
// position after it. A value is kept in one piece: one that would wrap
// starts again at the ring's start.
func (c *seenValues) put(v string) uint64 {
	off := c.pos % seenRing
	if off+uint64(len(v)) > seenRing {
		c.pos += seenRing - off
		off = 0
	}
	copy(c.ring[off:], v)
	c.pos += uint64(len(v))
	return c.pos
}

// add remembers v (of hash h, at most seenMaxLen bytes) and returns the
// ring position after it.
func (c *seenValues) add(h uint64, v string) uint64 {
	end := c.put(v)
	c.ents[h%seenEntries] = seenEntry{tag: h&^0xffff | uint64(len(v)), end: end}
	return end
}
