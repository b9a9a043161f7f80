package evtx

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
)

// corpusDir is the shared corpus, relative to this package's directory.
const corpusDir = "../../shared/corpus"

// corpusFiles returns the .evtx files under the shared corpus folders, or
// skips the test when the corpus is absent.
func corpusFiles(t testing.TB, sub ...string) []string {
	t.Helper()
	if _, err := os.Stat(corpusDir); err != nil {
		t.Skipf("shared corpus not found at %s (relative to the evtx package): %v", corpusDir, err)
	}
	var files []string
	for _, s := range sub {
		root := filepath.Join(corpusDir, s)
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && strings.EqualFold(filepath.Ext(p), ".evtx") {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("walking %s: %v", root, err)
		}
	}
	if len(files) == 0 {
		t.Fatalf("no .evtx files under %s %v", corpusDir, sub)
	}
	return files
}

// TestCorpusParses reads every record of every EVTX file of the corpus and
// requires zero problems: these are real, undamaged files.
func TestCorpusParses(t *testing.T) {
	files := corpusFiles(t, "evtx", "sigma/regression_data")
	records := 0
	var buf []byte
	for _, p := range files {
		f, err := Open(p)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		for r, err := range f.Records() {
			if err != nil {
				t.Errorf("%v", err)
				continue
			}
			records++
			buf = r.AppendJSON(buf[:0])
			if !json.Valid(buf) {
				t.Errorf("%s: record %d: invalid JSON: %s", p, r.ID, buf)
			}
			buf = r.AppendXML(buf[:0])
		}
		f.Close()
	}
	t.Logf("%d files, %d records", len(files), records)
}

// publishedJSONErrata lists the places where a published .json disagrees
// with the .evtx beside it; evtxexport reads the .evtx as we do, so the JSON
// is what is wrong. Keyed by file name, then JSON path.
var publishedJSONErrata = map[string]map[string]string{
	// The JSON was rendered by another tool and edited: evtxexport also reads
	// "Explorer.EXE" and a SystemTime of ...26.751156500Z from the .evtx; the
	// evtx_dump layout has microseconds.
	"ad691d92-15f2-4181-9aa4-723c74f9ddc3.evtx": {
		"/Event/EventData/ParentCommandLine":               "the .evtx holds C:\\Windows\\Explorer.EXE",
		"/Event/System/TimeCreated/#attributes/SystemTime": "nanosecond digits from another tool",
	},
}

// TestRegressionJSON checks that every record of each SigmaHQ regression
// sample renders exactly as the published evtx_dump JSON beside it.
func TestRegressionJSON(t *testing.T) {
	files := corpusFiles(t, "sigma/regression_data")
	compared := 0
	for _, p := range files {
		want, err := readJSONStream(strings.TrimSuffix(p, filepath.Ext(p)) + ".json")
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		f, err := Open(p)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		var got []any
		for r, err := range f.Records() {
			if err != nil {
				t.Errorf("%v", err)
				continue
			}
			var v any
			d := json.NewDecoder(bytes.NewReader(r.AppendJSON(nil)))
			d.UseNumber()
			if err := d.Decode(&v); err != nil {
				t.Errorf("%s: record %d: %v", p, r.ID, err)
			}
			got = append(got, v)
		}
		f.Close()
		if len(got) != len(want) {
			t.Errorf("%s: %d records, the published JSON has %d", p, len(got), len(want))
			continue
		}
		for i := range got {
			d := jsonDiff("", got[i], want[i])
			if errata := publishedJSONErrata[filepath.Base(p)]; errata != nil {
				d = slices.DeleteFunc(d, func(line string) bool {
					path, _, _ := strings.Cut(strings.TrimSpace(line), ": ")
					_, known := errata[path]
					return known
				})
			}
			if len(d) > 0 {
				t.Errorf("%s: record %d differs from the published JSON:\n%s", p, i, strings.Join(d, "\n"))
			}
			compared++
		}
	}
	if compared == 0 {
		t.Fatal("no regression sample had a JSON rendering to compare")
	}
	t.Logf("%d records equal to their published JSON", compared)
}

// jsonDiff lists the paths where two decoded JSON values differ.
func jsonDiff(path string, got, want any) []string {
	gm, gok := got.(map[string]any)
	wm, wok := want.(map[string]any)
	if gok && wok {
		var out []string
		for k, wv := range wm {
			gv, ok := gm[k]
			if !ok {
				out = append(out, fmt.Sprintf("  %s/%s: missing (want %v)", path, k, wv))
				continue
			}
			out = append(out, jsonDiff(path+"/"+k, gv, wv)...)
		}
		for k, gv := range gm {
			if _, ok := wm[k]; !ok {
				out = append(out, fmt.Sprintf("  %s/%s: unexpected %v", path, k, gv))
			}
		}
		sort.Strings(out)
		return out
	}
	if !reflect.DeepEqual(got, want) {
		return []string{fmt.Sprintf("  %s: got %#v, want %#v", path, got, want)}
	}
	return nil
}

// readJSONStream decodes a file of concatenated JSON values.
func readJSONStream(path string) ([]any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var out []any
	for {
		var v any
		if err := d.Decode(&v); err == io.EOF {
			return out, nil
		} else if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
}
