package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/vigil-defense/vigil/evtx"
)

// update rewrites the golden files under testdata/ from the current output:
//
//	go test ./internal/cli -run TestDumpGolden -update
var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// corpusDir is the shared corpus, relative to this package's directory.
const corpusDir = "../../../shared/corpus"

// goldenSamples are small SigmaHQ regression samples (one and two records)
// whose dump output is kept under testdata/dump/. Their .evtx files are read
// from the shared corpus at test time; only our output is stored here.
var goldenSamples = []string{
	"rules/windows/builtin/taskscheduler/win_taskscheduler_susp_schtasks_delete_or_disable/9e3cb244-bdb8-4632-8c90-6079c8f4f16d.evtx",
	"rules-emerging-threats/2026/Exploits/CVE-2026-33829/proc_creation_win_exploit_cve_2026_33829/7c3a5b1d-9e2f-4a8c-b5d7-1e0f3c6a9b2d.evtx",
}

// corpus returns the path of a file or folder of the shared corpus, or skips
// the test when the corpus is absent.
func corpus(t *testing.T, rel string) string {
	t.Helper()
	if _, err := os.Stat(corpusDir); err != nil {
		t.Skipf("shared corpus not found at %s (relative to internal/cli): %v", corpusDir, err)
	}
	p := filepath.Join(corpusDir, rel)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("corpus file missing: %v", err)
	}
	return p
}

func regression(t *testing.T, rel string) string {
	return corpus(t, filepath.Join("sigma/regression_data", rel))
}

// run calls Run in-process and returns the exit status and both streams.
func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Run(context.Background(), append([]string{"vigil"}, args...), strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// summaryLine matches the line that ends every dump.
var summaryLine = regexp.MustCompile(`^vigil dump: (\d+) files, (\d+) records, (\d+) errors, (\d+) warnings, [0-9.]+(ns|µs|ms|s|m[0-9.]+s|h[0-9hms.]+), [0-9]+\.[0-9] MB/s$`)

// lastLine returns the last line of s.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	return lines[len(lines)-1]
}

// checkSummary requires stderr to end with a summary line with these counts.
func checkSummary(t *testing.T, stderr string, files, records, errors int) {
	t.Helper()
	m := summaryLine.FindStringSubmatch(lastLine(stderr))
	if m == nil {
		t.Fatalf("stderr does not end with a summary line:\n%s", stderr)
	}
	if want := []string{fmt.Sprint(files), fmt.Sprint(records), fmt.Sprint(errors)}; !slices.Equal(m[1:4], want) {
		t.Errorf("summary %q: want %s files, %s records, %s errors", m[0], want[0], want[1], want[2])
	}
}

func TestRun(t *testing.T) {
	notEVTX := filepath.Join(t.TempDir(), "notes.evtx")
	if err := os.WriteFile(notEVTX, []byte("this is a text file, not an event log\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	type check func(t *testing.T, stdout, stderr string)
	contains := func(stream string, subs ...string) check {
		return func(t *testing.T, stdout, stderr string) {
			t.Helper()
			s := stdout
			if stream == "stderr" {
				s = stderr
			}
			for _, sub := range subs {
				if !strings.Contains(s, sub) {
					t.Errorf("%s does not contain %q:\n%s", stream, sub, s)
				}
			}
		}
	}
	empty := func(stream string) check {
		return func(t *testing.T, stdout, stderr string) {
			t.Helper()
			if s := map[string]string{"stdout": stdout, "stderr": stderr}[stream]; s != "" {
				t.Errorf("%s not empty:\n%s", stream, s)
			}
		}
	}
	usage := []string{"Usage: vigil COMMAND [flags] [arguments]", "\n  dump ", "\n  version ", "Run 'vigil COMMAND -h'"}
	tests := []struct {
		name   string
		args   []string
		code   int
		checks []check
	}{
		{"no arguments", nil, 2, []check{empty("stdout"), contains("stderr", usage...)}},
		{"help", []string{"help"}, 0, []check{contains("stdout", usage...), empty("stderr")}},
		{"-h", []string{"-h"}, 0, []check{contains("stdout", usage...)}},
		{"--help", []string{"--help"}, 0, []check{contains("stdout", usage...)}},
		{"unknown command with suggestion", []string{"dmup"}, 2, []check{empty("stdout"),
			contains("stderr", `vigil: unknown command "dmup" (did you mean "dump"?)`, "Run 'vigil help'")}},
		{"unknown command far from any", []string{"frobnicate"}, 2, []check{
			contains("stderr", `vigil: unknown command "frobnicate"`+"\n"),
			func(t *testing.T, _, stderr string) {
				if strings.Contains(stderr, "did you mean") {
					t.Errorf("suggestion for a name far from every command: %s", stderr)
				}
			}}},
		{"version", []string{"version"}, 0, []check{contains("stdout", "vigil "+Version+"\n"), empty("stderr")}},
		{"--version", []string{"--version"}, 0, []check{contains("stdout", "vigil "+Version+"\n")}},
		{"dump without a path", []string{"dump"}, 2, []check{empty("stdout"),
			contains("stderr", "vigil dump: no PATH given", "Usage: vigil dump ", "-format")}},
		{"dump -h", []string{"dump", "-h"}, 0, []check{contains("stderr", "Usage: vigil dump ")}},
		{"dump bad flag", []string{"dump", "--bogus", "x.evtx"}, 2, []check{contains("stderr", "flag provided but not defined: -bogus")}},
		{"dump bad format", []string{"dump", "--format", "yaml", "x.evtx"}, 2, []check{
			contains("stderr", `vigil dump: --format "yaml" is not one of jsonl, json, xml`)}},
		{"dump missing path", []string{"dump", filepath.Join(t.TempDir(), "absent.evtx")}, 2, []check{empty("stdout"),
			contains("stderr", "vigil dump: cannot read ", "absent.evtx: no such file or directory")}},
		{"dump non-EVTX file", []string{"dump", notEVTX}, 1, []check{empty("stdout"),
			contains("stderr", "error: "+notEVTX+": not an EVTX file"),
			func(t *testing.T, _, stderr string) { checkSummary(t, stderr, 0, 0, 1) }}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := run(t, tc.args...)
			if code != tc.code {
				t.Errorf("vigil %s: exit %d, want %d\nstderr:\n%s", strings.Join(tc.args, " "), code, tc.code, stderr)
			}
			for _, c := range tc.checks {
				c(t, stdout, stderr)
			}
		})
	}
}

// TestDumpGolden dumps small regression samples in each format and compares
// the output with testdata/dump/<sample>.<format>.
func TestDumpGolden(t *testing.T) {
	for _, rel := range goldenSamples {
		p := regression(t, rel)
		base := strings.TrimSuffix(filepath.Base(p), ".evtx")
		for _, format := range []string{"jsonl", "json", "xml"} {
			t.Run(base+"."+format, func(t *testing.T) {
				// Flags after the path: they may follow positional arguments.
				code, stdout, stderr := run(t, "dump", p, "--format", format)
				if code != 0 {
					t.Fatalf("exit %d:\n%s", code, stderr)
				}
				records := strings.Count(stdout, "\n") // one record per line
				if format == "json" {
					records = strings.Count(stdout, "\n}\n") // indented objects
				}
				checkSummary(t, stderr, 1, records, 0)
				golden := filepath.Join("testdata", "dump", base+"."+format)
				if *update {
					if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(golden, []byte(stdout), 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run with -update to create it)", err)
				}
				if stdout != string(want) {
					t.Errorf("output differs from %s (run with -update and review the diff):\n%s", golden, lineDiff(stdout, string(want)))
				}
			})
		}
	}
}

// lineDiff lists the first lines where got and want differ.
func lineDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	var b strings.Builder
	n := 0
	for i := 0; i < max(len(g), len(w)) && n < 10; i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			fmt.Fprintf(&b, "line %d:\n  got:  %s\n  want: %s\n", i+1, gl, wl)
			n++
		}
	}
	return b.String()
}

// publishedJSONErrata lists the lines where a published .json is known to
// disagree with the .evtx beside it (see evtx's TestRegressionJSON: the JSON
// was rendered by another tool and edited; evtxexport reads the .evtx as we
// do).
var publishedJSONErrata = map[string][]string{
	"ad691d92-15f2-4181-9aa4-723c74f9ddc3.json": {
		`"SystemTime": "2026-03-20T08:31:26.751156Z"`,       // published: nanosecond digits
		`"ParentCommandLine": "C:\\Windows\\Explorer.EXE",`, // published: Explorer.exe
	},
}

// TestDumpJSONEqualsPublished requires `vigil dump --format json` of every
// SigmaHQ regression sample to be byte for byte the published .json beside
// it, except for the known errata of the published files.
func TestDumpJSONEqualsPublished(t *testing.T) {
	root := corpus(t, "sigma/regression_data")
	var samples []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".evtx") {
			samples = append(samples, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	identical := 0
	for _, p := range samples {
		want, err := os.ReadFile(strings.TrimSuffix(p, ".evtx") + ".json")
		if err != nil {
			continue
		}
		code, stdout, stderr := run(t, "dump", "--format", "json", p)
		if code != 0 {
			t.Errorf("%s: exit %d:\n%s", p, code, stderr)
			continue
		}
		if stdout == string(want) {
			identical++
			continue
		}
		errata := publishedJSONErrata[filepath.Base(p[:len(p)-len(".evtx")])+".json"]
		g, w := strings.Split(stdout, "\n"), strings.Split(string(want), "\n")
		if len(g) != len(w) {
			t.Errorf("%s: %d lines, the published JSON has %d", p, len(g), len(w))
			continue
		}
		for i := range g {
			if g[i] != w[i] && !slices.Contains(errata, strings.TrimSpace(g[i])) {
				t.Errorf("%s: line %d differs from the published JSON:\n  got:  %s\n  want: %s", p, i+1, g[i], w[i])
			}
		}
	}
	if identical == 0 {
		t.Fatal("no regression sample with a published .json")
	}
	t.Logf("%d of %d samples byte for byte equal to their published .json", identical, len(samples))
}

// TestDumpMeta checks the "_source" object that --meta adds beside "Event".
func TestDumpMeta(t *testing.T) {
	p := regression(t, goldenSamples[1])
	code, stdout, stderr := run(t, "dump", "--meta", p)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
	var recs []struct {
		ID     uint64
		Offset int64
	}
	f, err := evtx.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for r, err := range f.Records() {
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, struct {
			ID     uint64
			Offset int64
		}{r.ID, r.Offset})
	}
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if len(lines) != len(recs) || len(lines) != 2 {
		t.Fatalf("%d lines for %d records, want 2:\n%s", len(lines), len(recs), stdout)
	}
	for i, line := range lines {
		var v struct {
			Source map[string]any `json:"_source"`
		}
		d := json.NewDecoder(strings.NewReader(line))
		d.UseNumber()
		if err := d.Decode(&v); err != nil {
			t.Fatalf("line %d: %v: %s", i+1, err, line)
		}
		var keys []string
		for k := range v.Source {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if want := []string{"chunk", "file", "offset", "record_id"}; !slices.Equal(keys, want) {
			t.Fatalf("line %d: _source keys %v, want %v", i+1, keys, want)
		}
		if v.Source["file"] != p {
			t.Errorf("line %d: _source.file %v, want %q", i+1, v.Source["file"], p)
		}
		if v.Source["chunk"] != json.Number("0") {
			t.Errorf("line %d: _source.chunk %v, want 0", i+1, v.Source["chunk"])
		}
		// record_id is the record header's identifier (which need not be
		// the EventRecordID of an exported log), offset the record's.
		if want := fmt.Sprint(recs[i].ID); v.Source["record_id"] != json.Number(want) {
			t.Errorf("line %d: _source.record_id %v, want %s", i+1, v.Source["record_id"], want)
		}
		if want := fmt.Sprint(recs[i].Offset); v.Source["offset"] != json.Number(want) {
			t.Errorf("line %d: _source.offset %v, want %s", i+1, v.Source["offset"], want)
		}
		if !strings.HasPrefix(line, `{"Event":{`) || !strings.Contains(line, `},"_source":{"file":`) {
			t.Errorf("line %d: _source is not beside Event: %s", i+1, line)
		}
	}
}

// TestDumpOutputFile checks that --output writes what stdout would get.
func TestDumpOutputFile(t *testing.T) {
	p := regression(t, goldenSamples[1])
	_, want, _ := run(t, "dump", p)
	out := filepath.Join(t.TempDir(), "out.jsonl")
	code, stdout, stderr := run(t, "dump", "--output", out, p)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
	if stdout != "" {
		t.Errorf("stdout not empty with --output:\n%s", stdout)
	}
	checkSummary(t, stderr, 1, 2, 0)
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want || want == "" {
		t.Errorf("--output file differs from the stdout output:\n%s", lineDiff(string(got), want))
	}
	// An output file that cannot be created is a usage error.
	code, _, stderr = run(t, "dump", "--output", filepath.Join(t.TempDir(), "no", "such", "dir.jsonl"), p)
	if code != 2 || !strings.Contains(stderr, "vigil dump: cannot write the output: no such file or directory") {
		t.Errorf("unwritable --output: exit %d, stderr:\n%s", code, stderr)
	}
}

// TestDumpFolder walks a folder tree of corpus copies: every .evtx (any
// case) is read in lexical path order, other files are ignored, and the
// output is the same whatever the number of workers.
func TestDumpFolder(t *testing.T) {
	dir := t.TempDir()
	copyTo := func(src, rel string) {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	multi := corpus(t, "evtx/EVTX-ATTACK-SAMPLES/Privilege Escalation/Sysmon_UACME_64.evtx") // 12 chunks
	copyTo(multi, "b/sysmon.evtx")
	copyTo(regression(t, goldenSamples[0]), "a/z/first.evtx")
	copyTo(regression(t, goldenSamples[1]), "c/SECOND.EVTX")
	copyTo(regression(t, goldenSamples[0]), "a/notes.json") // not an .evtx: ignored
	wantFiles := []string{
		filepath.Join(dir, "a/z/first.evtx"),
		filepath.Join(dir, "b/sysmon.evtx"),
		filepath.Join(dir, "c/SECOND.EVTX"),
	}

	outputs := map[string]string{}
	for _, workers := range []string{"1", "4"} {
		code, stdout, stderr := run(t, "dump", "--meta", "--workers", workers, dir)
		if code != 0 {
			t.Fatalf("--workers %s: exit %d:\n%s", workers, code, stderr)
		}
		outputs[workers] = stdout
		// Records come file by file in path order, then chunk and record
		// order within a file.
		var files []string
		var lastChunk, lastOffset int64 = -1, -1
		records := 0
		for _, line := range strings.Split(strings.TrimSuffix(stdout, "\n"), "\n") {
			var v struct {
				Source struct {
					File   string
					Chunk  int64
					Offset int64
				} `json:"_source"`
			}
			if err := json.Unmarshal([]byte(line), &v); err != nil {
				t.Fatalf("--workers %s: %v: %s", workers, err, line)
			}
			records++
			s := v.Source
			if len(files) == 0 || files[len(files)-1] != s.File {
				files = append(files, s.File)
				lastChunk, lastOffset = -1, -1
			}
			if s.Chunk < lastChunk || s.Offset <= lastOffset {
				t.Fatalf("--workers %s: %s: record at chunk %d offset %d after chunk %d offset %d", workers, s.File, s.Chunk, s.Offset, lastChunk, lastOffset)
			}
			lastChunk, lastOffset = s.Chunk, s.Offset
		}
		if !slices.Equal(files, wantFiles) {
			t.Errorf("--workers %s: files in order %q, want %q", workers, files, wantFiles)
		}
		checkSummary(t, stderr, 3, records, 0)
		if records < 3+12 {
			t.Errorf("--workers %s: only %d records", workers, records)
		}
	}
	if outputs["1"] != outputs["4"] {
		t.Errorf("output with --workers 4 differs from --workers 1")
	}
}

// TestDumpDamagedFile dumps a damaged copy of a regression sample: the
// damaged record is reported with its position, the others are written,
// and the exit status is 1.
func TestDumpDamagedFile(t *testing.T) {
	src := regression(t, goldenSamples[1])
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	_, undamaged, _ := run(t, "dump", src)
	lines := strings.SplitAfter(undamaged, "\n")
	if len(lines) != 3 || lines[2] != "" {
		t.Fatalf("want two records in %s, got:\n%s", src, undamaged)
	}
	// Destroy the signature of the first record (chunk offset 512).
	const rec = 4096 + 512
	if !bytes.Equal(b[rec:rec+4], []byte("**\x00\x00")) {
		t.Fatalf("%s: no record at offset %#x", src, rec)
	}
	b[rec] = 'X'
	p := filepath.Join(t.TempDir(), "damaged.evtx")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := run(t, "dump", p)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	wantErr := fmt.Sprintf("error: %s: chunk 0: offset %#x: no record signature; skipped ", p, rec)
	if !strings.Contains(stderr, wantErr) {
		t.Errorf("stderr does not report %q:\n%s", wantErr, stderr)
	}
	if !strings.Contains(stderr, "warning: "+p+": chunk 0: offset 0x1034: event records checksum mismatch") {
		t.Errorf("stderr does not report the records checksum mismatch:\n%s", stderr)
	}
	checkSummary(t, stderr, 1, 1, 1)
	if stdout != lines[1] {
		t.Errorf("output is not the undamaged second record:\n got: %s\nwant: %s", stdout, lines[1])
	}
}

// TestDumpTruncatedFile dumps a copy of a multi-chunk file cut after its
// third chunk: the records of the chunks present are written, the lost
// chunks are an error, and the exit status is 1.
func TestDumpTruncatedFile(t *testing.T) {
	src := corpus(t, "evtx/EVTX-ATTACK-SAMPLES/Privilege Escalation/Sysmon_UACME_64.evtx") // 12 chunks
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "truncated.evtx")
	if err := os.WriteFile(p, b[:4096+3*65536], 0o644); err != nil {
		t.Fatal(err)
	}
	_, full, _ := run(t, "dump", src)
	code, stdout, stderr := run(t, "dump", p)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	want := "error: " + p + ": file header: file header declares 12 chunks but the file holds 3: the file is truncated\n"
	if !strings.HasPrefix(stderr, want) {
		t.Errorf("stderr does not start with %q:\n%s", want, stderr)
	}
	n := strings.Count(stdout, "\n")
	checkSummary(t, stderr, 1, n, 1)
	if n == 0 || !strings.HasPrefix(full, stdout) {
		t.Errorf("the %d records of the first three chunks are not those of the whole file", n)
	}
}
