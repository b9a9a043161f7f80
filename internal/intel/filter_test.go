package intel

import (
	"strconv"
	"testing"
)

// The filter must answer "maybe" for every key added (a false "no" would
// lose a match) and "no" for nearly every other key.
func TestFilterNoFalseNegatives(t *testing.T) {
	const n = 200_000
	f := newFilter(n)
	for i := 0; i < n; i++ {
		f.add(f.hashString(fkDomain, "host"+strconv.Itoa(i)+".example.com"))
		f.add(f.hashV4(uint32(i) * 2654435761))
	}
	for i := 0; i < n; i++ {
		if !f.has(f.hashString(fkDomain, "host"+strconv.Itoa(i)+".example.com")) || !f.has(f.hashV4(uint32(i)*2654435761)) {
			t.Fatalf("key %d added but not found", i)
		}
	}
	fp := 0
	for i := n; i < 2*n; i++ {
		if f.has(f.hashString(fkDomain, "host"+strconv.Itoa(i)+".example.com")) {
			fp++
		}
		if f.has(f.hashString(fkURL, "host"+strconv.Itoa(i-n)+".example.com")) { // same bytes, other kind
			fp++
		}
	}
	// 2n keys at 16 bits a key of a filter sized for n: about 8 bits a key.
	if rate := float64(fp) / float64(2*n); rate > 0.05 {
		t.Errorf("false positive rate %.3f, want well under 0.05", rate)
	}
}

// An index answers the same with and without its filter.
func TestFilterSameMatches(t *testing.T) {
	b := NewBuilder()
	vals := []string{"198.51.100.7", "203.0.113.0/24", "evil.example", "http://bad.example/x", "a@evil.example",
		"44d88612fea8a8f36de82e1278abb02f", "invoice.pdf.exe", "CVE-2021-44228", "2001:db8::1",
		"275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"}
	for i, v := range vals {
		typ, _ := Detect(v)
		if err := b.Add(Indicator{Type: typ, Value: v, Source: "t", ID: strconv.Itoa(i)}); err != nil {
			t.Fatal(err)
		}
	}
	x, _ := b.Build()
	probes := append(vals, "203.0.113.9", "a.b.evil.example", "bad.example", "10.0.0.1", "example", "b@evil.example")
	for i, v := range probes {
		t1, m1 := x.Lookup(v)
		if i < len(vals) && len(m1) == 0 {
			t.Errorf("%s: indexed but not found", v)
		}
		filt := x.set.filt
		x.set.filt = nil
		t2, m2 := x.Lookup(v)
		x.set.filt = filt
		if t1 != t2 || len(m1) != len(m2) {
			t.Errorf("%s: with filter %v %d matches, without %v %d", v, t1, len(m1), t2, len(m2))
		}
	}
}
