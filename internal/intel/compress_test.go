package intel

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const (
	testCSV  = "type,value\nipv4,203.0.113.7\ndomain,evil.example\nsha256,9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\n"
	testSTIX = `{"type":"bundle","id":"bundle--1","objects":[{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2024-01-01T00:00:00Z","modified":"2024-01-01T00:00:00Z","pattern":"[url:value = 'http://bad.example/gate.php']","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z"}]}`
)

func gzipped(t testing.TB, data string) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte(data))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zipped(t testing.TB, files ...string) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for i := 0; i+1 < len(files); i += 2 {
		w, err := zw.Create(files[i])
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(files[i+1]))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// values returns the sorted "type value path" of x's indicators.
func values(x *Index) []string {
	var out []string
	for _, ind := range x.Indicators() {
		out = append(out, ind.Type.String()+" "+ind.Value+" "+ind.Path)
	}
	slices.Sort(out)
	return out
}

// TestCompressedFeeds loads gzip and zip feeds from a folder, as a user's
// download leaves them, and checks they give what the plain files give.
func TestCompressedFeeds(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("iocs.csv.gz", gzipped(t, testCSV))
	write("bundle.zip", zipped(t, "README.md", "not a feed", "docs/", "", "stix/bundle.json", testSTIX, "more.csv.gz", string(gzipped(t, "type,value\nemail,phish@bad.example\n"))))
	write("notes.md.gz", gzipped(t, "# readme: skipped by name"))
	x, errs := LoadPaths([]string{dir})
	if len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}
	got := values(x)
	want := []string{
		"domain evil.example " + filepath.Join(dir, "iocs.csv.gz"),
		"email phish@bad.example " + filepath.Join(dir, "bundle.zip") + "/more.csv.gz",
		"ipv4 203.0.113.7 " + filepath.Join(dir, "iocs.csv.gz"),
		"sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 " + filepath.Join(dir, "iocs.csv.gz"),
		"url http://bad.example/gate.php " + filepath.Join(dir, "bundle.zip") + "/stix/bundle.json",
	}
	if !slices.Equal(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// A compressed file gives what the plain one gives.
	plain := NewBuilder()
	plain.LoadBytes("f", []byte(testCSV), LoadOptions{})
	packed := NewBuilder()
	packed.LoadBytes("f", gzipped(t, testCSV), LoadOptions{})
	px, _ := plain.Build()
	gx, _ := packed.Build()
	if a, b := values(px), values(gx); !slices.Equal(a, b) {
		t.Errorf("gzip %v, plain %v", b, a)
	}
}

// TestCompressedErrors checks that a damaged, oversized, empty or too
// deeply nested archive is reported with the file's name and what to do,
// and that what could be read is kept.
func TestCompressedErrors(t *testing.T) {
	good := gzipped(t, testCSV)
	bomb := gzipped(t, strings.Repeat("0", 64<<10))
	for _, c := range []struct {
		name  string
		data  []byte
		want  string
		count int // indicators loaded anyway
	}{
		{"truncated.csv.gz", good[:len(good)-6], "damaged or truncated", 0},
		{"bad-header.gz", append([]byte{0x1f, 0x8b, 9}, good[3:]...), "damaged or truncated", 0},
		{"bomb.gz", bomb, "decompression bomb", 0},
		// Each file is under the limit, together they are not: the first
		// loads, the second is refused.
		{"many.zip", zipped(t, "a.csv", testCSV+strings.Repeat("#\n", 9<<10), "b.csv", strings.Repeat("#\n", 9<<10)), "zip entry b.csv: expands to more than", 3},
		{"docs.zip", zipped(t, "README.txt", "hello", "LICENSE", "x"), "holds no feed file", 0},
		{"truncated.zip", zipped(t, "a.csv", testCSV)[:40], "damaged or truncated", 0},
		{"deep.zip", zipped(t, "inner.zip", string(zipped(t, "x.csv.gz", string(good)))), "inside two others", 0},
		{"partly.zip", append(zipped(t, "a.csv", testCSV), 0), "", 3}, // trailing garbage: the archive still reads
	} {
		b := NewBuilder()
		b.maxInflated = 32 << 10
		b.LoadBytes(c.name, c.data, LoadOptions{})
		x, _ := b.Build()
		errs := b.Errors()
		if c.want == "" {
			if len(errs) > 0 {
				t.Errorf("%s: errors %v", c.name, errs)
			}
		} else if len(errs) != 1 || !strings.Contains(errs[0].Error(), c.want) || !strings.Contains(errs[0].Error(), c.name) {
			t.Errorf("%s: errors %v, want one naming the file and saying %q", c.name, errs, c.want)
		}
		if x.Len() != c.count {
			t.Errorf("%s: %d indicators, want %d", c.name, x.Len(), c.count)
		}
	}
}

// FuzzLoadCompressed feeds damaged gzip streams and zip archives to the
// loader: it reports them, it never panics or runs away with memory, and
// what it loads keeps the loaders' promises (checkLoaded).
func FuzzLoadCompressed(f *testing.F) {
	f.Add(gzipped(f, testCSV))
	f.Add(zipped(f, "a.csv", testCSV, "b.json", testSTIX))
	f.Add(zipped(f, "c.csv.gz", string(gzipped(f, testCSV))))
	f.Fuzz(func(t *testing.T, data []byte) {
		b := NewBuilder()
		b.maxInflated = 1 << 20
		b.LoadBytes("fuzz", data, LoadOptions{})
		checkLoaded(t, b, "fuzz")
	})
}

// TestCompressedCorpus packs the shared corpus's feed files — each file
// gzip'd, and all of them in one zip archive — and checks that both load
// exactly the indicators (type, value, source, confidence, TLP) and as
// many errors as the plain files. MISP feed folders are left out: a feed is
// a folder, not a file an archive can stand for.
func TestCompressedCorpus(t *testing.T) {
	if testing.Short() {
		t.Skip("loads the corpus's feeds three times (-short)")
	}
	root := corpus(t, "")
	var names []string
	var datas [][]byte
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			if _, err := os.Stat(filepath.Join(p, "manifest.json")); err == nil {
				return filepath.SkipDir
			}
			return nil
		}
		if walkSkips(d.Name()) {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, p)
		names, datas = append(names, filepath.ToSlash(rel)), append(datas, data)
		return nil
	})
	if len(names) < 10 {
		t.Fatalf("only %d feed files under %s", len(names), root)
	}
	summary := func(b *Builder) ([]string, int) {
		x, _ := b.Build()
		var out []string
		for _, ind := range x.Indicators() {
			out = append(out, fmt.Sprintf("%s %s %s %d %s", ind.Type, ind.Value, ind.Source, ind.Confidence, ind.TLP))
		}
		slices.Sort(out)
		return out, len(b.Errors())
	}
	plain, gz, zb := NewBuilder(), NewBuilder(), NewBuilder()
	var entries []string
	for i, name := range names {
		plain.LoadBytes(name, datas[i], LoadOptions{})
		gz.LoadBytes(name+".gz", gzipped(t, string(datas[i])), LoadOptions{})
		entries = append(entries, name, string(datas[i]))
	}
	zb.LoadBytes("corpus.zip", zipped(t, entries...), LoadOptions{})
	want, wantErrs := summary(plain)
	for _, c := range []struct {
		name string
		b    *Builder
	}{{"gzip", gz}, {"zip", zb}} {
		got, errs := summary(c.b)
		if !slices.Equal(got, want) || errs != wantErrs {
			t.Errorf("%s: %d indicators and %d errors, plain files %d and %d", c.name, len(got), errs, len(want), wantErrs)
			for i := range min(len(got), len(want)) {
				if got[i] != want[i] {
					t.Errorf("first difference: %q, plain %q", got[i], want[i])
					break
				}
			}
		}
	}
	t.Logf("%d files, %d indicators, %d errors, the same packed and plain", len(names), len(want), wantErrs)
}
