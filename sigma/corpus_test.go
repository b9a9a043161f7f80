package sigma

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// corpusRoot is the SigmaHQ rule corpus shared by the project (see
// ../shared/corpus/README.md at the repository root).
const corpusRoot = "../../shared/corpus/sigma"

var corpusFolders = []string{"rules", "rules-emerging-threats", "rules-threat-hunting", "rules-compliance", "deprecated", "rules-placeholder"}

// refusalAllowed says whether a refusal of a corpus file is legitimate: the
// file uses a feature outside Sigma v2 or one that cannot be honoured
// faithfully (a regular expression outside the spec's subset that RE2
// cannot compile). Any other refusal fails the test.
func refusalAllowed(e *Error) bool {
	return strings.Contains(e.Msg, "v1 aggregation syntax is deprecated") ||
		strings.Contains(e.Msg, "sigma v1 feature removed in v2") ||
		strings.HasPrefix(e.Msg, "invalid regular expression:")
}

func TestCorpus(t *testing.T) {
	if _, err := os.Stat(corpusRoot); err != nil {
		t.Skipf("sigma corpus not found at %s (relative to the sigma package): %v", corpusRoot, err)
	}
	start := time.Now()
	total, totalRef := 0, 0
	reasons := map[string][]string{}
	for _, folder := range corpusFolders {
		dir := filepath.Join(corpusRoot, folder)
		if _, err := os.Stat(dir); err != nil {
			t.Logf("%s: absent, skipped", folder)
			continue
		}
		set, err := LoadDir(dir)
		if err != nil {
			t.Fatalf("load %s: %v", dir, err)
		}
		rules := len(set.Rules()) + len(set.Correlations()) + len(set.Filters())
		t.Logf("%-24s files loaded %5d (rules %5d)  refused %3d", folder, len(set.Files), rules, len(set.Refusals))
		total += rules
		totalRef += len(set.Refusals)
		for _, r := range set.Refusals {
			var list ErrorList
			if !errors.As(r.Err, &list) {
				t.Errorf("%s: refused on i/o: %v", r.Path, r.Err)
				continue
			}
			for _, e := range list {
				key := e.Msg
				if i := strings.Index(key, ": "); i > 0 && strings.HasPrefix(key, "invalid regular expression") {
					key = key[:i] + ": " + reClass(key)
				}
				reasons[key] = append(reasons[key], e.Error())
				if !refusalAllowed(e) {
					t.Errorf("spec-valid rule refused: %v", e)
				}
			}
		}
	}
	keys := make([]string, 0, len(reasons))
	for k := range reasons {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t.Logf("refusal reason %q x%d, e.g. %s", k, len(reasons[k]), reasons[k][0])
	}
	t.Logf("total: %d rules loaded, %d files refused, in %v", total, totalRef, time.Since(start).Round(time.Millisecond))
}

// reClass groups regexp errors by their Go error code.
func reClass(msg string) string {
	if i := strings.Index(msg, "error parsing regexp: "); i >= 0 {
		s := msg[i+len("error parsing regexp: "):]
		if j := strings.Index(s, ": "); j >= 0 {
			return s[:j]
		}
		return s
	}
	return msg
}
