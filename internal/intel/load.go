package intel

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Format is a feed file format.
type Format string

// Feed formats. FormatAuto recognises the format from the content.
const (
	FormatAuto        Format = ""
	FormatSTIX        Format = "stix"        // STIX 2.0/2.1 bundle (or a single object)
	FormatMISPEvent   Format = "misp"        // MISP event JSON ({"Event":…} or {"response":[…]})
	FormatMISPFeed    Format = "misp-feed"   // folder with manifest.json, <uuid>.json, hashes.csv
	FormatCSV         Format = "csv"         // CSV with or without a header
	FormatText        Format = "text"        // one value a line, '#' comments
	FormatKEV         Format = "kev"         // CISA KEV JSON or CSV
	FormatWarninglist Format = "warninglist" // MISP warninglist list.json
	FormatJSONList    Format = "json-list"   // JSON array of objects (abuse.ch style)

	formatJSONSchema Format = "json-schema" // a JSON Schema: no feed, skipped
)

// LoadError is a bad entry in a feed, or a file that could not be read.
// The entry is skipped; the rest of the feed loads.
type LoadError struct {
	Path  string
	Line  int    // 1-based line, 0 if unknown
	Col   int    // 1-based column, 0 if unknown
	Where string // position inside a JSON document: objects[3], Event.Attribute[12], …
	Err   error
}

func (e *LoadError) Error() string {
	var b strings.Builder
	b.WriteString(e.Path)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
		if e.Col > 0 {
			fmt.Fprintf(&b, ":%d", e.Col)
		}
	}
	if e.Where != "" {
		b.WriteString(": ")
		b.WriteString(e.Where)
	}
	b.WriteString(": ")
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *LoadError) Unwrap() error { return e.Err }

// FileStats says what one feed file (or MISP feed folder) gave.
type FileStats struct {
	Path       string
	Format     Format
	Indicators int // indicators added (before de-duplication)
	// Warninglist entries added, for a warninglist file.
	WarninglistEntries int
	// Skipped counts entries that are well formed but cannot be matched
	// inline (a registry key, a URI path pattern, a process pattern), by
	// reason. They are not errors.
	Skipped map[string]int
	Errors  int
	// HashRows counts the md5,event-uuid rows of a MISP feed's hashes.csv.
	HashRows int
}

// SkippedTotal returns the number of skipped entries.
func (s *FileStats) SkippedTotal() int {
	n := 0
	for _, v := range s.Skipped {
		n += v
	}
	return n
}

// LoadOptions change how files are read.
type LoadOptions struct {
	// Format of every file; FormatAuto recognises each file's format.
	Format Format
	// Type of every value in a plain list or CSV file; TypeUnknown
	// recognises each value from its shape (or the CSV's type column).
	Type Type
	// Column holds the values in a CSV file (1-based); 0 finds it from the
	// header, or takes the first cell shaped like an indicator.
	Column int
	// Source names the feed; empty derives it from the file (a MISP event's
	// organisation, a STIX identity, the file name).
	Source string
}

// LoadPaths loads the feeds in paths (files or folders, formats recognised
// from content) and builds an index. Bad entries and unreadable files are
// returned as errors; everything else is loaded.
func LoadPaths(paths []string) (*Index, []error) {
	b := NewBuilder()
	for _, p := range paths {
		b.LoadPath(p, LoadOptions{})
	}
	x, errs := b.Build()
	return x, append(b.Errors(), errs...)
}

// loader reads one file into the builder.
type loader struct {
	b     *Builder
	opts  LoadOptions
	stats *FileStats
	path  string
	// lineIDs says that an indicator without an id has the id path:line,
	// which the builder does not store but builds when asked.
	lineIDs bool
}

func (l *loader) errorf(line int, where string, format string, args ...any) {
	l.b.errs = append(l.b.errs, &LoadError{Path: l.path, Line: line, Where: where, Err: fmt.Errorf(format, args...)})
	l.stats.Errors++
}

func (l *loader) fail(line int, where string, err error) {
	l.b.errs = append(l.b.errs, &LoadError{Path: l.path, Line: line, Where: where, Err: err})
	l.stats.Errors++
}

func (l *loader) skip(reason string) {
	if l.stats.Skipped == nil {
		l.stats.Skipped = map[string]int{}
	}
	l.stats.Skipped[reason]++
}

// add adds ind, reporting a value that is not of its type.
func (l *loader) add(line int, where string, ind Indicator) {
	if ind.Path == "" {
		ind.Path = l.path
	}
	var lazy uint32
	if l.lineIDs && ind.ID == "" {
		if line > 0 && ind.Path == l.path {
			lazy = uint32(line)
		} else {
			ind.ID = l.path + ":" + strconv.Itoa(line)
		}
	}
	if err := l.b.add(ind, lazy); err != nil {
		l.fail(line, where, err)
		return
	}
	l.stats.Indicators++
}

// Names of files a folder walk leaves alone: documentation, licences and
// formats that hold no indicators vigil reads.
func walkSkips(name string) bool {
	lower := strings.ToLower(name)
	switch {
	case strings.HasPrefix(lower, "readme"), strings.HasPrefix(lower, "license"), strings.HasPrefix(lower, "licence"),
		lower == "source.txt", lower == "schema.json", strings.HasPrefix(lower, "."):
		return true
	}
	switch strings.ToLower(filepath.Ext(name)) {
	case ".json", ".csv", ".txt", ".list", ".md5", ".sha1", ".sha256", ".sha512", ".ioc", ".ips", ".domains", "", ".zip":
		return false
	case ".gz":
		return walkSkips(name[:len(name)-3]) // feed.csv.gz as feed.csv
	}
	return true
}

// LoadPath loads a feed file or every feed file under a folder. A folder
// holding a manifest.json is a MISP feed.
func (b *Builder) LoadPath(path string, opts LoadOptions) {
	fi, err := os.Stat(path)
	if err != nil {
		b.errs = append(b.errs, &LoadError{Path: path, Err: unwrapPathErr(err)})
		return
	}
	if !fi.IsDir() {
		b.LoadFile(path, opts)
		return
	}
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			b.errs = append(b.errs, &LoadError{Path: p, Err: unwrapPathErr(err)})
			return nil
		}
		if d.IsDir() {
			if p != path && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(p, "manifest.json")); err == nil && (opts.Format == FormatAuto || opts.Format == FormatMISPFeed) {
				b.loadMISPFeed(p, opts)
				return filepath.SkipDir
			}
			return nil
		}
		if walkSkips(d.Name()) {
			return nil
		}
		b.LoadFile(p, opts)
		return nil
	})
	if err != nil {
		b.errs = append(b.errs, &LoadError{Path: path, Err: err})
	}
}

func unwrapPathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("cannot %s: %w", pe.Op, pe.Err)
	}
	return err
}

// LoadFile loads one feed file.
func (b *Builder) LoadFile(path string, opts LoadOptions) {
	data, err := os.ReadFile(path)
	if err != nil {
		b.errs = append(b.errs, &LoadError{Path: path, Err: unwrapPathErr(err)})
		return
	}
	b.LoadBytes(path, data, opts)
}

// LoadBytes loads the content of a feed file; path names it in errors and
// in the indicators.
func (b *Builder) LoadBytes(path string, data []byte, opts LoadOptions) {
	b.loadBytes(path, data, opts, 0)
}

// loadBytes is LoadBytes for data found depth compressed files deep: a
// gzip stream or zip archive is inflated and its files loaded (as
// path/name for a zip's), at most two levels down (feed.csv.gz inside a
// zip).
func (b *Builder) loadBytes(path string, data []byte, opts LoadOptions, depth int) {
	if Compressed(data) {
		if depth >= 2 {
			b.errs = append(b.errs, &LoadError{Path: path, Err: errors.New("a compressed file inside two others: not read (unpack the archive yourself)")})
			return
		}
		files, err := Inflate(data, b.maxInflated)
		for _, f := range files {
			name := path
			if f.Name != "" {
				name = path + "/" + f.Name
			}
			b.loadBytes(name, f.Data, opts, depth+1)
		}
		if err != nil {
			b.errs = append(b.errs, &LoadError{Path: path, Err: err})
		}
		return
	}
	format := opts.Format
	if format == FormatAuto {
		format = DetectFormat(data)
	}
	st := &FileStats{Path: path, Format: format}
	b.files = append(b.files, st)
	l := &loader{b: b, opts: opts, stats: st, path: path}
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	switch format {
	case FormatSTIX:
		l.loadSTIX(data)
	case FormatMISPEvent:
		l.loadMISPEvent(data)
	case FormatMISPFeed:
		if filepath.Base(path) == "manifest.json" {
			b.files = b.files[:len(b.files)-1]
			b.loadMISPFeed(filepath.Dir(path), opts)
			return
		}
		l.errorf(0, "", "a MISP feed is a folder: name the folder that holds manifest.json")
	case FormatKEV:
		l.loadKEV(data)
	case FormatWarninglist:
		l.loadWarninglist(data)
	case FormatJSONList:
		l.loadJSONList(data)
	case FormatCSV:
		l.loadCSV(data)
	case FormatText:
		l.loadText(data)
	case formatJSONSchema:
		l.skip("JSON Schema document (not a feed)")
	case "json":
		l.errorf(0, "", "JSON document of unknown kind: expected a STIX bundle, a MISP event, a MISP feed manifest, the CISA KEV catalog, a MISP warninglist or an array of indicator objects")
	default:
		l.errorf(0, "", "unknown format %q (want one of stix, misp, misp-feed, csv, text, kev, warninglist, json-list)", format)
	}
}

// DetectFormat recognises a feed's format from its content. JSON of no
// known kind is reported as "json".
func DetectFormat(data []byte) Format {
	d := bytes.TrimLeft(bytes.TrimPrefix(data, []byte("\ufeff")), " \t\r\n")
	if len(d) == 0 {
		return FormatText
	}
	switch d[0] {
	case '{':
		var top map[string]json.RawMessage
		if json.Unmarshal(d, &top) != nil {
			// Broken JSON: guess from the first keys so the error says where.
			head := string(d[:min(len(d), 4096)])
			switch {
			case strings.Contains(head, `"Event"`) || strings.Contains(head, `"response"`):
				return FormatMISPEvent
			case strings.Contains(head, `"bundle"`) || strings.Contains(head, `"objects"`):
				return FormatSTIX
			case strings.Contains(head, `"vulnerabilities"`):
				return FormatKEV
			}
			return "json"
		}
		switch {
		case top["Event"] != nil || top["response"] != nil:
			return FormatMISPEvent
		case top["vulnerabilities"] != nil && (top["catalogVersion"] != nil || top["title"] != nil):
			return FormatKEV
		case top["list"] != nil && top["type"] != nil && top["name"] != nil:
			return FormatWarninglist
		case top["type"] != nil && (top["objects"] != nil || top["id"] != nil):
			return FormatSTIX
		}
		if isMISPManifest(top) {
			return FormatMISPFeed
		}
		if top["$schema"] != nil || top["$id"] != nil {
			return formatJSONSchema
		}
		return "json"
	case '[':
		var arr []map[string]json.RawMessage
		if json.Unmarshal(d, &arr) == nil {
			if len(arr) > 0 && arr[0]["Event"] != nil {
				return FormatMISPEvent
			}
			return FormatJSONList
		}
		return "json"
	}
	first := firstLine(d)
	if strings.HasPrefix(strings.ToLower(first), "cveid,") {
		return FormatKEV
	}
	if looksCSV(d) {
		return FormatCSV
	}
	return FormatText
}

func isMISPManifest(top map[string]json.RawMessage) bool {
	if len(top) == 0 {
		return false
	}
	for k, v := range top {
		if len(k) != 36 || strings.Count(k, "-") != 4 {
			return false
		}
		return bytes.Contains(v, []byte(`"info"`)) || bytes.Contains(v, []byte(`"Orgc"`))
	}
	return false
}

func firstLine(d []byte) string {
	if i := bytes.IndexByte(d, '\n'); i >= 0 {
		d = d[:i]
	}
	return strings.TrimRight(string(d), "\r")
}

// looksCSV reports whether most of the first data lines have a comma
// outside comments.
func looksCSV(d []byte) bool {
	lines, commas := 0, 0
	for len(d) > 0 && lines < 20 {
		var line []byte
		if i := bytes.IndexByte(d, '\n'); i >= 0 {
			line, d = d[:i], d[i+1:]
		} else {
			line, d = d, nil
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		lines++
		if bytes.IndexByte(line, ',') >= 0 {
			commas++
		}
	}
	return lines > 0 && commas*2 > lines
}

// sourceFromPath names a feed after its file: "emotet" for
// trails/static/malware/emotet.txt, and for emotet.txt.gz (a compressed
// feed is the same feed).
func sourceFromPath(path string) string {
	base := filepath.Base(path)
	if ext := filepath.Ext(base); strings.EqualFold(ext, ".gz") {
		base = base[:len(base)-len(ext)]
	}
	base = strings.TrimSuffix(base, filepath.Ext(base))
	if base == "" || slices.Contains([]string{"list", "samples", "iocs", "ioc", "indicators", "data"}, strings.ToLower(base)) {
		dir := filepath.Base(filepath.Dir(path))
		if dir == "." || dir == string(filepath.Separator) {
			return base
		}
		if base == "" {
			return dir
		}
		return dir + "/" + base
	}
	return base
}

// jsonPos returns the line and column of byte offset off in data.
func jsonPos(data []byte, off int64) (int, int) {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	line := 1 + bytes.Count(data[:off], []byte("\n"))
	col := int(off) - bytes.LastIndexByte(data[:off], '\n')
	return line, col
}

// jsonError turns a decoding error into a positioned load error.
func (l *loader) jsonError(data []byte, err error) {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	line, col := 0, 0
	switch {
	case errors.As(err, &se):
		line, col = jsonPos(data, se.Offset)
	case errors.As(err, &te):
		line, col = jsonPos(data, te.Offset)
	}
	l.b.errs = append(l.b.errs, &LoadError{Path: l.path, Line: line, Col: col, Err: fmt.Errorf("invalid JSON: %w", err)})
	l.stats.Errors++
}
