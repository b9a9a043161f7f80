package intel

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestMatchCallgrind is the harness of docs/bench-intel-match.sh: it loads
// the feeds of VIGIL_INTEL_FEED_DIR and every event of the shared corpus,
// creates the file ready in the folder VIGIL_MATCH_CALLGRIND names, waits
// for a file go there (the script has switched callgrind's instrumentation
// on by then: loading under instrumentation took minutes), then runs one
// Matcher over the events once. Skipped unless VIGIL_MATCH_CALLGRIND is set.
func TestMatchCallgrind(t *testing.T) {
	dir := os.Getenv("VIGIL_MATCH_CALLGRIND")
	if dir == "" {
		t.Skip("run by docs/bench-intel-match.sh (set VIGIL_MATCH_CALLGRIND to a folder)")
	}
	feeds := os.Getenv("VIGIL_INTEL_FEED_DIR")
	if feeds == "" {
		t.Fatal("set VIGIL_INTEL_FEED_DIR to a feed folder")
	}
	x, _ := LoadPaths([]string{feeds})
	if x.Len() == 0 {
		t.Fatalf("%s: no indicators", feeds)
	}
	evs, err := readCorpusEvents(1)
	if err != nil {
		t.Skipf("corpus absent (%v): the logs live in ../shared/corpus next to the repository", err)
	}
	m := x.NewMatcher()
	if err := os.WriteFile(filepath.Join(dir, "ready"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Minute); ; time.Sleep(100 * time.Millisecond) {
		if _, err := os.Stat(filepath.Join(dir, "go")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no go file after 10 minutes")
		}
	}
	n := 0
	count := func(string, string, Match) { n++ }
	for _, ev := range evs {
		m.Match(ev, count)
	}
	fmt.Printf("events %d matches %d\n", len(evs), n)
}
