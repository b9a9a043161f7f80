package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/goccy/go-yaml"

	"github.com/vigil-defense/vigil/internal/detect"
	"github.com/vigil-defense/vigil/internal/event"
	"github.com/vigil-defense/vigil/internal/normalize"
	"github.com/vigil-defense/vigil/internal/source"
	"github.com/vigil-defense/vigil/sigma"
)

func runRules(ctx context.Context, e *env, args []string) int {
	return dispatch(ctx, e, "rules", "[PATH...]", []subcommand{
		{"check", "load and validate rules; report each refusal with its reason", runRulesCheck},
		{"test", "run each rule's SigmaHQ regression test (regression_tests_path)", runRulesTest},
		{"update", "download the latest SigmaHQ rule release into the data directory", runRulesUpdate},
	}, args)
}

type refusalJSON struct {
	Path   string `json:"path"`
	Rule   string `json:"rule,omitempty"`
	Reason string `json:"reason"`
}

func runRulesCheck(_ context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "rules check", "[--json] [PATH...]")
	asJSON := fs.Bool("json", false, `print {"loaded":N,"refused":M,"refusals":[{"path":...,"reason":...}]}`)
	paths, err := parseFlags(fs, args)
	if err != nil {
		return flagExit(err)
	}
	files, refused, err := loadRuleFiles(paths)
	if err != nil {
		fmt.Fprintf(e.stderr, "vigil rules check: %v\n", err)
		return exitUsage
	}
	table := normalize.Default()
	engine, uncompiled := detect.Compile(files, table, detect.Options{})
	var refusals []refusalJSON
	for _, r := range refused {
		var list sigma.ErrorList
		if errors.As(r.Err, &list) {
			for _, le := range list {
				refusals = append(refusals, refusalJSON{Path: r.Path, Reason: le.Error()})
			}
			continue
		}
		refusals = append(refusals, refusalJSON{Path: r.Path, Reason: r.Err.Error()})
	}
	for _, r := range uncompiled {
		refusals = append(refusals, refusalJSON{Path: r.Path, Rule: r.Rule.ID, Reason: r.Err.Error()})
	}
	var warnings []refusalJSON
	unmapped := map[string]int{}
	for _, p := range engine.Programs() {
		for _, w := range p.Warnings {
			warnings = append(warnings, refusalJSON{Path: p.Path, Rule: p.Rule.ID, Reason: w})
		}
		if !table.Known(p.Rule.Logsource) {
			ls := p.Rule.Logsource
			unmapped[fmt.Sprintf("category=%s product=%s service=%s", ls.Category, ls.Product, ls.Service)]++
		}
	}
	loaded := len(engine.Programs())
	refusedRules := len(uncompiled) + len(refused)
	if *asJSON {
		out := struct {
			Loaded   int            `json:"loaded"`
			Refused  int            `json:"refused"`
			Refusals []refusalJSON  `json:"refusals"`
			Unmapped map[string]int `json:"unmapped_logsources,omitempty"`
		}{loaded, refusedRules, refusals, unmapped}
		if out.Refusals == nil {
			out.Refusals = []refusalJSON{}
		}
		b, _ := json.Marshal(out)
		fmt.Fprintf(e.stdout, "%s\n", b)
	} else {
		for _, r := range refusals {
			if r.Rule != "" {
				fmt.Fprintf(e.stdout, "refused: %s: rule %s: %s\n", r.Path, r.Rule, r.Reason)
			} else {
				fmt.Fprintf(e.stdout, "refused: %s\n", r.Reason)
			}
		}
		for _, w := range warnings {
			fmt.Fprintf(e.stdout, "warning: %s: rule %s: %s\n", w.Path, w.Rule, w.Reason)
		}
		fmt.Fprintf(e.stdout, "%d rules loaded, %d refused, %d warnings\n", loaded, refusedRules, len(warnings))
		if len(unmapped) > 0 {
			fmt.Fprintf(e.stdout, "%d loaded rules name a logsource vigil cannot route yet (they load, but see no events):\n", sum(unmapped))
			for _, kv := range top(unmapped, 0) {
				fmt.Fprintf(e.stdout, "  %5d  %s\n", kv.n, kv.k)
			}
		}
	}
	if refusedRules > 0 {
		return exitPartial
	}
	return exitOK
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// regressionInfo is the info.yml of a SigmaHQ regression case.
type regressionInfo struct {
	Tests []struct {
		Name       string `yaml:"name"`
		Type       string `yaml:"type"`
		Path       string `yaml:"path"`
		MatchCount *int   `yaml:"match_count"`
	} `yaml:"regression_tests_info"`
}

// regressionResult is the outcome of one rule's regression test.
type regressionResult struct {
	Path    string   `json:"path"`
	RuleID  string   `json:"rule_id"`
	Title   string   `json:"title"`
	Status  string   `json:"status"` // pass, fail, skip
	Reason  string   `json:"reason,omitempty"`
	Samples []sample `json:"samples,omitempty"`
}

type sample struct {
	Path string `json:"path"`
	Got  int    `json:"got"`
	Want int    `json:"want"` // -1: at least one
}

func runRulesTest(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "rules test", "[--json] [--quiet] PATH...")
	asJSON := fs.Bool("json", false, "print one JSON object per rule")
	quiet := fs.Bool("quiet", false, "print only failures and the summary")
	paths, err := parseFlags(fs, args)
	if err != nil {
		return flagExit(err)
	}
	if len(paths) == 0 {
		fmt.Fprintln(e.stderr, "vigil rules test: no PATH given: name SigmaHQ rule files or folders (their regression_tests_path points at the samples)")
		return exitUsage
	}
	files, refused, err := loadRuleFiles(paths)
	if err != nil {
		fmt.Fprintf(e.stderr, "vigil rules test: %v\n", err)
		return exitUsage
	}
	for _, r := range refused {
		fmt.Fprintf(e.stderr, "warning: refused: %v\n", r)
	}
	table := normalize.Default()
	var pass, fail, skip, notest, more int
	for _, f := range files {
		for _, r := range f.Rules {
			res := testRule(ctx, table, f, r)
			switch res.Status {
			case "pass":
				pass++
				if res.Reason != "" {
					more++
				}
			case "fail":
				fail++
			case "skip":
				skip++
			default:
				notest++
				continue
			}
			if *asJSON {
				b, _ := json.Marshal(res)
				fmt.Fprintf(e.stdout, "%s\n", b)
				continue
			}
			if *quiet && res.Status != "fail" {
				continue
			}
			var det []string
			for _, s := range res.Samples {
				want := fmt.Sprint(s.Want)
				if s.Want < 0 {
					want = ">=1"
				}
				det = append(det, fmt.Sprintf("%s: %d matches, want %s", filepath.Base(s.Path), s.Got, want))
			}
			if res.Reason != "" {
				det = append(det, res.Reason)
			}
			fmt.Fprintf(e.stdout, "%-4s %s %s (%s)\n", strings.ToUpper(res.Status), res.RuleID, res.Title, strings.Join(det, "; "))
		}
	}
	fmt.Fprintf(e.stderr, "vigil rules test: %d passed (%d with more matches than match_count lists), %d failed, %d skipped (sample absent), %d rules without a regression test\n", pass, more, fail, skip, notest)
	if fail > 0 {
		return exitPartial
	}
	return exitOK
}

// testRule runs one rule's regression test: every sample of its info.yml,
// from the .evtx and from the .json rendering beside it.
func testRule(ctx context.Context, table *normalize.Table, f *sigma.File, r *sigma.Rule) regressionResult {
	res := regressionResult{Path: f.Path, RuleID: r.ID, Title: r.Title}
	rel, _ := r.Extra["regression_tests_path"].(string)
	if rel == "" {
		return res
	}
	root := findRoot(filepath.Dir(f.Path), rel)
	if root == "" {
		res.Status, res.Reason = "skip", rel+" not found above "+f.Path
		return res
	}
	data, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		res.Status, res.Reason = "skip", "info.yml not present: "+rel
		return res
	}
	var info regressionInfo
	if err := yaml.Unmarshal(data, &info); err != nil {
		res.Status, res.Reason = "fail", fmt.Sprintf("%s: %v", rel, err)
		return res
	}
	one := &sigma.File{Path: f.Path, Rules: []*sigma.Rule{r}}
	engine, refused := detect.Compile([]*sigma.File{one}, table, detect.Options{})
	if len(refused) > 0 {
		res.Status, res.Reason = "fail", refused[0].Err.Error()
		return res
	}
	res.Status = "skip"
	for _, t := range info.Tests {
		if t.Path == "" {
			continue
		}
		want := -1
		if t.MatchCount != nil {
			want = *t.MatchCount
		}
		samplePath := filepath.Join(root, t.Path)
		candidates := []string{samplePath}
		if j := strings.TrimSuffix(samplePath, filepath.Ext(samplePath)) + ".json"; j != samplePath {
			candidates = append(candidates, j)
		}
		for _, p := range candidates {
			if _, err := os.Stat(p); err != nil {
				continue
			}
			got, err := countMatches(ctx, engine, p)
			if err != nil {
				res.Status, res.Reason = "fail", err.Error()
				return res
			}
			res.Samples = append(res.Samples, sample{Path: p, Got: got, Want: want})
		}
	}
	if len(res.Samples) == 0 {
		res.Reason = "no sample present"
		return res
	}
	// As in SigmaHQ's own regression runner, match_count is the number of
	// matches expected at least: fewer fail, more pass with a note.
	res.Status = "pass"
	for _, s := range res.Samples {
		switch {
		case s.Want < 0 && s.Got < 1, s.Want >= 0 && s.Got < s.Want:
			res.Status = "fail"
		case s.Want >= 0 && s.Got > s.Want:
			res.Reason = "more matches than match_count lists"
		}
	}
	return res
}

// findRoot returns the first ancestor of dir holding the first element of
// rel (the SigmaHQ repository root for "regression_data/...").
func findRoot(dir, rel string) string {
	first := strings.Split(filepath.ToSlash(rel), "/")[0]
	for d := dir; ; d = filepath.Dir(d) {
		if st, err := os.Stat(filepath.Join(d, first)); err == nil && st.IsDir() {
			return d
		}
		if filepath.Dir(d) == d {
			return ""
		}
	}
}

// countMatches runs the engine over one file and counts matching events.
func countMatches(ctx context.Context, engine *detect.Engine, path string) (int, error) {
	n := 0
	var firstErr error
	m := engine.NewMatcher()
	err := source.Scan(ctx, []string{path}, 1, func(u *source.Unit) int {
		if u.Err != nil {
			if firstErr == nil {
				firstErr = u.Err
			}
			return 0
		}
		c := 0
		var ev event.Event
		u.Events(&ev, func(ev *event.Event) {
			m.Match(ev, func(*detect.Program) { c++ })
		}, func(err error) {
			if firstErr == nil && !isWarning(err) {
				firstErr = err
			}
		})
		return c
	}, func(c int) error { n += c; return nil })
	if err == nil {
		err = firstErr
	}
	return n, err
}
