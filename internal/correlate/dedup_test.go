package correlate

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-defense/vigil/internal/detect"
	"github.com/vigil-defense/vigil/internal/event"
)

// The helpers of this file are prefixed (ddet, dd…) so as not to collide
// with the other tests of the package.

var ddT0 = time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)

// ddAt is ddT0 plus m minutes.
func ddAt(m float64) time.Time { return ddT0.Add(time.Duration(m * float64(time.Minute))) }

// ddet builds a detection identified by its RecordID: rule R1 on host WS1,
// Image cmd.exe, CommandLine "cmd /c whoami", a ProcessId that differs per
// detection, unless the options change it.
func ddet(id uint64, t time.Time, opts ...func(*detect.Detection)) detect.Detection {
	d := detect.Detection{
		Time: t, RuleID: "R1", RuleTitle: "rule one", Level: "high", Computer: "WS1", RecordID: id,
		Fields: []event.Field{
			{Name: "EventID", Value: "1"},
			{Name: "Image", Value: `C:\Windows\System32\cmd.exe`},
			{Name: "CommandLine", Value: "cmd /c whoami"},
			{Name: "ProcessId", Value: fmt.Sprint(1000 + id)},
		},
	}
	for _, o := range opts {
		o(&d)
	}
	return d
}

func ddRule(id string) func(*detect.Detection) { return func(d *detect.Detection) { d.RuleID = id } }
func ddHost(h string) func(*detect.Detection)  { return func(d *detect.Detection) { d.Computer = h } }
func ddLevel(l string) func(*detect.Detection) { return func(d *detect.Detection) { d.Level = l } }

// ddFields replaces the event's fields by the name, value pairs kv.
func ddFields(kv ...string) func(*detect.Detection) {
	return func(d *detect.Detection) {
		d.Fields = nil
		for i := 0; i+1 < len(kv); i += 2 {
			d.Fields = append(d.Fields, event.Field{Name: kv[i], Value: kv[i+1]})
		}
	}
}

// ddField sets (or adds) one field.
func ddField(name, value string) func(*detect.Detection) {
	return func(d *detect.Detection) {
		d.Fields = slices.Clone(d.Fields)
		for i := range d.Fields {
			if d.Fields[i].Name == name {
				d.Fields[i].Value = value
				return
			}
		}
		d.Fields = append(d.Fields, event.Field{Name: name, Value: value})
	}
}

// ddMerged makes the detection one that already stands for n matches.
func ddMerged(n int, first, last time.Time) func(*detect.Detection) {
	return func(d *detect.Detection) { d.Count, d.FirstTime, d.LastTime = n, first, last }
}

func ddCorrelation() func(*detect.Detection) {
	return func(d *detect.Detection) {
		d.Correlation = &detect.CorrelationInfo{Type: "event_count", Group: map[string]string{"Computer": d.Computer}}
	}
}

// ddOut is one expected output detection: its id and, for a merged one, its
// count and span (count 0: left as it was).
type ddOut struct {
	id          uint64
	count       int
	first, last time.Time
}

func ddOne(id uint64) ddOut { return ddOut{id: id} }

func ddSummary(ds []detect.Detection) []ddOut {
	var w []ddOut
	for _, d := range ds {
		w = append(w, ddOut{d.RecordID, d.Count, d.FirstTime, d.LastTime})
	}
	return w
}

func TestDedup(t *testing.T) {
	long := strings.Repeat("$x = 'payload'; ", 100)
	ms := func(n int) time.Time { return ddT0.Add(time.Duration(n) * time.Millisecond) }
	tests := []struct {
		name string
		opt  DedupOptions
		in   []detect.Detection
		want []ddOut
	}{
		{"empty", DedupOptions{}, nil, nil},
		{"single detection unchanged", DedupOptions{},
			[]detect.Detection{ddet(1, ddAt(0))}, []ddOut{ddOne(1)}},
		{"repeats inside the window", DedupOptions{},
			[]detect.Detection{ddet(1, ddAt(0)), ddet(2, ddAt(30)), ddet(3, ddAt(59))},
			[]ddOut{{1, 3, ddAt(0), ddAt(59)}}},
		{"repeat outside the window", DedupOptions{},
			[]detect.Detection{ddet(1, ddAt(0)), ddet(2, ddAt(61))},
			[]ddOut{ddOne(1), ddOne(2)}},
		{"gap of exactly the window merges", DedupOptions{},
			[]detect.Detection{ddet(1, ddAt(0)), ddet(2, ddAt(60))},
			[]ddOut{{1, 2, ddAt(0), ddAt(60)}}},
		{"gap one nanosecond over the window splits", DedupOptions{},
			[]detect.Detection{ddet(1, ddAt(0)), ddet(2, ddAt(60).Add(time.Nanosecond))},
			[]ddOut{ddOne(1), ddOne(2)}},
		{"a session chains gaps within the window past the window's length", DedupOptions{},
			[]detect.Detection{ddet(1, ddAt(0)), ddet(2, ddAt(50)), ddet(3, ddAt(100)), ddet(4, ddAt(150))},
			[]ddOut{{1, 4, ddAt(0), ddAt(150)}}},
		{"a session splits at the first long gap", DedupOptions{},
			// gaps 50, 61, 10: sessions {1,2} and {3,4}
			[]detect.Detection{ddet(1, ddAt(0)), ddet(2, ddAt(50)), ddet(3, ddAt(111)), ddet(4, ddAt(121))},
			[]ddOut{{1, 2, ddAt(0), ddAt(50)}, {3, 2, ddAt(111), ddAt(121)}}},
		{"custom window", DedupOptions{Window: 5 * time.Minute},
			[]detect.Detection{ddet(1, ddAt(0)), ddet(2, ddAt(5)), ddet(3, ddAt(11))},
			[]ddOut{{1, 2, ddAt(0), ddAt(5)}, ddOne(3)}},
		{"sub-second window, nanoseconds", DedupOptions{Window: 500 * time.Millisecond},
			// gaps 500ms (merges) and 500ms + 1ns (splits)
			[]detect.Detection{ddet(1, ms(900)), ddet(2, ms(1400)), ddet(3, ms(1900).Add(time.Nanosecond))},
			[]ddOut{{1, 2, ms(900), ms(1400)}, ddOne(3)}},
		{"centuries apart", DedupOptions{Window: 1000 * time.Hour},
			[]detect.Detection{ddet(1, ddAt(0)), ddet(2, ddAt(0).AddDate(300, 0, 0))},
			[]ddOut{ddOne(1), ddOne(2)}},
		{"different hosts not merged", DedupOptions{},
			[]detect.Detection{ddet(1, ddAt(0)), ddet(2, ddAt(1), ddHost("WS2")), ddet(3, ddAt(2))},
			[]ddOut{{1, 2, ddAt(0), ddAt(2)}, ddOne(2)}},
		{"different rules not merged", DedupOptions{},
			[]detect.Detection{ddet(1, ddAt(0)), ddet(2, ddAt(1), ddRule("R2"))},
			[]ddOut{ddOne(1), ddOne(2)}},
		{"different key field not merged", DedupOptions{},
			[]detect.Detection{ddet(1, ddAt(0)), ddet(2, ddAt(1), ddField("CommandLine", "cmd /c net user"))},
			[]ddOut{ddOne(1), ddOne(2)}},
		{"Security 4688's process name is a key field", DedupOptions{},
			[]detect.Detection{
				ddet(1, ddAt(0), ddFields("EventID", "4688", "NewProcessName", `C:\a.exe`)),
				ddet(2, ddAt(1), ddFields("EventID", "4688", "NewProcessName", `C:\b.exe`)),
				ddet(3, ddAt(2), ddFields("EventID", "4688", "NewProcessName", `C:\a.exe`)),
			},
			[]ddOut{{1, 2, ddAt(0), ddAt(2)}, ddOne(2)}},
		{"non-key fields ignored", DedupOptions{},
			// ProcessId differs on every detection (ddet sets it from the id)
			[]detect.Detection{ddet(1, ddAt(0)), ddet(2, ddAt(1)), ddet(3, ddAt(2), ddField("ProcessGuid", "{x}"))},
			[]ddOut{{1, 3, ddAt(0), ddAt(2)}}},
		{"an absent field differs from an empty one", DedupOptions{},
			[]detect.Detection{
				ddet(1, ddAt(0), ddFields("Image", "a", "CommandLine", "")),
				ddet(2, ddAt(1), ddFields("Image", "a")),
			},
			[]ddOut{ddOne(1), ddOne(2)}},
		{"the order of the fields does not matter", DedupOptions{},
			[]detect.Detection{
				ddet(1, ddAt(0), ddFields("Image", "a", "CommandLine", "b")),
				ddet(2, ddAt(1), ddFields("CommandLine", "b", "Image", "a")),
			},
			[]ddOut{{1, 2, ddAt(0), ddAt(1)}}},
		{"value boundaries are part of the key", DedupOptions{KeyFields: []string{"A", "B"}},
			[]detect.Detection{
				ddet(1, ddAt(0), ddFields("A", "ab", "B", "c")),
				ddet(2, ddAt(1), ddFields("A", "a", "B", "bc")),
			},
			[]ddOut{ddOne(1), ddOne(2)}},
		{"a value holding the encoding of another field", DedupOptions{KeyFields: []string{"A", "B"}},
			// without lengths in the key, both would read 0 "a" 1 "b"
			[]detect.Detection{
				ddet(1, ddAt(0), ddFields("A", "a\x01b")),
				ddet(2, ddAt(1), ddFields("A", "a", "B", "b")),
			},
			[]ddOut{ddOne(1), ddOne(2)}},
		{"every value of a repeated field counts", DedupOptions{KeyFields: []string{"Data"}},
			[]detect.Detection{
				ddet(1, ddAt(0), ddFields("Data", "a", "Data", "b")),
				ddet(2, ddAt(1), ddFields("Data", "a", "Data", "c")),
				ddet(3, ddAt(2), ddFields("Data", "a", "Data", "b")),
			},
			[]ddOut{{1, 2, ddAt(0), ddAt(2)}, ddOne(2)}},
		{"long script blocks", DedupOptions{},
			[]detect.Detection{
				ddet(1, ddAt(0), ddFields("ScriptBlockText", long)),
				ddet(2, ddAt(1), ddFields("ScriptBlockText", long+"!")),
				ddet(3, ddAt(2), ddFields("ScriptBlockText", long)),
			},
			[]ddOut{{1, 2, ddAt(0), ddAt(2)}, ddOne(2)}},
		{"no key fields: rule and computer only", DedupOptions{KeyFields: []string{}},
			[]detect.Detection{ddet(1, ddAt(0)), ddet(2, ddAt(1), ddField("CommandLine", "other")), ddet(3, ddAt(2), ddHost("WS2"))},
			[]ddOut{{1, 2, ddAt(0), ddAt(1)}, ddOne(3)}},
		{"out of order: the head is the earliest, at its input position", DedupOptions{},
			[]detect.Detection{ddet(1, ddAt(30)), ddet(2, ddAt(0)), ddet(3, ddAt(10))},
			[]ddOut{{2, 3, ddAt(0), ddAt(30)}}},
		{"out of order, interleaved keys", DedupOptions{},
			// R1: 3@0, 5@45, 1@90: one session headed by 3 (input position 2);
			// R2: 2@5, 4@200: two sessions (input positions 1 and 3).
			[]detect.Detection{ddet(1, ddAt(90)), ddet(2, ddAt(5), ddRule("R2")), ddet(3, ddAt(0)), ddet(4, ddAt(200), ddRule("R2")), ddet(5, ddAt(45))},
			[]ddOut{ddOne(2), {3, 3, ddAt(0), ddAt(90)}, ddOne(4)}},
		{"equal times keep the input order", DedupOptions{},
			[]detect.Detection{ddet(2, ddAt(0)), ddet(1, ddAt(0))},
			[]ddOut{{2, 2, ddAt(0), ddAt(0)}}},
		{"equal times keep the input order after sorting", DedupOptions{}, ddEqualTimes(),
			[]ddOut{{2, 20, ddAt(0), ddAt(10)}}},
		{"correlation detections untouched", DedupOptions{},
			[]detect.Detection{ddet(1, ddAt(0), ddCorrelation()), ddet(2, ddAt(0), ddCorrelation()), ddet(3, ddAt(0)), ddet(4, ddAt(10), ddCorrelation()), ddet(5, ddAt(20))},
			[]ddOut{ddOne(1), ddOne(2), {3, 2, ddAt(0), ddAt(20)}, ddOne(4)}},
		{"merged detections count with their count and span", DedupOptions{},
			// 1 covers 0..20 (3 matches); 2 at 70 is 50 after its end
			[]detect.Detection{ddet(1, ddAt(0), ddMerged(3, ddAt(0), ddAt(20))), ddet(2, ddAt(70))},
			[]ddOut{{1, 4, ddAt(0), ddAt(70)}}},
		{"a merged detection bridges two sessions", DedupOptions{},
			// 1@0 and 3@150 are 150 apart, but 2 covers 50..100
			[]detect.Detection{ddet(1, ddAt(0)), ddet(3, ddAt(150)), ddet(2, ddAt(50), ddMerged(2, ddAt(50), ddAt(100)))},
			[]ddOut{{1, 4, ddAt(0), ddAt(150)}}},
		{"overlapping merged detections", DedupOptions{},
			// 2 lies inside 1's span: a negative gap
			[]detect.Detection{ddet(1, ddAt(0), ddMerged(2, ddAt(0), ddAt(100))), ddet(2, ddAt(50))},
			[]ddOut{{1, 3, ddAt(0), ddAt(100)}}},
		{"unknown times are a session of their own", DedupOptions{},
			[]detect.Detection{ddet(1, time.Time{}), ddet(2, ddAt(0)), ddet(3, time.Time{})},
			[]ddOut{{1, 2, time.Time{}, time.Time{}}, ddOne(2)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := slices.Clone(tc.in)
			got := Dedup(in, tc.opt)
			if g := ddSummary(got); !slices.Equal(g, tc.want) {
				t.Errorf("got  %v\nwant %v", g, tc.want)
			}
			for i := range in { // input untouched
				if in[i].RecordID != tc.in[i].RecordID || in[i].Count != tc.in[i].Count {
					t.Fatalf("input changed at %d", i)
				}
			}
			for _, d := range got {
				if d.Correlation != nil && d.Count != 0 {
					t.Errorf("correlation detection %d given a count", d.RecordID)
				}
			}
			again := Dedup(got, tc.opt)
			if g, w := ddSummary(again), ddSummary(got); !slices.Equal(g, w) {
				t.Errorf("not idempotent:\n once  %v\n twice %v", w, g)
			}
		})
	}
}

// ddEqualTimes returns detection 1 at 10 minutes, then 2..20 all at 0: the
// head must be 2, the first of the earliest in input order, which an
// unstable sort of that many would not ensure.
func ddEqualTimes() []detect.Detection {
	ds := []detect.Detection{ddet(1, ddAt(10))}
	for id := uint64(2); id <= 20; id++ {
		ds = append(ds, ddet(id, ddAt(0)))
	}
	return ds
}

func TestDedupKeepsTheHeadsData(t *testing.T) {
	in := []detect.Detection{ddet(1, ddAt(5)), ddet(2, ddAt(0), ddField("ProcessId", "42")), ddet(3, ddAt(9))}
	got := Dedup(in, DedupOptions{})
	if len(got) != 1 {
		t.Fatalf("got %d detections, want 1", len(got))
	}
	d := got[0]
	if d.RecordID != 2 || !d.Time.Equal(ddAt(0)) || d.Field("ProcessId") != "42" || d.RuleTitle != "rule one" {
		t.Errorf("head is %+v, want detection 2 as it was", d)
	}
	if d.Count != 3 || !d.FirstTime.Equal(ddAt(0)) || !d.LastTime.Equal(ddAt(9)) {
		t.Errorf("count %d from %v to %v, want 3 from %v to %v", d.Count, d.FirstTime, d.LastTime, ddAt(0), ddAt(9))
	}
}

// TestDedupRandom checks invariants over random input: no match is lost,
// Dedup is idempotent and indifferent to input order, and over input in time
// order the streaming Deduper finds the same sessions as Dedup.
func TestDedupRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 50 {
		n := 1 + r.IntN(300)
		var in []detect.Detection
		tm := 0.0
		for i := range n {
			tm += r.ExpFloat64() * 20
			d := ddet(uint64(i+1), ddAt(tm), ddRule(fmt.Sprint("R", r.IntN(3))), ddHost(fmt.Sprint("H", r.IntN(2))),
				ddField("CommandLine", fmt.Sprint("c", r.IntN(2))))
			if r.IntN(20) == 0 {
				ddCorrelation()(&d)
			}
			in = append(in, d)
		}
		opt := DedupOptions{Window: time.Duration(1+r.IntN(60)) * time.Minute}

		batch := Dedup(in, opt)
		total := 0
		for _, d := range batch {
			total += max(d.Count, 1)
		}
		if total != n {
			t.Fatalf("round %d: %d matches in, %d out", round, n, total)
		}
		if g, w := ddSummary(Dedup(batch, opt)), ddSummary(batch); !slices.Equal(g, w) {
			t.Fatalf("round %d: not idempotent", round)
		}
		// Shuffled input gives the same sessions (the times are distinct),
		// in another order.
		sh := slices.Clone(in)
		r.Shuffle(len(sh), func(i, j int) { sh[i], sh[j] = sh[j], sh[i] })
		byID := func(a, b ddOut) int { return int(a.id) - int(b.id) }
		g, w := ddSummary(Dedup(sh, opt)), ddSummary(batch)
		slices.SortFunc(g, byID)
		slices.SortFunc(w, byID)
		if !slices.Equal(g, w) {
			t.Fatalf("round %d: shuffled input gave other sessions:\n%v\n%v", round, g, w)
		}

		s := NewDeduper(opt)
		var stream []detect.Detection
		for _, d := range in {
			if s.Add(d) {
				stream = append(stream, d)
			}
		}
		sums := map[uint64]detect.Detection{}
		for _, d := range s.Flush(ddAt(tm + 1e6)) {
			sums[d.RecordID] = d
		}
		if s.Len() != 0 {
			t.Fatalf("round %d: %d sessions open after the final flush", round, s.Len())
		}
		for i, d := range stream {
			if m, ok := sums[d.RecordID]; ok {
				stream[i] = m
			}
		}
		if g, w := ddSummary(stream), ddSummary(batch); !slices.Equal(g, w) {
			t.Fatalf("round %d: stream and batch differ:\nstream %v\nbatch  %v", round, g, w)
		}
	}
}

func TestDeduper(t *testing.T) {
	// A step either adds a detection (d set) and expects emit, or flushes at
	// now and expects the summaries; then it checks Len and Evicted.
	type step struct {
		d       *detect.Detection
		emit    bool
		now     time.Time
		flushed []ddOut
		open    int
		evicted uint64
	}
	add := func(d detect.Detection, emit bool, open int, evicted uint64) step {
		return step{d: &d, emit: emit, open: open, evicted: evicted}
	}
	flush := func(now time.Time, open int, evicted uint64, w ...ddOut) step {
		return step{now: now, flushed: w, open: open, evicted: evicted}
	}
	a, b, c := ddRule("A"), ddRule("B"), ddRule("C")
	tests := []struct {
		name  string
		opt   DedupOptions
		steps []step
	}{
		{"repeats absorbed, the session closes after the window", DedupOptions{}, []step{
			add(ddet(1, ddAt(0)), true, 1, 0),
			add(ddet(2, ddAt(30)), false, 1, 0),
			add(ddet(3, ddAt(90)), false, 1, 0), // gap of exactly the window
			flush(ddAt(150), 1, 0),              // the window after the last match: still open
			flush(ddAt(150).Add(time.Nanosecond), 0, 0, ddOut{1, 3, ddAt(0), ddAt(90)}),
			add(ddet(4, ddAt(200)), true, 1, 0),
			flush(ddAt(300), 0, 0), // a session of one is not told twice
		}},
		{"a repeat after the window starts a new session", DedupOptions{}, []step{
			add(ddet(1, ddAt(0)), true, 1, 0),
			add(ddet(2, ddAt(10)), false, 1, 0),
			add(ddet(3, ddAt(100)), true, 1, 0),
			flush(ddAt(100), 1, 0, ddOut{1, 2, ddAt(0), ddAt(10)}),
			add(ddet(4, ddAt(101)), false, 1, 0),
			flush(ddAt(1000), 0, 0, ddOut{3, 2, ddAt(100), ddAt(101)}),
		}},
		{"late arrivals", DedupOptions{}, []step{
			add(ddet(1, ddAt(100)), true, 1, 0),
			add(ddet(2, ddAt(50)), false, 1, 0), // 50 before the start: extends it back
			add(ddet(3, ddAt(-20)), true, 1, 0), // 70 before the new start: passed on
			flush(ddAt(1000), 0, 0, ddOut{1, 2, ddAt(50), ddAt(100)}),
		}},
		{"different keys are separate sessions", DedupOptions{}, []step{
			add(ddet(1, ddAt(0)), true, 1, 0),
			add(ddet(2, ddAt(1), ddHost("WS2")), true, 2, 0),
			add(ddet(3, ddAt(2), ddField("CommandLine", "x")), true, 3, 0),
			add(ddet(4, ddAt(3), ddHost("WS2")), false, 3, 0),
			flush(ddAt(1000), 0, 0, ddOut{2, 2, ddAt(1), ddAt(3)}),
		}},
		{"correlation detections pass untracked", DedupOptions{}, []step{
			add(ddet(1, ddAt(0), ddCorrelation()), true, 0, 0),
			add(ddet(2, ddAt(0), ddCorrelation()), true, 0, 0),
			flush(ddAt(1000), 0, 0),
		}},
		{"at the bound the oldest session is closed", DedupOptions{MaxKeys: 2}, []step{
			add(ddet(1, ddAt(0), a), true, 1, 0),
			add(ddet(2, ddAt(1), b), true, 2, 0),
			add(ddet(3, ddAt(2), a), false, 2, 0), // A's last match is now 2
			add(ddet(4, ddAt(3), c), true, 2, 1),  // full: B (last 1) closed early
			add(ddet(5, ddAt(4), b), true, 2, 2),  // B is new again; A (last 2) closed
			add(ddet(6, ddAt(5), a), true, 2, 3),  // A is new again; C (last 3) closed
			flush(ddAt(5), 2, 3, ddOut{1, 2, ddAt(0), ddAt(2)}),
			flush(ddAt(1000), 0, 3),
		}},
		{"flush orders by first time", DedupOptions{}, []step{
			add(ddet(1, ddAt(10), a), true, 1, 0),
			add(ddet(2, ddAt(0), b), true, 2, 0),
			add(ddet(3, ddAt(11), a), false, 2, 0),
			add(ddet(4, ddAt(20), b), false, 2, 0),
			flush(ddAt(1000), 0, 0, ddOut{2, 2, ddAt(0), ddAt(20)}, ddOut{1, 2, ddAt(10), ddAt(11)}),
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := NewDeduper(tc.opt)
			for i, st := range tc.steps {
				if st.d != nil {
					if got := s.Add(*st.d); got != st.emit {
						t.Fatalf("step %d: Add(%d) = %v, want %v", i, st.d.RecordID, got, st.emit)
					}
				} else if got := ddSummary(s.Flush(st.now)); !slices.Equal(got, st.flushed) {
					t.Fatalf("step %d: Flush = %v, want %v", i, got, st.flushed)
				}
				if s.Len() != st.open || s.Evicted() != st.evicted {
					t.Fatalf("step %d: Len %d Evicted %d, want %d %d", i, s.Len(), s.Evicted(), st.open, st.evicted)
				}
			}
		})
	}
}

func TestDeduperBound(t *testing.T) {
	const bound, n = 100, 10_000
	s := NewDeduper(DedupOptions{MaxKeys: bound})
	for i := range n {
		// each key repeated once at once, then never again
		d := ddet(uint64(i), ddAt(float64(i)/100), ddHost(fmt.Sprint("H", i)))
		if !s.Add(d) {
			t.Fatalf("first detection of key %d absorbed", i)
		}
		if s.Add(d) {
			t.Fatalf("repeat of key %d passed on", i)
		}
		if s.Len() > bound {
			t.Fatalf("the key table holds %d sessions, the bound is %d", s.Len(), bound)
		}
	}
	if s.Evicted() != n-bound {
		t.Errorf("evicted %d, want %d", s.Evicted(), n-bound)
	}
	// Sessions closed early are reported, not lost: one summary per key.
	if got := len(s.Flush(ddAt(1e6))); got != n {
		t.Errorf("flushed %d summaries, want %d", got, n)
	}
}

func TestRank(t *testing.T) {
	mk := func(id uint64, r, lvl string, m float64, opts ...func(*detect.Detection)) detect.Detection {
		return ddet(id, ddAt(m), append([]func(*detect.Detection){ddRule(r), ddLevel(lvl)}, opts...)...)
	}
	// Matches per rule: r1 2, r2 1, r3 3, r4 1, r5 1, r6 1, r7 5 (one
	// detection standing for 5), r8 3.
	in := []detect.Detection{
		mk(1, "r1", "high", 5),
		mk(2, "r5", "", 0),
		mk(3, "r3", "critical", 7),
		mk(4, "r2", "high", 9),
		mk(5, "r6", "informational", 0),
		mk(6, "r3", "Critical", 3),
		mk(7, "r7", "medium", 2, ddMerged(5, ddAt(2), ddAt(40))),
		mk(8, "r4", "low", 0),
		mk(9, "r8", "medium", 4),
		mk(10, "r1", "high", 1),
		mk(11, "r3", "critical", 8),
		mk(12, "r8", "medium", 1),
		mk(13, "r8", "medium", 1), // equal to 12 in every key: stays after it
	}
	wantRarity := map[string]int{"r1": 2, "r2": 1, "r3": 3, "r4": 1, "r5": 1, "r6": 1, "r7": 5, "r8": 3}
	got := Rarity(in)
	if len(got) != len(wantRarity) {
		t.Errorf("Rarity = %v, want %v", got, wantRarity)
	}
	for k, v := range wantRarity {
		if got[k] != v {
			t.Errorf("Rarity[%s] = %d, want %d", k, got[k], v)
		}
	}
	// critical: r3 by time; high: r2 (1 match) before r1 (2); medium: r8 (3)
	// before r7 (5); then low, informational, no level.
	want := []uint64{6, 3, 11, 4, 10, 1, 12, 13, 9, 7, 8, 5, 2}
	Rank(in)
	var ids []uint64
	for _, d := range in {
		ids = append(ids, d.RecordID)
	}
	if !slices.Equal(ids, want) {
		t.Errorf("Rank order %v, want %v", ids, want)
	}
	for _, d := range in { // the detections moved whole
		if d.Field("ProcessId") != fmt.Sprint(1000+d.RecordID) {
			t.Errorf("detection %d carries another's fields", d.RecordID)
		}
	}
	Rank(nil)

	// Stable over more detections than an insertion sort handles: 30 equal
	// ones keep their order behind a more severe one.
	eq := []detect.Detection{}
	for id := uint64(1); id <= 30; id++ {
		eq = append(eq, mk(id, "same", "low", 0))
	}
	eq = append(eq, mk(31, "other", "high", 0))
	Rank(eq)
	ids = ids[:0]
	for _, d := range eq {
		ids = append(ids, d.RecordID)
	}
	want = []uint64{31}
	for id := uint64(1); id <= 30; id++ {
		want = append(want, id)
	}
	if !slices.Equal(ids, want) {
		t.Errorf("Rank of equal detections %v, want %v", ids, want)
	}
}

func TestSplitNoisy(t *testing.T) {
	in := []detect.Detection{
		ddet(1, ddAt(0), ddRule("keep")),
		ddet(2, ddAt(5), ddRule("AAA"), ddLevel("low")),
		ddet(3, ddAt(1), ddRule("keep2")),
		ddet(4, ddAt(2), ddRule("AAA"), ddMerged(3, ddAt(1), ddAt(9))),
		ddet(5, time.Time{}, ddRule("bbb")),
		ddet(6, ddAt(3), ddRule("keep")),
	}
	in[1].RuleTitle = "noisy one"
	kept, counts := SplitNoisy(in, map[string]bool{"aaa": true, "BBB": true, "off": false})
	var ids []uint64
	for _, d := range kept {
		ids = append(ids, d.RecordID)
	}
	if !slices.Equal(ids, []uint64{1, 3, 6}) {
		t.Errorf("kept %v, want [1 3 6]", ids)
	}
	want := map[string]NoisyCount{
		"AAA": {RuleID: "AAA", Title: "noisy one", Level: "low", Count: 4, FirstTime: ddAt(1), LastTime: ddAt(9)},
		"bbb": {RuleID: "bbb", Title: "rule one", Level: "high", Count: 1},
	}
	if len(counts) != len(want) {
		t.Errorf("counts %v, want %v", counts, want)
	}
	for k, w := range want {
		if g := counts[k]; g != w {
			t.Errorf("counts[%s] = %+v, want %+v", k, g, w)
		}
	}
	if in[3].RuleID != "" || in[5].RuleID != "" {
		t.Errorf("the elements beyond kept were not cleared")
	}

	all := []detect.Detection{ddet(1, ddAt(0))}
	kept, counts = SplitNoisy(all, nil)
	if len(kept) != 1 || counts == nil || len(counts) != 0 {
		t.Errorf("no noisy list: kept %d, counts %v", len(kept), counts)
	}
}

func TestParseNoisyList(t *testing.T) {
	const oneID = "write one rule id per line"
	tests := []struct {
		name, in string
		want     []string // ids, sorted
		err      string
	}{
		{"ids, comments, blank lines", "# noisy rules\n\n5F1C-AA  # chatty\n  b2 \r\n#c\n", []string{"5f1c-aa", "b2"}, ""},
		{"byte order mark and duplicates", "\uFEFFa\na\n", []string{"a"}, ""},
		{"empty", "", nil, ""},
		{"two ids on a line", "a\nb c\n", nil,
			`list.txt:2: "b c" holds 2 words; ` + oneID + ` (a rule id has no spaces: use the rule's id, not its title)`},
		{"comma", "a,b\n", nil, `list.txt:1: "a,b" holds a comma; ` + oneID},
		{"yaml list", "- a\n", nil, `list.txt:1: "- a" looks like a YAML list item; write the bare rule id, without "- "`},
		{"quoted", "'a'\n", nil, `list.txt:1: "'a'" is quoted; write the bare rule id`},
		{"control character", "a\x01b\n", nil, `list.txt:1: "a\x01b" holds a control character; write a plain rule id`},
		{"not utf-8", "ok\n\xff\xfe\n", nil, "list.txt:2: not valid UTF-8 text; save the list as UTF-8"},
		{"every error at once", "x y\nok\n- z\n", nil,
			`list.txt:1: "x y" holds 2 words; ` + oneID + " (a rule id has no spaces: use the rule's id, not its title)\n" +
				`list.txt:3: "- z" looks like a YAML list item; write the bare rule id, without "- "`},
		{"line too long", "a\n" + strings.Repeat("x", 70_000) + "\n", nil,
			"list.txt:2: line longer than 65536 bytes; is this a list of rule ids?"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ids, err := parseNoisyList(strings.NewReader(tc.in), "list.txt")
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("error %v\nwant      %s", err, tc.err)
				}
				if ids != nil {
					t.Errorf("ids %v returned with an error", ids)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for id := range ids {
				got = append(got, id)
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("ids %v, want %v", got, tc.want)
			}
		})
	}
}

func TestLoadNoisyList(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "noisy.txt")
	if err := os.WriteFile(path, []byte("a\nb c\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := LoadNoisyList(path)
	if want := path + `:2: "b c" holds 2 words`; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %v, want it to start with %s", err, want)
	}
	_, err = LoadNoisyList(filepath.Join(dir, "missing.txt"))
	if err == nil || !errors.Is(err, fs.ErrNotExist) || !strings.HasPrefix(err.Error(), "noisy rule list: open ") {
		t.Errorf("missing file: %v", err)
	}
	if err := os.WriteFile(path, []byte("A\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ids, err := LoadNoisyList(path)
	if err != nil || len(ids) != 1 || !ids["a"] {
		t.Errorf("LoadNoisyList = %v, %v", ids, err)
	}
}

// ddBenchDetections builds n detections in time order, the way a hunt over a
// busy fleet yields them: 200 rules, 50 computers, 500 distinct events.
func ddBenchDetections(n int) []detect.Detection {
	r := rand.New(rand.NewPCG(3, 4))
	events := make([][]event.Field, 500)
	for i := range events {
		events[i] = []event.Field{
			{Name: "EventID", Value: "1"},
			{Name: "Channel", Value: "Microsoft-Windows-Sysmon/Operational"},
			{Name: "Computer", Value: fmt.Sprintf("ws%02d.corp.example", i%50)},
			{Name: "UtcTime", Value: "2024-03-01 10:00:00.000"},
			{Name: "ProcessGuid", Value: fmt.Sprintf("{c1b49677-43f4-5c7a-0000-%012d}", i)},
			{Name: "ProcessId", Value: fmt.Sprint(1000 + i)},
			{Name: "Image", Value: fmt.Sprintf(`C:\Program Files\Vendor%d\agent.exe`, i%40)},
			{Name: "CommandLine", Value: fmt.Sprintf(`"C:\Program Files\Vendor%d\agent.exe" --scan --profile=%d --log C:\ProgramData\Vendor\agent.log`, i%40, i)},
			{Name: "CurrentDirectory", Value: `C:\Windows\system32\`},
			{Name: "User", Value: `NT AUTHORITY\SYSTEM`},
			{Name: "LogonId", Value: "0x3e7"},
			{Name: "IntegrityLevel", Value: "System"},
			{Name: "Hashes", Value: "SHA1=8B0E0C5F0A3C4E1D9A0F3D3C3A6E1B3F6C0D2E1A"},
			{Name: "ParentImage", Value: `C:\Windows\System32\services.exe`},
			{Name: "ParentCommandLine", Value: `C:\Windows\system32\services.exe`},
		}
	}
	dets := make([]detect.Detection, n)
	for i := range dets {
		fs := events[r.IntN(len(events))]
		dets[i] = detect.Detection{
			Time:     ddT0.Add(time.Duration(i) * 50 * time.Millisecond),
			RuleID:   fmt.Sprintf("rule-%03d", r.IntN(200)),
			Level:    "medium",
			Computer: fs[2].Value,
			RecordID: uint64(i),
			Fields:   fs,
		}
	}
	return dets
}

func BenchmarkDedup(b *testing.B) {
	const n = 1_000_000
	dets := ddBenchDetections(n)
	b.ReportAllocs()
	var out int
	for b.Loop() {
		out = len(Dedup(dets, DedupOptions{}))
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/detection")
	b.ReportMetric(float64(out), "detections-out")
}
