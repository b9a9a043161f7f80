package report

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vigil-defense/vigil/internal/detect"
	"github.com/vigil-defense/vigil/internal/event"
	"github.com/vigil-defense/vigil/internal/normalize"
	"github.com/vigil-defense/vigil/internal/source"
	"github.com/vigil-defense/vigil/rules"
	"github.com/vigil-defense/vigil/sigma"
)

// corpusDir is the shared EVTX corpus (real attack samples nobody here wrote).
const corpusDir = "../../../shared/corpus/evtx"

// huntCorpus runs the built-in rules over the corpus paths (relative to
// corpusDir) as `vigil hunt` does and returns the detections in output order
// and the scan's Meta. It skips the test when the corpus is absent.
func huntCorpus(t testing.TB, rel ...string) ([]detect.Detection, Meta) {
	t.Helper()
	var paths []string
	for _, r := range rel {
		p := filepath.Join(corpusDir, r)
		if _, err := os.Stat(p); err != nil {
			t.Skipf("the shared corpus is absent (%s): %v", p, err)
		}
		paths = append(paths, p)
	}
	set, err := sigma.LoadFS(rules.FS, ".", "builtin")
	if err != nil {
		t.Fatal(err)
	}
	engine, refused := detect.Compile(set.Files, normalize.Default(), detect.Options{})
	files, err := source.Expand(paths)
	if err != nil {
		t.Fatal(err)
	}
	meta := Meta{
		Version: "test", Paths: rel, Start: time.Now().UTC(),
		RulesLoaded: len(engine.Programs()), RulesRefused: len(refused) + len(set.Refusals),
	}
	type chunk struct {
		dets   []detect.Detection
		events int
		size   int64
		file   bool
		errs   int
		first  time.Time
		last   time.Time
	}
	var dets []detect.Detection
	err = source.Scan(context.Background(), files, 0, func(u *source.Unit) chunk {
		c := chunk{file: u.First && u.Err == nil}
		if u.First {
			c.size = u.Size()
		}
		if u.Err != nil {
			c.errs++
			return c
		}
		m := engine.NewMatcher()
		var ev event.Event
		c.events = u.Events(&ev, func(ev *event.Event) {
			if t := ev.Time; !t.IsZero() {
				if c.first.IsZero() || t.Before(c.first) {
					c.first = t
				}
				if t.After(c.last) {
					c.last = t
				}
			}
			m.Match(ev, func(p *detect.Program) { c.dets = append(c.dets, detect.NewDetection(p, ev)) })
		}, func(error) { c.errs++ })
		return c
	}, func(c chunk) error {
		dets = append(dets, c.dets...)
		meta.Events += int64(c.events)
		meta.Bytes += c.size
		meta.Errors += c.errs
		if !c.first.IsZero() && (meta.FirstEvent.IsZero() || c.first.Before(meta.FirstEvent)) {
			meta.FirstEvent = c.first.UTC()
		}
		if c.last.After(meta.LastEvent) {
			meta.LastEvent = c.last.UTC()
		}
		if c.file {
			meta.Files++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	meta.Duration = time.Since(meta.Start)
	return dets, meta
}
