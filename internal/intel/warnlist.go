package intel

import (
	"encoding/binary"
	"strings"
)

// typeSet is a set of indicator types, one bit per Type.
type typeSet uint32

const allTypes = typeSet(1<<numTypes - 1)

func (s typeSet) has(t Type) bool { return s&(1<<t) != 0 }

// mispAttributeTypes maps the MISP attribute types that warninglists name
// in matching_attributes to the types of value vigil checks against them.
// A composite type (domain|ip, filename|sha256) stands for each part.
var mispAttributeTypes = map[string]typeSet{
	"ip-src": ipTypes, "ip-dst": ipTypes, "ip-src|port": ipTypes, "ip-dst|port": ipTypes,
	"domain|ip": ipTypes | 1<<TypeDomain,
	"domain":    1 << TypeDomain, "hostname": 1 << TypeDomain, "hostname|port": 1 << TypeDomain,
	"url": 1 << TypeURL, "uri": 1 << TypeURL, "link": 1 << TypeURL,
	"email": 1 << TypeEmail, "email-src": 1 << TypeEmail, "email-dst": 1 << TypeEmail,
	"target-email": 1 << TypeEmail, "email-reply-to": 1 << TypeEmail,
	"whois-registrant-email": 1 << TypeEmail, "dns-soa-email": 1 << TypeEmail,
	"md5": 1 << TypeMD5, "filename|md5": 1<<TypeMD5 | 1<<TypeFileName, "x509-fingerprint-md5": 1 << TypeMD5,
	"sha1": 1 << TypeSHA1, "filename|sha1": 1<<TypeSHA1 | 1<<TypeFileName, "x509-fingerprint-sha1": 1 << TypeSHA1,
	"sha256": 1 << TypeSHA256, "filename|sha256": 1<<TypeSHA256 | 1<<TypeFileName, "x509-fingerprint-sha256": 1 << TypeSHA256,
	"sha512": 1 << TypeSHA512, "filename|sha512": 1<<TypeSHA512 | 1<<TypeFileName,
	"imphash": 1 << TypeImphash, "filename|imphash": 1<<TypeImphash | 1<<TypeFileName,
	"filename":      1 << TypeFileName,
	"vulnerability": 1 << TypeCVE,
}

const ipTypes = typeSet(1<<TypeIPv4 | 1<<TypeIPv6 | 1<<TypeCIDR)

// attributeTypes returns the types of value a warninglist with these
// matching_attributes applies to: every type when it names none, no type
// when it names only attributes vigil never matches (phone numbers, ssdeep
// hashes).
func attributeTypes(attrs []string) typeSet {
	if len(attrs) == 0 {
		return allTypes
	}
	var s typeSet
	for _, a := range attrs {
		s |= mispAttributeTypes[strings.ToLower(strings.TrimSpace(a))]
	}
	return s
}

// substrIndex finds which entries of the substring warninglists a value
// contains, without comparing every entry (MISP's disposable-email list
// alone has 8,000): entries of four bytes or more are found by their first
// four bytes, looked up at each position of the value (a bit set of those
// four-byte keys passes by most positions with one load), shorter ones
// are compared at each position.
type substrIndex struct {
	n     int                  // entries
	heads map[uint32][]int32   // first four bytes -> entries of long
	bits  [1 << 16 / 64]uint64 // gramBit of every key of heads
	long  []warnEntry
	short []warnEntry // fewer than four bytes
}

type warnEntry struct {
	s    string
	list uint16
}

// gramBit is where the four bytes g are in substrIndex.bits.
func gramBit(g uint32) uint32 { return (g * 0x9e3779b1) >> 16 }

func (x *substrIndex) add(s string, list uint16) {
	if s == "" {
		return
	}
	x.n++
	if len(s) < 4 {
		x.short = append(x.short, warnEntry{s, list})
		return
	}
	if x.heads == nil {
		x.heads = map[uint32][]int32{}
	}
	g := binary.LittleEndian.Uint32([]byte(s[:4]))
	x.heads[g] = append(x.heads[g], int32(len(x.long)))
	x.long = append(x.long, warnEntry{s, list})
	b := gramBit(g)
	x.bits[b/64] |= 1 << (b % 64)
}

// each calls fn with the list of every entry that v contains (as often
// as v contains it: fn keeps each list once).
func (x *substrIndex) each(v string, fn func(list uint16)) {
	for _, e := range x.short {
		if strings.Contains(v, e.s) {
			fn(e.list)
		}
	}
	if len(v) < 4 || len(x.long) == 0 {
		return
	}
	b := unsafeBytes(v)
	for i := 0; i+4 <= len(b); i++ {
		g := binary.LittleEndian.Uint32(b[i:])
		if k := gramBit(g); x.bits[k/64]&(1<<(k%64)) == 0 {
			continue
		}
		for _, j := range x.heads[g] {
			if e := &x.long[j]; strings.HasPrefix(v[i:], e.s) {
				fn(e.list)
			}
		}
	}
}
