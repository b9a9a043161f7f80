package source

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"

	"github.com/vigil-defense/vigil/evtx"
	"github.com/vigil-defense/vigil/internal/event"
)

// Batch limits for JSON and JSON Lines: a unit holds at most this many
// records or about this many bytes, whichever comes first.
const (
	batchRecords = 512
	batchBytes   = 1 << 20
	// maxRecord bounds one JSON record (a line, or a value of a document):
	// a longer one is reported and skipped, so memory stays bounded.
	maxRecord = 64 << 20
)

// Unit is a slice of work handed to a worker by Scan: one EVTX chunk, or a
// batch of consecutive JSON records of one file. A Unit and everything read
// from it are valid only during the work call that receives it.
type Unit struct {
	Path   string
	Format Format
	Index  int  // chunk index (EVTX) or batch index (JSON) within the file
	First  bool // first unit of the file (file-level problems are attached here)
	Last   bool // last unit of the file
	Gzip   bool // the file is gzip-compressed
	// Err is a file-level problem (the file cannot be opened, is not a
	// supported format, or its gzip stream is damaged). It is set on one
	// unit of the file, which carries no records; for a damaged stream it
	// is the last unit and the units before it hold the records read
	// before the damage.
	Err error

	size     int64 // file size on disk
	consumed int64 // bytes of the file attributed to this unit

	file     *evtx.File
	chunk    *evtx.Chunk // set by the worker when the chunk was read
	batch    *batch
	syslog   *syslogInfo // syslog files (syslog.go)
	problems []error
	w        *worker
}

// Size returns the size of the unit's file on disk (compressed size for a
// gzip file); the same on every unit of a file: count it on the First unit.
func (u *Unit) Size() int64 { return u.size }

// Consumed returns how many bytes of the file on disk this unit accounts
// for; summed over the units of a file it gives about Size, so a caller can
// show progress in MB/s within a large file.
func (u *Unit) Consumed() int64 { return u.consumed }

// Problems returns warnings attached to the unit, to be reported once: on
// the First unit of an EVTX file the header problems, and on every EVTX
// unit its chunk's checksum and structure problems (each an *evtx.Error,
// with Skipped set when the chunk could not be read at all). JSON units
// have none: their problems are per record, passed to Events' problem.
func (u *Unit) Problems() []error { return u.problems }

// record is one JSON record of a batch: data[start:end].
type record struct {
	start, end int
	line       int   // line number of the record's first byte (1-based)
	offset     int64 // byte offset in the (decompressed) stream
	tooLong    bool  // longer than maxRecord: skipped, data empty
}

type batch struct {
	data []byte
	recs []record
}

var batchPool = sync.Pool{New: func() any { return new(batch) }}

// headPool holds the buffers produce sniffs a file's format with.
var headPool = sync.Pool{New: func() any { return new([SniffLen]byte) }}

func getBatch() *batch {
	b := batchPool.Get().(*batch)
	b.data = b.data[:0]
	b.recs = b.recs[:0]
	return b
}

func putBatch(b *batch) {
	if cap(b.data) > 4*batchBytes {
		return // do not keep the buffer of an oversized record
	}
	batchPool.Put(b)
}

// worker is the per-goroutine state that Unit.Events decodes with.
type worker struct {
	chunk   *evtx.Chunk
	rec     evtx.Record
	scratch []byte
	flat    flattener
}

func newWorker() *worker {
	w := &worker{}
	w.flat.names = make(map[string]string)
	return w
}

// Events calls fn for each event of the unit, in order, reusing ev between
// calls: fn must not keep ev or its values (Clone to keep one). Per-record
// problems (a damaged EVTX record: its *evtx.Error; a JSON record that does
// not parse: a *JSONError, "path:line: invalid JSON: …") are passed to
// problem, and the next record goes on. It returns the number of events
// passed to fn.
func (u *Unit) Events(ev *event.Event, fn func(ev *event.Event), problem func(error)) (records int) {
	if u.Err != nil {
		return 0
	}
	if u.w == nil {
		u.w = newWorker()
	}
	switch {
	case u.chunk != nil:
		return u.evtxEvents(ev, fn, problem)
	case u.batch != nil && u.Format == FormatSyslog:
		return u.syslogEvents(ev, fn, problem)
	case u.batch != nil:
		return u.jsonEvents(ev, fn, problem)
	}
	return 0
}

// Scan reads the files at paths and hands their units to work on workers
// goroutines (all CPUs when workers <= 0), passing the results to emit on
// the calling goroutine in order: file by file, unit by unit. One producer
// goroutine opens the files in turn and enumerates their units: the chunk
// slots of an EVTX file (each chunk is read and decoded by the worker), or
// batches of consecutive JSON records read sequentially, decompressing gzip
// there. Every file yields at least one unit. At most workers+1 units hold
// file data (being worked, or handed over), and at most 8×workers more wait
// with their results to be emitted, so memory stays bounded whatever the
// file sizes. Scan stops early when ctx is done or emit returns an error,
// returns that error, and closes every file it opened.
func Scan[T any](ctx context.Context, paths []string, workers int, work func(u *Unit) T, emit func(T) error) error {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	type job struct {
		u   *Unit
		out chan T
	}
	jobs := make(chan job)
	// Results wait here to be emitted in order. A unit whose results take
	// emit long (thousands of detections to write) must not stall the
	// workers, so they may run several units per worker ahead; the units
	// waiting hold their results only (batches go back when worked).
	order := make(chan job, 8*workers)
	send := func(u *Unit) sendResult {
		j := job{u: u, out: make(chan T, 1)}
		select {
		case order <- j:
		case <-ctx.Done():
			return notQueued
		}
		select {
		case jobs <- j:
			return sent
		case <-ctx.Done():
			return queuedOnly
		}
	}
	go func() { // producer: the only sender on jobs and order
		defer close(jobs)
		defer close(order)
		for _, p := range paths {
			if !produce(p, send) {
				return
			}
		}
	}()
	done := make(chan struct{}, workers) // buffered: a panicking worker must not block in its deferred send
	for range workers {
		go func() {
			defer func() { done <- struct{}{} }()
			w := newWorker()
			for j := range jobs {
				u := j.u
				u.w = w
				if u.file != nil && u.Err == nil {
					if w.chunk == nil {
						w.chunk = evtx.NewChunk()
					}
					ok, err := u.file.ReadChunk(u.Index, w.chunk)
					switch {
					case err != nil:
						u.problems = append(u.problems, err)
					case ok:
						u.chunk = w.chunk
						for _, p := range w.chunk.Problems() {
							u.problems = append(u.problems, p)
						}
					}
				}
				v := work(u)
				if u.batch != nil {
					putBatch(u.batch)
					u.batch = nil
				}
				u.chunk = nil
				j.out <- v
			}
		}()
	}
	var err error
	for j := range order {
		if err == nil {
			select {
			case v := <-j.out:
				err = emit(v)
			case <-ctx.Done():
				err = ctx.Err()
			}
			if err != nil {
				cancel()
			}
		}
		if j.u.Last && j.u.file != nil {
			// Units are emitted in order, so every unit of this file is done
			// (after an error a worker may still read it and get an error on
			// the closed file, which is discarded with its result).
			j.u.file.Close()
		}
	}
	for range workers {
		<-done
	}
	if err == nil {
		err = ctx.Err()
	}
	return err
}

type sendResult int

const (
	sent       sendResult = iota
	notQueued             // cancelled before the unit was queued
	queuedOnly            // queued for emit (the consumer sees it) but given to no worker
)

// produce enumerates the units of the file at path; it returns false when
// Scan was cancelled.
func produce(path string, send func(*Unit) sendResult) bool {
	errUnit := func(format Format, gz bool, size int64, err error) bool {
		return send(&Unit{Path: path, Format: format, Gzip: gz, First: true, Last: true, Err: err, size: size, consumed: size}) == sent
	}
	f, err := os.Open(path)
	if err != nil {
		return errUnit(FormatUnknown, false, 0, fmt.Errorf("cannot open %s: %w", path, unwrapPathErr(err)))
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return errUnit(FormatUnknown, false, 0, fmt.Errorf("cannot read %s: %w", path, unwrapPathErr(err)))
	}
	size := st.Size()
	if st.IsDir() {
		f.Close()
		return errUnit(FormatUnknown, false, 0, fmt.Errorf("%s is a directory: expand directories with source.Expand first", path))
	}
	hp := headPool.Get().(*[SniffLen]byte) // one file at a time: reused, not kept
	defer headPool.Put(hp)
	head := hp[:]
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		f.Close()
		return errUnit(FormatUnknown, false, size, fmt.Errorf("cannot read %s: %w", path, unwrapPathErr(err)))
	}
	head = head[:n]
	format, gz := Detect(head), IsGzip(head)
	switch {
	case n == 0 || int64(n) == size && isBlank(bytes.TrimPrefix(head, utf8BOM)):
		f.Close()
		return send(&Unit{Path: path, First: true, Last: true}) == sent // empty: nothing to read
	case format == FormatUnknown:
		f.Close()
		what := "not a supported format"
		if gz {
			what = "gzip-compressed, but its content is not a supported format"
		}
		return errUnit(format, gz, size, fmt.Errorf("%s: %s (vigil reads EVTX, JSON, JSON Lines and syslog text files, optionally gzip-compressed); leave it out of the paths", path, what))
	case format == FormatEVTX && gz:
		f.Close()
		return errUnit(format, gz, size, fmt.Errorf("%s: gzip-compressed EVTX is not supported: decompress it first (gunzip -k %s)", path, path))
	case format == FormatEVTX:
		f.Close()
		return produceEVTX(path, size, send)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return errUnit(format, gz, size, fmt.Errorf("cannot read %s: %w", path, unwrapPathErr(err)))
	}
	defer f.Close()
	if format == FormatSyslog {
		return produceSyslog(path, f, size, st.ModTime(), gz, send)
	}
	return produceJSON(path, f, size, format, gz, send)
}

func produceEVTX(path string, size int64, send func(*Unit) sendResult) bool {
	ef, err := evtx.Open(path)
	if err != nil {
		return send(&Unit{Path: path, Format: FormatEVTX, First: true, Last: true, Err: err, size: size, consumed: size}) == sent
	}
	n := ef.ChunkCount()
	if n == 0 {
		n = 1 // a header without chunks still yields a unit for its problems
	}
	var consumed int64
	for i := range n {
		u := &Unit{Path: path, Format: FormatEVTX, Index: i, First: i == 0, Last: i == n-1, size: size, file: ef}
		u.consumed = min(size, int64(4096+(i+1)*65536)) - consumed
		consumed += u.consumed
		if i == 0 {
			for _, p := range ef.Problems() {
				u.problems = append(u.problems, p)
			}
		}
		if ef.ChunkCount() == 0 {
			u.file = nil // nothing to read; close here
			ef.Close()
			return send(u) == sent
		}
		switch send(u) {
		case sent:
		case queuedOnly:
			if !u.Last {
				ef.Close() // the consumer closes the file only on its last unit
			}
			return false
		default:
			ef.Close()
			return false
		}
	}
	return true
}

// countingReader counts the bytes read from the file on disk.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func produceJSON(path string, f io.Reader, size int64, format Format, gz bool, send func(*Unit) sendResult) bool {
	cr := &countingReader{r: f}
	var r io.Reader = cr
	if gz {
		zr, err := gzip.NewReader(bufio.NewReaderSize(cr, 64<<10))
		if err != nil {
			return send(&Unit{Path: path, Format: format, Gzip: true, First: true, Last: true, size: size, consumed: size,
				Err: fmt.Errorf("%s: damaged gzip header: %w", path, err)}) == sent
		}
		defer zr.Close()
		r = zr
	}
	p := &jsonProducer{path: path, format: format, gz: gz, size: size, cr: cr, send: send}
	br := bufio.NewReaderSize(r, 256<<10)
	var err error
	if format == FormatJSONL || format == FormatSyslog {
		err = p.lines(br)
	} else {
		err = p.document(br)
	}
	if p.cancelled {
		return false
	}
	if err != nil {
		if p.pending != nil && !p.flush() {
			return false
		}
		u := p.unit(nil)
		u.Err = err
		u.Last = true
		return send(u) == sent
	}
	if p.pending == nil {
		p.pending = p.unit(nil)
	}
	p.pending.Last = true
	p.pending.consumed += size - p.accounted
	return send(p.pending) == sent
}

// jsonProducer batches the records of one JSON or JSON Lines file. It
// holds one full batch back so that the file's last unit can be marked.
type jsonProducer struct {
	path      string
	format    Format
	gz        bool
	size      int64
	cr        *countingReader
	send      func(*Unit) sendResult
	index     int
	accounted int64 // bytes on disk attributed to units so far
	pending   *Unit
	cancelled bool
}

func (p *jsonProducer) unit(b *batch) *Unit {
	u := &Unit{Path: p.path, Format: p.format, Gzip: p.gz, Index: p.index, First: p.index == 0, size: p.size, batch: b}
	p.index++
	u.consumed = min(p.cr.n, p.size) - p.accounted
	p.accounted += u.consumed
	return u
}

// flush sends the pending unit; it returns false when Scan was cancelled.
func (p *jsonProducer) flush() bool {
	u := p.pending
	p.pending = nil
	if p.send(u) != sent {
		p.cancelled = true
		return false
	}
	return true
}

// full passes on a full batch; it returns false when Scan was cancelled.
func (p *jsonProducer) full(b *batch) bool {
	if p.pending != nil && !p.flush() {
		putBatch(b)
		return false
	}
	p.pending = p.unit(b)
	return true
}

// streamError describes a read error of the (decompressed) stream.
func (p *jsonProducer) streamError(err error, line int) error {
	if p.gz {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("%s: gzip stream ends unexpectedly after line %d: the file is truncated; the events before were read", p.path, line)
		}
		return fmt.Errorf("%s: damaged gzip data after line %d: %w; the events before were read", p.path, line, err)
	}
	return fmt.Errorf("cannot read %s after line %d: %w", p.path, line, unwrapPathErr(err))
}

// lines reads JSON Lines: every non-blank line is a record.
func (p *jsonProducer) lines(br *bufio.Reader) error {
	skipBOM(br)
	b := getBatch()
	line := 0
	var off int64
	for {
		line++
		start, recOff := len(b.data), off
		tooLong := false
		var err error
		for {
			var frag []byte
			frag, err = br.ReadSlice('\n')
			off += int64(len(frag))
			if !tooLong {
				b.data = append(b.data, frag...)
				if len(b.data)-start > maxRecord {
					tooLong = true
					b.data = b.data[:start]
				}
			}
			if err != bufio.ErrBufferFull {
				break
			}
		}
		if err != nil && err != io.EOF {
			b.data = b.data[:start] // a partial line before damage is not a record
			if len(b.recs) > 0 {
				if !p.full(b) {
					return nil
				}
			} else {
				putBatch(b)
			}
			return p.streamError(err, line-1)
		}
		switch {
		case tooLong:
			b.recs = append(b.recs, record{start: start, end: start, line: line, offset: recOff, tooLong: true})
		case isBlank(b.data[start:]):
			b.data = b.data[:start]
		default:
			b.recs = append(b.recs, record{start: start, end: len(b.data), line: line, offset: recOff})
		}
		if err == io.EOF {
			break
		}
		if len(b.recs) >= batchRecords || len(b.data) >= batchBytes {
			if !p.full(b) {
				return nil
			}
			b = getBatch()
		}
	}
	if len(b.recs) == 0 {
		putBatch(b)
		return nil
	}
	p.full(b)
	return nil
}

func isBlank(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return false
		}
	}
	return true
}

func skipBOM(br *bufio.Reader) {
	if b, _ := br.Peek(3); len(b) == 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF {
		br.Discard(3)
	}
}
