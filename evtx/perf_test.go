package evtx

import (
	"math/rand"
	"strconv"
	"testing"
)

// TestJSONChildrenGrouping checks the hashed grouping of appendJSONChildren
// against the general (quadratic) algorithm on synthetic records with many
// repeated keys, Data elements keyed by Name, and both sides of the
// 16-children switch to the hash table.
func TestJSONChildrenGrouping(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	names := []string{"A", "B", "Data", "Cc", "Data", "Binary"}
	keys := []string{"A", "B", "X", "Y", "Binary", "Cc", ""}
	var r Record
	for iter := 0; iter < 2000; iter++ {
		r.reset()
		r.nodes = append(r.nodes, node{kind: nodeElement, name: "EventData", parent: -1, first: -1, last: -1, next: -1})
		r.roots = append(r.roots, 0)
		n := rng.Intn(60)
		for i := 0; i < n; i++ {
			idx := int32(len(r.nodes))
			name := names[rng.Intn(len(names))]
			nd := node{kind: nodeElement, name: name, parent: 0, first: -1, last: -1, next: -1, a0: int32(len(r.attrs)), a1: int32(len(r.attrs))}
			if name == "Data" && rng.Intn(4) > 0 {
				r.attrs = append(r.attrs, attr{name: "Name", p0: int32(len(r.pieces)), p1: int32(len(r.pieces) + 1)})
				r.pieces = append(r.pieces, piece{typ: typeLiteral, str: keys[rng.Intn(len(keys))]})
				nd.a1++
			}
			r.nodes = append(r.nodes, nd)
			r.link(0, idx)
			if rng.Intn(2) == 0 {
				t := int32(len(r.nodes))
				r.nodes = append(r.nodes, node{kind: nodeText, parent: idx, first: -1, last: -1, next: -1, p0: int32(len(r.pieces)), p1: int32(len(r.pieces) + 1)})
				r.pieces = append(r.pieces, piece{typ: typeLiteral, str: keys[rng.Intn(len(keys))]})
				r.link(idx, t)
			}
		}
		fast := string(r.appendJSONChildren(nil, 0, false))
		slow := string(r.appendJSONChildrenSlow(nil, 0, false))
		if fast != slow {
			t.Fatalf("iteration %d (%d children):\nfast %s\nslow %s", iter, n, fast, slow)
		}
		if len(r.jkids) != 0 || len(r.jkey) != 0 {
			t.Fatalf("scratch not released: %d kids, %d key bytes", len(r.jkids), len(r.jkey))
		}
	}
}

// appendUTF16Ref is the straightforward transcoder appendUTF16 must match.
func appendUTF16Ref(dst []byte, b []byte, esc int) []byte {
	n := len(b) &^ 1
	for n >= 2 && b[n-2] == 0 && b[n-1] == 0 {
		n -= 2
	}
	for i := 0; i < n; i += 2 {
		u := uint16(b[i]) | uint16(b[i+1])<<8
		if u < 0x80 {
			c := byte(u)
			if esc != escNone && needsEscape(c, esc) {
				dst = appendEscapedByte(dst, c, esc)
			} else {
				dst = append(dst, c)
			}
			continue
		}
		r := rune(u)
		if u >= 0xd800 && u < 0xdc00 && i+3 < n {
			u2 := uint16(b[i+2]) | uint16(b[i+3])<<8
			if u2 >= 0xdc00 && u2 < 0xe000 {
				r = (rune(u)-0xd800)<<10 + (rune(u2) - 0xdc00) + 0x10000
				i += 2
			} else {
				r = 0xfffd
			}
		} else if u >= 0xd800 && u < 0xe000 {
			r = 0xfffd
		}
		dst = append(dst, string(r)...)
	}
	return dst
}

// TestAppendUTF16 compares the transcoder with appendUTF16Ref on random
// text mixing ASCII runs, characters to escape, non-ASCII, surrogates
// (paired and not), NULs and odd lengths, in every escaping mode.
func TestAppendUTF16(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	units := []uint16{'a', 'Z', ' ', '"', '\\', '<', '>', '&', '\n', '\t', 0, 1, 0x1f, 0x7f, 0x80, 0xe9, 0x20ac, 0xd83d, 0xde00, 0xdc00, 0xdbff, 0xfffd}
	for iter := 0; iter < 20000; iter++ {
		n := rng.Intn(40)
		b := make([]byte, 0, 2*n+1)
		for i := 0; i < n; i++ {
			u := uint16('a' + rng.Intn(26))
			if rng.Intn(4) == 0 {
				u = units[rng.Intn(len(units))]
			}
			b = append(b, byte(u), byte(u>>8))
		}
		if rng.Intn(8) == 0 {
			b = append(b, byte(rng.Intn(256)))
		}
		for esc := escNone; esc <= escXMLAttr; esc++ {
			got, want := appendUTF16([]byte("x"), b, esc), appendUTF16Ref([]byte("x"), b, esc)
			if string(got) != string(want) {
				t.Fatalf("esc %d, input % x:\ngot  %q\nwant %q", esc, b, got, want)
			}
		}
	}
}

// BenchmarkAppendUTF16 transcodes a typical command line (JSON escaping).
func BenchmarkAppendUTF16(b *testing.B) {
	for _, s := range []string{`C:\Windows\system32\svchost.exe -k netsvcs -p -s Schedule`, "S-1-5-18", "4624"} {
		u := make([]byte, 0, 2*len(s))
		for _, c := range s {
			u = append(u, byte(c), 0)
		}
		b.Run(strconv.Itoa(len(s)), func(b *testing.B) {
			b.SetBytes(int64(len(u)))
			var dst []byte
			for b.Loop() {
				dst = appendUTF16(dst[:0], u, escJSON)
			}
		})
	}
}

func BenchmarkAppendUTF16Ref(b *testing.B) {
	for _, s := range []string{`C:\Windows\system32\svchost.exe -k netsvcs -p -s Schedule`, "S-1-5-18", "4624"} {
		u := make([]byte, 0, 2*len(s))
		for _, c := range s {
			u = append(u, byte(c), 0)
		}
		b.Run(strconv.Itoa(len(s)), func(b *testing.B) {
			b.SetBytes(int64(len(u)))
			var dst []byte
			for b.Loop() {
				dst = appendUTF16Ref(dst[:0], u, escJSON)
			}
		})
	}
}
