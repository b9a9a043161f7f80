package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"testing"

	"github.com/vigil-defense/vigil/internal/intel"
	"github.com/vigil-defense/vigil/internal/source"
)

// TestHuntIntelModel is the workload of docs/bench-intel-model.sh, which
// runs it under valgrind's callgrind with cache and branch simulation to
// count what intel matching adds to a hunt without the machine's noise
// (BenchmarkHuntIntel measures time; on a shared machine a run resolves
// only differences of about 3 points). It loads the rules (VIGIL_HUNT_RULES
// or the built-in ones) and the feed folder VIGIL_INTEL_FEED_DIR, then hunts
// the shared corpus's EVTX and logs on one worker four times: without
// intel, with, without, with. The garbage collector is off during the
// passes and runs between them, so that a collection falling inside one
// pass does not count against it; modelMark is called between passes and
// the script has callgrind write its counts there.
func TestHuntIntelModel(t *testing.T) {
	dir := os.Getenv("VIGIL_INTEL_FEED_DIR")
	if os.Getenv("VIGIL_HUNT_MODEL") == "" || dir == "" {
		t.Skip("run by docs/bench-intel-model.sh (needs VIGIL_HUNT_MODEL=1 and VIGIL_INTEL_FEED_DIR)")
	}
	corpus := filepath.Join("..", "..", "..", "shared", "corpus")
	if _, err := os.Stat(corpus); err != nil {
		t.Skipf("shared corpus not found at %s: %v", corpus, err)
	}
	lr := envHuntRules(t)
	idx, errs := intel.LoadPaths([]string{dir})
	if idx.Len() == 0 {
		t.Fatalf("%s: no indicators (%d errors)", dir, len(errs))
	}
	files, err := source.Expand([]string{filepath.Join(corpus, "evtx"), filepath.Join(corpus, "logs")})
	if err != nil {
		t.Fatal(err)
	}
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	for pass, x := range []*intel.Index{nil, idx, nil, idx} {
		runtime.GC()
		modelMark(pass)
		h := &hunter{engine: lr.engine, format: "jsonl", stderr: io.Discard, intel: x}
		st, err := h.run(context.Background(), files, 1, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		modelMark(-1)
		fmt.Printf("pass %d intel=%v events=%d\n", pass, x != nil, st.events)
	}
}

// modelMark is where docs/bench-intel-model.sh has callgrind write its
// counts (--dump-before): between TestHuntIntelModel's passes.
//
//go:noinline
func modelMark(pass int) int { return pass + 1 }
