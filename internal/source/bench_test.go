package source

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/vigil-defense/vigil/internal/event"
)

// benchScan scans files b.N times and reports events/s and MB/s (of the
// bytes on disk).
func benchScan(b *testing.B, files []string) {
	var size int64
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			b.Fatal(err)
		}
		size += st.Size()
	}
	b.SetBytes(size)
	b.ReportAllocs()
	events := 0
	pool := sync.Pool{New: func() any { return new(event.Event) }} // an event per worker, as a pipeline keeps
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	start := time.Now()
	for b.Loop() {
		err := Scan(b.Context(), files, 0, func(u *Unit) int {
			ev := pool.Get().(*event.Event)
			defer pool.Put(ev)
			return u.Events(ev, func(*event.Event) {}, func(err error) { b.Error(err) })
		}, func(n int) error { events += n; return nil })
		if err != nil {
			b.Fatal(err)
		}
	}
	elapsed := time.Since(start)
	runtime.ReadMemStats(&ms1)
	b.ReportMetric(float64(events)/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/float64(events), "allocs/event")
}

func BenchmarkScanJSONL(b *testing.B) {
	benchScan(b, glob(b, corpus(b, "logs/otrf-security-datasets/atomic/windows"), "*.json"))
}

func BenchmarkScanZeekGzip(b *testing.B) {
	benchScan(b, glob(b, corpus(b, "logs/zeek-wrccdc2018/zeek-json"), "*.json.gz"))
}

func BenchmarkScanEVTX(b *testing.B) {
	benchScan(b, glob(b, corpus(b, "evtx"), "*.evtx"))
}

// otrfLines returns the lines of the OTRF Windows files.
func otrfLines(b *testing.B) [][]byte {
	var lines [][]byte
	for _, f := range glob(b, corpus(b, "logs/otrf-security-datasets/atomic/windows"), "*.json") {
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		for l := range bytes.Lines(data) {
			lines = append(lines, bytes.TrimSpace(l))
		}
	}
	return lines
}

// BenchmarkFlattenFastjson measures one JSON line to an event, on one
// goroutine: allocs/op is allocations per event.
func BenchmarkFlattenFastjson(b *testing.B) {
	lines := otrfLines(b)
	w := newWorker()
	u := &Unit{Path: "bench", w: w, batch: &batch{}}
	var ev event.Event
	fields := 0
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		l := lines[i%len(lines)]
		i++
		u.batch.data = l
		u.batch.recs = append(u.batch.recs[:0], record{end: len(l), line: i})
		u.jsonEvents(&ev, func(ev *event.Event) { fields += ev.Len() }, func(err error) { b.Fatal(err) })
	}
	b.ReportMetric(float64(fields)/float64(i), "fields/event")
}

// BenchmarkFlattenEncodingJSON is the same flattening with encoding/json's
// token stream, for comparison.
func BenchmarkFlattenEncodingJSON(b *testing.B) {
	lines := otrfLines(b)
	var ev event.Event
	var name []byte
	b.ReportAllocs()
	i := 0
	r := bytes.NewReader(nil)
	for b.Loop() {
		l := lines[i%len(lines)]
		i++
		r.Reset(l)
		d := json.NewDecoder(bufio.NewReader(r))
		d.UseNumber()
		ev.Reset()
		var stack []int
		var isKey []bool
		expectKey := false
		for {
			tok, err := d.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			switch v := tok.(type) {
			case json.Delim:
				switch v {
				case '{', '[':
					stack = append(stack, len(name))
					isKey = append(isKey, v == '{')
					expectKey = v == '{'
					continue
				default:
					name = name[:stack[len(stack)-1]]
					stack, isKey = stack[:len(stack)-1], isKey[:len(isKey)-1]
				}
			case string:
				if expectKey {
					n := stack[len(stack)-1]
					name = name[:n]
					if n > 0 {
						name = append(name, '.')
					}
					name = append(name, v...)
					expectKey = false
					continue
				}
				ev.AddString(string(name), v)
			case json.Number:
				ev.AddString(string(name), string(v))
			case bool:
				ev.AddString(string(name), strconv.FormatBool(v))
			case nil:
				ev.AddString(string(name), "")
			}
			if len(isKey) > 0 && isKey[len(isKey)-1] {
				expectKey = true
			}
		}
	}
}
