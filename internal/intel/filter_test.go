package intel

import (
	"fmt"
	"strconv"
	"sync"
	"testing"

	"github.com/vigil-defense/vigil/internal/event"
)

// The filter must answer "maybe" for every key added (a false "no" would
// lose a match) and "no" for nearly every other key.
func TestFilterNoFalseNegatives(t *testing.T) {
	const n = 200_000
	var keys [numKinds]int
	keys[fkDomain], keys[fkV4] = n, n
	f := newFilter(keys)
	for i := 0; i < n; i++ {
		f.add(fkDomain, f.hashString(fkDomain, "host"+strconv.Itoa(i)+".example.com"))
		f.add(fkV4, f.hashV4(uint32(i)*2654435761))
	}
	for i := 0; i < n; i++ {
		if !f.has(fkDomain, f.hashString(fkDomain, "host"+strconv.Itoa(i)+".example.com")) || !f.has(fkV4, f.hashV4(uint32(i)*2654435761)) {
			t.Fatalf("key %d added but not found", i)
		}
	}
	fp, fpURL := 0, 0
	for i := n; i < 2*n; i++ {
		if f.has(fkDomain, f.hashString(fkDomain, "host"+strconv.Itoa(i)+".example.com")) {
			fp++
		}
		if f.has(fkURL, f.hashString(fkURL, "host"+strconv.Itoa(i-n)+".example.com")) { // same bytes, a kind with no keys
			fpURL++
		}
	}
	if rate := float64(fp) / float64(n); rate > 0.01 {
		t.Errorf("false positive rate %.4f, want well under 0.01", rate)
	}
	if fpURL != 0 {
		t.Errorf("%d URL keys found in a filter with none", fpURL)
	}
	// A kind's filter is sized for its keys: a few hundred take a few
	// cache lines, whatever the other kinds hold.
	keys = [numKinds]int{}
	keys[fkFile], keys[fkV4] = 400, 1_000_000
	f = newFilter(keys)
	if got := len(f.kinds[fkFile]) * 64; got > 1024 {
		t.Errorf("400 file names take %d bytes of filter", got)
	}
}

// An index answers the same with and without its filter: MatchEvent (which
// probes the filter first) on events holding indexed values, values of the
// same shapes that are not indexed, and values indexed under another type.
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
	probes := append(vals, "203.0.113.9", "a.b.evil.example", "bad.example", "10.0.0.1", "example", "b@evil.example",
		`C:\Users\x\Invoice.PDF.exe`, "cve-2021-44228", "http://bad.example/y", "2001:db8::2")
	match := func(v string) (n int) {
		var ev event.Event
		ev.AddString("Value", v)
		x.MatchEvent(&ev, func(string, string, Match) { n++ })
		return n
	}
	for i, v := range probes {
		with := match(v)
		if i < len(vals) && with == 0 {
			t.Errorf("%s: indexed but not found", v)
		}
		filt := x.set.filt
		x.set.filt = nil
		without := match(v)
		x.set.filt = filt
		if with != without {
			t.Errorf("%s: %d matches with the filter, %d without", v, with, without)
		}
	}
}

// The memo of "not there" answers gives the answers the filter's bits give:
// for keys present and absent, probed again and again (hits), for one hash
// probed under two kinds (present under one only), for hashes that share a
// memo slot, and for two workers probing at once (go test -race).
func TestFilterMemo(t *testing.T) {
	var keys [numKinds]int
	keys[fkDomain], keys[fkURL] = 5_000, 5_000
	f := newFilter(keys)
	var hs []uint64
	for i := range 10_000 {
		h := f.hashString(fkDomain, "k"+strconv.Itoa(i))
		hs = append(hs, h, h^1, h+negSlots, h+3*negSlots) // neighbours and slot-mates
		if i%2 == 0 {
			f.add(fkDomain, h)
		} else {
			f.add(fkURL, h) // the same hash, present under the other kind
		}
	}
	check := func() error {
		for round := range 3 {
			for _, h := range hs {
				for _, k := range []uint64{fkDomain, fkURL, fkEmail} {
					if got, want := f.has(k, h), f.blocksHave(k, h); got != want {
						return fmt.Errorf("round %d, kind %d, hash %#x: has %v, the bits say %v", round, k, h, got, want)
					}
				}
			}
		}
		return nil
	}
	if err := check(); err != nil {
		t.Fatal(err)
	}
	hits := 0
	for i := range f.neg {
		if f.neg[i].Load() != 0 {
			hits++
		}
	}
	if hits == 0 {
		t.Fatal("nothing remembered")
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for range 2 {
		wg.Go(func() { errs <- check() })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}
