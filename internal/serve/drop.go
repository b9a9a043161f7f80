package serve

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/vigil-defense/vigil/internal/bus"
	"github.com/vigil-defense/vigil/internal/event"
	"github.com/vigil-defense/vigil/internal/source"
)

const srcDrop = "drop"

// dropPoll is how often the drop folder is listed; a file is read once its
// size and modification time have not changed between two listings.
const dropPoll = 2 * time.Second

// startDrop watches the drop folder: each file put there (EVTX, JSON or
// JSON lines, optionally gzip) is read like a hunt input, its events are
// queued, and it is moved to done/ (or failed/ with a .error file).
func (s *Server) startDrop(ctx context.Context, wg *sync.WaitGroup) {
	dir := s.opts.DropDir
	if dir == "off" {
		return
	}
	for _, d := range []string{dir, filepath.Join(dir, "done"), filepath.Join(dir, "failed")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			s.log.Error("drop folder disabled", "dir", dir, "error", err)
			return
		}
	}
	s.log.Info("drop folder watched", "dir", dir)
	wg.Add(1)
	go func() {
		defer wg.Done()
		seen := map[string]os.FileInfo{}
		t := time.NewTicker(dropPoll)
		defer t.Stop()
		for {
			s.pollDrop(ctx, dir, seen)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

func (s *Server) pollDrop(ctx context.Context, dir string, seen map[string]os.FileInfo) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		s.log.Warn("listing the drop folder failed", "dir", dir, "error", err)
		return
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	now := map[string]bool{}
	for _, e := range entries {
		if !e.Type().IsRegular() || e.Name()[0] == '.' {
			continue
		}
		path := filepath.Join(dir, e.Name())
		fi, err := e.Info()
		if err != nil {
			continue
		}
		now[path] = true
		prev, ok := seen[path]
		seen[path] = fi
		if !ok || prev.Size() != fi.Size() || !prev.ModTime().Equal(fi.ModTime()) {
			continue // still being written, or new: look again next time
		}
		if ctx.Err() != nil {
			return
		}
		delete(seen, path)
		delete(now, path)
		s.ingestDropFile(ctx, dir, path)
	}
	for p := range seen {
		if !now[p] {
			delete(seen, p)
		}
	}
}

// dropUnit is one unit's events in wire form, cut into events.
type dropUnit struct {
	data     []byte
	ends     []int
	problems []error
	err      error
}

// ingestDropFile queues the events of one file. Batch ids derive from the
// file's content, so a file read again after a crash queues nothing twice.
func (s *Server) ingestDropFile(ctx context.Context, dir, path string) {
	start := time.Now()
	sum, err := fileDigest(path)
	if err != nil {
		s.dropFailed(dir, path, err)
		return
	}
	idBase := "drop-" + sum + "-"
	var bb batchBuilder
	part, events, problems := 0, 0, 0
	publish := func() error {
		if bb.events == 0 {
			return nil
		}
		b := &bus.Batch{ID: idBase + strconv.Itoa(part), Source: srcDrop, Events: bb.events, Received: bb.received, Data: bb.data}
		err := publishPatiently(ctx, s.pub, b, func(err error) {
			s.log.Warn("queueing dropped file's events failed; retrying", "file", path, "error", err)
		})
		if err != nil {
			return err
		}
		part++
		events += bb.events
		s.metrics.received.WithLabelValues(srcDrop).Add(float64(bb.events))
		s.counts.add(srcDrop, int64(bb.events), 0)
		bb.reset()
		return nil
	}
	var fileErr error
	err = source.Scan(ctx, []string{path}, 0, func(u *source.Unit) *dropUnit {
		du := &dropUnit{err: u.Err, problems: u.Problems()}
		var e event.Event
		u.Events(&e, func(e *event.Event) {
			du.data = event.AppendWire(du.data, e)
			du.ends = append(du.ends, len(du.data))
		}, func(err error) { du.problems = append(du.problems, err) })
		return du
	}, func(du *dropUnit) error {
		if du.err != nil {
			fileErr = du.err
			return nil
		}
		for _, p := range du.problems {
			problems++
			if problems <= 20 {
				s.log.Warn("dropped file: record skipped", "file", path, "problem", p)
			}
		}
		prev := 0
		for _, end := range du.ends {
			wire := du.data[prev:end]
			prev = end
			for {
				ok, aerr := bb.addWire(wire, time.Now())
				if aerr != nil {
					problems++
					s.metrics.rejected.WithLabelValues(srcDrop, "too-large").Inc()
					break
				}
				if ok {
					break
				}
				if err := publish(); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err == nil {
		err = publish()
	}
	if err != nil {
		if ctx.Err() == nil {
			s.log.Error("reading a dropped file failed; it stays in the drop folder and is read again", "file", path, "error", err)
		}
		return
	}
	if fileErr != nil && events == 0 {
		s.dropFailed(dir, path, fileErr)
		return
	}
	dst := uniquePath(filepath.Join(dir, "done", filepath.Base(path)))
	if err := os.Rename(path, dst); err != nil {
		s.log.Error("moving a read file to done/ failed; remove it by hand or it is read again (queued once)", "file", path, "error", err)
	}
	s.log.Info("dropped file queued", "file", filepath.Base(path), "events", events, "problems", problems, "took", time.Since(start).Round(time.Millisecond))
}

func (s *Server) dropFailed(dir, path string, cause error) {
	dst := uniquePath(filepath.Join(dir, "failed", filepath.Base(path)))
	s.log.Error("dropped file cannot be read; moved to failed/", "file", path, "error", cause)
	s.metrics.rejected.WithLabelValues(srcDrop, "unreadable-file").Inc()
	if err := os.Rename(path, dst); err == nil {
		_ = os.WriteFile(dst+".error", []byte(cause.Error()+"\n"), 0o600)
	}
}

func fileDigest(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)[:16]), nil
}

// uniquePath returns p, or p with a numeric suffix when p exists.
func uniquePath(p string) string {
	if _, err := os.Lstat(p); errors.Is(err, os.ErrNotExist) {
		return p
	}
	for i := 1; ; i++ {
		q := fmt.Sprintf("%s.%d", p, i)
		if _, err := os.Lstat(q); errors.Is(err, os.ErrNotExist) {
			return q
		}
	}
}
