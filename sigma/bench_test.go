package sigma

import (
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkParseCorpus parses every rule file of the SigmaHQ rules folder
// and reports rules per second.
func BenchmarkParseCorpus(b *testing.B) {
	type file struct {
		path string
		data []byte
	}
	var files []file
	_ = filepath.WalkDir(filepath.Join(corpusRoot, "rules"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && IsRuleFile(p) {
			if data, err := os.ReadFile(p); err == nil {
				files = append(files, file{p, data})
			}
		}
		return nil
	})
	if len(files) == 0 {
		b.Skipf("sigma corpus not found at %s", corpusRoot)
	}
	var bytes int64
	for _, f := range files {
		bytes += int64(len(f.data))
	}
	b.SetBytes(bytes)
	b.ReportAllocs()
	rules := 0
	for b.Loop() {
		for _, f := range files {
			pf, _ := ParseFile(f.path, f.data)
			rules += len(pf.Rules)
		}
	}
	b.ReportMetric(float64(rules)/b.Elapsed().Seconds(), "rules/s")
}
