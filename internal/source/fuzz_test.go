package source

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/valyala/fastjson"

	"github.com/vigil-defense/vigil/internal/event"
)

// FuzzJSONLine flattens arbitrary input as one JSON record and splits it as
// a JSON document: nothing may panic or hang, a valid object gives exactly
// one event, and a valid document splits into the same valid value.
func FuzzJSONLine(f *testing.F) {
	for _, s := range []string{
		`{"a":{"b":[1,{"c":null}]},"d":true,"e":"x\"y\\z\u00e9"}`,
		`{"Event":{"System":{"Provider":{"#attributes":{"Name":"P","Guid":"{G}"}},"EventID":{"#attributes":{"Qualifiers":0},"#text":4624},"TimeCreated":{"#attributes":{"SystemTime":"2020-01-01T00:00:00.1234567Z"}}},"EventData":{"A":["x","y"],"B":{"#attributes":{"k":"v"}},"C":{"D":{"#text":"e"}}}},"_source":1}`,
		`{"winlog":{"channel":"Security","event_data":{"X":"1"}},"@timestamp":"2021-01-01T00:00:00Z"}`,
		`{"ts":1521911720.613421,"_path":"conn"}`,
		`[{"x":1},2,{"y":[]}]`,
		`{"x":1} {"y":2}`,
		`{"Event":null}`,
		`"just a string"`,
		`{"a":`,
	} {
		f.Add([]byte(s))
	}
	for _, dir := range []string{"logs/otrf-security-datasets/atomic/windows/execution/host"} {
		for _, p := range globNoSkip(corpusDir+"/"+dir, "*.json") {
			data, err := os.ReadFile(p)
			if err != nil {
				continue
			}
			for i, l := range bytes.SplitN(data, []byte("\n"), 20) {
				if i%4 == 0 {
					f.Add(l)
				}
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		w := newWorker()
		u := &Unit{Path: "fuzz", w: w, batch: &batch{data: data, recs: []record{{end: len(data), line: 1}}}}
		var ev event.Event
		n := u.Events(&ev, func(ev *event.Event) {
			for i := range ev.Len() {
				_, _ = ev.Name(i), ev.Value(i)
			}
		}, func(error) {})
		trimmed := bytes.TrimSpace(data)
		valid := fastjson.ValidateBytes(data) == nil
		if valid && len(trimmed) > 0 && trimmed[0] == '{' && n != 1 {
			t.Fatalf("valid object gave %d events", n)
		}
		Detect(data)
		parseTime(data)

		var units []*Unit
		p := &jsonProducer{path: "fuzz", format: FormatJSON, cr: &countingReader{}, send: func(u *Unit) sendResult {
			units = append(units, u)
			return sent
		}}
		err := p.document(bufio.NewReader(bytes.NewReader(data)))
		if valid && len(trimmed) > 0 && trimmed[0] == '{' {
			if err != nil || p.pending == nil || len(p.pending.batch.recs) != 1 {
				t.Fatalf("valid object not split into one record: %v", err)
			}
			r := p.pending.batch.recs[0]
			if got := p.pending.batch.data[r.start:r.end]; !bytes.Equal(got, trimmed) {
				t.Fatalf("record %q, want %q", got, trimmed)
			}
		}
	})
}

// globNoSkip is glob for fuzz seeds: a missing corpus gives no seeds.
func globNoSkip(root, pattern string) []string {
	if _, err := os.Stat(root); err != nil {
		return nil
	}
	entries, _ := os.ReadDir(root)
	var out []string
	for _, e := range entries {
		if ok, _ := filepath.Match(pattern, e.Name()); ok {
			out = append(out, root+"/"+e.Name())
		}
	}
	return out
}
