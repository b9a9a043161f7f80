package intel

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// Detect recognises the type of value from its shape and returns it
// normalised. It accepts what feeds and analysts write: surrounding spaces,
// defanged values (example[.]com, hxxp://, 1.2.3[.]4), an IPv4 address with a
// port (the port is dropped), a /32 or /128 network (an address), a URL without
// a scheme (example.com/gate.php). A value it cannot place has TypeUnknown.
//
// A domain-shaped value whose last label is a common file extension
// (invoice.pdf.exe) is a file name.
func Detect(value string) (Type, string) {
	v := refang(strings.TrimSpace(strings.TrimPrefix(value, "\ufeff")))
	if v == "" {
		return TypeUnknown, ""
	}
	if isCVE(v) {
		return TypeCVE, strings.ToUpper(v)
	}
	if t := hexType(v); t != TypeUnknown {
		return t, strings.ToLower(v)
	}
	if t, n, ok := parseIPish(v); ok {
		return t, n
	}
	if strings.Contains(v, "://") {
		if n, err := NormalizeURL(v); err == nil {
			return TypeURL, n
		}
		return TypeUnknown, v
	}
	if i := strings.IndexByte(v, '@'); i > 0 && strings.IndexByte(v[:i], '/') < 0 {
		if n, err := normalizeEmail(v); err == nil {
			return TypeEmail, n
		}
		return TypeUnknown, v
	}
	if i := strings.IndexByte(v, '/'); i > 0 {
		host := v[:i]
		if j := strings.LastIndexByte(host, ':'); j > 0 && strings.Count(host, ":") == 1 {
			host = host[:j] // example.com:443/path
		}
		if _, _, ok := parseIPish(host); ok || validDomain(strings.ToLower(host)) {
			if n, err := NormalizeURL(v); err == nil {
				return TypeURL, n
			}
		}
		return TypeUnknown, v
	}
	d := strings.TrimSuffix(strings.ToLower(v), ".")
	d = strings.TrimPrefix(d, "*.")
	if validDomain(d) {
		if isFileExt(d[strings.LastIndexByte(d, '.')+1:]) {
			return TypeFileName, d
		}
		return TypeDomain, d
	}
	return TypeUnknown, v
}

// Normalize checks that value is a t and returns it normalised, with the
// type refined from the value's shape where a feed's type is loose (an "ip"
// column holding an IPv6 address or a network).
func Normalize(t Type, value string) (Type, string, error) {
	v := refang(strings.TrimSpace(strings.TrimPrefix(value, "\ufeff")))
	if v == "" {
		return t, "", errors.New("empty value")
	}
	switch t {
	case TypeIPv4, TypeIPv6, TypeCIDR:
		if nt, n, ok := parseIPish(v); ok {
			return nt, n, nil
		}
		return t, "", fmt.Errorf("%q is not an IP address or network", v)
	case TypeDomain:
		d := strings.TrimPrefix(strings.TrimSuffix(strings.ToLower(v), "."), "*.")
		if !validDomain(d) {
			return t, "", fmt.Errorf("%q is not a domain name", v)
		}
		return t, d, nil
	case TypeURL:
		n, err := NormalizeURL(v)
		return t, n, err
	case TypeEmail:
		n, err := normalizeEmail(v)
		return t, n, err
	case TypeMD5, TypeSHA1, TypeSHA256, TypeSHA512, TypeImphash:
		ht := hexType(v)
		want := t
		if t == TypeImphash {
			want = TypeMD5
		}
		if ht != want {
			return t, "", fmt.Errorf("%q is not a %s hash (%d hexadecimal digits expected, got %d characters)", v, t, hexLen(t), len(v))
		}
		return t, strings.ToLower(v), nil
	case TypeFileName:
		n := baseName(v)
		if n == "" {
			return t, "", fmt.Errorf("%q has no file name", v)
		}
		return t, strings.ToLower(n), nil
	case TypeCVE:
		if !isCVE(v) {
			return t, "", fmt.Errorf("%q is not a CVE id (CVE-YYYY-NNNN)", v)
		}
		return t, strings.ToUpper(v), nil
	}
	return t, "", fmt.Errorf("unknown indicator type %d", t)
}

func hexLen(t Type) int {
	switch t {
	case TypeMD5, TypeImphash:
		return 32
	case TypeSHA1:
		return 40
	case TypeSHA256:
		return 64
	case TypeSHA512:
		return 128
	}
	return 0
}

// refang undoes the usual defanging of indicators in reports.
func refang(v string) string {
	if strings.IndexAny(v, "[(") < 0 && !strings.HasPrefix(v, "hxxp") && !strings.HasPrefix(v, "HXXP") {
		return v
	}
	r := strings.NewReplacer("[.]", ".", "(.)", ".", "[dot]", ".", "[:]", ":", "[@]", "@", "[at]", "@", "[://]", "://")
	v = r.Replace(v)
	switch {
	case strings.HasPrefix(v, "hxxp"), strings.HasPrefix(v, "HXXP"):
		v = "http" + v[4:]
	}
	return v
}

func isCVE(v string) bool {
	if len(v) < 13 || v[3] != '-' || v[0]|0x20 != 'c' || !strings.EqualFold(v[:3], "cve") {
		return false
	}
	for i := 4; i < 8; i++ {
		if v[i] < '0' || v[i] > '9' {
			return false
		}
	}
	if v[8] != '-' {
		return false
	}
	for i := 9; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return false
		}
	}
	return len(v)-9 >= 4
}

// hexType returns the hash type a hex string of v's length stands for.
func hexType(v string) Type {
	var t Type
	switch len(v) {
	case 32:
		t = TypeMD5
	case 40:
		t = TypeSHA1
	case 64:
		t = TypeSHA256
	case 128:
		t = TypeSHA512
	default:
		return TypeUnknown
	}
	for i := 0; i < len(v); i++ {
		if unhex(v[i]) > 15 {
			return TypeUnknown
		}
	}
	return t
}

// unhex returns the value of hex digit c, or 255 if c is not one.
func unhex(c byte) byte { return hexValue[c] }

// hexValue is unhex by table: a lookup where the comparisons were branches
// that the digits and letters of a hash kept mispredicting.
var hexValue = func() (t [256]byte) {
	for i := range t {
		switch c := byte(i); {
		case c >= '0' && c <= '9':
			t[i] = c - '0'
		case c >= 'a' && c <= 'f':
			t[i] = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			t[i] = c - 'A' + 10
		default:
			t[i] = 255
		}
	}
	return t
}()

// decodeHex decodes s (of exactly 2*len(dst) hex digits) into dst.
func decodeHex(dst []byte, s string) bool {
	if len(s) != 2*len(dst) {
		return false
	}
	for i := range dst {
		a, b := unhex(s[2*i]), unhex(s[2*i+1])
		if a|b > 15 {
			return false
		}
		dst[i] = a<<4 | b
	}
	return true
}

// parseIPish parses an address, a network, or an address with a port.
func parseIPish(v string) (Type, string, bool) {
	if len(v) == 0 || len(v) > 64 {
		return 0, "", false
	}
	c := v[0]
	if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' || c == ':' || c == '[') {
		return 0, "", false
	}
	if a, err := netip.ParseAddr(v); err == nil && a.Zone() == "" {
		return addrType(a.Unmap())
	}
	if strings.IndexByte(v, '/') > 0 {
		p, err := netip.ParsePrefix(v)
		if err != nil {
			return 0, "", false
		}
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-unmapBits(p.Addr())).Masked()
		if !p.IsValid() {
			return 0, "", false
		}
		if p.IsSingleIP() {
			return addrType(p.Addr())
		}
		return TypeCIDR, p.String(), true
	}
	if ap, err := netip.ParseAddrPort(v); err == nil {
		return addrType(ap.Addr().Unmap())
	}
	return 0, "", false
}

func unmapBits(a netip.Addr) int {
	if a.Is4In6() {
		return 96
	}
	return 0
}

func addrType(a netip.Addr) (Type, string, bool) {
	if a.Is4() {
		return TypeIPv4, a.String(), true
	}
	return TypeIPv6, a.String(), true
}

// validDomain reports whether d (lower case, no trailing dot) is shaped like
// a domain name: two or more labels of letters, digits, '-' and '_' (or
// non-ASCII), and a last label that is not all digits.
func validDomain(d string) bool {
	if len(d) < 3 || len(d) > 253 {
		return false
	}
	labels, start, digitsOnly := 0, 0, true
	for i := 0; i <= len(d); i++ {
		if i == len(d) || d[i] == '.' {
			n := i - start
			if n == 0 || n > 63 {
				return false
			}
			if d[start] == '-' || d[i-1] == '-' {
				return false
			}
			labels++
			if i < len(d) {
				start = i + 1
				digitsOnly = true
			}
			continue
		}
		c := d[i]
		switch {
		case c >= 'a' && c <= 'z', c == '-', c == '_', c >= 0x80:
			digitsOnly = false
		case c >= '0' && c <= '9':
		default:
			return false
		}
	}
	return labels >= 2 && !digitsOnly
}

var fileExts = map[string]bool{
	"exe": true, "dll": true, "sys": true, "scr": true, "bat": true, "cmd": true, "ps1": true,
	"psm1": true, "vbs": true, "vbe": true, "js": true, "jse": true, "wsf": true, "hta": true,
	"lnk": true, "msi": true, "jar": true, "doc": true, "docx": true, "docm": true, "xls": true,
	"xlsx": true, "xlsm": true, "ppt": true, "pptx": true, "pdf": true, "rtf": true, "rar": true,
	"7z": true, "iso": true, "img": true, "tmp": true, "dat": true, "bin": true, "elf": true,
	"apk": true, "dmg": true, "ocx": true, "cpl": true, "inf": true, "txt": true, "log": true,
	"ini": true, "cab": true, "vhd": true, "vhdx": true, "chm": true,
}

func isFileExt(ext string) bool { return fileExts[ext] }

func baseName(p string) string {
	if i := strings.LastIndexAny(p, `/\`); i >= 0 {
		p = p[i+1:]
	}
	return strings.TrimSpace(p)
}

func normalizeEmail(v string) (string, error) {
	v = strings.ToLower(strings.Trim(v, "<> "))
	v = strings.TrimPrefix(v, "mailto:")
	i := strings.LastIndexByte(v, '@')
	if i <= 0 || strings.ContainsAny(v, " \t,;") || !validDomain(strings.TrimSuffix(v[i+1:], ".")) {
		return "", fmt.Errorf("%q is not an e-mail address", v)
	}
	return v, nil
}

// NormalizeURL returns u normalised: scheme and host lower-cased, user
// information, a default port (80, 443, or the scheme's own) and the
// fragment dropped, an empty path written "/". A URL without a scheme
// (example.com/gate.php, as blocklists write them) is accepted and keeps
// none.
func NormalizeURL(u string) (string, error) {
	var b [512]byte
	k, scheme, ok := appendURLKey(b[:0], u)
	if !ok {
		return "", fmt.Errorf("%q is not a URL", u)
	}
	if scheme == "" {
		return string(k), nil
	}
	return strings.ToLower(scheme) + "://" + string(k), nil
}

// appendURLKey appends the index key of URL u to dst: the normalised URL
// without its scheme, so that http://x/a, https://x/a and x/a are one
// indicator. It allocates nothing.
func appendURLKey(dst []byte, u string) ([]byte, string, bool) {
	u = strings.TrimSpace(u)
	scheme := ""
	if i := strings.Index(u, "://"); i >= 0 {
		scheme = u[:i]
		if scheme == "" || !validScheme(scheme) {
			return dst, "", false
		}
		u = u[i+3:]
	}
	end := strings.IndexAny(u, "/?#")
	auth, rest := u, ""
	if end >= 0 {
		auth, rest = u[:end], u[end:]
	}
	if i := strings.LastIndexByte(auth, '@'); i >= 0 {
		auth = auth[i+1:]
	}
	host, port := auth, ""
	if strings.HasPrefix(auth, "[") {
		j := strings.IndexByte(auth, ']')
		if j < 0 {
			return dst, "", false
		}
		host, port = auth[:j+1], auth[j+1:]
	} else if j := strings.LastIndexByte(auth, ':'); j >= 0 {
		host, port = auth[:j], auth[j:]
	}
	host = strings.TrimSuffix(host, ".")
	if host == "" || host[0] != '[' && strings.IndexByte(host, ':') >= 0 {
		return dst, "", false
	}
	for i := 0; i < len(host); i++ {
		c := host[i]
		if c <= ' ' || c == '"' || c == '<' || c == '>' || c == '\\' {
			return dst, "", false
		}
	}
	if port != "" {
		p := port[1:]
		for i := 0; i < len(p); i++ {
			if p[i] < '0' || p[i] > '9' {
				return dst, "", false
			}
		}
		if p == "" || isDefaultPort(scheme, p) {
			port = ""
		}
	}
	dst = appendLower(dst, host)
	dst = append(dst, port...)
	if i := strings.IndexByte(rest, '#'); i >= 0 {
		rest = rest[:i]
	}
	if rest == "" || rest[0] == '?' {
		dst = append(dst, '/')
	}
	rest = strings.TrimSuffix(rest, "?")
	dst = append(dst, rest...)
	return dst, scheme, true
}

func validScheme(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20
		if !(c >= 'a' && c <= 'z' || i > 0 && (s[i] >= '0' && s[i] <= '9' || s[i] == '+' || s[i] == '-' || s[i] == '.')) {
			return false
		}
	}
	return len(s) <= 16
}

func isDefaultPort(scheme, port string) bool {
	switch port {
	case "80", "443":
		switch strings.ToLower(scheme) {
		case "", "http", "https", "hxxp", "hxxps", "ws", "wss":
			return true
		}
	case "21":
		return strings.EqualFold(scheme, "ftp")
	}
	return false
}

// appendLower appends s lower-cased (ASCII) to dst.
func appendLower(dst []byte, s string) []byte {
	for len(s) >= 8 {
		w := binary.LittleEndian.Uint64(unsafeBytes(s))
		dst = binary.LittleEndian.AppendUint64(dst, w|upperBits(w)>>2)
		s = s[8:]
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

// upperBits returns the top bit of each byte of w that is an ASCII upper
// case letter. For a byte b below 0x80, b+0x3f has its top bit set when b
// >= 'A', and b+0x25 when b > 'Z'; adding seven-bit bytes carries into no
// other byte. Shifted right by two, the bits are 0x20: the difference
// between the cases.
func upperBits(w uint64) uint64 {
	const low7, top = 0x7f7f_7f7f_7f7f_7f7f, 0x8080_8080_8080_8080
	b := w & low7
	ge := b + 0x3f3f_3f3f_3f3f_3f3f // top bit: b >= 'A' (0x41)
	gt := b + 0x2525_2525_2525_2525 // top bit: b > 'Z' (0x5a)
	return ge &^ gt &^ w & top
}

func hasUpper(s string) bool {
	for len(s) >= 8 {
		if upperBits(binary.LittleEndian.Uint64(unsafeBytes(s))) != 0 {
			return true
		}
		s = s[8:]
	}
	for i := 0; i < len(s); i++ {
		if s[i] >= 'A' && s[i] <= 'Z' {
			return true
		}
	}
	return false
}
