package serve

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-defense/vigil/internal/auth"
	"github.com/vigil-defense/vigil/internal/detect"
	"github.com/vigil-defense/vigil/internal/normalize"
	"github.com/vigil-defense/vigil/rules"
	"github.com/vigil-defense/vigil/sigma"
)

func builtinEngine(t testing.TB) *detect.Engine {
	t.Helper()
	set, err := sigma.LoadFS(rules.FS, ".", "builtin")
	if err != nil {
		t.Fatal(err)
	}
	e, _ := detect.Compile(set.Files, normalize.Default(), detect.Options{})
	return e
}

type harness struct {
	s      *Server
	base   string
	admin  string
	tokens map[auth.Role]string
	cancel context.CancelFunc
	done   chan error
}

func newHarness(t *testing.T, mutate func(*Options)) *harness {
	t.Helper()
	o := Options{
		DataDir:   t.TempDir(),
		HTTPAddr:  "127.0.0.1:0",
		SyslogUDP: "127.0.0.1:0",
		SyslogTCP: "127.0.0.1:0",
		Engine:    builtinEngine(t),
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if mutate != nil {
		mutate(&o)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s, err := New(ctx, o)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	h := &harness{s: s, base: "http://" + s.HTTPAddr(), cancel: cancel, done: make(chan error, 1), tokens: map[auth.Role]string{}}
	go func() { h.done <- s.Run(ctx) }()
	<-s.Ready()
	b, err := os.ReadFile(filepath.Join(o.DataDir, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	h.admin = strings.TrimSpace(string(b))
	for _, r := range auth.Roles() {
		secret, tok, err := auth.NewToken("test-"+string(r), r)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.store.PutToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
		h.tokens[r] = secret
	}
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-h.done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("server did not stop")
		}
	})
	return h
}

func (h *harness) req(t *testing.T, method, path, token string, body io.Reader, hdr ...string) (int, []byte) {
	t.Helper()
	r, err := http.NewRequest(method, h.base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// TestRoutesRefuseBadTokens checks every route but /healthz against no
// token, malformed, unknown and wrong tokens, a revoked token, and each
// role.
func TestRoutesRefuseBadTokens(t *testing.T) {
	h := newHarness(t, nil)
	ruleID := h.s.opts.Engine.Programs()[0].Rule.ID
	routes := []struct {
		method, path string
		need         auth.Role
		body         string
	}{
		{"GET", "/metrics", auth.RoleViewer, ""},
		{"GET", "/api/openapi.json", auth.RoleViewer, ""},
		{"GET", "/api/v1/stats", auth.RoleViewer, ""},
		{"GET", "/api/v1/detections", auth.RoleViewer, ""},
		{"GET", "/api/v1/rules", auth.RoleViewer, ""},
		{"PATCH", "/api/v1/rules/" + ruleID, auth.RoleAnalyst, `{"enabled":true}`},
		{"POST", "/api/v1/events", auth.RoleIngest, `{"EventID":1}`},
		{"GET", "/api/v1/tokens", auth.RoleAdmin, ""},
		{"POST", "/api/v1/tokens", auth.RoleAdmin, `{"name":"x","role":"viewer"}`},
		{"DELETE", "/api/v1/tokens/nosuchtoken", auth.RoleAdmin, ""},
	}
	// A revoked analyst token.
	revoked, rtok, _ := auth.NewToken("revoked", auth.RoleAdmin)
	if err := h.s.store.PutToken(context.Background(), rtok); err != nil {
		t.Fatal(err)
	}
	if err := h.s.store.RevokeToken(context.Background(), rtok.ID); err != nil {
		t.Fatal(err)
	}
	id, _ := auth.ParseSecret(h.admin)
	wrongSecret := "vgl_" + id + "_" + strings.Repeat("A", 43)
	bad := map[string]string{
		"none":      "",
		"malformed": "not-a-token",
		"unknown":   "vgl_aaaaaaaaaaaa_" + strings.Repeat("B", 43),
		"wrong":     wrongSecret,
		"revoked":   revoked,
	}
	for _, rt := range routes {
		for name, tok := range bad {
			code, body := h.req(t, rt.method, rt.path, tok, strings.NewReader(rt.body))
			if code != http.StatusUnauthorized {
				t.Errorf("%s %s with %s token: %d %s, want 401", rt.method, rt.path, name, code, body)
			}
			if tok != "" && strings.Contains(string(body), tok) {
				t.Errorf("%s %s: answer repeats the token", rt.method, rt.path)
			}
		}
		for role, tok := range h.tokens {
			code, body := h.req(t, rt.method, rt.path, tok, strings.NewReader(rt.body))
			allowed := role.Allows(rt.need)
			switch {
			case allowed && (code == 401 || code == 403):
				t.Errorf("%s %s as %s: %d %s, want allowed", rt.method, rt.path, role, code, body)
			case !allowed && code != http.StatusForbidden:
				t.Errorf("%s %s as %s: %d %s, want 403", rt.method, rt.path, role, code, body)
			}
		}
	}
	if code, _ := h.req(t, "GET", "/healthz", "", nil); code != 200 {
		t.Errorf("/healthz without token: %d", code)
	}
}

// TestBadInputIsCountedAndIngestGoesOn sends malformed and oversized
// requests and syslog messages, then good data, which must still be
// ingested and processed.
func TestBadInputIsCountedAndIngestGoesOn(t *testing.T) {
	h := newHarness(t, func(o *Options) {
		o.MaxBody = 1 << 20
		o.MaxMessage = 4096
	})
	tok := h.tokens[auth.RoleIngest]
	post := func(body []byte, hdr ...string) (int, map[string]any) {
		code, b := h.req(t, "POST", "/api/v1/events", tok, bytes.NewReader(body), hdr...)
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("answer is not JSON: %d %q", code, b)
		}
		return code, m
	}
	// Oversized body.
	big := bytes.Repeat([]byte(`{"EventID":4688,"CommandLine":"`+strings.Repeat("x", 1000)+`"}`+"\n"), 2000)
	if code, m := post(big); code != http.StatusRequestEntityTooLarge || m["error"] == nil {
		t.Errorf("oversized body: %d %v", code, m)
	}
	// Oversized without a length (chunked): what was read before the
	// limit is queued and counted, the answer says where it stopped.
	code, b := h.req(t, "POST", "/api/v1/events", tok, io.MultiReader(bytes.NewReader(big)))
	var partial ingestResult
	if err := json.Unmarshal(b, &partial); err != nil || code != http.StatusRequestEntityTooLarge || partial.Accepted == 0 || partial.Error == "" {
		t.Errorf("oversized chunked body: %d %s", code, b)
	}
	// Not gzip although it says so.
	if code, m := post([]byte("plain"), "Content-Encoding", "gzip"); code != http.StatusBadRequest {
		t.Errorf("bad gzip: %d %v", code, m)
	}
	// Nothing valid.
	if code, m := post([]byte("not json\n[1,2]\n\"s\"\n")); code != http.StatusBadRequest || m["rejected"].(float64) != 3 {
		t.Errorf("garbage: %d %v", code, m)
	}
	// Empty.
	if code, _ := post(nil); code != http.StatusBadRequest {
		t.Errorf("empty body: %d", code)
	}
	// Mixed: good lines are accepted, bad ones reported with their line.
	code, m := post([]byte("{\"a\":1}\n{broken\n\n{\"b\":2}\n"))
	if code != http.StatusAccepted || m["accepted"].(float64) != 2 || m["rejected"].(float64) != 1 {
		t.Errorf("mixed: %d %v", code, m)
	}
	if errs, _ := m["errors"].([]any); len(errs) != 1 || errs[0].(map[string]any)["line"].(float64) != 2 {
		t.Errorf("mixed errors: %v", m["errors"])
	}
	// Malformed API parameters.
	for _, q := range []string{"since=yesterday", "limit=0", "limit=abc", "cursor=bm90LWEtY3Vyc29y"} {
		if code, b := h.req(t, "GET", "/api/v1/detections?"+q, h.admin, nil); code != http.StatusBadRequest {
			t.Errorf("detections?%s: %d %s", q, code, b)
		}
	}
	if code, b := h.req(t, "PATCH", "/api/v1/rules/no-such-rule", h.admin, strings.NewReader(`{"enabled":false}`)); code != 404 {
		t.Errorf("unknown rule: %d %s", code, b)
	}
	if code, b := h.req(t, "PATCH", "/api/v1/rules/x", h.admin, strings.NewReader(`{"enabled":"no","x":1}`)); code != 400 {
		t.Errorf("bad rule body: %d %s", code, b)
	}

	// Syslog: an oversized TCP frame, garbage, a truncated octet count,
	// then good messages.
	udp, streams := h.s.SyslogAddrs()
	c, err := net.Dial("tcp", streams[0])
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "<13>1 2024-01-02T03:04:05Z host app - - - %s\n", strings.Repeat("y", 10000))
	fmt.Fprintf(c, "\x00\x01\x02 binary junk\n")
	fmt.Fprintf(c, "<34>1 2024-01-02T03:04:05Z host1 sshd 42 - - Corrupted MAC on input\n")
	c.Close()
	uc, err := net.Dial("udp", udp)
	if err != nil {
		t.Fatal(err)
	}
	uc.Write([]byte("<999>garbage"))
	uc.Write([]byte("<13>Jan  2 03:04:05 host2 sudo: a good message"))
	uc.Close()

	// Every good event arrives: 2 over HTTP, and over syslog the junk
	// (kept as text), the bad PRI (kept as text), and two good messages.
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, b := h.req(t, "GET", "/api/v1/stats", h.admin, nil)
		var st statsAnswer
		if code != 200 || json.Unmarshal(b, &st) != nil {
			t.Fatalf("stats: %d %s", code, b)
		}
		if st.Processed >= int64(partial.Accepted)+6 {
			if st.Processed != int64(partial.Accepted)+6 {
				t.Errorf("processed %d events, want %d: %s", st.Processed, partial.Accepted+6, b)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stats after 20 s: %s", b)
		}
		time.Sleep(100 * time.Millisecond)
	}
	code, b = h.req(t, "GET", "/metrics", h.admin, nil)
	if code != 200 {
		t.Fatal(code)
	}
	for _, want := range []string{
		`vigil_events_rejected_total{reason="too-large",source="syslog-tcp"} 1`,
		`vigil_events_rejected_total{reason="too-large",source="http"} 2`,
		`vigil_events_rejected_total{reason="bad-gzip",source="http"} 1`,
		`vigil_events_rejected_total{reason="bad-record",source="http"} 5`, // 4 + the line cut by the limit
	} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestIdempotencyKey posts the same request twice with one key: the
// events are queued once.
func TestIdempotencyKey(t *testing.T) {
	h := newHarness(t, nil)
	tok := h.tokens[auth.RoleIngest]
	body := "{\"a\":1}\n{\"b\":2}\n"
	for range 2 {
		if code, b := h.req(t, "POST", "/api/v1/events", tok, strings.NewReader(body), "Idempotency-Key", "k1"); code != 202 {
			t.Fatalf("%d %s", code, b)
		}
	}
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	zw.Write([]byte(body))
	zw.Close()
	if code, b := h.req(t, "POST", "/api/v1/events", tok, &zb, "Idempotency-Key", "k2"); code != 202 {
		t.Fatalf("%d %s", code, b)
	}
	time.Sleep(time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, _ := h.s.store.Stats(context.Background())
		if st.Processed >= 4 || time.Now().After(deadline) {
			if st.Processed != 4 {
				t.Fatalf("processed %d events, want 4 (two requests of two, the repeat ignored)", st.Processed)
			}
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestOpenAPIDescribesEveryRoute holds the OpenAPI document and the routes
// together, and checks the document the server serves.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	h := newHarness(t, nil)
	code, b := h.req(t, "GET", "/api/openapi.json", h.tokens[auth.RoleViewer], nil)
	if code != 200 {
		t.Fatalf("%d %s", code, b)
	}
	var doc struct {
		OpenAPI string                               `json:"openapi"`
		Paths   map[string]map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("openapi %q", doc.OpenAPI)
	}
	n := 0
	for _, rt := range h.s.routes() {
		op, ok := doc.Paths[rt.path][strings.ToLower(rt.method)]
		if !ok {
			t.Errorf("%s %s is not in openapi.json", rt.method, rt.path)
			continue
		}
		n++
		if _, ok := op["responses"]; !ok {
			t.Errorf("%s %s: no responses", rt.method, rt.path)
		}
		sec, hasSec := op["security"]
		if open := rt.need == ""; open != (hasSec && len(sec.([]any)) == 0) {
			t.Errorf("%s %s: security in openapi.json does not match the route (need %q)", rt.method, rt.path, rt.need)
		}
	}
	described := 0
	for _, ops := range doc.Paths {
		described += len(ops)
	}
	if described != n {
		t.Errorf("openapi.json describes %d operations, the server has %d", described, n)
	}
}

// TestBackpressure: with no worker consuming, the queue fills to its byte
// limit and ingest answers 503 with Retry-After, counting exactly what it
// queued; nothing is accepted beyond the limit.
func TestBackpressure(t *testing.T) {
	h := newHarness(t, func(o *Options) {
		o.Role = RoleIngest
		o.MaxQueueBytes = 4 << 20
	})
	tok := h.tokens[auth.RoleIngest]
	line := `{"EventID":4688,"CommandLine":"` + strings.Repeat("a", 900) + `"}` + "\n"
	body := strings.Repeat(line, 1000) // ~1 MB, two batches
	accepted := 0
	for i := 0; i < 20; i++ {
		r, err := http.NewRequest("POST", h.base+"/api/v1/events", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var res ingestResult
		if err := json.Unmarshal(b, &res); err != nil {
			t.Fatal(err)
		}
		accepted += res.Accepted
		if resp.StatusCode == http.StatusServiceUnavailable {
			if resp.Header.Get("Retry-After") == "" || !strings.Contains(res.Error, "full") {
				t.Errorf("503 without Retry-After or reason: %s", b)
			}
			_, msgs, err := h.s.bus.StreamBytes(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if int(msgs)*500 < accepted-500 || accepted == 0 {
				t.Errorf("accepted %d events, the queue holds %d batches", accepted, msgs)
			}
			return
		}
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("%d %s", resp.StatusCode, b)
		}
	}
	t.Fatalf("20 MB accepted into a 4 MiB queue without refusal")
}

// TestDisableRule: a disabled rule stops producing detections on the
// workers and is listed as disabled; enabling it brings it back.
func TestDisableRule(t *testing.T) {
	h := newHarness(t, nil)
	const ruleID = "fc80774e-c4f4-4060-9df4-24c9e72cb33c" // built-in: Security Event Log Cleared
	event := `{"Channel":"Security","EventID":1102,"Provider_Name":"Microsoft-Windows-Eventlog","Computer":"ws1"}` + "\n"
	post := func() {
		if code, b := h.req(t, "POST", "/api/v1/events", h.tokens[auth.RoleIngest], strings.NewReader(event)); code != 202 {
			t.Fatalf("%d %s", code, b)
		}
	}
	count := func() int {
		code, b := h.req(t, "GET", "/api/v1/detections?rule_id="+ruleID, h.tokens[auth.RoleViewer], nil)
		if code != 200 {
			t.Fatalf("%d %s", code, b)
		}
		var page struct{ Detections []json.RawMessage }
		json.Unmarshal(b, &page)
		return len(page.Detections)
	}
	post()
	h.waitProcessed(t, 1, 10*time.Second)
	if n := count(); n != 1 {
		t.Fatalf("%d detections before disabling, want 1", n)
	}
	if code, b := h.req(t, "PATCH", "/api/v1/rules/"+ruleID, h.tokens[auth.RoleAnalyst], strings.NewReader(`{"enabled":false}`)); code != 200 || !strings.Contains(string(b), `"enabled":false`) {
		t.Fatalf("disable: %d %s", code, b)
	}
	_, b := h.req(t, "GET", "/api/v1/rules", h.tokens[auth.RoleViewer], nil)
	var rules struct{ Rules []ruleInfo }
	json.Unmarshal(b, &rules)
	for _, r := range rules.Rules {
		if r.ID == ruleID && r.Enabled {
			t.Error("GET /api/v1/rules lists the rule as enabled")
		}
	}
	time.Sleep(2500 * time.Millisecond) // workers re-read disabled rules every 2 s
	post()
	h.waitProcessed(t, 2, 10*time.Second)
	if n := count(); n != 1 {
		t.Fatalf("%d detections after disabling, want still 1", n)
	}
	h.req(t, "PATCH", "/api/v1/rules/"+ruleID, h.tokens[auth.RoleAnalyst], strings.NewReader(`{"enabled":true}`))
	time.Sleep(2500 * time.Millisecond)
	post()
	h.waitProcessed(t, 3, 10*time.Second)
	if n := count(); n != 2 {
		t.Fatalf("%d detections after enabling again, want 2", n)
	}
}
