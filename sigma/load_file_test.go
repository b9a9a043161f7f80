package sigma

import (
	"os"
	"path/filepath"
	"testing"
)

func TestLoadDirSingleFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "one.yml")
	rule := "title: One\nid: 11111111-2222-3333-4444-555555555555\nlogsource: {product: windows}\ndetection:\n    sel: {EventID: 1}\n    condition: sel\n"
	if err := os.WriteFile(p, []byte(rule), 0o644); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "other.yml"), []byte(rule), 0o644)
	set, err := LoadDir(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Files) != 1 || set.Files[0].Path != p || len(set.Refusals) != 0 {
		t.Fatalf("loading one file gave %d files (%v), refusals %v", len(set.Files), set.Files, set.Refusals)
	}
}
