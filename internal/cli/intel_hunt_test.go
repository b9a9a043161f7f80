package cli

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// TestHuntIntelExactDetections is issue 5's second "done when" item: vigil
// hunt --intel over the shared EVTX and JSON logs, with a feed of real
// addresses, DNS names and hashes picked from those logs at test time,
// produces exactly the detections an independent scan of the events
// expects: no more, no less.
//
// The events are read here without vigil's readers: the EVTX files through
// vigil dump --meta (the records as JSON, each with its file),
// the JSON logs line by line with encoding/json. A detection is keyed by
// (file, record, field, indicator); the field is compared by its last
// dotted component (id.orig_h and orig_h alike), since the reader's and this
// test's flattening of nested objects need not agree beyond that.
func TestHuntIntelExactDetections(t *testing.T) {
	needCorpus(t)
	if testing.Short() {
		t.Skip("whole-corpus hunt skipped under -short")
	}
	evtxDir := filepath.Join(sharedCorpus, "evtx")
	logsDir := filepath.Join(sharedCorpus, "logs")

	var recs []scanRecord
	code, out, errOut := runCLI(t, "dump", "--format", "jsonl", "--meta", evtxDir)
	if code != 0 {
		t.Fatalf("dump: exit %d: %s", code, errOut)
	}
	for _, line := range strings.Split(out, "\n") {
		if line == "" {
			continue
		}
		var r struct {
			Event  map[string]any
			Source struct {
				File string `json:"file"`
			} `json:"_source"`
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("dump line: %v", err)
		}
		// The detection's record_id is the record's EventRecordID.
		sys, _ := r.Event["System"].(map[string]any)
		id, _ := sys["EventRecordID"].(float64)
		rec := scanRecord{file: r.Source.File, record: uint64(id)}
		for _, part := range []string{"EventData", "UserData"} {
			flattenLeaves(r.Event[part], "", &rec.fields)
		}
		recs = append(recs, rec)
	}
	nEvtx := len(recs)
	filepath.WalkDir(logsDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !(strings.HasSuffix(p, ".json") || strings.HasSuffix(p, ".json.gz")) || strings.Contains(p, "_metadata") {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var r io.Reader = f
		if strings.HasSuffix(p, ".gz") {
			if r, err = gzip.NewReader(f); err != nil {
				t.Fatal(err)
			}
		}
		sc := bufio.NewScanner(r)
		sc.Buffer(nil, 16<<20)
		for n := uint64(1); sc.Scan(); n++ {
			var obj map[string]any
			if json.Unmarshal(sc.Bytes(), &obj) != nil {
				continue
			}
			rec := scanRecord{file: p, record: n}
			flattenLeaves(obj, "", &rec.fields)
			recs = append(recs, rec)
		}
		return nil
	})
	t.Logf("scanned %d EVTX records and %d JSON log lines", nEvtx, len(recs)-nEvtx)

	// Candidates, counted by (field, value) over every record.
	type cand struct{ field, value string }
	counts := map[cand]int{}
	for _, r := range recs {
		for _, f := range r.fields {
			switch name := leafName(f[0]); {
			case name == "Hashes":
				for _, pair := range strings.Split(f[1], ",") {
					if alg, h, ok := strings.Cut(pair, "="); ok && (alg == "SHA256" || alg == "MD5") {
						counts[cand{"Hashes:" + alg, strings.ToLower(h)}]++
					}
				}
			case name == "QueryName" || name == "query":
				if reTestDomain.MatchString(f[1]) {
					counts[cand{name, strings.ToLower(f[1])}]++
				}
			default:
				if ip := ipOf(f[1]); ip != "" && !unroutable(ip) {
					counts[cand{name, ip}]++
				}
			}
		}
	}
	// Pick, per kind of field, the value seen there most often, up to 100
	// times, and not already picked.
	picked := map[string]string{} // value -> why
	pick := func(field string) {
		best, bestN := "", 0
		for c, n := range counts {
			if c.field != field || n > 100 || picked[c.value] != "" {
				continue
			}
			if n > bestN || n == bestN && c.value < best {
				best, bestN = c.value, n
			}
		}
		if best == "" {
			t.Errorf("no candidate value in field %s", field)
			return
		}
		picked[best] = fmt.Sprintf("%s (%d occurrences in that field)", field, bestN)
	}
	for _, f := range []string{"DestinationIp", "SourceIp", "IpAddress", "ClientIP", "DestAddress", "SourceAddress",
		"orig_h", "resp_h", "sourceIPAddress", "QueryName", "query", "Hashes:SHA256", "Hashes:MD5"} {
		pick(f)
	}
	var values []string
	for v := range picked {
		values = append(values, v)
	}
	sort.Strings(values)
	for _, v := range values {
		t.Logf("feed value %-66s from %s", v, picked[v])
	}

	// Expected detections: every field of every record whose value is, or
	// holds, a picked value the way the issue says events name them.
	want := map[string]bool{}
	for _, r := range recs {
		for _, f := range r.fields {
			name, val := leafName(f[0]), f[1]
			for _, ind := range occurrences(name, val, picked) {
				want[fmt.Sprintf("%s#%d %s=%s", filepath.Clean(r.file), r.record, name, ind)] = true
			}
		}
	}

	dir := t.TempDir()
	feed := filepath.Join(dir, "feed.txt")
	if err := os.WriteFile(feed, []byte(strings.Join(values, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rules := filepath.Join(dir, "rules")
	os.Mkdir(rules, 0o755)
	code, out, errOut = runCLI(t, "hunt", "--no-progress", "--format", "jsonl", "--intel", feed, "--rules", rules, evtxDir, logsDir)
	if code != 0 && code != 1 {
		t.Fatalf("hunt: exit %d: %s", code, errOut)
	}
	t.Logf("%s", strings.SplitN(errOut, "\n", 3)[:2])
	got := map[string]bool{}
	for _, line := range strings.Split(out, "\n") {
		if line == "" {
			continue
		}
		var d struct {
			RuleID   string         `json:"rule_id"`
			RecordID uint64         `json:"record_id"`
			Source   string         `json:"source"`
			Fields   map[string]any `json:"fields"`
		}
		if err := json.Unmarshal([]byte(line), &d); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		if !strings.HasPrefix(d.RuleID, "intel:") {
			t.Errorf("non-intel detection with an empty rules folder: %s", line)
			continue
		}
		got[fmt.Sprintf("%s#%d %s=%s", filepath.Clean(d.Source), d.RecordID, leafName(fmt.Sprint(d.Fields["intel.field"])), fmt.Sprint(d.Fields["intel.indicator"]))] = true
	}
	perValue := map[string]int{}
	for k := range want {
		perValue[k[strings.LastIndexByte(k, '=')+1:]]++
	}
	for _, v := range values {
		t.Logf("expected %5d detections of %s", perValue[v], v)
	}
	var missing, extra []string
	for k := range want {
		if !got[k] {
			missing = append(missing, k)
		}
	}
	for k := range got {
		if !want[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	t.Logf("%d detections expected, %d produced, %d missing, %d unexpected", len(want), len(got), len(missing), len(extra))
	for i, k := range missing {
		if i == 20 {
			break
		}
		t.Errorf("missing: %s", k)
	}
	for i, k := range extra {
		if i == 20 {
			break
		}
		t.Errorf("unexpected: %s", k)
	}
	if len(want) < 50 {
		t.Errorf("only %d detections expected: the picked values are too rare to test much", len(want))
	}
}

type scanRecord struct {
	file   string
	record uint64
	fields [][2]string
}

// flattenLeaves appends the string and number leaves of v with dotted
// names; the elements of an array take the array's name.
func flattenLeaves(v any, name string, out *[][2]string) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			n := k
			if name != "" {
				n = name + "." + k
			}
			flattenLeaves(e, n, out)
		}
	case []any:
		for _, e := range x {
			flattenLeaves(e, name, out)
		}
	case string:
		*out = append(*out, [2]string{name, x})
	case float64:
		*out = append(*out, [2]string{name, fmt.Sprint(x)})
	}
}

func leafName(n string) string {
	if i := strings.LastIndexByte(n, '.'); i >= 0 {
		return n[i+1:]
	}
	return n
}

var (
	reTestIPv4   = regexp.MustCompile(`^(?:::ffff:)?(?:((?:\d{1,3}\.){3}\d{1,3})(?::\d{1,5})?|\[((?:\d{1,3}\.){3}\d{1,3})\]:\d{1,5})$`)
	reTestDomain = regexp.MustCompile(`^(?i)(?:[a-z0-9_-]+\.)+[a-z]{2,}$`)
	reTestURL    = regexp.MustCompile(`^(?i)[a-z][a-z0-9+.-]*://(?:[^/?#@]*@)?([^/?#:]+)`)
)

// ipOf returns the IPv4 address a field holds: the address, the address
// with a port (RdpCoreTS's ClientIP writes [10.0.2.17]:64046), or the
// address mapped into IPv6 (::ffff:a.b.c.d).
func ipOf(v string) string {
	if m := reTestIPv4.FindStringSubmatch(v); m != nil {
		return m[1] + m[2]
	}
	return ""
}

// unroutable leaves out addresses that stand for none (0.0.0.0, loopback,
// broadcast, multicast).
func unroutable(ip string) bool {
	for _, p := range []string{"127.", "0.", "255.", "224.", "239."} {
		if strings.HasPrefix(ip, p) {
			return true
		}
	}
	return false
}

// occurrences returns the picked values field (name, val) names: an
// address (with a port or mapped into IPv6), a domain or one of its
// sub-domains, the host of a URL, a hash in a Sysmon Hashes field or
// alone.
func occurrences(name, val string, picked map[string]string) []string {
	var out []string
	has := func(v string) {
		if picked[v] != "" {
			out = append(out, v)
		}
	}
	lv := strings.ToLower(strings.TrimSpace(val))
	if name == "Hashes" {
		for _, pair := range strings.Split(lv, ",") {
			if _, h, ok := strings.Cut(pair, "="); ok {
				has(h)
			}
		}
		return out
	}
	if ip := ipOf(lv); ip != "" {
		has(ip)
		return out
	}
	host := ""
	if m := reTestURL.FindStringSubmatch(lv); m != nil {
		has(lv) // a URL indicator (none is picked)
		host = m[1]
	} else if reTestDomain.MatchString(strings.TrimSuffix(lv, ".")) {
		host = strings.TrimSuffix(lv, ".")
	}
	if host != "" {
		if ip := ipOf(host); ip != "" {
			has(ip)
			return out
		}
		for d := host; ; {
			has(d)
			i := strings.IndexByte(d, '.')
			if i < 0 {
				break
			}
			d = d[i+1:]
		}
		return out
	}
	if len(lv) == 32 || len(lv) == 64 {
		has(lv)
	}
	return out
}
