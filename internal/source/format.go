package source

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/valyala/fastjson"
)

// Format is the content format of an input file, independent of any gzip
// compression around it.
type Format int

const (
	FormatUnknown Format = iota // not a format vigil reads
	FormatEVTX                  // Windows XML Event Log
	FormatJSONL                 // one JSON object per line (NDJSON)
	FormatJSON                  // one JSON document: an object, an array of objects, or concatenated objects
	FormatSyslog                // syslog text: one RFC 5424 or RFC 3164 message per line (syslog.go)
)

func (f Format) String() string {
	switch f {
	case FormatEVTX:
		return "evtx"
	case FormatJSONL:
		return "jsonl"
	case FormatJSON:
		return "json"
	case FormatSyslog:
		return "syslog"
	}
	return "unknown"
}

// SniffLen is the number of leading bytes Detect needs to decide: enough
// for an EVTX chunk signature at offset 4096 and for the first line of most
// JSON Lines files.
const SniffLen = 16 << 10

var (
	evtxFileMagic  = []byte("ElfFile\x00")
	evtxChunkMagic = []byte("ElfChnk\x00")
	utf8BOM        = []byte{0xEF, 0xBB, 0xBF}
)

// IsGzip reports whether head starts with the gzip magic number.
func IsGzip(head []byte) bool { return len(head) >= 2 && head[0] == 0x1f && head[1] == 0x8b }

// Detect returns the format of a file from its first bytes (SniffLen of
// them, or the whole file if shorter), looking through gzip compression.
// EVTX is recognised by its file signature "ElfFile\x00" (or a chunk
// signature "ElfChnk\x00" at offset 4096, for a file whose header was lost);
// JSON by a leading '{' or '['. A file whose first line is a complete JSON
// value is JSON Lines; one that starts with '[' or whose first object spans
// several lines is a JSON document. A first line longer than head is taken
// to be JSON Lines.
func Detect(head []byte) Format {
	if IsGzip(head) {
		zr, err := gzip.NewReader(bytes.NewReader(head))
		if err != nil {
			return FormatUnknown
		}
		inner := make([]byte, SniffLen)
		n, _ := io.ReadFull(zr, inner) // a truncated head is expected
		inner = inner[:n]
		if IsGzip(inner) {
			return FormatUnknown // nested gzip: not supported
		}
		return Detect(inner)
	}
	if bytes.HasPrefix(head, evtxFileMagic) ||
		len(head) >= 4096+8 && bytes.Equal(head[4096:4096+8], evtxChunkMagic) {
		return FormatEVTX
	}
	b := bytes.TrimPrefix(head, utf8BOM)
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) == 0 {
		return FormatUnknown
	}
	switch b[0] {
	case '[':
		return FormatJSON
	case '{':
	default:
		if isSyslog(b) {
			return FormatSyslog
		}
		return FormatUnknown
	}
	line := b
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		line = b[:i]
	} else if len(head) >= SniffLen {
		return FormatJSONL // a first line longer than the sniffed bytes
	}
	if fastjson.ValidateBytes(line) == nil {
		return FormatJSONL
	}
	return FormatJSON
}

// Sniff reads the first SniffLen bytes of the file at path and returns its
// format and whether it is gzip-compressed.
func Sniff(path string) (Format, bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return FormatUnknown, false, err
	}
	defer f.Close()
	head := make([]byte, SniffLen)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return FormatUnknown, false, err
	}
	head = head[:n]
	return Detect(head), IsGzip(head), nil
}

// Expand turns command-line paths into the list of files to read: a file
// is taken as given (whatever its content: Scan reports one it cannot read);
// a directory is walked recursively in lexical order, keeping the files
// whose first bytes are a supported format and skipping the others.
func Expand(paths []string) ([]string, error) {
	files, _, err := ExpandSkipped(paths)
	return files, err
}

// ExpandSkipped is Expand that also returns the files it skipped inside
// directories because their content is not a supported format (empty files
// included), so that a caller can say how many were left out.
func ExpandSkipped(paths []string) (files, skipped []string, err error) {
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, nil, fmt.Errorf("cannot read %s: %w (check the path; give files or directories of EVTX, JSON, JSON Lines or syslog text logs)", p, unwrapPathErr(err))
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return fmt.Errorf("cannot read %s: %w (check its permissions, or leave it out of the paths)", path, unwrapPathErr(err))
			}
			if !d.Type().IsRegular() {
				return nil // directories are walked; devices, sockets and links are not logs
			}
			format, _, err := Sniff(path)
			if err != nil {
				return fmt.Errorf("cannot read %s: %w (check its permissions, or leave it out of the paths)", path, unwrapPathErr(err))
			}
			if format == FormatUnknown {
				skipped = append(skipped, path)
			} else {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
	}
	return files, skipped, nil
}

func unwrapPathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
