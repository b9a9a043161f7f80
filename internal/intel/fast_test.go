package intel

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-defense/vigil/internal/event"
)

// TestLookupFastPath checks that Lookup's byte-scan fast path gives the
// type and the matches of the general path (Detect, then the index).
func TestLookupFastPath(t *testing.T) {
	x := matchIndex(t)
	b := NewBuilder()
	for _, ind := range x.Indicators() {
		b.Add(ind)
	}
	b.Add(Indicator{Type: TypeURL, Value: "bare-host.example", Source: "url-typed-domain"})
	b.Add(Indicator{Type: TypeURL, Value: "198.51.100.99", Source: "url-typed-ip"})
	b.Add(Indicator{Type: TypeCVE, Value: "CVE-2021-44228", Source: "kev"})
	b.Add(Indicator{Type: TypeIPv6, Value: "2001:db8::1", Source: "v6"})
	x, _ = b.Build()
	for _, v := range []string{
		"198.51.100.23", "203.0.113.77", "8.8.8.8", "1.2.3", "01.2.3.4", "256.1.1.1", "1.2.3.4.5", "198.51.100.23:443",
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "F34D5F2D4577ED6D9CEEC516C1F5A744",
		"evil.com", "a.b.EVIL.com", "evil.com.", "*.evil.com", "cafe.de", "mimikatz.exe", "MIMIKATZ.EXE", "x_y.evil.com",
		"http://bad.example/gate.php", "HTTPS://Bad.Example:443/gate.php", "hxxp://bad[.]example/gate.php", "bad.example/gate.php",
		"phish@mail.example", "cve-2021-44228", "CVE-2021-44228", "2001:db8::1", "::ffff:198.51.100.23", "fe80::1%eth0",
		"bare-host.example", "198.51.100.99", " evil.com ", "\ufeffevil.com", "203.0.113.0/25", "123", "deadbeef", "1234.5678",
	} {
		ft, fm := x.Lookup(v)
		st, sm := x.lookupSlow(v)
		ids := func(ms []Match) (out []string) {
			for _, m := range ms {
				out = append(out, m.Indicator.Source+"/"+m.Indicator.Value)
			}
			slices.Sort(out)
			return out
		}
		if ft != st || !slices.Equal(ids(fm), ids(sm)) {
			t.Errorf("%q: fast %s %v, general %s %v", v, ft, ids(fm), st, ids(sm))
		}
	}
	if _, ms := x.Lookup("bare-host.example"); len(ms) != 1 {
		t.Errorf("a URL indicator naming only a host does not match the host: %v", ms)
	}
	if n := testing.AllocsPerRun(100, func() { x.Lookup("www.example.org") }); n != 0 {
		t.Errorf("a missed lookup allocates %v times", n)
	}
}

// TestMatchEventAddressWithPort covers the address fields of the corpus
// that carry a port: Security 4624 IpAddress and RdpCoreTS ClientIP.
func TestMatchEventAddressWithPort(t *testing.T) {
	x := matchIndex(t)
	for _, c := range []struct{ field, value, want string }{
		{"IpAddress", "198.51.100.23:63920", "198.51.100.23"},
		{"ClientIP", "[198.51.100.23]:64046", "198.51.100.23"},
		{"IpAddress", "::ffff:198.51.100.23", "::ffff:198.51.100.23"},
		{"DestAddress", "203.0.113.9", "203.0.113.9"},
		{"ClientIP", "198.51.100.23:99999", ""},
		{"Version", "10.0.19041.1", ""},
	} {
		ev := &event.Event{Time: time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)}
		ev.AddString(c.field, c.value)
		got := ""
		x.MatchEvent(ev, func(field, value string, m Match) { got = value })
		if got != c.want {
			t.Errorf("%s=%s: matched %q, want %q", c.field, c.value, got, c.want)
		}
	}
}

// TestValidDomainLDH checks the fast path's domain check against
// validDomain on every value made of the bytes it is given.
func TestValidDomainLDH(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	const alphabet = "ab9z0.-_"
	cases := []string{"evil.com", "a.b", "a..b", ".ab.c", "ab.c.", "-a.com", "a-.com", "a.-com", "a.com-",
		"1.2.3.4", "1.2.3.x", "x.123", "123.x1", "a_b.c_d", strings.Repeat("a", 63) + ".com",
		strings.Repeat("a", 64) + ".com", strings.Repeat("a.", 126) + "b", strings.Repeat("a.", 127) + "b", "ab", "a.b.c.d.e.f"}
	for i := 0; i < 200_000; i++ {
		b := make([]byte, 1+r.IntN(12))
		for j := range b {
			b[j] = alphabet[r.IntN(len(alphabet))]
		}
		cases = append(cases, string(b))
	}
	for _, d := range cases {
		if got, want := validDomainLDH(d), validDomain(d); got != want {
			t.Fatalf("validDomainLDH(%q) = %v, validDomain = %v", d, got, want)
		}
	}
}

// TestLookupOneMatchShared checks that a hit on one indicator allocates
// nothing, and that the shared slice it returns cannot be grown into
// another match's.
func TestLookupOneMatchShared(t *testing.T) {
	x := testIndex(t,
		Indicator{Type: TypeIPv4, Value: "203.0.113.7", Source: "a"},
		Indicator{Type: TypeIPv4, Value: "203.0.113.8", Source: "b"},
		Indicator{Type: TypeDomain, Value: "evil.example", Source: "c"})
	allocs := testing.AllocsPerRun(100, func() {
		if _, ms := x.Lookup("203.0.113.7"); len(ms) != 1 {
			t.Fatal(ms)
		}
	})
	if allocs != 0 {
		t.Errorf("a hit allocates %v objects, want 0", allocs)
	}
	_, a := x.Lookup("203.0.113.7")
	_, b := x.Lookup("203.0.113.8")
	if cap(a) != 1 || a[0].Indicator.Source != "a" || b[0].Indicator.Source != "b" {
		t.Fatalf("a = %+v (cap %d), b = %+v", a, cap(a), b)
	}
	a = append(a, Match{})
	if _, again := x.Lookup("203.0.113.8"); again[0].Indicator.Source != "b" {
		t.Fatalf("appending to one match changed another: %+v", again)
	}
	if _, ms := x.Lookup("www.evil.example"); len(ms) != 1 || ms[0].Indicator.Source != "c" {
		t.Fatalf("www.evil.example: %+v", ms)
	}
}
