package intel

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// corpus returns the path of a file or folder under ../shared/corpus/intel,
// skipping the test when it is absent.
func corpus(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join("..", "..", "..", "shared", "corpus", "intel", filepath.FromSlash(rel))
	if _, err := os.Stat(p); err != nil {
		t.Skipf("corpus %s is absent (%v): the intel corpus lives in ../shared/corpus/intel next to the repository", p, err)
	}
	return p
}

type loadResult struct {
	idx   *Index
	stats []FileStats
	errs  []error
}

func load(t testing.TB, opts LoadOptions, paths ...string) loadResult {
	t.Helper()
	b := NewBuilder()
	for _, p := range paths {
		b.LoadPath(p, opts)
	}
	idx, werrs := b.Build()
	r := loadResult{idx, b.Stats(), append(b.Errors(), werrs...)}
	ind, skipped := 0, map[string]int{}
	for _, s := range r.stats {
		ind += s.Indicators
		for k, v := range s.Skipped {
			skipped[k] += v
		}
	}
	var types []string
	for ty := TypeIPv4; ty < numTypes; ty++ {
		if n := idx.Count(ty); n > 0 {
			types = append(types, ty.String()+"="+itoa(n))
		}
	}
	t.Logf("%d files, %d indicators read, %d indexed (%s), %d warninglists, %d errors", len(r.stats), ind, idx.Len(), strings.Join(types, " "), len(idx.WarninglistNames()), len(r.errs))
	keys := make([]string, 0, len(skipped))
	for k := range skipped {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t.Logf("  skipped %6d  %s", skipped[k], k)
	}
	for i, err := range r.errs {
		if i == 15 {
			t.Logf("  … %d more errors", len(r.errs)-i)
			break
		}
		t.Logf("  error: %v", err)
	}
	return r
}

func itoa(n int) string { return strings.TrimSpace(strings.Repeat(" ", 0) + fmtInt(n)) }

func fmtInt(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for n > 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}

func (r loadResult) errorsIn(substr string) []*LoadError {
	var out []*LoadError
	for _, err := range r.errs {
		var le *LoadError
		if errors.As(err, &le) && strings.Contains(le.Path, substr) {
			out = append(out, le)
		}
	}
	return out
}

func TestSmokeCorpus(t *testing.T) {
	for _, rel := range []string{"kev", "misp-feed/cert-fr", "eset-malware-ioc", "stix2", "blocklists", "ioc-csv", "misp-warninglists"} {
		t.Run(rel, func(t *testing.T) { load(t, LoadOptions{}, corpus(t, rel)) })
	}
}

func TestSmokeErrors(t *testing.T) {
	r := load(t, LoadOptions{}, corpus(t, os.Getenv("REL")))
	for _, e := range r.errs {
		if !strings.Contains(e.Error(), "kryptocibule") && !strings.Contains(e.Error(), "Moose") {
			t.Log(e)
		}
	}
}

func distinct(x *Index) map[Type]int {
	seen := map[Type]map[string]bool{}
	for _, ind := range x.Indicators() {
		if seen[ind.Type] == nil {
			seen[ind.Type] = map[string]bool{}
		}
		seen[ind.Type][ind.Value] = true
	}
	out := map[Type]int{}
	for t, m := range seen {
		out[t] = len(m)
	}
	return out
}

func TestSmokeDistinct(t *testing.T) {
	for _, rel := range strings.Split(os.Getenv("RELS"), ",") {
		r := load(t, LoadOptions{}, corpus(t, rel))
		t.Logf("%s: distinct %v", rel, distinct(r.idx))
		for _, s := range r.stats {
			if os.Getenv("V") != "" {
				t.Logf("  %s %s ind=%d skipped=%d errors=%d hashrows=%d wl=%d", s.Path, s.Format, s.Indicators, s.SkippedTotal(), s.Errors, s.HashRows, s.WarninglistEntries)
			}
		}
	}
}
