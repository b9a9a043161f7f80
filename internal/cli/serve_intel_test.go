package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vigil-defense/vigil/internal/intel"
	"github.com/vigil-defense/vigil/internal/serve"
)

// TestServeIntelMatchesHunt: with a feed of addresses seen in the OTRF
// events, the server's workers report exactly the intel matches vigil
// hunt --intel reports on the same events.
func TestServeIntelMatchesHunt(t *testing.T) {
	needCorpus(t)
	if testing.Short() {
		t.Skip("skipped with -short")
	}
	files := jsonFiles(t, filepath.Join(sharedCorpus, "logs/otrf-security-datasets/atomic/windows"))[:12]
	tmp := t.TempDir()
	var bodies [][]byte
	seen := map[string]bool{}
	var feed []string
	for i, f := range files {
		body := ndjson(t, f)
		bodies = append(bodies, body)
		os.WriteFile(filepath.Join(tmp, fmt.Sprintf("%03d.jsonl", i)), body, 0o600)
		for _, line := range bytes.Split(body, []byte("\n")) {
			var m map[string]any
			if json.Unmarshal(line, &m) != nil {
				continue
			}
			keys := make([]string, 0, len(m))
			for k := range m {
				keys = append(keys, k)
			}
			slices.Sort(keys) // the same feed every run
			for _, k := range keys {
				s, ok := m[k].(string)
				if !ok || !strings.Contains(k, "Ip") && !strings.Contains(k, "Address") {
					continue
				}
				if ip := net.ParseIP(s); ip != nil && ip.To4() != nil && !ip.IsUnspecified() && !seen[s] && len(feed) < 8 {
					seen[s] = true
					feed = append(feed, s)
				}
			}
		}
	}
	if len(feed) < 2 {
		t.Fatalf("only %d addresses found for the feed", len(feed))
	}
	feedPath := filepath.Join(t.TempDir(), "feed.txt")
	os.WriteFile(feedPath, []byte(strings.Join(feed, "\n")+"\n"), 0o600)
	idx, errs := intel.LoadPaths([]string{feedPath})
	if len(errs) > 0 || idx.Len() != len(feed) {
		t.Fatalf("feed: %v, %d indicators", errs, idx.Len())
	}
	ts := startServer(t, ruleOptions{}, func(o *serve.Options) { o.Intel = idx })
	var total int64
	for _, body := range bodies {
		code, b := ts.do(t, "POST", "/api/v1/events", bytes.NewReader(body))
		if code != http.StatusAccepted {
			t.Fatalf("%d %s", code, b)
		}
		var res struct{ Accepted int64 }
		json.Unmarshal(b, &res)
		total += res.Accepted
	}
	ts.waitProcessed(t, total)
	var got [][]byte
	for _, d := range ts.allDetections(t, "") {
		got = append(got, d)
	}
	have := normalizeDetections(t, got)
	code, out, errOut := runCLI(t, "hunt", "--no-progress", "--format", "jsonl", "--intel", feedPath, tmp)
	if code != 0 {
		t.Fatalf("hunt: %d %s", code, errOut)
	}
	want := normalizeDetections(t, bytes.Split([]byte(out), []byte("\n")))
	intelHits := 0
	for _, w := range want {
		if strings.Contains(w, `"intel`) {
			intelHits++
		}
	}
	if intelHits == 0 {
		t.Fatalf("hunt reports no intel match: the test proves nothing\n%s", out)
	}
	if !slices.Equal(have, want) {
		t.Fatalf("serve stored %d detections, hunt found %d", len(have), len(want))
	}
	t.Logf("%d events, %d detections equal (%d mention intel)", total, len(have), intelHits)
}
