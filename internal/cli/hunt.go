package cli

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mattn/go-isatty"

	"github.com/vigil-defense/vigil/internal/correlate"
	"github.com/vigil-defense/vigil/internal/detect"
	"github.com/vigil-defense/vigil/internal/event"
	"github.com/vigil-defense/vigil/internal/intel"
	"github.com/vigil-defense/vigil/internal/report"
	"github.com/vigil-defense/vigil/internal/source"
)

const huntSynopsis = "[--rules PATH]... [--intel PATH]... [--format table|csv|jsonl] [--output FILE] [--min-level LEVEL] [--status LIST] [--exclude-rules FILE] PATH..."

func runHunt(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "hunt", huntSynopsis)
	var ro ruleOptions
	fs.Var(&ro.paths, "rules", "Sigma rule file or folder (repeatable); default: vigil's built-in rules")
	format := fs.String("format", "", "output `format`: table (default on a terminal), csv (timeline), jsonl (default otherwise)")
	output := fs.String("output", "", "write detections to `FILE` instead of standard output")
	fs.StringVar(&ro.minLevel, "min-level", "", "only rules of this `level` or above (informational, low, medium, high, critical)")
	fs.StringVar(&ro.status, "status", "", "only rules with these statuses, comma-separated (default: all but deprecated and unsupported)")
	fs.Var(&ro.filters, "filters", "Sigma filter rule file or folder (repeatable): matches the filters name are dropped")
	fs.StringVar(&ro.exclude, "exclude-rules", "", "`FILE` of rule ids to leave out, one per line")
	fs.StringVar(&ro.mapping, "mapping", "", "YAML `FILE` extending the logsource and field mapping")
	fs.StringVar(&ro.placeholders, "placeholders", "", "YAML `FILE` giving values for %name% placeholders (expand modifier)")
	reportPath := fs.String("report", "", "also write a self-contained HTML report to `FILE`")
	navigatorPath := fs.String("navigator", "", "also write an ATT&CK Navigator layer of the techniques seen to `FILE` (JSON)")
	var intelPaths multiFlag
	fs.Var(&intelPaths, "intel", "threat intelligence feed file or folder (repeatable; STIX 2.1, MISP event or feed, CSV, plain list, CISA KEV; format detected): values in events that match an indicator become detections")
	dedup := fs.Duration("dedup", 0, "merge repeats of a rule on a host with the same key fields less than `WINDOW` apart into one detection with a count (e.g. 1h; 0 keeps every match)")
	noisyPath := fs.String("noisy", "", "`FILE` of rule ids, one per line, whose detections are only counted in the summary")
	workers := fs.Int("workers", 0, "use `N` goroutines (0: one per CPU)")
	noProgress := fs.Bool("no-progress", false, "do not show progress on a terminal")
	paths, err := parseFlags(fs, args)
	if err != nil {
		return flagExit(err)
	}
	if len(paths) == 0 {
		fmt.Fprintln(e.stderr, "vigil hunt: no PATH given: name log files or folders to scan (EVTX, JSON, JSONL, syslog text; optionally gzip-compressed)")
		fs.Usage()
		return exitUsage
	}
	outTerm := *output == "" && isTerminal(e.stdout)
	if *format == "" {
		*format = "jsonl"
		if outTerm {
			*format = "table"
		}
	}
	if err := oneOf("format", *format, "table", "csv", "jsonl"); err != nil {
		fmt.Fprintf(e.stderr, "vigil hunt: %v\n", err)
		return exitUsage
	}
	tuneGC()
	lr, err := ro.load()
	if err != nil {
		fmt.Fprintf(e.stderr, "vigil hunt: %v\n", err)
		return exitUsage
	}
	for _, r := range lr.uncompile {
		fmt.Fprintf(e.stderr, "warning: %v\n", r)
	}
	for _, r := range lr.corrRefused {
		fmt.Fprintf(e.stderr, "warning: correlation refused: %v\n", r)
	}
	if len(lr.refused) > 0 {
		fmt.Fprintf(e.stderr, "warning: %d rule files refused; run 'vigil rules check' on them for the reasons\n", len(lr.refused))
	}
	files, err := source.Expand(paths)
	if err != nil {
		fmt.Fprintf(e.stderr, "vigil hunt: %v\n", err)
		return exitUsage
	}
	var out io.Writer = e.stdout
	var outFile *os.File
	if *output != "" {
		outFile, err = os.Create(*output)
		if err != nil {
			fmt.Fprintf(e.stderr, "vigil hunt: cannot write the output: %v\n", unwrapPathErr(err))
			return exitUsage
		}
		defer outFile.Close()
		out = outFile
	}
	var noisy map[string]bool
	if *noisyPath != "" {
		if noisy, err = correlate.LoadNoisyList(*noisyPath); err != nil {
			fmt.Fprintf(e.stderr, "vigil hunt: --noisy: %v\n", err)
			return exitUsage
		}
	}
	if *dedup < 0 {
		fmt.Fprintf(e.stderr, "vigil hunt: --dedup %s: give a positive window such as 1h, or 0 to keep every match\n", *dedup)
		return exitUsage
	}
	var idx *intel.Index
	if len(intelPaths) > 0 {
		start := time.Now()
		var errs []error
		idx, errs = intel.LoadPaths(intelPaths)
		for i, err := range errs {
			if i == 20 {
				fmt.Fprintf(e.stderr, "warning: … and %d more feed entries could not be read\n", len(errs)-20)
				break
			}
			fmt.Fprintf(e.stderr, "warning: %v\n", err)
		}
		if idx == nil || idx.Len() == 0 {
			fmt.Fprintf(e.stderr, "vigil hunt: --intel %s: no indicator could be loaded\n", intelPaths.String())
			return exitUsage
		}
		fmt.Fprintf(e.stderr, "intel: %d indicators from %s in %s\n", idx.Len(), intelPaths.String(), time.Since(start).Round(time.Millisecond))
	}
	h := &hunter{
		intel:       idx,
		dedupWindow: *dedup,
		noisy:       noisy,
		engine:      lr.engine,
		corr:        lr.corr,
		format:      *format,
		color:       outTerm,
		progress:    !*noProgress && isTerminal(e.stderr),
		stderr:      e.stderr,
		total:       len(files),
	}
	if *reportPath != "" || *navigatorPath != "" {
		h.reportMeta = report.Meta{
			Version:          Version,
			Paths:            paths,
			Start:            time.Now().UTC(),
			RulesLoaded:      len(lr.engine.Programs()),
			CorrelationRules: corrLen(lr.corr),
			RulesRefused:     len(lr.refused) + len(lr.uncompile),
		}
		h.report = report.NewBuilder(h.reportMeta)
	}
	st, err := h.run(ctx, files, *workers, out)
	if h.report != nil {
		if rerr := h.writeReports(st, *reportPath, *navigatorPath); rerr != nil && err == nil {
			err = rerr
		}
	}
	if outFile != nil {
		if cerr := outFile.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}
	h.summary(e.stderr, lr, st)
	if err != nil {
		fmt.Fprintf(e.stderr, "vigil hunt: %v\n", err)
		return exitPartial
	}
	if st.errors > 0 {
		return exitPartial
	}
	return exitOK
}

// writeReports writes the HTML report and the Navigator layer.
func (h *hunter) writeReports(st huntStats, htmlPath, navPath string) error {
	m := h.reportMeta
	m.Files, m.Bytes, m.Events = st.files, st.bytes, int64(st.events)
	m.Errors, m.Warnings, m.Duration = st.errors, st.warnings, st.elapsed
	m.FirstEvent, m.LastEvent = st.first, st.last
	h.report.SetMeta(m)
	r := h.report.Report()
	write := func(path string, fn func(io.Writer, *report.Report) error) error {
		if path == "" {
			return nil
		}
		f, err := os.Create(path)
		if err != nil {
			return fmt.Errorf("cannot write %s: %w", path, unwrapPathErr(err))
		}
		if err := fn(f, r); err != nil {
			f.Close()
			return fmt.Errorf("writing %s: %w", path, err)
		}
		return f.Close()
	}
	if err := write(htmlPath, report.WriteHTML); err != nil {
		return err
	}
	if err := write(navPath, report.WriteNavigator); err != nil {
		return err
	}
	if htmlPath != "" {
		fmt.Fprintf(h.stderr, "report written to %s\n", htmlPath)
	}
	if navPath != "" {
		fmt.Fprintf(h.stderr, "ATT&CK Navigator layer written to %s\n", navPath)
	}
	return nil
}

// buffer reports whether detections are held until the end of the scan
// (noise control needs all of them) rather than streamed.
func (h *hunter) buffer() bool { return h.dedupWindow > 0 || h.noisy != nil }

func corrLen(c *correlate.Engine) int {
	if c == nil {
		return 0
	}
	return c.Len()
}

// tuneGC trades memory for speed unless the user set GOGC or GOMEMLIMIT:
// the compiled rules are a large, long-lived heap (20–30 MB of pointers with
// all SigmaHQ Windows rules) that every collection marks again, and one
// collection costs about as much CPU as scanning 10 MB of EVTX. GC at 9x
// the live heap, bounded by a soft limit well under the 512 MiB budget,
// means one collection per ~200 MB allocated (about 600 MB of EVTX
// scanned) instead of one per ~100 MB at GOGC=400 or ~25 MB at the
// default; peak RSS over the shared corpus goes from ~200 MB to ~240 MB.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(800)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(384 << 20)
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

type hunter struct {
	engine   *detect.Engine
	corr     *correlate.Engine // nil without correlation rules
	format   string
	color    bool
	progress bool
	stderr   io.Writer
	total    int

	intel       *intel.Index    // nil without --intel
	dedupWindow time.Duration   // 0: every match is its own detection
	noisy       map[string]bool // rule ids shown only as counts

	report     *report.Builder // nil unless --report or --navigator
	reportMeta report.Meta

	matchers  sync.Pool // *huntScratch
	detSlices sync.Pool // *[]detect.Detection, emptied, for huntChunk.dets
	stats     huntStats
	done      atomic.Int64 // files done, for progress
	bytes     atomic.Int64
	dets      atomic.Int64
}

type huntStats struct {
	files, events, errors, warnings int
	bytes                           int64
	elapsed                         time.Duration
	sum                             summary
	merged                          int // matches folded into others by de-duplication
	noisy                           map[string]correlate.NoisyCount
	correlations, corrInputs        int
	first, last                     time.Time
}

type huntChunk struct {
	dets     []detect.Detection
	corrIn   []detect.Detection // detections correlation rules read
	events   int
	msgs     []string
	errors   int
	warnings int
	file     bool
	last     bool
	size     int64
	first    time.Time
	lastT    time.Time
}

func (h *hunter) run(ctx context.Context, files []string, workers int, out io.Writer) (huntStats, error) {
	start := time.Now()
	w := newDetectionWriter(h.format, out, h.color)
	var stop chan struct{}
	var wg sync.WaitGroup
	if h.progress {
		stop = make(chan struct{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.showProgress(start, stop)
		}()
	}
	st := &h.stats
	// Detections the correlation rules read are kept (only those) and
	// correlated over event time once every file has been read.
	var corrIn, held []detect.Detection
	put := func(d *detect.Detection) error {
		if err := w.write(d); err != nil {
			return err
		}
		st.sum.add(d)
		if h.report != nil {
			h.report.Add(d)
		}
		return nil
	}
	err := source.Scan(ctx, files, workers, h.work, func(c *huntChunk) error {
		for _, m := range c.msgs {
			fmt.Fprintln(h.stderr, m)
		}
		st.events += c.events
		st.errors += c.errors
		st.warnings += c.warnings
		if c.file {
			st.files++
			st.bytes += c.size
			h.bytes.Add(c.size)
		}
		if c.last {
			h.done.Add(1)
		}
		if !c.first.IsZero() && (st.first.IsZero() || c.first.Before(st.first)) {
			st.first = c.first
		}
		if c.lastT.After(st.last) {
			st.last = c.lastT
		}
		corrIn = append(corrIn, c.corrIn...)
		h.dets.Add(int64(len(c.dets)))
		if h.buffer() {
			held = append(held, c.dets...)
			return nil
		}
		for i := range c.dets {
			if err := put(&c.dets[i]); err != nil {
				return err
			}
		}
		if h.report == nil && cap(c.dets) > 0 {
			// Written and counted: nothing holds the detections any more, so
			// their slice goes back to the workers.
			clear(c.dets)
			d := c.dets[:0]
			h.detSlices.Put(&d)
		}
		return nil
	})
	if err == nil && h.buffer() {
		// Noise control needs every detection: noisy rules become counts,
		// repeats within the window become one detection with a count.
		if h.noisy != nil {
			held, st.noisy = correlate.SplitNoisy(held, h.noisy)
		}
		if h.dedupWindow > 0 {
			before := len(held)
			held = correlate.Dedup(held, correlate.DedupOptions{Window: h.dedupWindow})
			st.merged = before - len(held)
		}
		for i := range held {
			if err = put(&held[i]); err != nil {
				break
			}
		}
	}
	if err == nil && h.corr != nil {
		st.corrInputs = len(corrIn)
		for _, d := range h.corr.Run(ctx, corrIn) {
			if err = put(&d); err != nil {
				break
			}
			st.correlations++
		}
	}
	if ferr := w.flush(); ferr != nil && err == nil {
		err = ferr
	}
	if stop != nil {
		close(stop)
		wg.Wait()
		fmt.Fprint(h.stderr, "\r\033[K")
	}
	st.elapsed = time.Since(start)
	return *st, err
}

func (h *hunter) work(u *source.Unit) *huntChunk {
	res := &huntChunk{file: u.First && u.Err == nil, last: u.Last}
	if u.First {
		res.size = u.Size()
	}
	problem := func(err error, warn bool) {
		if warn {
			res.warnings++
			res.msgs = append(res.msgs, "warning: "+err.Error())
			return
		}
		res.errors++
		res.msgs = append(res.msgs, "error: "+err.Error())
	}
	if u.Err != nil {
		problem(u.Err, false)
		return res
	}
	for _, p := range u.Problems() {
		problem(p, true)
	}
	// The matcher and the event it decodes into are reused across units
	// (one per worker in practice), so the event's buffers grow once.
	hs, _ := h.matchers.Get().(*huntScratch)
	if hs == nil {
		hs = &huntScratch{m: h.engine.NewMatcher()}
		if h.intel != nil {
			hs.im = h.intel.NewMatcher()
		}
	}
	m := hs.m
	if dp, _ := h.detSlices.Get().(*[]detect.Detection); dp != nil {
		res.dets = *dp
	}
	res.events = u.Events(&hs.ev, func(ev *event.Event) {
		if !ev.Time.IsZero() {
			if res.first.IsZero() || ev.Time.Before(res.first) {
				res.first = ev.Time
			}
			if ev.Time.After(res.lastT) {
				res.lastT = ev.Time
			}
		}
		m.Match(ev, func(p *detect.Program) {
			d := detect.NewDetection(p, ev)
			if h.corr != nil && h.corr.Wants(&d) {
				res.corrIn = append(res.corrIn, d)
				if !h.corr.Standalone(&d) {
					return
				}
			}
			res.dets = append(res.dets, d)
		})
		if hs.im != nil {
			hs.im.Match(ev, func(field, value string, im intel.Match) {
				res.dets = append(res.dets, intel.NewDetection(ev, field, value, im))
			})
		}
	}, func(err error) { problem(err, isWarning(err)) })
	h.matchers.Put(hs)
	return res
}

// huntScratch is a worker's matchers and the event it decodes into.
type huntScratch struct {
	m  *detect.Matcher
	im *intel.Matcher // nil without --intel
	ev event.Event
}

func (h *hunter) showProgress(start time.Time, stop chan struct{}) {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			el := time.Since(start).Seconds()
			fmt.Fprintf(h.stderr, "\r\033[Kscanning: %d/%d files, %.1f MB/s, %d detections", h.done.Load(), h.total, float64(h.bytes.Load())/1e6/el, h.dets.Load())
		}
	}
}

// detectionWriter renders detections in one output format.
type detectionWriter struct {
	format string
	w      *bufio.Writer
	csv    *csv.Writer
	color  bool
	buf    []byte
	header bool
}

func newDetectionWriter(format string, out io.Writer, color bool) *detectionWriter {
	dw := &detectionWriter{format: format, w: bufio.NewWriterSize(out, 256<<10), color: color}
	if format == "csv" {
		dw.csv = csv.NewWriter(dw.w)
	}
	return dw
}

var csvHeader = []string{"Timestamp", "Computer", "Channel", "EventID", "RecordID", "Level", "RuleTitle", "RuleID", "Author", "Tags", "Source", "Details"}

func (dw *detectionWriter) write(d *detect.Detection) error {
	switch dw.format {
	case "jsonl":
		dw.buf = d.AppendJSON(dw.buf[:0])
		dw.buf = append(dw.buf, '\n')
		_, err := dw.w.Write(dw.buf)
		return err
	case "csv":
		if !dw.header {
			dw.header = true
			if err := dw.csv.Write(csvHeader); err != nil {
				return err
			}
		}
		return dw.csv.Write([]string{
			formatTime(d.Time), d.Computer, d.Channel, d.EventID, strconv.FormatUint(d.RecordID, 10),
			d.Level, d.RuleTitle, d.RuleID, d.Author, strings.Join(d.Tags, " "), d.Source, details(d, 0),
		})
	default:
		if !dw.header {
			dw.header = true
			fmt.Fprintf(dw.w, "%-24s %-13s %-20s %-6s %s\n", "TIME (UTC)", "LEVEL", "COMPUTER", "EVENT", "RULE")
		}
		lvl := fmt.Sprintf("%-13s", d.Level)
		if dw.color {
			lvl = colorLevel(d.Level, lvl)
		}
		_, err := fmt.Fprintf(dw.w, "%-24s %s %-20s %-6s %s\n", formatTime(d.Time), lvl, truncate(d.Computer, 20), d.EventID, d.RuleTitle)
		return err
	}
}

func (dw *detectionWriter) flush() error {
	if dw.csv != nil {
		dw.csv.Flush()
		if err := dw.csv.Error(); err != nil {
			return err
		}
	}
	return dw.w.Flush()
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

// details renders the event's fields as "Name: value ¦ ..." for the CSV
// timeline, without the routing fields already in their own columns.
func details(d *detect.Detection, max int) string {
	var b strings.Builder
	for _, f := range d.Fields {
		switch f.Name {
		case "Computer", "Channel", "EventID", "EventRecordID", "Provider_Guid", "Version", "Level", "Task", "Opcode", "Keywords", "TimeCreated", "Execution_ProcessID", "Execution_ThreadID":
			continue
		}
		if f.Value == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteString(" ¦ ")
		}
		b.WriteString(f.Name)
		b.WriteString(": ")
		b.WriteString(f.Value)
		if max > 0 && b.Len() > max {
			break
		}
	}
	return b.String()
}

func colorLevel(level, text string) string {
	code := ""
	switch strings.ToLower(level) {
	case "critical":
		code = "1;31"
	case "high":
		code = "31"
	case "medium":
		code = "33"
	case "low":
		code = "32"
	default:
		return text
	}
	return "\033[" + code + "m" + text + "\033[0m"
}
