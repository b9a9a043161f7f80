package feeds

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-defense/vigil/internal/intel"
	"github.com/vigil-defense/vigil/internal/taxii"
)

// bundle returns a STIX bundle of indicators for domains.
func bundle(domains ...string) []byte {
	var objs []string
	for i, d := range domains {
		objs = append(objs, fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-%012d","created":"2024-01-01T00:00:00Z","modified":"2024-01-01T00:00:00Z","pattern":"[domain-name:value = '%s']","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z"}`, i+1, d))
	}
	return []byte(`{"type":"bundle","id":"bundle--00000000-0000-4000-8000-000000000001","objects":[` + strings.Join(objs, ",") + `]}`)
}

func mustConfig(t *testing.T, yml string) *Config {
	t.Helper()
	cfg, err := ParseConfig(filepath.Join(t.TempDir(), "feeds.yml"), []byte(yml))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

func lookup(t *testing.T, dir, value string) int {
	t.Helper()
	idx, _ := intel.LoadPaths([]string{dir})
	_, ms := idx.Lookup(value)
	return len(ms)
}

func TestETagNotModified(t *testing.T) {
	var mu sync.Mutex
	var inm []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		inm = append(inm, r.Header.Get("If-None-Match"))
		mu.Unlock()
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", `"v1"`)
		w.Write(bundle("evil.example", "bad.example"))
	}))
	defer srv.Close()
	cfg := mustConfig(t, "feeds:\n  - name: stix\n    url: "+srv.URL+"/bundle.json\n")
	u := &Updater{Dir: t.TempDir()}
	r := u.UpdateFeed(context.Background(), cfg.Feeds[0])
	if r.Status != Updated || r.Indicators != 2 || r.Err != nil {
		t.Fatalf("first update: %+v", r)
	}
	if r.Path != filepath.Join(u.Dir, "stix.json") {
		t.Errorf("copy at %s", r.Path)
	}
	// Not due within the refresh interval, unless forced.
	if r := u.UpdateFeed(context.Background(), cfg.Feeds[0]); r.Status != NotDue {
		t.Fatalf("second update without force: %v", r.Status)
	}
	u.Force = true
	r = u.UpdateFeed(context.Background(), cfg.Feeds[0])
	if r.Status != NotModified || r.Indicators != 2 {
		t.Fatalf("forced update: %+v", r)
	}
	if len(inm) != 2 || inm[0] != "" || inm[1] != `"v1"` {
		t.Errorf("If-None-Match sent: %q", inm)
	}
	if n := lookup(t, u.Dir, "www.evil.example"); n != 1 {
		t.Errorf("cache folder lookup: %d matches", n)
	}
	st, err := os.ReadFile(filepath.Join(u.Dir, ".stix.state.json"))
	if err != nil || !strings.Contains(string(st), `"etag": "\"v1\""`) {
		t.Errorf("state: %s %v", st, err)
	}
}

func TestFailedDownloadKeepsCopy(t *testing.T) {
	var mode string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch mode {
		case "good":
			w.Write([]byte("# blocklist\nevil.example\nbad.example\nnot a domain at all\n"))
		case "500":
			http.Error(w, "oops", http.StatusInternalServerError)
		case "garbage":
			w.Write([]byte("\x00\x01 binary junk ]]]\n%%%%\n"))
		case "html":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Write([]byte("<html><body>login</body></html>\n"))
		case "empty":
		}
	}))
	defer srv.Close()
	cfg := mustConfig(t, "feeds:\n  - name: list\n    url: "+srv.URL+"/list.txt\n")
	u := &Updater{Dir: t.TempDir(), Force: true}
	mode = "good"
	r := u.UpdateFeed(context.Background(), cfg.Feeds[0])
	if r.Status != Updated || r.Indicators != 2 {
		t.Fatalf("good: %+v", r)
	}
	// The bad entry is reported with its line and skipped.
	if len(r.Errors) != 1 || !strings.Contains(r.Errors[0].Error(), "list.txt:4") {
		t.Errorf("bad entries: %v", r.Errors)
	}
	good, _ := os.ReadFile(r.Path)
	for _, tc := range []struct{ mode, reason string }{
		{"500", "HTTP 500 Internal Server Error"},
		{"garbage", "nothing in the download could be loaded"},
		{"html", "HTML page"},
		{"empty", "holds no indicator (the copy in the cache has 2)"},
	} {
		mode = tc.mode
		r := u.UpdateFeed(context.Background(), cfg.Feeds[0])
		if r.Status != Failed || r.Err == nil || !strings.Contains(r.Err.Error(), tc.reason) {
			t.Errorf("%s: %v %v, want failed with %q", tc.mode, r.Status, r.Err, tc.reason)
		}
		if r.Indicators != 2 {
			t.Errorf("%s: result says %d indicators, the kept copy has 2", tc.mode, r.Indicators)
		}
		now, _ := os.ReadFile(filepath.Join(u.Dir, "list.txt"))
		if string(now) != string(good) {
			t.Errorf("%s: the good copy was replaced", tc.mode)
		}
	}
	ents, _ := os.ReadDir(u.Dir)
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file left: %s", e.Name())
		}
	}
}

func TestAuthFromEnvironment(t *testing.T) {
	const token, user, password = "s3cr3t-t0ken-value", "alice", "pa55-w0rd-value"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/bearer.csv":
			if r.Header.Get("Authorization") != "Bearer "+token {
				http.Error(w, "no", http.StatusUnauthorized)
				return
			}
			w.Write([]byte("first_seen,ioc,note\n2024-01-01,evil.example,c2\n2024-01-02,10.9.8.7,scanner\n"))
		case "/basic.txt":
			u, p, ok := r.BasicAuth()
			if !ok || u != user || p != password {
				http.Error(w, "no", http.StatusUnauthorized)
				return
			}
			w.Write([]byte("evil.example\n"))
		}
	}))
	defer srv.Close()
	cfg := mustConfig(t, `feeds:
  - name: partner
    url: `+srv.URL+`/bearer.csv
    format: csv
    column: 2
    tlp: green
    confidence: 70
    auth: {type: bearer, token_env: T_TOKEN}
  - name: isac
    url: `+srv.URL+`/basic.txt
    auth: {type: basic, user_env: T_USER, password_env: T_PASSWORD}
`)
	env := map[string]string{"T_TOKEN": token, "T_USER": user, "T_PASSWORD": password}
	u := &Updater{Dir: t.TempDir(), Getenv: func(k string) string { return env[k] }}
	var out strings.Builder
	show := func(rs []Result) {
		for _, r := range rs {
			fmt.Fprintf(&out, "%+v %#v %v\n", r, r, r.Err)
		}
	}
	rs := u.Update(context.Background(), cfg, nil)
	show(rs)
	if rs[0].Status != Updated || rs[0].Indicators != 2 || rs[1].Status != Updated || rs[1].Indicators != 1 {
		t.Fatalf("results: %s", out.String())
	}
	// The CSV feed is stored normalised, with its tlp and confidence.
	idx, errs := intel.LoadPaths([]string{u.Dir})
	if len(errs) > 0 {
		t.Errorf("loading the cache: %v", errs)
	}
	_, ms := idx.Lookup("10.9.8.7")
	if len(ms) != 1 || ms[0].Indicator.TLP != "green" || ms[0].Indicator.Confidence != 70 || ms[0].Indicator.Source != "partner" {
		t.Errorf("lookup in the cache: %+v", ms)
	}
	// Wrong and missing secrets fail with a reason that holds no secret.
	env["T_TOKEN"] = "wrong-" + token
	env["T_PASSWORD"] = ""
	u.Force = true
	rs = u.Update(context.Background(), cfg, nil)
	show(rs)
	if rs[0].Status != Failed || !strings.Contains(rs[0].Err.Error(), "401") {
		t.Errorf("wrong token: %v", rs[0].Err)
	}
	if rs[1].Status != Failed || !strings.Contains(rs[1].Err.Error(), "T_PASSWORD") {
		t.Errorf("missing password: %v", rs[1].Err)
	}
	for _, f := range []string{".partner.state.json", ".isac.state.json", "partner.csv", "isac.txt"} {
		data, _ := os.ReadFile(filepath.Join(u.Dir, f))
		out.Write(data)
	}
	for _, secret := range []string{token, password} {
		if strings.Contains(out.String(), secret) {
			t.Errorf("a secret appears in the results or the cache:\n%s", out.String())
		}
	}
}

func TestTAXIIIncremental(t *testing.T) {
	store := taxii.NewMemoryStore()
	srv, err := taxii.NewServer(taxii.Config{Auth: mustBasic(t, "reader", "r3ader-passw0rd")})
	if err != nil {
		t.Fatal(err)
	}
	const coll = "6d3e2b4c-8a1f-4f61-9d0e-2c7b5a4e3f10"
	if err := srv.AddCollection(taxii.Collection{ID: coll, Title: "partner"}, store); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var addedAfter []string
	hs := httptest.NewServer(http.StripPrefix("/taxii", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		addedAfter = append(addedAfter, r.URL.Query().Get("added_after"))
		mu.Unlock()
		srv.ServeHTTP(w, r)
	})))
	defer hs.Close()
	add := func(at time.Time, i int, domain string) {
		raw := fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-%012d","created":"2024-01-01T00:00:00Z","modified":"%s","pattern":"[domain-name:value = '%s']","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z"}`, i, at.Format(time.RFC3339Nano), domain)
		id := fmt.Sprintf("indicator--00000000-0000-4000-8000-%012d", i)
		if err := store.Add(context.Background(), taxii.Object{ID: id, Type: "indicator", Version: at, DateAdded: at, Raw: json.RawMessage(raw)}); err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	add(t0, 1, "one.example")
	add(t0.Add(time.Second), 2, "two.example")
	cfg := mustConfig(t, `feeds:
  - name: isac
    taxii: {api_root: `+hs.URL+`/taxii/vigil, collection: `+coll+`}
    auth: {type: basic, user_env: U, password_env: P}
`)
	env := map[string]string{"U": "reader", "P": "r3ader-passw0rd"}
	u := &Updater{Dir: t.TempDir(), Force: true, Getenv: func(k string) string { return env[k] }}
	r := u.UpdateFeed(context.Background(), cfg.Feeds[0])
	if r.Status != Updated || r.Indicators != 2 {
		t.Fatalf("first pull: %+v", r)
	}
	// Nothing new: not modified, asked with added_after.
	r = u.UpdateFeed(context.Background(), cfg.Feeds[0])
	if r.Status != NotModified || r.Indicators != 2 {
		t.Fatalf("second pull: %+v", r)
	}
	// A new object and a new version of an old one: merged in.
	add(t0.Add(time.Minute), 3, "three.example")
	add(t0.Add(2*time.Minute), 1, "uno.example")
	r = u.UpdateFeed(context.Background(), cfg.Feeds[0])
	if r.Status != Updated || r.Indicators != 3 {
		t.Fatalf("third pull: %+v", r)
	}
	for v, want := range map[string]int{"one.example": 0, "uno.example": 1, "two.example": 1, "three.example": 1} {
		if n := lookup(t, u.Dir, v); n != want {
			t.Errorf("%s: %d matches, want %d", v, n, want)
		}
	}
	var withAfter []string
	for _, a := range addedAfter {
		if a != "" {
			withAfter = append(withAfter, a)
		}
	}
	if len(withAfter) < 2 || !strings.HasPrefix(withAfter[0], "2025-03-01T10:00:01") {
		t.Errorf("added_after sent: %q", addedAfter)
	}
}

func mustBasic(t *testing.T, user, password string) taxii.Authenticator {
	t.Helper()
	a, err := taxii.NewBasicAuth(map[string]string{user: password})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestConfigErrors(t *testing.T) {
	_, err := ParseConfig("feeds.yml", []byte(`feeds:
  - name: a
    url: ftp://x/y
  - name: a
    url: https://user:pw@example.org/x
    format: stixx
    auth: {type: bearer}
  - name: c
    path: x.txt
    url: https://example.org/
    refresh: soon
`))
	want := []string{
		"feeds.yml:3:10: url \"ftp://x/y\": want an http:// or https:// URL",
		"feeds.yml:4:11: feed name \"a\" is used twice",
		"feeds.yml:5:10: url \"https://user:xxxxx@example.org/x\" holds credentials",
		"feeds.yml:6:13: format \"stixx\" is not known",
		"feeds.yml:7:11: auth bearer: token_env is missing",
		"feed \"c\": give exactly one of url, path and taxii",
		"feeds.yml:11:14: refresh \"soon\"",
	}
	if err == nil {
		t.Fatal("no error")
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("missing %q in\n%v", w, err)
		}
	}
	if strings.Contains(err.Error(), ":pw@") {
		t.Errorf("the password is in the error: %v", err)
	}
}

// TestExampleConfig checks that the example configuration is valid.
func TestExampleConfig(t *testing.T) {
	data, err := os.ReadFile("testdata/feeds.yml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ParseConfig("testdata/feeds.yml", []byte(strings.ReplaceAll(string(data), "{{BASE}}", "http://127.0.0.1:1")))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Feeds) != 4 || cfg.Feeds[1].Type != intel.TypeDomain || cfg.Feeds[3].TAXII == nil {
		t.Errorf("feeds: %+v", cfg.Feeds)
	}
}

// TestCorpusFormats serves real feeds of the shared corpus and updates
// them through the cache.
func TestCorpusFormats(t *testing.T) {
	corpus := "../../../shared/corpus/intel"
	if _, err := os.Stat(corpus); err != nil {
		t.Skipf("shared corpus absent (%s): real feed formats not exercised", corpus)
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(corpus)))
	defer srv.Close()
	cfg := mustConfig(t, `feeds:
  - name: kev
    url: `+srv.URL+`/kev/known_exploited_vulnerabilities.json
  - name: feodo
    url: `+srv.URL+`/blocklists/feodotracker/ipblocklist_recommended.json
  - name: cert-fr
    url: `+srv.URL+`/misp-feed/cert-fr/MISP-ANSSI/
    format: misp-feed
`)
	u := &Updater{Dir: t.TempDir()}
	for _, r := range u.Update(context.Background(), cfg, nil) {
		if r.Status != Updated || r.Indicators == 0 {
			t.Errorf("%s: %v %v, %d indicators", r.Feed, r.Status, r.Err, r.Indicators)
		}
	}
	u.Force = true
	for _, r := range u.Update(context.Background(), cfg, nil) {
		if r.Status != NotModified {
			t.Errorf("%s again: %v %v", r.Feed, r.Status, r.Err)
		}
	}
}

// TestCompressedDownloads updates feeds served compressed, as many are: a
// gzip'd list (stored decompressed, its options applied), a zip of one
// STIX bundle, and a zip of two files (stored as the archive); a damaged
// archive fails and keeps the good copy.
func TestCompressedDownloads(t *testing.T) {
	gz := func(data []byte) []byte {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(data)
		zw.Close()
		return buf.Bytes()
	}
	zipOf := func(files ...string) []byte {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		for i := 0; i+1 < len(files); i += 2 {
			w, _ := zw.Create(files[i])
			w.Write([]byte(files[i+1]))
		}
		zw.Close()
		return buf.Bytes()
	}
	var damaged bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		switch r.URL.Path {
		case "/list.txt.gz":
			data := gz([]byte("evil.example\nbad.example\n"))
			if damaged {
				data = data[:len(data)/2]
			}
			w.Write(data)
		case "/one.zip":
			w.Write(zipOf("bundle.json", string(bundle("zipped.example"))))
		case "/two.zip":
			w.Write(zipOf("README.md", "docs", "a.json", string(bundle("first.example")), "b.csv", "type,value\nipv4,198.51.100.9\n"))
		}
	}))
	defer srv.Close()
	cfg := mustConfig(t, "feeds:\n  - name: list\n    url: "+srv.URL+"/list.txt.gz\n    tlp: green\n  - name: one\n    url: "+srv.URL+"/one.zip\n  - name: two\n    url: "+srv.URL+"/two.zip\n")
	u := &Updater{Dir: t.TempDir(), Force: true}
	for _, c := range []struct {
		feed  int
		file  string
		count int
	}{{0, "list.csv", 2}, {1, "one.json", 1}, {2, "two.zip", 2}} {
		r := u.UpdateFeed(context.Background(), cfg.Feeds[c.feed])
		if r.Status != Updated || r.Indicators != c.count || r.Err != nil || len(r.Errors) > 0 {
			t.Fatalf("%s: %+v", cfg.Feeds[c.feed].Name, r)
		}
		if r.Path != filepath.Join(u.Dir, c.file) {
			t.Errorf("%s: copy at %s, want %s", cfg.Feeds[c.feed].Name, r.Path, c.file)
		}
	}
	idx, errs := intel.LoadPaths([]string{u.Dir})
	if len(errs) > 0 {
		t.Fatalf("loading the cache: %v", errs)
	}
	for _, v := range []string{"www.evil.example", "zipped.example", "first.example", "198.51.100.9"} {
		if _, ms := idx.Lookup(v); len(ms) != 1 {
			t.Errorf("%s: %d matches in the cache", v, len(ms))
		}
	}
	if _, ms := idx.Lookup("evil.example"); len(ms) != 1 || ms[0].Indicator.TLP != "green" {
		t.Errorf("the gzip'd list's tlp option was not applied: %+v", ms)
	}
	good, _ := os.ReadFile(filepath.Join(u.Dir, "list.csv"))
	damaged = true
	r := u.UpdateFeed(context.Background(), cfg.Feeds[0])
	if r.Status != Failed || r.Err == nil || !strings.Contains(r.Err.Error(), "damaged or truncated") {
		t.Errorf("damaged download: %v %v", r.Status, r.Err)
	}
	if now, _ := os.ReadFile(filepath.Join(u.Dir, "list.csv")); string(now) != string(good) {
		t.Error("a damaged download replaced the good copy")
	}
}
