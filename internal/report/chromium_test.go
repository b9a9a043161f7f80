package report

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vigil-defense/vigil/internal/detect"
	"github.com/vigil-defense/vigil/internal/event"
)

var screenshot = flag.String("screenshot", "", "write a screenshot of a report over the whole shared corpus to `FILE` (PNG)")

// chromiumFlags run Debian's chromium headless, without a sandbox (tests
// often run as root in containers), without GPU, and without any of the
// background requests a first run makes. Console messages go to stderr.
func chromiumFlags(profile string) []string {
	return []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run",
		"--user-data-dir=" + profile, "--enable-logging=stderr", "--v=0",
	}
}

func needChromium(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not on PATH: install Debian's chromium package (apt-get install -y chromium) to run the browser test")
	}
	return p
}

// renderDOM loads file in chromium, lets its scripts run, and returns the
// DOM and chromium's stderr.
func renderDOM(t *testing.T, bin, file string) (dom, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	args := append(chromiumFlags(t.TempDir()), "--virtual-time-budget=5000", "--dump-dom", "file://"+file)
	cmd := exec.CommandContext(ctx, bin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, errb.String())
	}
	return out.String(), errb.String()
}

// consoleLine matches the lines chromium writes for console messages and
// uncaught exceptions: `[…:INFO:CONSOLE:12] "Uncaught ReferenceError: …",
// source: file:///… (12)`. Chromium logs every console message at INFO,
// whatever its level; the report's script logs nothing, so any console
// line is a failure: an error, an uncaught exception, or a request the
// Content-Security-Policy blocked.
var consoleLine = regexp.MustCompile(`(?m)^.*:CONSOLE[:(].*$`)

func consoleProblems(stderr string) []string { return consoleLine.FindAllString(stderr, -1) }

func TestReportInChromium(t *testing.T) {
	bin := needChromium(t)

	// The console check must see a broken page's errors, or it proves nothing.
	t.Run("console check sees errors", func(t *testing.T) {
		t.Parallel()
		page := filepath.Join(t.TempDir(), "broken.html")
		broken := `<!DOCTYPE html><html><head><meta charset="utf-8"></head><body><p id="p">before</p>` +
			`<script>document.getElementById('p').textContent = 'after'; notDefined();</script></body></html>`
		if err := os.WriteFile(page, []byte(broken), 0o644); err != nil {
			t.Fatal(err)
		}
		dom, stderr := renderDOM(t, bin, page)
		if !strings.Contains(dom, ">after<") {
			t.Errorf("the script did not run: %s", dom)
		}
		p := consoleProblems(stderr)
		if len(p) != 1 || !strings.Contains(p[0], "Uncaught ReferenceError: notDefined is not defined") {
			t.Errorf("console check missed the uncaught exception; chromium's stderr:\n%s", stderr)
		}
	})

	t.Run("report", func(t *testing.T) {
		t.Parallel()
		start := time.Now()
		dets, meta := huntCorpus(t, "EVTX-ATTACK-SAMPLES")
		if len(dets) < 50 {
			t.Fatalf("only %d detections from the corpus", len(dets))
		}
		// vigil has no correlation engine yet: make two correlation
		// detections from real ones, and one with hostile content.
		extra := storiesFrom(dets, 2)
		hostile := dets[0]
		hostile.RuleTitle = `<img src="x" onerror="document.title='pwned'">`
		hostile.Fields = []event.Field{{Name: "CommandLine", Value: `</script><script>document.title='pwned'</script>`}}
		dets = append(append([]detect.Detection{hostile}, dets...), extra...) // first, so its row is kept
		meta.CorrelationRules = 1
		b := NewBuilder(meta)
		b.MaxRows = len(dets) * 3 / 4 // the table is cut, and must say so
		for i := range dets {
			b.Add(&dets[i])
		}
		r := b.Report()
		if r.RowsDropped == 0 {
			t.Fatalf("want more detections than rows; got %d", r.Total)
		}
		file := filepath.Join(t.TempDir(), "report.html")
		f, err := os.Create(file)
		if err != nil {
			t.Fatal(err)
		}
		if err := WriteHTML(f, r); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		hunted := time.Since(start)
		dom, stderr := renderDOM(t, bin, file)
		t.Logf("%d detections, %d rows, %d techniques, %d stories; hunt and write %v, chromium %v",
			r.Total, len(r.Rows), len(r.Techniques), len(r.Stories), hunted.Round(time.Millisecond), (time.Since(start) - hunted).Round(time.Millisecond))
		if p := consoleProblems(stderr); len(p) > 0 {
			t.Errorf("console messages:\n%s", strings.Join(p, "\n"))
		}
		count := func(s string) int { return strings.Count(dom, s) }
		for _, id := range []string{"overview", "timeline", "top", "attack", "stories", "detections"} {
			if count(`<section id="`+id+`"`) != 1 {
				t.Errorf("section %s missing", id)
			}
		}
		if count(fmt.Sprintf(`data-total="%d"`, r.Total)) != 1 {
			t.Errorf("total %d not shown", r.Total)
		}
		if n := count(`<tr id="row-`); n != len(r.Rows) {
			t.Errorf("%d table rows rendered, want %d", n, len(r.Rows))
		}
		if want := fmt.Sprintf("showing %d of %d rows", len(r.Rows), len(r.Rows)); count(want) != 1 {
			t.Errorf("the table does not say %q", want)
		}
		if !strings.Contains(dom, fmt.Sprintf("The table holds the first %s of %s detections", fmtInt(int64(len(r.Rows))), fmtInt(int64(r.Total)))) {
			t.Error("the table does not say it was cut")
		}
		techs := map[string]bool{}
		for _, m := range regexp.MustCompile(`class="tech" data-tech="([^"]+)"`).FindAllStringSubmatch(dom, -1) {
			techs[m[1]] = true
		}
		if len(techs) != len(r.Techniques) || len(techs) == 0 {
			t.Errorf("heat map has %d distinct techniques, want %d", len(techs), len(r.Techniques))
		}
		if n := count(`<article class="story"`); n != len(r.Stories) || n != 2 {
			t.Errorf("%d stories rendered, want %d", n, len(r.Stories))
		}
		if count(`<rect class="seg lv-`) == 0 {
			t.Error("the chart has no bars")
		}
		if strings.Contains(dom, "<title>pwned") || strings.Contains(dom, `<img src="x"`) || !strings.Contains(dom, `&lt;img src="x"`) {
			t.Error("hostile content became markup, or is not shown as text")
		}
		if time.Since(start) > 20*time.Second {
			t.Errorf("the browser test took %v; keep it under 20 s", time.Since(start))
		}
	})
}

// storiesFrom makes n correlation detections ("many detections of one rule
// on one host") out of real detections, as a correlation engine would.
func storiesFrom(dets []detect.Detection, n int) []detect.Detection {
	type key struct{ rule, host string }
	groups := map[key][]int{}
	var order []key
	for i, d := range dets {
		k := key{d.RuleID, d.Computer}
		if groups[k] == nil {
			order = append(order, k)
		}
		groups[k] = append(groups[k], i)
	}
	var out []detect.Detection
	for _, k := range order {
		idx := groups[k]
		if len(idx) < 3 || len(out) == n {
			continue
		}
		first, lo, hi := dets[idx[0]], dets[idx[0]].Time, dets[idx[0]].Time
		for _, i := range idx {
			if t := dets[i].Time; t.Before(lo) {
				lo = t
			} else if t.After(hi) {
				hi = t
			}
		}
		c := detect.Detection{
			Time: hi, RuleID: "5b1c7a53-0000-4000-8000-00000000000" + fmt.Sprint(len(out)),
			RuleTitle: "Repeated: " + first.RuleTitle, Level: "high", Author: "vigil test", Computer: k.host,
			Correlation: &detect.CorrelationInfo{
				Type: "event_count", Group: map[string]string{"Computer": k.host},
				WindowStart: lo, WindowEnd: hi, Value: float64(len(idx)),
			},
		}
		for _, i := range idx {
			d := dets[i]
			c.Correlation.Events = append(c.Correlation.Events, detect.EventRef{Time: d.Time, Source: d.Source, RecordID: d.RecordID, RuleID: d.RuleID})
		}
		out = append(out, c)
	}
	return out
}

// TestScreenshot writes docs/report.png when asked:
//
//	go test ./internal/report -run TestScreenshot -screenshot "$PWD/docs/report.png"
func TestScreenshot(t *testing.T) {
	if *screenshot == "" {
		t.Skip("no -screenshot FILE given")
	}
	bin := needChromium(t)
	dets, meta := huntCorpus(t, ".")
	meta.Paths, meta.Version = []string{"../shared/corpus/evtx"}, "dev"
	b := NewBuilder(meta)
	for i := range dets {
		b.Add(&dets[i])
	}
	file := filepath.Join(t.TempDir(), "report.html")
	var buf bytes.Buffer
	if err := WriteHTML(&buf, b.Report()); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := filepath.Abs(*screenshot)
	if err != nil {
		t.Fatal(err)
	}
	args := append(chromiumFlags(t.TempDir()), "--hide-scrollbars", "--virtual-time-budget=5000",
		"--screenshot="+out, "--window-size=1400,2400", "file://"+file)
	if msg, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, msg)
	}
	t.Logf("wrote %s", out)
}
