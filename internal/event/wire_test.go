package event

import (
	"errors"
	"testing"
	"time"
)

func TestWireRoundTrip(t *testing.T) {
	var a, b Event
	a.Reset()
	a.Time = time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)
	a.Source = "http:10.0.0.1"
	a.Record = 42
	a.Offset = 1234
	a.AddString("EventID", "4688")
	a.AddString("CommandLine", `cmd.exe /c "whoami"`)
	a.AddString("Data", "")
	a.AddString("Data", "second")
	var z Event
	z.Reset()
	z.AddString("message", "no time")
	buf := AppendWire(nil, &a)
	buf = AppendWire(buf, &z)

	var r WireReader
	r.Reset(buf)
	ok, err := r.Next(&b)
	if !ok || err != nil {
		t.Fatalf("Next = %v, %v", ok, err)
	}
	if !b.Time.Equal(a.Time) || b.Source != a.Source || b.Record != 42 || b.Offset != 1234 {
		t.Fatalf("header: got %v %q %d %d", b.Time, b.Source, b.Record, b.Offset)
	}
	got, want := b.Fields(), a.Fields()
	if len(got) != len(want) {
		t.Fatalf("fields %v, want %v", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("field %d: %v, want %v", i, got[i], want[i])
		}
	}
	ok, err = r.Next(&b)
	if !ok || err != nil || !b.Time.IsZero() || b.Offset != -1 || b.Len() != 1 || b.Value(0) != "no time" {
		t.Fatalf("second event: %v %v %v %v", ok, err, b.Time, b.Fields())
	}
	if ok, err = r.Next(&b); ok || err != nil {
		t.Fatalf("end: %v %v", ok, err)
	}
}

func TestWireTruncated(t *testing.T) {
	var a, b Event
	a.Reset()
	a.AddString("Image", `C:\Windows\System32\cmd.exe`)
	buf := AppendWire(nil, &a)
	for n := 1; n < len(buf); n++ {
		var r WireReader
		r.Reset(buf[:n])
		ok, err := r.Next(&b)
		if ok || !errors.Is(err, ErrWire) {
			t.Fatalf("truncated at %d: ok=%v err=%v", n, ok, err)
		}
	}
}

func FuzzWire(f *testing.F) {
	var a Event
	a.Reset()
	a.AddString("k", "v")
	f.Add(AppendWire(nil, &a))
	f.Fuzz(func(t *testing.T, data []byte) {
		var r WireReader
		var ev Event
		r.Reset(data)
		for i := 0; ; i++ {
			ok, err := r.Next(&ev)
			if !ok || err != nil {
				break
			}
			// What decodes must encode back to the same bytes' meaning.
			var r2 WireReader
			var ev2 Event
			r2.Reset(AppendWire(nil, &ev))
			if ok, err := r2.Next(&ev2); !ok || err != nil || ev2.Len() != ev.Len() {
				t.Fatalf("re-encode: %v %v", ok, err)
			}
		}
	})
}

// Scalar marks cross the wire; an event without any is written as before
// they existed.
func TestWireScalars(t *testing.T) {
	var a, b Event
	a.Reset()
	for i := 0; i < 70; i++ {
		if i%7 == 0 {
			a.AddScalar("n", []byte("12"))
		} else {
			a.AddString("s", "text")
		}
	}
	var r WireReader
	r.Reset(AppendWire(nil, &a))
	if ok, err := r.Next(&b); !ok || err != nil {
		t.Fatalf("Next = %v, %v", ok, err)
	}
	for i := 0; i < 70; i++ {
		if b.Scalar(i) != (i%7 == 0) {
			t.Fatalf("field %d: scalar %v", i, b.Scalar(i))
		}
	}
	var plain Event
	plain.Reset()
	plain.AddString("s", "text")
	if w := AppendWire(nil, &plain); w[0] != 0 {
		t.Fatalf("flags %#x for an event without scalars", w[0])
	}
	// More mark words than fields could need is damage.
	var c Event
	c.Reset()
	c.AddScalar("n", []byte("1"))
	w := AppendWire(nil, &c)
	w[len(w)-2] = 5 // word count
	r.Reset(w)
	if _, err := r.Next(&b); err == nil {
		t.Fatal("a bad word count was accepted")
	}
}
