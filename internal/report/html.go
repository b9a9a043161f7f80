package report

import (
	"bufio"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-defense/vigil/internal/attack"
)

var (
	//go:embed assets/report.html.tmpl
	pageTemplate string
	//go:embed assets/report.css
	pageCSS string
	//go:embed assets/report.js
	pageJS string
)

// Shown in each top list.
const topN = 15

// WriteHTML writes r as one self-contained HTML page: inline CSS, an inline
// script and the report's data as a JSON block, with a Content-Security-Policy
// that forbids every request, so that opening it fetches nothing.
func WriteHTML(w io.Writer, r *Report) error {
	t, err := template.New("report").Funcs(funcs).Parse(pageTemplate)
	if err != nil {
		return fmt.Errorf("report template: %w", err)
	}
	data, err := json.Marshal(r) // escapes <, > and & so the block cannot end early
	if err != nil {
		return fmt.Errorf("report data: %w", err)
	}
	p := newPage(r)
	p.Data = template.JS(data)
	bw := bufio.NewWriterSize(w, 64<<10)
	if err := t.Execute(bw, p); err != nil {
		return fmt.Errorf("writing the HTML report: %w", err)
	}
	return bw.Flush()
}

// page is what the template renders; everything but the table is rendered
// here so that the report reads the same with scripts disabled.
type page struct {
	R          *Report
	Data       template.JS
	CSS        template.CSS
	JS         template.JS
	CSP        string
	Levels     []levelTile
	Chart      *chart
	Rules      []RuleCount
	RulesMore  int
	Hosts      []bar
	HostsMore  int
	Users      []bar
	UsersMore  int
	Matrix     []column
	MatrixCols template.CSS // grid columns: narrow ones for tactics without techniques (made here, no input)
	Unplaced   int          // techniques whose tactics are not in the matrix
	Span       string
	ATTACKVer  string
	FirstStory int
}

type levelTile struct {
	Name  string
	Count int
}

type bar struct {
	Name  string
	Count int
	Pct   float64
}

type column struct {
	Tactic TacticCount
	Cells  []cell
}

type cell struct {
	ID, Name string
	Count    int
	BG, FG   string
	Tip      string
}

func newPage(r *Report) *page {
	p := &page{R: r, CSS: template.CSS(pageCSS), JS: template.JS(pageJS), ATTACKVer: attack.Version}
	sum := sha256.Sum256([]byte(pageJS))
	p.CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'sha256-" +
		base64.StdEncoding.EncodeToString(sum[:]) + "'; base-uri 'none'; form-action 'none'"
	for i, name := range levelNames {
		if n := r.ByLevel.At(i); n > 0 || i < 5 {
			p.Levels = append(p.Levels, levelTile{name, n})
		}
	}
	p.Chart = newChart(r)
	p.Rules = r.Rules
	if len(p.Rules) > topN {
		p.Rules, p.RulesMore = p.Rules[:topN], len(r.Rules)-topN
	}
	p.Hosts, p.HostsMore = bars(r.Hosts)
	p.Users, p.UsersMore = bars(r.Users)
	p.Matrix, p.Unplaced = matrix(r)
	cols := make([]string, len(p.Matrix))
	for i, c := range p.Matrix {
		cols[i] = "minmax(0, 1fr)"
		if len(c.Cells) == 0 {
			cols[i] = "minmax(0, 0.5fr)"
		}
	}
	p.MatrixCols = template.CSS(strings.Join(cols, " "))
	if !r.FirstTime.IsZero() {
		p.Span = fmtTime(r.FirstTime) + " to " + fmtTime(r.LastTime)
	}
	return p
}

func bars(cs []Count) ([]bar, int) {
	more := 0
	if len(cs) > topN {
		cs, more = cs[:topN], len(cs)-topN
	}
	out := make([]bar, len(cs))
	for i, c := range cs {
		out[i] = bar{c.Name, c.Count, 100 * float64(c.Count) / float64(cs[0].Count)}
	}
	return out, more
}

// matrix places each technique under every tactic of the matrix it belongs
// to, most detected first.
func matrix(r *Report) ([]column, int) {
	if len(r.Techniques) == 0 {
		return nil, 0
	}
	most := 0
	for _, t := range r.Techniques {
		most = max(most, t.Count)
	}
	var cols []column
	placed := map[string]bool{}
	for _, ta := range r.Tactics {
		c := column{Tactic: ta}
		for _, t := range r.Techniques {
			if t.Domain != ta.Domain || !contains(t.Tactics, ta.Short) {
				continue
			}
			placed[t.ID] = true
			bg, fg := heat(t.Count, most)
			var tip strings.Builder
			fmt.Fprintf(&tip, "%s %s\n%s: %d detections", t.ID, t.Name, ta.Name, t.Count)
			for _, rc := range t.Rules {
				fmt.Fprintf(&tip, "\n• %s (%d)", rc.Name, rc.Count)
			}
			// A zero-width space after "/" lets "Impersonation/Theft" wrap there.
			c.Cells = append(c.Cells, cell{ID: t.ID, Name: strings.ReplaceAll(t.Name, "/", "/\u200b"), Count: t.Count, BG: bg, FG: fg, Tip: tip.String()})
		}
		sortCells(c.Cells)
		cols = append(cols, c)
	}
	return cols, len(r.Techniques) - len(placed)
}

func sortCells(cs []cell) {
	for i := 1; i < len(cs); i++ {
		for j := i; j > 0 && (cs[j].Count > cs[j-1].Count || cs[j].Count == cs[j-1].Count && cs[j].ID < cs[j-1].ID); j-- {
			cs[j], cs[j-1] = cs[j-1], cs[j]
		}
	}
}

// heat returns the background and text colours of a heat-map cell: from a
// pale amber for one detection to a deep red for the most detected
// technique, on a logarithmic scale.
func heat(n, most int) (bg, fg string) {
	t := 1.0
	if most > 1 {
		t = math.Log1p(float64(n)) / math.Log1p(float64(most))
	}
	from := [3]float64{255, 236, 179}
	to := [3]float64{165, 15, 21}
	var c [3]int
	for i := range c {
		c[i] = int(math.Round(from[i] + t*(to[i]-from[i])))
	}
	fg = "#1a1a1a"
	if t > 0.55 {
		fg = "#ffffff"
	}
	return fmt.Sprintf("#%02x%02x%02x", c[0], c[1], c[2]), fg
}

// chart is the stacked bar chart of detections over time, drawn in SVG
// user units.
type chart struct {
	W, H       int
	Bars       []chartBar
	Grid       []gridLine
	Labels     []xLabel
	PlotL      int
	PlotB      int
	Width      string // bucket width, for the caption
	EmptyBars  int
	TotalBars  int
	MaxPerBar  int
	PlotR      int
	PlotT      int
	HasUntimed bool
	HitH       int
}

type chartBar struct {
	X, W float64
	Segs []seg
	Tip  string
}

type seg struct {
	Y, H  float64
	Level string
}

type gridLine struct {
	Y     float64
	Label string
}

type xLabel struct {
	X      float64
	Label  string
	Anchor string
}

func newChart(r *Report) *chart {
	bs := r.Timeline.Buckets
	if len(bs) == 0 {
		return nil
	}
	c := &chart{W: 1000, H: 240, PlotL: 48, PlotR: 992, PlotT: 12, PlotB: 206, TotalBars: len(bs)}
	c.Width = fmtDuration(r.Timeline.Width)
	for _, b := range bs {
		c.MaxPerBar = max(c.MaxPerBar, b.Levels.Total())
	}
	top := niceCeil(c.MaxPerBar)
	plotH := float64(c.PlotB - c.PlotT)
	step := float64(c.PlotR-c.PlotL) / float64(len(bs))
	gap := math.Min(step*0.18, 6)
	for i, b := range bs {
		x := float64(c.PlotL) + float64(i)*step
		cb := chartBar{X: round2(x + gap/2), W: round2(math.Max(step-gap, 1))}
		y := float64(c.PlotB)
		var tip strings.Builder
		tip.WriteString(fmtBucket(b.Start, r.Timeline.Width))
		fmt.Fprintf(&tip, ": %d detections", b.Levels.Total())
		for li := len(levelNames) - 1; li >= 0; li-- { // least severe at the bottom
			n := b.Levels.At(li)
			if n == 0 {
				continue
			}
			h := plotH * float64(n) / float64(top)
			y -= h
			cb.Segs = append(cb.Segs, seg{Y: round2(y), H: round2(h), Level: levelNames[li]})
		}
		for li := range levelNames {
			if n := b.Levels.At(li); n > 0 {
				fmt.Fprintf(&tip, "\n%s: %d", levelNames[li], n)
			}
		}
		cb.Tip = tip.String()
		if b.Levels.Total() == 0 {
			c.EmptyBars++
		}
		c.Bars = append(c.Bars, cb)
	}
	for _, f := range []float64{0, 0.25, 0.5, 0.75, 1} {
		v := float64(top) * f
		if f > 0 && v != math.Trunc(v) {
			continue
		}
		c.Grid = append(c.Grid, gridLine{Y: round2(float64(c.PlotB) - plotH*f), Label: strconv.Itoa(int(v))})
	}
	labels := min(6, len(bs))
	for k := range labels {
		i := 0
		if labels > 1 {
			i = k * (len(bs) - 1) / (labels - 1)
		}
		l := xLabel{X: round2(float64(c.PlotL) + (float64(i)+0.5)*step), Label: fmtTick(bs[i].Start, r.Timeline.Width), Anchor: "middle"}
		switch {
		case labels > 1 && k == 0:
			l.Anchor, l.X = "start", round2(math.Max(float64(c.PlotL), l.X-step/2))
		case labels > 1 && k == labels-1:
			l.Anchor, l.X = "end", round2(math.Min(float64(c.PlotR), l.X+step/2))
		}
		c.Labels = append(c.Labels, l)
	}
	c.HasUntimed = r.Untimed > 0
	c.HitH = c.PlotB - c.PlotT
	return c
}

// niceCeil rounds n up to 1, 2, 2.5 or 5 times a power of ten, at least 4
// so that the quarter lines are whole numbers where possible.
func niceCeil(n int) int {
	if n <= 4 {
		return 4
	}
	p := math.Pow(10, math.Floor(math.Log10(float64(n))))
	for _, m := range []float64{1, 2, 2.5, 4, 5, 10} {
		if v := m * p; v >= float64(n) {
			return int(v)
		}
	}
	return int(10 * p)
}

func round2(f float64) float64 { return math.Round(f*100) / 100 }

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05") + " UTC"
}

func fmtTick(t time.Time, w time.Duration) string {
	if w >= 24*time.Hour {
		return t.UTC().Format("2006-01-02")
	}
	return t.UTC().Format("01-02 15:04")
}

func fmtBucket(t time.Time, w time.Duration) string {
	end := t.Add(w)
	if w >= 24*time.Hour {
		return t.UTC().Format("2006-01-02") + " – " + end.UTC().Format("2006-01-02")
	}
	return t.UTC().Format("2006-01-02 15:04") + " – " + end.UTC().Format("15:04") + " UTC"
}

func fmtDuration(d time.Duration) string {
	switch {
	case d >= 7*24*time.Hour && d%(7*24*time.Hour) == 0:
		return plural(int(d/(7*24*time.Hour)), "week")
	case d >= 24*time.Hour:
		return plural(int(d/(24*time.Hour)), "day")
	case d >= time.Hour:
		return plural(int(d/time.Hour), "hour")
	case d >= time.Minute:
		return plural(int(d/time.Minute), "minute")
	}
	return d.String()
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.Itoa(n) + " " + unit + "s"
}

// fmtInt writes n with thousands separators: 12,345.
func fmtInt(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func fmtBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f kB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

var funcs = template.FuncMap{
	"num": func(v any) string {
		switch n := v.(type) {
		case int:
			return fmtInt(int64(n))
		case int64:
			return fmtInt(n)
		case uint64:
			return fmtInt(int64(n))
		case float64:
			if n == math.Trunc(n) {
				return fmtInt(int64(n))
			}
			return strconv.FormatFloat(n, 'f', 2, 64)
		}
		return fmt.Sprint(v)
	},
	"bytes": fmtBytes,
	"time":  fmtTime,
	"dur": func(d time.Duration) string {
		if d < time.Second {
			return d.Round(time.Millisecond).String()
		}
		return d.Round(100 * time.Millisecond).String()
	},
	"pct":  func(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) + "%" },
	"base": filepath.Base,
	"plural": func(n int, unit string) string {
		return fmtInt(int64(n)) + " " + unit + map[bool]string{true: "", false: "s"}[n == 1]
	},
	"add": func(a, b int) int { return a + b },
	"levelClass": func(l string) string {
		return "lv-" + levelNames[levelIndex(l)]
	},
	"isZero": func(t time.Time) bool { return t.IsZero() },
}
