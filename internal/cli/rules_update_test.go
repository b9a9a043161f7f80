package cli

import (
	"archive/zip"
	"bytes"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-defense/vigil/rules"
)

// releaseZip builds a release-like zip from the built-in rule pack, with
// extra entries.
func releaseZip(t *testing.T, extra map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	fs.WalkDir(rules.FS, "windows", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := fs.ReadFile(rules.FS, p)
		w, _ := zw.Create("rules/" + p)
		w.Write(b)
		return nil
	})
	for name, body := range extra {
		w, _ := zw.Create(name)
		w.Write([]byte(body))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRulesUpdate(t *testing.T) {
	good := releaseZip(t, nil)
	var serve []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if serve == nil {
			http.Error(w, "gone", http.StatusNotFound)
			return
		}
		w.Write(serve)
	}))
	defer srv.Close()
	dir := filepath.Join(t.TempDir(), "sigma")

	serve = good
	code, out, errOut := runCLI(t, "rules", "update", "--dir", dir, "--url", srv.URL)
	if code != 0 {
		t.Fatalf("first update: exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "installed 104 rules") || !strings.Contains(out, "104 files added, 0 removed, 0 changed") {
		t.Errorf("first update said: %s", out)
	}

	// A failed download leaves the installed rules alone.
	serve = nil
	code, _, errOut = runCLI(t, "rules", "update", "--dir", dir, "--url", srv.URL)
	if code != 1 || !strings.Contains(errOut, "left as they were") {
		t.Errorf("failed download: exit %d: %s", code, errOut)
	}
	// So does a corrupt archive, and one that tries to write outside the folder.
	for name, z := range map[string][]byte{
		"corrupt":  good[:len(good)/2],
		"zip-slip": releaseZip(t, map[string]string{"../../evil.yml": "title: x"}),
	} {
		serve = z
		code, _, errOut = runCLI(t, "rules", "update", "--dir", dir, "--url", srv.URL)
		if code != 1 || !strings.Contains(errOut, "left as they were") {
			t.Errorf("%s: exit %d: %s", name, code, errOut)
		}
	}
	n := 0
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return nil
	})
	if n != 104 {
		t.Errorf("after failed updates %d files are installed, want the 104 of the first", n)
	}

	// A release with one more rule reports it, and --from works offline.
	newer := releaseZip(t, map[string]string{"rules/windows/extra.yml": "title: Extra\nid: 0e0f1f8e-3c3a-4d5e-9c6b-1a2b3c4d5e6f\nlogsource: {product: windows}\ndetection:\n    sel: {EventID: 1}\n    condition: sel\n"})
	zipPath := filepath.Join(t.TempDir(), "release.zip")
	os.WriteFile(zipPath, newer, 0o644)
	code, out, errOut = runCLI(t, "rules", "update", "--dir", dir, "--from", zipPath)
	if code != 0 || !strings.Contains(out, "1 files added, 0 removed, 0 changed") {
		t.Errorf("update from file: exit %d: %s %s", code, out, errOut)
	}
}
