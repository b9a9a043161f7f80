package evtx

// BenchmarkVelocidex runs www.velocidex.com/golang/evtx v0.2.0 (a
// benchmark-only dependency) over the same in-memory files as the other
// benchmarks of bench_test.go: every chunk and every record parsed, and
// each event marshalled to JSON, as its own dumpevtx tool and its users do.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"

	vevtx "www.velocidex.com/golang/evtx"
)

func BenchmarkVelocidex(b *testing.B) {
	runSets(b, func(b *testing.B, s *benchSet) int {
		n := 0
		for i := range s.files {
			n += velocidexFile(b, s.files[i].data)
		}
		return n
	})
}

// velocidexFile parses one file with the Velocidex parser and marshals
// every event; a panic inside the parser counts the file as failed.
func velocidexFile(b *testing.B, data []byte) (n int) {
	defer func() {
		if v := recover(); v != nil {
			b.Logf("velocidex: panic: %v", fmt.Sprint(v))
		}
	}()
	chunks, err := vevtx.GetChunks(bytes.NewReader(data))
	if err != nil {
		return 0
	}
	for _, c := range chunks {
		recs, err := c.Parse(0)
		if err != nil {
			continue
		}
		for _, r := range recs {
			out, err := json.Marshal(r.Event)
			if err == nil && len(out) > 0 {
				n++
			}
		}
	}
	return n
}
