package intel

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// TestAppendLower checks the word-at-a-time lower-casing against the
// byte-at-a-time rule (ASCII letters only; other bytes, UTF-8 included,
// unchanged): every byte value at every position of a word and of the
// tail, and random strings of every length up to 40.
func TestAppendLower(t *testing.T) {
	check := func(s string) {
		t.Helper()
		want := make([]byte, len(s))
		upper := false
		for i := 0; i < len(s); i++ {
			c := s[i]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
				upper = true
			}
			want[i] = c
		}
		if got := appendLower([]byte("x"), s); !bytes.Equal(got, append([]byte("x"), want...)) {
			t.Fatalf("appendLower(%q) = %q, want %q", s, got[1:], want)
		}
		if got := hasUpper(s); got != upper {
			t.Fatalf("hasUpper(%q) = %v, want %v", s, got, upper)
		}
	}
	for c := 0; c < 256; c++ {
		for pos := 0; pos < 11; pos++ {
			b := []byte("abcdefghijk")
			b[pos] = byte(c)
			check(string(b))
			b = []byte("ABCDEFGHIJK")
			b[pos] = byte(c)
			check(string(b))
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for n := 0; n <= 40; n++ {
		for range 500 {
			b := make([]byte, n)
			for i := range b {
				b[i] = byte(r.IntN(256))
				if r.IntN(2) == 0 {
					b[i] = byte('@' + r.IntN(28)) // around the upper case letters
				}
			}
			check(string(b))
		}
	}
}
