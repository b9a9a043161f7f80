package sigma

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// golden compares got with the golden file, or rewrites it under -update.
func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("missing golden file (run go test -update): %v", err)
	}
	if string(want) != got {
		t.Errorf("%s differs (run go test -update and review the diff)\n--- got ---\n%s\n--- want ---\n%s", path, got, want)
	}
}

// TestValidFixtures parses every testdata/valid/*.yml and compares a
// rendering of its AST with the .golden file next to it.
func TestValidFixtures(t *testing.T) {
	files, _ := filepath.Glob("testdata/valid/*.yml")
	if len(files) == 0 {
		t.Fatal("no valid fixtures")
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			f, err := ParseFile(filepath.Base(path), data)
			if err != nil {
				var list ErrorList
				errors.As(err, &list)
				t.Fatalf("valid fixture refused:\n%s", list.Details())
			}
			golden(t, strings.TrimSuffix(path, ".yml")+".golden", dumpFile(f))
		})
	}
}

// TestInvalidFixtures parses every testdata/invalid/*.yml and compares the
// full error list with the .err file next to it.
func TestInvalidFixtures(t *testing.T) {
	files, _ := filepath.Glob("testdata/invalid/*.yml")
	if len(files) == 0 {
		t.Fatal("no invalid fixtures")
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			_, err = ParseFile(filepath.Base(path), data)
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("invalid fixture accepted (err = %v)", err)
			}
			for _, e := range list {
				if e.Msg == "" || strings.ToLower(e.Msg[:1]) != e.Msg[:1] {
					t.Errorf("message not lowercase: %q", e.Msg)
				}
			}
			golden(t, strings.TrimSuffix(path, ".yml")+".err", list.Details())
		})
	}
}

func dumpFile(f *File) string {
	var b strings.Builder
	for _, r := range f.Rules {
		fmt.Fprintf(&b, "rule %q @%d:%d\n", r.Title, r.Pos.Line, r.Pos.Col)
		dumpMeta(&b, &r.Meta)
		fmt.Fprintf(&b, "  logsource category=%q product=%q service=%q definition=%q\n",
			r.Logsource.Category, r.Logsource.Product, r.Logsource.Service, r.Logsource.Definition)
		dumpDetection(&b, &r.Detection)
	}
	for _, c := range f.Correlations {
		fmt.Fprintf(&b, "correlation %q type=%s rules=%q group-by=%q timespan=%v generate=%v @%d:%d\n",
			c.Title, c.Type, c.Rules, c.GroupBy, c.Timespan, c.Generate, c.Pos.Line, c.Pos.Col)
		for _, th := range c.Thresholds {
			fmt.Fprintf(&b, "  threshold %s %v\n", th.Op, th.Value)
		}
		if len(c.Field) > 0 {
			fmt.Fprintf(&b, "  field %q\n", c.Field)
		}
		if c.Expr != nil {
			fmt.Fprintf(&b, "  expr %s\n", c.Expr)
		}
		if c.Aliases != nil {
			fmt.Fprintf(&b, "  aliases %v\n", c.Aliases)
		}
		if c.Level != "" {
			fmt.Fprintf(&b, "  level %s\n", c.Level)
		}
	}
	for _, fl := range f.Filters {
		fmt.Fprintf(&b, "filter %q rules=%q logsource=%s/%s/%s\n", fl.Title, fl.Rules,
			fl.Logsource.Category, fl.Logsource.Product, fl.Logsource.Service)
		dumpDetection(&b, &fl.Detection)
	}
	return b.String()
}

func dumpMeta(b *strings.Builder, m *Meta) {
	fields := []struct{ k, v string }{
		{"id", m.ID}, {"name", m.Name}, {"status", m.Status}, {"level", m.Level}, {"description", m.Description},
		{"author", m.Author}, {"date", m.Date}, {"modified", m.Modified}, {"license", m.License}, {"taxonomy", m.Taxonomy},
	}
	for _, f := range fields {
		if f.v != "" {
			fmt.Fprintf(b, "  %s %q\n", f.k, f.v)
		}
	}
	lists := []struct {
		k string
		v []string
	}{{"references", m.References}, {"tags", m.Tags}, {"falsepositives", m.FalsePositives}, {"fields", m.Fields}, {"scope", m.Scope}}
	for _, l := range lists {
		if len(l.v) > 0 {
			fmt.Fprintf(b, "  %s %q\n", l.k, l.v)
		}
	}
	for _, r := range m.Related {
		fmt.Fprintf(b, "  related %s %s\n", r.Type, r.ID)
	}
	keys := make([]string, 0, len(m.Extra))
	for k := range m.Extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(b, "  extra %s = %v\n", k, m.Extra[k])
	}
}

func dumpDetection(b *strings.Builder, d *Detection) {
	for _, n := range d.Names {
		s := d.Searches[n]
		fmt.Fprintf(b, "  search %s @%d:%d keywords=%v\n", n, s.Pos.Line, s.Pos.Col, s.IsKeywords())
		for gi, g := range s.Groups {
			for _, m := range g.Matchers {
				fmt.Fprintf(b, "    [%d] field=%q mods=%q @%d:%d\n", gi, m.Field, m.Modifiers.String(), m.Pos.Line, m.Pos.Col)
				for _, v := range m.Values {
					fmt.Fprintf(b, "        %s %q pattern=%s @%d:%d\n", v.Kind, v.Text, dumpPattern(v.Pattern), v.Pos.Line, v.Pos.Col)
				}
			}
		}
	}
	for _, c := range d.Conditions {
		fmt.Fprintf(b, "  condition %s @%d:%d\n", c.Expr, c.Pos.Line, c.Pos.Col)
		walk(c.Expr, func(e Expr) {
			if of, ok := e.(*Of); ok {
				fmt.Fprintf(b, "    %s -> %q\n", of, of.Names)
			}
		})
		if a := c.Aggregation; a != nil {
			fmt.Fprintf(b, "    aggregation %s(%s) by %q %s %v\n", a.Func, a.Field, a.GroupBy, a.Op, a.Value)
		}
	}
	if d.TimeframeText != "" {
		fmt.Fprintf(b, "  timeframe %s = %v\n", d.TimeframeText, d.Timeframe)
	}
}

func dumpPattern(p Pattern) string {
	parts := make([]string, len(p))
	for i, pc := range p {
		switch pc.Kind {
		case AnyRun:
			parts[i] = "*"
		case AnyOne:
			parts[i] = "?"
		case Placeholder:
			parts[i] = "%" + pc.Text + "%"
		default:
			parts[i] = fmt.Sprintf("%q", pc.Text)
		}
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func walk(e Expr, fn func(Expr)) {
	fn(e)
	switch e := e.(type) {
	case *Not:
		walk(e.X, fn)
	case *And:
		walk(e.X, fn)
		walk(e.Y, fn)
	case *Or:
		walk(e.X, fn)
		walk(e.Y, fn)
	}
}

func TestErrorRendering(t *testing.T) {
	e := &Error{Pos: Pos{File: "r.yml", Line: 3, Col: 7}, Msg: "unknown modifier \"contians\"", Hint: "did you mean \"contains\"?"}
	if got, want := e.Error(), `r.yml:3:7: unknown modifier "contians" (did you mean "contains"?)`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	var l ErrorList
	if l.Err() != nil {
		t.Error("empty list must be a nil error")
	}
	l.Add(Pos{File: "b", Line: 2}, "second", "")
	l.Add(Pos{File: "a", Line: 9}, "first", "")
	l.Sort()
	if l[0].Msg != "first" || !strings.Contains(l.Error(), "and 1 more") {
		t.Errorf("sort or render wrong: %v", l)
	}
}

func TestSuggest(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"contians", `did you mean "contains"?`},
		{"endwith", `did you mean "endswith"?`},
		{"base64offest", `did you mean "base64offset"?`},
		{"frobnicate", ""},
	} {
		if got := suggest(tc.in, ModifierNames()); got != tc.want {
			t.Errorf("suggest(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestLoadDirRefusesAndContinues(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a_bad.yml", "title: x\nlogsource: {}\ndetection:\n  s: {A|contians: x}\n  condition: s\n")
	write("b_good.yaml", "title: y\nlogsource: {product: p}\ndetection:\n  s: {A: x}\n  condition: s\n")
	write("c_ignored.txt", "not yaml")
	set, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Rules()) != 1 || set.Rules()[0].Title != "y" {
		t.Errorf("want the good rule loaded, got %d rules", len(set.Rules()))
	}
	if len(set.Refusals) != 1 || !strings.Contains(set.Refusals[0].Error(), `a_bad.yml:4:9: unknown modifier "contians"`) {
		t.Errorf("refusals = %v", set.Refusals)
	}
	if _, err := LoadDir(filepath.Join(dir, "missing")); err == nil {
		t.Error("want an error for a missing root")
	}
}

func TestAliasBomb(t *testing.T) {
	src := "title: t\nlogsource: {product: p}\n" +
		"a: &a [x, x, x, x, x, x, x, x, x, x]\n" +
		"b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n" +
		"c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n" +
		"d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n" +
		"e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n" +
		"detection:\n  s: {A: 1}\n  condition: s\n"
	_, err := ParseFile("bomb.yml", []byte(src))
	if err == nil || !strings.Contains(err.Error(), "too many yaml alias expansions") {
		t.Fatalf("err = %v", err)
	}
}
