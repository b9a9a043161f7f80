package evtx

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"os"
	"slices"
	"testing"
)

// Fuzz targets. Each is seeded from real files of the shared corpus, read at
// test time (seeding is skipped when the corpus is absent), plus a few
// hand-made inputs; crashers found by `go test -fuzz` are kept under
// testdata/fuzz/<target> and replayed by every `go test`.
//
//	go test ./evtx -run '^$' -fuzz '^FuzzChunk$' -fuzztime 10m -parallel 1

// maxRenderedRecord bounds the rendering of one record from a 64 KiB chunk.
// The decoder limits a record to maxNodes nodes, pieces and attributes; a
// rendering larger than this means the limits no longer hold.
const maxRenderedRecord = 64 << 20

// checkFile iterates every record of f and checks the invariants that hold
// for any input: problems are *Error values positioned inside the file (the
// file header, or the chunk they name), and every record renders to valid,
// bounded JSON and to bounded XML.
func checkFile(t *testing.T, f *File) (records int) {
	t.Helper()
	var buf []byte
	for r, err := range f.Records() {
		if err != nil {
			checkError(t, f, err)
			continue
		}
		records++
		buf = r.AppendJSON(buf[:0])
		if !json.Valid(buf) {
			t.Fatalf("record %d at %#x: invalid JSON: %.2000s", r.ID, r.Offset, buf)
		}
		if len(buf) > maxRenderedRecord {
			t.Fatalf("record %d at %#x: JSON rendering of %d bytes", r.ID, r.Offset, len(buf))
		}
		buf = r.AppendXML(buf[:0])
		if len(buf) > maxRenderedRecord {
			t.Fatalf("record %d at %#x: XML rendering of %d bytes", r.ID, r.Offset, len(buf))
		}
		if c := r.chunk; c == nil || r.Offset < c.Offset+chunkHeaderSize || r.Offset >= c.Offset+chunkSize {
			t.Fatalf("record %d: offset %#x outside its chunk", r.ID, r.Offset)
		}
		_ = r.System()
		r.EventData(func(name string, value []byte) bool { return true })
	}
	return records
}

// checkError requires err to be an *Error positioned in f: the file header
// (Chunk -1) or inside the chunk it names.
func checkError(t *testing.T, f *File, err error) {
	t.Helper()
	e, ok := err.(*Error)
	if !ok {
		t.Fatalf("problem is a %T, not an *evtx.Error: %v", err, err)
	}
	if e.File != f.Name {
		t.Fatalf("problem names file %q, want %q: %v", e.File, f.Name, e)
	}
	if e.Reason == "" {
		t.Fatalf("problem without a reason: %#v", e)
	}
	if e.Chunk == -1 {
		if e.Offset < 0 || e.Offset >= fileHeaderSize {
			t.Fatalf("file header problem at offset %#x: %v", e.Offset, e)
		}
		return
	}
	if e.Chunk < 0 || e.Chunk >= f.ChunkCount() {
		t.Fatalf("problem names chunk %d of %d: %v", e.Chunk, f.ChunkCount(), e)
	}
	start := int64(fileHeaderSize) + int64(e.Chunk)*chunkSize
	if e.Offset < start || e.Offset >= start+chunkSize {
		t.Fatalf("problem of chunk %d at offset %#x, outside [%#x, %#x): %v", e.Chunk, e.Offset, start, start+chunkSize, e)
	}
}

// testFileHeader returns a valid 4 KiB file header declaring chunks chunks.
func testFileHeader(chunks int) []byte {
	le := binary.LittleEndian
	h := make([]byte, fileHeaderSize)
	copy(h, fileMagic)
	le.PutUint64(h[16:], uint64(max(chunks-1, 0))) // last chunk number
	le.PutUint64(h[24:], 1<<20)                    // next record identifier
	le.PutUint32(h[32:], 128)                      // header size
	le.PutUint16(h[36:], 1)                        // minor version
	le.PutUint16(h[38:], 3)                        // major version
	le.PutUint16(h[40:], fileHeaderSize)           // header block size
	le.PutUint16(h[42:], uint16(chunks))
	le.PutUint32(h[124:], crc32.ChecksumIEEE(h[:120]))
	return h
}

// testChunk returns a 64 KiB chunk holding one record with the given BinXML
// body at chunk offset 512 (where the first record of a real chunk is), with
// valid sizes and checksums. The body is cut to fit the chunk.
func testChunk(body []byte, id uint64) []byte {
	le := binary.LittleEndian
	c := make([]byte, chunkSize)
	copy(c, chunkMagic)
	if max := chunkSize - chunkHeaderSize - recordHeaderLen - 4; len(body) > max {
		body = body[:max]
	}
	size := recordHeaderLen + len(body) + 4
	le.PutUint64(c[8:], 1)
	le.PutUint64(c[16:], 1)
	le.PutUint64(c[24:], id)
	le.PutUint64(c[32:], id)
	le.PutUint32(c[40:], 128)
	le.PutUint32(c[44:], chunkHeaderSize)
	le.PutUint32(c[48:], uint32(chunkHeaderSize+size))
	r := c[chunkHeaderSize:]
	copy(r, recordMagic)
	le.PutUint32(r[4:], uint32(size))
	le.PutUint64(r[8:], id)
	le.PutUint64(r[16:], 133500000000000000) // 2024-01-21
	copy(r[recordHeaderLen:], body)
	le.PutUint32(r[size-4:], uint32(size))
	le.PutUint32(c[52:], crc32.ChecksumIEEE(c[chunkHeaderSize:chunkHeaderSize+size]))
	fixChunkHeaderChecksum(c)
	return c
}

// fixChunkHeaderChecksum recomputes the header checksum of chunk c.
func fixChunkHeaderChecksum(c []byte) {
	crc := crc32.NewIEEE()
	crc.Write(c[:120])
	crc.Write(c[128:chunkHeaderSize])
	binary.LittleEndian.PutUint32(c[124:], crc.Sum32())
}

// seedFiles returns a few corpus files for seeding, or nil when the corpus
// is absent: fuzz targets then run from their hand-made seeds alone.
func seedFiles(f *testing.F, sub string, n int) [][]byte {
	if _, err := os.Stat(corpusDir); err != nil {
		f.Logf("shared corpus not found at %s: seeding from hand-made inputs only", corpusDir)
		return nil
	}
	paths := corpusFiles(f, sub)
	slices.Sort(paths)
	var out [][]byte
	step := max(len(paths)/n, 1)
	for i := 0; i < len(paths) && len(out) < n; i += step {
		b, err := os.ReadFile(paths[i])
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// seedChunks returns up to n chunks holding records from corpus files.
func seedChunks(f *testing.F, n int) [][]byte {
	var out [][]byte
	for _, sub := range []string{"sigma/regression_data", "evtx"} {
		for _, b := range seedFiles(f, sub, n) {
			for off := fileHeaderSize; off+chunkSize <= len(b) && len(out) < n; off += chunkSize {
				if c := b[off : off+chunkSize]; bytes.HasPrefix(c, chunkMagic) {
					out = append(out, c)
					if sub == "sigma/regression_data" {
						break // one chunk per regression sample
					}
				}
			}
		}
	}
	return out
}

// FuzzFileHeader opens arbitrary bytes as an EVTX file and reads every
// record.
func FuzzFileHeader(f *testing.F) {
	for _, b := range seedFiles(f, "sigma/regression_data", 4) {
		f.Add(b)                  // a whole one-chunk file
		f.Add(b[:fileHeaderSize]) // the header alone
	}
	for _, b := range seedFiles(f, "evtx", 4) {
		if len(b) > fileHeaderSize+2*chunkSize {
			f.Add(b[:fileHeaderSize+2*chunkSize]) // fewer chunks than the header declares
		}
	}
	f.Add([]byte{})
	f.Add([]byte("ElfFile\x00"))
	f.Add(testFileHeader(0))
	f.Add(append(testFileHeader(1), testChunk([]byte{0x0f, 1, 1, 0, 0}, 1)...))
	f.Add(append(testFileHeader(3), make([]byte, chunkSize)...))
	f.Add(append(make([]byte, fileHeaderSize), testChunk(nil, 7)...)) // no file header, a chunk
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := NewFile(bytes.NewReader(data), int64(len(data)), "fuzz.evtx")
		if err != nil {
			if file != nil {
				t.Fatalf("NewFile returned a file and an error: %v", err)
			}
			return
		}
		for _, p := range file.Problems() {
			checkError(t, file, p)
		}
		if n := file.ChunkCount(); n < 0 || int64(n) > (int64(len(data))+chunkSize)/chunkSize {
			t.Fatalf("%d chunk slots in %d bytes", n, len(data))
		}
		checkFile(t, file)
	})
}

// FuzzChunk decodes arbitrary bytes as the one chunk of a file with a valid
// header, and renders every record.
func FuzzChunk(f *testing.F) {
	for _, c := range seedChunks(f, 8) {
		f.Add(c)
	}
	f.Add([]byte{})
	f.Add(testChunk(nil, 1))
	f.Add(testChunk([]byte{0x0f, 1, 1, 0, 0x01, 0xff, 0xff, 0x0c, 0, 0, 0, 0x14, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 1))
	hdr := testFileHeader(1)
	f.Fuzz(func(t *testing.T, chunk []byte) {
		data := make([]byte, fileHeaderSize+chunkSize)
		copy(data, hdr)
		copy(data[fileHeaderSize:], chunk)
		file, err := NewFile(bytes.NewReader(data), int64(len(data)), "fuzz.evtx")
		if err != nil {
			t.Fatalf("NewFile with a valid header: %v", err)
		}
		checkFile(t, file)
	})
}

// FuzzBinXML decodes arbitrary bytes as the BinXML body of the one record
// of an otherwise valid chunk.
func FuzzBinXML(f *testing.F) {
	// The first record of a real chunk sits at chunk offset 512, as in
	// testChunk, so its inline template definitions and names keep their
	// offsets.
	for _, c := range seedChunks(f, 8) {
		size := int(binary.LittleEndian.Uint32(c[chunkHeaderSize+4:]))
		if bytes.HasPrefix(c[chunkHeaderSize:], recordMagic) && size >= recordHeaderLen+4 && chunkHeaderSize+size <= chunkSize {
			f.Add(c[chunkHeaderSize+recordHeaderLen : chunkHeaderSize+size-4])
		}
	}
	// Plain BinXML, no template: <Event a="x">text</Event>, with inline names.
	f.Add(plainBinXML())
	f.Add([]byte{0x0f, 1, 1, 0, 0x00})
	f.Add([]byte{0x0f, 1, 1, 0, 0x0c, 0, 0, 0, 0, 0, 0x26, 0x02, 0, 0})
	hdr := testFileHeader(1)
	f.Fuzz(func(t *testing.T, body []byte) {
		data := append(slices.Clip(hdr), testChunk(body, 42)...)
		file, err := NewFile(bytes.NewReader(data), int64(len(data)), "fuzz.evtx")
		if err != nil {
			t.Fatalf("NewFile with a valid header: %v", err)
		}
		for _, p := range file.Problems() {
			t.Fatalf("valid file header reported: %v", p)
		}
		checkFile(t, file)
	})
}

// plainBinXML returns the BinXML of <Event a="x">text</Event> without a
// template, with its names stored inline, for a record at chunk offset 512.
func plainBinXML() []byte {
	le := binary.LittleEndian
	base := chunkHeaderSize + recordHeaderLen // chunk offset of the body
	var b []byte
	name := func(s string) {
		off := base + len(b) + 4
		b = le.AppendUint32(b, uint32(off))
		b = le.AppendUint32(b, 0) // next name
		b = le.AppendUint16(b, 0) // hash
		b = le.AppendUint16(b, uint16(len(s)))
		for _, r := range s {
			b = le.AppendUint16(b, uint16(r))
		}
		b = le.AppendUint16(b, 0)
	}
	b = append(b, 0x0f, 1, 1, 0) // fragment header
	b = append(b, 0x41)          // open start, with attributes
	b = le.AppendUint32(b, 0)    // data size
	name("Event")                //
	b = le.AppendUint32(b, 0)    // attribute list size
	b = append(b, 0x06)          // attribute
	name("a")                    //
	b = append(b, 0x05, 0x01)    // value, string
	b = le.AppendUint16(b, 1)    //
	b = append(b, 'x', 0, 0x02)  // "x", close start
	b = append(b, 0x05, 0x01)    // value, string
	b = le.AppendUint16(b, 4)    //
	b = append(b, 't', 0, 'e', 0, 'x', 0, 't', 0)
	b = append(b, 0x04, 0x00) // end element, end of fragment
	return b
}
