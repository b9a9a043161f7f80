package intel

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"path"
)

// MaxInflated is the most bytes a compressed feed may expand to (a gzip
// stream, or all the files of a zip archive together). Beyond it the file
// is refused: a decompression bomb must not exhaust memory.
const MaxInflated = 2 << 30

// Compressed reports whether data is a gzip stream or a zip archive, by
// its first bytes (a feed's format is recognised from its content, its
// compression too).
func Compressed(data []byte) bool { return isGzip(data) || isZip(data) }

func isGzip(data []byte) bool { return len(data) >= 2 && data[0] == 0x1f && data[1] == 0x8b }

func isZip(data []byte) bool {
	return bytes.HasPrefix(data, []byte("PK\x03\x04")) || bytes.HasPrefix(data, []byte("PK\x05\x06")) // an archive, or an empty one
}

// InflatedFile is a file out of a compressed feed.
type InflatedFile struct {
	Name string // the file's name in a zip archive; "" for a gzip stream
	Data []byte
}

// Inflate returns the files of a compressed feed: the content of a gzip
// stream, or the regular files of a zip archive that are not
// documentation (README, LICENSE: see walkSkips). limit bounds the bytes
// they expand to, together (MaxInflated if 0). It reports what is wrong
// with a damaged or oversized file, and what to do.
func Inflate(data []byte, limit int64) ([]InflatedFile, error) {
	if limit <= 0 {
		limit = MaxInflated
	}
	switch {
	case isGzip(data):
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("cannot read the gzip stream: %v (the file is damaged or truncated: download it again)", err)
		}
		plain, err := readLimited(zr, limit)
		if err != nil {
			return nil, fmt.Errorf("gzip stream: %w", err)
		}
		return []InflatedFile{{Data: plain}}, nil
	case isZip(data):
		zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return nil, fmt.Errorf("cannot read the zip archive: %v (the file is damaged or truncated: download it again)", err)
		}
		var files []InflatedFile
		for _, f := range zr.File {
			if f.FileInfo().IsDir() || walkSkips(path.Base(f.Name)) {
				continue
			}
			rc, err := f.Open()
			if err != nil {
				return files, fmt.Errorf("zip entry %s: %v (the archive is damaged, or uses an unsupported compression or encryption: unpack it yourself)", f.Name, err)
			}
			plain, err := readLimited(rc, limit)
			rc.Close()
			if err != nil {
				return files, fmt.Errorf("zip entry %s: %w", f.Name, err)
			}
			limit -= int64(len(plain)) // what is left for the other files
			files = append(files, InflatedFile{Name: f.Name, Data: plain})
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("the zip archive holds no feed file (%d entries: folders and documentation only)", len(zr.File))
		}
		return files, nil
	}
	return nil, errors.New("not a gzip stream or a zip archive")
}

// readLimited reads r to its end, refusing more than limit bytes.
func readLimited(r io.Reader, limit int64) ([]byte, error) {
	plain, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("cannot decompress: %v (the file is damaged or truncated: download it again)", err)
	}
	if int64(len(plain)) > limit {
		return nil, fmt.Errorf("expands to more than %d MiB: refused as a possible decompression bomb (decompress it yourself if it is genuine)", limit>>20)
	}
	return plain, nil
}
