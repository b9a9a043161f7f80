package sigma

import (
	"encoding/hex"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

func TestBase64(t *testing.T) {
	if got := Base64([]byte("cmd")); got != "Y21k" {
		t.Errorf("Base64(cmd) = %q", got)
	}
	// utf16 chained before base64, as in field|utf16|base64.
	if got := Base64(UTF16("cmd")); got != "//5jAG0AZAA=" {
		t.Errorf("Base64(UTF16(cmd)) = %q", got)
	}
	if got := Base64(UTF16BE("cmd")); got != "AGMAbQBk" {
		t.Errorf("Base64(UTF16BE(cmd)) = %q", got)
	}
}

// The expected values were worked out by hand from the three shifted
// encodings (and agree with pySigma's base64offset).
func TestBase64Offset(t *testing.T) {
	for _, tc := range []struct {
		in   []byte
		want [3]string
	}{
		{[]byte("IEX ("), [3]string{"SUVYIC", "lFWCAo", "JRVggK"}},
		{[]byte("http://"), [3]string{"aHR0cDovL", "h0dHA6Ly", "odHRwOi8v"}},
		{UTF16LE("cmd"), [3]string{"YwBtAGQA", "MAbQBkA", "jAG0AZA"}},
		{Wide("cmd"), [3]string{"YwBtAGQA", "MAbQBkA", "jAG0AZA"}},
		{[]byte("a"), [3]string{"Y", "", "h"}},
		{[]byte("ab"), [3]string{"YW", "Fi", "hY"}},
		{nil, [3]string{"", "", ""}},
	} {
		if got := Base64Offset(tc.in); got != tc.want {
			t.Errorf("Base64Offset(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestUTF16(t *testing.T) {
	for _, tc := range []struct {
		name string
		fn   func(string) []byte
		in   string
		want string
	}{
		{"utf16le", UTF16LE, "cmd", "63006d006400"},
		{"wide", Wide, "cmd", "63006d006400"},
		{"utf16be", UTF16BE, "cmd", "0063006d0064"},
		{"utf16", UTF16, "cmd", "fffe63006d006400"},
		{"utf16le non-bmp", UTF16LE, "\U0001F600", "3dd800de"},
		{"utf16be accent", UTF16BE, "é", "00e9"},
		{"utf16 empty", UTF16, "", "fffe"},
	} {
		if got := hex.EncodeToString(tc.fn(tc.in)); got != tc.want {
			t.Errorf("%s(%q) = %s, want %s", tc.name, tc.in, got, tc.want)
		}
	}
}

func TestWindash(t *testing.T) {
	all5 := func(prefix, suffix string) []string {
		var out []string
		for _, c := range []string{"-", "/", "–", "—", "―"} {
			out = append(out, prefix+c+suffix)
		}
		return out
	}
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"-enc", all5("", "enc")},
		{" /c ", all5(" ", "c ")},
		{"–x", all5("", "x")},      // an en dash is varied too
		{"a-b", []string{"a-b"}},   // inside a word: not a flag
		{"-- x", []string{"-- x"}}, // not followed by a word character
		{"end-", []string{"end-"}}, // at the end
		{"path/to", []string{"path/to"}},
		{"", []string{""}},
	} {
		if got := Windash(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Windash(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	two := Windash("-a /b")
	if len(two) != 25 || two[0] != "-a -b" || two[1] != "-a /b" || two[5] != "/a -b" || two[24] != "―a ―b" {
		t.Errorf("Windash two flags: %d variants, %q", len(two), two)
	}
	if n := WindashCount("-a -b -c", 1000); n != 125 {
		t.Errorf("WindashCount = %d", n)
	}
	if n := WindashCount(strings.Repeat(" -a", 20), 1000); n != 1001 {
		t.Errorf("WindashCount saturation = %d", n)
	}
	ps := WindashPattern(ParsePattern("* -x*", false))
	if len(ps) != 5 || ps[1].String() != "* /x*" {
		t.Errorf("WindashPattern = %v", ps)
	}
}

func TestParseCIDR(t *testing.T) {
	for _, tc := range []struct {
		in, want, err string
	}{
		{"10.0.0.0/8", "10.0.0.0/8", ""},
		{"192.168.1.7", "192.168.1.7/32", ""},
		{"fe80::/10", "fe80::/10", ""},
		{"2001:db8::1", "2001:db8::1/128", ""},
		{" 172.16.0.0/12 ", "172.16.0.0/12", ""},
		{"10.0.0.1/8", "", `host bits set (did you mean "10.0.0.0/8"?)`},
		{"10.0.0.0/33", "", "invalid cidr"},
		{"::ffff:10.0.0.0/104", "", "ipv4-mapped"},
		{"nope", "", "not an ip address"},
	} {
		p, err := ParseCIDR(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseCIDR(%q) err = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || p != netip.MustParsePrefix(tc.want) {
			t.Errorf("ParseCIDR(%q) = %v, %v, want %s", tc.in, p, err, tc.want)
		}
	}
}

func TestParsePattern(t *testing.T) {
	for _, tc := range []struct {
		in     string
		expand bool
		want   string // dumpPattern rendering
	}{
		{`plain`, false, `["plain"]`},
		{`a*b?c`, false, `["a" * "b" ? "c"]`},
		{`\*`, false, `["*"]`},
		{`\?`, false, `["?"]`},
		{`C:\Windows\`, false, `["C:\\Windows\\"]`},  // backslash before a normal char or at the end stays
		{`\\*`, false, `["\\" *]`},                   // escaped backslash, then wildcard
		{`\\\*`, false, `["\\*"]`},                   // backslash and star, both plain
		{`\\\\`, false, `["\\\\"]`},                  // four backslashes: two
		{`\\\`, false, `["\\\\"]`},                   // three backslashes: two
		{`%name%`, false, `["%name%"]`},              // no placeholder without expand
		{`%name%`, true, `[%name%]`},                 // placeholder
		{`\%plain%name%`, true, `["%plain" %name%]`}, // escaped percent
		{`a%lonely`, true, `["a%lonely"]`},           // unclosed percent is literal
		{`*%Servers%*`, true, `[* %Servers% *]`},
	} {
		if got := dumpPattern(ParsePattern(tc.in, tc.expand)); got != tc.want {
			t.Errorf("ParsePattern(%q, %v) = %s, want %s", tc.in, tc.expand, got, tc.want)
		}
	}
	// String re-escapes so that parsing it again gives the same pattern.
	for _, s := range []string{`a\*b`, `C:\x\`, `\\*`, `x?y*`, `\\\\`} {
		p := ParsePattern(s, false)
		if q := ParsePattern(p.String(), false); !reflect.DeepEqual(p, q) {
			t.Errorf("round trip %q: %v -> %q -> %v", s, p, p.String(), q)
		}
	}
}

func TestModifierTable(t *testing.T) {
	for _, name := range ModifierNames() {
		if m := LookupModifier(name); m == ModInvalid || m.String() != name {
			t.Errorf("LookupModifier(%q) = %v", name, m)
		}
	}
	if LookupModifier("ignorecase") != ModReI || LookupModifier("Contains") != ModInvalid {
		t.Error("aliases or case sensitivity wrong")
	}
	if got := RegexpFlags(Modifiers{ModRe, ModReS, ModReI}); got != "(?is)" {
		t.Errorf("RegexpFlags = %q", got)
	}
}

func TestParseTimespan(t *testing.T) {
	for in, want := range map[string]string{"5m": "5m0s", "1h": "1h0m0s", "90s": "1m30s", "1d": "24h0m0s", "2w": "336h0m0s"} {
		d, err := ParseTimespan(in)
		if err != nil || d.String() != want {
			t.Errorf("ParseTimespan(%q) = %v, %v", in, d, err)
		}
	}
	for _, in := range []string{"", "5", "m", "0m", "-5m", "5 m", "5y", "1.5h"} {
		if _, err := ParseTimespan(in); err == nil {
			t.Errorf("ParseTimespan(%q) accepted", in)
		}
	}
}
