package intel

import (
	"context"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-defense/vigil/internal/event"
	"github.com/vigil-defense/vigil/internal/source"
)

// millionValues are the values of a synthetic index of a million
// indicators: 400k IPv4, 10k networks, 300k domains, 90k URLs, 200k SHA-256.
// VIGIL_INTEL_BENCH_SCALE=N divides each count by N (the same kinds of
// indicator, fewer of them: for counting instructions under valgrind,
// which loads a million slowly).
var millionOnce = sync.OnceValues(func() (*Index, []string) {
	r := rand.New(rand.NewPCG(1, 2))
	scale := 1
	if v, err := strconv.Atoi(os.Getenv("VIGIL_INTEL_BENCH_SCALE")); err == nil && v > 0 {
		scale = v
	}
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
	for i := 0; i < 400_000/scale; i++ {
		add(TypeIPv4, netip.AddrFrom4([4]byte{byte(r.IntN(223) + 1), byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32())}).String())
	}
	for i := 0; i < 10_000/scale; i++ {
		bits := 16 + r.IntN(13)
		p, _ := netip.AddrFrom4([4]byte{byte(r.IntN(223) + 1), byte(r.Uint32()), byte(r.Uint32()), 0}).Prefix(bits)
		add(TypeCIDR, p.String())
	}
	for i := 0; i < 300_000/scale; i++ {
		add(TypeDomain, fmt.Sprintf("h%x.example%d.%s", r.Uint64(), r.IntN(1000), []string{"com", "net", "org", "ru", "xyz"}[r.IntN(5)]))
	}
	for i := 0; i < 90_000/scale; i++ {
		add(TypeURL, fmt.Sprintf("http://u%x.example.com/p/%x.php", r.Uint32(), r.Uint64()))
	}
	var h [32]byte
	for i := 0; i < 200_000/scale; i++ {
		for j := range h {
			h[j] = byte(r.Uint32())
		}
		add(TypeSHA256, hex.EncodeToString(h[:]))
	}
	x, _ := b.Build()
	// The sample values side by side in one buffer, as a caller's values
	// would be at hand: strings left where the generator allocated them
	// are each in their own cache line among the 1M values, and reading
	// them cost a miss to main memory per lookup, which the benchmark
	// then counted as the index's.
	var all []byte
	for _, v := range sample {
		all = append(all, v...)
	}
	for i, off := 0, 0; i < len(sample); i++ {
		n := len(sample[i])
		sample[i] = string(all[off : off+n : off+n])
		off += n
	}
	return x, sample
})

func millionIndex(b *testing.B) (*Index, []string) {
	b.Helper()
	x, sample := millionOnce()
	if x.Len() < 990_000 && os.Getenv("VIGIL_INTEL_BENCH_SCALE") == "" {
		b.Fatalf("index has %d indicators", x.Len())
	}
	return x, sample
}

func BenchmarkLookupHit(b *testing.B) {
	x, sample := millionIndex(b)
	b.ReportAllocs()
	b.ResetTimer()
	start := cpuTime()
	for i := 0; i < b.N; i++ {
		if _, ms := x.Lookup(sample[i%len(sample)]); len(ms) == 0 {
			b.Fatal("no match")
		}
	}
	b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
}

func BenchmarkLookupMiss(b *testing.B) {
	x, _ := millionIndex(b)
	misses := []string{"10.20.30.40", "www.example.org", "https://www.example.org/index.html",
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "a.b.c.d.example.com"}
	b.ReportAllocs()
	b.ResetTimer()
	start := cpuTime()
	for i := 0; i < b.N; i++ {
		x.Lookup(misses[i%len(misses)])
	}
	b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
}

// BenchmarkMatchEvent matches events that match nothing (the common case)
// against a million indicators; each event has 4 to 8 fields.
func BenchmarkMatchEvent(b *testing.B) {
	x, _ := millionIndex(b)
	evs := sampleEvents()
	b.ReportAllocs()
	b.ResetTimer()
	start := cpuTime()
	for i := 0; i < b.N; i++ {
		x.MatchEvent(evs[i%len(evs)], func(string, string, Match) { b.Fatal("matched") })
	}
	b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
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

// BenchmarkLookupHitByType splits BenchmarkLookupHit by the sample's type.
func BenchmarkLookupHitByType(b *testing.B) {
	x, sample := millionIndex(b)
	byType := map[Type][]string{}
	for _, v := range sample {
		t, _ := Detect(v)
		byType[t] = append(byType[t], v)
	}
	for _, t := range []Type{TypeIPv4, TypeCIDR, TypeDomain, TypeURL, TypeSHA256} {
		vs := byType[t]
		b.Run(t.String(), func(b *testing.B) {
			b.ReportAllocs()
			start := cpuTime()
			for i := 0; i < b.N; i++ {
				if _, ms := x.Lookup(vs[i%len(vs)]); len(ms) == 0 {
					b.Fatal("no match")
				}
			}
			b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
		})
	}
}

// writeMillionFeed writes 1,000,000 mixed indicators into dir as three
// files: a plain list (400k IPv4, 10k networks, 300k domains), a CSV
// (90k URLs, 150k SHA-256) and a STIX 2.1 bundle (50k indicators with
// patterns on SHA-256 hashes).
func writeMillionFeed(t testing.TB, dir string) {
	r := rand.New(rand.NewPCG(3, 4))
	var list, csvb, stix strings.Builder
	for i := 0; i < 400_000; i++ {
		list.WriteString(netip.AddrFrom4([4]byte{byte(r.IntN(223) + 1), byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32())}).String())
		list.WriteByte('\n')
	}
	for i := 0; i < 10_000; i++ {
		p, _ := netip.AddrFrom4([4]byte{byte(r.IntN(223) + 1), byte(r.Uint32()), byte(r.Uint32()), 0}).Prefix(16 + r.IntN(13))
		list.WriteString(p.String() + "\n")
	}
	for i := 0; i < 300_000; i++ {
		fmt.Fprintf(&list, "h%x.example%d.%s\n", r.Uint64(), r.IntN(1000), []string{"com", "net", "org", "ru", "xyz"}[r.IntN(5)])
	}
	csvb.WriteString("DateAdded,IoC,Type,TLP\n")
	for i := 0; i < 90_000; i++ {
		fmt.Fprintf(&csvb, "2024-01-02,http://u%x.example.com/p/%x.php,url,green\n", r.Uint32(), r.Uint64())
	}
	var h [32]byte
	hex32 := func() string {
		for j := range h {
			h[j] = byte(r.Uint32())
		}
		return hex.EncodeToString(h[:])
	}
	for i := 0; i < 150_000; i++ {
		fmt.Fprintf(&csvb, "2024-01-02,%s,sha256,amber\n", hex32())
	}
	stix.WriteString(`{"type":"bundle","id":"bundle--0d1c3f8e-7a51-4a0b-9d0a-1b2c3d4e5f60","objects":[`)
	for i := 0; i < 50_000; i++ {
		if i > 0 {
			stix.WriteByte(',')
		}
		fmt.Fprintf(&stix, `{"type":"indicator","spec_version":"2.1","id":"indicator--%08x-0000-4000-8000-%012x","created":"2024-01-02T00:00:00Z","modified":"2024-01-02T00:00:00Z","pattern":"[file:hashes.'SHA-256' = '%s']","pattern_type":"stix","valid_from":"2024-01-02T00:00:00Z","confidence":80}`, i, i, hex32())
	}
	stix.WriteString("]}\n")
	for name, s := range map[string]string{"list.txt": list.String(), "iocs.csv": csvb.String(), "bundle.json": stix.String()} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestLoadMillion measures loading 1M mixed indicators from files (issue
// 5: under 5 s and 300 MiB). It runs only with VIGIL_INTEL_BENCH=1; with
// VIGIL_INTEL_FEED_DIR set it writes the feed there and keeps it (for
// vigil hunt --intel runs and /usr/bin/time -v).
func TestLoadMillion(t *testing.T) {
	if os.Getenv("VIGIL_INTEL_BENCH") == "" {
		t.Skip("set VIGIL_INTEL_BENCH=1 to measure loading 1M indicators")
	}
	dir := os.Getenv("VIGIL_INTEL_FEED_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	writeMillionFeed(t, dir)
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	for run := 0; run < 3; run++ {
		start := time.Now()
		x, errs := LoadPaths([]string{dir})
		el := time.Since(start)
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		t.Logf("run %d: %d indicators (%d errors) in %v; after GC, index live: HeapInuse %.1f MiB (HeapAlloc %.1f MiB)",
			run, x.Len(), len(errs), el.Round(time.Millisecond), float64(m.HeapInuse-before.HeapInuse)/(1<<20), float64(m.HeapAlloc-before.HeapAlloc)/(1<<20))
		// A few random IPv4 addresses repeat and are kept once.
		if x.Len() < 999_900 || len(errs) > 0 {
			t.Errorf("%d indicators, want ~1000000: %v", x.Len(), errs[:min(len(errs), 3)])
		}
		runtime.KeepAlive(x)
		x = nil
		runtime.GC()
	}
}

// allCorpusEventsOnce returns every event of the shared EVTX and log
// corpus in the order one hunt worker sees them, so that a Matcher's
// memory of values works as it does in a hunt.
var allCorpusEventsOnce = sync.OnceValues(func() ([]*event.Event, error) { return readCorpusEvents(1) })

// BenchmarkMatcherCorpus is a hunt worker's intel matching alone: one
// Matcher over every event of the corpus in order, against the million
// indicators, or the feeds of the folder VIGIL_INTEL_FEED_DIR names (the
// shared corpus's intel folder: real feeds and warninglists). cpu-ns/op is
// CPU time per event (the per-event cost that BenchmarkHuntIntel in
// internal/cli sees inside a whole hunt).
func BenchmarkMatcherCorpus(b *testing.B) {
	x := benchIndex(b)
	benchCorpusMatch(b, allCorpusEventsOnce, x.NewMatcher().Match)
}

// benchCorpusMatch runs match over the events of corpus, one per
// iteration, and reports CPU time per event.
func benchCorpusMatch(b *testing.B, corpus func() ([]*event.Event, error), match func(*event.Event, func(string, string, Match))) {
	evs, err := corpus()
	if err != nil {
		b.Skipf("corpus absent (%v): the logs live in ../shared/corpus next to the repository", err)
	}
	matches := 0
	count := func(string, string, Match) { matches++ } // made once: it escapes through match
	b.ReportAllocs()
	b.ResetTimer()
	start := cpuTime()
	for i := 0; i < b.N; i++ {
		match(evs[i%len(evs)], count)
	}
	b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(len(evs)), "events")
}

// corpusEventsOnce returns every 8th event of the shared EVTX and log
// corpus (about 20,000 events of every kind hunt reads).
var corpusEventsOnce = sync.OnceValues(func() ([]*event.Event, error) { return readCorpusEvents(8) })

// readCorpusEvents returns every nth event of the shared EVTX and log corpus
// (VIGIL_CORPUS names it if it is not ../shared/corpus), files in the order
// one hunt worker reads them.
func readCorpusEvents(every int) ([]*event.Event, error) {
	root := filepath.Join("..", "..", "..", "shared", "corpus")
	if r := os.Getenv("VIGIL_CORPUS"); r != "" {
		root = r
	}
	paths, err := source.Expand([]string{filepath.Join(root, "evtx"), filepath.Join(root, "logs")})
	if err != nil {
		return nil, err
	}
	var evs []*event.Event
	n := 0
	err = source.Scan(context.Background(), paths, 1, func(u *source.Unit) []*event.Event {
		var out []*event.Event
		u.Events(&event.Event{}, func(ev *event.Event) {
			if n++; n%every == 0 {
				out = append(out, ev.Clone())
			}
		}, func(error) {})
		return out
	}, func(out []*event.Event) error {
		evs = append(evs, out...)
		return nil
	})
	if err == nil && len(evs) == 0 {
		err = fmt.Errorf("no events under %s", root)
	}
	return evs, err
}

// cpuTime is the process's user and system CPU time: under the shared
// machine's load it moves less than the wall clock.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkMatchEventCorpus matches real events (EVTX, Sysmon, CloudTrail,
// Zeek…; see corpusEvents) against the million indicators: the per-event
// cost of vigil hunt --intel. cpu-ns/op is CPU time per event.
// VIGIL_CORPUS names the corpus folder if it is not ../shared/corpus.
func BenchmarkMatchEventCorpus(b *testing.B) {
	x, _ := millionIndex(b)
	benchCorpusMatch(b, corpusEventsOnce, x.MatchEvent)
}

// benchIndex is the index of the feeds of the folder VIGIL_INTEL_FEED_DIR
// names, or the synthetic million indicators.
func benchIndex(b *testing.B) *Index {
	dir := os.Getenv("VIGIL_INTEL_FEED_DIR")
	if dir == "" {
		x, _ := millionIndex(b)
		return x
	}
	x, errs := LoadPaths([]string{dir})
	if x.Len() == 0 {
		b.Fatalf("%s: no indicators (%d errors)", dir, len(errs))
	}
	return x
}

// BenchmarkNewDetectionCorpus measures making the detections of the shared
// corpus's matches (the events of every 8th corpus event that match the
// index of VIGIL_INTEL_FEED_DIR, or of the synthetic million): what a
// hunt pays per intel match on top of finding it.
func BenchmarkNewDetectionCorpus(b *testing.B) {
	x := benchIndex(b)
	evs, err := corpusEventsOnce()
	if err != nil {
		b.Skipf("corpus absent (%v): the logs live in ../shared/corpus next to the repository", err)
	}
	type hit struct {
		ev           *event.Event
		field, value string
		m            Match
	}
	var hits []hit
	for _, ev := range evs {
		x.MatchEvent(ev, func(field, value string, m Match) {
			hits = append(hits, hit{ev, strings.Clone(field), strings.Clone(value), m})
		})
	}
	if len(hits) == 0 {
		b.Skip("no matches")
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		h := &hits[i%len(hits)]
		d := NewDetection(h.ev, h.field, h.value, h.m)
		if len(d.Fields) == 0 {
			b.Fatal("no fields")
		}
	}
	b.ReportMetric(float64(len(hits)), "matches")
}
