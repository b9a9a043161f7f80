package intel

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// corpus returns the path of a file or folder under ../shared/corpus/intel,
// skipping the test when it is absent.
func corpus(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join("..", "..", "..", "shared", "corpus", "intel", filepath.FromSlash(rel))
	if _, err := os.Stat(p); err != nil {
		t.Skipf("corpus %s is absent (%v): the intel corpus lives in ../shared/corpus/intel next to the repository", p, err)
	}
	return p
}

type loadResult struct {
	idx   *Index
	stats []FileStats
	errs  []error
}

func load(t testing.TB, opts LoadOptions, paths ...string) loadResult {
	t.Helper()
	b := NewBuilder()
	for _, p := range paths {
		b.LoadPath(p, opts)
	}
	idx, werrs := b.Build()
	r := loadResult{idx, b.Stats(), append(b.Errors(), werrs...)}
	ind, skipped := 0, map[string]int{}
	for _, s := range r.stats {
		ind += s.Indicators
		for k, v := range s.Skipped {
			skipped[k] += v
		}
	}
	var types []string
	for ty := TypeIPv4; ty < numTypes; ty++ {
		if n := idx.Count(ty); n > 0 {
			types = append(types, ty.String()+"="+itoa(n))
		}
	}
	t.Logf("%d files, %d indicators read, %d indexed (%s), %d warninglists, %d errors", len(r.stats), ind, idx.Len(), strings.Join(types, " "), len(idx.WarninglistNames()), len(r.errs))
	keys := make([]string, 0, len(skipped))
	for k := range skipped {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t.Logf("  skipped %6d  %s", skipped[k], k)
	}
	for i, err := range r.errs {
		if i == 15 {
			t.Logf("  … %d more errors", len(r.errs)-i)
			break
		}
		t.Logf("  error: %v", err)
	}
	return r
}

func itoa(n int) string { return strconv.Itoa(n) }

func (r loadResult) errorsIn(substr string) []*LoadError {
	var out []*LoadError
	for _, err := range r.errs {
		var le *LoadError
		if errors.As(err, &le) && strings.Contains(le.Path, substr) {
			out = append(out, le)
		}
	}
	return out
}

func distinct(x *Index) map[Type]int {
	seen := map[Type]map[string]bool{}
	for _, ind := range x.Indicators() {
		if seen[ind.Type] == nil {
			seen[ind.Type] = map[string]bool{}
		}
		seen[ind.Type][ind.Value] = true
	}
	out := map[Type]int{}
	for t, m := range seen {
		out[t] = len(m)
	}
	return out
}

func wantCounts(t *testing.T, got, want map[Type]int) {
	t.Helper()
	for ty, n := range want {
		if got[ty] != n {
			t.Errorf("distinct %s: got %d, want %d", ty, got[ty], n)
		}
	}
	for ty, n := range got {
		if _, ok := want[ty]; !ok {
			t.Errorf("distinct %s: got %d, want none", ty, n)
		}
	}
}

func skipped(r loadResult) map[string]int {
	out := map[string]int{}
	for _, s := range r.stats {
		for k, v := range s.Skipped {
			out[k] += v
		}
	}
	return out
}

func TestKEV(t *testing.T) {
	j := load(t, LoadOptions{}, corpus(t, "kev/known_exploited_vulnerabilities.json"))
	c := load(t, LoadOptions{}, corpus(t, "kev/known_exploited_vulnerabilities.csv"))
	for _, r := range []loadResult{j, c} {
		if len(r.errs) > 0 || r.stats[0].Format != FormatKEV {
			t.Fatalf("format %s, errors %v", r.stats[0].Format, r.errs)
		}
		wantCounts(t, distinct(r.idx), map[Type]int{TypeCVE: 1404})
	}
	for i, a := range j.idx.Indicators() {
		b := c.idx.Indicators()[i]
		if a.Value != b.Value || a.Description != b.Description || !a.ValidFrom.Equal(b.ValidFrom) || strings.Join(a.Labels, ",") != strings.Join(b.Labels, ",") {
			t.Fatalf("JSON and CSV differ at %d:\n%+v\n%+v", i, a, b)
		}
	}
	ransom := 0
	for _, ind := range j.idx.Indicators() {
		if slices.Contains(ind.Labels, "ransomware") {
			ransom++
		}
	}
	if ransom != 293 {
		t.Errorf("known ransomware use: %d, want 293", ransom)
	}
	_, ms := j.idx.Lookup("cve-2025-48384")
	if len(ms) != 1 || ms[0].Indicator.Confidence != 100 || !slices.Contains(ms[0].Indicator.Labels, "vendor:Git") {
		t.Errorf("lookup CVE-2025-48384: %+v", ms)
	}
	// The schema next to the catalog is recognised and left alone.
	all := load(t, LoadOptions{}, corpus(t, "kev"))
	if len(all.errs) > 0 || skipped(all)["JSON Schema document (not a feed)"] != 1 {
		t.Errorf("kev folder: errors %v, skipped %v", all.errs, skipped(all))
	}
}

func TestMISPFeed(t *testing.T) {
	r := load(t, LoadOptions{}, corpus(t, "misp-feed/cert-fr"))
	if len(r.errs) > 0 {
		t.Fatal(r.errs)
	}
	// The distinct values SOURCE.txt counts (sha512 and file names besides).
	wantCounts(t, distinct(r.idx), map[Type]int{
		TypeDomain: 871, TypeIPv4: 629, TypeMD5: 58, TypeSHA1: 61, TypeSHA256: 57, TypeURL: 16, TypeEmail: 16,
		TypeSHA512: 4, TypeFileName: 17,
	})
	var events, hashRows, attrs int
	for _, s := range r.stats {
		switch s.Format {
		case FormatMISPFeed:
			hashRows += s.HashRows
		case FormatMISPEvent:
			events++
			attrs += s.Indicators + s.SkippedTotal()
		}
	}
	if events != 13 || hashRows != 1913 {
		t.Errorf("events %d (want 13), hashes.csv rows %d (want 1913)", events, hashRows)
	}
	// 1,913 attributes; filename|hash composites (none here) would count twice.
	if attrs != 1913 {
		t.Errorf("attributes read %d, want 1913", attrs)
	}
	_, ms := r.idx.Lookup("104.168.174.32")
	if len(ms) == 0 || ms[0].Indicator.Source != "CERT-FR" || ms[0].Indicator.TLP != "clear" || ms[0].Indicator.Confidence != mispConfidenceIDS {
		t.Errorf("lookup 104.168.174.32: %+v", ms)
	}
}

func TestESETMISPEvents(t *testing.T) {
	dir := corpus(t, "eset-malware-ioc")
	files, _ := filepath.Glob(filepath.Join(dir, "*", "*.json"))
	more, _ := filepath.Glob(filepath.Join(dir, "*", "*", "*.json"))
	files = append(files, more...)
	b := NewBuilder()
	for _, f := range files {
		b.LoadFile(f, LoadOptions{})
	}
	idx, _ := b.Build()
	events := 0
	for _, s := range b.Stats() {
		if s.Format == FormatMISPEvent && s.Indicators > 0 {
			events++
		}
	}
	// 53 events in 53 files; pypi_backdoor's is invalid JSON upstream.
	if events != 52 {
		t.Errorf("MISP event files loaded: %d, want 52", events)
	}
	var sawPyPI, sawBlocklist bool
	for _, err := range b.Errors() {
		var le *LoadError
		if !errors.As(err, &le) {
			continue
		}
		switch {
		case strings.HasSuffix(le.Path, "malicious_pypi_packages.misp-event.json"):
			sawPyPI = le.Line == 37374 && strings.Contains(le.Error(), "invalid JSON")
		case strings.HasSuffix(le.Path, "rqz-dnsduvel_blocklist.json"):
			sawBlocklist = true
		}
		t.Logf("error: %v", err)
	}
	if !sawPyPI {
		t.Error("the trailing comma of malicious_pypi_packages.misp-event.json was not reported at line 37374")
	}
	if !sawBlocklist {
		t.Error("rqz-dnsduvel_blocklist.json (not MISP) was not reported")
	}
	d := distinct(idx)
	t.Logf("distinct: %v", d)
	// SOURCE.txt's counts include the attributes of the broken pypi event
	// and leave out the addresses of domain|ip attributes (96 here).
	wantCounts(t, d, map[Type]int{
		TypeIPv4: 239, TypeDomain: 674, TypeURL: 143, TypeEmail: 22, TypeMD5: 275, TypeSHA1: 807, TypeSHA256: 275,
		TypeImphash: 25, TypeFileName: 344, TypeCVE: 1,
	})
	var attack int
	for _, ind := range idx.Indicators() {
		if len(ind.Attack) > 0 {
			attack++
		}
	}
	if attack == 0 {
		t.Error("no indicator carries ATT&CK ids from galaxy tags")
	}
}

func TestESETHashLists(t *testing.T) {
	dir := corpus(t, "eset-malware-ioc")
	for _, ext := range []string{"md5", "sha1", "sha256"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*", "samples."+ext))
		more, _ := filepath.Glob(filepath.Join(dir, "*", "*", "samples."+ext))
		b := NewBuilder()
		for _, f := range append(files, more...) {
			b.LoadFile(f, LoadOptions{})
		}
		idx, _ := b.Build()
		ty, _ := ParseType(ext)
		if got := distinct(idx)[ty]; got != 4648 {
			t.Errorf("%s: %d distinct, want 4648", ext, got)
		}
		errs := b.Errors()
		if ext == "sha1" {
			if len(errs) != 1 || !strings.Contains(errs[0].Error(), "modiloader/samples.sha1:13") {
				t.Errorf("sha1 errors: %v", errs)
			}
		} else if len(errs) > 0 {
			t.Errorf("%s errors: %v", ext, errs)
		}
	}
}

func TestSTIXBundles(t *testing.T) {
	u := load(t, LoadOptions{}, corpus(t, "stix2/unit42-playbooks"))
	if len(u.errs) > 0 {
		t.Fatal(u.errs)
	}
	wantCounts(t, distinct(u.idx), map[Type]int{
		TypeSHA256: 1016, TypeURL: 370, TypeDomain: 807, TypeIPv4: 191, TypeMD5: 2, TypeEmail: 5, TypeFileName: 48,
	})
	sk := skipped(u)
	if n := sk["STIX pattern refused: object path process:command_line is not matchable inline (vigil matches addresses, domains, URLs, e-mail addresses, file hashes and file names)"]; n == 0 {
		t.Errorf("process patterns were not refused: %v", sk)
	}
	var withAttack, partial int
	for _, ind := range u.idx.Indicators() {
		if len(ind.Attack) > 0 {
			withAttack++
		}
		if ind.Note != "" {
			partial++
		}
	}
	t.Logf("%d indicators with ATT&CK ids, %d partial", withAttack, partial)
	if withAttack == 0 {
		t.Error("no ATT&CK ids from indicates relationships")
	}

	o := load(t, LoadOptions{}, corpus(t, "stix2/cti-stix2-json-schemas/examples"), corpus(t, "stix2/cti-documentation"))
	if len(o.errs) > 0 {
		t.Fatal(o.errs)
	}
	wantCounts(t, distinct(o.idx), map[Type]int{
		TypeIPv4: 20, TypeCIDR: 4, TypeDomain: 28, TypeURL: 2, TypeMD5: 4, TypeSHA1: 1, TypeSHA256: 1, TypeFileName: 3,
	})
	_, ms := o.idx.Lookup("http://x4z9arb.cn/4712/")
	if len(ms) != 1 || ms[0].Indicator.Type != TypeURL {
		t.Errorf("OASIS malicious URL example: %+v", ms)
	}
}

func TestCSVFeeds(t *testing.T) {
	r := load(t, LoadOptions{}, corpus(t, "ioc-csv"))
	wantCounts(t, distinct(r.idx), map[Type]int{
		TypeIPv4: 345, TypeCIDR: 9642, TypeDomain: 225, TypeEmail: 1, TypeSHA256: 167, TypeFileName: 5,
	})
	var lines []int
	for _, le := range r.errorsIn("VPS_Networks.csv") {
		lines = append(lines, le.Line)
	}
	if !slices.Equal(lines, []int{6680, 6682, 6904, 9653}) {
		t.Errorf("VPS_Networks.csv errors at lines %v, want 6680 6682 6904 9653", lines)
	}
	if n := len(r.errorsIn("UnusualUserAgents.csv")); n != 1 {
		t.Errorf("UnusualUserAgents.csv: %d errors, want 1 (no indicator column)", n)
	}
	if len(r.errs) != 5 {
		t.Errorf("%d errors, want 5: %v", len(r.errs), r.errs)
	}
	if sk := skipped(r); sk[`type "filepath" (not matchable inline)`] != 115 || sk[`type "regkey" (not matchable inline)`] != 4 {
		t.Errorf("skipped: %v", sk)
	}
	_, ms := r.idx.Lookup("172.93.201.253") // "172.93.201.253 ,ip " in ZincOctober2022IOCs
	if len(ms) != 2 {
		t.Errorf("172.93.201.253: %d matches, want 2 (Zinc and TestIOCs)", len(ms))
	}
}

func TestBlocklists(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the large corpus (hundreds of thousands of entries)")
	}
	r := load(t, LoadOptions{}, corpus(t, "blocklists/ipsum/ipsum.txt"))
	wantCounts(t, distinct(r.idx), map[Type]int{TypeIPv4: 120430})
	f := load(t, LoadOptions{}, corpus(t, "blocklists/feodotracker"))
	if f.stats[0].Format != FormatJSONList || f.stats[0].Indicators != 222 || len(f.errs) > 0 {
		t.Errorf("feodotracker: %+v %v", f.stats[0], f.errs)
	}
	m := load(t, LoadOptions{}, corpus(t, "blocklists/maltrail"))
	d := distinct(m.idx)
	if d[TypeDomain] < 80000 || d[TypeIPv4] < 60000 || d[TypeIPv6] != 1981 || d[TypeCIDR] != 1089 || d[TypeURL] < 20000 {
		t.Errorf("maltrail: %v", d)
	}
	if n := skipped(m)["URI path pattern (matches a path on any host; not matchable inline)"]; n < 13000 {
		t.Errorf("maltrail URI paths skipped: %d", n)
	}
	// A maltrail domain matches its sub-domains.
	_, ms := m.idx.Lookup("x.y.1c26.dyndns.org")
	if len(ms) == 0 {
		t.Log("1c26.dyndns.org is not in this selection")
	}
}

func TestWarninglists(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the large corpus (hundreds of thousands of entries)")
	}
	r := load(t, LoadOptions{}, corpus(t, "misp-warninglists"))
	if len(r.errs) > 0 {
		t.Fatal(r.errs)
	}
	if n := len(r.idx.WarninglistNames()); n != 136 {
		t.Errorf("%d warninglists, want 136", n)
	}
	entries := 0
	for _, s := range r.stats {
		entries += s.WarninglistEntries
	}
	if entries != 528972 {
		t.Errorf("%d warninglist entries, want 528972", entries)
	}
	for _, c := range []struct{ value, list string }{
		{"8.8.8.8", "List of known IPv4 public DNS resolvers"},
		{"10.1.2.3", "List of RFC 1918 CIDR blocks"},
		{"www.google.com", ""},
	} {
		got := r.idx.Warninglists(c.value)
		t.Logf("%s: %v", c.value, got)
		if len(got) == 0 || c.list != "" && !slices.Contains(got, c.list) {
			t.Errorf("%s: on %v, want %q", c.value, got, c.list)
		}
	}
	if got := r.idx.Warninglists("203.0.113.250.example-not-listed.invalid"); len(got) > 0 {
		t.Logf("unlisted value on %v", got)
	}
	// An indicator on a warninglist is flagged, and its detection is informational.
	b := NewBuilder()
	b.LoadPath(corpus(t, "misp-warninglists/lists/public-dns-v4"), LoadOptions{})
	if err := b.Add(Indicator{Type: TypeCIDR, Value: "8.8.8.0/24", Source: "test", Confidence: 90}); err != nil {
		t.Fatal(err)
	}
	idx, _ := b.Build()
	_, ms := idx.Lookup("8.8.8.8")
	if len(ms) != 1 || !ms[0].ProbablyBenign() || ms[0].Level() != "informational" {
		t.Errorf("8.8.8.8: %+v", ms)
	}
}
