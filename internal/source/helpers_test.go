package source

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/vigil-defense/vigil/internal/event"
)

const corpusDir = "../../../shared/corpus"

// corpus returns the path of a corpus folder, or skips the test naming it.
func corpus(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join(corpusDir, rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("corpus folder %s not found (%v): the shared corpus is needed for this test", p, err)
	}
	return p
}

func short(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("skipped under -short: reads a large part of the shared corpus")
	}
}

// glob returns the files under root whose name matches pattern, in lexical order.
func glob(t testing.TB, root, pattern string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if ok, _ := filepath.Match(pattern, d.Name()); ok && !d.IsDir() {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// result is what a test keeps of one unit.
type result struct {
	path     string
	index    int
	first    bool
	last     bool
	err      error
	events   []*event.Event
	problems []error // per-record problems, then unit problems
}

// scanAll runs Scan over paths and returns the units' results in order.
func scanAll(t testing.TB, paths []string, workers int) []result {
	t.Helper()
	var out []result
	err := Scan(context.Background(), paths, workers, func(u *Unit) result {
		r := result{path: u.Path, index: u.Index, first: u.First, last: u.Last, err: u.Err}
		var ev event.Event
		u.Events(&ev, func(ev *event.Event) { r.events = append(r.events, ev.Clone()) },
			func(err error) { r.problems = append(r.problems, err) })
		r.problems = append(r.problems, u.Problems()...)
		return r
	}, func(r result) error {
		out = append(out, r)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// eventsOf flattens the events of results.
func eventsOf(rs []result) []*event.Event {
	var out []*event.Event
	for _, r := range rs {
		out = append(out, r.events...)
	}
	return out
}
