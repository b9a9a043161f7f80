package cli

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-defense/vigil/internal/serve"
)

// testServer is a vigil serve running in the test process.
type testServer struct {
	srv   *serve.Server
	base  string
	token string
	stop  func()
	done  chan error
}

func startServer(t *testing.T, ro ruleOptions, mutate func(*serve.Options)) *testServer {
	t.Helper()
	lr, err := ro.load()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	opts := serve.Options{
		DataDir:   dir,
		HTTPAddr:  "127.0.0.1:0",
		SyslogUDP: "127.0.0.1:0",
		SyslogTCP: "127.0.0.1:0",
		Engine:    lr.engine,
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if testing.Verbose() {
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	if mutate != nil {
		mutate(&opts)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := serve.New(ctx, opts)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	ts := &testServer{srv: srv, base: "http://" + srv.HTTPAddr(), stop: cancel, done: make(chan error, 1)}
	go func() { ts.done <- srv.Run(ctx) }()
	<-srv.Ready()
	tok, err := os.ReadFile(filepath.Join(dir, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	ts.token = strings.TrimSpace(string(tok))
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-ts.done:
			if err != nil {
				t.Errorf("server: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("server did not stop within 30 s")
		}
	})
	return ts
}

func (ts *testServer) do(t *testing.T, method, path string, body io.Reader, hdr ...string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, ts.base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+ts.token)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// waitProcessed waits until the server has processed n events.
func (ts *testServer) waitProcessed(t *testing.T, n int64) map[string]any {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		code, b := ts.do(t, "GET", "/api/v1/stats", nil)
		if code != 200 {
			t.Fatalf("stats: %d %s", code, b)
		}
		var st struct {
			Processed int64 `json:"processed"`
		}
		if err := json.Unmarshal(b, &st); err != nil {
			t.Fatal(err)
		}
		if st.Processed >= n {
			var m map[string]any
			_ = json.Unmarshal(b, &m)
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("processed %d of %d events after 2 minutes: %s", st.Processed, n, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// allDetections pages through GET /api/v1/detections.
func (ts *testServer) allDetections(t *testing.T, query string) []json.RawMessage {
	t.Helper()
	var all []json.RawMessage
	cursor := ""
	for {
		code, b := ts.do(t, "GET", "/api/v1/detections?limit=1000&cursor="+cursor+query, nil)
		if code != 200 {
			t.Fatalf("detections: %d %s", code, b)
		}
		var page struct {
			Detections []json.RawMessage `json:"detections"`
			Next       string            `json:"next"`
		}
		if err := json.Unmarshal(b, &page); err != nil {
			t.Fatal(err)
		}
		all = append(all, page.Detections...)
		if page.Next == "" {
			return all
		}
		cursor = page.Next
	}
}

// ndjson turns a file of JSON values (one per line, or pretty-printed
// documents) into one compact value per line, as a log shipper sends them.
func ndjson(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	var out bytes.Buffer
	for {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if err := json.Compact(&out, raw); err != nil {
			t.Fatal(err)
		}
		out.WriteByte('\n')
	}
	return out.Bytes()
}

// normalizeDetections drops the keys that name where an event came from
// (a file path for hunt, the listener for serve) and sorts the lines.
func normalizeDetections(t *testing.T, lines [][]byte) []string {
	t.Helper()
	var out []string
	for _, l := range lines {
		if len(bytes.TrimSpace(l)) == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(l, &m); err != nil {
			t.Fatalf("%v: %s", err, l)
		}
		delete(m, "source")
		b, _ := json.Marshal(m)
		out = append(out, string(b))
	}
	slices.Sort(out)
	return out
}

func jsonFiles(t *testing.T, root string) []string {
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".json") {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(files)
	return files
}

// TestServeMatchesHunt posts the shared OTRF and SigmaHQ regression events
// over HTTP (NDJSON, one request per file, some gzip-compressed) to a
// single-node server with all SigmaHQ Windows rules and requires the API
// to return exactly the detections vigil hunt finds in the same files.
func TestServeMatchesHunt(t *testing.T) {
	needCorpus(t)
	if testing.Short() {
		t.Skip("posts 16 MB of events to a server with 2,400 rules; skipped with -short")
	}
	rulesDir := filepath.Join(sharedCorpus, "sigma/rules/windows")
	files := append(jsonFiles(t, filepath.Join(sharedCorpus, "logs/otrf-security-datasets/atomic/windows")),
		jsonFiles(t, filepath.Join(sharedCorpus, "sigma/regression_data/rules/windows"))...)
	if len(files) < 100 {
		t.Fatalf("only %d corpus files found", len(files))
	}
	ts := startServer(t, ruleOptions{paths: multiFlag{rulesDir}}, nil)

	// Hunt reads the same events from NDJSON copies of the files (hunt
	// and serve then number records by the same lines).
	tmp := t.TempDir()
	var total int64
	for i, f := range files {
		body := ndjson(t, f)
		copyPath := filepath.Join(tmp, fmt.Sprintf("%04d.jsonl", i))
		if err := os.WriteFile(copyPath, body, 0o600); err != nil {
			t.Fatal(err)
		}
		var hdr []string
		if i%3 == 0 {
			var zb bytes.Buffer
			zw := gzip.NewWriter(&zb)
			zw.Write(body)
			zw.Close()
			body = zb.Bytes()
			hdr = []string{"Content-Encoding", "gzip"}
		}
		code, b := ts.do(t, "POST", "/api/v1/events", bytes.NewReader(body), hdr...)
		if code != http.StatusAccepted {
			t.Fatalf("%s: %d %s", f, code, b)
		}
		var res struct{ Accepted, Rejected int }
		if err := json.Unmarshal(b, &res); err != nil {
			t.Fatal(err)
		}
		if res.Rejected != 0 {
			t.Fatalf("%s: %s", f, b)
		}
		total += int64(res.Accepted)
	}
	st := ts.waitProcessed(t, total)
	got := ts.allDetections(t, "")

	code, out, errOut := runCLI(t, "hunt", "--no-progress", "--format", "jsonl", "--rules", rulesDir, tmp)
	if code != 0 {
		t.Fatalf("hunt: exit %d: %s", code, errOut)
	}
	want := normalizeDetections(t, bytes.Split([]byte(out), []byte("\n")))
	var gotLines [][]byte
	for _, d := range got {
		gotLines = append(gotLines, d)
	}
	have := normalizeDetections(t, gotLines)
	if len(want) < 50 {
		t.Fatalf("hunt found only %d detections; the comparison would prove little", len(want))
	}
	if !slices.Equal(have, want) {
		for i := 0; i < min(len(have), len(want)); i++ {
			if have[i] != want[i] {
				t.Errorf("first difference at %d:\nserve %s\nhunt  %s", i, have[i], want[i])
				break
			}
		}
		t.Fatalf("serve stored %d detections, hunt found %d", len(have), len(want))
	}
	t.Logf("%d files, %d events, %d detections equal; stats %v", len(files), total, len(have), st)
}

// dropKey removes a top-level key from a JSON object line.
func dropKey(t *testing.T, line []byte, key string) []byte {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(line, &m); err != nil {
		t.Fatalf("%v: %s", err, line)
	}
	delete(m, key)
	b, _ := json.Marshal(m)
	return b
}
