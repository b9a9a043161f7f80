package source

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-defense/vigil/internal/event"
)

// fieldLines renders an event's fields one per line, for comparison.
// TimeCreated is compared to the microsecond: evtx_dump renders six
// fractional digits where the EVTX FILETIME (and vigil) has seven.
func fieldLines(ev *event.Event) []string {
	out := make([]string, ev.Len())
	for i := range out {
		v := strings.TrimSpace(ev.Value(i))
		if ev.Name(i) == "TimeCreated" {
			if t, ok := parseTime([]byte(v)); ok {
				v = t.Truncate(time.Microsecond).Format(time.RFC3339Nano)
			}
		}
		out[i] = fmt.Sprintf("%s=%q", ev.Name(i), v)
	}
	return out
}

// knownDiffs lists samples whose upstream .json and .evtx really differ, by
// the field whose value differs in letter case only.
var knownDiffs = map[string]string{
	// The .evtx says "C:\Windows\Explorer.EXE", the .json "Explorer.exe".
	"rules/windows/process_creation/proc_creation_win_susp_right_to_left_override/ad691d92-15f2-4181-9aa4-723c74f9ddc3.json": "ParentCommandLine",
}

// TestRegressionJSONMatchesEVTX holds the evtx_dump-layout reader to the
// EVTX reader: for every SigmaHQ regression sample, the .json rendering and
// the .evtx give the same field lists, names and values, in the same order.
func TestRegressionJSONMatchesEVTX(t *testing.T) {
	root := corpus(t, "sigma/regression_data")
	jsons := glob(t, root, "*.json")
	if len(jsons) == 0 {
		t.Fatalf("no .json sample under %s", root)
	}
	pairs, records, failed := 0, 0, 0
	for _, js := range jsons {
		ev := strings.TrimSuffix(js, ".json") + ".evtx"
		fromJSON := scanAll(t, []string{js}, 2)
		fromEVTX := scanAll(t, []string{ev}, 2)
		for _, rs := range [][]result{fromJSON, fromEVTX} {
			for _, r := range rs {
				if r.err != nil {
					t.Errorf("%v", r.err)
				}
				for _, p := range r.problems {
					t.Errorf("%s: %v", r.path, p)
				}
			}
		}
		a, b := eventsOf(fromJSON), eventsOf(fromEVTX)
		rel, _ := filepath.Rel(root, js)
		if len(a) != len(b) {
			t.Errorf("%s: %d events from JSON, %d from EVTX", rel, len(a), len(b))
			continue
		}
		pairs++
		for i := range a {
			records++
			la, lb := fieldLines(a[i]), fieldLines(b[i])
			if f, ok := knownDiffs[filepath.ToSlash(rel)]; ok {
				// Compare that field without case, as the sample differs.
				for j := range la {
					if j < len(lb) && strings.HasPrefix(la[j], f+"=") && strings.EqualFold(la[j], lb[j]) {
						lb[j] = la[j]
					}
				}
			}
			if d := diffLines(la, lb); d != "" {
				failed++
				t.Errorf("%s: event %d: JSON and EVTX fields differ (- json, + evtx):\n%s", rel, i, d)
				continue
			}
			if !a[i].Time.Truncate(time.Microsecond).Equal(b[i].Time.Truncate(time.Microsecond)) || a[i].Time.IsZero() {
				t.Errorf("%s: event %d: time %v from JSON, %v from EVTX", rel, i, a[i].Time, b[i].Time)
			}
			if a[i].Record != b[i].Record {
				t.Errorf("%s: event %d: record %d from JSON, %d from EVTX", rel, i, a[i].Record, b[i].Record)
			}
		}
	}
	t.Logf("%d regression samples, %d events: %d with JSON and EVTX fields identical", pairs, records, records-failed)
}

// diffLines returns a short line diff of a and b, or "" when equal.
func diffLines(a, b []string) string {
	var sb strings.Builder
	n := max(len(a), len(b))
	for i := range n {
		var x, y string
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			fmt.Fprintf(&sb, "  %d: - %s\n  %d: + %s\n", i, x, i, y)
		}
	}
	return sb.String()
}
