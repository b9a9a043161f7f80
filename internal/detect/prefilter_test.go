package detect

import (
	"strings"
	"testing"

	"github.com/vigil-defense/vigil/internal/event"
)

// TestGramLoops checks that the unrolled loops that hash an event's values
// set exactly the bits gramHash, triHash and the anchors say: needles are
// hashed with those functions, so any difference would lose matches.
func TestGramLoops(t *testing.T) {
	values := []string{"", "a", "abc", "abcd", `c:\windows\system32\cmd.exe /c whoami`, "powershell -enc SQBFAFgA", "ünïcödé ſ", "\x00\xff\x80abc"}
	var anchors [256]bool
	for _, b := range []byte("c/\\pw") {
		anchors[b] = true
	}
	for _, slot := range []int32{keywordSlot, 0, 7, 1234} {
		for _, v := range values {
			var want, got gramSet
			for i := 0; i+4 <= len(v); i++ {
				want.set(gramHash(slot, quad(v, i)))
			}
			got.add(slot, v)
			if got != want {
				t.Errorf("add(%d, %q) sets other bits than gramHash", slot, v)
			}
			want, got = gramSet{}, gramSet{}
			for i := 0; i+3 <= len(v); i++ {
				want.set(triHash(slot, tri(v, i)))
			}
			got.addTri(slot, v)
			if got != want {
				t.Errorf("addTri(%d, %q) sets other bits than triHash", slot, v)
			}
			want, got = gramSet{}, gramSet{}
			for i := 0; i+4 <= len(v); i++ {
				if anchors[v[i]] {
					want.set(gramHash(slot, quad(v, i)))
				}
			}
			got.addAnchored(slot, v, &anchors)
			if got != want {
				t.Errorf("addAnchored(%d, %q) sets other bits than gramHash", slot, v)
			}
		}
	}
}

func (g *gramSet) set(h uint32) { g[h>>6] |= 1 << (h & 63) }

// TestLower checks the matcher's case folding of event values against the
// standard library, across the 8-byte and byte-at-a-time paths.
func TestLower(t *testing.T) {
	values := []string{"", "a", "A", "abcdefg", "ABCDEFGH", "abcdefgH", "Hello, World! 0123456789 @[`{",
		`C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe`, "ÜNÏCÖDÉ Straße", "ASCII then é", "ſtop", "\x7fDEL"}
	var ev event.Event
	ev.Reset()
	size := 0
	for _, v := range values {
		ev.AddString("F", v)
		size += len(v)
	}
	m := &Matcher{ev: &ev, lowerVal: make([]string, len(values)), lowerDone: make([]uint8, len(values)), lowerBuf: make([]byte, 0, size)}
	for i, v := range values {
		want := strings.ReplaceAll(strings.ToLower(v), "ſ", "s")
		if got := m.lower(int32(i)); got != want {
			t.Errorf("lower(%q) = %q, want %q", v, got, want)
		}
		if got := m.wide(int32(i)); got != !isASCII(want) {
			t.Errorf("wide(%q) = %v", v, got)
		}
	}
	// Values folded earlier stay valid.
	for i, v := range values {
		if got, want := m.lower(int32(i)), strings.ReplaceAll(strings.ToLower(v), "ſ", "s"); got != want {
			t.Errorf("lower(%q) changed to %q", v, got)
		}
	}
}
