package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-defense/vigil/internal/intel"
	"github.com/vigil-defense/vigil/internal/taxii"
)

// writeFeed writes a small plain feed and returns its path.
func writeFeed(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "blocklist.txt")
	if err := os.WriteFile(p, []byte("# test feed\nevil.example\n203.0.113.7\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestIntelLookup(t *testing.T) {
	feed := writeFeed(t)
	code, out, errOut := runCLI(t, "intel", "lookup", "--feed", feed, "www.evil.example", "198.51.100.1")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	want := "www.evil.example  (domain): 1 matches\n" +
		"  medium domain evil.example  source=blocklist id=" + feed + ":2 confidence=50\n" +
		"198.51.100.1  (ipv4): 0 matches\n"
	if out != want {
		t.Errorf("output:\n%s\nwant:\n%s", out, want)
	}
	if !strings.Contains(errOut, "loaded 2 indicators and 0 warninglists from 1 files") {
		t.Errorf("stderr: %s", errOut)
	}
	code, out, _ = runCLI(t, "intel", "lookup", "--json", "--quiet", "--feed", feed, "203.0.113.7")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	var got lookupJSON
	if err := json.Unmarshal([]byte(out), &got); err != nil || strings.Count(out, "\n") != 1 {
		t.Fatalf("not one JSON line: %q %v", out, err)
	}
	if got.Value != "203.0.113.7" || got.Type != "ipv4" || len(got.Matches) != 1 || got.Matches[0].Source != "blocklist" || got.Matches[0].Level != "medium" {
		t.Errorf("json: %+v", got)
	}
}

func TestIntelUpdate(t *testing.T) {
	fail := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/good.txt":
			w.Header().Set("ETag", `"g1"`)
			if r.Header.Get("If-None-Match") == `"g1"` {
				w.WriteHeader(http.StatusNotModified)
				return
			}
			w.Write([]byte("evil.example\nbad.example\n"))
		case r.URL.Path == "/flaky.txt" && !fail:
			w.Write([]byte("203.0.113.7\n"))
		default:
			http.Error(w, "down", http.StatusBadGateway)
		}
	}))
	defer srv.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "feeds.yml")
	os.WriteFile(cfg, []byte("feeds:\n  - name: good\n    url: "+srv.URL+"/good.txt\n  - name: flaky\n    url: "+srv.URL+"/flaky.txt\n"), 0o644)
	cache := filepath.Join(dir, "cache")
	code, out, errOut := runCLI(t, "intel", "update", "--config", cfg, "--dir", cache)
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, out, errOut)
	}
	line := regexp.MustCompile(`(?m)^good +updated +\d+ B +2 indicators +\S+$`)
	if !line.MatchString(out) || !regexp.MustCompile(`(?m)^flaky +updated +\d+ B +1 indicators`).MatchString(out) {
		t.Errorf("output:\n%s", out)
	}
	fail = true
	code, out, errOut = runCLI(t, "intel", "update", "--force", "--config", cfg, "--dir", cache)
	if code != 1 {
		t.Fatalf("exit %d, want 1: %s%s", code, out, errOut)
	}
	if !regexp.MustCompile(`(?m)^good +not modified +0 B +2 indicators`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^flaky +failed +0 B +1 indicators +\S+ +HTTP 502 Bad Gateway; kept the copy of `).MatchString(out) {
		t.Errorf("output:\n%s", out)
	}
	if !strings.Contains(errOut, "2 feeds: 0 updated, 1 not modified, 0 not due, 1 failed") {
		t.Errorf("stderr: %s", errOut)
	}
	// The cache folder is a feed path for lookup.
	code, out, _ = runCLI(t, "intel", "lookup", "--quiet", "--feed", cache, "203.0.113.7", "a.bad.example")
	if code != 0 || !strings.Contains(out, "203.0.113.7  (ipv4): 1 matches") || !strings.Contains(out, "a.bad.example  (domain): 1 matches") {
		t.Errorf("lookup in the cache: exit %d\n%s", code, out)
	}
	// A bad configuration is refused with positions.
	os.WriteFile(cfg, []byte("feeds:\n  - name: x\n    url: gopher://x\n"), 0o644)
	code, _, errOut = runCLI(t, "intel", "update", "--config", cfg, "--dir", cache)
	if code != 2 || !strings.Contains(errOut, "feeds.yml:3:10: url") {
		t.Errorf("bad config: exit %d: %s", code, errOut)
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestIntelServe(t *testing.T) {
	feed := writeFeed(t)
	tokens := filepath.Join(t.TempDir(), "tokens")
	const token = "test-token-0123456789abcdef"
	os.WriteFile(tokens, []byte("# readers\n"+token+"\n"), 0o600)
	dets := filepath.Join(t.TempDir(), "detections.jsonl")
	os.WriteFile(dets, []byte(`{"time":"2025-02-03T04:05:06Z","rule_id":"intel:blocklist","level":"medium","fields":{"DestinationHostname":"www.evil.example","intel.type":"domain","intel.indicator":"evil.example","intel.source":"blocklist","intel.id":"x:2"}}`+"\n"+
		`{"time":"2025-02-03T04:05:07Z","rule_id":"5f1c","level":"high","fields":{}}`+"\n"), 0o644)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, []string{"vigil", "intel", "serve", "--listen", "127.0.0.1:0", "--feed", feed, "--token-file", tokens, "--org", "Test Utility", "--detections", dets}, strings.NewReader(""), &stdout, &stderr)
	}()
	addrRE := regexp.MustCompile(`discovery=(http://127\.0\.0\.1:\d+)/taxii2/`)
	var base string
	for deadline := time.Now().Add(10 * time.Second); base == "" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if m := addrRE.FindStringSubmatch(stderr.String()); m != nil {
			base = m[1]
		}
		select {
		case code := <-done:
			t.Fatalf("serve exited %d: %s", code, stderr.String())
		default:
		}
	}
	if base == "" {
		t.Fatalf("no listening address logged: %s", stderr.String())
	}
	cl := &taxii.Client{Auth: taxii.Bearer(token)}
	res, err := cl.Objects(ctx, base+"/vigil/", taxii.IndicatorsAlias, taxii.Query{Types: []string{"indicator"}})
	if err != nil {
		t.Fatal(err)
	}
	var patterns []string
	for _, o := range res.Objects {
		var v struct{ Pattern string }
		json.Unmarshal(o, &v)
		patterns = append(patterns, v.Pattern)
	}
	got := strings.Join(patterns, "\n")
	if len(patterns) != 2 || !strings.Contains(got, "[domain-name:value = 'evil.example']") || !strings.Contains(got, "[ipv4-addr:value = '203.0.113.7']") {
		t.Errorf("indicators: %q", patterns)
	}
	sres, err := cl.Objects(ctx, base+"/vigil/", taxii.SightingsAlias, taxii.Query{Types: []string{"sighting"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(sres.Objects) != 1 || !strings.Contains(string(sres.Objects[0]), taxii.IndicatorID(intel.TypeDomain, "evil.example")) || !strings.Contains(string(sres.Objects[0]), `"count":1`) {
		t.Errorf("sightings: %s", sres.Objects)
	}
	// Without the token: refused.
	if _, err := (&taxii.Client{}).Objects(ctx, base+"/vigil/", taxii.IndicatorsAlias, taxii.Query{}); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("anonymous request: %v", err)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit %d after cancel: %s", code, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop after the context was cancelled")
	}
	if strings.Contains(stderr.String(), token) {
		t.Errorf("the token is in the log: %s", stderr.String())
	}
}

func TestIntelServeRefusesWithoutAuth(t *testing.T) {
	feed := writeFeed(t)
	code, _, errOut := runCLI(t, "intel", "serve", "--listen", "127.0.0.1:0", "--feed", feed)
	if code != 2 || !strings.Contains(errOut, "refusing to serve without authentication") || !strings.Contains(errOut, "--token-file") || !strings.Contains(errOut, "--insecure-no-auth") {
		t.Errorf("exit %d: %s", code, errOut)
	}
}
