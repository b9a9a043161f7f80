package evtx

// Benchmarks over the shared corpus (../../shared/corpus: the evtx and
// sigma/regression_data folders, the same files `vigil dump` is measured on
// in docs/benchmarks.md). The files are read into memory once, so the disk is
// out of the measurement (except BenchmarkScan, which goes through Scan's
// own file reading: page cache).
//
// Every benchmark has two sub-benchmarks: "all" (every file) and "large"
// (files of 1 MB or more, closer to real logs: small files are mostly empty
// chunk space, which inflates MB/s by file bytes). Each reports MB/s of file
// bytes (SetBytes), records/s, allocs/record, usedMB/s (the rate over the
// bytes that hold records: chunk headers up to their free-space offset) and
// cpuMB/s (file bytes per CPU-second of the process, for a loaded machine).
//
//	go test ./evtx -run '^$' -bench . -benchmem -count 6 -cpu 1

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

const benchCorpusDir = "../../shared/corpus"

type benchFile struct {
	path string
	data []byte
	f    *File
}

type benchSet struct {
	files   []benchFile
	bytes   int64 // file bytes
	used    int64 // chunk bytes up to each chunk's free-space offset
	records int
}

var (
	benchOnce       sync.Once
	benchAll        benchSet
	benchLarge      benchSet
	benchErr        string
	benchLargeLimit = int64(1 << 20)
)

// loadBenchCorpus reads the corpus into memory once, or skips naming the
// path when it is absent.
func loadBenchCorpus(b testing.TB) (all, large *benchSet) {
	b.Helper()
	benchOnce.Do(func() {
		if _, err := os.Stat(benchCorpusDir); err != nil {
			benchErr = "shared corpus not found at " + benchCorpusDir + " (relative to the evtx package): " + err.Error()
			return
		}
		for _, sub := range []string{"evtx", "sigma/regression_data"} {
			root := filepath.Join(benchCorpusDir, sub)
			filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() || !strings.EqualFold(filepath.Ext(p), ".evtx") {
					return nil
				}
				data, err := os.ReadFile(p)
				if err != nil {
					return nil
				}
				f, err := NewFile(bytes.NewReader(data), int64(len(data)), p)
				if err != nil {
					return nil
				}
				bf := benchFile{path: p, data: data, f: f}
				recs, used := countRecords(f)
				add := func(s *benchSet) {
					s.files = append(s.files, bf)
					s.bytes += int64(len(data))
					s.used += used
					s.records += recs
				}
				add(&benchAll)
				if int64(len(data)) >= benchLargeLimit {
					add(&benchLarge)
				}
				return nil
			})
		}
		if len(benchAll.files) == 0 {
			benchErr = "no .evtx files under " + benchCorpusDir
		}
	})
	if benchErr != "" {
		b.Skip(benchErr)
	}
	return &benchAll, &benchLarge
}

func countRecords(f *File) (recs int, used int64) {
	c := NewChunk()
	var r Record
	for i := 0; i < f.ChunkCount(); i++ {
		ok, err := f.ReadChunk(i, c)
		if err != nil || !ok {
			continue
		}
		used += int64(c.end)
		for {
			more, err := c.Next(&r)
			if !more {
				break
			}
			if err == nil {
				recs++
			}
		}
	}
	return recs, used
}

// decodeSet decodes every record of every file of s with one reused Chunk
// and Record, calling fn for each record; it returns the record count.
func decodeSet(s *benchSet, c *Chunk, r *Record, fn func(r *Record)) int {
	n := 0
	for i := range s.files {
		f := s.files[i].f
		for ci := 0; ci < f.ChunkCount(); ci++ {
			ok, err := f.ReadChunk(ci, c)
			if err != nil || !ok {
				continue
			}
			for {
				more, err := c.Next(r)
				if !more {
					break
				}
				if err != nil {
					continue
				}
				n++
				if fn != nil {
					fn(r)
				}
			}
		}
	}
	return n
}

// runSets runs body as the sub-benchmarks "all" and "large".
func runSets(b *testing.B, body func(b *testing.B, s *benchSet) int) {
	all, large := loadBenchCorpus(b)
	for _, tc := range []struct {
		name string
		s    *benchSet
	}{{"all", all}, {"large", large}} {
		b.Run(tc.name, func(b *testing.B) {
			if len(tc.s.files) == 0 {
				b.Skip("no files in this set")
			}
			measure(b, tc.s, func() int { return body(b, tc.s) })
		})
	}
}

// measure runs one pass over s per iteration and reports records/s,
// allocs/record and usedMB/s beside the MB/s of file bytes.
func measure(b *testing.B, s *benchSet, pass func() int) {
	b.SetBytes(s.bytes)
	b.ReportAllocs()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	cpu0 := cpuTime()
	recs := 0
	for b.Loop() {
		recs += pass()
	}
	cpu := cpuTime() - cpu0
	runtime.ReadMemStats(&after)
	if recs == 0 {
		b.Fatal("no records decoded")
	}
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(recs)/sec, "records/s")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(recs), "allocs/record")
	b.ReportMetric(float64(s.used)*float64(recs)/float64(s.records)/1e6/sec, "usedMB/s")
	// Throughput per CPU-second of the whole process (user + system time,
	// GC included): less sensitive than wall time to other load on a
	// shared machine. With several workers it is the rate per core.
	if cpu > 0 {
		b.ReportMetric(float64(s.bytes)*float64(recs)/float64(s.records)/1e6/cpu, "cpuMB/s")
	}
}

// cpuTime returns the user + system CPU seconds used by the process.
func cpuTime() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// BenchmarkDecode parses every record (tree built, nothing rendered).
func BenchmarkDecode(b *testing.B) {
	runSets(b, func(b *testing.B, s *benchSet) int {
		c := benchChunk()
		var r Record
		return decodeSet(s, c, &r, nil)
	})
}

// BenchmarkJSON decodes every record and renders it with AppendJSON.
func BenchmarkJSON(b *testing.B) {
	runSets(b, func(b *testing.B, s *benchSet) int {
		c := benchChunk()
		var r Record
		buf := benchBuf()
		n := decodeSet(s, c, &r, func(r *Record) { *buf = r.AppendJSON((*buf)[:0]) })
		return n
	})
}

// BenchmarkXML decodes every record and renders it with AppendXML.
func BenchmarkXML(b *testing.B) {
	runSets(b, func(b *testing.B, s *benchSet) int {
		c := benchChunk()
		var r Record
		buf := benchBuf()
		return decodeSet(s, c, &r, func(r *Record) { *buf = r.AppendXML((*buf)[:0]) })
	})
}

// The chunk, record and output buffer of the single-goroutine benchmarks
// are kept across iterations, as a long-running reader keeps them.
var (
	benchChunkV *Chunk
	benchBufV   []byte
)

func benchChunk() *Chunk {
	if benchChunkV == nil {
		benchChunkV = NewChunk()
	}
	return benchChunkV
}

func benchBuf() *[]byte { return &benchBufV }

// BenchmarkScan runs the parallel Scan over the files (read by Scan from the
// page cache), rendering each chunk's records as JSON lines into a pooled
// buffer as `vigil dump` does, with one worker and with GOMAXPROCS workers
// (run with -cpu 1 for one core, -cpu N for N workers on N cores).
func BenchmarkScan(b *testing.B) {
	all, large := loadBenchCorpus(b)
	for _, set := range []struct {
		name string
		s    *benchSet
	}{{"all", all}, {"large", large}} {
		paths := make([]string, len(set.s.files))
		for i, f := range set.s.files {
			paths[i] = f.path
		}
		workers := []int{1}
		if n := runtime.GOMAXPROCS(0); n > 1 {
			workers = append(workers, n)
		}
		for _, w := range workers {
			b.Run(set.name+"/workers="+strconv.Itoa(w), func(b *testing.B) {
				if len(paths) == 0 {
					b.Skip("no files in this set")
				}
				var pool sync.Pool
				type out struct {
					buf  *[]byte
					recs int
				}
				work := func(u *Unit) out {
					if u.Chunk == nil {
						return out{}
					}
					bp, _ := pool.Get().(*[]byte)
					if bp == nil {
						bb := make([]byte, 0, 256<<10)
						bp = &bb
					}
					var r Record
					n := 0
					for {
						more, err := u.Chunk.Next(&r)
						if !more {
							break
						}
						if err != nil {
							continue
						}
						n++
						*bp = append(r.AppendJSON(*bp), '\n')
					}
					return out{bp, n}
				}
				measure(b, set.s, func() int {
					n := 0
					err := Scan(context.Background(), paths, w, work, func(o out) error {
						n += o.recs
						if o.buf != nil {
							*o.buf = (*o.buf)[:0]
							pool.Put(o.buf)
						}
						return nil
					})
					if err != nil {
						b.Fatal(err)
					}
					return n
				})
			})
		}
	}
}

// TestWriteBigEVTX writes a large synthetic EVTX file when VIGIL_BIG_EVTX
// names the output path (skipped otherwise), for docs/bench.sh's memory
// measurement: a valid file header followed by VIGIL_BIG_EVTX_MB megabytes
// (default 1024) of chunks copied in turn from the corpus files (every chunk
// that decodes without a problem). The file is never committed.
func TestWriteBigEVTX(t *testing.T) {
	out := os.Getenv("VIGIL_BIG_EVTX")
	if out == "" {
		t.Skip("set VIGIL_BIG_EVTX=PATH to write a big synthetic EVTX file")
	}
	mb := 1024
	if v := os.Getenv("VIGIL_BIG_EVTX_MB"); v != "" {
		var err error
		if mb, err = strconv.Atoi(v); err != nil || mb <= 0 {
			t.Fatalf("VIGIL_BIG_EVTX_MB=%q: want a positive number of megabytes", v)
		}
	}
	all, _ := loadBenchCorpus(t)
	var chunks [][]byte
	c := NewChunk()
	var r Record
	for _, bf := range all.files {
		for i := 0; i < bf.f.ChunkCount(); i++ {
			ok, err := bf.f.ReadChunk(i, c)
			if err != nil || !ok || len(c.Problems()) > 0 {
				continue
			}
			good, recs := true, 0
			for {
				more, err := c.Next(&r)
				if !more {
					break
				}
				if err != nil {
					good = false
				}
				recs++
			}
			if good && recs > 0 {
				off := fileHeaderSize + i*chunkSize
				chunks = append(chunks, bf.data[off:off+chunkSize])
			}
		}
	}
	if len(chunks) == 0 {
		t.Fatal("no usable chunk in the corpus")
	}
	n := mb << 20 / chunkSize
	if n > 0xffff {
		t.Fatalf("%d MB needs %d chunks, more than a file header can declare (65535)", mb, n)
	}
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	var hdr [fileHeaderSize]byte
	le := binary.LittleEndian
	copy(hdr[:], fileMagic)
	le.PutUint64(hdr[16:], uint64(n-1)) // last chunk
	le.PutUint64(hdr[24:], 1)           // next record identifier (unused)
	le.PutUint32(hdr[32:], 128)         // header size
	le.PutUint16(hdr[36:], 1)           // minor version
	le.PutUint16(hdr[38:], 3)           // major version
	le.PutUint16(hdr[40:], fileHeaderSize)
	le.PutUint16(hdr[42:], uint16(n))
	le.PutUint32(hdr[124:], crc32.ChecksumIEEE(hdr[:120]))
	w := bufio.NewWriterSize(f, 1<<20)
	w.Write(hdr[:])
	for i := 0; i < n; i++ {
		w.Write(chunks[i%len(chunks)])
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s: %d chunks (%d MB) from %d distinct corpus chunks", out, n, (fileHeaderSize+n*chunkSize)>>20, len(chunks))
}
