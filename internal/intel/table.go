package intel

import (
	"encoding/binary"
	"hash/maphash"
	"unsafe"
)

// The tables of a set's most numerous keys (IPv4 addresses, hashes,
// domains, URLs, e-mail addresses, file names, CVE ids). A Go map of a
// million keys costs a lookup three to four cache misses (the table's
// header, the control word, the slot, and for a string key the key's
// bytes); these open-addressing tables with linear probing keep the key in
// the slot (fixed-size keys, strings of up to inlineKey bytes; a longer
// string's slot holds its 64-bit hash and its place), so that a hit costs
// one miss (two for a long string: the slot, the key's bytes), and a miss
// usually one. They are filled while an index is built and then only read;
// the large ones ask for huge pages (see hugePages).

// maxLoad: a table grows when more than 3/4 of its slots are used.
const (
	maxLoadNum = 3
	maxLoadDen = 4
	minSlots   = 16
)

// fixedTable maps keys of a fixed size to refs.
type fixedTable[K comparable] struct {
	slots []fixedSlot[K]
	n     int
	seed  uint64
}

type fixedSlot[K comparable] struct {
	k K
	r ref // the ref + 1; 0: the slot is free
}

func newFixedTable[K comparable](seed uint64) *fixedTable[K] {
	return &fixedTable[K]{seed: seed}
}

// hash hashes k's bytes (keys are arrays of bytes or integers: no padding,
// no pointers).
func (t *fixedTable[K]) hash(k *K) uint64 {
	return hashKey(t.seed, unsafe.Slice((*byte)(unsafe.Pointer(k)), unsafe.Sizeof(*k)))
}

// get returns the ref stored for k.
func (t *fixedTable[K]) get(k *K) (ref, bool) {
	if t.n == 0 {
		return 0, false
	}
	mask := uint64(len(t.slots) - 1)
	for i := t.hash(k) & mask; ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.r == 0 {
			return 0, false
		}
		if s.k == *k {
			return s.r - 1, true
		}
	}
}

// put stores r for k with merge (see set.merge), which is given the ref
// already stored, if any.
func (t *fixedTable[K]) put(k *K, merge func(old ref, found bool) (ref, bool)) bool {
	if (t.n+1)*maxLoadDen > len(t.slots)*maxLoadNum {
		t.grow()
	}
	mask := uint64(len(t.slots) - 1)
	for i := t.hash(k) & mask; ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.r == 0 {
			r, _ := merge(0, false)
			s.k, s.r = *k, r+1
			t.n++
			return true
		}
		if s.k == *k {
			r, ok := merge(s.r-1, true)
			if ok {
				s.r = r + 1
			}
			return ok
		}
	}
}

// slotsFor returns the number of slots that hold n keys without growing.
func slotsFor(n int) int {
	size := minSlots
	for n*maxLoadDen > size*maxLoadNum {
		size *= 2
	}
	return size
}

// reserve makes room for n keys in an empty table.
func (t *fixedTable[K]) reserve(n int) {
	if t.n == 0 && slotsFor(n) > len(t.slots) {
		t.slots = make([]fixedSlot[K], slotsFor(n))
		hugePages(t.slots)
	}
}

func (t *fixedTable[K]) grow() {
	old := t.slots
	t.slots = make([]fixedSlot[K], max(minSlots, 2*len(old)))
	hugePages(t.slots)
	mask := uint64(len(t.slots) - 1)
	for _, s := range old {
		if s.r == 0 {
			continue
		}
		i := t.hash(&s.k) & mask
		for t.slots[i].r != 0 {
			i = (i + 1) & mask
		}
		t.slots[i] = s
	}
}

// strTable maps strings to refs. Each slot is one cache line (the slices
// are allocated page-aligned): a key of up to inlineKey bytes is kept in the
// slot itself, so that a hit reads one line; a longer key keeps its 64-bit
// hash and its place in keys in the slot, and is compared there only when
// the hash and the length match.
type strTable struct {
	slots []strSlot
	keys  []byte // the keys longer than inlineKey
	n     int
	seed  maphash.Seed
}

const inlineKey = 56

type strSlot struct {
	r   ref    // the ref + 1; 0: the slot is free
	len uint32 // the key's length
	// key: the key if len <= inlineKey; else its hash (8 bytes, little
	// endian) and its offset in keys (4 bytes).
	key [inlineKey]byte
}

func newStrTable() *strTable {
	return &strTable{seed: maphash.MakeSeed()}
}

// has reports whether s holds k, whose hash is h.
func (t *strTable) has(s *strSlot, k string, h uint64) bool {
	if int(s.len) != len(k) {
		return false
	}
	if len(k) <= inlineKey {
		return unsafeString(s.key[:len(k)]) == k
	}
	if binary.LittleEndian.Uint64(s.key[:8]) != h {
		return false
	}
	off := binary.LittleEndian.Uint32(s.key[8:12])
	return unsafeString(t.keys[off:off+s.len]) == k
}

// keyOf returns the key of slot s.
func (t *strTable) keyOf(s *strSlot) string {
	if s.len <= inlineKey {
		return unsafeString(s.key[:s.len])
	}
	off := binary.LittleEndian.Uint32(s.key[8:12])
	return unsafeString(t.keys[off : off+s.len])
}

// get returns the ref stored for k.
func (t *strTable) get(k string) (ref, bool) {
	if t.n == 0 {
		return 0, false
	}
	h := maphash.String(t.seed, k)
	mask := uint64(len(t.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.r == 0 {
			return 0, false
		}
		if t.has(s, k, h) {
			return s.r - 1, true
		}
	}
}

// put is fixedTable.put for string keys.
func (t *strTable) put(k string, merge func(old ref, found bool) (ref, bool)) bool {
	if (t.n+1)*maxLoadDen > len(t.slots)*maxLoadNum {
		t.grow()
	}
	h := maphash.String(t.seed, k)
	mask := uint64(len(t.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.r == 0 {
			r, _ := merge(0, false)
			*s = strSlot{r: r + 1, len: uint32(len(k))}
			if len(k) <= inlineKey {
				copy(s.key[:], k)
			} else {
				binary.LittleEndian.PutUint64(s.key[:8], h)
				binary.LittleEndian.PutUint32(s.key[8:12], uint32(len(t.keys)))
				t.keys = append(t.keys, k...)
			}
			t.n++
			return true
		}
		if t.has(s, k, h) {
			r, ok := merge(s.r-1, true)
			if ok {
				s.r = r + 1
			}
			return ok
		}
	}
}

// reserve makes room for n keys in an empty table.
func (t *strTable) reserve(n int) {
	if t.n == 0 && slotsFor(n) > len(t.slots) {
		t.slots = make([]strSlot, slotsFor(n))
		hugePages(t.slots)
	}
}

func (t *strTable) grow() {
	old := t.slots
	t.slots = make([]strSlot, max(minSlots, 2*len(old)))
	hugePages(t.slots)
	mask := uint64(len(t.slots) - 1)
	for k := range old {
		s := &old[k]
		if s.r == 0 {
			continue
		}
		h := maphash.String(t.seed, t.keyOf(s))
		if s.len > inlineKey {
			binary.LittleEndian.PutUint64(s.key[:8], h)
		}
		i := h & mask
		for t.slots[i].r != 0 {
			i = (i + 1) & mask
		}
		t.slots[i] = *s
	}
}

// Hash functions of fixed-size keys, seeded so that a feed cannot choose
// keys that collide.

func hashKey(seed uint64, b []byte) uint64 {
	h := seed
	for len(b) >= 8 {
		h = mix(h ^ binary.LittleEndian.Uint64(b))
		b = b[8:]
	}
	if len(b) >= 4 { // SHA-1: 20 bytes; IPv4: 4
		h = mix(h ^ uint64(binary.LittleEndian.Uint32(b)))
	}
	return h
}
