package detect

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/bits"
	"strings"
	"testing"

	"github.com/vigil-defense/vigil/internal/event"
)

// checkJSONString checks appendJSONString's promise for s: valid JSON that
// decodes to s with each byte that is not valid UTF-8 replaced by U+FFFD,
// and printable ASCII other than '"' and '\\' written as it is.
func checkJSONString(t *testing.T, s string) {
	t.Helper()
	out := appendJSONString(nil, s)
	var got string
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%q: output %q is not a JSON string: %v", s, out, err)
	}
	var want strings.Builder
	for _, r := range s { // an invalid byte comes out as U+FFFD, one per byte
		want.WriteRune(r)
	}
	if got != want.String() {
		t.Fatalf("%q: output %q decodes to %q, want %q", s, out, got, want.String())
	}
	plain := 0
	for i := 0; i < len(s); i++ {
		if jsonSafe[s[i]] {
			plain++
		}
	}
	if n := strings.Count(string(out), "\\"); plain == len(s) && (n != 0 || len(out) != len(s)+2) {
		t.Fatalf("%q: output %q escapes bytes that need none", s, out)
	}
}

// TestAppendJSONString puts every byte value at every position of strings
// of 1 to 24 bytes: first, last and after a run of bytes copied as they
// are.
func TestAppendJSONString(t *testing.T) {
	for n := 1; n <= 24; n++ {
		for pos := 0; pos < n; pos++ {
			for c := 0; c < 256; c++ {
				b := []byte(strings.Repeat("a", n))
				b[pos] = byte(c)
				checkJSONString(t, string(b))
			}
		}
	}
	for _, s := range []string{"", "C:\\Windows\\System32\\cmd.exe", "line1\nline2\r\n\t\"quoted\"", "héllo wörld ✓ 𝄞", "\xff\xfe invalid \xc3", "\x00\x1f\x7f"} {
		checkJSONString(t, s)
	}
}

// TestJSONUnsafe checks that jsonUnsafe's lowest set bit is the top bit of
// the first byte that needs escaping, for every byte value at every
// position of a word, behind and before bytes of every kind (a borrow out
// of an unsafe byte must not hide it or mark an earlier one).
func TestJSONUnsafe(t *testing.T) {
	fill := []byte{'a', ' ', 0x7f, 0x00, 0x1f, '"', '\\', 0x80, 0xff, 0x21, 0x5b, 0x5d}
	for pos := 0; pos < 8; pos++ {
		for c := 0; c < 256; c++ {
			for _, after := range fill {
				var w [8]byte
				for k := range w {
					w[k] = 'x'
					if k > pos {
						w[k] = after
					}
				}
				w[pos] = byte(c)
				first := 8
				for k, b := range w {
					if !jsonSafe[b] {
						first = k
						break
					}
				}
				m := jsonUnsafe(binary.LittleEndian.Uint64(w[:]))
				if got := bits.TrailingZeros64(m) / 8; got != first {
					t.Fatalf("%q: first byte to escape at %d, jsonUnsafe says %d (mask %#x)", w, first, got, m)
				}
			}
		}
	}
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "plain ascii text", "C:\\Windows\\cmd.exe \"/c\"", "\x00\x1f\x7f\x80\xff", "héllo ✓"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkJSONString(t, s) })
}

// TestAppendFields checks the fields object against a plain reading of its
// contract (members in the order of first occurrence; a repeated name holds
// the array of its values in order) for events of 0 to 200 fields whose
// names repeat and collide in appendFields' hash table.
func TestAppendFields(t *testing.T) {
	names := []string{"Data", "aXXa", "aYXa", "aXYa", "User", "x", "", "Image", "Hashes"}
	rng := uint64(1)
	for n := 0; n <= 200; n += 1 + n/8 {
		fs := make([]event.Field, n)
		for i := range fs {
			rng = rng*6364136223846793005 + 1442695040888963407
			name := names[rng>>33%uint64(len(names))]
			if rng>>40%3 == 0 {
				name = fmt.Sprintf("F%d", i) // unique
			}
			fs[i] = event.Field{Name: name, Value: fmt.Sprint(i)}
		}
		out := appendFields([]byte{'{'}, fs)
		out = append(out, '}')
		var order []string
		want := map[string][]string{}
		for _, f := range fs {
			if _, ok := want[f.Name]; !ok {
				order = append(order, f.Name)
			}
			want[f.Name] = append(want[f.Name], f.Value)
		}
		dec := json.NewDecoder(strings.NewReader(string(out)))
		if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
			t.Fatalf("%d fields: %s: not an object", n, out)
		}
		k := 0
		for ; dec.More(); k++ {
			tok, err := dec.Token()
			if err != nil || k >= len(order) || tok != order[k] {
				t.Fatalf("%d fields: member %d is %v, want %q (%v): %s", n, k, tok, order[k:min(k+1, len(order))], err, out)
			}
			var v any
			if err := dec.Decode(&v); err != nil {
				t.Fatal(err)
			}
			vals := want[order[k]]
			got := fmt.Sprint(v)
			exp := vals[0]
			if len(vals) > 1 {
				exp = fmt.Sprint(vals)
			}
			if got != exp {
				t.Fatalf("%d fields: %q is %s, want %s", n, order[k], got, exp)
			}
		}
		if k != len(order) {
			t.Fatalf("%d fields: %d members, want %d: %s", n, k, len(order), out)
		}
	}
}
