package correlate

import (
	"bufio"
	"cmp"
	"container/heap"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/vigil-defense/vigil/internal/detect"
)

// This file holds vigil's noise control for hunt and serve: de-duplication of
// repeated matches (Dedup for a batch, Deduper for a stream), the ranking of
// detections for summaries and reports (Rank, Rarity) and the counting of
// rules the user has declared noisy (SplitNoisy, LoadNoisyList).

// DefaultDedupWindow is the de-duplication window used when
// DedupOptions.Window is not set.
const DefaultDedupWindow = time.Hour

// DefaultMaxKeys is the bound on a Deduper's key table used when
// DedupOptions.MaxKeys is not set.
const DefaultMaxKeys = 100_000

// DefaultKeyFields returns the event fields whose values, together with the
// rule id and the computer, decide whether two detections are repeats of the
// same activity. The caller may change the returned slice.
//
// The set names what an action was done by and to, and leaves out what
// changes each time the same action is repeated:
//
//   - process: Image and Security 4688's name for it, NewProcessName;
//     CommandLine; ParentImage / ParentProcessName (whoami under w3wp.exe is
//     not whoami under explorer.exe); User and SubjectUserName (the same
//     command as SYSTEM and as a user are two stories); Hashes (a binary
//     replaced at the same path is new activity);
//   - files, registry, modules, pipes, process access: TargetFilename,
//     TargetObject and Details (the registry value written), ImageLoaded,
//     PipeName, SourceImage and TargetImage (Sysmon 10: who opened lsass);
//   - services and tasks: ServiceName, ImagePath (7045), ServiceFileName
//     (4697), TaskName (4698);
//   - accounts and logons: TargetUserName, IpAddress, LogonType (a failed
//     logon from another address or of another type is not a repeat);
//   - network and DNS: SourceIp, DestinationIp, DestinationPort,
//     DestinationHostname, QueryName;
//   - PowerShell: ScriptBlockText and Payload (4103), often kilobytes long,
//     which costs nothing in memory: the key is a 32-byte digest;
//   - EventID, for rules that cover several events (Sysmon 12/13/14
//     registry create, set and rename; 4624 and 4625).
//
// Left out on purpose because they differ on every repeat of one action:
// ProcessId, ProcessGuid, LogonId/SubjectLogonId/TargetLogonId, SourcePort
// (ephemeral), UtcTime and other timestamps, RecordID. A field the event
// does not carry counts as absent, which is distinct from an empty value.
// Values are compared exactly (case-sensitively): at worst a difference of
// case keeps two repeats apart, it never merges different activity.
func DefaultKeyFields() []string {
	return []string{
		"EventID",
		"Image", "NewProcessName", "CommandLine", "ParentImage", "ParentProcessName",
		"User", "SubjectUserName", "Hashes",
		"TargetFilename", "TargetObject", "Details", "ImageLoaded", "PipeName",
		"SourceImage", "TargetImage",
		"ServiceName", "ImagePath", "ServiceFileName", "TaskName",
		"TargetUserName", "IpAddress", "LogonType",
		"SourceIp", "DestinationIp", "DestinationPort", "DestinationHostname", "QueryName",
		"ScriptBlockText", "Payload",
	}
}

// DedupOptions configure Dedup and Deduper.
type DedupOptions struct {
	// Window is the longest gap between two repeats that still merges them
	// (a gap of exactly Window merges). Zero or negative: DefaultDedupWindow.
	Window time.Duration
	// KeyFields are the event fields that, with the rule id and the
	// computer, make the de-duplication key. Nil: DefaultKeyFields(); an
	// empty non-nil slice keys on rule id and computer only.
	KeyFields []string
	// MaxKeys bounds a Deduper's key table (Dedup ignores it). Zero or
	// negative: DefaultMaxKeys.
	MaxKeys int
}

func (o DedupOptions) window() time.Duration {
	if o.Window <= 0 {
		return DefaultDedupWindow
	}
	return o.Window
}

func (o DedupOptions) keyFields() []string {
	if o.KeyFields == nil {
		return DefaultKeyFields()
	}
	return o.KeyFields
}

func (o DedupOptions) maxKeys() int {
	if o.MaxKeys <= 0 {
		return DefaultMaxKeys
	}
	return o.MaxKeys
}

// dedupKey identifies the activity a detection stands for: the SHA-256
// digest of an injective encoding of the rule id, the computer and, in the
// order of the key fields, every value of each key field (a field may occur
// several times in an event). A fixed-size digest keeps the key table small
// and its bound independent of the events (a script block is kilobytes);
// being a cryptographic hash, nobody can craft an event whose key collides
// with another's to have it merged away.
type dedupKey [sha256.Size]byte

// keyer builds de-duplication keys. It is not safe for concurrent use: it
// reuses its buffers.
type keyer struct {
	// byLen[n] lists the key fields whose names are n bytes long: a field
	// name is compared only with key names of its length, which is cheaper
	// than hashing every field name of every detection.
	byLen   [][]keyName
	buf     []byte
	scratch []slotRef
}

type keyName struct {
	name string
	slot int // position in the key
}

type slotRef struct{ slot, field int }

func newKeyer(fields []string) *keyer {
	k := &keyer{}
	seen := make(map[string]bool, len(fields))
	for _, f := range fields {
		if seen[f] {
			continue
		}
		for len(k.byLen) <= len(f) {
			k.byLen = append(k.byLen, nil)
		}
		k.byLen[len(f)] = append(k.byLen[len(f)], keyName{f, len(seen)})
		seen[f] = true
	}
	return k
}

// key returns d's key.
func (k *keyer) key(d *detect.Detection) dedupKey {
	b := appendKeyValue(k.buf[:0], d.RuleID)
	b = appendKeyValue(b, d.Computer)
	refs := k.scratch[:0]
	for i := range d.Fields {
		name := d.Fields[i].Name
		if len(name) >= len(k.byLen) {
			continue
		}
		for _, kn := range k.byLen[len(name)] {
			if kn.name == name {
				refs = append(refs, slotRef{kn.slot, i})
				break
			}
		}
	}
	// Order by key field, keeping the event's order among a field's values,
	// so that the key does not depend on the order of the event's fields.
	// Insertion sort: a handful of elements, mostly in order.
	for i := 1; i < len(refs); i++ {
		for j := i; j > 0 && refs[j].slot < refs[j-1].slot; j-- {
			refs[j], refs[j-1] = refs[j-1], refs[j]
		}
	}
	for _, r := range refs {
		b = binary.AppendUvarint(b, uint64(r.slot))
		b = appendKeyValue(b, d.Fields[r.field].Value)
	}
	k.buf, k.scratch = b, refs
	return sha256.Sum256(b)
}

// appendKeyValue appends a self-delimiting encoding of v: its length, then
// its bytes.
func appendKeyValue(b []byte, v string) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

// detSpan returns the times a detection covers and the matches it stands for:
// one match at Time, or Count matches from FirstTime to LastTime when it
// already is a de-duplicated detection.
func detSpan(d *detect.Detection) (first, last time.Time, n int) {
	if d.Count > 1 {
		first, last = d.FirstTime, d.LastTime
		if first.IsZero() {
			first = d.Time
		}
		if last.IsZero() {
			last = d.Time
		}
		return first, last, d.Count
	}
	return d.Time, d.Time, 1
}

// Dedup collapses repeats of the same rule on the same computer with the
// same key-field values (see DedupOptions) into one detection. It is the
// batch form, for hunt.
//
// Detections with the same key are ordered by event time (stably: equal
// times keep their input order) and split into sessions wherever the gap
// between a detection and the latest time seen before it in its session
// exceeds the window; a gap of exactly the window does not split. A session
// may thus last longer than the window, as long as no gap does. Each session
// becomes its earliest detection, with Count, FirstTime and LastTime set when
// it stands for more than one match (Time stays that of the earliest
// detection). Detections that already carry a Count count with their Count
// and their FirstTime..LastTime span, so Dedup of Dedup's output changes
// nothing and merging the outputs of several files or workers is another
// Dedup. Detections of unknown (zero) time are a session of their own per
// key.
//
// Correlation detections (Correlation != nil) are never merged and keep their
// place. The output holds each session at the input position of its earliest
// detection: for input in time order, the output is in time order.
//
// The result is deterministic. Dedup does not modify dets, but the
// detections it returns share their slices (Fields, Tags) with dets. Memory
// grows with the number of detections, which the caller already holds: about
// 100 bytes of working state per detection and 40 per distinct key, and the
// returned slice (one Detection per session and correlation). Over 1M
// detections that is about 100 MB besides the output; a hunt that cannot hold
// its detections should use a Deduper instead.
func Dedup(dets []detect.Detection, opt DedupOptions) []detect.Detection {
	n := len(dets)
	if n == 0 {
		return nil
	}
	window := opt.window()
	k := newKeyer(opt.keyFields())

	// One pass over the detections, in order: the group of each (gid, -1 for
	// a correlation) and its span in a compact record, so that the passes
	// below, which visit detections group by group, touch small arrays
	// rather than the detections themselves.
	groups := make(map[dedupKey]int32)
	gid := make([]int32, n)
	recs := make([]dedupRec, 0, n)
	var sizes []int32
	for i := range dets {
		d := &dets[i]
		if d.Correlation != nil {
			gid[i] = -1
			continue
		}
		key := k.key(d)
		g, ok := groups[key]
		if !ok {
			g = int32(len(sizes))
			groups[key] = g
			sizes = append(sizes, 0)
		}
		gid[i] = g
		sizes[g]++
		first, last, cnt := detSpan(d)
		recs = append(recs, dedupRec{first: dedupTimeOf(first), last: dedupTimeOf(last), idx: int32(i), count: cnt})
	}
	groups = nil

	// Lay the groups out one after the other, each in input order
	// (a counting sort by group).
	start := make([]int32, len(sizes)+1)
	for g, s := range sizes {
		start[g+1] = start[g] + s
	}
	sizes = nil
	grouped := make([]dedupRec, len(recs))
	next := slices.Clone(start[:len(start)-1])
	for _, r := range recs {
		g := gid[r.idx]
		grouped[next[g]] = r
		next[g]++
	}
	recs, next = nil, nil

	// From here gid[i] says what dets[i] becomes: -1 a correlation (kept),
	// -2 merged into another detection, c >= 0 the head of session c.
	sessions := make([]dedupRec, 0, len(start)-1) // count and span of each session
	for g := 0; g+1 < len(start); g++ {
		grp := grouped[start[g]:start[g+1]]
		if !slices.IsSortedFunc(grp, dedupRec.compare) {
			slices.SortFunc(grp, dedupRec.compare) // stable: idx breaks ties
		}
		head := -1
		for _, r := range grp {
			if head >= 0 {
				s := &sessions[head]
				if !r.first.after(s.last, window) {
					s.count += r.count
					if s.last.compare(r.last) < 0 {
						s.last = r.last
					}
					gid[r.idx] = -2
					continue
				}
			}
			head = len(sessions)
			sessions = append(sessions, r)
			gid[r.idx] = int32(head)
		}
	}
	grouped = nil

	out := make([]detect.Detection, 0, len(sessions)+n-int(start[len(start)-1]))
	for i, c := range gid {
		switch {
		case c == -1:
			out = append(out, dets[i])
		case c >= 0:
			out = append(out, dets[i])
			if s := &sessions[c]; s.count > 1 {
				d := &out[len(out)-1]
				d.Count, d.FirstTime, d.LastTime = s.count, s.first.time(dets[i].Time), s.last.time(dets[i].Time)
			}
		}
	}
	return out
}

// dedupRec is a detection's span and count, compactly, for Dedup.
type dedupRec struct {
	first, last dedupTime
	idx         int32 // position in the input
	count       int
}

func (a dedupRec) compare(b dedupRec) int {
	if c := a.first.compare(b.first); c != 0 {
		return c
	}
	return cmp.Compare(a.idx, b.idx)
}

// dedupTime is an instant: a time.Time without its location, 16 bytes
// instead of 24 and no pointer, which matters over millions of detections.
type dedupTime struct {
	sec  int64 // seconds since 1970 (negative before)
	nsec int64 // 0 <= nsec < 1e9
}

func dedupTimeOf(t time.Time) dedupTime { return dedupTime{t.Unix(), int64(t.Nanosecond())} }

func (a dedupTime) compare(b dedupTime) int {
	if c := cmp.Compare(a.sec, b.sec); c != 0 {
		return c
	}
	return cmp.Compare(a.nsec, b.nsec)
}

// after reports whether a is more than w after b, without overflow whatever
// the two times.
func (a dedupTime) after(b dedupTime, w time.Duration) bool {
	ds := a.sec - b.sec // no overflow: both come from time.Time.Unix
	switch {
	case ds < 0:
		return false
	case ds > int64(w/time.Second)+1:
		return true
	}
	return ds*int64(time.Second)+a.nsec-b.nsec > int64(w)
}

// time returns the instant as a time.Time in the location of like, so that
// FirstTime and LastTime read as the detection's Time does.
func (a dedupTime) time(like time.Time) time.Time {
	return time.Unix(a.sec, a.nsec).In(like.Location())
}

// Deduper is the streaming form of Dedup, for serve. Add says whether a
// detection is new and must be passed on now; repeats are absorbed into the
// open session of their key, and Flush returns the sessions that closed with
// more than one match, as their first detection with Count, FirstTime and
// LastTime set, so that the caller can update what it stored or emit a
// summary.
//
// A session stays open while repeats keep coming no more than the window
// apart (on the detections' own clock: event time). Flush(now) closes the
// sessions whose last match is more than the window before now; now is on
// the same clock, such as the latest event time seen, or the wall clock for a
// live feed. A detection more than the window before the start of its key's
// open session (a late arrival) is passed on as new and not tracked; one
// within the window before it extends the session backwards, so FirstTime
// can be earlier than the Time of the detection that was passed on.
//
// Memory is bounded: the key table holds at most MaxKeys open sessions, each
// one detection and a 32-byte key (a SHA-256 digest of the key values, so a
// long script block costs no more than a short one). When a new key finds
// the table full, the session whose last match is oldest is closed early, as
// if its window had ended; a later repeat of it is passed on as new again. The bound
// thus costs repeated alerts, never lost ones. Closed sessions wait for the
// next Flush; between two Flush calls their number grows by at most one per
// Add, so the caller must Flush regularly (serve does on a ticker), and with
// a time after every window to close everything at shutdown.
//
// Correlation detections are always passed on and never tracked.
// A Deduper is not safe for concurrent use; to spread dedup across workers,
// route detections by rule id and computer so that each key has one owner.
type Deduper struct {
	window  time.Duration
	max     int
	k       *keyer
	open    map[dedupKey]*dedupEntry
	byLast  entryHeap
	pending []*dedupEntry
	seq     uint64
	evicted uint64
}

type dedupEntry struct {
	key         dedupKey
	det         detect.Detection
	count       int
	first, last time.Time
	seq         uint64 // order of arrival of det, to order equal times
	index       int    // position in the heap
}

// NewDeduper returns an empty Deduper.
func NewDeduper(opt DedupOptions) *Deduper {
	return &Deduper{
		window: opt.window(),
		max:    opt.maxKeys(),
		k:      newKeyer(opt.keyFields()),
		open:   make(map[dedupKey]*dedupEntry),
	}
}

// Add records d and reports whether it is to be passed on now: true for the
// first detection of a session (and for correlation detections and late
// arrivals), false for a repeat absorbed into an open session.
func (dd *Deduper) Add(d detect.Detection) (emit bool) {
	if d.Correlation != nil {
		return true
	}
	first, last, cnt := detSpan(&d)
	key := dd.k.key(&d)
	if e, ok := dd.open[key]; ok {
		switch {
		case first.Sub(e.last) > dd.window:
			// A new session of the same key: the old one is over.
			dd.closeEntry(e)
			fresh := &dedupEntry{key: e.key, index: e.index}
			dd.fill(fresh, d, first, last, cnt)
			dd.open[e.key] = fresh
			dd.byLast[fresh.index] = fresh
			heap.Fix(&dd.byLast, fresh.index)
			return true
		case e.first.Sub(last) > dd.window:
			return true // late: belongs to an earlier session, already closed
		default:
			e.count += cnt
			if first.Before(e.first) {
				e.first = first
			}
			if last.After(e.last) {
				e.last = last
				heap.Fix(&dd.byLast, e.index)
			}
			return false
		}
	}
	if len(dd.open) >= dd.max {
		e := heap.Pop(&dd.byLast).(*dedupEntry)
		delete(dd.open, e.key)
		dd.closeEntry(e)
		dd.evicted++
	}
	e := &dedupEntry{key: key}
	dd.fill(e, d, first, last, cnt)
	dd.open[e.key] = e
	heap.Push(&dd.byLast, e)
	return true
}

func (dd *Deduper) fill(e *dedupEntry, d detect.Detection, first, last time.Time, cnt int) {
	dd.seq++
	e.det, e.first, e.last, e.count, e.seq = d, first, last, cnt, dd.seq
}

// closeEntry queues e's summary for Flush if it absorbed repeats; a session
// of one match was fully told when Add passed it on.
func (dd *Deduper) closeEntry(e *dedupEntry) {
	if e.count > 1 {
		dd.pending = append(dd.pending, e)
	}
}

// Flush closes the sessions whose last match is more than the window before
// now and returns, ordered by FirstTime (then by arrival), every closed
// session that stands for more than one match: the session's first
// detection with Count, FirstTime and LastTime set.
func (dd *Deduper) Flush(now time.Time) []detect.Detection {
	for len(dd.byLast) > 0 && now.Sub(dd.byLast[0].last) > dd.window {
		e := heap.Pop(&dd.byLast).(*dedupEntry)
		delete(dd.open, e.key)
		dd.closeEntry(e)
	}
	if len(dd.pending) == 0 {
		return nil
	}
	slices.SortFunc(dd.pending, func(a, b *dedupEntry) int {
		if c := a.first.Compare(b.first); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})
	out := make([]detect.Detection, len(dd.pending))
	for i, e := range dd.pending {
		d := e.det
		d.Count, d.FirstTime, d.LastTime = e.count, e.first, e.last
		out[i] = d
	}
	clear(dd.pending)
	dd.pending = dd.pending[:0]
	return out
}

// Len returns the number of open sessions (at most MaxKeys).
func (dd *Deduper) Len() int { return len(dd.open) }

// Evicted returns how many sessions were closed early because the key table
// was full: a measure of how much the bound costs.
func (dd *Deduper) Evicted() uint64 { return dd.evicted }

// entryHeap orders open sessions by their last match, oldest first.
type entryHeap []*dedupEntry

func (h entryHeap) Len() int { return len(h) }
func (h entryHeap) Less(i, j int) bool {
	if c := h[i].last.Compare(h[j].last); c != 0 {
		return c < 0
	}
	return h[i].seq < h[j].seq
}
func (h entryHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *entryHeap) Push(x any) {
	e := x.(*dedupEntry)
	e.index = len(*h)
	*h = append(*h, e)
}
func (h *entryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	e.index = -1
	return e
}

// severityRank orders Sigma levels, most severe first; unknown levels last.
func severityRank(level string) int {
	for i, l := range [...]string{"critical", "high", "medium", "low", "informational"} {
		if strings.EqualFold(level, l) {
			return i
		}
	}
	return 5
}

// Rarity returns, per rule id, how many matches the detections stand for (a
// de-duplicated detection counts with its Count).
func Rarity(dets []detect.Detection) map[string]int {
	m := make(map[string]int)
	for i := range dets {
		_, _, n := detSpan(&dets[i])
		m[dets[i].RuleID] += n
	}
	return m
}

// Rank sorts dets in place for a summary or a report: by level (critical
// first, unknown levels last), then by rarity (rules with fewer matches in
// dets first: rarer is more interesting), then by time; detections equal in
// all three keep their order. It is not for the jsonl stream, which stays
// chronological.
func Rank(dets []detect.Detection) {
	rarity := Rarity(dets)
	type rankKey struct {
		level, rarity int
		time          time.Time
		i             int
	}
	keys := make([]rankKey, len(dets))
	for i := range dets {
		keys[i] = rankKey{severityRank(dets[i].Level), rarity[dets[i].RuleID], dets[i].Time, i}
	}
	slices.SortFunc(keys, func(a, b rankKey) int {
		if c := cmp.Compare(a.level, b.level); c != 0 {
			return c
		}
		if c := cmp.Compare(a.rarity, b.rarity); c != 0 {
			return c
		}
		if c := a.time.Compare(b.time); c != 0 {
			return c
		}
		return cmp.Compare(a.i, b.i) // stability
	})
	// Apply the permutation in place, cycle by cycle: position j receives the
	// detection that was at keys[j].i. Moving each detection once avoids
	// copying the whole slice or sorting the large structs themselves.
	done := make([]bool, len(dets))
	for j := range dets {
		if done[j] || keys[j].i == j {
			continue
		}
		tmp := dets[j]
		p := j
		for {
			done[p] = true
			src := keys[p].i
			if src == j {
				dets[p] = tmp
				break
			}
			dets[p] = dets[src]
			p = src
		}
	}
}

// NoisyCount is what remains of a noisy rule's detections: how many matches
// there were and when.
type NoisyCount struct {
	RuleID    string
	Title     string
	Level     string
	Count     int
	FirstTime time.Time // earliest and latest known event time; zero if none
	LastTime  time.Time
}

// SplitNoisy separates the detections of noisy rules, which are only counted,
// from the others. Rule ids are compared case-insensitively. Like
// slices.DeleteFunc, it filters in place: kept shares dets' backing array,
// and the elements of dets beyond len(kept) are zeroed. counts, keyed by
// rule id as the detections spell it, is never nil. A de-duplicated
// detection counts with its Count; correlation detections of a listed rule
// are counted too.
func SplitNoisy(dets []detect.Detection, noisy map[string]bool) (kept []detect.Detection, counts map[string]NoisyCount) {
	counts = make(map[string]NoisyCount)
	if len(noisy) == 0 {
		return dets, counts
	}
	lower := noisy
	for id := range noisy {
		if id != strings.ToLower(id) {
			lower = make(map[string]bool, len(noisy))
			for id, on := range noisy {
				lower[strings.ToLower(id)] = lower[strings.ToLower(id)] || on
			}
			break
		}
	}
	kept = dets[:0]
	for i := range dets {
		d := &dets[i]
		if !lower[strings.ToLower(d.RuleID)] {
			kept = append(kept, *d)
			continue
		}
		first, last, n := detSpan(d)
		c, ok := counts[d.RuleID]
		if !ok {
			c = NoisyCount{RuleID: d.RuleID, Title: d.RuleTitle, Level: d.Level}
		}
		c.Count += n
		if !first.IsZero() && (c.FirstTime.IsZero() || first.Before(c.FirstTime)) {
			c.FirstTime = first
		}
		if !last.IsZero() && last.After(c.LastTime) {
			c.LastTime = last
		}
		counts[d.RuleID] = c
	}
	clear(dets[len(kept):])
	return kept, counts
}

// LoadNoisyList reads a file of noisy rule ids: one id per line, blank lines
// ignored, '#' starting a comment (on its own line or after the id). The ids
// are returned lower-cased, the form SplitNoisy expects. Every malformed line
// is reported, each as file:line, in one joined error.
func LoadNoisyList(path string) (map[string]bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("noisy rule list: %w", err)
	}
	defer f.Close()
	return parseNoisyList(f, path)
}

// parseNoisyList parses a noisy rule list read from r; name is used in
// errors.
func parseNoisyList(r io.Reader, name string) (map[string]bool, error) {
	ids := make(map[string]bool)
	var errs []error
	bad := func(line int, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s:%d: %s", name, line, fmt.Sprintf(format, args...)))
	}
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if line == 1 {
			text = strings.TrimPrefix(text, "\uFEFF") // byte order mark
		}
		if !utf8.ValidString(text) {
			bad(line, "not valid UTF-8 text; save the list as UTF-8")
			continue
		}
		text, _, _ = strings.Cut(text, "#")
		text = strings.TrimSpace(text)
		if text == "" {
			continue
		}
		words := strings.Fields(text)
		switch {
		case strings.HasPrefix(text, "- ") || text == "-":
			bad(line, "%q looks like a YAML list item; write the bare rule id, without \"- \"", text)
		case strings.Contains(text, ","):
			bad(line, "%q holds a comma; write one rule id per line", text)
		case len(words) > 1:
			bad(line, "%q holds %d words; write one rule id per line (a rule id has no spaces: use the rule's id, not its title)", text, len(words))
		case strings.ContainsAny(text, "\"'`"):
			bad(line, "%q is quoted; write the bare rule id", text)
		case strings.ContainsFunc(text, unicode.IsControl):
			bad(line, "%q holds a control character; write a plain rule id", text)
		default:
			ids[strings.ToLower(text)] = true
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			errs = append(errs, fmt.Errorf("%s:%d: line longer than %d bytes; is this a list of rule ids?", name, line+1, bufio.MaxScanTokenSize))
		} else {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return ids, nil
}
