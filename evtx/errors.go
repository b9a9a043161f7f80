package evtx

import (
	"errors"
	"fmt"
)

// ErrNotEVTX is returned when a file has neither an EVTX file header nor an
// EVTX chunk where the first one should be.
var ErrNotEVTX = errors.New("not an EVTX file (no \"ElfFile\" header and no \"ElfChnk\" chunk at offset 4096)")

// Error describes a problem found at one position of an EVTX file. Reading
// continues after an Error: it names what was skipped.
type Error struct {
	File   string // path or name of the file, if known
	Chunk  int    // chunk index, or -1 for the file header
	Offset int64  // absolute file offset of the damaged structure
	Record uint64 // event record identifier, if known (0 otherwise)
	Reason string // what is wrong, lower case
	// Skipped is true when data was lost (a record or a chunk could not be
	// read); false for a warning such as a checksum mismatch on data that was
	// still decoded.
	Skipped bool
}

func (e *Error) Error() string {
	where := e.File
	if where == "" {
		where = "evtx"
	}
	if e.Chunk < 0 {
		return fmt.Sprintf("%s: file header: %s", where, e.Reason)
	}
	if e.Record != 0 {
		return fmt.Sprintf("%s: chunk %d: offset %#x: record %d: %s", where, e.Chunk, e.Offset, e.Record, e.Reason)
	}
	return fmt.Sprintf("%s: chunk %d: offset %#x: %s", where, e.Chunk, e.Offset, e.Reason)
}

// errBinXML is an internal decoding error with a chunk-relative offset.
type errBinXML struct {
	off    int
	reason string
}

func (e *errBinXML) Error() string {
	return fmt.Sprintf("binxml at chunk offset %#x: %s", e.off, e.reason)
}

func bxErr(off int, format string, args ...any) error {
	return &errBinXML{off: off, reason: fmt.Sprintf(format, args...)}
}
