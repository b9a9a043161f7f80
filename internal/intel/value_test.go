package intel

import (
	"bytes"
	"encoding/hex"
	"slices"
	"strings"
	"testing"
)

func TestDetect(t *testing.T) {
	for _, c := range []struct {
		in   string
		typ  Type
		norm string
	}{
		{"1.2.3.4", TypeIPv4, "1.2.3.4"},
		{" 172.93.201.253 ", TypeIPv4, "172.93.201.253"},
		{"66.210.228.178:443", TypeIPv4, "66.210.228.178"},
		{"1.2.3[.]4", TypeIPv4, "1.2.3.4"},
		{"::ffff:1.2.3.4", TypeIPv4, "1.2.3.4"},
		{"2001:DB8::1", TypeIPv6, "2001:db8::1"},
		{"[2001:db8::1]:443", TypeIPv6, "2001:db8::1"},
		{"10.0.0.0/8", TypeCIDR, "10.0.0.0/8"},
		{"10.1.2.3/8", TypeCIDR, "10.0.0.0/8"},
		{"198.51.100.1/32", TypeIPv4, "198.51.100.1"},
		{"2001:db8::/32", TypeCIDR, "2001:db8::/32"},
		{"Evil.COM.", TypeDomain, "evil.com"},
		{"example[.]com", TypeDomain, "example.com"},
		{"*.evil.com", TypeDomain, "evil.com"},
		{"xn--80ak6aa92e.com", TypeDomain, "xn--80ak6aa92e.com"},
		{"invoice.pdf.exe", TypeFileName, "invoice.pdf.exe"},
		{"HTTP://Evil.COM:80/a/B?x=1#frag", TypeURL, "http://evil.com/a/B?x=1"},
		{"https://evil.com:443", TypeURL, "https://evil.com/"},
		{"https://evil.com:8443/x", TypeURL, "https://evil.com:8443/x"},
		{"hxxps://evil[.]com/x", TypeURL, "https://evil.com/x"},
		{"example.com/gate.php", TypeURL, "example.com/gate.php"},
		{"newidealupvc.com:443/img/x.php", TypeURL, "newidealupvc.com/img/x.php"},
		{"eznetb.synology.me/@eaDir/x/", TypeURL, "eznetb.synology.me/@eaDir/x/"},
		{"Bad.Guy@Evil.com", TypeEmail, "bad.guy@evil.com"},
		{"bad[@]evil[.]com", TypeEmail, "bad@evil.com"},
		{"D41D8CD98F00B204E9800998ECF8427E", TypeMD5, "d41d8cd98f00b204e9800998ecf8427e"},
		{"da39a3ee5e6b4b0d3255bfef95601890afd80709", TypeSHA1, "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
		{"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", TypeSHA256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{"cve-2021-44228", TypeCVE, "CVE-2021-44228"},
		{"f0295f2e46cebffaf7892a5b33ba54122781c20bs", TypeUnknown, ""},
		{"/wp-admin/x.php", TypeUnknown, ""},
		{"abased", TypeUnknown, ""},
		{"118.0/24", TypeUnknown, ""},
		{"1.2.3.4.5", TypeUnknown, ""},
		{"", TypeUnknown, ""},
	} {
		typ, norm := Detect(c.in)
		if typ != c.typ || (c.norm != "" && norm != c.norm) {
			t.Errorf("Detect(%q) = %s %q, want %s %q", c.in, typ, norm, c.typ, c.norm)
		}
	}
}

func TestNormalize(t *testing.T) {
	for _, c := range []struct {
		typ  Type
		in   string
		out  Type
		norm string
		err  string
	}{
		{TypeIPv4, "2001:db8::1", TypeIPv6, "2001:db8::1", ""},
		{TypeIPv4, "10.0.0.0/8", TypeCIDR, "10.0.0.0/8", ""},
		{TypeIPv4, "evil.com", TypeIPv4, "", `"evil.com" is not an IP address or network`},
		{TypeSHA256, "abc", TypeSHA256, "", `"abc" is not a sha256 hash (64 hexadecimal digits expected, got 3 characters)`},
		{TypeImphash, "F34D5F2D4577ED6D9CEEC516C1F5A744", TypeImphash, "f34d5f2d4577ed6d9ceec516c1f5a744", ""},
		{TypeFileName, `C:\Windows\Temp\EVIL.exe`, TypeFileName, "evil.exe", ""},
		{TypeDomain, "not a domain", TypeDomain, "", `"not a domain" is not a domain name`},
		{TypeURL, "evil.com", TypeURL, "evil.com/", ""},
		{TypeCVE, "CVE-21-1", TypeCVE, "", `"CVE-21-1" is not a CVE id (CVE-YYYY-NNNN)`},
	} {
		out, norm, err := Normalize(c.typ, c.in)
		if c.err != "" {
			if err == nil || err.Error() != c.err {
				t.Errorf("Normalize(%s, %q): err %v, want %s", c.typ, c.in, err, c.err)
			}
			continue
		}
		if err != nil || out != c.out || norm != c.norm {
			t.Errorf("Normalize(%s, %q) = %s %q %v, want %s %q", c.typ, c.in, out, norm, err, c.out, c.norm)
		}
	}
}

// TestDecodeHex compares decodeHex with encoding/hex for every byte value at
// every position of 8- to 64-digit strings, in upper and lower case.
func TestDecodeHex(t *testing.T) {
	for _, n := range []int{4, 5, 8, 16, 20, 32} {
		base := []byte(strings.Repeat("0123456789abcdefABCDEF", 6)[:2*n])
		for pos := range base {
			for c := 0; c < 256; c++ {
				s := slices.Clone(base)
				s[pos] = byte(c)
				want, err := hex.DecodeString(string(s))
				got := make([]byte, n)
				ok := decodeHex(got, string(s))
				if ok != (err == nil) || ok && !bytes.Equal(got, want) {
					t.Fatalf("decodeHex(%q) = %x, %v; encoding/hex: %x, %v", s, got, ok, want, err)
				}
			}
		}
	}
}
