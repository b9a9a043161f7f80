package source

import (
	"bytes"
	"compress/gzip"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func write(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestBrokenLineInJSONL(t *testing.T) {
	var b strings.Builder
	for i := 1; i <= 1200; i++ {
		if i == 700 {
			b.WriteString(`{"EventID": 1, "Image": "C:\\x.exe"` + "\n") // no closing brace
			continue
		}
		b.WriteString(`{"EventID":` + itoa(i) + `,"Channel":"Security","@timestamp":"2024-01-02T03:04:05Z"}` + "\n")
	}
	p := write(t, t.TempDir(), "broken.jsonl", []byte(b.String()))
	rs := scanAll(t, []string{p}, 3)
	evs := eventsOf(rs)
	if len(evs) != 1199 {
		t.Errorf("%d events, want 1199", len(evs))
	}
	var problems []error
	for _, r := range rs {
		problems = append(problems, r.problems...)
	}
	if len(problems) != 1 {
		t.Fatalf("problems %v, want one", problems)
	}
	var je *JSONError
	if !errors.As(problems[0], &je) || je.Line != 700 || !strings.HasPrefix(problems[0].Error(), p+":700: invalid JSON: ") {
		t.Errorf("problem %q, want %s:700: invalid JSON: …", problems[0], p)
	}
	if len(rs) != 3 || !rs[0].first || !rs[2].last {
		t.Errorf("%d units, want 3 batches (512 lines each), first and last marked", len(rs))
	}
	for i, ev := range evs {
		want := i + 1
		if i >= 699 {
			want++
		}
		if id, _ := ev.Get("EventID"); id != itoa(want) || ev.Record != uint64(want) {
			t.Fatalf("event %d: EventID %s record %d, want %d", i, id, ev.Record, want)
		}
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestTruncatedGzip(t *testing.T) {
	var raw bytes.Buffer
	zw := gzip.NewWriter(&raw)
	for i := 1; i <= 5000; i++ {
		zw.Write([]byte(`{"ts":1521911720.613421,"_path":"dns","query":"host` + itoa(i) + `.example.org","id.orig_h":"10.0.0.1"}` + "\n"))
	}
	zw.Close()
	data := raw.Bytes()
	p := write(t, t.TempDir(), "dns.json.gz", data[:len(data)*2/3])
	rs := scanAll(t, []string{p}, 2)
	evs := eventsOf(rs)
	last := rs[len(rs)-1]
	if last.err == nil || !last.last || !strings.Contains(last.err.Error(), "truncated") || !strings.HasPrefix(last.err.Error(), p) {
		t.Fatalf("last unit error %v, want the truncation named with the path", last.err)
	}
	if len(evs) == 0 || len(evs) >= 5000 {
		t.Fatalf("%d events before the damage", len(evs))
	}
	for i, ev := range evs {
		if q, _ := ev.Get("query"); q != "host"+itoa(i+1)+".example.org" {
			t.Fatalf("event %d: query %q", i, q)
		}
	}
	for _, r := range rs {
		for _, pr := range r.problems {
			t.Errorf("unexpected problem %v", pr)
		}
	}
	if got := evs[0].Time.Format("2006-01-02T15:04:05.000000Z07:00"); got != "2018-03-24T17:15:20.613421Z" {
		t.Errorf("epoch ts read as %s", got)
	}
	t.Logf("truncated gzip: %d events delivered, then %v", len(evs), last.err)
}

func TestEmptyAndUnsupported(t *testing.T) {
	dir := t.TempDir()
	empty := write(t, dir, "empty.json", nil)
	blank := write(t, dir, "blank.jsonl", []byte("\n\n  \n"))
	write(t, dir, "audit.log", []byte("type=SYSCALL msg=audit(1604994000.123:42): arch=c000003e\n"))
	write(t, dir, "notes.txt", []byte("hello\n"))
	os.MkdirAll(filepath.Join(dir, "sub"), 0o755)
	write(t, dir, "sub/data.bin", []byte{0, 1, 2, 3})
	good := write(t, dir, "sub/z.ndjson", []byte(`{"a":{"b":[1,2]},"c":null,"d":true}`+"\n"))

	files, skipped, err := ExpandSkipped([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 || files[0] != good || len(skipped) != 5 {
		t.Errorf("expand: files %v, skipped %v; want only %s kept and 5 skipped", files, skipped, good)
	}

	rs := scanAll(t, []string{empty, blank, good, filepath.Join(dir, "notes.txt"), filepath.Join(dir, "missing.json")}, 2)
	if len(rs) != 5 {
		t.Fatalf("%d units, want one per file", len(rs))
	}
	for _, r := range rs[:2] {
		if r.err != nil || len(r.events) != 0 || !r.first || !r.last {
			t.Errorf("%s: %+v, want one unit without events or error", r.path, r)
		}
	}
	got := fieldLines(rs[2].events[0])
	want := []string{`a.b="1"`, `a.b="2"`, `c=""`, `d="true"`}
	if d := diffLines(got, want); d != "" {
		t.Errorf("flat fields (- got, + want):\n%s", d)
	}
	if rs[3].err == nil || !strings.Contains(rs[3].err.Error(), "not a supported format") {
		t.Errorf("notes.txt: %v", rs[3].err)
	}
	if rs[4].err == nil || !strings.Contains(rs[4].err.Error(), "missing.json") {
		t.Errorf("missing file: %v", rs[4].err)
	}
	if _, err := Expand([]string{filepath.Join(dir, "nope")}); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("expand of a missing path: %v", err)
	}
}

func TestJSONDocumentShapes(t *testing.T) {
	dir := t.TempDir()
	arr := write(t, dir, "arr.json", []byte("[\n {\"x\": 1},\n {\"x\": 2}\n,{\"x\":\"]}\\\"\"}]\n"))
	cat := write(t, dir, "cat.json", []byte("{\n \"x\": 1\n}\n{\n \"x\": 2\n}\n"))
	meta := write(t, dir, "meta.jsonl", []byte(`{"_source":{"path":"a.evtx"},"Event":{"System":{"EventID":{"#attributes":{"Qualifiers":16384},"#text":7036},"Channel":"System","TimeCreated":{"#attributes":{"SystemTime":"2019-03-19T23:34:25.123456Z"}}},"EventData":{"param1":" x ","Binary":null}}}`+"\n"))
	wlb := write(t, dir, "wlb.jsonl", []byte(`{"@timestamp":"2021-05-06T07:08:09.5Z","winlog":{"channel":"Security","event_id":4624,"provider_name":"Microsoft-Windows-Security-Auditing","computer_name":"dc1","record_id":99,"event_data":{"TargetUserName":"bob"}}}`+"\n"))
	broken := write(t, dir, "broken.json", []byte("{\n \"x\": 1\n}\n{\n \"x\": \n"))
	rs := scanAll(t, []string{arr, cat, meta, wlb, broken}, 2)
	byPath := map[string][]result{}
	for _, r := range rs {
		byPath[r.path] = append(byPath[r.path], r)
	}
	xs := func(p string) (out []string) {
		for _, ev := range eventsOf(byPath[p]) {
			v, _ := ev.Get("x")
			out = append(out, v)
		}
		return out
	}
	if got := strings.Join(xs(arr), ","); got != `1,2,]}"` {
		t.Errorf("array: %s", got)
	}
	if got := strings.Join(xs(cat), ","); got != "1,2" {
		t.Errorf("concatenated: %s", got)
	}
	if evs := eventsOf(byPath[cat]); evs[1].Record != 4 {
		t.Errorf("second object at line %d, want 4", evs[1].Record)
	}
	ev := eventsOf(byPath[meta])[0]
	if d := diffLines(fieldLines(ev), []string{`_source.path="a.evtx"`, `EventID="7036"`, `Qualifiers="16384"`, `Channel="System"`, `TimeCreated="2019-03-19T23:34:25.123456Z"`, `param1="x"`, `Binary=""`}); d != "" {
		t.Errorf("evtx_dump with metadata (- got, + want):\n%s", d)
	}
	ev = eventsOf(byPath[wlb])[0]
	for name, want := range map[string]string{"Channel": "Security", "EventID": "4624", "Provider_Name": "Microsoft-Windows-Security-Auditing", "Computer": "dc1", "TargetUserName": "bob", "winlog.event_data.TargetUserName": "bob"} {
		if v, _ := ev.Get(name); v != want {
			t.Errorf("winlogbeat %s = %q, want %q", name, v, want)
		}
	}
	if ev.Record != 99 || ev.Time.Format("2006-01-02T15:04:05.0Z07:00") != "2021-05-06T07:08:09.5Z" {
		t.Errorf("winlogbeat record %d time %v", ev.Record, ev.Time)
	}
	br := byPath[broken]
	if len(eventsOf(br)) != 1 || br[len(br)-1].err == nil || !strings.Contains(br[len(br)-1].err.Error(), broken+":4: invalid JSON") {
		t.Errorf("broken document: %d events, error %v", len(eventsOf(br)), br[len(br)-1].err)
	}
}
