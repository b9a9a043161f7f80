package evtx

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"iter"
	"os"
	"runtime"
)

// FileHeader is the 4 KiB header at the start of an EVTX file.
type FileHeader struct {
	FirstChunk   uint64
	LastChunk    uint64
	NextRecordID uint64
	HeaderSize   uint32
	MinorVersion uint16
	MajorVersion uint16
	BlockSize    uint16
	ChunkCount   uint16
	Flags        uint32
	Checksum     uint32
}

// File flags.
const (
	FlagDirty = 0x1 // the file was not closed cleanly
	FlagFull  = 0x2
)

// File is an open EVTX file. It is safe for concurrent use.
type File struct {
	Header FileHeader
	Name   string // used in error messages

	r        io.ReaderAt
	closer   io.Closer
	size     int64
	slots    int  // chunk slots present in the file (a truncated last one included)
	headerOK bool // header signature and checksum valid
	problems []*Error
}

// Open opens the EVTX file at path.
func Open(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, err
	}
	f, err := NewFile(fh, st.Size(), path)
	if err != nil {
		fh.Close()
		return nil, err
	}
	f.closer = fh
	return f, nil
}

// NewFile reads an EVTX file from r, which holds size bytes; name is used
// in error messages. A damaged file header is reported by [File.Problems]
// and the chunks are still read; only input that is not EVTX at all is an
// error.
func NewFile(r io.ReaderAt, size int64, name string) (*File, error) {
	f := &File{r: r, size: size, Name: name}
	var hdr [128]byte // the header's fields; the rest of its 4 KiB is unused
	n, err := r.ReadAt(hdr[:], 0)
	if n < 128 {
		if err == nil || err == io.EOF {
			return nil, fmt.Errorf("%s: %w", name, ErrNotEVTX)
		}
		return nil, fmt.Errorf("%s: reading file header: %w", name, err)
	}
	le := binary.LittleEndian
	h := &f.Header
	h.FirstChunk = le.Uint64(hdr[8:])
	h.LastChunk = le.Uint64(hdr[16:])
	h.NextRecordID = le.Uint64(hdr[24:])
	h.HeaderSize = le.Uint32(hdr[32:])
	h.MinorVersion = le.Uint16(hdr[36:])
	h.MajorVersion = le.Uint16(hdr[38:])
	h.BlockSize = le.Uint16(hdr[40:])
	h.ChunkCount = le.Uint16(hdr[42:])
	h.Flags = le.Uint32(hdr[120:])
	h.Checksum = le.Uint32(hdr[124:])

	f.headerOK = true
	if !bytes.Equal(hdr[:8], fileMagic) {
		var probe [8]byte
		if size < fileHeaderSize+chunkHeaderSize {
			return nil, fmt.Errorf("%s: %w", name, ErrNotEVTX)
		}
		if _, err := r.ReadAt(probe[:], fileHeaderSize); err != nil || !bytes.Equal(probe[:], chunkMagic) {
			return nil, fmt.Errorf("%s: %w", name, ErrNotEVTX)
		}
		f.headerOK = false
		f.problem(fmt.Sprintf("bad file signature %q; reading the chunks anyway", hdr[:8]))
	} else if sum := crc32.ChecksumIEEE(hdr[:120]); sum != h.Checksum {
		f.headerOK = false
		f.problem(fmt.Sprintf("file header checksum mismatch (stored %#08x, computed %#08x); reading every chunk in the file", h.Checksum, sum))
	}
	if h.Flags&FlagDirty != 0 && f.headerOK {
		// Not an error: the file was in use. Chunks past ChunkCount may hold
		// records; they are read when their signature is valid.
	}
	if size > fileHeaderSize {
		f.slots = int((size - fileHeaderSize + chunkSize - 1) / chunkSize)
		if rem := (size - fileHeaderSize) % chunkSize; rem != 0 && rem < chunkHeaderSize {
			f.slots-- // too short to hold even a chunk header
		}
	}
	if f.headerOK && int(h.ChunkCount) > f.slots {
		f.problem(fmt.Sprintf("file header declares %d chunks but the file holds %d: the file is truncated", h.ChunkCount, f.slots))
		f.problems[len(f.problems)-1].Skipped = true // the missing chunks' records are lost
	}
	return f, nil
}

func (f *File) problem(reason string) {
	f.problems = append(f.problems, &Error{File: f.Name, Chunk: -1, Reason: reason})
}

// Problems returns the problems found in the file header.
func (f *File) Problems() []*Error { return f.problems }

// Close closes the underlying file when it was opened by [Open].
func (f *File) Close() error {
	if f.closer != nil {
		return f.closer.Close()
	}
	return nil
}

// Size returns the size of the file in bytes.
func (f *File) Size() int64 { return f.size }

// ChunkCount returns the number of chunk slots in the file, which may be
// more than the header declares (a file not closed cleanly).
func (f *File) ChunkCount() int { return f.slots }

// NewChunk returns an empty chunk ready for [File.ReadChunk].
func NewChunk() *Chunk {
	return &Chunk{buf: make([]byte, chunkSize)}
}

// ReadChunk reads chunk i into c. It returns (false, nil) for an unused
// chunk slot past the end of the log (nothing to report), and an [*Error]
// when the chunk is damaged beyond reading. Checksum mismatches are not
// errors: they are listed by [Chunk.Problems] and the records are decoded.
func (f *File) ReadChunk(i int, c *Chunk) (bool, error) {
	if c.buf == nil {
		c.buf = make([]byte, chunkSize)
	}
	c.Index = i
	c.Offset = fileHeaderSize + int64(i)*chunkSize
	c.file = f.Name
	if f.headerOK && i >= int(f.Header.ChunkCount) {
		// A slot past the declared chunks is only used when it holds a
		// chunk signature: probe that first rather than read 64 KiB of
		// what is, in most files, empty space.
		var probe [8]byte
		if _, err := f.r.ReadAt(probe[:], c.Offset); (err == nil || err == io.EOF) && !bytes.Equal(probe[:], chunkMagic) {
			return false, nil // unused slot
		}
	}
	n, err := f.r.ReadAt(c.buf, c.Offset)
	if n < chunkSize {
		if err != nil && err != io.EOF {
			return false, &Error{File: f.Name, Chunk: i, Offset: c.Offset, Reason: "read: " + err.Error(), Skipped: true}
		}
		clear(c.buf[n:])
	}
	inDeclared := !f.headerOK || i < int(f.Header.ChunkCount)
	if !bytes.Equal(c.buf[:8], chunkMagic) {
		if !inDeclared || (!f.headerOK && isZero(c.buf[:n])) {
			return false, nil // unused slot
		}
	}
	if err := c.load(); err != nil {
		return false, err
	}
	if n < chunkSize {
		// Records are lost when the cut falls before the end of the records.
		c.problems = append(c.problems, c.errorf(n, 0, c.end > n, "chunk truncated: only %d of %d bytes present", n, chunkSize))
		if c.end > n {
			c.end = n
		}
	}
	return true, nil
}

// Records returns an iterator over every record of the file in order, on
// one goroutine. Problems (damaged chunks or records, checksum mismatches)
// are yielded as errors with a nil record, and iteration goes on. The
// record is valid only until the next iteration.
func (f *File) Records() iter.Seq2[*Record, error] {
	return func(yield func(*Record, error) bool) {
		for _, p := range f.problems {
			if !yield(nil, p) {
				return
			}
		}
		c := NewChunk()
		var r Record
		for i := 0; i < f.slots; i++ {
			ok, err := f.ReadChunk(i, c)
			if err != nil {
				if !yield(nil, err) {
					return
				}
				continue
			}
			if !ok {
				continue
			}
			for _, p := range c.problems {
				if !yield(nil, p) {
					return
				}
			}
			for {
				more, err := c.Next(&r)
				if !more {
					break
				}
				if err != nil {
					if !yield(nil, err) {
						return
					}
					continue
				}
				if !yield(&r, nil) {
					return
				}
			}
		}
	}
}

// Unit is one chunk slot of one file handed to a worker by [Scan].
type Unit struct {
	Path  string
	File  *File  // nil when the file could not be opened
	Chunk *Chunk // nil for an unused slot or when Err is set
	Index int    // chunk index in the file
	Err   error  // the file could not be opened, or the chunk not read
	First bool   // first unit of this file (report File.Problems here)
	Last  bool   // last unit of this file
}

// Scan opens the EVTX files at paths in turn, decodes their chunks on up to
// workers goroutines (all CPUs when workers <= 0), calls work for each chunk
// there, and passes the results to emit on the calling goroutine in order:
// file by file, chunk by chunk. Every file yields at least one unit. At
// most about twice as many units as workers are in flight, so memory stays
// bounded whatever the file sizes. A chunk and its records are only valid
// during work. Scan stops early when ctx is done or emit returns an error,
// and closes every file it opened.
func Scan[T any](ctx context.Context, paths []string, workers int, work func(u *Unit) T, emit func(T) error) error {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	type job struct {
		u   Unit
		out chan T
	}
	jobs := make(chan job)
	order := make(chan job, 2*workers)
	go func() { // producer: the only sender on jobs and order
		defer close(jobs)
		defer close(order)
		for _, p := range paths {
			f, err := Open(p)
			n := 1
			if err == nil && f.slots > 0 {
				n = f.slots
			}
			for i := 0; i < n; i++ {
				j := job{u: Unit{Path: p, File: f, Index: i, Err: err, First: i == 0, Last: i == n-1}, out: make(chan T, 1)}
				select {
				case order <- j:
				case <-ctx.Done():
					if f != nil {
						f.Close()
					}
					return
				}
				select {
				case jobs <- j:
				case <-ctx.Done():
					// order already holds j: the consumer closes f.
					return
				}
			}
		}
	}()
	done := make(chan struct{}, workers) // buffered: a panicking worker must not block in its deferred send
	for w := 0; w < workers; w++ {
		go func() {
			defer func() { done <- struct{}{} }()
			c := NewChunk()
			for j := range jobs {
				u := j.u
				if u.Err == nil && u.File.slots > 0 {
					ok, err := u.File.ReadChunk(u.Index, c)
					switch {
					case err != nil:
						u.Err = err
					case ok:
						u.Chunk = c
					}
				}
				j.out <- work(&u)
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
		if j.u.Last && j.u.File != nil {
			// Units are emitted in order, so every unit of this file is done
			// (after an error, a worker may still read it: it then gets a
			// read error on the closed file, which is discarded).
			j.u.File.Close()
		}
	}
	for w := 0; w < workers; w++ {
		<-done
	}
	if err == nil {
		err = ctx.Err()
	}
	return err
}
