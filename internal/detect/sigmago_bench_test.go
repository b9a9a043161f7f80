package detect_test

// Rule-evaluation throughput of vigil next to github.com/bradleyjkemp/sigma-go
// (a benchmark-only dependency) with the SigmaHQ Windows rules over the shared
// EVTX corpus (../../../shared/corpus, see its README.md).
//
// Everything is loaded once, lazily, by the first benchmark that needs it
// (never in init or TestMain), so `go test ./internal/detect` without -bench
// pays nothing. Reading and decoding the EVTX files is outside the timer:
// the benchmarks time rule evaluation only, on one goroutine.
//
// sigma-go is set up in its simplest fair form: no config (no logsource
// routing, no field mappings), one evaluator per rule, events as
// map[string]interface{} with the same flat field names as vigil's events
// (first occurrence of a repeated name). It keeps the rules it can evaluate:
// those it parses that use no construct its evaluator rejects (keywords,
// modifiers it does not know, null or non-scalar values, %placeholders%
// without an expander, aggregations without a count implementation) and that
// evaluate without error on the sample. It is far too slow for the whole
// corpus, so it runs on a fixed sample (every sampleStride-th event), and vigil
// reports on the same sample with the same rule files (sigmago-subset-sample)
// for an apples-to-apples ratio.
//
// The "matches" metrics differ by design: vigil routes each event to the rules
// whose logsource applies and reads aliased fields (Image is NewProcessName in
// Security 4688), while sigma-go, without a config, evaluates every rule on
// every event under the rule's own field names; sigma-go compares plain values
// with EqualFold (no '*' wildcards). The first benchmark logs, once, how many
// rules each side keeps and the sample detections on which they disagree.
//
// Setup (once per process, untimed) takes about 15 s: reading the corpus and
// one sigma-go pass over the sample to find the rules it cannot evaluate.
// vigil's matcher gets one untimed pass before the timer (its class cache).
// sigma-go takes over 10 s per iteration, so use a time-based -benchtime:
//
//	go test ./internal/detect -run '^$' -bench Evaluate -benchmem -benchtime 2s -count 3

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	sigmago "github.com/bradleyjkemp/sigma-go"
	"github.com/bradleyjkemp/sigma-go/evaluator"
	"github.com/bradleyjkemp/sigma-go/evaluator/modifiers"

	"github.com/vigil-defense/vigil/internal/detect"
	"github.com/vigil-defense/vigil/internal/event"
	"github.com/vigil-defense/vigil/internal/normalize"
	"github.com/vigil-defense/vigil/internal/source"
	"github.com/vigil-defense/vigil/sigma"
)

const (
	benchCorpus  = "../../../shared/corpus"
	sampleStride = 70 // sigma-go sample: events 0, 70, 140, …
)

type evalBench struct {
	skip string // non-empty: the corpus is absent

	events []*event.Event   // every event of the corpus, cloned
	maps   []map[string]any // the same events for sigma-go
	sample []int            // indexes of the sampled events
	set    *sigma.Set       // vigil's load of the Windows rules
	all    *detect.Engine   // vigil, every rule
	allRef int              // rules vigil refused to compile
	sub    *detect.Engine   // vigil, the files sigma-go keeps
	subRef int              // of those, rules vigil refused
	sg     []*evaluator.RuleEvaluator
	sgN    int            // rule files sigma-go was offered
	sgWhy  map[string]int // why sigma-go refused the others

	// Detections on the sample, by (event, rule file): agreed, or one side only.
	both              int
	vigilOnly, sgOnly []string
}

var (
	benchOnce sync.Once
	benchData *evalBench
	benchErr  error
)

func loadEvalBench(b *testing.B) *evalBench {
	b.Helper()
	benchOnce.Do(func() { benchData, benchErr = buildEvalBench() })
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	if benchData.skip != "" {
		b.Skip(benchData.skip)
	}
	return benchData
}

func buildEvalBench() (*evalBench, error) {
	d := &evalBench{}
	evtxDir := filepath.Join(benchCorpus, "evtx")
	rulesDir := filepath.Join(benchCorpus, "sigma", "rules", "windows")
	for _, p := range []string{evtxDir, rulesDir} {
		if _, err := os.Stat(p); err != nil {
			d.skip = fmt.Sprintf("shared corpus not found at %s: %v", p, err)
			return d, nil
		}
	}

	// Events.
	files, err := source.Expand([]string{evtxDir})
	if err != nil {
		return nil, err
	}
	err = source.Scan(context.Background(), files, 0, func(u *source.Unit) []*event.Event {
		var out []*event.Event
		var ev event.Event
		u.Events(&ev, func(ev *event.Event) { out = append(out, ev.Clone()) }, func(error) {})
		return out
	}, func(evs []*event.Event) error {
		d.events = append(d.events, evs...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(d.events) == 0 {
		return nil, fmt.Errorf("no events under %s", evtxDir)
	}
	d.maps = make([]map[string]any, len(d.events))
	for i, ev := range d.events {
		m := make(map[string]any, ev.Len())
		for j := 0; j < ev.Len(); j++ {
			if _, dup := m[ev.Name(j)]; !dup {
				m[ev.Name(j)] = ev.Value(j)
			}
		}
		d.maps[i] = m
	}
	for i := 0; i < len(d.events); i += sampleStride {
		d.sample = append(d.sample, i)
	}

	// vigil, every rule.
	d.set, err = sigma.LoadDir(rulesDir)
	if err != nil {
		return nil, err
	}
	var refused []detect.Refusal
	d.all, refused = detect.Compile(d.set.Files, normalize.Default(), detect.Options{})
	d.allRef = len(refused)

	// sigma-go: every .yml file, as it parses and evaluates them.
	var paths []string
	err = filepath.WalkDir(rulesDir, func(p string, de os.DirEntry, err error) error {
		if err == nil && !de.IsDir() && strings.HasSuffix(p, ".yml") {
			paths = append(paths, p)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(paths)
	d.sgN = len(paths)
	d.sgWhy = map[string]int{}
	kept := map[string]bool{}
	sgHits := map[hit]bool{}
	ctx := context.Background()
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		rule, err := sigmago.ParseRule(data)
		if err != nil {
			d.sgWhy["parse error"]++
			continue
		}
		if why := sigmagoUnsupported(rule); why != "" {
			d.sgWhy[why]++
			continue
		}
		e := evaluator.ForRule(rule)
		hits, why := probe(ctx, e, d)
		if why != "" {
			d.sgWhy[why]++
			continue
		}
		for _, i := range hits {
			sgHits[hit{i, filepath.Clean(p)}] = true
		}
		d.sg = append(d.sg, e)
		kept[filepath.Clean(p)] = true
	}

	// vigil, the same files as sigma-go.
	var sub []*sigma.File
	for _, f := range d.set.Files {
		if kept[filepath.Clean(f.Path)] {
			sub = append(sub, f)
		}
	}
	d.sub, refused = detect.Compile(sub, normalize.Default(), detect.Options{})
	d.subRef = len(refused)

	// Where the two disagree on the sample (same files, same events).
	vgHits := map[hit]bool{}
	m := d.sub.NewMatcher()
	for _, i := range d.sample {
		m.Match(d.events[i], func(p *detect.Program) { vgHits[hit{i, filepath.Clean(p.Path)}] = true })
	}
	for h := range vgHits {
		if sgHits[h] {
			d.both++
		} else {
			d.vigilOnly = append(d.vigilOnly, d.describe(h))
		}
	}
	for h := range sgHits {
		if !vgHits[h] {
			d.sgOnly = append(d.sgOnly, d.describe(h))
		}
	}
	sort.Strings(d.vigilOnly)
	sort.Strings(d.sgOnly)
	return d, nil
}

// hit is a rule file matching a sampled event.
type hit struct {
	event int
	path  string
}

func (d *evalBench) describe(h hit) string {
	ev := d.events[h.event]
	ch, _ := ev.Get("Channel")
	id, _ := ev.Get("EventID")
	return fmt.Sprintf("%s on event %d (%s %s)", filepath.Base(h.path), h.event, ch, id)
}

// sigmagoUnsupported says which construct of rule sigma-go's evaluator
// rejects at evaluation time (it reports them as errors from Matches, only
// when it reaches them), or "" if none.
func sigmagoUnsupported(rule sigmago.Rule) string {
	for _, c := range rule.Detection.Conditions {
		if c.Aggregation != nil {
			return "aggregation"
		}
	}
	names := make([]string, 0, len(rule.Detection.Searches))
	for name := range rule.Detection.Searches {
		names = append(names, name)
	}
	sort.Strings(names) // the reason given does not depend on map order
	for _, name := range names {
		s := rule.Detection.Searches[name]
		if len(s.Keywords) > 0 {
			return "keywords"
		}
		for _, em := range s.EventMatchers {
			for _, fm := range em {
				mods := fm.Modifiers
				if len(mods) > 0 && mods[len(mods)-1] == "all" {
					mods = mods[:len(mods)-1]
				}
				if _, err := modifiers.GetComparator(fm.Field, nil, mods...); err != nil {
					return "modifiers |" + strings.Join(fm.Modifiers, "|")
				}
				for _, v := range fm.Values {
					switch v := v.(type) {
					case string:
						if strings.HasPrefix(v, "%") && strings.HasSuffix(v, "%") {
							return "placeholder"
						}
					case int, float32, float64, bool:
					default:
						return "null or non-scalar value"
					}
				}
			}
		}
	}
	return ""
}

// probe evaluates e on every sampled event and reports the first error or
// panic.
func probe(ctx context.Context, e *evaluator.RuleEvaluator, d *evalBench) (hits []int, why string) {
	defer func() {
		if r := recover(); r != nil {
			why = "panic in Matches"
		}
	}()
	for _, i := range d.sample {
		r, err := e.Matches(ctx, d.maps[i])
		if err != nil {
			return nil, "error in Matches"
		}
		if r.Match {
			hits = append(hits, i)
		}
	}
	return hits, ""
}

func (d *evalBench) logCounts(b *testing.B) {
	b.Helper()
	var why []string
	for k, n := range d.sgWhy {
		why = append(why, fmt.Sprintf("%s %d", k, n))
	}
	sort.Strings(why)
	b.Logf("events %d (sample %d, every %dth); vigil: %d files, %d programs, %d refused by LoadDir, %d by Compile; "+
		"sigma-go: %d of %d files kept (refused: %s); vigil on those files: %d programs, %d refused",
		len(d.events), len(d.sample), sampleStride,
		len(d.set.Files), len(d.all.Programs()), len(d.set.Refusals), d.allRef,
		len(d.sg), d.sgN, strings.Join(why, ", "), len(d.sub.Programs()), d.subRef)
	b.Logf("sample detections: %d agree, %d vigil only, %d sigma-go only", d.both, len(d.vigilOnly), len(d.sgOnly))
	for _, s := range d.vigilOnly {
		b.Logf("vigil only: %s", s)
	}
	for _, s := range d.sgOnly {
		b.Logf("sigma-go only: %s", s)
	}
}

var logOnce sync.Once

func BenchmarkEvaluateVigil(b *testing.B) {
	d := loadEvalBench(b)
	logOnce.Do(func() { d.logCounts(b) })
	all := make([]int, len(d.events))
	for i := range all {
		all[i] = i
	}
	run := func(name string, e *detect.Engine, idx []int) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			m := e.NewMatcher()
			matches := 0
			count := func(*detect.Program) { matches++ }
			// One untimed pass fills the matcher's cache of event classes
			// (routing is computed once per distinct class), so the timer
			// sees the steady state of a long hunt even on the small sample.
			for _, i := range idx {
				m.Match(d.events[i], count)
			}
			for b.Loop() {
				matches = 0
				for _, i := range idx {
					m.Match(d.events[i], count)
				}
			}
			b.ReportMetric(float64(len(idx))*float64(b.N)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(matches), "matches")
			b.ReportMetric(float64(len(e.Programs())), "rules")
		})
	}
	run("all-rules", d.all, all)
	run("sigmago-subset", d.sub, all)
	run("sigmago-subset-sample", d.sub, d.sample)
}

func BenchmarkEvaluateSigmaGo(b *testing.B) {
	d := loadEvalBench(b)
	logOnce.Do(func() { d.logCounts(b) })
	b.ReportAllocs()
	ctx := context.Background()
	matches := 0
	for b.Loop() {
		matches = 0
		for _, i := range d.sample {
			ev := d.maps[i]
			for _, e := range d.sg {
				r, err := e.Matches(ctx, ev)
				if err != nil {
					b.Fatal(err)
				}
				if r.Match {
					matches++
				}
			}
		}
	}
	b.ReportMetric(float64(len(d.sample))*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(matches), "matches")
	b.ReportMetric(float64(len(d.sg)), "rules")
}
