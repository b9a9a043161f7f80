package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// serverProc is a vigil serve child process.
type serverProc struct {
	cmd  *exec.Cmd
	logs *bytes.Buffer
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startProc starts the test binary as "vigil serve args…" and waits for
// its health check.
func startProc(t *testing.T, httpAddr string, logs *bytes.Buffer, args ...string) *serverProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"serve"}, args...)...)
	cmd.Env = append(os.Environ(), "VIGIL_TEST_RUN_CLI=1")
	cmd.Stdout = logs
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &serverProc{cmd: cmd, logs: logs}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + httpAddr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		if time.Now().After(deadline) {
			p.kill()
			t.Fatalf("server did not become healthy in 60 s:\n%s", logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (p *serverProc) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	_ = p.cmd.Wait()
}

// TestServeCrashSafety posts events continuously while the server is
// killed with SIGKILL at random moments and restarted; every request the
// server accepted (202) must end up processed exactly once: the stored
// detections equal hunt's on the accepted files, with nothing missing and
// nothing twice.
func TestServeCrashSafety(t *testing.T) {
	needCorpus(t)
	if testing.Short() {
		t.Skip("kills and restarts a server several times; skipped with -short")
	}
	files := jsonFiles(t, filepath.Join(sharedCorpus, "logs/otrf-security-datasets/atomic/windows"))
	files = append(files, jsonFiles(t, filepath.Join(sharedCorpus, "sigma/regression_data/rules/windows"))...)
	bodies := make([][]byte, len(files))
	for i, f := range files {
		bodies[i] = ndjson(t, f)
	}
	dataDir := t.TempDir()
	httpAddr := freePort(t)
	args := []string{"--data-dir", dataDir, "--http", httpAddr, "--syslog-udp", "off", "--syslog-tcp", "off", "--drop-dir", "off"}
	var logs bytes.Buffer
	proc := startProc(t, httpAddr, &logs, args...)
	defer func() { proc.kill() }()
	token := func() string {
		b, err := os.ReadFile(filepath.Join(dataDir, "admin.token"))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}()

	// The clients post the files round after round, each request with an
	// Idempotency-Key and retried with it until the server answers 202,
	// until the killer is done: every kill falls while requests are in
	// flight.
	var accepted atomic.Int64
	var retries atomic.Int64
	var requests atomic.Int64
	acceptedFiles := make([]int, len(bodies)) // times each file was accepted
	client := &http.Client{Timeout: 20 * time.Second}
	ctx, stopClients := context.WithCancel(context.Background())
	var killerDone atomic.Bool
	var wg sync.WaitGroup
	var mu sync.Mutex
	next := 0
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !killerDone.Load() {
				mu.Lock()
				n := next
				next++
				mu.Unlock()
				file, key := n%len(bodies), fmt.Sprintf("request-%d", n)
				requests.Add(1)
				for ctx.Err() == nil {
					hr, _ := http.NewRequest("POST", "http://"+httpAddr+"/api/v1/events", bytes.NewReader(bodies[file]))
					hr.Header.Set("Authorization", "Bearer "+token)
					hr.Header.Set("Idempotency-Key", key)
					resp, err := client.Do(hr)
					if err == nil {
						b, _ := io.ReadAll(resp.Body)
						resp.Body.Close()
						if resp.StatusCode == http.StatusAccepted {
							var res struct{ Accepted int }
							_ = json.Unmarshal(b, &res)
							accepted.Add(int64(res.Accepted))
							mu.Lock()
							acceptedFiles[file]++
							mu.Unlock()
							break
						}
					}
					retries.Add(1)
					time.Sleep(100 * time.Millisecond)
				}
			}
		}()
	}
	// The killer: five SIGKILLs at random moments while the clients post.
	kills := 0
	rng := rand.New(rand.NewPCG(1, uint64(time.Now().UnixNano())))
	clientsDone := make(chan struct{})
	go func() { wg.Wait(); close(clientsDone) }()
	for kills < 5 {
		time.Sleep(time.Duration(300+rng.IntN(1200)) * time.Millisecond)
		proc.kill()
		kills++
		proc = startProc(t, httpAddr, &logs, args...)
	}
	killerDone.Store(true)
	select {
	case <-clientsDone:
	case <-time.After(5 * time.Minute):
		stopClients()
		t.Fatal("clients did not finish in 5 minutes")
	}
	stopClients()

	// Everything accepted gets processed, exactly once.
	ts := &testServer{base: "http://" + httpAddr, token: token}
	st := ts.waitProcessed(t, accepted.Load())
	time.Sleep(time.Second) // anything extra (a duplicate) would show now
	st = ts.waitProcessed(t, accepted.Load())
	if p := int64(st["processed"].(float64)); p != accepted.Load() {
		t.Fatalf("processed %d events, accepted %d", p, accepted.Load())
	}
	got := ts.allDetections(t, "")
	var gotLines [][]byte
	for _, d := range got {
		gotLines = append(gotLines, d)
	}
	have := normalizeDetections(t, gotLines)

	// What hunt finds in the accepted files, as many times as accepted.
	tmp := t.TempDir()
	for i, n := range acceptedFiles {
		for k := range n {
			if err := os.WriteFile(filepath.Join(tmp, fmt.Sprintf("%04d-%d.jsonl", i, k)), bodies[i], 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	code, out, errOut := runCLI(t, "hunt", "--no-progress", "--format", "jsonl", tmp)
	if code != 0 {
		t.Fatalf("hunt: %d %s", code, errOut)
	}
	want := normalizeDetections(t, bytes.Split([]byte(out), []byte("\n")))
	if len(want) == 0 {
		t.Fatal("hunt found nothing: the test proves nothing")
	}
	if len(have) != len(want) {
		t.Fatalf("after %d kills: %d detections stored, hunt finds %d in the accepted events (%d events accepted, %d retries)", kills, len(have), len(want), accepted.Load(), retries.Load())
	}
	for i := range have {
		if have[i] != want[i] {
			t.Fatalf("detection %d differs:\nserve %s\nhunt  %s", i, have[i], want[i])
		}
	}
	if retries.Load() == 0 {
		t.Error("no request was interrupted by a kill: the test proved nothing about crashes during ingest")
	}
	t.Logf("%d kills, %d requests (%d retries), %d events accepted and processed once, %d detections stored once", kills, requests.Load(), retries.Load(), accepted.Load(), len(have))
}
