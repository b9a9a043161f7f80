package sigma

import (
	"encoding/base64"
	"fmt"
	"net/netip"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// This file holds the value transformations of the modifiers appendix as
// pure functions. They define the semantics; the compiler in internal/detect
// applies them, the parser only uses them to validate.

// Base64 encodes b with standard padded Base64 (the base64 modifier).
func Base64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// Base64Offset returns the three forms b takes inside a longer Base64 text,
// for the three byte offsets 0, 1 and 2 at which b may start (the
// base64offset modifier). For offset i the input is prefixed with i bytes;
// the leading characters that depend on those prefix bytes and the trailing
// characters that depend on the bytes following b are cut, exactly as the
// reference implementation (pySigma) does: start cuts (0, 2, 3) by offset and
// end cuts (none, 3, 2) indexed by (len(b)+offset) mod 3.
func Base64Offset(b []byte) [3]string {
	startCut := [3]int{0, 2, 3}
	endCut := [3]int{0, 3, 2}
	var out [3]string
	for i := range 3 {
		buf := make([]byte, i+len(b))
		for j := range i {
			buf[j] = ' '
		}
		copy(buf[i:], b)
		enc := base64.StdEncoding.EncodeToString(buf)
		lo, hi := startCut[i], len(enc)-endCut[(len(b)+i)%3]
		if lo > hi {
			lo = hi
		}
		out[i] = enc[lo:hi]
	}
	return out
}

// UTF16LE encodes s as UTF-16 little endian without a byte order mark
// (the utf16le and wide modifiers): "cmd" -> 63 00 6d 00 64 00.
func UTF16LE(s string) []byte {
	u := utf16.Encode([]rune(s))
	out := make([]byte, 0, 2*len(u))
	for _, c := range u {
		out = append(out, byte(c), byte(c>>8))
	}
	return out
}

// UTF16BE encodes s as UTF-16 big endian without a byte order mark
// (the utf16be modifier): "cmd" -> 00 63 00 6d 00 64.
func UTF16BE(s string) []byte {
	u := utf16.Encode([]rune(s))
	out := make([]byte, 0, 2*len(u))
	for _, c := range u {
		out = append(out, byte(c>>8), byte(c))
	}
	return out
}

// UTF16 encodes s as UTF-16 little endian preceded by the byte order mark
// FF FE (the utf16 modifier): "cmd" -> ff fe 63 00 6d 00 64 00.
func UTF16(s string) []byte { return append([]byte{0xff, 0xfe}, UTF16LE(s)...) }

// Wide is an alias of UTF16LE (the wide modifier).
func Wide(s string) []byte { return UTF16LE(s) }

// WindashChars are the characters the windash modifier substitutes for one
// another, in the order their variants are generated.
const WindashChars = "-/\u2013\u2014\u2015" // '-', '/', en dash, em dash, horizontal bar

func isWindash(r rune) bool { return strings.ContainsRune(WindashChars, r) }

func isWordRune(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) }

// windashPositions returns the byte offsets of the characters of s that the
// windash modifier varies: a dash-like character that is not preceded by a
// word character and is followed by one (a command line flag such as "-x" or
// "/x"; pySigma's \B[-/]\b, extended to the five characters of the appendix).
func windashPositions(s string) []int {
	var pos []int
	prevWord := false
	for i, r := range s {
		if isWindash(r) && !prevWord {
			next, _ := utf8.DecodeRuneInString(s[i+utf8.RuneLen(r):])
			if i+utf8.RuneLen(r) < len(s) && isWordRune(next) {
				pos = append(pos, i)
			}
		}
		prevWord = isWordRune(r)
	}
	return pos
}

// WindashCount returns how many variants Windash(s) yields (5^n for n flag
// characters), without building them. It saturates at max.
func WindashCount(s string, limit int) int {
	n := 1
	for range windashPositions(s) {
		n *= len([]rune(WindashChars))
		if n > limit {
			return limit + 1
		}
	}
	return n
}

// Windash returns every variant of s in which each flag character ('-', '/',
// en dash, em dash or horizontal bar before a word character at a word
// start) is replaced by each of the five, in the order of WindashChars with
// the first position varying slowest. The first variant has every flag
// written with '-'. A string without flags yields itself.
func Windash(s string) []string {
	pos := windashPositions(s)
	if len(pos) == 0 {
		return []string{s}
	}
	chars := []rune(WindashChars)
	// Split s into the literal runs around the flag characters.
	parts := make([]string, 0, len(pos)+1)
	last := 0
	for _, p := range pos {
		parts = append(parts, s[last:p])
		_, w := utf8.DecodeRuneInString(s[p:])
		last = p + w
	}
	parts = append(parts, s[last:])
	total := 1
	for range pos {
		total *= len(chars)
	}
	out := make([]string, 0, total)
	idx := make([]int, len(pos))
	for range total {
		var b strings.Builder
		for k, part := range parts {
			b.WriteString(part)
			if k < len(idx) {
				b.WriteRune(chars[idx[k]])
			}
		}
		out = append(out, b.String())
		for k := len(idx) - 1; k >= 0; k-- {
			idx[k]++
			if idx[k] < len(chars) {
				break
			}
			idx[k] = 0
		}
	}
	return out
}

// WindashPattern applies Windash to each literal piece of p independently
// (wildcards and placeholders are kept) and returns every combination, the
// first piece varying slowest.
func WindashPattern(p Pattern) []Pattern {
	out := []Pattern{nil}
	for _, pc := range p {
		variants := []Piece{pc}
		if pc.Kind == Literal {
			vs := Windash(pc.Text)
			variants = make([]Piece, len(vs))
			for i, v := range vs {
				variants[i] = Piece{Kind: Literal, Text: v}
			}
		}
		next := make([]Pattern, 0, len(out)*len(variants))
		for _, prefix := range out {
			for _, v := range variants {
				q := make(Pattern, len(prefix), len(prefix)+1)
				copy(q, prefix)
				next = append(next, append(q, v))
			}
		}
		out = next
	}
	return out
}

// ParseCIDR parses the value of a cidr modifier: an IPv4 or IPv6 prefix in
// CIDR notation ("10.0.0.0/8", "fe80::/10"). A bare address is taken as a
// host prefix (/32 or /128). Host bits set beyond the prefix are an error,
// as in Python's ipaddress module that pySigma uses.
func ParseCIDR(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("invalid cidr %q: not an ip address or prefix", s)
		}
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("invalid cidr %q: %s", s, strings.TrimPrefix(err.Error(), "netip.ParsePrefix("+fmt.Sprintf("%q", s)+"): "))
	}
	if p.Addr().Is4In6() {
		return netip.Prefix{}, fmt.Errorf("invalid cidr %q: ipv4-mapped ipv6 prefix", s)
	}
	if m := p.Masked(); m != p {
		return netip.Prefix{}, fmt.Errorf("invalid cidr %q: host bits set (did you mean %q?)", s, m.String())
	}
	return p, nil
}
