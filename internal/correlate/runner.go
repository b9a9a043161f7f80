package correlate

import (
	"container/heap"
	"context"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-defense/vigil/internal/detect"
	"github.com/vigil-defense/vigil/internal/event"
	"github.com/vigil-defense/vigil/sigma"
)

// Percentile is the percentile a value_percentile correlation computes
// (nearest rank). The specification does not define it; see doc.go.
const Percentile = 95

// Options tune a Runner. The zero value is valid.
type Options struct {
	// Lateness is how long the runner waits for out-of-order detections:
	// a detection is processed once one at least Lateness newer has been
	// fed. Zero processes each detection at once. A detection older than
	// the last processed one is too late: it is counted in Stats.Late and
	// not correlated.
	Lateness time.Duration
	// MaxPending caps the detections held back for lateness
	// (default 65536); beyond it the oldest is processed early.
	MaxPending int
	// MaxEvents caps the event references a window keeps (default 256);
	// see doc.go for what is kept beyond it.
	MaxEvents int
}

// Stats counts what a runner did not correlate, and why.
type Stats struct {
	Fed          int // detections fed
	Late         int // too late for the lateness allowance, not correlated
	MissingGroup int // lacked a group-by field, not correlated
	MissingValue int // lacked the aggregated field
	NonNumeric   int // aggregated field not a number (value_sum/avg/percentile)
	Fired        int // correlation detections produced (all levels of a chain)
}

// Runner evaluates an Engine's correlations over a stream of detections,
// keeping its windows in a State. It is not safe for concurrent use; run
// one per goroutine.
type Runner struct {
	e     *Engine
	st    State
	opt   Options
	stats Stats

	pending pendingHeap
	seq     uint64
	maxSeen time.Time
	clock   time.Time // time of the last processed detection
	started bool

	key   []byte
	group []string
	one   [1]detect.EventRef
}

// NewRunner returns a runner for e that keeps its windows in st.
func (e *Engine) NewRunner(st State, opt Options) *Runner {
	if opt.MaxPending <= 0 {
		opt.MaxPending = 1 << 16
	}
	if opt.MaxEvents <= 0 {
		opt.MaxEvents = 64
	}
	return &Runner{e: e, st: st, opt: opt}
}

// Stats returns the runner's counters.
func (r *Runner) Stats() Stats { return r.stats }

// Run correlates a batch of detections, as vigil hunt does: it sorts them by
// event time (stably, so equal times keep their input order), feeds them to
// a runner over a fresh MemoryState and flushes it. It returns the
// correlation detections in the order they fired; base detections are not
// returned (see Engine.Standalone). It stops early, returning what it has,
// when ctx is done.
func (e *Engine) Run(ctx context.Context, dets []detect.Detection) []detect.Detection {
	if len(e.corrs) == 0 {
		return nil
	}
	idx := make([]int, 0, len(dets))
	for i := range dets {
		if e.Wants(&dets[i]) {
			idx = append(idx, i)
		}
	}
	sort.SliceStable(idx, func(a, b int) bool { return dets[idx[a]].Time.Before(dets[idx[b]].Time) })
	r := e.NewRunner(NewMemoryState(0), Options{})
	var out []detect.Detection
	emit := func(d detect.Detection) { out = append(out, d) }
	for n, i := range idx {
		if n&4095 == 0 && ctx.Err() != nil {
			return out
		}
		r.Feed(dets[i], emit)
	}
	r.Flush(emit)
	return out
}

// Feed correlates one detection. Detections of rules no correlation reads
// are ignored. emit receives every correlation detection that fires and is
// to be output (see Engine.Standalone for the generate rule); it is called
// before Feed returns and must not retain the runner.
func (r *Runner) Feed(d detect.Detection, emit func(detect.Detection)) {
	ts := r.e.byRule[detectionKey(&d)]
	if len(ts) == 0 {
		return
	}
	r.stats.Fed++
	if r.started && d.Time.Before(r.clock) {
		r.stats.Late++
		return
	}
	if d.Time.After(r.maxSeen) {
		r.maxSeen = d.Time
	}
	if r.opt.Lateness <= 0 && r.pending.Len() == 0 {
		r.process(&d, ts, emit)
		return
	}
	r.seq++
	heap.Push(&r.pending, pendingDet{d: d, seq: r.seq})
	water := r.maxSeen.Add(-r.opt.Lateness)
	for r.pending.Len() > 0 && (!r.pending[0].d.Time.After(water) || r.pending.Len() > r.opt.MaxPending) {
		p := heap.Pop(&r.pending).(pendingDet)
		r.process(&p.d, r.e.byRule[detectionKey(&p.d)], emit)
	}
}

// Flush processes every held-back detection and closes every window,
// firing the correlations decided at window close. Use it at the end of a
// batch or on shutdown.
func (r *Runner) Flush(emit func(detect.Detection)) {
	for r.pending.Len() > 0 {
		p := heap.Pop(&r.pending).(pendingDet)
		r.process(&p.d, r.e.byRule[detectionKey(&p.d)], emit)
	}
	r.st.Expire(time.Unix(math.MaxInt64/4, 0), func(key string, w *Window) { r.close(w, emit) })
}

func (r *Runner) process(d *detect.Detection, ts []target, emit func(detect.Detection)) {
	r.clock, r.started = d.Time, true
	// Close the windows whose time is over first: an event at d.Time can
	// no longer join them.
	r.st.Expire(d.Time, func(key string, w *Window) { r.close(w, emit) })
	for _, t := range ts {
		r.add(r.e.corrs[t.corr], t.pos, d, emit)
	}
}

// close decides an anchored window that can take no more events.
func (r *Runner) close(w *Window, emit func(detect.Detection)) {
	if !w.open || w.corr >= len(r.e.corrs) {
		return
	}
	p := r.e.corrs[w.corr]
	if p.early {
		return // decided at every event already
	}
	if v, ok := r.holds(p, w, math.MinInt64); ok {
		r.fire(p, w, v, emit)
	}
	w.reset()
}

// add feeds detection d, which matched the rule at positions pos of p.
func (r *Runner) add(p *program, pos []int, d *detect.Detection, emit func(detect.Detection)) {
	first := pos[0]
	// Group key: correlation index, then each group-by value.
	r.key = strconv.AppendInt(r.key[:0], int64(p.index), 10)
	r.group = r.group[:0]
	for _, f := range p.groupField[first] {
		v, ok := fieldOf(d, f)
		if !ok {
			r.stats.MissingGroup++
			return
		}
		r.key = append(r.key, 0x1f)
		r.key = append(r.key, v...)
		r.group = append(r.group, v)
	}
	// The aggregated value.
	var (
		val   string
		num   float64
		isNum bool
	)
	if p.valueField[first] != "" {
		var ok bool
		val, ok = valueOf(d, p.valueField[first])
		if !ok {
			r.stats.MissingValue++
			// value_count: an event without the field adds no value;
			// value_sum/avg/percentile: nothing to aggregate.
			return
		}
		if p.typ != sigma.ValueCount {
			num, isNum = parseNumber(val)
			if !isNum {
				r.stats.NonNumeric++
				return
			}
		}
	}

	key := string(r.key)
	w := r.st.Window(key)
	if len(w.group) != len(r.group) {
		// The group of a key never changes; r.group is reused by the
		// chained calls that fire may make.
		w.group = append(w.group[:0], r.group...)
	}
	at := unixNano(d.Time)
	span := int64(p.span)
	if p.early {
		// Sliding: forget what is older than the timespan before d.
		cut := at - span
		for _, e := range w.live() {
			if e.at >= cut {
				break
			}
			r.evict(w)
		}
		if len(w.live()) == 0 && w.count == 0 {
			w.reset()
		}
	} else if w.open && at > unixNano(w.start)+span {
		// Anchored: d is past this window; decide it and start anew.
		r.close(w, emit)
	}
	if !w.open {
		w.open, w.start, w.corr = true, d.Time, p.index
	}

	// Account d.
	w.count++
	w.computer = d.Computer
	refs := r.refsOf(d)
	for i, ref := range refs {
		// The last reference (the detection's own time) carries the
		// detection's count and value; the others are only references.
		lead := i == len(refs)-1
		w.entries = append(w.entries, entry{ref: ref, at: unixNano(ref.Time), num: num, isNum: isNum && lead, lead: lead})
	}
	limit := max(r.opt.MaxEvents, p.minEvents)
	for len(w.live()) > limit {
		if p.early {
			r.evict(w)
		} else {
			w.entries[w.head] = entry{}
			w.head++
			w.dropped++
		}
	}
	if w.head > 64 && w.head > len(w.entries)/2 {
		n := copy(w.entries, w.entries[w.head:])
		clear(w.entries[n:])
		w.entries, w.head = w.entries[:n], 0
	}
	switch p.typ {
	case sigma.ValueSum, sigma.ValueAvg:
		w.sum += num
		w.nums++
	case sigma.ValuePercentile:
		w.nums++
		if len(w.values) < limit*4 {
			w.values = append(w.values, num)
		} else {
			w.dropped++
		}
	case sigma.ValueCount:
		if w.distinct == nil {
			w.distinct = map[string]int64{}
		}
		if len(w.distinct) >= limit*4 && p.early {
			sweep(w.distinct, at-span)
		}
		if _, ok := w.distinct[val]; ok || len(w.distinct) < limit*4 {
			w.distinct[val] = at
		}
	case sigma.Temporal, sigma.TemporalOrdered:
		if len(w.seen) != len(p.refs) {
			w.seen = slices.Grow(w.seen[:0], len(p.refs))[:len(p.refs)]
			for i := range w.seen {
				w.seen[i] = math.MinInt64
			}
		}
		if p.typ == sigma.TemporalOrdered && len(w.chain) != len(p.refs) {
			w.chain = slices.Grow(w.chain[:0], len(p.refs))[:len(p.refs)]
			clear(w.chain)
		}
		// Positions in descending order, so that one event never chains
		// with itself when a rule is listed twice.
		for k := len(pos) - 1; k >= 0; k-- {
			i := pos[k]
			w.seen[i] = at
			if p.typ != sigma.TemporalOrdered {
				continue
			}
			var cand link
			if i == 0 {
				cand = link{ok: true, start: at}
			} else if prev := w.chain[i-1]; prev.ok && (!p.early || prev.start >= at-span) {
				cand = link{ok: true, start: prev.start, refs: prev.refs}
			}
			if cand.ok && (!w.chain[i].ok || cand.start >= w.chain[i].start) {
				cand.refs = append(slices.Clip(cand.refs), refs...)
				w.chain[i] = cand
			}
		}
	}
	if p.early {
		w.Deadline = d.Time.Add(p.span)
		if d.Time.Before(w.quiet) {
			return // fired less than one timespan ago: same story, no new detection
		}
		if v, ok := r.holds(p, w, at-span); ok {
			r.fire(p, w, v, emit)
			w.reset()
			// Keep the window so that the group stays quiet for one timespan.
			w.quiet = d.Time.Add(p.span)
		}
	} else {
		w.Deadline = w.start.Add(p.span)
	}
}

// evict forgets the oldest kept event of a sliding window.
func (r *Runner) evict(w *Window) {
	e := w.entries[w.head]
	w.entries[w.head] = entry{}
	w.head++
	if e.lead {
		w.count--
	}
	if e.isNum {
		w.sum -= e.num
		w.nums--
	}
}

// holds computes the correlation's value over w and reports whether its
// condition holds; cut is the oldest time still in a sliding window.
func (r *Runner) holds(p *program, w *Window, cut int64) (float64, bool) {
	var v float64
	switch p.typ {
	case sigma.EventCount:
		v = float64(w.count)
	case sigma.ValueCount:
		v = float64(len(w.distinct))
		if p.early && thresholdsHold(p.thresholds, v) {
			// Values last seen before the window are stale: drop them
			// and count again.
			sweep(w.distinct, cut)
			v = float64(len(w.distinct))
		}
	case sigma.ValueSum:
		v = w.sum
	case sigma.ValueAvg:
		if w.nums == 0 {
			return 0, false
		}
		v = w.sum / float64(w.nums)
	case sigma.ValuePercentile:
		if len(w.values) == 0 {
			return 0, false
		}
		v = percentile(w.values, Percentile)
	case sigma.Temporal:
		for _, t := range w.seen {
			if t >= cut && t != math.MinInt64 {
				v++
			}
		}
		if p.expr != nil {
			return v, evalExpr(p.expr, func(name string) bool {
				i := p.refIndex[name]
				return w.seen[i] != math.MinInt64 && w.seen[i] >= cut
			})
		}
	case sigma.TemporalOrdered:
		for i, l := range w.chain {
			if l.ok && l.start >= cut {
				v = float64(i + 1)
			}
		}
		if p.expr != nil {
			return v, evalExpr(p.expr, func(name string) bool { return float64(p.refIndex[name]) < v })
		}
	}
	if p.typ.IsTemporal() && len(p.thresholds) == 0 {
		return v, v >= float64(len(p.refs))
	}
	return v, thresholdsHold(p.thresholds, v)
}

// sweep forgets the values last seen before cut.
func sweep(m map[string]int64, cut int64) {
	for k, t := range m {
		if t < cut {
			delete(m, k)
		}
	}
}

func thresholdsHold(ts []sigma.Threshold, v float64) bool {
	for _, t := range ts {
		var ok bool
		switch t.Op {
		case "gt":
			ok = v > t.Value
		case "gte":
			ok = v >= t.Value
		case "lt":
			ok = v < t.Value
		case "lte":
			ok = v <= t.Value
		case "eq":
			ok = v == t.Value
		case "neq":
			ok = v != t.Value
		}
		if !ok {
			return false
		}
	}
	return true
}

func evalExpr(e sigma.Expr, seen func(string) bool) bool {
	switch e := e.(type) {
	case *sigma.Ident:
		return seen(e.Name)
	case *sigma.Not:
		return !evalExpr(e.X, seen)
	case *sigma.And:
		return evalExpr(e.X, seen) && evalExpr(e.Y, seen)
	case *sigma.Or:
		return evalExpr(e.X, seen) || evalExpr(e.Y, seen)
	case *sigma.Of:
		n := 0
		for _, name := range e.Names {
			if seen(name) {
				n++
			}
		}
		if e.All {
			return n == len(e.Names)
		}
		return n > 0
	}
	return false
}

// percentile is the nearest-rank p-th percentile of vs (which it sorts).
func percentile(vs []float64, p float64) float64 {
	slices.Sort(vs)
	rank := int(math.Ceil(p / 100 * float64(len(vs))))
	return vs[min(max(rank, 1), len(vs))-1]
}

// fire emits the correlation detection of p over w and feeds it to the
// correlations that read p.
func (r *Runner) fire(p *program, w *Window, v float64, emit func(detect.Detection)) {
	r.stats.Fired++
	c := p.rule
	var events []detect.EventRef
	if p.typ == sigma.TemporalOrdered {
		for i := len(w.chain) - 1; i >= 0; i-- {
			if w.chain[i].ok && float64(i+1) == v {
				events = slices.Clone(w.chain[i].refs)
				break
			}
		}
	}
	if events == nil {
		live := w.live()
		events = make([]detect.EventRef, len(live))
		for i, e := range live {
			events[i] = e.ref
		}
	}
	slices.SortStableFunc(events, func(a, b detect.EventRef) int { return a.Time.Compare(b.Time) })
	info := &detect.CorrelationInfo{Type: string(p.typ), Value: v, Events: events}
	out := detect.Detection{
		RuleID: c.ID, RuleTitle: c.Title, Level: c.Level, Status: c.Status, Author: c.Author,
		Tags: c.Tags, RulePath: p.path, Correlation: info, Computer: w.computer,
	}
	if len(events) > 0 {
		first, last := events[0], events[len(events)-1]
		info.WindowStart, info.WindowEnd = first.Time, last.Time
		out.Time, out.Source, out.RecordID = last.Time, last.Source, last.RecordID
	}
	if !p.early && !w.start.IsZero() {
		info.WindowStart = w.start
	}
	if len(p.groupBy) > 0 {
		info.Group = make(map[string]string, len(p.groupBy))
		out.Fields = make([]event.Field, len(p.groupBy))
		for i, g := range p.groupBy {
			info.Group[g] = w.group[i]
			out.Fields[i] = event.Field{Name: g, Value: w.group[i]}
			switch g {
			case "Computer", "ComputerName", "Hostname", "host.name":
				out.Computer = w.group[i]
			}
		}
	}
	if out.Time.IsZero() {
		out.Time = r.clock
	}
	if p.emit {
		emit(out)
	}
	for _, t := range p.parents {
		r.add(r.e.corrs[t.corr], t.pos, &out, emit)
	}
}

// refsOf returns the event references a detection contributes: the events
// behind a correlation detection, or the detection's own event.
// The slice is only valid until the next call.
func (r *Runner) refsOf(d *detect.Detection) []detect.EventRef {
	if d.Correlation != nil && len(d.Correlation.Events) > 0 {
		return d.Correlation.Events
	}
	r.one[0] = detect.EventRef{Time: d.Time, Source: d.Source, RecordID: d.RecordID, RuleID: d.RuleID}
	return r.one[:]
}

// fieldOf returns the first value of the named field of d, and whether the
// field is present. Computer, Channel and EventID fall back to the
// detection's own columns.
func fieldOf(d *detect.Detection, name string) (string, bool) {
	for i := range d.Fields {
		if d.Fields[i].Name == name {
			return d.Fields[i].Value, true
		}
	}
	switch name {
	case "Computer":
		return d.Computer, d.Computer != ""
	case "Channel":
		return d.Channel, d.Channel != ""
	case "EventID":
		return d.EventID, d.EventID != ""
	}
	return "", false
}

// valueOf reads the aggregated field; several fields (value_count) form
// one tuple, joined by NUL.
func valueOf(d *detect.Detection, spec string) (string, bool) {
	if !strings.Contains(spec, "\x00") {
		return fieldOf(d, spec)
	}
	var b strings.Builder
	for i, f := range strings.Split(spec, "\x00") {
		v, ok := fieldOf(d, f)
		if !ok {
			return "", false
		}
		if i > 0 {
			b.WriteByte(0)
		}
		b.WriteString(v)
	}
	return b.String(), true
}

// parseNumber reads a decimal or 0x-hexadecimal number; NaN and infinities
// are not numbers here.
func parseNumber(s string) (float64, bool) {
	s = strings.TrimSpace(s)
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, false
		}
		return f, true
	}
	if i, err := strconv.ParseInt(s, 0, 64); err == nil {
		return float64(i), true
	}
	if u, err := strconv.ParseUint(s, 0, 64); err == nil {
		return float64(u), true
	}
	return 0, false
}

type pendingDet struct {
	d   detect.Detection
	seq uint64
}

type pendingHeap []pendingDet

func (h pendingHeap) Len() int { return len(h) }
func (h pendingHeap) Less(i, j int) bool {
	if !h[i].d.Time.Equal(h[j].d.Time) {
		return h[i].d.Time.Before(h[j].d.Time)
	}
	return h[i].seq < h[j].seq
}
func (h pendingHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *pendingHeap) Push(x any)   { *h = append(*h, x.(pendingDet)) }
func (h *pendingHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	old[len(old)-1] = pendingDet{}
	*h = old[:len(old)-1]
	return x
}
