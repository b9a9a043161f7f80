package intel

import (
	"net/netip"
	"strings"
)

// The fast paths of Lookup and MatchEvent: one pass over the value's bytes
// through a class table tells what it can be, addresses are parsed by hand
// into their integer, lower-cased keys are built in a stack buffer and
// maps are probed with strings that view it. Nothing here allocates.

// Byte classes.
const (
	clDigit uint8 = 1 << iota // 0-9
	clHex                     // a-f A-F
	clAlpha                   // g-z G-Z
	clUpper                   // A-Z
	clDot                     // .
	clColon                   // :
	clDash                    // - _
	clOther                   // anything else: / @ [ ( space, non-ASCII, …
)

var byteClass = func() (t [256]uint8) {
	for i := range t {
		t[i] = clOther
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = clDigit
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = clAlpha
		t[c-'a'+'A'] = clAlpha | clUpper
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c] = clHex
		t[c-'a'+'A'] = clHex | clUpper
	}
	t['.'], t[':'], t['-'], t['_'] = clDot, clColon, clDash, clDash
	return t
}()

// classes returns the union of the classes of v's bytes, and the index of
// the first byte of class clOther (len(v) if none). It stops there.
func classes(v string) (uint8, int) {
	var or uint8
	for i := 0; i < len(v); i++ {
		c := byteClass[v[i]]
		if c&clOther != 0 {
			return or | c, i
		}
		or |= c
	}
	return or, len(v)
}

// parseIPv4 parses a dotted-quad IPv4 address as netip does (no leading
// zeros, four parts of at most 255).
func parseIPv4(s string) (uint32, bool) {
	if len(s) < 7 || len(s) > 15 {
		return 0, false
	}
	var x uint32
	parts, val, digits := 0, 0, 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '.' {
			if digits == 0 || parts == 4 {
				return 0, false
			}
			x = x<<8 | uint32(val)
			parts++
			val, digits = 0, 0
			continue
		}
		c := s[i]
		if c < '0' || c > '9' || digits > 0 && val == 0 {
			return 0, false
		}
		val = val*10 + int(c-'0')
		digits++
		if val > 255 {
			return 0, false
		}
	}
	return x, parts == 4
}

// appendV4 finds IPv4 address x and the networks that contain it.
func (s *set) appendV4(dst []ref, x uint32) []ref {
	if s.filt == nil || s.filt.has(fkV4, s.filt.hashV4(x)) {
		if r, ok := s.v4.get(&x); ok {
			dst = append(dst, r)
		}
	}
	if s.cover4 == nil || s.cover4[x>>22]&(1<<(x>>16%64)) == 0 || s.cover24[x>>14]&(1<<(x>>8%64)) == 0 {
		return dst
	}
	for _, bits := range s.lens4 {
		mask := uint32(0)
		if bits > 0 {
			mask = ^uint32(0) << (32 - bits)
		}
		k := uint64(bits)<<32 | uint64(x&mask)
		if s.filt != nil && !s.filt.has(fkCIDR4, s.filt.hashCIDR4(k)) {
			continue
		}
		if r, ok := s.cidr4[k]; ok {
			dst = append(dst, r)
		}
	}
	return dst
}

// addrPort finds the address of v, which is an address or an address with
// a port (1.2.3.4:443, [2001:db8::1]:443), and returns the address as
// written. ok is false if v is neither.
func (s *set) addrPort(dst []ref, v string) ([]ref, string, bool) {
	if x, ok := parseIPv4(v); ok {
		return s.appendV4(dst, x), v, true
	}
	if a, err := netip.ParseAddr(v); err == nil {
		if a.Zone() != "" {
			return dst, "", false
		}
		return s.appendAddr(dst, a), v, true
	}
	host := ""
	if v[0] == '[' {
		j := strings.Index(v, "]:")
		if j < 0 {
			return dst, "", false
		}
		host, v = v[1:j], v[j+2:]
	} else {
		j := strings.LastIndexByte(v, ':')
		if j < 0 || strings.IndexByte(v[:j], ':') >= 0 {
			return dst, "", false
		}
		host, v = v[:j], v[j+1:]
	}
	if len(v) == 0 || len(v) > 5 {
		return dst, "", false
	}
	port := 0
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return dst, "", false
		}
		port = port*10 + int(v[i]-'0')
	}
	if port > 65535 {
		return dst, "", false
	}
	if x, ok := parseIPv4(host); ok {
		return s.appendV4(dst, x), host, true
	}
	if a, err := netip.ParseAddr(host); err == nil && a.Zone() == "" {
		return s.appendAddr(dst, a), host, true
	}
	return dst, "", false
}

// appendHostURL finds the URL indicators that name only host (lower
// case), without a path: feeds type bare domains and addresses as URLs
// (MISP url attributes, STIX url:value), and the index keeps them as the
// URL "host/".
func (s *set) appendHostURL(dst []ref, host string) []ref {
	if s.hostURLs == 0 || len(host) >= 256 {
		return dst
	}
	var b [256]byte
	k := append(append(b[:0], host...), '/')
	return s.appendStr(dst, fkURL, unsafeString(k))
}

// appendHashHex finds a hash given as hex of a hash's length, as
// recognised by hexType: an MD5-sized value is looked up as MD5 and as
// imphash.
func (s *set) appendHashHex(dst []ref, t Type, v string) []ref {
	if t == TypeMD5 {
		dst = s.appendHex(dst, TypeImphash, v)
	}
	return s.appendHex(dst, t, v)
}

// hashLen returns the hash type of hex digits of length n.
func hashLen(n int) Type {
	switch n {
	case 32:
		return TypeMD5
	case 40:
		return TypeSHA1
	case 64:
		return TypeSHA256
	case 128:
		return TypeSHA512
	}
	return TypeUnknown
}

// fastRefs finds the refs for value as Lookup does, for the shapes that
// matter for speed: hashes, IPv4 and IPv6 addresses, domain names and file
// names, URLs with a scheme, CVE ids. ok is false for every other value
// (defanged, padded, e-mail addresses, networks, host/path URLs, ports…),
// which takes the general path (Detect). The type is Detect's.
func (s *set) fastRefs(dst []ref, value string) (Type, []ref, bool) {
	n := len(value)
	if n < 3 || n > 253 {
		return TypeUnknown, dst, false
	}
	if value[0] <= ' ' || value[0] >= 0x80 || value[n-1] <= ' ' || value[n-1] >= 0x80 {
		return TypeUnknown, dst, false
	}
	cls, other := classes(value)
	if other < n {
		// A URL with a scheme, not defanged.
		i := strings.Index(value, "://")
		if i <= 0 || strings.IndexAny(value, "[(") >= 0 || value[0] == 'h' && strings.HasPrefix(value, "hxxp") || value[0] == 'H' && strings.HasPrefix(value, "HXXP") {
			return TypeUnknown, dst, false
		}
		var buf [512]byte
		k, _, ok := appendURLKey(buf[:0], value)
		if !ok {
			return TypeUnknown, dst, false
		}
		return TypeURL, s.appendStr(dst, fkURL, unsafeString(k)), true
	}
	if (value[0]|0x20) == 'c' && isCVE(value) {
		var buf [64]byte
		return TypeCVE, s.appendStr(dst, fkCVE, upperBuf(buf[:0], value)), true
	}
	if cls&^(clDigit|clHex|clUpper) == 0 {
		if t := hashLen(n); t != TypeUnknown {
			return t, s.appendHashHex(dst, t, value), true
		}
	}
	if cls&^(clDigit|clDot) == 0 {
		x, ok := parseIPv4(value)
		if !ok {
			return TypeUnknown, dst, false
		}
		return TypeIPv4, s.appendHostURL(s.appendV4(dst, x), value), true
	}
	if cls&clColon != 0 {
		if cls&^(clDigit|clHex|clUpper|clDot|clColon) != 0 {
			return TypeUnknown, dst, false
		}
		a, err := netip.ParseAddr(value)
		if err != nil || a.Zone() != "" {
			return TypeUnknown, dst, false
		}
		a = a.Unmap()
		t := TypeIPv6
		if a.Is4() {
			t = TypeIPv4
		}
		return t, s.appendAddr(dst, a), true
	}
	// Letters, digits, dots, '-' and '_': a domain or a file name.
	var buf [256]byte
	d := value
	if cls&clUpper != 0 {
		d = unsafeString(appendLower(buf[:0], value))
	}
	d = strings.TrimSuffix(d, ".")
	if !validDomainLDH(d) {
		return TypeUnknown, dst, false
	}
	t := TypeDomain
	if fileExts[d[strings.LastIndexByte(d, '.')+1:]] {
		t = TypeFileName
	}
	dst = s.appendDomain(dst, d)
	dst = s.appendHostURL(dst, d)
	if s.files.n > 0 {
		dst = s.appendStr(dst, fkFile, d)
	}
	return t, dst, true
}

// validDomainOf is validDomain(d), or validDomainLDH(d) if the caller
// knows that d is ASCII (its bytes are letters, digits, '.', '-', '_').
func validDomainOf(d string, ascii bool) bool {
	if ascii {
		return validDomainLDH(d)
	}
	return validDomain(d)
}

// validDomainLDH is validDomain for a value made only of ASCII letters,
// digits, '.', '-' and '_' (as classes found it): only the labels' lengths
// and ends and the last label's digits need checking, which it does
// without a branch per byte on the byte's kind (the letters and digits of
// random-looking names made validDomain mispredict most of its branches).
func validDomainLDH(d string) bool {
	if len(d) < 3 || len(d) > 253 {
		return false
	}
	labels := 0
	for rest := d; ; {
		n := strings.IndexByte(rest, '.')
		last := n < 0
		if last {
			n = len(rest)
		}
		if n == 0 || n > 63 || rest[0] == '-' || rest[n-1] == '-' {
			return false
		}
		labels++
		if last {
			// The last label must not be only digits.
			for i := 0; i < n; i++ {
				if rest[i] < '0' || rest[i] > '9' {
					return labels >= 2
				}
			}
			return false
		}
		rest = rest[n+1:]
	}
}
