package correlate

import (
	"container/heap"
	"math"
	"time"

	"github.com/vigil-defense/vigil/internal/detect"
)

// State stores the open windows of a Runner, one per correlation and group.
// It is injected so that the same evaluation runs over an in-process map
// (MemoryState) or a store shared by several workers. A Runner calls it
// from one goroutine; an implementation shared by several Runners must
// serialise access to each key itself.
type State interface {
	// Window returns the window stored under key, creating an empty one
	// when there is none. The caller changes the window in place; its
	// Deadline only ever moves later.
	Window(key string) *Window
	// Delete forgets the window under key.
	Delete(key string)
	// Expire calls fn for every window whose Deadline is before now,
	// earliest deadline first, and forgets it after fn returns.
	Expire(now time.Time, fn func(key string, w *Window))
}

// Window is the state of one correlation for one group: the events of the
// current window and their aggregates. A new Window is the zero value.
type Window struct {
	// Deadline is the time after which no event joins this window: for a
	// sliding window the newest event's time plus the timespan, for an
	// anchored window its first event's time plus the timespan.
	Deadline time.Time

	corr    int       // index of the correlation in the engine
	open    bool      // the window holds at least one event
	start   time.Time // anchored windows: time of the first event
	count   int       // events counted (anchored: also those beyond the cap)
	dropped int       // events counted whose reference was not kept
	sum     float64   // value_sum, value_avg: sum of the numeric values
	nums    int       // value_avg: number of numeric values
	values  []float64 // value_percentile: the numeric values (capped)
	// entries are the kept events in time order, from head on.
	entries []entry
	head    int
	// distinct maps a value (value_count) to the time it was last seen.
	distinct map[string]int64
	// seen is, per position of the rules list, the time (unix ns) the rule
	// was last seen, or math.MinInt64 (temporal, temporal_ordered).
	seen []int64
	// chain is, per position, the best in-order chain ending with that
	// rule (temporal_ordered).
	chain    []link
	computer string // of the newest event
	// quiet is, after a sliding-window correlation fired for this group,
	// the time until which it does not fire again (the attack goes on, it
	// is the same story).
	quiet time.Time
	group []string
}

// entry is one kept event.
type entry struct {
	ref   detect.EventRef
	at    int64   // ref.Time in unix ns
	num   float64 // the numeric value, if numeric
	isNum bool
	lead  bool // carries the detection's count (the last reference of a detection)
}

// link is an in-order chain of events: rules[0..i] seen in order, the
// first at start.
type link struct {
	ok    bool
	start int64
	refs  []detect.EventRef
}

func (w *Window) live() []entry { return w.entries[w.head:] }

// reset empties the window, keeping its allocations.
func (w *Window) reset() {
	clear(w.entries)
	w.entries, w.head = w.entries[:0], 0
	w.open, w.count, w.dropped, w.sum, w.nums = false, 0, 0, 0, 0
	w.values = w.values[:0]
	clear(w.distinct)
	for i := range w.seen {
		w.seen[i] = math.MinInt64
	}
	for i := range w.chain {
		w.chain[i] = link{}
	}
	w.start = time.Time{}
}

// MemoryState is the in-process State: a map from key to window and a heap
// of deadlines. It holds at most MaxGroups windows; when a new group would
// exceed that, the window with the earliest deadline — the one closest to
// expiring on its own — is dropped first (counted in Evicted). It is not
// safe for concurrent use.
type MemoryState struct {
	max     int
	windows map[string]*slot
	heap    deadlineHeap
	seq     uint64
	free    []*slot
	// Evicted counts windows dropped to respect the group cap.
	Evicted int
}

type slot struct {
	key string
	w   Window
	at  int64  // deadline the slot is filed under in the heap
	seq uint64 // creation order, for a deterministic order among equal deadlines
	idx int    // position in the heap
}

var _ State = (*MemoryState)(nil)

// DefaultMaxGroups is the group cap of Engine.Run.
const DefaultMaxGroups = 1 << 16

// NewMemoryState returns an empty state holding at most maxGroups windows
// (DefaultMaxGroups if maxGroups <= 0).
func NewMemoryState(maxGroups int) *MemoryState {
	if maxGroups <= 0 {
		maxGroups = DefaultMaxGroups
	}
	return &MemoryState{max: maxGroups, windows: map[string]*slot{}}
}

// Len returns the number of windows held.
func (s *MemoryState) Len() int { return len(s.windows) }

// Window implements State.
func (s *MemoryState) Window(key string) *Window {
	if sl, ok := s.windows[key]; ok {
		return &sl.w
	}
	for len(s.windows) >= s.max && s.heap.Len() > 0 {
		sl := s.popEarliest()
		delete(s.windows, sl.key)
		s.Evicted++
		s.recycle(sl)
	}
	s.seq++
	var sl *slot
	if n := len(s.free); n > 0 {
		sl, s.free = s.free[n-1], s.free[:n-1]
	} else {
		sl = &slot{}
	}
	sl.key, sl.at, sl.seq = key, math.MinInt64, s.seq
	s.windows[key] = sl
	heap.Push(&s.heap, sl)
	return &sl.w
}

// Delete implements State.
func (s *MemoryState) Delete(key string) {
	sl, ok := s.windows[key]
	if !ok {
		return
	}
	delete(s.windows, key)
	heap.Remove(&s.heap, sl.idx)
	s.recycle(sl)
}

// recycle keeps a forgotten slot, emptied, for a later window: windows
// come and go at the rate of events.
func (s *MemoryState) recycle(sl *slot) {
	if len(s.free) >= 1024 {
		return
	}
	w := &sl.w
	w.reset()
	*w = Window{entries: w.entries, values: w.values, distinct: w.distinct, seen: w.seen[:0], chain: w.chain[:0], group: w.group[:0]}
	sl.key = ""
	s.free = append(s.free, sl)
}

// Expire implements State.
func (s *MemoryState) Expire(now time.Time, fn func(key string, w *Window)) {
	limit := unixNano(now)
	for s.heap.Len() > 0 {
		sl := s.heap[0].sl
		if sl.at >= limit {
			// Filed under a deadline not yet passed; the real deadline is
			// never earlier than the filed one.
			return
		}
		if d := deadlineOf(&sl.w); d > sl.at {
			s.heap.refile(d)
			continue
		}
		heap.Pop(&s.heap)
		delete(s.windows, sl.key)
		fn(sl.key, &sl.w)
		s.recycle(sl)
	}
}

// popEarliest removes and returns the slot with the earliest real deadline.
func (s *MemoryState) popEarliest() *slot {
	for {
		sl := s.heap[0].sl
		if d := deadlineOf(&sl.w); d > sl.at {
			s.heap.refile(d)
			continue
		}
		heap.Pop(&s.heap)
		return sl
	}
}

func deadlineOf(w *Window) int64 {
	if w.Deadline.IsZero() {
		return math.MinInt64
	}
	return unixNano(w.Deadline)
}

// unixNano is t in unix nanoseconds, saturating outside the int64 range
// (years 1678–2262), so that the zero time sorts first.
func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return math.MinInt64
	}
	if t.Year() < 1678 {
		return math.MinInt64 + 1
	}
	if t.Year() > 2261 {
		return math.MaxInt64
	}
	return t.UnixNano()
}

// filed is a heap entry: the ordering keys are kept inline so that
// comparisons do not chase the slot pointer.
type filed struct {
	at  int64
	seq uint64
	sl  *slot
}

type deadlineHeap []filed

func (h deadlineHeap) Len() int { return len(h) }
func (h deadlineHeap) Less(i, j int) bool {
	if h[i].at != h[j].at {
		return h[i].at < h[j].at
	}
	return h[i].seq < h[j].seq
}
func (h deadlineHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].sl.idx, h[j].sl.idx = i, j
}
func (h *deadlineHeap) Push(x any) {
	sl := x.(*slot)
	sl.idx = len(*h)
	*h = append(*h, filed{at: sl.at, seq: sl.seq, sl: sl})
}
func (h *deadlineHeap) Pop() any {
	old := *h
	f := old[len(old)-1]
	old[len(old)-1] = filed{}
	*h = old[:len(old)-1]
	return f.sl
}

// refile moves the heap top to the deadline d.
func (h *deadlineHeap) refile(d int64) {
	(*h)[0].at, (*h)[0].sl.at = d, d
	heap.Fix(h, 0)
}
