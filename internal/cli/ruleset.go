package cli

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"github.com/goccy/go-yaml"

	"github.com/vigil-defense/vigil/internal/correlate"
	"github.com/vigil-defense/vigil/internal/detect"
	"github.com/vigil-defense/vigil/internal/normalize"
	"github.com/vigil-defense/vigil/rules"
	"github.com/vigil-defense/vigil/sigma"
)

// levelRank orders Sigma levels; unknown levels rank lowest.
func levelRank(l string) int {
	switch strings.ToLower(l) {
	case "informational":
		return 0
	case "low":
		return 1
	case "medium":
		return 2
	case "high":
		return 3
	case "critical":
		return 4
	}
	return -1
}

var levels = []string{"critical", "high", "medium", "low", "informational"}

// ruleOptions are the flags shared by the commands that load rules.
type ruleOptions struct {
	paths        multiFlag
	filters      multiFlag // Sigma filter rule files or folders
	minLevel     string
	status       string
	exclude      string
	mapping      string
	placeholders string
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// loadedRules is a compiled rule set and what was left out of it.
type loadedRules struct {
	engine    *detect.Engine
	files     int
	refused   []sigma.Refusal  // files that did not parse
	uncompile []detect.Refusal // rules that did not compile
	filtered  int              // rules left out by level, status or exclusion
	unmapped  int              // rules whose logsource the mapping cannot route

	corr        *correlate.Engine // nil when no correlation rule was loaded
	corrRefused []error           // correlation rules that could not be compiled
}

// loadRuleFiles parses the rule files at paths, or the built-in pack when
// there are none.
func loadRuleFiles(paths []string) ([]*sigma.File, []sigma.Refusal, error) {
	if len(paths) == 0 {
		set, err := sigma.LoadFS(rules.FS, ".", "builtin")
		if err != nil {
			return nil, nil, fmt.Errorf("loading the built-in rules: %w", err)
		}
		return set.Files, set.Refusals, nil
	}
	var files []*sigma.File
	var refused []sigma.Refusal
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			return nil, nil, fmt.Errorf("--rules %s: %w", p, unwrapPathErr(err))
		}
		set, err := sigma.LoadDir(p)
		if err != nil {
			return nil, nil, fmt.Errorf("--rules %s: %w", p, err)
		}
		files = append(files, set.Files...)
		refused = append(refused, set.Refusals...)
	}
	return files, refused, nil
}

// load parses, filters and compiles the rules the options name.
func (o *ruleOptions) load() (*loadedRules, error) {
	minRank := 0
	if o.minLevel != "" {
		minRank = levelRank(o.minLevel)
		if minRank < 0 {
			return nil, fmt.Errorf("--min-level %q is not a Sigma level: use informational, low, medium, high or critical", o.minLevel)
		}
	}
	statuses := map[string]bool{}
	for _, s := range strings.Split(o.status, ",") {
		if s = strings.TrimSpace(strings.ToLower(s)); s != "" {
			switch s {
			case "stable", "test", "experimental", "deprecated", "unsupported":
				statuses[s] = true
			default:
				return nil, fmt.Errorf("--status %q is not a Sigma status: use stable, test, experimental, deprecated or unsupported, separated by commas", s)
			}
		}
	}
	excluded := map[string]bool{}
	if o.exclude != "" {
		ids, err := readIDList(o.exclude)
		if err != nil {
			return nil, err
		}
		excluded = ids
	}
	table := normalize.Default()
	if o.mapping != "" {
		data, err := os.ReadFile(o.mapping)
		if err != nil {
			return nil, fmt.Errorf("--mapping: %w", err)
		}
		if table, err = normalize.Load(table, data, o.mapping); err != nil {
			return nil, fmt.Errorf("--mapping: %w", err)
		}
	}
	var opts detect.Options
	if o.placeholders != "" {
		data, err := os.ReadFile(o.placeholders)
		if err != nil {
			return nil, fmt.Errorf("--placeholders: %w", err)
		}
		if err := yaml.Unmarshal(data, &opts.Placeholders); err != nil {
			return nil, fmt.Errorf("--placeholders %s: want a YAML map of placeholder name to a list of values: %v", o.placeholders, err)
		}
	}
	files, refused, err := loadRuleFiles(o.paths)
	if err != nil {
		return nil, err
	}
	for _, p := range o.filters {
		set, err := sigma.LoadDir(p)
		if err != nil {
			return nil, fmt.Errorf("--filters %s: %w", p, err)
		}
		if len(set.Refusals) > 0 {
			return nil, fmt.Errorf("--filters %s: %w", p, set.Refusals[0])
		}
		for _, f := range set.Files {
			if len(f.Rules) > 0 || len(f.Correlations) > 0 {
				return nil, fmt.Errorf("--filters %s: holds detection or correlation rules; pass those with --rules", f.Path)
			}
			files = append(files, f)
		}
	}
	lr := &loadedRules{files: len(files), refused: refused}
	// Keep each file's rules that pass the filters.
	kept := make([]*sigma.File, 0, len(files))
	for _, f := range files {
		nf := *f
		nf.Rules = nil
		for _, r := range f.Rules {
			switch {
			case levelRank(r.Level) < minRank,
				len(statuses) > 0 && !statuses[strings.ToLower(r.Status)],
				len(statuses) == 0 && (r.Status == "deprecated" || r.Status == "unsupported"),
				excluded[strings.ToLower(r.ID)]:
				lr.filtered++
				continue
			}
			if !table.Known(r.Logsource) {
				lr.unmapped++
			}
			nf.Rules = append(nf.Rules, r)
		}
		kept = append(kept, &nf)
	}
	lr.engine, lr.uncompile = detect.Compile(kept, table, opts)
	var corrs []*sigma.Correlation
	for _, f := range kept {
		corrs = append(corrs, f.Correlations...)
	}
	if len(corrs) > 0 {
		lr.corr, lr.corrRefused = correlate.Compile(corrs, lr.engine.Programs())
		if lr.corr != nil && lr.corr.Len() == 0 {
			lr.corr = nil
		}
	}
	return lr, nil
}

// readIDList reads rule ids, one per line; '#' starts a comment.
func readIDList(path string) (map[string]bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--exclude-rules: %w", err)
	}
	defer f.Close()
	ids := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		if line = strings.TrimSpace(line); line != "" {
			ids[strings.ToLower(line)] = true
		}
	}
	return ids, sc.Err()
}
