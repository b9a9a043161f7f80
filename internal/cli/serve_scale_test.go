package cli

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// scaleEnv returns the external NATS and PostgreSQL URLs the scale-out
// tests use (.ci/run starts both), or skips.
func scaleEnv(t *testing.T) (natsURL, pgURL string) {
	t.Helper()
	natsURL, pgURL = os.Getenv("VIGIL_TEST_NATS"), os.Getenv("VIGIL_TEST_POSTGRES")
	if natsURL == "" || pgURL == "" {
		t.Skip("scale-out test needs VIGIL_TEST_NATS (nats://… with JetStream) and VIGIL_TEST_POSTGRES (postgres://…); .ci/run sets both")
	}
	return natsURL, pgURL
}

// freshDatabase creates an empty database on the server of pgURL and
// returns its URL; it is dropped when the test ends.
func freshDatabase(t *testing.T, pgURL string) string {
	t.Helper()
	admin, err := sql.Open("pgx", pgURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	name := fmt.Sprintf("vigil_test_%d", time.Now().UnixNano())
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("creating a test database: %v", err)
	}
	t.Cleanup(func() { _, _ = admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)") })
	u, err := url.Parse(pgURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// dropStream deletes a test's JetStream stream when the test ends.
func dropStream(t *testing.T, natsURL, stream string) {
	t.Cleanup(func() {
		nc, err := nats.Connect(natsURL)
		if err != nil {
			return
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = js.DeleteStream(ctx, stream)
	})
}

// TestServeScaleOut runs one ingest, two workers and one API process on an
// external NATS JetStream server and PostgreSQL, posts events while one
// worker is killed with SIGKILL, and requires every accepted event to be
// processed once: the API's detections equal hunt's on the same events.
func TestServeScaleOut(t *testing.T) {
	needCorpus(t)
	natsURL, pgURL := scaleEnv(t)
	dbURL := freshDatabase(t, pgURL)
	stream := fmt.Sprintf("VIGIL_TEST_%d", time.Now().UnixNano())
	dropStream(t, natsURL, stream)

	files := jsonFiles(t, filepath.Join(sharedCorpus, "logs/otrf-security-datasets/atomic/windows"))
	files = append(files, jsonFiles(t, filepath.Join(sharedCorpus, "sigma/regression_data/rules/windows"))...)
	bodies := make([][]byte, len(files))
	for i, f := range files {
		bodies[i] = ndjson(t, f)
	}
	// A token for the test, made before any server starts.
	code, out, errOut := runCLI(t, "token", "create", "--db", dbURL, "--role", "admin", "--name", "scale-test")
	if code != 0 {
		t.Fatalf("token create: %d %s", code, errOut)
	}
	token := strings.TrimSpace(out)

	common := []string{"--nats", natsURL, "--nats-stream", stream, "--db", dbURL, "--ack-wait", "3s",
		"--syslog-udp", "off", "--syslog-tcp", "off", "--drop-dir", "off"}
	var logs bytes.Buffer
	start := func(role string) (*serverProc, string) {
		addr := freePort(t)
		args := append([]string{"--role", role, "--data-dir", t.TempDir(), "--http", addr}, common...)
		p := startProc(t, addr, &logs, args...)
		t.Cleanup(p.kill)
		return p, addr
	}
	_, ingestAddr := start("ingest")
	worker1, _ := start("worker")
	start("worker")
	_, apiAddr := start("api")

	client := &http.Client{Timeout: 20 * time.Second}
	post := func(body []byte) int {
		for attempt := 0; ; attempt++ {
			req, _ := http.NewRequest("POST", "http://"+ingestAddr+"/api/v1/events", bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusAccepted {
				var res struct{ Accepted int }
				_ = json.Unmarshal(b, &res)
				return res.Accepted
			}
			if resp.StatusCode != http.StatusServiceUnavailable || attempt > 100 {
				t.Fatalf("post: %d %s", resp.StatusCode, b)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	var accepted atomic.Int64
	const rounds = 2
	tmp := t.TempDir()
	n := 0
	for r := range rounds {
		for i, b := range bodies {
			accepted.Add(int64(post(b)))
			if err := os.WriteFile(filepath.Join(tmp, fmt.Sprintf("%d-%04d.jsonl", r, i)), b, 0o600); err != nil {
				t.Fatal(err)
			}
			n++
			if r == 0 && i == len(bodies)/2 {
				worker1.kill() // mid-stream, holding batches it has not acknowledged
			}
		}
	}
	ts := &testServer{base: "http://" + apiAddr, token: token}
	ts.waitProcessed(t, accepted.Load())
	time.Sleep(4 * time.Second) // past the ack wait: a duplicate would be stored by now
	st := ts.waitProcessed(t, accepted.Load())
	if p := int64(st["processed"].(float64)); p != accepted.Load() {
		t.Fatalf("processed %d events, accepted %d", p, accepted.Load())
	}
	var gotLines [][]byte
	for _, d := range ts.allDetections(t, "") {
		gotLines = append(gotLines, d)
	}
	have := normalizeDetections(t, gotLines)
	code, out, errOut = runCLI(t, "hunt", "--no-progress", "--format", "jsonl", tmp)
	if code != 0 {
		t.Fatalf("hunt: %d %s", code, errOut)
	}
	want := normalizeDetections(t, bytes.Split([]byte(out), []byte("\n")))
	if len(want) == 0 {
		t.Fatal("hunt found nothing: the test proves nothing")
	}
	if len(have) != len(want) {
		t.Fatalf("%d detections stored, hunt finds %d (%d events accepted)\nlogs:\n%s", len(have), len(want), accepted.Load(), tail(logs.String(), 3000))
	}
	for i := range have {
		if have[i] != want[i] {
			t.Fatalf("detection %d differs:\nserve %s\nhunt  %s", i, have[i], want[i])
		}
	}
	t.Logf("%d requests, %d events, %d detections; a worker was killed mid-stream; nothing lost, nothing twice", n, accepted.Load(), len(have))
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
