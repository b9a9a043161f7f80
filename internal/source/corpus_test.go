package source

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash"
	"slices"
	"strings"
	"testing"

	"github.com/vigil-defense/vigil/internal/event"
)

func TestDetectCorpus(t *testing.T) {
	cases := []struct {
		dir, pattern string
		want         Format
		gzip         bool
		min          int
	}{
		{"evtx", "*.evtx", FormatEVTX, false, 400},
		{"logs/otrf-security-datasets", "*.json", FormatJSONL, false, 22},
		{"logs/zeek-wrccdc2018/zeek-json", "*.json.gz", FormatJSONL, true, 32},
		{"sigma/regression_data", "*.json", FormatJSON, false, 150},
		{"logs/otrf-security-datasets", "*.log", FormatUnknown, false, 2}, // auditd text
	}
	for _, c := range cases {
		root := corpus(t, c.dir)
		files := glob(t, root, c.pattern)
		if len(files) < c.min {
			t.Errorf("%s/%s: %d files, want at least %d", c.dir, c.pattern, len(files), c.min)
		}
		for _, f := range files {
			got, gz, err := Sniff(f)
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want || gz != c.gzip {
				t.Errorf("%s: detected %v (gzip %v), want %v (gzip %v)", f, got, gz, c.want, c.gzip)
			}
		}
		t.Logf("%s/%s: %d files detected as %v (gzip %v)", c.dir, c.pattern, len(files), c.want, c.gzip)
	}
}

func TestExpandCorpusSkipsUnsupported(t *testing.T) {
	root := corpus(t, "logs/otrf-security-datasets")
	files, skipped, err := ExpandSkipped([]string{root})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 22 {
		t.Errorf("kept %d files, want the 22 JSON files: %v", len(files), files)
	}
	if !slices.IsSorted(files) {
		t.Errorf("files not in lexical order: %v", files)
	}
	auditd := 0
	for _, s := range skipped {
		if strings.HasSuffix(s, ".log") {
			auditd++
		}
	}
	if auditd != 2 {
		t.Errorf("skipped %d auditd files, want 2 (skipped: %v)", auditd, skipped)
	}
	t.Logf("expand %s: %d files kept, %d skipped (auditd text, yaml metadata, licence, manifest)", root, len(files), len(skipped))
}

func TestOTRFWindows(t *testing.T) {
	root := corpus(t, "logs/otrf-security-datasets/atomic/windows")
	files := glob(t, root, "*.json")
	rs := scanAll(t, files, 0)
	n := 0
	for _, r := range rs {
		if r.err != nil {
			t.Error(r.err)
		}
		for _, p := range r.problems {
			t.Error(p)
		}
		for _, ev := range r.events {
			n++
			ch, okc := ev.Get("Channel")
			id, oki := ev.Get("EventID")
			if !okc || !oki || ch == "" || id == "" {
				t.Errorf("%s:%d: no Channel or EventID: %v", ev.Source, ev.Record, ev.Fields())
			}
			if ev.Time.IsZero() {
				t.Errorf("%s:%d: no time", ev.Source, ev.Record)
			}
		}
	}
	if len(files) != 21 || n != 9560 {
		t.Errorf("%d events in %d files, want 9560 in 21 (corpus README)", n, len(files))
	}
	t.Logf("OTRF Windows: %d events in %d files, each with Channel, EventID and a time", n, len(files))
}

func TestZeekGzip(t *testing.T) {
	short(t)
	root := corpus(t, "logs/zeek-wrccdc2018/zeek-json")
	files, err := Expand([]string{root})
	if err != nil {
		t.Fatal(err)
	}
	n, zeroTime := 0, 0
	err = Scan(t.Context(), files, 0, func(u *Unit) int {
		var ev event.Event
		return u.Events(&ev, func(ev *event.Event) {
			p, ok := ev.Get("_path")
			if !ok || p == "" {
				t.Errorf("%s:%d: no _path", ev.Source, ev.Record)
			}
			if ev.Time.IsZero() && p != "loaded_scripts" { // loaded_scripts has no ts
				zeroTime++
			}
		}, func(err error) { t.Error(err) })
	}, func(k int) error { n += k; return nil })
	if err != nil {
		t.Fatal(err)
	}
	if n != 126765 {
		t.Errorf("%d Zeek records, want 126,765 (corpus README)", n)
	}
	if zeroTime != 0 {
		t.Errorf("%d records without a time", zeroTime)
	}
	t.Logf("Zeek: %d records in %d gzip files, each with _path and a time", n, len(files))
}

func TestCloudTrail(t *testing.T) {
	root := corpus(t, "logs/otrf-security-datasets/atomic/aws")
	files := glob(t, root, "*.json")
	evs := eventsOf(scanAll(t, files, 2))
	for _, ev := range evs {
		if s, ok := ev.Get("eventSource"); !ok || !strings.HasSuffix(s, ".amazonaws.com") {
			t.Errorf("%s:%d: eventSource %q", ev.Source, ev.Record, s)
		}
		if _, ok := ev.Get("userIdentity.type"); !ok {
			t.Errorf("%s:%d: nested userIdentity.type not flattened: %v", ev.Source, ev.Record, ev.Fields())
		}
		if ev.Time.IsZero() {
			t.Errorf("%s:%d: no time", ev.Source, ev.Record)
		}
	}
	if len(evs) != 103 {
		t.Errorf("%d CloudTrail records, want 103", len(evs))
	}
	t.Logf("CloudTrail: %d records", len(evs))
}

// hashEvent feeds an event's identity and fields to h.
func hashEvent(h hash.Hash, ev *event.Event) {
	fmt.Fprintf(h, "%s\x00%d\x00%d\x00%d\x00", ev.Source, ev.Record, ev.Offset, ev.Time.UnixNano())
	for i := range ev.Len() {
		h.Write([]byte(ev.Name(i)))
		h.Write([]byte{0})
		binary.Write(h, binary.LittleEndian, int64(len(ev.Bytes(i))))
		h.Write(ev.Bytes(i))
	}
}

// TestScanDeterministic scans the whole corpus with one and with four
// workers and requires the same event sequence.
func TestScanDeterministic(t *testing.T) {
	short(t)
	files, err := Expand([]string{corpus(t, "evtx"), corpus(t, "logs"), corpus(t, "sigma/regression_data")})
	if err != nil {
		t.Fatal(err)
	}
	run := func(workers int) (string, int, int) {
		h := sha256.New()
		n, problems := 0, 0
		err := Scan(t.Context(), files, workers, func(u *Unit) []byte {
			hu := sha256.New()
			fmt.Fprintf(hu, "%s %d %v %v %v\n", u.Path, u.Index, u.First, u.Last, u.Err)
			var ev event.Event
			k := u.Events(&ev, func(ev *event.Event) { hashEvent(hu, ev) }, func(err error) {
				problems++ // counted on workers: only read after Scan returns
				fmt.Fprintf(hu, "problem %v\n", err)
			})
			fmt.Fprintf(hu, "%d events\n", k)
			return hu.Sum(nil)
		}, func(sum []byte) error {
			h.Write(sum)
			n++
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("%x", h.Sum(nil)), n, problems
	}
	h1, n1, _ := run(1)
	h4, n4, _ := run(4)
	if h1 != h4 || n1 != n4 {
		t.Errorf("workers=1: %d units, %s; workers=4: %d units, %s", n1, h1, n4, h4)
	}
	t.Logf("%d files, %d units: same sequence with 1 and 4 workers (sha256 %s)", len(files), n1, h1[:16])
}

// TestScanCorpusCounts reports what the whole corpus yields.
func TestScanCorpusCounts(t *testing.T) {
	short(t)
	root := corpus(t, "evtx")
	files, err := Expand([]string{root})
	if err != nil {
		t.Fatal(err)
	}
	rs := scanAll(t, files, 0)
	events, problems := 0, 0
	for _, r := range rs {
		if r.err != nil {
			t.Errorf("%v", r.err)
		}
		problems += len(r.problems)
		events += len(r.events)
		for _, ev := range r.events {
			if ev.Time.IsZero() {
				t.Errorf("%s:%d: no time", ev.Source, ev.Record)
			}
		}
	}
	if events < 20000 {
		t.Errorf("%d EVTX events, want about 21,000 (corpus README)", events)
	}
	t.Logf("EVTX corpus: %d files, %d events, %d problems reported", len(files), events, problems)
}
