package normalize

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"

	"github.com/vigil-defense/vigil/sigma"
)

// This file reads the table format (see doc.go) into specs: what the file
// says, with positions, before anything is compiled.

// sourceSpec is one entry of a table file's "sources" list.
type sourceSpec struct {
	Name       string
	Disabled   bool
	When       []condSpec
	Logsources []Logsource
	Aliases    []Alias
	Pos        sigma.Pos
}

// condKind is what a condition asks of a key field.
type condKind uint8

const (
	condValues  condKind = iota // the field is present and its value is one of Values
	condPresent                 // the field is present, whatever its value ("*")
	condAbsent                  // the field is absent (null)
)

type condSpec struct {
	Field  string
	Kind   condKind
	Values []string // as written; folded at compile time unless the field is cased
	Pos    sigma.Pos
}

// fileSpec is one parsed table file.
type fileSpec struct {
	Cased   []string
	Sources []*sourceSpec
}

// Limits that keep keys compact and tables sane.
const (
	maxKeyFields   = 32  // distinct fields named in conditions
	maxValueLen    = 200 // length of one condition value
	maxFieldName   = 64  // length of a key field's name
	maxSourcesFile = 10000
)

type reader struct {
	file string
	errs sigma.ErrorList
}

func (r *reader) pos(n ast.Node) sigma.Pos {
	// A map is where its first key starts (go-yaml points at the colon).
	switch m := n.(type) {
	case *ast.MappingNode:
		if len(m.Values) > 0 {
			n = m.Values[0].Key
		}
	case *ast.MappingValueNode:
		n = m.Key
	}
	if n == nil {
		return sigma.Pos{File: r.file}
	}
	tk := n.GetToken()
	if tk == nil || tk.Position == nil {
		return sigma.Pos{File: r.file}
	}
	return sigma.Pos{File: r.file, Line: tk.Position.Line, Col: tk.Position.Column}
}

func (r *reader) errorf(n ast.Node, hint, format string, args ...any) {
	r.errs.Add(r.pos(n), fmt.Sprintf(format, args...), hint)
}

// unwrap skips anchors and tags; aliases are refused (tables are small
// enough to write out).
func (r *reader) unwrap(n ast.Node) ast.Node {
	for i := 0; i < 16 && n != nil; i++ {
		switch v := n.(type) {
		case *ast.AnchorNode:
			n = v.Value
		case *ast.TagNode:
			n = v.Value
		case *ast.AliasNode:
			r.errorf(n, "write the value out", "yaml aliases are not supported in mapping tables")
			return nil
		case *ast.CommentNode:
			return nil
		default:
			return n
		}
	}
	return n
}

func kindOf(n ast.Node) string {
	switch n.(type) {
	case *ast.MappingNode, *ast.MappingValueNode:
		return "map"
	case *ast.SequenceNode:
		return "list"
	case *ast.NullNode, nil:
		return "empty value"
	}
	return "scalar"
}

func (r *reader) mapping(n ast.Node, what string) []*ast.MappingValueNode {
	switch v := r.unwrap(n).(type) {
	case *ast.MappingNode:
		return v.Values
	case *ast.MappingValueNode:
		return []*ast.MappingValueNode{v}
	default:
		r.errorf(n, "", "%s must be a map, not a %s", what, kindOf(v))
		return nil
	}
}

func (r *reader) sequence(n ast.Node, what string) []ast.Node {
	switch v := r.unwrap(n).(type) {
	case *ast.SequenceNode:
		return v.Values
	default:
		r.errorf(n, "", "%s must be a list, not a %s", what, kindOf(v))
		return nil
	}
}

// scalar returns the text of a scalar node; null is reported as not ok.
func (r *reader) scalar(n ast.Node, what string) (string, bool) {
	switch v := r.unwrap(n).(type) {
	case *ast.StringNode:
		return v.Value, true
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.InfinityNode, *ast.NanNode:
		return v.GetToken().Value, true
	default:
		r.errorf(n, "", "%s must be a string, not a %s", what, kindOf(v))
		return "", false
	}
}

func (r *reader) key(mv *ast.MappingValueNode) (string, bool) {
	k := r.unwrap(mv.Key)
	switch v := k.(type) {
	case *ast.StringNode:
		return v.Value, true
	case ast.ScalarNode:
		if tk := k.GetToken(); tk != nil && tk.Type != token.NullType {
			return tk.Value, true
		}
	}
	r.errorf(mv.Key, "", "map key must be a string")
	return "", false
}

// unknownKey reports a key that the format does not define, suggesting the
// nearest known one.
func (r *reader) unknownKey(mv *ast.MappingValueNode, k, where string, known ...string) {
	hint := "known keys: " + strings.Join(known, ", ")
	if s := nearest(k, known); s != "" {
		hint = fmt.Sprintf("did you mean %q?", s)
	}
	r.errorf(mv.Key, hint, "unknown key %q in %s", k, where)
}

// parseFile reads a table file. Every problem is collected.
func parseFile(name string, data []byte) (*fileSpec, error) {
	r := &reader{file: name}
	af, err := parser.ParseBytes(data, 0)
	if err != nil {
		var se *yaml.SyntaxError
		if errors.As(err, &se) && se.Token != nil && se.Token.Position != nil {
			r.errs.Add(sigma.Pos{File: name, Line: se.Token.Position.Line, Col: se.Token.Position.Column}, "invalid yaml: "+se.Message, "")
		} else {
			msg := err.Error()
			if i := strings.IndexByte(msg, '\n'); i >= 0 {
				msg = msg[:i]
			}
			r.errs.Add(sigma.Pos{File: name}, "invalid yaml: "+msg, "")
		}
		return nil, r.errs
	}
	fs := &fileSpec{}
	docs := 0
	for _, d := range af.Docs {
		if d == nil || d.Body == nil {
			continue
		}
		body := r.unwrap(d.Body)
		if body == nil {
			continue
		}
		docs++
		if docs > 1 {
			r.errorf(body, "put every source in one document", "a mapping table is one yaml document")
			break
		}
		r.document(fs, body)
	}
	if docs == 0 {
		r.errs.Add(sigma.Pos{File: name}, "empty mapping table", `a table needs a "sources" list`)
	}
	r.checkNames(fs)
	r.errs.Sort()
	return fs, r.errs.Err()
}

func (r *reader) document(fs *fileSpec, body ast.Node) {
	seenSources := false
	for _, mv := range r.mapping(body, "a mapping table") {
		k, ok := r.key(mv)
		if !ok {
			continue
		}
		switch k {
		case "cased":
			for _, n := range r.sequence(mv.Value, `"cased"`) {
				if s, ok := r.scalar(n, "a cased field name"); ok {
					fs.Cased = append(fs.Cased, s)
				}
			}
		case "sources":
			seenSources = true
			items := r.sequence(mv.Value, `"sources"`)
			if len(items) > maxSourcesFile {
				r.errorf(mv.Value, "split the table", "too many sources (%d, at most %d)", len(items), maxSourcesFile)
				return
			}
			for _, n := range items {
				if s := r.source(n); s != nil {
					fs.Sources = append(fs.Sources, s)
				}
			}
		default:
			r.unknownKey(mv, k, "a mapping table", "cased", "sources")
		}
	}
	if !seenSources {
		r.errorf(body, `add "sources:" with at least one source`, "mapping table has no sources")
	}
}

func (r *reader) source(n ast.Node) *sourceSpec {
	s := &sourceSpec{Pos: r.pos(n)}
	hasWhen, hasLS := false, false
	for _, mv := range r.mapping(n, "a source") {
		k, ok := r.key(mv)
		if !ok {
			continue
		}
		switch k {
		case "name":
			s.Name, _ = r.scalar(mv.Value, "name")
		case "disabled":
			b, ok := r.unwrap(mv.Value).(*ast.BoolNode)
			if !ok {
				r.errorf(mv.Value, "write true or false", "disabled must be a boolean")
				continue
			}
			s.Disabled = b.Value
		case "when":
			hasWhen = true
			s.When = r.when(mv.Value)
		case "logsources":
			hasLS = true
			for _, ln := range r.sequence(mv.Value, "logsources") {
				if ls, ok := r.logsource(ln); ok {
					s.Logsources = append(s.Logsources, ls)
				}
			}
		case "aliases":
			for _, am := range r.mapping(mv.Value, "aliases") {
				sk, ok := r.key(am)
				if !ok {
					continue
				}
				ev, ok := r.scalar(am.Value, "the event field of alias "+sk)
				if !ok {
					continue
				}
				if sk == "" || ev == "" {
					r.errorf(am, "write SigmaName: EventField", "alias names must not be empty")
					continue
				}
				s.Aliases = append(s.Aliases, Alias{Sigma: sk, Event: ev})
			}
		default:
			r.unknownKey(mv, k, "a source", "name", "when", "logsources", "aliases", "disabled")
		}
	}
	if s.Name == "" {
		r.errorf(n, "names let a user file replace or disable a source", "source has no name")
	}
	if s.Disabled {
		return s
	}
	if !hasWhen || len(s.When) == 0 {
		r.errorf(n, `add "when:" with the key fields that identify these events, e.g. {Channel: Security}`, "source %q has no conditions", s.Name)
	}
	if !hasLS && len(s.Aliases) == 0 {
		r.errorf(n, `add "logsources:" or "aliases:"`, "source %q neither names logsources nor aliases fields", s.Name)
	}
	return s
}

func (r *reader) when(n ast.Node) []condSpec {
	var out []condSpec
	for _, mv := range r.mapping(n, "when") {
		f, ok := r.key(mv)
		if !ok {
			continue
		}
		if f == "" || len(f) > maxFieldName {
			r.errorf(mv.Key, "", "key field name must have 1 to %d characters", maxFieldName)
			continue
		}
		c := condSpec{Field: f, Pos: r.pos(mv.Key)}
		v := r.unwrap(mv.Value)
		switch v := v.(type) {
		case *ast.NullNode, nil:
			c.Kind = condAbsent
		case *ast.SequenceNode:
			if len(v.Values) == 0 {
				r.errorf(mv.Value, "list at least one value", "condition on %s has an empty list", f)
				continue
			}
			for _, e := range v.Values {
				if s, ok := r.value(e, f); ok {
					c.Values = append(c.Values, s)
				}
			}
		default:
			if s, ok := v.(*ast.StringNode); ok && s.Value == "*" {
				c.Kind = condPresent
				break
			}
			s, ok := r.value(v, f)
			if !ok {
				continue
			}
			c.Values = []string{s}
		}
		out = append(out, c)
	}
	return out
}

func (r *reader) value(n ast.Node, field string) (string, bool) {
	s, ok := r.scalar(n, "a value of "+field)
	if !ok {
		return "", false
	}
	if s == "*" {
		r.errorf(n, `write "*" alone, not in a list`, `"*" (present) cannot be one of several values`)
		return "", false
	}
	if len(s) > maxValueLen {
		r.errorf(n, "", "value of %s is too long (%d bytes, at most %d)", field, len(s), maxValueLen)
		return "", false
	}
	return s, true
}

func (r *reader) logsource(n ast.Node) (Logsource, bool) {
	var ls Logsource
	for _, mv := range r.mapping(n, "a logsource") {
		k, ok := r.key(mv)
		if !ok {
			continue
		}
		v, ok := r.scalar(mv.Value, k)
		if !ok {
			continue
		}
		if v != strings.ToLower(v) {
			r.errorf(mv.Value, fmt.Sprintf("write %q", strings.ToLower(v)), "logsource values are lower case")
			v = strings.ToLower(v)
		}
		switch k {
		case "category":
			ls.Category = v
		case "product":
			ls.Product = v
		case "service":
			ls.Service = v
		default:
			r.unknownKey(mv, k, "a logsource", "category", "product", "service")
		}
	}
	if ls == (Logsource{}) {
		r.errorf(n, "give category, product and/or service", "empty logsource")
		return ls, false
	}
	return ls, true
}

// checkNames reports duplicate source names within one file.
func (r *reader) checkNames(fs *fileSpec) {
	seen := map[string]sigma.Pos{}
	for _, s := range fs.Sources {
		if s.Name == "" {
			continue
		}
		if p, dup := seen[s.Name]; dup {
			r.errs.Add(s.Pos, fmt.Sprintf("duplicate source name %q (first at %s)", s.Name, p), "give each source a unique name")
			continue
		}
		seen[s.Name] = s.Pos
	}
}

// nearest returns the candidate closest to s by edit distance, if close.
func nearest(s string, cands []string) string {
	best, bestD := "", 3
	for _, c := range cands {
		if d := sigma.EditDistance(strings.ToLower(s), c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
