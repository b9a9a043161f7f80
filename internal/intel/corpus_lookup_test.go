package intel

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// The test below checks issue 5's first "done when" item against the whole
// intel corpus: every file loads or has its refused entries reported, every
// indicator the files contain is found by Lookup, and warninglist values
// are flagged. The values are extracted by the simple per-format reader
// below (encoding/json, encoding/csv and regular expressions), not by the
// loader, so that a value the loader drops silently shows up as "not found".

var (
	reIPv4     = regexp.MustCompile(`^(?:\d{1,3}\.){3}\d{1,3}$`)
	reIPv4Port = regexp.MustCompile(`^((?:\d{1,3}\.){3}\d{1,3}):\d{1,5}$`)
	reCIDR     = regexp.MustCompile(`^[0-9a-fA-F:.]+/\d{1,3}$`)
	reIPv6     = regexp.MustCompile(`^[0-9a-fA-F]{0,4}(?::[0-9a-fA-F]{0,4}){2,7}$`)
	reHash     = regexp.MustCompile(`^(?:[0-9a-fA-F]{32}|[0-9a-fA-F]{40}|[0-9a-fA-F]{64}|[0-9a-fA-F]{128})$`)
	reURL      = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*://[^\s/?#]+\S*$`)
	reHostPath = regexp.MustCompile(`^(?i)[a-z0-9_.-]+\.[a-z0-9-]+(?::\d+)?/\S*$`)
	reURIPath  = regexp.MustCompile(`^/\S*$`)
	reEmail    = regexp.MustCompile(`^(?i)[^@\s<>]+@[a-z0-9_-]+(?:\.[a-z0-9_-]+)+$`)
	reDomain   = regexp.MustCompile(`^(?i)(?:\*\.)?(?:[a-z0-9_-]+\.)+[a-z][a-z0-9-]*\.?$`)
	reCVE      = regexp.MustCompile(`^(?i)CVE-\d{4}-\d{4,}$`)
	// STIX equality comparisons on the object paths vigil indexes.
	reSTIXTerm = regexp.MustCompile(`(ipv4-addr:value|ipv6-addr:value|domain-name:value|url:value|email-addr:value|file:hashes\.'?(?:MD5|SHA-1|SHA-256|SHA-512|SHA1|SHA256)'?|file:name|network-traffic:(?:dst|src)_ref\.value)\s*=\s*'((?:[^'\\]|\\.)*)'`)
	reSTIXSeq  = regexp.MustCompile(`\b(FOLLOWEDBY|WITHIN|REPEATS|START)\b`)
)

// shapeOf classifies a value by regular expressions: the value to look up,
// or "" and the reason it is not one.
func shapeOf(v string) (string, string) {
	v = strings.TrimSpace(strings.TrimPrefix(v, "\ufeff"))
	v = strings.NewReplacer("[.]", ".", "(.)", ".", "[:]", ":").Replace(v)
	if strings.HasPrefix(strings.ToLower(v), "hxxp") {
		v = "http" + v[4:]
	}
	switch {
	case v == "":
		return "", "empty"
	case reHash.MatchString(v), reIPv4.MatchString(v), reCIDR.MatchString(v), reURL.MatchString(v), reCVE.MatchString(v):
		return v, ""
	case reIPv4Port.MatchString(v):
		return reIPv4Port.FindStringSubmatch(v)[1], ""
	case strings.Count(v, ":") >= 2 && reIPv6.MatchString(v):
		return v, ""
	case reURIPath.MatchString(v):
		return "", "URI path (no host)"
	case reHostPath.MatchString(v):
		return v, ""
	case reEmail.MatchString(v):
		return v, ""
	case reDomain.MatchString(v):
		return v, ""
	}
	return "", "not an indicator shape"
}

// mispMatchable are the MISP attribute types whose values are indicators
// vigil indexes (composite types split on '|').
var mispMatchable = map[string]bool{
	"ip-dst": true, "ip-src": true, "domain": true, "hostname": true, "url": true, "md5": true, "sha1": true,
	"sha256": true, "sha512": true, "email-src": true, "email-dst": true, "email": true, "imphash": true,
	"domain|ip": true, "ip-dst|port": true, "ip-src|port": true, "filename|md5": true, "filename|sha1": true,
	"filename|sha256": true, "filename|imphash": true, "vulnerability": true, "filename": true, "hostname|port": true,
}

// csvUnmatchable are CSV type-column values of rows that hold no indicator
// vigil matches.
var csvUnmatchable = map[string]bool{"filepath": true, "filepath1": true, "filepath2": true, "filepath3": true,
	"process": true, "parentprocess": true, "commandline": true, "regkey": true, "useragent": true, "avdetection": true,
	"uri1": true, "uri2": true}

type extracted struct {
	file   string
	values []string
	// excluded counts entries the extractor saw but that are not
	// indicators vigil matches, by reason.
	excluded map[string]int
	// warn holds warninglist entries (type, value) to test.
	warn [][3]string // type, value, file
	// attrs holds each warninglist file's matching_attributes, joined by
	// spaces.
	attrs map[string]string
}

func (e *extracted) exclude(reason string) {
	if e.excluded == nil {
		e.excluded = map[string]int{}
	}
	e.excluded[reason]++
}

func (e *extracted) add(v string) {
	if s, why := shapeOf(v); s != "" {
		e.values = append(e.values, s)
	} else {
		e.exclude(why)
	}
}

// extractFile reads one file of the corpus independently of the loader.
func extractFile(path string, data []byte) *extracted {
	e := &extracted{file: path}
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	base := filepath.Base(path)
	switch {
	case strings.HasSuffix(base, ".json"):
		var doc any
		if err := json.Unmarshal(data, &doc); err != nil {
			e.exclude("invalid JSON file (the loader reports it with its line)")
			return e
		}
		extractJSON(e, doc)
	case base == "hashes.csv":
		e.exclude("MISP feed hashes.csv (MD5s of attribute values, not indicators)")
	case strings.HasSuffix(base, ".csv"):
		r := csv.NewReader(bytes.NewReader(data))
		r.FieldsPerRecord, r.LazyQuotes = -1, true
		rows, _ := r.ReadAll()
		cve := -1
	rows:
		for i, row := range rows {
			for _, cell := range row {
				if c := strings.ToLower(strings.TrimSpace(cell)); csvUnmatchable[c] {
					e.exclude("CSV row typed " + c + " (not an indicator vigil matches)")
					continue rows
				}
			}
			for j, cell := range row {
				if i == 0 && strings.EqualFold(strings.TrimSpace(cell), "cveID") {
					cve = j
				}
				if i == 0 && cve < 0 {
					continue // a header
				}
				if cve >= 0 && j != cve {
					continue
				}
				cell = strings.TrimSpace(cell)
				if s, _ := shapeOf(cell); s != "" {
					e.values = append(e.values, s)
				}
			}
		}
	default: // a plain list: one value a line, '#' comments, extra columns
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line == "" || line[0] == '#' {
				continue
			}
			if i := strings.IndexAny(line, " \t#"); i >= 0 {
				line = line[:i]
			}
			e.add(line)
		}
	}
	return e
}

func extractJSON(e *extracted, doc any) {
	switch d := doc.(type) {
	case []any: // abuse.ch-style list, or a list of MISP events
		for _, x := range d {
			if m, ok := x.(map[string]any); ok {
				if ev, ok := m["Event"]; ok {
					extractMISP(e, ev)
				} else if ip, ok := m["ip_address"].(string); ok {
					e.add(ip)
				}
			}
		}
	case map[string]any:
		switch {
		case d["$schema"] != nil || d["$id"] != nil:
			e.exclude("JSON Schema")
		case d["vulnerabilities"] != nil:
			for _, v := range d["vulnerabilities"].([]any) {
				e.add(v.(map[string]any)["cveID"].(string))
			}
		case d["Event"] != nil:
			extractMISP(e, d["Event"])
		case d["response"] != nil:
			for _, r := range d["response"].([]any) {
				extractMISP(e, r.(map[string]any)["Event"])
			}
		case d["list"] != nil && d["type"] != nil:
			typ, _ := d["type"].(string)
			if as, ok := d["matching_attributes"].([]any); ok {
				var b strings.Builder
				for _, a := range as {
					s, _ := a.(string)
					b.WriteString(" " + s)
				}
				e.attrs = map[string]string{e.file: b.String()}
			}
			for _, v := range d["list"].([]any) {
				if s, ok := v.(string); ok {
					e.warn = append(e.warn, [3]string{typ, s, e.file})
				}
			}
		case d["objects"] != nil || d["type"] == "indicator":
			objs, _ := d["objects"].([]any)
			if d["objects"] == nil {
				objs = []any{d}
			}
			for _, o := range objs {
				extractSTIX(e, o.(map[string]any))
			}
		default:
			if isManifest(d) {
				e.exclude("MISP feed manifest")
				return
			}
			e.exclude("JSON of no indicator format")
		}
	}
}

func isManifest(d map[string]any) bool {
	for k := range d {
		return len(k) == 36 && strings.Count(k, "-") == 4
	}
	return false
}

func extractMISP(e *extracted, ev any) {
	m, _ := ev.(map[string]any)
	var attrs []any
	if a, ok := m["Attribute"].([]any); ok {
		attrs = append(attrs, a...)
	}
	if objs, ok := m["Object"].([]any); ok {
		for _, o := range objs {
			if a, ok := o.(map[string]any)["Attribute"].([]any); ok {
				attrs = append(attrs, a...)
			}
		}
	}
	for _, a := range attrs {
		am := a.(map[string]any)
		typ, _ := am["type"].(string)
		val, _ := am["value"].(string)
		if !mispMatchable[typ] {
			e.exclude("MISP type " + typ + " (not an indicator vigil matches)")
			continue
		}
		parts := []string{val}
		if strings.Contains(typ, "|") {
			parts = strings.SplitN(val, "|", 2)
		}
		for i, p := range parts {
			if strings.HasSuffix(typ, "|port") && i == 1 {
				continue
			}
			if strings.HasPrefix(typ, "filename") || typ == "filename" {
				if i == 0 {
					// a file name: Lookup recognises it when it has an
					// extension; the loader indexes it as a file name.
					if b := filepath.Base(strings.ReplaceAll(p, `\`, "/")); reDomain.MatchString(b) {
						e.values = append(e.values, b)
					} else {
						e.exclude("MISP file name without a domain-like shape (indexed; not recognisable by Lookup's shape detection)")
					}
					continue
				}
			}
			e.add(p)
		}
	}
}

func extractSTIX(e *extracted, o map[string]any) {
	switch o["type"] {
	case "indicator":
		p, _ := o["pattern"].(string)
		if pt, _ := o["pattern_type"].(string); pt != "" && pt != "stix" {
			e.exclude("STIX pattern_type " + pt)
			return
		}
		if reSTIXSeq.MatchString(p) {
			e.exclude("STIX pattern with FOLLOWEDBY/WITHIN/REPEATS/START (a sequence: refused by the loader)")
			return
		}
		ms := reSTIXTerm.FindAllStringSubmatch(p, -1)
		if len(ms) == 0 {
			e.exclude("STIX pattern with no equality on an indexed path")
		}
		for _, m := range ms {
			v := strings.NewReplacer(`\'`, `'`, `\\`, `\`).Replace(m[2])
			if m[1] == "file:name" {
				if reDomain.MatchString(v) {
					e.values = append(e.values, v)
				} else {
					e.exclude("STIX file:name without an extension")
				}
				continue
			}
			e.add(v)
		}
	case "observed-data":
		if objs, ok := o["objects"].(map[string]any); ok {
			for _, x := range objs {
				extractSTIX(e, x.(map[string]any))
			}
		}
	case "ipv4-addr", "ipv6-addr", "domain-name", "url", "email-addr":
		if v, ok := o["value"].(string); ok {
			e.add(v)
		}
	case "file":
		if h, ok := o["hashes"].(map[string]any); ok {
			for _, v := range h {
				if s, ok := v.(string); ok && reHash.MatchString(s) {
					e.values = append(e.values, s)
				}
			}
		}
	}
}

func TestCorpusLookupEveryIndicator(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the whole intel corpus (46 MB)")
	}
	root := corpus(t, "")
	b := NewBuilder()
	b.LoadPath(root, LoadOptions{})
	idx, werrs := b.Build()
	if len(werrs) > 0 {
		t.Errorf("build: %v", werrs)
	}

	// 1. Every file the walk reads has its statistics; every error is a
	// positioned *LoadError with a reason. Files the walk leaves alone are
	// counted by extension.
	loaded := map[string]*FileStats{}
	for _, s := range b.Stats() {
		s := s
		loaded[s.Path] = &s
	}
	errsByFile := map[string][]*LoadError{}
	for _, err := range b.Errors() {
		var le *LoadError
		if !errors.As(err, &le) || le.Path == "" || le.Err == nil {
			t.Errorf("error without file and reason: %v", err)
			continue
		}
		errsByFile[le.Path] = append(errsByFile[le.Path], le)
	}
	notWalked := map[string]int{}
	var files []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files = append(files, p)
		return nil
	})
	feedFolder := filepath.Join(root, "misp-feed", "cert-fr", "MISP-ANSSI")
	for _, p := range files {
		if walkSkips(filepath.Base(p)) {
			ext := strings.ToLower(filepath.Ext(p))
			if ext == "" {
				ext = filepath.Base(p)
			}
			notWalked[ext]++
			continue
		}
		if _, ok := loaded[p]; !ok && !strings.HasPrefix(p, feedFolder) {
			t.Errorf("%s: walked but neither loaded nor reported", p)
		}
	}
	t.Logf("%d files under %s; %d read by the loader (%d with refused entries); left alone by the walk (documentation, YARA, Snort, Sigma, certificates…): %v",
		len(files), root, len(loaded), len(errsByFile), notWalked)
	var errFiles []string
	for f := range errsByFile {
		errFiles = append(errFiles, f)
	}
	sort.Strings(errFiles)
	for _, f := range errFiles {
		les := errsByFile[f]
		t.Logf("  refused %5d in %s, e.g. %v", len(les), strings.TrimPrefix(f, root), les[0].Err)
	}

	// 2. Every indicator the files contain is found by Lookup, as an
	// indicator read from that file.
	total, found := 0, 0
	excluded := map[string]int{}
	notFound := map[string][]string{}
	var warn [][3]string
	attrs := map[string]string{}
	for _, p := range files {
		if walkSkips(filepath.Base(p)) {
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		e := extractFile(p, data)
		maps.Copy(attrs, e.attrs)
		for k, v := range e.excluded {
			excluded[k] += v
		}
		warn = append(warn, e.warn...)
		refused := map[string]bool{}
		for _, le := range errsByFile[p] {
			if q, ok := le.Err.(interface{ Error() string }); ok {
				refused[q.Error()] = true
			}
		}
		for _, v := range e.values {
			total++
			_, ms := idx.Lookup(v)
			ok := false
			for _, m := range ms {
				if m.Indicator.Path == p || strings.HasPrefix(p, feedFolder) && strings.HasPrefix(m.Indicator.Path, feedFolder) {
					ok = true
					break
				}
			}
			if ok {
				found++
				continue
			}
			// A value the loader refused with a reported reason.
			rep := false
			for _, le := range errsByFile[p] {
				if strings.Contains(le.Err.Error(), strings.TrimSpace(v)) {
					rep = true
					break
				}
			}
			if rep {
				excluded["refused by the loader with a reported reason"]++
				total--
				continue
			}
			notFound[strings.TrimPrefix(p, root)] = append(notFound[strings.TrimPrefix(p, root)], v)
		}
	}
	t.Logf("Lookup: %d of %d extracted values found as an indicator of their file", found, total)
	var keys []string
	for k := range excluded {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t.Logf("  not extracted / excluded %7d  %s", excluded[k], k)
	}
	var nf []string
	for f := range notFound {
		nf = append(nf, f)
	}
	sort.Strings(nf)
	for _, f := range nf {
		vs := notFound[f]
		t.Errorf("%s: %d values not found, e.g. %q", f, len(vs), vs[:min(len(vs), 5)])
	}
	if total < 300000 {
		t.Errorf("only %d values extracted", total)
	}

	// 3. Warninglist values are flagged: up to 20 entries of every list.
	perList := map[string]int{}
	flagged, tested := 0, 0
	for _, w := range warn {
		typ, v := w[0], strings.TrimSpace(w[1])
		if typ == "regex" || typ == "substring" || v == "" {
			continue
		}
		key := w[2]
		if perList[key] >= 20 || typ == "hostname" && !strings.Contains(strings.Trim(v, "."), ".") {
			continue
		}
		perList[key]++
		if typ == "cidr" {
			if i := strings.IndexByte(v, '/'); i >= 0 {
				v = v[:i] // the network's first address
			}
		}
		if typ == "hostname" {
			v = "www." + strings.TrimPrefix(v, ".") // a sub-domain
		}
		t0, _ := Detect(v)
		if t0 == TypeUnknown || !listAppliesTo(attrs[key], t0) {
			continue
		}
		tested++
		if len(idx.Warninglists(v)) > 0 {
			flagged++
		} else if tested-flagged <= 10 {
			t.Errorf("warninglist %s entry %q: Warninglists(%q) is empty", typ, w[1], v)
		}
	}
	t.Logf("Warninglists: %d of %d sampled entries flagged", flagged, tested)
	if tested < 1000 || flagged != tested {
		t.Errorf("warninglists: %d of %d flagged", flagged, tested)
	}
}

// listAppliesTo reports whether a warninglist whose matching_attributes
// are attrs (space-separated; "" when it names none) applies to a value of
// type t, as MISP reads those attribute type names: an address is checked
// against lists for ip-src, ip-dst (with or without port) and domain|ip,
// a hash against lists naming its algorithm, and so on.
func listAppliesTo(attrs string, t Type) bool {
	if attrs == "" {
		return true
	}
	for _, a := range strings.Fields(attrs) {
		var ok bool
		switch t {
		case TypeIPv4, TypeIPv6, TypeCIDR:
			ok = strings.HasPrefix(a, "ip-") || a == "domain|ip"
		case TypeDomain:
			ok = strings.HasPrefix(a, "domain") || strings.HasPrefix(a, "hostname")
		case TypeURL:
			ok = a == "url" || a == "uri" || a == "link"
		case TypeEmail:
			ok = strings.Contains(a, "email")
		case TypeMD5, TypeSHA1, TypeSHA256, TypeSHA512, TypeImphash:
			ok = strings.HasSuffix(a, strings.ToLower(t.String()))
		case TypeFileName:
			ok = strings.HasPrefix(a, "filename")
		case TypeCVE:
			ok = a == "vulnerability"
		}
		if ok {
			return true
		}
	}
	return false
}
