package intel

import (
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sync"
	"testing"
)

// millionValues are the values of a synthetic index of a million
// indicators: 400k IPv4, 10k networks, 300k domains, 90k URLs, 200k SHA-256.
var millionOnce = sync.OnceValues(func() (*Index, []string) {
	r := rand.New(rand.NewPCG(1, 2))
	b := NewBuilder()
	var sample []string
	add := func(t Type, v string) {
		if err := b.Add(Indicator{Type: t, Value: v, Source: "bench", Confidence: 70}); err != nil {
			panic(err)
		}
		if len(sample) < 4096 && r.IntN(200) == 0 {
			sample = append(sample, v)
		}
	}
	for i := 0; i < 400_000; i++ {
		add(TypeIPv4, netip.AddrFrom4([4]byte{byte(r.IntN(223) + 1), byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32())}).String())
	}
	for i := 0; i < 10_000; i++ {
		bits := 16 + r.IntN(13)
		p, _ := netip.AddrFrom4([4]byte{byte(r.IntN(223) + 1), byte(r.Uint32()), byte(r.Uint32()), 0}).Prefix(bits)
		add(TypeCIDR, p.String())
	}
	for i := 0; i < 300_000; i++ {
		add(TypeDomain, fmt.Sprintf("h%x.example%d.%s", r.Uint64(), r.IntN(1000), []string{"com", "net", "org", "ru", "xyz"}[r.IntN(5)]))
	}
	for i := 0; i < 90_000; i++ {
		add(TypeURL, fmt.Sprintf("http://u%x.example.com/p/%x.php", r.Uint32(), r.Uint64()))
	}
	var h [32]byte
	for i := 0; i < 200_000; i++ {
		for j := range h {
			h[j] = byte(r.Uint32())
		}
		add(TypeSHA256, hex.EncodeToString(h[:]))
	}
	x, _ := b.Build()
	return x, sample
})

func millionIndex(b *testing.B) (*Index, []string) {
	b.Helper()
	x, sample := millionOnce()
	if x.Len() < 990_000 {
		b.Fatalf("index has %d indicators", x.Len())
	}
	return x, sample
}

func BenchmarkLookupHit(b *testing.B) {
	x, sample := millionIndex(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, ms := x.Lookup(sample[i%len(sample)]); len(ms) == 0 {
			b.Fatal("no match")
		}
	}
}

func BenchmarkLookupMiss(b *testing.B) {
	x, _ := millionIndex(b)
	misses := []string{"10.20.30.40", "www.example.org", "https://www.example.org/index.html",
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "a.b.c.d.example.com"}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		x.Lookup(misses[i%len(misses)])
	}
}

// BenchmarkMatchEvent matches events that match nothing (the common case)
// against a million indicators; each event has 4 to 8 fields.
func BenchmarkMatchEvent(b *testing.B) {
	x, _ := millionIndex(b)
	evs := sampleEvents()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		x.MatchEvent(evs[i%len(evs)], func(string, string, Match) { b.Fatal("matched") })
	}
}

func BenchmarkLoadCorpus(b *testing.B) {
	paths := []string{corpus(b, "blocklists"), corpus(b, "misp-warninglists")}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		x, _ := LoadPaths(paths)
		if x.Len() < 300_000 {
			b.Fatal(x.Len())
		}
	}
}
