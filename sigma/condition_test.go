package sigma

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseCondition(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"selection", "selection"},
		{"a and b or c", "((a and b) or c)"},
		{"a or b and c", "(a or (b and c))"},
		{"not a and b", "(not a and b)"},
		{"not (a and b)", "not (a and b)"},
		{"a and not not b", "(a and not not b)"},
		{"(a or b) and c", "((a or b) and c)"},
		{"1 of selection_* and not 1 of filter_*", "(1 of selection_* and not 1 of filter_*)"},
		{"all of them", "all of them"},
		{"any of them", "1 of them"},
		{"1 of them or all of sel*", "(1 of them or all of sel*)"},
		{"a AND b OR NOT c", "((a and b) or not c)"},
		{"keywords\n  and sel", "(keywords and sel)"},
	} {
		e, agg, err := ParseCondition(tc.in)
		if err != nil || agg != nil {
			t.Errorf("ParseCondition(%q): %v %v", tc.in, err, agg)
			continue
		}
		if got := e.String(); got != tc.want {
			t.Errorf("ParseCondition(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestParseConditionErrors(t *testing.T) {
	for _, tc := range []struct {
		in  string
		off int
		msg string
	}{
		{"", 0, "empty condition"},
		{"a and", 5, "unexpected end of condition"},
		{"(a or b", 7, `expected ")"`},
		{"a or b)", 6, `unbalanced ")"`},
		{"a b", 2, `unexpected "b" after expression`},
		{"sel*", 0, "wildcard identifier"},
		{"2 of sel*", 0, "unsupported quantifier"},
		{"all sel", 4, `expected "of"`},
		{"1 of (a)", 5, "expected a search identifier pattern"},
		{"them", 0, `"them" without a quantifier`},
		{"a & b", 2, `unexpected character "&"`},
		{"sel | near other", 6, `"near" is not supported`},
		{"sel | count() by x", 6, "missing comparison"},
		{"sel | frob()", 6, "deprecated in sigma v2"},
		{strings.Repeat("(", 300) + "a" + strings.Repeat(")", 300), 256, "nested too deeply"},
	} {
		_, _, err := ParseCondition(tc.in)
		var ce *ConditionError
		if !errors.As(err, &ce) {
			t.Errorf("ParseCondition(%q) err = %v, want a ConditionError", tc.in, err)
			continue
		}
		if ce.Off != tc.off || !strings.Contains(ce.Msg, tc.msg) {
			t.Errorf("ParseCondition(%q) = offset %d %q, want offset %d %q", tc.in, ce.Off, ce.Msg, tc.off, tc.msg)
		}
	}
}

func TestAggregation(t *testing.T) {
	_, agg, err := ParseCondition("selection | count(user) by src_ip >= 30")
	if err != nil {
		t.Fatal(err)
	}
	if agg.Func != "count" || agg.Field != "user" || agg.GroupBy != "src_ip" || agg.Op != ">=" || agg.Value != 30 {
		t.Errorf("aggregation = %+v", agg)
	}
	_, agg, err = ParseCondition("sel | count() > 5")
	if err != nil || agg.Field != "" || agg.GroupBy != "" || agg.Op != ">" {
		t.Errorf("aggregation = %+v, %v", agg, err)
	}
}

// TestConditionPositions checks that errors inside a condition point at
// the column of the offending token in the file.
func TestConditionPositions(t *testing.T) {
	src := "title: t\nlogsource: {product: p}\ndetection:\n  sel: {A: 1}\n  condition: 'sel and (sel or nope)'\n"
	_, err := ParseFile("p.yml", []byte(src))
	var list ErrorList
	if !errors.As(err, &list) || len(list) != 1 {
		t.Fatalf("err = %v", err)
	}
	// 'sel and (sel or nope)' starts at column 15, inside the quote at 14.
	if got := list[0].Error(); got != `p.yml:5:31: condition: undefined search identifier "nope" (defined: sel)` {
		t.Errorf("got %s", got)
	}
}

func FuzzCondition(f *testing.F) {
	for _, s := range []string{
		"selection", "a and not b", "1 of selection_* and not 1 of filter_*", "all of them",
		"(a or b) and (c or not d)", "sel | count(x) by y > 5", "sel | near a", "((", "a and", "1 of",
	} {
		f.Add(s)
	}
	names := []string{"a", "b", "c", "d", "sel", "selection", "selection_1", "filter_x", "_hidden"}
	f.Fuzz(func(t *testing.T, s string) {
		e, agg, err := ParseCondition(s)
		if err != nil {
			var ce *ConditionError
			if !errors.As(err, &ce) || ce.Off < 0 || ce.Off > len(s) {
				t.Fatalf("bad error for %q: %v", s, err)
			}
			return
		}
		if e == nil {
			t.Fatalf("nil expression without error for %q", s)
		}
		if agg != nil && (agg.Off < 0 || agg.Off > len(s)) {
			t.Fatalf("aggregation offset out of range: %+v", agg)
		}
		// The rendering must parse back to the same tree.
		e2, _, err := ParseCondition(e.String())
		if err != nil || e2.String() != e.String() {
			t.Fatalf("round trip of %q: %q -> %v, %v", s, e.String(), e2, err)
		}
		var errs []*ConditionError
		resolve(e, names, &errs)
		for _, ce := range errs {
			if ce.Off < 0 || ce.Off > len(s) {
				t.Fatalf("resolve error offset out of range: %+v", ce)
			}
		}
	})
}

// corpusSeeds returns up to n rule files of the corpus, if present.
func corpusSeeds(n int) [][]byte {
	var out [][]byte
	_ = filepath.WalkDir(filepath.Join(corpusRoot, "rules"), func(p string, d os.DirEntry, err error) error {
		if err != nil || len(out) >= n {
			return filepath.SkipDir
		}
		if !d.IsDir() && IsRuleFile(p) {
			if b, err := os.ReadFile(p); err == nil {
				out = append(out, b)
			}
		}
		return nil
	})
	return out
}

func FuzzParseFile(f *testing.F) {
	for _, b := range corpusSeeds(20) {
		f.Add(b)
	}
	for _, dir := range []string{"testdata/valid", "testdata/invalid"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.yml"))
		for _, p := range files {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := ParseFile("fuzz.yml", data)
		if file == nil {
			t.Fatal("nil file")
		}
		if err != nil {
			var list ErrorList
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("error is not a non-empty ErrorList: %v", err)
			}
			for _, e := range list {
				if e.Msg == "" {
					t.Fatal("empty message")
				}
			}
		}
	})
}
