package store

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// crashChildEnv makes the test binary a crash-test child: it commits
// batches to the SQLite file named by the variable until it is killed.
const crashChildEnv = "VIGIL_STORE_CRASH_CHILD"

func TestMain(m *testing.M) {
	if path := os.Getenv(crashChildEnv); path != "" {
		start, _ := strconv.Atoi(os.Getenv(crashChildEnv + "_START"))
		if err := crashChild(path, start); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// crashBatch is batch k of the crash test: k%4 detections, 10+k%5 events.
func crashBatch(k int) *Batch {
	b := &Batch{Key: "c" + strconv.Itoa(k), Source: "crash", Events: 10 + k%5}
	for i := range k % 4 {
		line := fmt.Sprintf(`{"batch":%d,"i":%d,"pad":%q}`, k, i, strings.Repeat("x", 200+k%300))
		b.Detections = append(b.Detections, Detection{Time: time.Unix(int64(k), 0), RuleID: "r" + strconv.Itoa(i), Level: "high", Computer: "h", JSON: []byte(line)})
	}
	return b
}

// crashChild commits batches start, start+1, … and prints "k applied"
// after each commit returned (what a worker would acknowledge).
func crashChild(path string, start int) error {
	ctx := context.Background()
	s, err := Open(ctx, "sqlite:"+path, "")
	if err != nil {
		return err
	}
	out := bufio.NewWriter(os.Stdout)
	for k := start; k < start+1_000_000; k++ {
		applied, err := s.CommitBatch(ctx, crashBatch(k))
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%d %v\n", k, applied)
		out.Flush()
	}
	return nil
}

// TestCrashSafety kills a committing process with SIGKILL at random
// moments, restarts it with some batches redelivered, and checks that every
// acknowledged batch is stored, none twice, none in part.
func TestCrashSafety(t *testing.T) {
	path := t.TempDir() + "/vigil.db"
	rounds := 6
	if testing.Short() {
		rounds = 2
	}
	acked := -1 // highest batch whose commit returned
	for round := range rounds {
		start := max(0, acked-2) // redeliver the last few, as a queue would
		prev := acked
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+path, crashChildEnv+"_START="+strconv.Itoa(start))
		cmd.Stderr = os.Stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(stdout)
		killAfter := time.Duration(20+rand.IntN(200)) * time.Millisecond
		var timer *time.Timer
		for sc.Scan() {
			if timer == nil {
				timer = time.AfterFunc(killAfter, func() { cmd.Process.Signal(syscall.SIGKILL) })
			}
			var k int
			var applied bool
			if _, err := fmt.Sscanf(sc.Text(), "%d %t", &k, &applied); err != nil {
				continue // a line cut by the kill
			}
			if k <= acked && applied {
				t.Errorf("round %d: redelivered batch %d applied again", round, k)
			}
			// The batch after the last acknowledged one may have been
			// committed just before the kill, without its line written.
			if k > acked && !applied && k != prev+1 {
				t.Errorf("round %d: new batch %d not applied", round, k)
			}
			acked = max(acked, k)
		}
		err = cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
			t.Fatalf("round %d: child ended without being killed: %v", round, err)
		}
		t.Logf("round %d: killed after %v, %d batches acknowledged so far", round, killAfter, acked+1)
	}
	if acked < 10 {
		t.Fatalf("only %d batches committed", acked+1)
	}

	s, err := Open(context.Background(), "sqlite:"+path, "")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// Batches are committed in order, so the stored ones are 0..top with
	// top >= acked (the last commit may have landed just before the kill).
	seen := map[[2]int]bool{}
	top := -1
	for _, row := range all(t, s, Query{Limit: MaxLimit}) {
		var d struct{ Batch, I int }
		if err := json.Unmarshal(row, &d); err != nil {
			t.Fatalf("row %s: %v", row, err)
		}
		if seen[[2]int{d.Batch, d.I}] {
			t.Fatalf("detection %d of batch %d stored twice", d.I, d.Batch)
		}
		seen[[2]int{d.Batch, d.I}] = true
		top = max(top, d.Batch)
	}
	st, err := s.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// The processed counter says how far the commits went.
	var events int64
	k := 0
	for ; events < st.Processed; k++ {
		events += int64(crashBatch(k).Events)
	}
	top = max(top, k-1)
	if events != st.Processed || top < acked {
		t.Fatalf("processed %d events: not the sum of batches 0..%d (%d), or fewer than the %d acknowledged", st.Processed, k-1, events, acked+1)
	}
	want := 0
	for k := 0; k <= top; k++ {
		for i := range len(crashBatch(k).Detections) {
			want++
			if !seen[[2]int{k, i}] {
				t.Fatalf("detection %d of committed batch %d missing", i, k)
			}
		}
	}
	if len(seen) != want || st.Detections != int64(want) {
		t.Fatalf("%d detections stored, counter %d, want %d (batches 0..%d)", len(seen), st.Detections, want, top)
	}
	t.Logf("%d batches, %d detections consistent after %d kills", top+1, want, rounds)
}
