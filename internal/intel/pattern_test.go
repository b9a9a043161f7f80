package intel

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every pattern of the STIX 2.0 and 2.1 specifications and of the Unit 42
// playbooks is valid and must parse.
func TestParsePatternCorpus(t *testing.T) {
	n := 0
	for _, f := range []string{"stix2/stix-patterns/spec_examples-v20.txt", "stix2/stix-patterns/spec_examples-v21.txt"} {
		data, err := os.ReadFile(corpus(t, f))
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			if _, err := ParsePattern(strings.TrimSpace(line)); err != nil {
				t.Errorf("%s:%d: %q: %v", f, i+1, line, err)
			}
			n++
		}
	}
	files, _ := filepath.Glob(filepath.Join(corpus(t, "stix2/unit42-playbooks/playbook_json"), "*.json"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var b struct {
			Objects []struct {
				Type    string `json:"type"`
				Pattern string `json:"pattern"`
			} `json:"objects"`
		}
		if err := json.Unmarshal(data, &b); err != nil {
			t.Fatal(err)
		}
		for _, o := range b.Objects {
			if o.Type != "indicator" {
				continue
			}
			n++
			if _, err := ParsePattern(o.Pattern); err != nil {
				t.Errorf("%s: %q: %v", filepath.Base(f), o.Pattern, err)
			}
		}
	}
	if n != 24+23+2670 {
		t.Errorf("%d patterns, want %d", n, 24+23+2670)
	}
}

func TestParsePatternInvalid(t *testing.T) {
	for _, c := range []struct{ pattern, err string }{
		{"", "pattern offset 0: expected '[' to start an observation expression, found end of pattern"},
		{"[ipv4-addr:value = '1.2.3.4'", "pattern offset 28: expected \"]\" to close the observation expression, found end of pattern"},
		{"[ipv4-addr:value = '1.2.3.4]", "pattern offset 19: unterminated string"},
		{"[ipv4-addr:value == ]", "pattern offset 20: expected a constant after =, found \"]\""},
		{"[ipv4-addr value = '1']", "pattern offset 11: expected ':' after the object type \"ipv4-addr\", found \"value\""},
		{"[file:hashes.SHA-256 = 'x']", "pattern offset 13: property name \"SHA-256\" has a hyphen: quote it ('SHA-256')"},
		{"[file:name = 'a'] WITHIN -5 SECONDS", "pattern offset 25: WITHIN needs a positive number of seconds, found \"-5\""},
		{"[file:name = 'a'] REPEATS 5", "pattern offset 27: expected TIMES after REPEATS 5, found end of pattern"},
		{"[file:name = 'a' AND]", "pattern offset 20: expected an object path such as ipv4-addr:value, found \"]\""},
		{"[file:name = 'a'] [file:name = 'b']", "pattern offset 18: unexpected \"[\" after the end of the pattern"},
		{"[file:name ~ 'a']", "pattern offset 11: unexpected character '~'"},
		{"[file:name = 'a\\b']", "pattern offset 15: a backslash in a string must escape ' or \\"},
		{"[file:size > true]", "pattern offset 13: > needs an orderable constant, not a boolean"},
		{"[file:magic_number_hex = h'ffd']", "pattern offset 25: h'ffd' is not an even number of hexadecimal digits"},
		{"[file:created = t'2014-01-13']", "pattern offset 16: t'2014-01-13' is not an RFC 3339 UTC timestamp (YYYY-MM-DDThh:mm:ss[.s]Z)"},
		{"[file:name IN ('a' 'b')]", "pattern offset 19: expected \",\" between the constants of the set, found string 'b'"},
		{"[file:size = 007]", "pattern offset 13: an integer has no leading zeros"},
		{"[file:name LIKE 5]", "pattern offset 16: LIKE needs a string constant, found \"5\""},
		{"[file:name = 'a'] AND", "pattern offset 21: expected '[' to start an observation expression, found end of pattern"},
		{"[NOT file:name = 'a']", "pattern offset 5: NOT before a comparison goes after the object path (path NOT = value), or before EXISTS"},
	} {
		_, err := ParsePattern(c.pattern)
		if err == nil || err.Error() != c.err {
			t.Errorf("%q:\n got %v\nwant %s", c.pattern, err, c.err)
		}
	}
}

func TestCompilePattern(t *testing.T) {
	sha := "aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f"
	for _, c := range []struct {
		pattern string
		terms   string // type=value;…
		partial bool
		refused string
	}{
		{pattern: "[ipv4-addr:value = '198.51.100.1/32']", terms: "ipv4=198.51.100.1"},
		{pattern: "[ipv4-addr:value = '198.51.100.0/24']", terms: "cidr=198.51.100.0/24"},
		{pattern: "[ipv6-addr:value = '2001:DB8::1']", terms: "ipv6=2001:db8::1"},
		{pattern: "[domain-name:value = 'Evil.COM']", terms: "domain=evil.com"},
		{pattern: "[url:value = 'HTTP://Evil.com:80/a#frag']", terms: "url=http://evil.com/a"},
		{pattern: "[email-addr:value = 'Bad@Evil.com']", terms: "email=bad@evil.com"},
		{pattern: "[file:hashes.'SHA-256' = '" + strings.ToUpper(sha) + "']", terms: "sha256=" + sha},
		{pattern: "[file:hashes.MD5 = 'cead3f77f6cda6ec00f57d76c9a69faa']", terms: "md5=cead3f77f6cda6ec00f57d76c9a69faa"},
		{pattern: "[file:hashes.'SHA-1' = 'da39a3ee5e6b4b0d3255bfef95601890afd80709']", terms: "sha1=da39a3ee5e6b4b0d3255bfef95601890afd80709"},
		{pattern: "[file:name = 'C:\\\\Temp\\\\Evil.EXE']", terms: "filename=evil.exe"},
		{pattern: "[url:value = 'http://example.com/foo' OR url:value = 'http://example.com/bar']", terms: "url=http://example.com/foo;url=http://example.com/bar"},
		{pattern: "[ipv4-addr:value IN ('1.2.3.4', '5.6.7.8')]", terms: "ipv4=1.2.3.4;ipv4=5.6.7.8"},
		{pattern: "[domain-name:value LIKE 'evil.com']", terms: "domain=evil.com"},
		{pattern: "[domain-name:value LIKE '%.evil.com']", terms: "domain=evil.com"},
		{pattern: "[domain-name:value MATCHES '^evil\\\\.com$']", terms: "domain=evil.com"},
		{pattern: "[ipv4-addr:value ISSUBSET '10.0.0.0/8']", terms: "cidr=10.0.0.0/8"},
		{pattern: "[network-traffic:dst_ref.value = '203.0.113.33/32']", terms: "ipv4=203.0.113.33"},
		// AND: each term is indexed, a match is partial.
		{pattern: "[file:hashes.'SHA-256' = '" + sha + "' AND file:mime_type = 'application/x-pdf']", terms: "sha256=" + sha, partial: true},
		{pattern: "[domain-name:value = 'www.5z8.info' AND domain-name:resolves_to_refs[*].value = '198.51.100.1/32']", terms: "domain=www.5z8.info", partial: true},
		{pattern: "[file:hashes.MD5 = 'cead3f77f6cda6ec00f57d76c9a6879f'] AND [ipv4-addr:value = '1.2.3.4']", terms: "md5=cead3f77f6cda6ec00f57d76c9a6879f;ipv4=1.2.3.4", partial: true},
		// OR with a side vigil cannot match keeps the other side, exactly.
		{pattern: "[file:name = 'pdf.exe' OR file:size = 371712]", terms: "filename=pdf.exe"},
		{pattern: "[(file:name = 'pdf.exe' OR file:size = '371712') AND file:created = t'2014-01-13T07:03:17Z']", terms: "filename=pdf.exe", partial: true},
		// Refused, with the reason.
		{pattern: "[process:command_line MATCHES '^.+>-add GlobalSign.cer']", refused: "object path process:command_line is not matchable inline"},
		{pattern: "[windows-registry-key:key = 'HKEY_LOCAL_MACHINE\\\\foo']", refused: "object path windows-registry-key:key is not matchable inline"},
		{pattern: "([file:hashes.MD5 = '79054025255fb1a26e4bc422aef54eb4'] FOLLOWEDBY [ipv4-addr:value = '1.2.3.4']) WITHIN 300 SECONDS", refused: "qualifier WITHIN: the pattern describes observations over time"},
		{pattern: "[file:hashes.MD5 = '79054025255fb1a26e4bc422aef54eb4'] FOLLOWEDBY [ipv4-addr:value = '1.2.3.4']", refused: "FOLLOWEDBY: the pattern describes a sequence of observations"},
		{pattern: "[domain-name:value = 'example.com'] REPEATS 5 TIMES", refused: "qualifier REPEATS"},
		{pattern: "[ipv4-addr:value != '1.2.3.4']", refused: "operator != on ipv4-addr:value is not matchable inline"},
		{pattern: "[ipv4-addr:value NOT = '1.2.3.4']", refused: "NOT on ipv4-addr:value"},
		{pattern: "[email-message:from_ref.value MATCHES '.+\\\\@example\\\\.com$']", refused: "MATCHES on email-message:from_ref.value: regular expressions are not indexed"},
		{pattern: "[domain-name:value LIKE 'ev%l.com']", refused: "LIKE with wildcards on domain-name:value"},
		{pattern: "[file:hashes.'SHA-256' = 'abc']", refused: "bad value on file:hashes.'SHA-256': \"abc\" is not a sha256 hash"},
		{pattern: "[EXISTS file:name]", refused: "operator EXISTS on file:name"},
	} {
		terms, partial, err := CompilePattern(c.pattern)
		if c.refused != "" {
			var rp *RefusedPattern
			if !errors.As(err, &rp) || !strings.HasPrefix(rp.Reason, c.refused) {
				t.Errorf("%s: got %v, want refusal %q", c.pattern, err, c.refused)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.pattern, err)
			continue
		}
		var got []string
		for _, tm := range terms {
			got = append(got, tm.Type.String()+"="+tm.Value)
		}
		if strings.Join(got, ";") != c.terms || partial != c.partial {
			t.Errorf("%s:\n got %s partial=%v\nwant %s partial=%v", c.pattern, strings.Join(got, ";"), partial, c.terms, c.partial)
		}
	}
}

func FuzzParsePattern(f *testing.F) {
	for _, p := range []string{
		"[ipv4-addr:value = '1.2.3.4']",
		"[file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f' AND file:mime_type = 'application/x-pdf']",
		"([file:hashes.MD5 = '79054025255fb1a26e4bc422aef54eb4'] FOLLOWEDBY [win-registry-key:key = 'HKEY_LOCAL_MACHINE\\\\foo\\\\bar']) WITHIN 300 SECONDS",
		"[network-traffic:dst_port IN(443,6443,8443) AND network-traffic:src_packets != 0]",
		"[file:extensions.'windows-pebinary-ext'.sections[*].entropy > 7.0]",
		"[file:mime_type = 'image/bmp' AND file:magic_number_hex = h'ffd8'] START t'2016-06-01T00:00:00Z' STOP t'2016-07-01T00:00:00Z'",
		"[artifact:payload_bin = b'dGVzdA==' /* c */ ] // x",
	} {
		f.Add(p)
	}
	if data, err := os.ReadFile(filepath.Join("..", "..", "..", "shared", "corpus", "intel", "stix2", "stix-patterns", "spec_examples-v21.txt")); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			f.Add(l)
		}
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePattern(s)
		if err != nil {
			var pe *PatternError
			if !errors.As(err, &pe) || pe.Offset < 0 || pe.Offset > len(s) {
				t.Fatalf("%q: bad error %v", s, err)
			}
			return
		}
		if p.Root == nil {
			t.Fatalf("%q: no root", s)
		}
		terms, _, err := CompilePattern(s)
		if err == nil && len(terms) == 0 {
			t.Fatalf("%q: no terms and no refusal", s)
		}
		for _, tm := range terms {
			if tm.Value == "" || tm.Type == TypeUnknown {
				t.Fatalf("%q: bad term %+v", s, tm)
			}
		}
	})
}
