package intel

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"path/filepath"
	"strconv"
	"strings"
)

// loadText reads a plain list: one value a line, '#' starts a comment (at
// the start of a line, or after a space), further columns (ipsum's count,
// maltrail's trailing comment) are ignored. A first line that names a type
// ("IPAddress") is a header giving the type of every value.
func (l *loader) loadText(data []byte) {
	l.lineIDs = true // ids are path:line
	defer func() { l.lineIDs = false }()
	source := l.source()
	typ := l.opts.Type
	if typ == TypeUnknown {
		// samples.sha256 and the like
		if t, ok := ParseType(strings.TrimPrefix(filepath.Ext(l.path), ".")); ok && t.IsHash() {
			typ = t
		}
	}
	lineNo := 0
	for len(data) > 0 {
		var line []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			line, data = data, nil
		}
		lineNo++
		s := strings.TrimSpace(string(line))
		if s == "" || s[0] == '#' || s[0] == ';' || strings.HasPrefix(s, "//") {
			continue
		}
		if i := strings.Index(s, " #"); i >= 0 {
			s = strings.TrimSpace(s[:i])
		}
		if i := strings.Index(s, "\t#"); i >= 0 {
			s = strings.TrimSpace(s[:i])
		}
		if i := strings.IndexAny(s, " \t"); i >= 0 {
			s = s[:i]
		}
		if lineNo == 1 && typ == TypeUnknown {
			if t, ok := ParseType(s); ok {
				typ = t
				continue
			}
		}
		l.addValue(lineNo, "", s, typ, Indicator{Source: source, Confidence: DefaultConfidence})
	}
}

func (l *loader) source() string {
	if l.opts.Source != "" {
		return l.opts.Source
	}
	return sourceFromPath(l.path)
}

// addValue adds value as an indicator of type t (or of the type its shape
// says), reporting values that are no indicator and skipping URI paths.
func (l *loader) addValue(line int, where, value string, t Type, ind Indicator) {
	if t == TypeUnknown {
		dt, v := Detect(value)
		if dt == TypeUnknown {
			switch {
			case strings.HasPrefix(v, "/"):
				l.skip("URI path pattern (matches a path on any host; not matchable inline)")
			case v == "":
				return
			default:
				l.errorf(line, where, "%q: cannot tell the indicator type from its shape (give the type, e.g. --type domain)", value)
			}
			return
		}
		t, value = dt, v
	}
	ind.Type, ind.Value = t, value
	l.add(line, where, ind)
}

// csvColumns are header names of the column holding the value, in order of
// preference, and of the column holding the type.
var (
	csvValueCols = []string{"ioc", "indicator", "value", "observable", "ioc_value", "indicator_value", "ipaddress", "ip_address", "ip", "domain", "hostname", "url", "sha256", "sha1", "md5", "hash", "email"}
	csvTypeCols  = []string{"type", "indicatortype", "indicator_type", "ioc_type", "iocType", "kind"}
)

// loadCSV reads CSV: with a header, the value column is found by name (or
// Column) and the type from a type column (or a column named after a type,
// or the value's shape); without a header, the first cell of each row
// shaped like an indicator is the value. Cells are trimmed.
func (l *loader) loadCSV(data []byte) {
	l.lineIDs = true // ids are path:line
	defer func() { l.lineIDs = false }()
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	r.TrimLeadingSpace = true
	r.Comment = '#'
	r.ReuseRecord = false
	source := l.source()
	valueCol, typeCol, tlpCol, confCol, descCol := l.opts.Column-1, -1, -1, -1, -1
	colType := l.opts.Type
	first := true
	lastOffset := int64(-1)
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) && r.InputOffset() > lastOffset {
				// the reader went past the bad record: go on with the next
				l.fail(pe.Line, "", pe.Err)
				lastOffset = r.InputOffset()
				continue
			}
			l.fail(0, "", err)
			return
		}
		lastOffset = r.InputOffset()
		line, _ := r.FieldPos(0)
		for i := range rec {
			rec[i] = strings.TrimSpace(rec[i])
		}
		if first {
			first = false
			if isCSVHeader(rec) {
				for i, h := range rec {
					h := strings.ToLower(strings.ReplaceAll(h, " ", ""))
					if valueCol < 0 && indexOf(csvValueCols, h) >= 0 {
						valueCol = i
						if t, ok := ParseType(h); ok && colType == TypeUnknown {
							colType = t
						}
					}
					switch {
					case typeCol < 0 && indexOf(csvTypeCols, h) >= 0:
						typeCol = i
					case h == "tlp":
						tlpCol = i
					case h == "confidence" || h == "score":
						confCol = i
					case h == "description" || h == "comment":
						descCol = i
					}
				}
				if valueCol < 0 {
					l.errorf(line, "", "CSV header %q names no indicator column (expected one of IoC, Indicator, Value, IPAddress, Domain, URL, SHA256, …); give the column", strings.Join(rec, ","))
					return
				}
				continue
			}
		}
		ind := Indicator{Source: source, Confidence: DefaultConfidence}
		if tlpCol >= 0 && tlpCol < len(rec) {
			ind.TLP = normalizeTLP(rec[tlpCol])
		}
		if confCol >= 0 && confCol < len(rec) {
			if c, err := strconv.Atoi(rec[confCol]); err == nil {
				ind.Confidence = c
			}
		}
		if descCol >= 0 && descCol < len(rec) {
			ind.Description = rec[descCol]
		}
		if valueCol < 0 {
			// No header: the first cell shaped like an indicator.
			found := false
			for _, c := range rec {
				if t, _ := Detect(c); t != TypeUnknown {
					l.addValue(line, "", c, TypeUnknown, ind)
					found = true
					break
				}
			}
			if !found {
				l.errorf(line, "", "no cell of %q is shaped like an indicator", strings.Join(rec, ","))
			}
			continue
		}
		if valueCol >= len(rec) {
			l.errorf(line, "", "row has %d columns, the value is in column %d", len(rec), valueCol+1)
			continue
		}
		t := colType
		if typeCol >= 0 && typeCol < len(rec) && rec[typeCol] != "" {
			pt, ok := ParseType(rec[typeCol])
			if !ok {
				l.skip("type " + strconv.Quote(strings.ToLower(rec[typeCol])) + " (not matchable inline)")
				continue
			}
			t = pt
		}
		l.addValue(line, "", rec[valueCol], t, ind)
	}
}

// isCSVHeader reports whether a first row is a header: no cell is shaped
// like an indicator and every cell is a short name.
func isCSVHeader(rec []string) bool {
	for _, c := range rec {
		if t, _ := Detect(c); t != TypeUnknown {
			return false
		}
		if len(c) > 40 {
			return false
		}
		for _, r := range c {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == ' ' || r == '-' || r == '.') {
				return false
			}
		}
	}
	return true
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if strings.EqualFold(x, s) {
			return i
		}
	}
	return -1
}

// normalizeTLP maps "TLP:WHITE", "white", "tlp:clear" and the like to
// vigil's spelling: clear, green, amber, amber+strict, red.
func normalizeTLP(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	s = strings.TrimPrefix(s, "tlp:")
	s = strings.TrimPrefix(s, "tlp-")
	switch s {
	case "white", "clear":
		return "clear"
	case "green", "amber", "amber+strict", "red":
		return s
	}
	return ""
}

func readCSVRecords(data []byte) ([][]string, error) {
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	return r.ReadAll()
}
