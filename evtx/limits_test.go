package evtx

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
	"time"
)

// amplifyingRecord builds a record whose inline template repeats one string
// substitution n times and whose value is size bytes: rendering it naively
// would take n*size bytes.
func amplifyingRecord(n, size int) []byte {
	le := binary.LittleEndian
	base := chunkHeaderSize + recordHeaderLen
	var b []byte
	b = append(b, 0x0f, 1, 1, 0)                  // fragment header
	b = append(b, 0x0c, 0x01)                     // template instance
	b = le.AppendUint32(b, 7)                     // template id
	b = le.AppendUint32(b, uint32(base+len(b)+4)) // definition inline, right here
	b = le.AppendUint32(b, 0)                     // next definition
	b = append(b, make([]byte, 16)...)            // GUID
	sizeAt := len(b)
	b = le.AppendUint32(b, 0) // data size, set below
	start := len(b)
	b = append(b, 0x0f, 1, 1, 0)
	b = append(b, 0x01)            // open start element (no attributes)
	b = le.AppendUint16(b, 0xffff) // dependency id
	b = le.AppendUint32(b, 0)      // data size
	b = le.AppendUint32(b, uint32(base+len(b)+4))
	b = le.AppendUint32(b, 0) // next name
	b = le.AppendUint16(b, 0) // hash
	b = le.AppendUint16(b, 5)
	for _, r := range "Event" {
		b = le.AppendUint16(b, uint16(r))
	}
	b = le.AppendUint16(b, 0)
	b = append(b, 0x02) // close start
	for i := 0; i < n; i++ {
		b = append(b, 0x0d, 0, 0, byte(TypeString))
	}
	b = append(b, 0x04, 0x00)
	le.PutUint32(b[sizeAt:], uint32(len(b)-start))
	b = le.AppendUint32(b, 1)            // one value
	b = le.AppendUint16(b, uint16(size)) // its size
	b = append(b, byte(TypeString), 0)   // its type
	b = append(b, bytes.Repeat([]byte{'A', 0}, size/2)...)
	return append(b, 0x00)
}

func TestRecordOutputIsBounded(t *testing.T) {
	data := append(testFileHeader(1), testChunk(amplifyingRecord(8000, 24000), 1)...)
	f, err := NewFile(bytes.NewReader(data), int64(len(data)), "amplify.evtx")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var errs []error
	var buf []byte
	for r, err := range f.Records() {
		if err != nil {
			errs = append(errs, err)
			continue
		}
		buf = r.AppendJSON(buf[:0])
		t.Fatalf("the record decoded and rendered to %d bytes; want it refused", len(buf))
	}
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "bytes of values") {
		t.Fatalf("want one error about the value bytes, got %v", errs)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Logf("slow refusal: %s", el) // not a timing assertion: the log tells a reader
	}
	// A modest repetition still decodes.
	data = append(testFileHeader(1), testChunk(amplifyingRecord(20, 2000), 2)...)
	f, _ = NewFile(bytes.NewReader(data), int64(len(data)), "ok.evtx")
	n := 0
	for r, err := range f.Records() {
		if err != nil {
			t.Fatal(err)
		}
		n++
		if got := len(r.Text(r.Root())); got != 20*1000 {
			t.Errorf("text of %d bytes, want %d", got, 20*1000)
		}
	}
	if n != 1 {
		t.Errorf("%d records, want 1", n)
	}
}
