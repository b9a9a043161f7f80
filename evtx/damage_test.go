package evtx

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Damaged inputs: copies of real multi-chunk files of the shared corpus are
// damaged in memory (truncated, bytes flipped in each structure, a chunk
// zeroed) and read with File.Records. Every case states exactly which
// records survive (compared with the undamaged file's rendering) and which
// problems are reported, where.

// damageFiles are real files of at least three chunks, chosen for their
// structure: one template per chunk (Sysmon), many templates per chunk
// (Application), and records of plain BinXML without templates whose names
// point into the first record of their chunk.
var damageFiles = []string{
	"EVTX-ATTACK-SAMPLES/Privilege Escalation/Sysmon_UACME_64.evtx",
	"hayabusa-sample-evtx/DeepBlueCLI/many-events-application.evtx",
	"hayabusa-sample-evtx/EVTX-to-MITRE-Attack/TA0007-Discovery/T1046-Network Service Scanning/ID131-RDP brutforce (no user info).evtx",
}

// refRecord is one record of the undamaged file.
type refRecord struct {
	id    uint64
	chunk int
	off   int    // chunk-relative offset
	size  int    // record size
	def   uint32 // chunk offset of its template definition, 0 without template
	root  uint32 // chunk offset of its root element's name
	json  string
	inDef bool // the record holds its template definition inline
}

// refChunk is one chunk of the undamaged file that holds records.
type refChunk struct {
	index   int
	records []*refRecord
}

// refFile is an undamaged corpus file and everything read from it.
type refFile struct {
	name   string
	data   []byte
	slots  int
	chunks []refChunk // chunks holding records, in order
	byID   map[uint64]*refRecord
}

func (rf *refFile) chunkStart(i int) int { return fileHeaderSize + i*chunkSize }

// loadRef reads a corpus file and requires it to be undamaged, with at
// least three chunks of records.
func loadRef(t *testing.T, rel string) *refFile {
	t.Helper()
	if _, err := os.Stat(corpusDir); err != nil {
		t.Skipf("shared corpus not found at %s (relative to the evtx package): %v", corpusDir, err)
	}
	p := filepath.Join(corpusDir, "evtx", rel)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("damage test file: %v", err)
	}
	rf := &refFile{name: filepath.Base(p), data: b, byID: map[uint64]*refRecord{}}
	f, err := NewFile(bytes.NewReader(b), int64(len(b)), rf.name)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Problems()) > 0 {
		t.Fatalf("%s: undamaged file has problems: %v", rel, f.Problems())
	}
	rf.slots = f.ChunkCount()
	le := binary.LittleEndian
	c := NewChunk()
	var r Record
	for i := 0; i < rf.slots; i++ {
		ok, err := f.ReadChunk(i, c)
		if err != nil || len(c.Problems()) > 0 {
			t.Fatalf("%s: undamaged chunk %d: %v %v", rel, i, err, c.Problems())
		}
		if !ok {
			continue
		}
		rc := refChunk{index: i}
		for {
			more, err := c.Next(&r)
			if !more {
				break
			}
			if err != nil {
				t.Fatalf("%s: undamaged file: %v", rel, err)
			}
			off := int(r.Offset - c.Offset)
			rr := &refRecord{id: r.ID, chunk: i, off: off, size: int(le.Uint32(c.buf[off+4:])), json: string(r.AppendJSON(nil))}
			// Record BinXML: fragment header (4 bytes), then a template
			// instance (0x0c, 1 byte, 4 bytes, definition offset) or an
			// element start (0x01/0x41, data size, name offset).
			switch body := off + recordHeaderLen + 4; c.buf[body] {
			case tokTemplate:
				rr.def = le.Uint32(c.buf[body+6:])
				rr.inDef = int(rr.def) == body+10
				rr.root = le.Uint32(c.buf[rr.def+24+4+7:]) // element start with dependency id
			case tokOpenStart, tokOpenStart | tokMoreFlag:
				rr.root = le.Uint32(c.buf[body+5:])
			default:
				t.Fatalf("%s: record %d starts with token %#x", rel, r.ID, c.buf[body])
			}
			if _, dup := rf.byID[rr.id]; dup {
				t.Fatalf("%s: record id %d appears twice", rel, rr.id)
			}
			rf.byID[rr.id] = rr
			rc.records = append(rc.records, rr)
		}
		if len(rc.records) > 0 {
			rf.chunks = append(rf.chunks, rc)
		}
	}
	if len(rf.chunks) < 3 {
		t.Fatalf("%s: %d chunks with records, want at least 3", rel, len(rf.chunks))
	}
	return rf
}

// damaged is a damaged copy of a reference file and what reading it must
// give.
type damaged struct {
	data []byte
	// lost reports whether the undamaged record r must be missing; every
	// other record must be returned, identical.
	lost func(r *refRecord) bool
	// chunks lists the chunk indexes problems may name (-1: file header).
	chunks []int
	// want lists problems that must be reported.
	want []wantErr
}

// wantErr matches a reported problem.
type wantErr struct {
	chunk   int
	offset  int64 // exact absolute offset, or -1 for any
	record  uint64
	skipped bool
	reason  string // substring
}

func (w wantErr) matches(e *Error) bool {
	return e.Chunk == w.chunk && (w.offset < 0 || e.Offset == w.offset) && e.Record == w.record &&
		e.Skipped == w.skipped && strings.Contains(e.Reason, w.reason)
}

func (w wantErr) String() string {
	return fmt.Sprintf("chunk %d offset %#x record %d skipped %v reason %q", w.chunk, w.offset, w.record, w.skipped, w.reason)
}

// readAll reads every record and problem of data.
func readAll(t *testing.T, name string, data []byte) (recs map[uint64]string, order []uint64, errs []*Error, err error) {
	t.Helper()
	f, err := NewFile(bytes.NewReader(data), int64(len(data)), name)
	if err != nil {
		return nil, nil, nil, err
	}
	recs = map[uint64]string{}
	for r, err := range f.Records() {
		if err != nil {
			checkError(t, f, err)
			errs = append(errs, err.(*Error))
			continue
		}
		if _, dup := recs[r.ID]; dup {
			t.Errorf("record %d returned twice", r.ID)
		}
		recs[r.ID] = string(r.AppendJSON(nil))
		order = append(order, r.ID)
	}
	return recs, order, errs, nil
}

// check reads d and compares it with what it must give.
func (d *damaged) check(t *testing.T, rf *refFile) {
	t.Helper()
	got, order, errs, err := readAll(t, rf.name, d.data)
	if err != nil {
		t.Fatalf("NewFile: %v", err)
	}
	var missing, unexpected, differ []uint64
	wantOrder := []uint64{}
	for _, rc := range rf.chunks {
		for _, r := range rc.records {
			j, ok := got[r.id]
			switch {
			case d.lost(r) && ok:
				unexpected = append(unexpected, r.id)
			case d.lost(r):
			case !ok:
				missing = append(missing, r.id)
			case j != r.json:
				differ = append(differ, r.id)
			default:
				wantOrder = append(wantOrder, r.id)
			}
		}
	}
	for id := range got {
		if rf.byID[id] == nil {
			unexpected = append(unexpected, id)
		}
	}
	if len(missing) > 0 {
		t.Errorf("%d undamaged records missing: %v", len(missing), short(missing))
	}
	if len(unexpected) > 0 {
		t.Errorf("%d records returned that should be lost: %v", len(unexpected), short(unexpected))
	}
	if len(differ) > 0 {
		t.Errorf("%d records differ from the undamaged file: %v", len(differ), short(differ))
	}
	if len(missing)+len(unexpected)+len(differ) == 0 && !slices.Equal(order, wantOrder) {
		t.Errorf("records out of file order")
	}
	for _, e := range errs {
		if !slices.Contains(d.chunks, e.Chunk) {
			t.Errorf("problem names chunk %d, want one of %v: %v", e.Chunk, d.chunks, e)
		}
	}
	for _, w := range d.want {
		if !slices.ContainsFunc(errs, w.matches) {
			t.Errorf("no problem reported matching %v", w)
		}
	}
	if t.Failed() {
		for _, e := range errs {
			t.Logf("reported: chunk %d offset %#x record %d skipped %v: %v", e.Chunk, e.Offset, e.Record, e.Skipped, e)
		}
	}
	// Data loss is never silent: a lost record comes with an error.
	lost := len(rf.byID) - len(got)
	if lost > 0 && !slices.ContainsFunc(errs, func(e *Error) bool { return e.Skipped }) {
		t.Errorf("%d records lost without an error (only warnings)", lost)
	}
}

func short(ids []uint64) string {
	slices.Sort(ids)
	if len(ids) > 12 {
		return fmt.Sprintf("%v…", ids[:12])
	}
	return fmt.Sprint(ids)
}

func clone(b []byte) []byte { return bytes.Clone(b) }

// nothingLost keeps every record.
func nothingLost(*refRecord) bool { return false }

// chunkLost loses the records of chunk i.
func chunkLost(i int) func(*refRecord) bool {
	return func(r *refRecord) bool { return r.chunk == i }
}

// TestDamagedFiles damages each structure of real files and checks what
// survives and what is reported.
func TestDamagedFiles(t *testing.T) {
	type damageCase struct {
		name string
		make func(rf *refFile) *damaged
	}
	// mid is a chunk with records that is neither the first nor the last.
	mid := func(rf *refFile) refChunk { return rf.chunks[len(rf.chunks)/2] }
	last := func(rf *refFile) refChunk { return rf.chunks[len(rf.chunks)-1] }
	// midRecord is a record in the middle of chunk rc that does not hold a
	// template definition.
	midRecord := func(rc refChunk) *refRecord {
		for i := len(rc.records) / 2; i < len(rc.records); i++ {
			if !rc.records[i].inDef {
				return rc.records[i]
			}
		}
		panic("no record without an inline template")
	}
	fileHeaderWarning := func(reason string) wantErr {
		return wantErr{chunk: -1, offset: 0, reason: reason}
	}
	// truncate cuts the file at chunk-relative offset at of chunk rc.
	truncate := func(rf *refFile, rc refChunk, at int) *damaged {
		cut := rf.chunkStart(rc.index) + at
		d := &damaged{data: clone(rf.data[:cut]), chunks: []int{-1, rc.index}}
		d.lost = func(r *refRecord) bool {
			return r.chunk > rc.index || r.chunk == rc.index && r.off+r.size > at && at >= chunkHeaderSize
		}
		if at < chunkHeaderSize {
			d.lost = func(r *refRecord) bool { return r.chunk >= rc.index }
		}
		if rc.index+1 < len(rf.chunks) || at < chunkHeaderSize {
			d.want = append(d.want, wantErr{chunk: -1, offset: 0, skipped: true, reason: "the file is truncated"})
		}
		return d
	}
	cases := []damageCase{
		{"truncated/mid-file-header", func(rf *refFile) *damaged {
			d := &damaged{data: clone(rf.data[:2000]), chunks: []int{-1}}
			d.lost = func(*refRecord) bool { return true }
			d.want = []wantErr{{chunk: -1, offset: 0, skipped: true, reason: "the file is truncated"}}
			return d
		}},
		{"truncated/at-chunk-boundary", func(rf *refFile) *damaged {
			return truncate(rf, mid(rf), 0)
		}},
		{"truncated/mid-chunk-header", func(rf *refFile) *damaged {
			return truncate(rf, mid(rf), 300)
		}},
		{"truncated/mid-record-header", func(rf *refFile) *damaged {
			rc := mid(rf)
			r := midRecord(rc)
			d := truncate(rf, rc, r.off+10)
			d.want = append(d.want, wantErr{chunk: rc.index, offset: int64(rf.chunkStart(rc.index) + r.off + 10), skipped: true, reason: "chunk truncated"})
			return d
		}},
		{"truncated/mid-record", func(rf *refFile) *damaged {
			rc := mid(rf)
			r := midRecord(rc)
			d := truncate(rf, rc, r.off+r.size/2)
			d.want = append(d.want,
				wantErr{chunk: rc.index, offset: int64(rf.chunkStart(rc.index) + r.off + r.size/2), skipped: true, reason: "chunk truncated"},
				wantErr{chunk: rc.index, offset: int64(rf.chunkStart(rc.index) + r.off), record: r.id, skipped: true, reason: "record size"})
			return d
		}},
		{"truncated/last-chunk-slack", func(rf *refFile) *damaged {
			// Cut after the last record of the last chunk: nothing is lost.
			rc := last(rf)
			end := rc.records[len(rc.records)-1]
			at := end.off + end.size + 8
			d := truncate(rf, rc, at)
			d.want = append(d.want, wantErr{chunk: rc.index, offset: int64(rf.chunkStart(rc.index) + at), reason: "chunk truncated"})
			return d
		}},
		{"file-header/signature", func(rf *refFile) *damaged {
			d := &damaged{data: clone(rf.data), lost: nothingLost, chunks: []int{-1}}
			d.data[1] ^= 0xff
			d.want = []wantErr{fileHeaderWarning("bad file signature")}
			return d
		}},
		{"file-header/checksum", func(rf *refFile) *damaged {
			d := &damaged{data: clone(rf.data), lost: nothingLost, chunks: []int{-1}}
			d.data[125] ^= 0x10
			d.want = []wantErr{fileHeaderWarning("file header checksum mismatch")}
			return d
		}},
		{"file-header/chunk-count", func(rf *refFile) *damaged {
			d := &damaged{data: clone(rf.data), lost: nothingLost, chunks: []int{-1}}
			binary.LittleEndian.PutUint16(d.data[42:], 1)
			d.want = []wantErr{fileHeaderWarning("file header checksum mismatch")}
			return d
		}},
		{"file-header/chunk-count-with-valid-checksum", func(rf *refFile) *damaged {
			// A consistent header that declares too few chunks (a file not
			// closed cleanly): the chunks past the count are still read.
			d := &damaged{data: clone(rf.data), lost: nothingLost}
			binary.LittleEndian.PutUint16(d.data[42:], 1)
			binary.LittleEndian.PutUint32(d.data[124:], crc32.ChecksumIEEE(d.data[:120]))
			return d
		}},
		{"file-header/unchecksummed-byte", func(rf *refFile) *damaged {
			d := &damaged{data: clone(rf.data), lost: nothingLost}
			d.data[2000] ^= 0xff
			return d
		}},
		{"chunk-header/signature", func(rf *refFile) *damaged {
			rc := mid(rf)
			d := &damaged{data: clone(rf.data), lost: chunkLost(rc.index), chunks: []int{rc.index}}
			d.data[rf.chunkStart(rc.index)+3] ^= 0xff
			d.want = []wantErr{{chunk: rc.index, offset: int64(rf.chunkStart(rc.index)), skipped: true, reason: "bad chunk signature"}}
			return d
		}},
		{"chunk-header/checksummed-fields", func(rf *refFile) *damaged {
			// First record number, a reserved byte, the string and template
			// offset tables: checksummed, not needed to decode.
			rc := mid(rf)
			d := &damaged{data: clone(rf.data), lost: nothingLost, chunks: []int{rc.index}}
			for _, at := range []int{8, 90, 200, 400} {
				d.data[rf.chunkStart(rc.index)+at] ^= 0x5a
			}
			d.want = []wantErr{{chunk: rc.index, offset: int64(rf.chunkStart(rc.index) + 124), reason: "chunk header checksum mismatch"}}
			return d
		}},
		{"chunk-header/stored-checksum", func(rf *refFile) *damaged {
			rc := mid(rf)
			d := &damaged{data: clone(rf.data), lost: nothingLost, chunks: []int{rc.index}}
			d.data[rf.chunkStart(rc.index)+124] ^= 1
			d.want = []wantErr{{chunk: rc.index, offset: int64(rf.chunkStart(rc.index) + 124), reason: "chunk header checksum mismatch"}}
			return d
		}},
		{"chunk-header/free-space-offset-lowered", func(rf *refFile) *damaged {
			// A flipped bit makes the free space offset point into the
			// middle of the records: the header checksum shows it is not
			// to be trusted, and the records past it are still read.
			rc := mid(rf)
			d := &damaged{data: clone(rf.data), lost: nothingLost, chunks: []int{rc.index}}
			at := rf.chunkStart(rc.index) + 48
			fso := binary.LittleEndian.Uint32(d.data[at:])
			binary.LittleEndian.PutUint32(d.data[at:], fso&^0x8000)
			if fso&0x8000 == 0 {
				panic("free space offset below 0x8000")
			}
			d.want = []wantErr{{chunk: rc.index, offset: int64(rf.chunkStart(rc.index) + 124), reason: "chunk header checksum mismatch"}}
			return d
		}},
		{"chunk-header/flags-not-checksummed", func(rf *refFile) *damaged {
			rc := mid(rf)
			d := &damaged{data: clone(rf.data), lost: nothingLost}
			d.data[rf.chunkStart(rc.index)+120] ^= 0x02
			return d
		}},
		{"template/definition-token", func(rf *refFile) *damaged {
			// Destroy the first token of the template definition held by
			// the first record of a chunk: the records instantiating that
			// template are lost, the others of the chunk are not.
			rc, def := templateChunk(rf)
			if rc.records == nil {
				return nil
			}
			d := &damaged{data: clone(rf.data), chunks: []int{rc.index}}
			d.data[rf.chunkStart(rc.index)+int(def)+24+4] = 0xff // after the definition header and fragment header
			d.lost = func(r *refRecord) bool { return r.chunk == rc.index && r.def == def }
			d.want = append(d.want, wantErr{chunk: rc.index, offset: int64(rf.chunkStart(rc.index) + 52), reason: "event records checksum mismatch"})
			for _, r := range rc.records {
				if r.def == def {
					d.want = append(d.want, wantErr{chunk: rc.index, offset: int64(rf.chunkStart(rc.index) + r.off), record: r.id, skipped: true, reason: "unknown token 0xff"})
				}
			}
			return d
		}},
		{"names/root-name-length", func(rf *refFile) *damaged {
			// Make the name of the first record's root element run past
			// the chunk: every record whose root element refers to that
			// name is lost.
			rc := mid(rf)
			name := rc.records[0].root
			d := &damaged{data: clone(rf.data), chunks: []int{rc.index}}
			binary.LittleEndian.PutUint16(d.data[rf.chunkStart(rc.index)+int(name)+6:], 0xfff0)
			d.lost = func(r *refRecord) bool { return r.chunk == rc.index && r.root == name }
			for _, r := range rc.records {
				if r.root == name {
					d.want = append(d.want, wantErr{chunk: rc.index, offset: int64(rf.chunkStart(rc.index) + r.off), record: r.id, skipped: true, reason: "runs past the chunk"})
				}
			}
			return d
		}},
		{"record/size-field", func(rf *refFile) *damaged {
			rc := mid(rf)
			r := midRecord(rc)
			d := &damaged{data: clone(rf.data), chunks: []int{rc.index}}
			d.data[rf.chunkStart(rc.index)+r.off+6] ^= 0x40
			d.lost = func(x *refRecord) bool { return x == r }
			d.want = []wantErr{{chunk: rc.index, offset: int64(rf.chunkStart(rc.index) + r.off), record: r.id, skipped: true, reason: "does not fit the chunk"}}
			return d
		}},
		{"record/size-field-small", func(rf *refFile) *damaged {
			rc := mid(rf)
			r := midRecord(rc)
			d := &damaged{data: clone(rf.data), chunks: []int{rc.index}}
			binary.LittleEndian.PutUint32(d.data[rf.chunkStart(rc.index)+r.off+4:], uint32(r.size-8))
			d.lost = func(x *refRecord) bool { return x == r }
			d.want = []wantErr{{chunk: rc.index, offset: int64(rf.chunkStart(rc.index) + r.off), record: r.id, skipped: true, reason: "trailing copy"}}
			return d
		}},
		{"record/signature", func(rf *refFile) *damaged {
			rc := mid(rf)
			r := midRecord(rc)
			d := &damaged{data: clone(rf.data), chunks: []int{rc.index}}
			d.data[rf.chunkStart(rc.index)+r.off] ^= 0xff
			d.lost = func(x *refRecord) bool { return x == r }
			d.want = []wantErr{{chunk: rc.index, offset: int64(rf.chunkStart(rc.index) + r.off), skipped: true, reason: "no record signature"}}
			return d
		}},
		{"record/binxml-body", func(rf *refFile) *damaged {
			rc := mid(rf)
			r := midRecord(rc)
			d := &damaged{data: clone(rf.data), chunks: []int{rc.index}}
			d.data[rf.chunkStart(rc.index)+r.off+recordHeaderLen+4] = 0xff // first token after the fragment header
			d.lost = func(x *refRecord) bool { return x == r }
			d.want = []wantErr{{chunk: rc.index, offset: int64(rf.chunkStart(rc.index) + r.off), record: r.id, skipped: true, reason: "unknown token 0xff"}}
			return d
		}},
		{"record/last-of-chunk", func(rf *refFile) *damaged {
			rc := mid(rf)
			r := rc.records[len(rc.records)-1]
			d := &damaged{data: clone(rf.data), chunks: []int{rc.index}}
			d.data[rf.chunkStart(rc.index)+r.off+recordHeaderLen+4] = 0xff
			d.lost = func(x *refRecord) bool { return x == r }
			d.want = []wantErr{{chunk: rc.index, offset: int64(rf.chunkStart(rc.index) + r.off), record: r.id, skipped: true, reason: "unknown token"}}
			return d
		}},
		{"zeroed-chunk", func(rf *refFile) *damaged {
			rc := mid(rf)
			d := &damaged{data: clone(rf.data), lost: chunkLost(rc.index), chunks: []int{rc.index}}
			clear(d.data[rf.chunkStart(rc.index) : rf.chunkStart(rc.index)+chunkSize])
			d.want = []wantErr{{chunk: rc.index, offset: int64(rf.chunkStart(rc.index)), skipped: true, reason: "all zero"}}
			return d
		}},
	}
	for _, rel := range damageFiles {
		rf := loadRef(t, rel)
		t.Run(rf.name, func(t *testing.T) {
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					d := tc.make(rf)
					if d == nil {
						t.Skip("no chunk of this file starts with a template definition (records without templates)")
					}
					d.check(t, rf)
				})
			}
		})
	}
}

// templateChunk returns a chunk whose first record holds a template
// definition inline, preferring one where other records use other
// templates, and that definition's offset.
func templateChunk(rf *refFile) (refChunk, uint32) {
	var found refChunk
	var def uint32
	for _, rc := range rf.chunks {
		first := rc.records[0]
		if !first.inDef {
			continue
		}
		if found.records == nil {
			found, def = rc, first.def
		}
		if slices.ContainsFunc(rc.records, func(r *refRecord) bool { return r.def != first.def }) {
			return rc, first.def
		}
	}
	return found, def
}

// TestDamagedFilesRandom damages a real file at random 300 times (seeded,
// so the cases are the same on every run) and checks that nothing panics,
// every problem is a positioned *Error, and every record of an undamaged
// chunk is returned unchanged.
func TestDamagedFilesRandom(t *testing.T) {
	rf := loadRef(t, damageFiles[0])
	rng := rand.New(rand.NewPCG(2024, 11))
	used := rf.chunkStart(rf.chunks[len(rf.chunks)-1].index + 1)
	for i := range 300 {
		data := clone(rf.data)
		var lo, hi int // damaged byte range
		kind := ""
		switch k := rng.IntN(10); {
		case k < 4: // one byte
			lo = randomOffset(rng, rf, used)
			hi = lo + 1
			data[lo] ^= byte(1 + rng.IntN(255))
			kind = "flip"
		case k < 7: // a run of random bytes
			lo = randomOffset(rng, rf, used)
			hi = min(lo+1+rng.IntN(64), len(data))
			for j := lo; j < hi; j++ {
				data[j] = byte(rng.IntN(256))
			}
			kind = "random run"
		case k < 9: // a run of zeros
			lo = randomOffset(rng, rf, used)
			hi = min(lo+1+rng.IntN(512), len(data))
			clear(data[lo:hi])
			kind = "zero run"
		default: // truncation
			lo = 128 + rng.IntN(used-128)
			hi = len(data)
			data = data[:lo]
			kind = "truncation"
		}
		desc := fmt.Sprintf("case %d: %s of [%#x, %#x)", i, kind, lo, hi)
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			got, _, _, err := readAll(t, rf.name, data)
			if err != nil {
				// Only a file with neither a file header nor a first chunk
				// is refused.
				if lo < 8 && hi > fileHeaderSize {
					return
				}
				t.Fatalf("%s: NewFile: %v", desc, err)
			}
			damagedChunk := func(i int) bool {
				s := rf.chunkStart(i)
				return lo < s+chunkSize && hi > s
			}
			for _, rc := range rf.chunks {
				if damagedChunk(rc.index) {
					continue
				}
				for _, r := range rc.records {
					if j, ok := got[r.id]; !ok {
						t.Errorf("%s: record %d of undamaged chunk %d missing", desc, r.id, rc.index)
					} else if j != r.json {
						t.Errorf("%s: record %d of undamaged chunk %d differs", desc, r.id, rc.index)
					}
				}
			}
		})
	}
}

// randomOffset picks an offset to damage: often a file or chunk header or
// the start of a chunk's records, where the structure is; otherwise
// anywhere in the chunks in use.
func randomOffset(rng *rand.Rand, rf *refFile, used int) int {
	rc := rf.chunks[rng.IntN(len(rf.chunks))]
	switch rng.IntN(4) {
	case 0:
		return rng.IntN(128)
	case 1:
		return rf.chunkStart(rc.index) + rng.IntN(chunkHeaderSize)
	case 2:
		return rf.chunkStart(rc.index) + chunkHeaderSize + rng.IntN(2048)
	}
	return rng.IntN(used)
}
