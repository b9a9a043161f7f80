package serve

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/vigil-defense/vigil/internal/bus"
	"github.com/vigil-defense/vigil/internal/event"
	"github.com/vigil-defense/vigil/internal/source"
	"github.com/vigil-defense/vigil/internal/syslog"
)

const srcTail = "tail"

// tailPoll is how often a followed file is checked for new lines and
// rotation.
const tailPoll = 250 * time.Millisecond

// startTail follows each --tail file.
func (s *Server) startTail(ctx context.Context, wg *sync.WaitGroup) {
	for _, p := range s.opts.Tail {
		abs, err := filepath.Abs(p)
		if err != nil {
			abs = p
		}
		t := &tailer{s: s, path: abs, dec: source.NewDecoder()}
		wg.Add(1)
		go func() {
			defer wg.Done()
			t.run(ctx)
		}()
		s.log.Info("following file", "path", abs)
	}
}

// tailer follows one file: complete lines (JSON objects, or syslog text)
// become events. Its position is saved in the store per file identity
// (device and inode), so a restart goes on where it stopped, a rotated
// file (renamed, new one created) is read to its end before the new file
// is read from its start, and a truncated file is read again from the
// start.
//
// Exactly once: before a batch is queued its end offset is saved as
// pending; after, as done. Batch ids are the file identity and the byte
// range, so after a crash the pending range is read and queued again with
// the same id, which the queue (or the store) recognises.
type tailer struct {
	s    *Server
	path string
	dec  *source.Decoder

	f    *os.File
	id   string // device:inode of f
	off  int64  // offset of the next unread byte of f
	line int
	buf  []byte
	msg  syslog.Message
	ev   event.Event
	warn time.Time
}

func fileID(fi os.FileInfo) string {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return fmt.Sprintf("%d:%d", st.Dev, st.Ino)
	}
	return fi.Name()
}

func (t *tailer) key() string { return "tail:" + t.path + "#" + t.id }

func (t *tailer) run(ctx context.Context) {
	defer func() {
		if t.f != nil {
			t.f.Close()
		}
	}()
	tick := time.NewTicker(tailPoll)
	defer tick.Stop()
	for {
		if err := t.step(ctx); err != nil && ctx.Err() == nil {
			if time.Since(t.warn) > time.Minute {
				t.warn = time.Now()
				t.s.log.Warn("following a file", "path", t.path, "error", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// step reads what is new, and handles rotation and truncation.
func (t *tailer) step(ctx context.Context) error {
	if t.f == nil {
		if err := t.open(ctx); err != nil {
			return err
		}
	}
	if err := t.readAvailable(ctx); err != nil {
		return err
	}
	fi, err := os.Stat(t.path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil // rotated away, new file not yet created: keep the old one
		}
		return err
	}
	if id := fileID(fi); id != t.id {
		// Rotated: the old file has been read to its end above.
		t.f.Close()
		t.f = nil
		return t.open(ctx)
	}
	if fi.Size() < t.off {
		t.s.log.Info("followed file truncated; reading it from the start", "path", t.path)
		t.off, t.line = 0, 0
		if err := t.save(ctx, ":done", 0); err != nil {
			return err
		}
		return t.readAvailable(ctx)
	}
	return nil
}

func (t *tailer) open(ctx context.Context) error {
	f, err := os.Open(t.path)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	t.f, t.id = f, fileID(fi)
	done, err := t.s.store.Offset(ctx, t.key()+":done")
	if err != nil {
		f.Close()
		t.f = nil
		return fmt.Errorf("reading the saved position: %w", err)
	}
	pending, err := t.s.store.Offset(ctx, t.key()+":pending")
	if err != nil {
		f.Close()
		t.f = nil
		return fmt.Errorf("reading the saved position: %w", err)
	}
	if done > fi.Size() {
		done, pending = 0, 0
	}
	t.off, t.line = done, 0
	if pending > done && pending <= fi.Size() {
		// A batch was being queued when the process stopped: queue the
		// same range again, with the same id.
		if err := t.queueRange(ctx, pending); err != nil {
			return err
		}
	}
	return nil
}

// readAvailable queues the complete lines after t.off, in batches.
func (t *tailer) readAvailable(ctx context.Context) error {
	fi, err := t.f.Stat()
	if err != nil {
		return err
	}
	for t.off < fi.Size() {
		end := min(fi.Size(), t.off+maxBatchBytes/2)
		n := int(end - t.off)
		if cap(t.buf) < n {
			t.buf = make([]byte, n)
		}
		b := t.buf[:n]
		if _, err := t.f.ReadAt(b, t.off); err != nil && err != io.EOF {
			return err
		}
		k := bytes.LastIndexByte(b, '\n')
		if k < 0 {
			if n >= maxBatchBytes/2 {
				// A line longer than a batch: skip it whole.
				t.s.metrics.rejected.WithLabelValues(srcTail, "too-large").Inc()
				return t.skipLongLine(ctx, fi.Size())
			}
			return nil // an incomplete last line: wait for its end
		}
		if err := t.queueRange(ctx, t.off+int64(k)+1); err != nil {
			return err
		}
	}
	return nil
}

func (t *tailer) skipLongLine(ctx context.Context, size int64) error {
	chunk := make([]byte, 64<<10)
	for off := t.off; off < size; {
		n, err := t.f.ReadAt(chunk, off)
		if i := bytes.IndexByte(chunk[:n], '\n'); i >= 0 {
			t.off = off + int64(i) + 1
			t.line++
			return t.save(ctx, ":done", t.off)
		}
		off += int64(n)
		if err != nil {
			return nil
		}
	}
	return nil
}

// queueRange turns the lines in [t.off, end) into one batch and queues it.
func (t *tailer) queueRange(ctx context.Context, end int64) error {
	n := int(end - t.off)
	if cap(t.buf) < n {
		t.buf = make([]byte, n)
	}
	b := t.buf[:n]
	if _, err := t.f.ReadAt(b, t.off); err != nil && err != io.EOF {
		return err
	}
	var bb batchBuilder
	rejected := 0
	lineOff := t.off
	line := t.line
	src := "tail/" + t.path
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			i = len(b) - 1
		}
		rec := bytes.TrimSpace(b[:i+1])
		line++
		if len(rec) > 0 {
			add := func(ev *event.Event) {
				ev.Offset = lineOff
				if ok, err := bb.add(ev, time.Now()); err != nil || !ok {
					rejected++ // batches hold maxBatchBytes/2 of lines: only an event that grew past a batch
				}
			}
			if rec[0] == '{' || rec[0] == '[' {
				if _, err := t.dec.Record(rec, src, line, lineOff, &t.ev, add); err != nil {
					rejected++
				}
			} else {
				if err := t.msg.Parse(rec, syslog.ParseOptions{Now: time.Now()}); err != nil {
					t.s.metrics.rejected.WithLabelValues(srcTail, "malformed-kept-as-text").Inc()
				}
				t.msg.Event(&t.ev, src)
				t.ev.Record = uint64(line)
				add(&t.ev)
			}
		}
		lineOff += int64(i + 1)
		b = b[i+1:]
	}
	if rejected > 0 {
		t.s.metrics.rejected.WithLabelValues(srcTail, "bad-record").Add(float64(rejected))
	}
	if bb.events > 0 {
		if err := t.save(ctx, ":pending", end); err != nil {
			return err
		}
		h := sha256.Sum256([]byte(t.key()))
		id := fmt.Sprintf("tail-%s-%d-%d", hex.EncodeToString(h[:8]), t.off, end)
		err := publishPatiently(ctx, t.s.pub, &bus.Batch{ID: id, Source: srcTail, Events: bb.events, Received: bb.received, Data: bb.data}, func(err error) {
			t.s.log.Warn("queueing a followed file's lines failed; retrying", "path", t.path, "error", err)
		})
		if err != nil {
			return err
		}
		t.s.metrics.received.WithLabelValues(srcTail).Add(float64(bb.events))
	}
	t.s.counts.add(srcTail, int64(bb.events), int64(rejected))
	t.off, t.line = end, line
	return t.save(ctx, ":done", end)
}

func (t *tailer) save(ctx context.Context, suffix string, off int64) error {
	if err := t.s.store.SetOffset(ctx, t.key()+suffix, off); err != nil {
		return fmt.Errorf("saving the position: %w", err)
	}
	return nil
}
