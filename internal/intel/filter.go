package intel

import (
	"encoding/binary"
	"hash/maphash"
	"math/bits"
)

// filter is a blocked Bloom filter over the keys of a set, checked before
// its maps. With a million keys the maps are tens of MiB, so a probe that
// finds nothing (most probes: every parent of a domain, every field of an
// event) costs a cache miss to main memory; the filter, 2 bytes a key, costs
// one cache line that is more likely in cache and answers "not there" for
// all but about 1 in 1,000 such probes. It never answers "not there" for a
// key that is there, so lookups find exactly what the maps hold.
type filter struct {
	blocks [][8]uint64 // 512 bits, one cache line each
	seed   maphash.Seed
}

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
)

const filterBitsPerKey = 16

func newFilter(keys int) *filter {
	n := max(1, (keys*filterBitsPerKey+511)/512)
	return &filter{blocks: make([][8]uint64, n), seed: maphash.MakeSeed()}
}

// The positions: the block from the high half of h, six bits of the block
// from a second mix of h.
func (f *filter) add(h uint64) {
	b := &f.blocks[(h>>32)*uint64(len(f.blocks))>>32]
	g := h * 0x9e3779b97f4a7c15
	for i := 0; i < 6; i++ {
		p := g >> (64 - 9)
		b[p/64] |= 1 << (p % 64)
		g = bits.RotateLeft64(g, 9) ^ (g >> 29)
	}
}

func (f *filter) has(h uint64) bool {
	b := &f.blocks[(h>>32)*uint64(len(f.blocks))>>32]
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
