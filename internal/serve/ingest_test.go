package serve

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-defense/vigil/internal/event"
	"github.com/vigil-defense/vigil/internal/source"
)

const corpus = "../../../shared/corpus"

// waitStats waits until the store has processed n events.
func (h *harness) waitProcessed(t *testing.T, n int64, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		st, err := h.s.store.Stats(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if st.Processed >= n {
			if st.Processed != n {
				t.Fatalf("processed %d events, want %d", st.Processed, n)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("processed %d of %d events after %s", st.Processed, n, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestDropFolder drops a real EVTX file: all its records are processed and
// the file moves to done/; a file that is no log moves to failed/ with its
// reason.
func TestDropFolder(t *testing.T) {
	matches, _ := filepath.Glob(filepath.Join(corpus, "evtx/EVTX-ATTACK-SAMPLES/*/*.evtx"))
	if len(matches) == 0 {
		t.Skipf("shared corpus not found at %s", corpus)
	}
	src := matches[0]
	// The expected count: what hunt's reader yields for the file.
	var want int64
	err := source.Scan(context.Background(), []string{src}, 1, func(u *source.Unit) int {
		var ev event.Event
		return u.Events(&ev, func(*event.Event) {}, func(error) {})
	}, func(n int) error { want += int64(n); return nil })
	if err != nil || want == 0 {
		t.Fatalf("reading %s: %d events, %v", src, want, err)
	}
	h := newHarness(t, nil)
	drop := h.s.opts.DropDir
	copyFile(t, src, filepath.Join(drop, "sample.evtx"))
	if err := os.WriteFile(filepath.Join(drop, "notes.txt"), []byte("\x00\x01 not a log"), 0o600); err != nil {
		t.Fatal(err)
	}
	h.waitProcessed(t, want, 30*time.Second)
	waitFile(t, filepath.Join(drop, "done", "sample.evtx"))
	waitFile(t, filepath.Join(drop, "failed", "notes.txt.error"))
	if _, err := os.Stat(filepath.Join(drop, "sample.evtx")); !os.IsNotExist(err) {
		t.Errorf("the read file is still in the drop folder: %v", err)
	}
}

// TestTailRotationAndRestart follows a file through appends, a rotation
// (rename and new file) and a server restart: every line is processed once.
func TestTailRotationAndRestart(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "app.log")
	dataDir := t.TempDir()
	line := func(i int) string {
		if i%2 == 0 {
			return fmt.Sprintf("{\"EventID\":4625,\"TargetUserName\":\"user%d\"}\n", i)
		}
		return fmt.Sprintf("<38>1 2024-05-06T07:08:%02dZ host1 sshd %d - - Failed password for user%d\n", i%60, i, i)
	}
	appendLines := func(from, to int) {
		f, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		for i := from; i < to; i++ {
			f.WriteString(line(i))
		}
		f.Close()
	}
	appendLines(0, 10)
	opts := func(o *Options) {
		o.DataDir = dataDir
		o.Tail = []string{logPath}
	}
	h := newHarness(t, opts)
	h.waitProcessed(t, 10, 20*time.Second)
	appendLines(10, 25)
	// A partial line is not read until it is complete.
	f, _ := os.OpenFile(logPath, os.O_APPEND|os.O_WRONLY, 0o600)
	f.WriteString(`{"EventID":4625,"TargetUser`)
	h.waitProcessed(t, 25, 20*time.Second)
	f.WriteString("Name\":\"late\"}\n")
	f.Close()
	h.waitProcessed(t, 26, 20*time.Second)
	// Rotation: lines written to the old file after the rename are read,
	// then the new file from its start.
	if err := os.Rename(logPath, logPath+".1"); err != nil {
		t.Fatal(err)
	}
	old, _ := os.OpenFile(logPath+".1", os.O_APPEND|os.O_WRONLY, 0o600)
	old.WriteString(line(26))
	old.Close()
	appendLines(27, 30)
	h.waitProcessed(t, 30, 20*time.Second)
	// Restart: stop, append, start again on the same data directory.
	h.cancel()
	if err := <-h.done; err != nil {
		t.Fatal(err)
	}
	h.done <- nil // for the harness's cleanup
	appendLines(30, 40)
	h2 := newHarness(t, opts)
	h2.waitProcessed(t, 40, 20*time.Second)
	time.Sleep(time.Second)
	h2.waitProcessed(t, 40, time.Second)
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	tmp := to + ".part"
	out, err := os.Create(filepath.Join(filepath.Dir(to), "."+filepath.Base(tmp)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	out.Close()
	if err := os.Rename(out.Name(), to); err != nil {
		t.Fatal(err)
	}
}

func waitFile(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			entries, _ := os.ReadDir(filepath.Dir(path))
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			t.Fatalf("%s did not appear (folder holds %s)", path, strings.Join(names, ", "))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
