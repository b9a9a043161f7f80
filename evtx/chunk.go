package evtx

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

const (
	fileHeaderSize  = 4096
	chunkSize       = 65536
	chunkHeaderSize = 512
	recordHeaderLen = 24
)

var (
	fileMagic   = []byte("ElfFile\x00")
	chunkMagic  = []byte("ElfChnk\x00")
	recordMagic = []byte{0x2a, 0x2a, 0x00, 0x00}
)

// ChunkHeader is the 512-byte header of a chunk.
type ChunkHeader struct {
	FirstRecordNumber uint64
	LastRecordNumber  uint64
	FirstRecordID     uint64
	LastRecordID      uint64
	HeaderSize        uint32
	LastRecordOffset  uint32
	FreeSpaceOffset   uint32
	DataChecksum      uint32
	Flags             uint32
	HeaderChecksum    uint32
}

// Chunk holds one decoded 64 KiB chunk: its buffer, its header and the
// caches of names and compiled templates. Reuse a Chunk across calls to
// [File.ReadChunk] to avoid allocation; records read from it are valid until
// then.
type Chunk struct {
	Index  int   // chunk index in the file
	Offset int64 // absolute file offset of the chunk
	Header ChunkHeader

	file      string
	buf       []byte
	names     map[uint32]string
	templates map[uint32]*template
	problems  []*Error
	dec       decoder
	pos       int // next record offset
	end       int // end of record data
	done      bool

	// Reused from chunk to chunk: the operations of every template compiled
	// in the chunk (one array), spare template structs, and the strings of
	// names and template text by their UTF-16 bytes (kept across chunks,
	// bounded), so that steady-state decoding does not allocate.
	arena  []op
	tpool  []*template
	tused  int
	intern map[string]string
}

// Problems returns the checksum mismatches and structural problems found in
// the chunk header; record problems are returned by [Chunk.Next].
func (c *Chunk) Problems() []*Error { return c.problems }

func (c *Chunk) errorf(off int, rec uint64, skipped bool, format string, args ...any) *Error {
	return &Error{File: c.file, Chunk: c.Index, Offset: c.Offset + int64(off), Record: rec, Reason: fmt.Sprintf(format, args...), Skipped: skipped}
}

// load parses the chunk header from c.buf (already filled) and resets the
// caches. It returns an error when the chunk cannot be read at all.
func (c *Chunk) load() error {
	b := c.buf
	c.problems = c.problems[:0]
	clear(c.names)
	clear(c.templates)
	c.arena = c.arena[:0]
	c.tused = 0
	if c.names == nil {
		c.names = make(map[uint32]string, 64)
		c.templates = make(map[uint32]*template, 16)
	}
	c.done = false
	if !bytes.Equal(b[:8], chunkMagic) {
		if isZero(b) {
			return c.errorf(0, 0, true, "chunk is all zero bytes (no records)")
		}
		return c.errorf(0, 0, true, "bad chunk signature %q (want \"ElfChnk\\x00\"); chunk skipped", b[:8])
	}
	le := binary.LittleEndian
	h := &c.Header
	h.FirstRecordNumber = le.Uint64(b[8:])
	h.LastRecordNumber = le.Uint64(b[16:])
	h.FirstRecordID = le.Uint64(b[24:])
	h.LastRecordID = le.Uint64(b[32:])
	h.HeaderSize = le.Uint32(b[40:])
	h.LastRecordOffset = le.Uint32(b[44:])
	h.FreeSpaceOffset = le.Uint32(b[48:])
	h.DataChecksum = le.Uint32(b[52:])
	h.Flags = le.Uint32(b[120:])
	h.HeaderChecksum = le.Uint32(b[124:])

	crc := crc32.NewIEEE()
	crc.Write(b[:120])
	crc.Write(b[128:chunkHeaderSize])
	headerBad := false
	if sum := crc.Sum32(); sum != h.HeaderChecksum {
		headerBad = true
		c.problems = append(c.problems, c.errorf(124, 0, false, "chunk header checksum mismatch (stored %#08x, computed %#08x); decoding anyway", h.HeaderChecksum, sum))
	}
	end := int(h.FreeSpaceOffset)
	if end < chunkHeaderSize || end > chunkSize {
		c.problems = append(c.problems, c.errorf(48, 0, false, "free space offset %#x outside the chunk; scanning the whole chunk for records", h.FreeSpaceOffset))
		end = chunkSize
	} else if sum := crc32.ChecksumIEEE(b[chunkHeaderSize:end]); sum != h.DataChecksum {
		c.problems = append(c.problems, c.errorf(52, 0, false, "event records checksum mismatch (stored %#08x, computed %#08x); decoding anyway", h.DataChecksum, sum))
	}
	if headerBad {
		// The free space offset may be the damaged field: read up to the
		// end of the record at the last record offset if that is further.
		if e := c.lastRecordEnd(); e > end {
			end = e
		}
	}
	c.pos = chunkHeaderSize
	c.end = end
	return nil
}

// lastRecordEnd returns the end of the record at the header's last record
// offset, or 0 when no well-formed record starts there.
func (c *Chunk) lastRecordEnd() int {
	b := c.buf
	off := int(c.Header.LastRecordOffset)
	if off < chunkHeaderSize || off+recordHeaderLen > chunkSize || !bytes.Equal(b[off:off+4], recordMagic) {
		return 0
	}
	size := int(binary.LittleEndian.Uint32(b[off+4:]))
	if size < recordHeaderLen+4 || off+size > chunkSize || int(binary.LittleEndian.Uint32(b[off+size-4:])) != size {
		return 0
	}
	return off + size
}

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// Next decodes the next record of the chunk into r. It returns false when
// the chunk has no more records. When a record is damaged, Next returns true
// with err set (and r not valid); the caller reports err and calls Next again,
// which resumes at the next record signature.
func (c *Chunk) Next(r *Record) (ok bool, err error) {
	if c.done {
		return false, nil
	}
	b := c.buf
	for {
		if c.pos+recordHeaderLen > c.end {
			c.done = true
			return false, nil
		}
		off := c.pos
		if !bytes.Equal(b[off:off+4], recordMagic) {
			// Zero padding after the last record ends the chunk.
			if isZero(b[off:c.end]) {
				c.done = true
				return false, nil
			}
			next := c.resync(off + 1)
			c.pos = next
			return true, c.errorf(off, 0, true, "no record signature; skipped %d bytes to the next record", next-off)
		}
		le := binary.LittleEndian
		size := int(le.Uint32(b[off+4:]))
		id := le.Uint64(b[off+8:])
		if size < recordHeaderLen+4 || off+size > chunkSize {
			next := c.resync(off + 4)
			c.pos = next
			return true, c.errorf(off, id, true, "record size %d does not fit the chunk; skipped to the next record", size)
		}
		if copy := int(le.Uint32(b[off+size-4:])); copy != size {
			next := c.resync(off + 4)
			c.pos = next
			return true, c.errorf(off, id, true, "record size %d and its trailing copy %d differ; skipped to the next record", size, copy)
		}
		c.pos = off + size
		r.reset()
		r.chunk = c
		r.ID = id
		r.Offset = c.Offset + int64(off)
		r.Written = filetimeToTime(le.Uint64(b[off+16:]))
		c.dec.reset(c, r)
		if err := c.dec.decodeRecord(off+recordHeaderLen, off+size-4); err != nil {
			return true, c.errorf(off, id, true, "%v; record skipped", err)
		}
		return true, nil
	}
}

// resync finds the next plausible record signature at or after from.
func (c *Chunk) resync(from int) int {
	b := c.buf
	for from < c.end {
		i := bytes.Index(b[from:c.end], recordMagic)
		if i < 0 {
			return c.end
		}
		at := from + i
		if at+recordHeaderLen <= c.end {
			size := int(binary.LittleEndian.Uint32(b[at+4:]))
			if size >= recordHeaderLen+4 && at+size <= chunkSize && int(binary.LittleEndian.Uint32(b[at+size-4:])) == size {
				return at
			}
		}
		from = at + 1
	}
	return c.end
}

// name returns the BinXML name stored at chunk offset off.
func (c *Chunk) name(off uint32) (string, int, error) {
	if s, ok := c.names[off]; ok {
		n := int(binary.LittleEndian.Uint16(c.buf[off+6:]))
		return s, 8 + 2*n + 2, nil
	}
	b := c.buf
	if int(off)+8 > len(b) {
		return "", 0, bxErr(int(off), "name offset outside the chunk")
	}
	n := int(binary.LittleEndian.Uint16(b[off+6:]))
	if int(off)+8+2*n > len(b) {
		return "", 0, bxErr(int(off), "name of %d characters runs past the chunk", n)
	}
	s := c.internUTF16(b[off+8 : int(off)+8+2*n])
	c.names[off] = s
	return s, 8 + 2*n + 2, nil
}

// Bounds of the string intern table of a Chunk.
const (
	maxInterned   = 4096 // strings; the table is emptied when full
	maxInternSize = 256  // UTF-16 bytes; longer strings are not interned
)

// internUTF16 returns the string of UTF-16LE bytes u, from the intern table
// when the same bytes were decoded before (in this chunk or an earlier one).
func (c *Chunk) internUTF16(u []byte) string {
	if len(u) > maxInternSize {
		return decodeUTF16(u)
	}
	if s, ok := c.intern[string(u)]; ok {
		return s
	}
	if c.intern == nil || len(c.intern) >= maxInterned {
		c.intern = make(map[string]string, 256)
	}
	s := decodeUTF16(u)
	c.intern[string(u)] = s
	return s
}

// newTemplate returns a zeroed template for offset off, reusing the structs
// of earlier chunks.
func (c *Chunk) newTemplate(off uint32) *template {
	if c.tused == len(c.tpool) {
		c.tpool = append(c.tpool, new(template))
	}
	t := c.tpool[c.tused]
	c.tused++
	*t = template{off: off}
	return t
}
