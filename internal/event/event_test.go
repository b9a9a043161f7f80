package event

import (
	"testing"
)

func TestEventFields(t *testing.T) {
	var e Event
	e.Reset()
	e.AddString("EventID", "4688")
	e.Add("NewProcessName", []byte(`C:\Windows\System32\cmd.exe`))
	e.AddFunc("Data", func(dst []byte) []byte { return append(dst, "one"...) })
	e.AddString("Data", "two")
	e.AddString("Empty", "")
	if e.Len() != 5 {
		t.Fatalf("Len = %d, want 5", e.Len())
	}
	if v, ok := e.Get("NewProcessName"); !ok || v != `C:\Windows\System32\cmd.exe` {
		t.Errorf("Get(NewProcessName) = %q, %v", v, ok)
	}
	if v, _ := e.Get("Data"); v != "one" {
		t.Errorf("Get(Data) = %q, want the first occurrence", v)
	}
	if v, ok := e.Get("Empty"); !ok || v != "" {
		t.Errorf("Get(Empty) = %q, %v", v, ok)
	}
	if _, ok := e.Get("Missing"); ok {
		t.Error("Get(Missing) found a field")
	}
	c := e.Clone()
	fields := e.Fields()
	e.Reset()
	e.AddString("Other", "overwrites the buffer")
	if v, _ := c.Get("EventID"); v != "4688" {
		t.Errorf("clone changed after Reset: %q", v)
	}
	if fields[1].Value != `C:\Windows\System32\cmd.exe` || fields[3] != (Field{"Data", "two"}) {
		t.Errorf("Fields changed after Reset: %v", fields)
	}
}

// TestFieldsAllocs checks that Fields copies the event's text once, not
// once per field: hunt calls it for every detection.
func TestFieldsAllocs(t *testing.T) {
	var e Event
	e.Reset()
	for _, name := range []string{"Image", "CommandLine", "ParentImage", "User", "Hashes", "Empty"} {
		e.AddString(name, name+" value")
	}
	e.AddString("Empty", "")
	var fields []Field
	if n := testing.AllocsPerRun(100, func() { fields = e.Fields() }); n > 2 {
		t.Errorf("Fields made %v allocations, want at most 2 (the slice and one copy of the text)", n)
	}
	if len(fields) != 7 || fields[1] != (Field{"CommandLine", "CommandLine value"}) || fields[6] != (Field{"Empty", ""}) {
		t.Errorf("Fields = %v", fields)
	}
}

func BenchmarkFill(b *testing.B) {
	var e Event
	val := []byte(`C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe`)
	b.ReportAllocs()
	for b.Loop() {
		e.Reset()
		for range 30 {
			e.Add("CommandLine", val)
		}
	}
}

// Scalar marks survive Clone, cover more than 64 fields, and are gone
// after Reset.
func TestScalars(t *testing.T) {
	var e Event
	for i := 0; i < 130; i++ {
		if i%3 == 0 {
			e.AddScalar("n", []byte("1"))
		} else {
			e.Add("s", []byte("x"))
		}
	}
	c := e.Clone()
	for i := 0; i < 130; i++ {
		if e.Scalar(i) != (i%3 == 0) || c.Scalar(i) != (i%3 == 0) {
			t.Fatalf("field %d: scalar %v (clone %v)", i, e.Scalar(i), c.Scalar(i))
		}
	}
	if e.Scalar(130) || e.Scalar(1000) {
		t.Fatal("a field not added is a scalar")
	}
	e.Reset()
	e.Add("s", []byte("x"))
	if e.Scalar(0) {
		t.Fatal("scalar mark kept after Reset")
	}
}
