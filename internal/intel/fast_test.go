package intel

import (
	"slices"
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
