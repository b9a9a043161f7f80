package intel

import "hash/maphash"

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
// One seenValues serves one goroutine at a time (Index keeps them in a
// sync.Pool).
type seenValues struct {
	seed maphash.Seed
	// last is, per field position, the value remembered last at that
	// position (tag: its length).
	last [seenFields]seenEntry
	ents [seenEntries]seenEntry // by hash
	ring [seenRing]byte
	pos  uint64 // bytes written to ring since the start
}

const (
	seenFields  = 64      // field positions with a last value
	seenEntries = 1024    // direct-mapped by hash
	seenRing    = 1 << 15 // value bytes; older values are overwritten
	seenMaxLen  = 160     // longer values are not remembered
)

// seenEntry is a remembered value: for ents, tag holds the value's hash
// above 16 bits and its length in the low 16; end is the ring position
// after its bytes (0: none).
type seenEntry struct {
	tag uint64
	end uint64
}

func newSeenValues() *seenValues {
	return &seenValues{seed: maphash.MakeSeed()}
}

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
// i (< seenFields).
func (c *seenValues) same(i int, v string) bool {
	e := &c.last[i]
	return e.tag == uint64(len(v)) && c.at(e.end, v)
}

// setLast makes the value ending at ring position end (of length n) the
// last at field position i.
func (c *seenValues) setLast(i, n int, end uint64) {
	if i < seenFields {
		c.last[i] = seenEntry{tag: uint64(n), end: end}
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
