package intel

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
)

// The open-addressing tables find exactly what a Go map given the same
// keys finds, through growth, repeated keys (several indicators under one
// key) and duplicates refused by the builder's dup function.
func TestTablesAgainstMaps(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	s := newSet()
	want4 := map[uint32][]uint32{}
	wantS := map[string][]uint32{}
	dupOf := map[uint32]uint32{} // indicator -> the one it repeats
	isDup := func(i uint32) func(uint32) bool {
		return func(j uint32) bool { d, ok := dupOf[i]; return ok && d == j }
	}
	for i := uint32(0); i < 50_000; i++ {
		k4 := r.Uint32() % 20_000 // many repeated keys
		ks := fmt.Sprintf("h%d.example.com", r.IntN(20_000))
		if l := want4[k4]; len(l) > 0 && r.IntN(4) == 0 {
			dupOf[i] = l[0] // the builder's dup reports it as the same as l[0]
		}
		if s.v4.put(&k4, s.merger(i, isDup(i))) {
			want4[k4] = append(want4[k4], i)
		} else if _, ok := dupOf[i]; !ok {
			t.Fatalf("key %d: indicator %d refused", k4, i)
		}
		if !s.domains.put(ks, s.merger(i, nil)) {
			t.Fatalf("key %s: indicator %d refused", ks, i)
		}
		wantS[ks] = append(wantS[ks], i)
	}
	refs := func(r ref) []uint32 {
		var l []uint32
		s.each(r, func(i uint32) { l = append(l, i) })
		return l
	}
	for k := uint32(0); k < 25_000; k++ {
		r, ok := s.v4.get(&k)
		if ok != (len(want4[k]) > 0) || ok && !slices.Equal(refs(r), want4[k]) {
			t.Fatalf("v4 %d: %v %v, want %v", k, ok, refs(r), want4[k])
		}
		ks := fmt.Sprintf("h%d.example.com", k)
		r, ok = s.domains.get(ks)
		if ok != (len(wantS[ks]) > 0) || ok && !slices.Equal(refs(r), wantS[ks]) {
			t.Fatalf("domain %s: %v %v, want %v", ks, ok, refs(r), wantS[ks])
		}
	}
	if s.v4.n != len(want4) || s.domains.n != len(wantS) {
		t.Errorf("%d and %d keys, want %d and %d", s.v4.n, s.domains.n, len(want4), len(wantS))
	}
}

// seenValues finds a value only while its bytes are in the ring, and only
// the value itself; a field position's last value is kept in its slot when
// short, in the ring when long.
func TestSeenValues(t *testing.T) {
	c := newSeenValues()
	short := "desktop-1.corp.example"
	long := "https://update.example.org/downloads/windows/x64/agent-setup-2024.exe" // > lastInline
	hs, hl := c.hash(short), c.hash(long)
	endS, endL := c.add(hs, short), c.add(hl, long)
	if got, ok := c.find(hs, short); !ok || got != endS {
		t.Fatalf("find after add: %d %v", got, ok)
	}
	c.rememberAt(3, short, endS)
	c.rememberAt(5, long, endL)
	if !c.same(3, short) || c.same(3, "desktop-2.corp.example") || c.same(4, short) || !c.same(5, long) || c.same(5, long[:len(long)-1]+"x") {
		t.Fatal("same: wrong answer")
	}
	if _, ok := c.find(c.hash("desktop-2.corp.example"), "desktop-2.corp.example"); ok {
		t.Fatal("found a value never added")
	}
	// Fill the ring with other values: the values' bytes in it are
	// overwritten; the short one stays in its position's slot.
	for i := 0; c.pos < endL+seenRing; i++ {
		c.put(fmt.Sprintf("filler-%06d.example.org", i))
	}
	if _, ok := c.find(hs, short); ok {
		t.Fatal("found a value whose bytes were overwritten")
	}
	if _, ok := c.find(hl, long); ok || c.same(5, long) {
		t.Fatal("found a long value whose bytes were overwritten")
	}
	if !c.same(3, short) {
		t.Fatal("lost the short value kept in its slot")
	}
	c.remember(3, "other")
	if c.same(3, short) || !c.same(3, "other") {
		t.Fatal("remember did not replace the position's value")
	}
}

// MatchEvent gives the same matches with its memory of values warm (every
// event after the first) as with it empty (before every event), on real
// events and an index of values taken from them.
func TestMatchEventSeenSameMatches(t *testing.T) {
	evs, err := corpusEventsOnce()
	if err != nil {
		t.Skipf("corpus absent (%v): the logs live in ../shared/corpus next to the repository", err)
	}
	b := NewBuilder()
	for k, ev := range evs {
		if k%97 != 0 {
			continue
		}
		for i := 0; i < ev.Len(); i++ {
			if typ, v := Detect(ev.Value(i)); typ != TypeUnknown {
				_ = b.Add(Indicator{Type: typ, Value: v, Source: "corpus-sample"})
			}
		}
	}
	x, _ := b.Build()
	if x.Len() < 100 {
		t.Fatalf("index of %d values", x.Len())
	}
	run := func(cold bool) []string {
		var out []string
		for k, ev := range evs {
			if cold {
				x.matchers = sync.Pool{}
			}
			x.MatchEvent(ev, func(field, value string, m Match) {
				out = append(out, fmt.Sprintf("%d %s %s %s", k, field, value, m.Indicator.Value))
			})
		}
		return out
	}
	warm, cold := run(false), run(true)
	if len(warm) < 1000 {
		t.Errorf("only %d matches", len(warm))
	}
	if !slices.Equal(warm, cold) {
		t.Errorf("%d matches with the memory warm, %d with it cold", len(warm), len(cold))
	}
	t.Logf("%d matches in %d events", len(warm), len(evs))
}

// same agrees with == on every length a position remembers (in its slot
// up to lastInline bytes, in the ring beyond), for the equal value and for
// values differing in any one byte or in length.
func TestSeenSameLengths(t *testing.T) {
	c := newSeenValues()
	for n := 1; n <= seenMaxLen; n++ {
		v := make([]byte, n)
		for i := range v {
			v[i] = byte('a' + (i+n)%26)
		}
		c.remember(n%seenFields, string(v))
		if !c.same(n%seenFields, string(v)) {
			t.Fatalf("length %d: equal value not the same", n)
		}
		if c.same(n%seenFields, string(v[:n-1])) || c.same(n%seenFields, string(v)+"a") {
			t.Fatalf("length %d: a longer or shorter value the same", n)
		}
		for i := 0; i < n; i++ {
			w := append([]byte(nil), v...)
			w[i] ^= 0x20
			if c.same(n%seenFields, string(w)) {
				t.Fatalf("length %d: value differing at byte %d the same", n, i)
			}
		}
	}
}

// shortWords and the length tell every short value apart: values of 3 to
// 16 bytes that differ in one byte, or only in length (the words of
// "aaaaaaaa" and "aaaaaaaaa" are equal), never share a key.
func TestShortWords(t *testing.T) {
	type key struct{ a, b, n uint64 }
	seen := map[key]string{}
	add := func(v string) {
		a, b := shortWords(v)
		k := key{a, b, uint64(len(v))}
		if w, ok := seen[k]; ok && w != v {
			t.Fatalf("%q and %q share a key", v, w)
		}
		seen[k] = v
	}
	for n := 3; n <= 16; n++ {
		add(strings.Repeat("a", n))
		v := []byte("0123456789abcdef"[:n])
		add(string(v))
		for i := 0; i < n; i++ {
			w := append([]byte(nil), v...)
			w[i] = '.'
			add(string(w))
		}
	}
}
