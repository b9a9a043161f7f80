package rules_test

import (
	"context"
	"encoding/csv"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/vigil-defense/vigil/internal/attack"
	"github.com/vigil-defense/vigil/internal/detect"
	"github.com/vigil-defense/vigil/internal/event"
	"github.com/vigil-defense/vigil/internal/normalize"
	"github.com/vigil-defense/vigil/internal/source"
	"github.com/vigil-defense/vigil/rules"
	"github.com/vigil-defense/vigil/sigma"
)

const corpus = "../../shared/corpus"

// TestPackLoads checks that every rule of the built-in pack parses,
// compiles, carries the metadata the pack promises, and has a logsource the
// mapping can route.
func TestPackLoads(t *testing.T) {
	set, err := sigma.LoadFS(rules.FS, ".", "builtin")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range set.Refusals {
		t.Errorf("refused: %v", r)
	}
	table := normalize.Default()
	_, refused := detect.Compile(set.Files, table, detect.Options{})
	for _, r := range refused {
		t.Errorf("not compiled: %v", r)
	}
	n := 0
	ids := map[string]string{}
	for _, f := range set.Files {
		for _, r := range f.Rules {
			n++
			if prev, dup := ids[r.ID]; dup {
				t.Errorf("%s: id %s already used by %s", f.Path, r.ID, prev)
			}
			ids[r.ID] = f.Path
			if r.Author != "vigil project" {
				t.Errorf("%s: author %q, want \"vigil project\"", f.Path, r.Author)
			}
			if r.Level == "" || r.Description == "" || len(r.FalsePositives) == 0 {
				t.Errorf("%s: level, description and falsepositives are required", f.Path)
			}
			_, techs := attack.ParseTags(r.Tags)
			if len(techs) == 0 {
				t.Errorf("%s: no ATT&CK technique tag that resolves", f.Path)
			}
			if !table.Known(r.Logsource) {
				t.Errorf("%s: logsource %+v cannot be routed", f.Path, r.Logsource)
			}
		}
	}
	if n < 60 {
		t.Errorf("the pack has %d rules, want at least 60", n)
	}
	t.Logf("%d built-in rules", n)
}

// TestPackFiresOnSamples runs each rule over the real samples named in
// testdata/samples.tsv and requires at least the stated number of matches.
func TestPackFiresOnSamples(t *testing.T) {
	if _, err := os.Stat(corpus); err != nil {
		t.Skipf("shared corpus not found at %s: %v", corpus, err)
	}
	f, err := os.Open("testdata/samples.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rd := csv.NewReader(f)
	rd.Comma = '\t'
	rd.LazyQuotes = true
	header, err := rd.Read()
	if err != nil || strings.Join(header, ",") != "rule_path,rule_id,sample,min_matches" {
		t.Fatalf("bad header %v: %v", header, err)
	}
	table := normalize.Default()
	covered := map[string]bool{}
	for {
		rec, err := rd.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		rulePath, id, sample := rec[0], rec[1], rec[2]
		want, _ := strconv.Atoi(rec[3])
		data, err := fs.ReadFile(rules.FS, rulePath)
		if err != nil {
			t.Errorf("%s: %v", rulePath, err)
			continue
		}
		file, err := sigma.ParseFile(rulePath, data)
		if err != nil || len(file.Rules) != 1 || file.Rules[0].ID != id {
			t.Errorf("%s: want one rule with id %s (%v)", rulePath, id, err)
			continue
		}
		covered[rulePath] = true
		engine, refused := detect.Compile([]*sigma.File{file}, table, detect.Options{})
		if len(refused) > 0 {
			t.Errorf("%v", refused[0])
			continue
		}
		got := count(t, engine, filepath.Join(corpus, sample))
		if got < want || want < 1 {
			t.Errorf("%s on %s: %d matches, want at least %d", rulePath, sample, got, want)
		}
	}
	fs.WalkDir(rules.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && sigma.IsRuleFile(p) && !covered[p] {
			t.Errorf("%s has no sample in testdata/samples.tsv", p)
		}
		return nil
	})
}

func count(t *testing.T, e *detect.Engine, path string) int {
	t.Helper()
	m := e.NewMatcher()
	n := 0
	err := source.Scan(context.Background(), []string{path}, 1, func(u *source.Unit) int {
		if u.Err != nil {
			t.Errorf("%s: %v", path, u.Err)
			return 0
		}
		c := 0
		var ev event.Event
		u.Events(&ev, func(ev *event.Event) {
			m.Match(ev, func(*detect.Program) { c++ })
		}, func(err error) { t.Errorf("%v", err) })
		return c
	}, func(c int) error { n += c; return nil })
	if err != nil {
		t.Errorf("%s: %v", path, err)
	}
	return n
}
