package normalize

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/goccy/go-yaml"

	"github.com/vigil-defense/vigil/evtx"
	"github.com/vigil-defense/vigil/internal/event"
	"github.com/vigil-defense/vigil/sigma"
)

const corpus = "../../../shared/corpus"

// needCorpus returns the path of a corpus directory or skips the test.
func needCorpus(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join(corpus, rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("corpus not present at %s: %v", p, err)
	}
	if testing.Short() {
		t.Skipf("skipping the corpus run over %s in -short mode", p)
	}
	return p
}

// jsonText renders a decoded JSON scalar as the text a reader would give.
func jsonText(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", true
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case bool:
		return strconv.FormatBool(x), true
	case map[string]any:
		if t, ok := x["#text"]; ok {
			return jsonText(t)
		}
	}
	return "", false
}

// attrs returns the "#attributes" object of an evtx_dump element.
func attrs(v any) map[string]any {
	m, _ := v.(map[string]any)
	a, _ := m["#attributes"].(map[string]any)
	return a
}

// evtxDumpEvent flattens one record in the evtx_dump JSON layout into an
// event, naming fields as evtx.Record.AppendFields does.
func evtxDumpEvent(rec map[string]any) *event.Event {
	e := &event.Event{}
	root, _ := rec["Event"].(map[string]any)
	sys, _ := root["System"].(map[string]any)
	attr := func(elem any, a, field string) {
		if v, ok := attrs(elem)[a]; ok {
			if s, ok := jsonText(v); ok {
				e.AddString(field, strings.TrimSpace(s))
			}
		}
	}
	// System children in document order are not kept by encoding/json;
	// the order does not matter for classification.
	for _, k := range sortedKeys(sys) {
		v := sys[k]
		switch k {
		case "Provider":
			attr(v, "Name", evtx.FieldProviderName)
			attr(v, "Guid", evtx.FieldProviderGUID)
			attr(v, "EventSourceName", evtx.FieldEventSourceName)
		case "EventID":
			if s, ok := jsonText(v); ok {
				e.AddString(evtx.FieldEventID, s)
			}
			attr(v, "Qualifiers", evtx.FieldQualifiers)
		case "TimeCreated":
			attr(v, "SystemTime", evtx.FieldTimeCreated)
		case "Correlation":
			attr(v, "ActivityID", evtx.FieldActivityID)
			attr(v, "RelatedActivityID", evtx.FieldRelatedActivityID)
		case "Execution":
			attr(v, "ProcessID", evtx.FieldProcessID)
			attr(v, "ThreadID", evtx.FieldThreadID)
		case "Security":
			attr(v, "UserID", evtx.FieldUserID)
		default:
			if s, ok := jsonText(v); ok && v != nil {
				e.AddString(k, strings.TrimSpace(s))
			}
		}
	}
	for _, part := range []string{"EventData", "UserData"} {
		flattenData(e, root[part])
	}
	return e
}

func flattenData(e *event.Event, v any) {
	m, ok := v.(map[string]any)
	if !ok {
		return
	}
	for _, k := range sortedKeys(m) {
		if k == "#attributes" {
			continue
		}
		switch x := m[k].(type) {
		case map[string]any:
			if s, ok := jsonText(x); ok {
				e.AddString(k, strings.TrimSpace(s))
			} else {
				flattenData(e, x)
			}
		case []any:
			for _, it := range x {
				if s, ok := jsonText(it); ok {
					e.AddString(k, strings.TrimSpace(s))
				}
			}
		default:
			if s, ok := jsonText(x); ok {
				e.AddString(k, strings.TrimSpace(s))
			}
		}
	}
}

// readJSONStream decodes every JSON value of r (one object, several
// concatenated, or one per line).
func readJSONStream(r io.Reader, fn func(map[string]any)) error {
	d := json.NewDecoder(r)
	d.UseNumber()
	for {
		var m map[string]any
		if err := d.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		fn(m)
	}
}

// flatJSONEvent flattens a JSON object into dotted field names, as flat
// JSON readers do (userIdentity.type).
func flatJSONEvent(m map[string]any) *event.Event {
	e := &event.Event{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for _, k := range sortedKeys(x) {
				name := k
				if prefix != "" {
					name = prefix + "." + k
				}
				walk(name, x[k])
			}
		case []any:
			b, _ := json.Marshal(x)
			e.AddString(prefix, string(b))
		default:
			s, _ := jsonText(x)
			e.AddString(prefix, s)
		}
	}
	walk("", m)
	return e
}

var (
	setsMu sync.Mutex
	sets   = map[string]*sigma.Set{}
)

// loadRules parses a rule folder once per test binary.
func loadRules(t *testing.T, dir string) *sigma.Set {
	t.Helper()
	setsMu.Lock()
	defer setsMu.Unlock()
	if s := sets[dir]; s != nil {
		return s
	}
	s, err := sigma.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	sets[dir] = s
	return s
}

// ruleIndex parses every rule under the corpus's rules* folders, by id.
func ruleIndex(t *testing.T, sigmaDir string) map[string]*sigma.Rule {
	t.Helper()
	dirs, _ := filepath.Glob(filepath.Join(sigmaDir, "rules*"))
	idx := map[string]*sigma.Rule{}
	for _, d := range dirs {
		for _, r := range loadRules(t, d).Rules() {
			idx[r.ID] = r
		}
	}
	return idx
}

// TestRegressionLogsources checks, for every SigmaHQ regression case with a
// JSON rendering of its sample, that the rule's logsource applies to the
// class of at least one sample event.
func TestRegressionLogsources(t *testing.T) {
	sigmaDir := needCorpus(t, "sigma")
	rules := ruleIndex(t, sigmaDir)
	tab := Default()
	var infos []string
	filepath.WalkDir(filepath.Join(sigmaDir, "regression_data"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Name() == "info.yml" {
			infos = append(infos, p)
		}
		return nil
	})
	sort.Strings(infos)
	var cases, pass, noJSON, noRule int
	var failWin, failOther []string
	for _, info := range infos {
		data, err := os.ReadFile(info)
		if err != nil {
			t.Fatal(err)
		}
		var meta struct {
			RuleMetadata []struct {
				ID string `yaml:"id"`
			} `yaml:"rule_metadata"`
		}
		if err := yaml.Unmarshal(data, &meta); err != nil || len(meta.RuleMetadata) == 0 {
			t.Errorf("%s: no rule_metadata: %v", info, err)
			continue
		}
		id := meta.RuleMetadata[0].ID
		rule := rules[id]
		if rule == nil {
			noRule++
			t.Logf("%s: rule %s not in the corpus (skipped)", info, id)
			continue
		}
		jsons, _ := filepath.Glob(filepath.Join(filepath.Dir(info), "*.json"))
		if len(jsons) == 0 {
			noJSON++
			continue
		}
		cases++
		ok := false
		var seen []string
		for _, j := range jsons {
			f, err := os.Open(j)
			if err != nil {
				t.Fatal(err)
			}
			err = readJSONStream(f, func(m map[string]any) {
				c := tab.Classify(evtxDumpEvent(m))
				if tab.RuleMatches(rule.Logsource, c) {
					ok = true
				}
				seen = append(seen, fmt.Sprint(c.Logsources))
			})
			f.Close()
			if err != nil {
				t.Errorf("%s: %v", j, err)
			}
		}
		if ok {
			pass++
			continue
		}
		l := rule.Logsource
		msg := fmt.Sprintf("%s: rule %s logsource %s/%s/%s applies to no sample event (classes %v)", filepath.Dir(info), id, l.Category, l.Product, l.Service, seen)
		if strings.EqualFold(l.Product, "windows") {
			failWin = append(failWin, msg)
		} else {
			failOther = append(failOther, msg)
		}
	}
	t.Logf("regression logsources: %d of %d cases pass; %d without a .json skipped; %d with a rule not in the corpus skipped",
		pass, cases, noJSON, noRule)
	for _, m := range failOther {
		t.Logf("non-windows case not routed: %s", m)
	}
	for _, m := range failWin {
		t.Error(m)
	}
	if cases == 0 {
		t.Error("no regression case found")
	}
}

// TestKnownCorpus counts the SigmaHQ rules whose logsource no class of the
// default tables satisfies. The Windows ones are expected to be only the
// ETW-only categories (Microsoft-Windows-Kernel-File), which no event log
// channel carries.
func TestKnownCorpus(t *testing.T) {
	set := loadRules(t, needCorpus(t, "sigma/rules"))
	tab := Default()
	unknown := map[string]int{}
	total, n := 0, 0
	for _, r := range set.Rules() {
		total++
		if tab.Known(r.Logsource) {
			continue
		}
		n++
		l := r.Logsource
		unknown[fmt.Sprintf("category=%s product=%s service=%s", l.Category, l.Product, l.Service)]++
		if strings.EqualFold(l.Product, "windows") && l.Category != "file_access" && l.Category != "file_rename" {
			t.Errorf("windows rule %s (%s) has an unmapped logsource %+v", r.ID, r.Title, l)
		}
	}
	keys := sortedKeys(unknown)
	sort.SliceStable(keys, func(i, j int) bool { return unknown[keys[i]] > unknown[keys[j]] })
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "\n%5d  %s", unknown[k], k)
	}
	t.Logf("%d of %d rules have a logsource that is not Known (%d distinct):%s", n, total, len(keys), b.String())
}

// TestOTRFWindows classifies every Windows event of the OTRF data sets (flat
// JSON with Channel and EventID) and expects every one with a channel the
// taxonomy names to get a logsource.
func TestOTRFWindows(t *testing.T) {
	dir := needCorpus(t, "logs/otrf-security-datasets/atomic/windows")
	tab := Default()
	unrouted := map[string]int{}
	total, routed := 0, 0
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".json") {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := readJSONStream(bufio.NewReader(f), func(m map[string]any) {
			e := flatJSONEvent(m)
			total++
			if c := tab.Classify(e); len(c.Logsources) > 0 {
				routed++
				return
			}
			ch, _ := e.Get("Channel")
			unrouted[ch]++
		}); err != nil {
			t.Errorf("%s: %v", p, err)
		}
		return nil
	})
	t.Logf("otrf windows: %d of %d events routed; unrouted channels: %v", routed, total, unrouted)
	for _, ch := range []string{"security", "Security", "Microsoft-Windows-Sysmon/Operational", "System", "Microsoft-Windows-PowerShell/Operational", "Windows PowerShell"} {
		if unrouted[ch] > 0 {
			t.Errorf("%d events of channel %q not routed", unrouted[ch], ch)
		}
	}
}

// TestZeekAndCloudTrail classifies the Zeek logs (by _path) and the
// CloudTrail records of the corpus.
func TestZeekAndCloudTrail(t *testing.T) {
	zdir := needCorpus(t, "logs/zeek-wrccdc2018/zeek-json")
	tab := Default()
	files, _ := filepath.Glob(filepath.Join(zdir, "*.json.gz"))
	for _, p := range files {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(zr)
		sc.Buffer(nil, 1<<20)
		for i := 0; i < 50 && sc.Scan(); i++ {
			var m map[string]any
			d := json.NewDecoder(bytes.NewReader(sc.Bytes()))
			d.UseNumber()
			if err := d.Decode(&m); err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			e := flatJSONEvent(m)
			path, _ := e.Get("_path")
			c := tab.Classify(e)
			if !tab.RuleMatches(sigma.Logsource{Product: "zeek", Service: path}, c) {
				t.Errorf("%s: _path %q classified as %v", filepath.Base(p), path, c.Logsources)
				break
			}
		}
		zr.Close()
		f.Close()
	}
	ct, _ := filepath.Glob(filepath.Join(corpus, "logs/otrf-security-datasets/atomic/aws/*/*.json"))
	n := 0
	for _, p := range ct {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		readJSONStream(f, func(m map[string]any) {
			n++
			if c := tab.Classify(flatJSONEvent(m)); !tab.RuleMatches(sigma.Logsource{Product: "aws", Service: "cloudtrail"}, c) {
				t.Errorf("%s: cloudtrail record classified as %v", p, c.Logsources)
			}
		})
		f.Close()
	}
	t.Logf("%d zeek log types, %d cloudtrail records", len(files), n)
}
