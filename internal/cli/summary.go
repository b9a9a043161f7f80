package cli

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/vigil-defense/vigil/evtx"
	"github.com/vigil-defense/vigil/internal/attack"
	"github.com/vigil-defense/vigil/internal/correlate"
	"github.com/vigil-defense/vigil/internal/detect"
	"github.com/vigil-defense/vigil/internal/source"
)

// isWarning reports whether a reader problem lost no data.
func isWarning(err error) bool {
	var e *evtx.Error
	if errors.As(err, &e) {
		return !e.Skipped
	}
	// A syslog line that breaks its syntax is kept as a text event.
	var se *source.SyslogError
	return errors.As(err, &se) && se.Err != nil
}

// summary accumulates counts over detections as they are written, so that
// memory does not grow with the number of detections.
type summary struct {
	total      int
	byLevel    map[string]int
	byRule     map[ruleKey]*ruleCount
	byComputer map[string]int
	byUser     map[string]int
	byTactic   map[string]int
	byTech     map[string]int
}

type ruleCount struct {
	id, title, level string
	n                int
	// The summary keys of the rule's ATT&CK tags, parsed once per rule
	// (every detection of a rule carries its tags).
	tactics, techs []string
	tags           []string
}

// ruleKey identifies a rule in the summary.
type ruleKey struct{ id, title string }

func (s *summary) add(d *detect.Detection) {
	if s.byLevel == nil {
		s.byLevel = map[string]int{}
		s.byRule = map[ruleKey]*ruleCount{}
		s.byComputer = map[string]int{}
		s.byUser = map[string]int{}
		s.byTactic = map[string]int{}
		s.byTech = map[string]int{}
	}
	s.total++
	s.byLevel[strings.ToLower(d.Level)]++
	key := ruleKey{d.RuleID, d.RuleTitle}
	rc := s.byRule[key]
	if rc == nil {
		rc = &ruleCount{id: d.RuleID, title: d.RuleTitle, level: d.Level}
		s.byRule[key] = rc
	}
	rc.n++
	if d.Computer != "" {
		s.byComputer[d.Computer]++
	}
	if u := d.User(); u != "" {
		s.byUser[u]++
	}
	if rc.n == 1 || !slices.Equal(rc.tags, d.Tags) {
		rc.tags = d.Tags
		rc.tactics, rc.techs = rc.tactics[:0], rc.techs[:0]
		tactics, techs := attack.ParseTags(d.Tags)
		for _, t := range tactics {
			rc.tactics = append(rc.tactics, t.ID+" "+t.Name)
		}
		for _, t := range techs {
			rc.techs = append(rc.techs, t.ID+" "+t.FullName())
		}
	}
	for _, k := range rc.tactics {
		s.byTactic[k]++
	}
	for _, k := range rc.techs {
		s.byTech[k]++
	}
}

func noisyCounts(m map[string]correlate.NoisyCount) map[string]int {
	out := make(map[string]int, len(m))
	for _, c := range m {
		out[fmt.Sprintf("%-13s %s (%s)", c.Level, c.Title, c.RuleID)] = c.Count
	}
	return out
}

type kv struct {
	k string
	n int
}

func top(m map[string]int, n int) []kv {
	out := make([]kv, 0, len(m))
	for k, v := range m {
		out = append(out, kv{k, v})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].n != out[j].n {
			return out[i].n > out[j].n
		}
		return out[i].k < out[j].k
	})
	if n > 0 && len(out) > n {
		out = out[:n]
	}
	return out
}

func (h *hunter) summary(w io.Writer, lr *loadedRules, st huntStats) {
	mbps := 0.0
	if st.elapsed > 0 {
		mbps = float64(st.bytes) / 1e6 / st.elapsed.Seconds()
	}
	fmt.Fprintf(w, "vigil hunt: %d files (%.1f MB), %d events, %d detections, %d errors, %d warnings, %s, %.1f MB/s\n",
		st.files, float64(st.bytes)/1e6, st.events, st.sum.total, st.errors, st.warnings, st.elapsed.Round(1e6), mbps)
	fmt.Fprintf(w, "rules: %d loaded, %d left out by filters, %d not compiled, %d files refused, %d with a logsource vigil cannot route\n",
		len(lr.engine.Programs()), lr.filtered, len(lr.uncompile), len(lr.refused), lr.unmapped)
	if st.merged > 0 {
		fmt.Fprintf(w, "de-duplication (window %s): %d repeated matches folded into the detections above\n", h.dedupWindow, st.merged)
	}
	if len(st.noisy) > 0 {
		fmt.Fprintln(w, "noisy rules (counted only):")
		for _, kv := range top(noisyCounts(st.noisy), 0) {
			fmt.Fprintf(w, "  %6d  %s\n", kv.n, kv.k)
		}
	}
	if h.corr != nil {
		fmt.Fprintf(w, "correlations: %d rules over %d detections, %d fired\n", h.corr.Len(), st.corrInputs, st.correlations)
	}
	if !st.first.IsZero() {
		fmt.Fprintf(w, "events from %s to %s\n", formatTime(st.first), formatTime(st.last))
	}
	s := &st.sum
	if s.total == 0 {
		return
	}
	var parts []string
	for _, l := range levels {
		if n := s.byLevel[l]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", l, n))
		}
	}
	fmt.Fprintf(w, "by level: %s\n", strings.Join(parts, ", "))
	rules := make([]*ruleCount, 0, len(s.byRule))
	for _, r := range s.byRule {
		rules = append(rules, r)
	}
	sort.Slice(rules, func(i, j int) bool {
		a, b := rules[i], rules[j]
		if ra, rb := levelRank(a.level), levelRank(b.level); ra != rb {
			return ra > rb
		}
		if a.n != b.n {
			return a.n > b.n
		}
		return a.title < b.title
	})
	fmt.Fprintln(w, "top rules:")
	for i, r := range rules {
		if i == 10 {
			fmt.Fprintf(w, "  … and %d more rules\n", len(rules)-10)
			break
		}
		fmt.Fprintf(w, "  %6d  %-13s %s\n", r.n, r.level, r.title)
	}
	list := func(title string, m map[string]int, n int) {
		if len(m) == 0 {
			return
		}
		fmt.Fprintf(w, "%s:\n", title)
		for _, e := range top(m, n) {
			fmt.Fprintf(w, "  %6d  %s\n", e.n, e.k)
		}
	}
	list("top computers", s.byComputer, 5)
	list("top users", s.byUser, 5)
	list("ATT&CK tactics", s.byTactic, 0)
	list("ATT&CK techniques", s.byTech, 15)
}
