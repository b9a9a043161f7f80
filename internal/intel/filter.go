package intel

import (
	"encoding/binary"
	"hash/maphash"
	"math/bits"
	"sync/atomic"
)

// filter is a blocked Bloom filter over the keys of a set, checked before
// its maps. With a million keys the maps are tens of MiB, so a probe that
// finds nothing (most probes: every parent of a domain, every field of an
// event) costs a cache miss to main memory; the filter, 2 bytes a key, costs
// one cache line that is more likely in cache and answers "not there" for
// all but about 1 in 1,000 such probes. It never answers "not there" for a
// key that is there, so lookups find exactly what the maps hold.
//
// Each kind of key has a filter of its own, sized for its keys: a feed's
// few hundred file names take a kilobyte that stays in the L1 cache, and
// the probe of every path's last element then costs no miss, however many
// addresses the feed also holds.
//
// A filter also remembers the last probes that it answered "not there"
// (neg): a hunt probes the same keys again and again (the parents of
// domains, "com." among them; an address in many events), and a block of a
// large filter, read once in a while, is seldom in any cache, where the
// memo, read all the time, is.
type filter struct {
	kinds [numKinds][][8]uint64 // per key kind, 512-bit blocks, one cache line each
	seed  maphash.Seed
	// neg holds, at slot h%negSlots, a probe of hash h and kind k that
	// was answered "not there", as h with its low bits (the slot's) replaced
	// by k: that identifies h and k exactly, so a hit gives the answer the
	// blocks would (kinds start at 1; an empty slot, 0, matches nothing).
	// Workers share it: slots are read and written whole, atomically.
	neg [negSlots]atomic.Uint64
}

// negSlots is the number of probes a filter remembers (8 KiB).
const negSlots = 1 << 10

// Key kinds, mixed into the hash so the same bytes in two maps differ.
const (
	fkV4 uint64 = iota + 1
	fkV6
	fkDomain
	fkURL
	fkEmail
	fkFile
	fkCVE
	fkMD5
	fkImphash
	fkSHA1
	fkSHA256
	fkSHA512
	fkCIDR4
	numKinds
)

// typeKind is the kind of the key an indicator of each type is indexed by
// (0 for none).
var typeKind = [numTypes]uint64{
	TypeIPv4: fkV4, TypeIPv6: fkV6, TypeCIDR: fkCIDR4, TypeDomain: fkDomain, TypeURL: fkURL,
	TypeEmail: fkEmail, TypeFileName: fkFile, TypeCVE: fkCVE, TypeMD5: fkMD5, TypeImphash: fkImphash,
	TypeSHA1: fkSHA1, TypeSHA256: fkSHA256, TypeSHA512: fkSHA512,
}

const filterBitsPerKey = 16

// newFilter returns a filter for keys[k] keys of each kind k (a kind with
// more is only less selective).
func newFilter(keys [numKinds]int) *filter {
	f := &filter{seed: maphash.MakeSeed()}
	for k, n := range keys {
		f.kinds[k] = make([][8]uint64, max(1, (n*filterBitsPerKey+511)/512))
	}
	return f
}

// The positions: the block from the high half of h, six bits of the block
// from a second mix of h.
func (f *filter) add(kind, h uint64) {
	blocks := f.kinds[kind]
	b := &blocks[(h>>32)*uint64(len(blocks))>>32]
	g := h * 0x9e3779b97f4a7c15
	for i := 0; i < 6; i++ {
		p := g >> (64 - 9)
		b[p/64] |= 1 << (p % 64)
		g = bits.RotateLeft64(g, 9) ^ (g >> 29)
	}
}

func (f *filter) has(kind, h uint64) bool {
	slot, memo := &f.neg[h%negSlots], h&^(negSlots-1)|kind
	if slot.Load() == memo {
		return false
	}
	if !f.blocksHave(kind, h) {
		slot.Store(memo)
		return false
	}
	return true
}

// blocksHave is has without the memo: what the filter's bits answer.
func (f *filter) blocksHave(kind, h uint64) bool {
	blocks := f.kinds[kind]
	b := &blocks[(h>>32)*uint64(len(blocks))>>32]
	g := h * 0x9e3779b97f4a7c15
	for i := 0; i < 6; i++ {
		p := g >> (64 - 9)
		if b[p/64]&(1<<(p%64)) == 0 {
			return false
		}
		g = bits.RotateLeft64(g, 9) ^ (g >> 29)
	}
	return true
}

// mix is a 64-bit finaliser (splitmix64's).
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

func (f *filter) hashString(kind uint64, s string) uint64 {
	return mix(maphash.String(f.seed, s) ^ kind)
}

func (f *filter) hashV4(x uint32) uint64 {
	return mix(uint64(x) | fkV4<<56)
}

// hashCIDR4 hashes a key of set.cidr4 (prefix length<<32 | network).
func (f *filter) hashCIDR4(k uint64) uint64 {
	return mix(k | fkCIDR4<<56)
}

// hashBytes hashes a fixed-size key: a file hash or an IPv6 address.
func (f *filter) hashBytes(kind uint64, b []byte) uint64 {
	var h uint64
	for len(b) >= 8 {
		h = mix(h ^ binary.LittleEndian.Uint64(b))
		b = b[8:]
	}
	for _, c := range b {
		h = h<<8 | uint64(c)
	}
	return mix(h ^ kind<<56)
}
