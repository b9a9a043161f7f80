package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

const sharedCorpus = "../../../shared/corpus"

func needCorpus(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(sharedCorpus); err != nil {
		t.Skipf("shared corpus not found at %s: %v", sharedCorpus, err)
	}
}

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(context.Background(), append([]string{"vigil"}, args...), strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// TestHuntAllWindowsRulesDeterministic runs every SigmaHQ Windows rule over
// all EVTX and JSON logs of the corpus and requires identical detections
// whatever the number of workers and GOMAXPROCS.
func TestHuntAllWindowsRulesDeterministic(t *testing.T) {
	needCorpus(t)
	if testing.Short() {
		t.Skip("whole-corpus hunt skipped under -short")
	}
	rules := filepath.Join(sharedCorpus, "sigma/rules/windows")
	inputs := []string{filepath.Join(sharedCorpus, "evtx"), filepath.Join(sharedCorpus, "logs")}
	var first [32]byte
	var firstErr string
	for i, cfg := range []struct{ procs, workers int }{{2, 0}, {1, 1}, {2, 4}} {
		prev := runtime.GOMAXPROCS(cfg.procs)
		args := append([]string{"hunt", "--format", "jsonl", "--workers", itoa(cfg.workers), "--rules", rules}, inputs...)
		code, out, errOut := runCLI(t, args...)
		runtime.GOMAXPROCS(prev)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		sum := sha256.Sum256([]byte(out))
		lines := strings.Count(out, "\n")
		if i == 0 {
			first, firstErr = sum, strings.SplitN(errOut, "\n", 2)[0]
			t.Logf("%d detections; %s", lines, firstErr)
			if lines < 1000 {
				t.Errorf("only %d detections over the whole corpus", lines)
			}
			// Every line is a detection with the contract's keys.
			for _, l := range strings.SplitN(out, "\n", 50)[:49] {
				var d map[string]any
				if err := json.Unmarshal([]byte(l), &d); err != nil {
					t.Fatalf("invalid jsonl line: %v: %s", err, l)
				}
				for _, k := range []string{"time", "rule_id", "rule_title", "level", "tags", "author", "computer", "channel", "event_id", "record_id", "source", "fields"} {
					if _, ok := d[k]; !ok {
						t.Errorf("detection lacks %q: %s", k, l)
					}
				}
			}
			continue
		}
		if sum != first {
			t.Errorf("GOMAXPROCS=%d workers=%d: detections differ from the first run", cfg.procs, cfg.workers)
		}
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// TestRulesTestRegression runs SigmaHQ's regression cases with vigil rules
// test: every case whose sample is present must pass, from the .evtx and
// from the .json rendering beside it.
func TestRulesTestRegression(t *testing.T) {
	needCorpus(t)
	var paths []string
	for _, d := range []string{"rules", "rules-emerging-threats", "rules-threat-hunting"} {
		paths = append(paths, filepath.Join(sharedCorpus, "sigma", d))
	}
	code, out, errOut := runCLI(t, append([]string{"rules", "test", "--json"}, paths...)...)
	pass, jsonSamples, evtxSamples := 0, 0, 0
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var r regressionResult
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("%v: %s", err, l)
		}
		switch r.Status {
		case "fail":
			t.Errorf("regression failure: %s", l)
		case "pass":
			pass++
		}
		for _, s := range r.Samples {
			if strings.HasSuffix(s.Path, ".json") {
				jsonSamples++
			} else {
				evtxSamples++
			}
		}
	}
	t.Logf("%s", strings.TrimSpace(errOut))
	if code != 0 {
		t.Errorf("exit %d", code)
	}
	if pass < 150 || jsonSamples < 150 || evtxSamples < 150 {
		t.Errorf("only %d cases passed (%d evtx and %d json samples run)", pass, evtxSamples, jsonSamples)
	}
}

// TestRulesCheckCorpus loads every SigmaHQ rule folder: nothing the
// specification defines may be refused.
func TestRulesCheckCorpus(t *testing.T) {
	needCorpus(t)
	var paths []string
	for _, d := range []string{"rules", "rules-emerging-threats", "rules-threat-hunting", "rules-compliance", "deprecated"} {
		paths = append(paths, filepath.Join(sharedCorpus, "sigma", d))
	}
	code, out, _ := runCLI(t, append([]string{"rules", "check", "--json"}, paths...)...)
	var res struct {
		Loaded   int           `json:"loaded"`
		Refused  int           `json:"refused"`
		Refusals []refusalJSON `json:"refusals"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	t.Logf("loaded %d, refused %d", res.Loaded, res.Refused)
	for _, r := range res.Refusals {
		// The only construct refused is Sigma v1's aggregation, which v2
		// replaced with correlation rules.
		if !strings.Contains(r.Reason, "Sigma v1 aggregation") {
			t.Errorf("refused for a reason the specification does not excuse: %+v", r)
		}
	}
	if res.Loaded < 3900 {
		t.Errorf("only %d rules loaded", res.Loaded)
	}
	if code != 0 && res.Refused == 0 {
		t.Errorf("exit %d without refusals", code)
	}
}

// TestPlaceholderRulesWithValues loads SigmaHQ's rules-placeholder with a
// placeholders file naming every placeholder they use: all load, and none
// is left without a value.
func TestPlaceholderRulesWithValues(t *testing.T) {
	needCorpus(t)
	dir := filepath.Join(sharedCorpus, "sigma/rules-placeholder")
	names := map[string]bool{}
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || !strings.HasSuffix(p, ".yml") {
			return nil
		}
		b, _ := os.ReadFile(p)
		for _, line := range strings.Split(string(b), "\n") {
			if !strings.Contains(line, "|expand") && !strings.Contains(line, "- '%") {
				continue
			}
			for _, part := range strings.Split(line, "%")[1:] {
				if part != "" && !strings.ContainsAny(part, " '\"") {
					names[part] = true
				}
			}
		}
		return nil
	})
	var yml strings.Builder
	for n := range names {
		yml.WriteString(n + ": ['example-value']\n")
	}
	ph := filepath.Join(t.TempDir(), "placeholders.yml")
	if err := os.WriteFile(ph, []byte(yml.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	ro := ruleOptions{paths: multiFlag{dir}, placeholders: ph, status: "stable,test,experimental,deprecated,unsupported"}
	lr, err := ro.load()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range lr.uncompile {
		t.Errorf("not compiled: %v", r)
	}
	for _, r := range lr.refused {
		t.Errorf("refused: %v", r)
	}
	for _, p := range lr.engine.Programs() {
		for _, w := range p.Warnings {
			t.Errorf("%s: %s", p.Path, w)
		}
	}
	if n := len(lr.engine.Programs()); n < 20 {
		t.Errorf("only %d placeholder rules compiled", n)
	}
	t.Logf("%d rules with %d placeholders", len(lr.engine.Programs()), len(names))
}

// TestHuntReportFiles checks that --report and --navigator write their
// files from a real hunt (their content is tested in internal/report).
func TestHuntReportFiles(t *testing.T) {
	needCorpus(t)
	dir := t.TempDir()
	html, nav := filepath.Join(dir, "r.html"), filepath.Join(dir, "layer.json")
	code, out, errOut := runCLI(t, "hunt", "--format", "jsonl", "--report", html, "--navigator", nav,
		filepath.Join(sharedCorpus, "evtx/EVTX-ATTACK-SAMPLES/Credential Access"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	dets := strings.Count(out, "\n")
	b, err := os.ReadFile(html)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(`type="application/json"`)) || !bytes.Contains(b, []byte(itoa(dets))) {
		t.Errorf("report lacks its data block or the detection count %d", dets)
	}
	var layer struct {
		Domain     string `json:"domain"`
		Techniques []struct {
			TechniqueID string `json:"techniqueID"`
			Score       int    `json:"score"`
		} `json:"techniques"`
	}
	b, err = os.ReadFile(nav)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &layer); err != nil || layer.Domain != "enterprise-attack" || len(layer.Techniques) == 0 {
		t.Errorf("navigator layer: %v %+v", err, layer)
	}
	if !strings.Contains(errOut, "report written to") {
		t.Errorf("stderr does not say where the report is: %s", errOut)
	}
}

// TestCorrelationSuite runs correlation rules written in the specification's
// form (testdata/correlation) with the built-in pack over the whole corpus
// and requires exactly the stories the samples hold.
func TestCorrelationSuite(t *testing.T) {
	needCorpus(t)
	if testing.Short() {
		t.Skip("whole-corpus correlation run skipped under -short")
	}
	code, out, errOut := runCLI(t, "hunt", "--format", "jsonl", "--rules", "testdata/correlation", "--rules", "../../rules/windows",
		filepath.Join(sharedCorpus, "evtx"), filepath.Join(sharedCorpus, "logs"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	type story struct {
		title, group, sources string
		value                 float64
		events                int
	}
	var got []story
	baseFailed := 0
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var d struct {
			RuleID      string `json:"rule_id"`
			RuleTitle   string `json:"rule_title"`
			Correlation *struct {
				Group  map[string]string `json:"group"`
				Value  float64           `json:"value"`
				Events []struct {
					Source string `json:"source"`
				} `json:"events"`
			} `json:"correlation"`
		}
		if err := json.Unmarshal([]byte(l), &d); err != nil {
			t.Fatal(err)
		}
		if d.RuleID == "5b8c39f2-9d0e-4c1b-8a6e-0f3d2a7c4e11" {
			baseFailed++ // read by correlations without generate: must not be output
		}
		if d.Correlation == nil {
			continue
		}
		var groups, srcs []string
		for k, v := range d.Correlation.Group {
			groups = append(groups, k+"="+v)
		}
		seen := map[string]bool{}
		for _, e := range d.Correlation.Events {
			b := filepath.Base(e.Source)
			if !seen[b] {
				seen[b] = true
				srcs = append(srcs, b)
			}
		}
		got = append(got, story{d.RuleTitle, strings.Join(groups, ","), strings.Join(srcs, "|"), d.Correlation.Value, len(d.Correlation.Events)})
	}
	want := []story{
		// 3,561 failed logons for Administrator from one address in under
		// three minutes: fires at the 10th, then stays quiet for 5 minutes.
		{"Brute Force Against One Account", "TargetUserName=Administrator", "smb-password-guessing-security.evtx", 10, 10},
		// TGT requests for 8 accounts from 172.16.66.1 within 30 ms: fires at
		// the 5th distinct account.
		{"Password Spraying From One Source", "IpAddress=172.16.66.1", "kerberos_pwd_spray_4771.evtx", 5, 5},
		// Group discovery on FS03 on 19 October, then a NewCredentials logon
		// there 23 hours later.
		{"Domain Discovery Followed by Pass-the-Hash on the Same Host", "Computer=FS03.offsec.lan", "ID4688-Group discovery via commandline.evtx|ID4624-Mimikatz Pass the hash.evtx", 2, 2},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d correlation detections, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("story %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
	if baseFailed != 0 {
		t.Errorf("%d detections of a rule read only by correlations (no generate) were output", baseFailed)
	}
}

// TestHuntDedupAndNoisy checks noise control end to end: --dedup folds
// repeats into counted detections without losing a match, --noisy turns a
// rule into a count.
func TestHuntDedupAndNoisy(t *testing.T) {
	needCorpus(t)
	in := filepath.Join(sharedCorpus, "evtx")
	_, all, _ := runCLI(t, "hunt", "--format", "jsonl", in)
	code, dd, errOut := runCLI(t, "hunt", "--format", "jsonl", "--dedup", "1h", in)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	n, total := 0, 0
	for _, l := range strings.Split(strings.TrimSpace(dd), "\n") {
		var d struct {
			Count int `json:"count"`
		}
		json.Unmarshal([]byte(l), &d)
		n++
		total += max(d.Count, 1)
	}
	matches := strings.Count(all, "\n")
	if total != matches || n >= matches {
		t.Errorf("dedup: %d detections standing for %d matches; without dedup %d", n, total, matches)
	}
	if !strings.Contains(errOut, "repeated matches folded") {
		t.Errorf("summary does not mention de-duplication: %s", errOut)
	}
	// The most frequent built-in rule becomes a count.
	list := filepath.Join(t.TempDir(), "noisy.txt")
	os.WriteFile(list, []byte("# admin shares are busy here\n282f07df-7988-4480-9e49-3480ab36b44d\n"), 0o644)
	code, nz, errOut := runCLI(t, "hunt", "--format", "jsonl", "--noisy", list, in)
	if code != 0 || strings.Contains(nz, "282f07df-7988-4480-9e49-3480ab36b44d") || !strings.Contains(errOut, "noisy rules (counted only)") {
		t.Errorf("noisy: exit %d, rule still in output or not counted: %s", code, errOut)
	}
}

// TestHuntIntel matches a feed written here against real events (a Sysmon
// network connection's destination address), in the same pass as the rules.
func TestHuntIntel(t *testing.T) {
	needCorpus(t)
	dir := t.TempDir()
	// Values taken from the sample at test time, so the feed stays ours.
	sample := filepath.Join(sharedCorpus, "evtx/EVTX-ATTACK-SAMPLES/Command and Control/DE_sysmon-3-rdp-tun.evtx")
	if _, err := os.Stat(sample); err != nil {
		t.Skipf("sample %s absent: %v", sample, err)
	}
	_, out, _ := runCLI(t, "dump", sample)
	var ip string
	for _, l := range strings.Split(out, "\n") {
		var rec struct {
			Event struct {
				EventData map[string]any `json:"EventData"`
			} `json:"Event"`
		}
		if json.Unmarshal([]byte(l), &rec) == nil {
			if v, ok := rec.Event.EventData["DestinationIp"].(string); ok && v != "" && !strings.HasPrefix(v, "127.") && !strings.Contains(v, ":") {
				ip = v
				break
			}
		}
	}
	if ip == "" {
		t.Skip("no destination address in the sample")
	}
	feed := filepath.Join(dir, "feed.txt")
	os.WriteFile(feed, []byte("# test feed\n"+ip+"\n"), 0o644)
	code, out, errOut := runCLI(t, "hunt", "--format", "jsonl", "--intel", feed, sample)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	n := 0
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var d struct {
			RuleID string         `json:"rule_id"`
			Fields map[string]any `json:"fields"`
		}
		json.Unmarshal([]byte(l), &d)
		if strings.HasPrefix(d.RuleID, "intel:") {
			n++
			if d.Fields["intel.value"] != ip || d.Fields["DestinationIp"] != ip {
				t.Errorf("intel detection for the wrong value: %v", d.Fields)
			}
		}
	}
	if n == 0 {
		t.Errorf("no intel detection for %s; stderr: %s", ip, errOut)
	}
	t.Logf("%d intel detections for %s", n, ip)
}

// TestHuntIntelOrder hunts a Sysmon sample with a feed of every SHA-256 in
// its Hashes fields, so that intel matches each process creation while the
// built-in rules match some of them: every such event gets one intel
// detection, and the output keeps event order with an event's rule
// detections before its intel detections.
func TestHuntIntelOrder(t *testing.T) {
	needCorpus(t)
	sample := filepath.Join(sharedCorpus, "evtx/EVTX-ATTACK-SAMPLES/AutomatedTestingTools/PanacheSysmon_vs_AtomicRedTeam01.evtx")
	if _, err := os.Stat(sample); err != nil {
		t.Skipf("sample %s absent: %v", sample, err)
	}
	_, out, _ := runCLI(t, "dump", sample)
	hashed := map[uint64]bool{} // records whose Hashes name a SHA-256
	var feed strings.Builder
	for _, l := range strings.Split(out, "\n") {
		var rec struct {
			Event struct {
				System struct {
					EventRecordID uint64
				}
				EventData map[string]any
			}
		}
		if json.Unmarshal([]byte(l), &rec) != nil {
			continue
		}
		h, _ := rec.Event.EventData["Hashes"].(string)
		for _, pair := range strings.Split(h, ",") {
			if v, ok := strings.CutPrefix(pair, "SHA256="); ok {
				feed.WriteString(v + "\n")
				hashed[rec.Event.System.EventRecordID] = true
			}
		}
	}
	if len(hashed) < 32 {
		t.Fatalf("only %d events with a SHA-256 in %s", len(hashed), sample)
	}
	path := filepath.Join(t.TempDir(), "sha256.txt")
	if err := os.WriteFile(path, []byte(feed.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "hunt", "--format", "jsonl", "--intel", path, sample)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var last uint64
	lastIntel := false
	intelOf := map[uint64]int{}
	rules := 0
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var d struct {
			RuleID   string `json:"rule_id"`
			RecordID uint64 `json:"record_id"`
		}
		if err := json.Unmarshal([]byte(l), &d); err != nil {
			t.Fatalf("bad line %q: %v", l, err)
		}
		isIntel := strings.HasPrefix(d.RuleID, "intel:")
		switch {
		case d.RecordID < last:
			t.Fatalf("record %d after record %d: output out of event order", d.RecordID, last)
		case d.RecordID == last && lastIntel && !isIntel:
			t.Fatalf("record %d: rule detection %s after an intel detection", d.RecordID, d.RuleID)
		}
		last, lastIntel = d.RecordID, isIntel
		if isIntel {
			intelOf[d.RecordID]++
		} else {
			rules++
		}
	}
	for rec := range hashed {
		if intelOf[rec] != 1 {
			t.Errorf("record %d: %d intel detections, want 1", rec, intelOf[rec])
		}
	}
	if len(intelOf) != len(hashed) || rules == 0 {
		t.Errorf("intel detections for %d records, want %d; %d rule detections", len(intelOf), len(hashed), rules)
	}
}

// TestHuntExclusions shows that --exclude-rules and a Sigma filter rule
// remove exactly what they name and nothing else.
func TestHuntExclusions(t *testing.T) {
	needCorpus(t)
	in := filepath.Join(sharedCorpus, "evtx")
	type key struct{ rule, src, rec string }
	collect := func(args ...string) map[key]int {
		code, out, errOut := runCLI(t, append([]string{"hunt", "--format", "jsonl"}, append(args, in)...)...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		m := map[key]int{}
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			var d struct {
				RuleID   string         `json:"rule_id"`
				Source   string         `json:"source"`
				RecordID uint64         `json:"record_id"`
				Fields   map[string]any `json:"fields"`
			}
			json.Unmarshal([]byte(l), &d)
			m[key{d.RuleID, d.Source, itoa(int(d.RecordID))}]++
		}
		return m
	}
	all := collect()
	// Exclude the most frequent rule by id.
	const admShares = "282f07df-7988-4480-9e49-3480ab36b44d"
	list := filepath.Join(t.TempDir(), "exclude.txt")
	os.WriteFile(list, []byte(admShares+"  # busy admin shares\n"), 0o644)
	ex := collect("--exclude-rules", list)
	removed := 0
	for k, n := range all {
		switch {
		case k.rule == admShares:
			removed += n
			if ex[k] != 0 {
				t.Errorf("excluded rule still detected: %v", k)
			}
		case ex[k] != n:
			t.Errorf("exclusion changed another detection: %v (%d -> %d)", k, n, ex[k])
		}
	}
	if removed == 0 {
		t.Fatal("the excluded rule had no detections to remove")
	}
	// A filter on the same rule for one account removes only that account's
	// matches of that rule.
	flt := filepath.Join(t.TempDir(), "mf_admmig.yml")
	os.WriteFile(flt, []byte(`title: Migration account uses admin shares
logsource: {product: windows, service: security}
filter:
    rules:
        - `+admShares+`
    selection:
        SubjectUserName: admmig
    condition: selection
`), 0o644)
	code, out, _ := runCLI(t, "hunt", "--format", "jsonl", "--filters", flt, in)
	if code != 0 {
		t.Fatal(code)
	}
	kept, dropped := 0, 0
	_, allOut, _ := runCLI(t, "hunt", "--format", "jsonl", in)
	for _, l := range strings.Split(strings.TrimSpace(allOut), "\n") {
		if strings.Contains(l, `"rule_id":"`+admShares+`"`) && strings.Contains(l, `"SubjectUserName":"admmig"`) {
			dropped++
			if strings.Contains(out, l) {
				t.Errorf("filtered detection still present")
			}
		} else {
			kept++
			if !strings.Contains(out, l) {
				t.Errorf("filter removed a detection it does not name: %.200s", l)
			}
		}
	}
	if dropped == 0 || strings.Count(out, "\n") != kept {
		t.Errorf("filter: %d dropped, %d kept, %d output", dropped, kept, strings.Count(out, "\n"))
	}
	t.Logf("exclusion removed %d, filter removed %d of %d", removed, dropped, dropped+kept)
}
