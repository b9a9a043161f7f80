package sigma

import (
	"math"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"
)

// maxYAMLDepth bounds alias and nesting depth while decoding, so that alias
// loops and hostile nesting are reported instead of exhausting the stack.
const maxYAMLDepth = 64

// doc holds the state of decoding one YAML document.
type doc struct {
	file    string
	anchors map[string]ast.Node
	errs    *ErrorList
	// aliasBudget bounds alias expansions, so that an alias bomb (nested
	// anchors that double at each level) is refused instead of expanded.
	aliasBudget int
}

const maxAliasExpansions = 10000

type anchorCollector struct{ anchors map[string]ast.Node }

func (c anchorCollector) Visit(n ast.Node) ast.Visitor {
	if a, ok := n.(*ast.AnchorNode); ok && a.Name != nil {
		c.anchors[a.Name.GetToken().Value] = a.Value
	}
	return c
}

func newDoc(file string, body ast.Node, errs *ErrorList) *doc {
	d := &doc{file: file, anchors: map[string]ast.Node{}, errs: errs, aliasBudget: maxAliasExpansions}
	if body != nil {
		ast.Walk(anchorCollector{anchors: d.anchors}, body)
	}
	return d
}

func (d *doc) pos(n ast.Node) Pos {
	if n == nil {
		return Pos{File: d.file}
	}
	tk := n.GetToken()
	if tk == nil || tk.Position == nil {
		return Pos{File: d.file}
	}
	return Pos{File: d.file, Line: tk.Position.Line, Col: tk.Position.Column}
}

// unwrap follows anchors, aliases and tags to the node that carries data.
// It returns nil for a nil node or an unresolvable alias (reported).
func (d *doc) unwrap(n ast.Node) ast.Node {
	for range maxYAMLDepth {
		switch v := n.(type) {
		case *ast.AnchorNode:
			n = v.Value
		case *ast.TagNode:
			if v.Value == nil {
				return nil
			}
			// An explicit !!str tag forces a string, whatever the text.
			if v.Start != nil && v.Start.Value == "!!str" {
				if tk := v.Value.GetToken(); tk != nil {
					return &ast.StringNode{BaseNode: &ast.BaseNode{}, Token: tk, Value: tk.Value}
				}
			}
			n = v.Value
		case *ast.AliasNode:
			name := ""
			if v.Value != nil {
				name = v.Value.GetToken().Value
			}
			d.aliasBudget--
			if d.aliasBudget == 0 {
				d.errs.Add(d.pos(v), "too many yaml alias expansions", "a sigma rule does not need more than a few aliases")
			}
			if d.aliasBudget <= 0 {
				return nil
			}
			target, ok := d.anchors[name]
			if !ok {
				d.errs.Add(d.pos(v), "undefined yaml alias *"+name, "define the anchor &"+name+" before using it")
				return nil
			}
			n = target
		default:
			return n
		}
	}
	d.errs.Add(d.pos(n), "yaml aliases nested too deeply", "")
	return nil
}

// mapping returns n as a mapping node, or reports that what is expected
// must be a map.
func (d *doc) mapping(n ast.Node, what string) *ast.MappingNode {
	switch v := d.unwrap(n).(type) {
	case *ast.MappingNode:
		return v
	case *ast.MappingValueNode:
		return &ast.MappingNode{BaseNode: v.BaseNode, Start: v.GetToken(), Values: []*ast.MappingValueNode{v}}
	case nil:
		d.errs.Add(d.pos(n), what+" must be a map, not empty", "")
	default:
		d.errs.Add(d.pos(n), what+" must be a map, not a "+nodeKind(v), "")
	}
	return nil
}

func nodeKind(n ast.Node) string {
	switch n.(type) {
	case *ast.MappingNode, *ast.MappingValueNode:
		return "map"
	case *ast.SequenceNode:
		return "list"
	case *ast.NullNode:
		return "null"
	case nil:
		return "empty value"
	}
	return "scalar"
}

// keyText returns the text of a mapping key and the position of its first
// character (inside the quotes for a quoted key).
func (d *doc) keyText(mv *ast.MappingValueNode) (string, Pos, bool) {
	k := d.unwrap(mv.Key)
	p := d.pos(mv.Key)
	if k == nil {
		return "", p, false
	}
	tk := k.GetToken()
	if tk != nil && (tk.Type == token.SingleQuoteType || tk.Type == token.DoubleQuoteType) {
		p.Col++
	}
	switch v := k.(type) {
	case *ast.StringNode:
		return v.Value, p, true
	case *ast.NullNode:
		return "", p, true
	case ast.ScalarNode:
		if tk != nil {
			return tk.Value, p, true
		}
	}
	d.errs.Add(p, "map key must be a scalar, not a "+nodeKind(k), "")
	return "", p, false
}

// scalar decodes n as a Sigma value. ok is false (and an error reported)
// for maps and lists.
func (d *doc) scalar(n ast.Node, what string) (Value, bool) {
	u := d.unwrap(n)
	v := Value{Pos: d.pos(n)}
	switch s := u.(type) {
	case nil, *ast.NullNode:
		v.Kind, v.Text = KindNull, "null"
		return v, true
	case *ast.StringNode:
		v.Kind, v.Text = KindString, s.Value
		if tk := s.Token; tk != nil && (tk.Type == token.SingleQuoteType || tk.Type == token.DoubleQuoteType) {
			v.Pos.Col++
		}
		return v, true
	case *ast.LiteralNode:
		v.Kind = KindString
		if s.Value != nil {
			v.Text = s.Value.Value
		}
		return v, true
	case *ast.IntegerNode:
		v.Kind, v.Text = KindInt, s.Token.Value
		switch i := s.Value.(type) {
		case int64:
			v.Int = i
		case uint64:
			if i <= math.MaxInt64 {
				v.Int = int64(i)
			} else {
				// Too large for int64: keep the text, approximate as a float.
				v.Kind, v.Float = KindFloat, float64(i)
			}
		}
		return v, true
	case *ast.FloatNode:
		v.Kind, v.Text, v.Float = KindFloat, s.Token.Value, s.Value
		return v, true
	case *ast.InfinityNode:
		v.Kind, v.Text, v.Float = KindFloat, s.Token.Value, s.Value
		return v, true
	case *ast.NanNode:
		v.Kind, v.Text = KindFloat, s.Token.Value
		f, _ := strconv.ParseFloat("NaN", 64)
		v.Float = f
		return v, true
	case *ast.BoolNode:
		v.Kind, v.Text, v.Bool = KindBool, s.Token.Value, s.Value
		return v, true
	}
	d.errs.Add(d.pos(n), what+" must be a scalar, not a "+nodeKind(u), "")
	return v, false
}

// str decodes n as a string (any scalar, as written). Empty/null gives "".
func (d *doc) str(n ast.Node, what string) string {
	v, ok := d.scalar(n, what)
	if !ok || v.Kind == KindNull {
		return ""
	}
	return v.Text
}

// strList decodes a list of strings; a single scalar is taken as a list of
// one, as Sigma tools do for author-friendly fields.
func (d *doc) strList(n ast.Node, what string) []string {
	u := d.unwrap(n)
	seq, ok := u.(*ast.SequenceNode)
	if !ok {
		if _, isNull := u.(*ast.NullNode); isNull || u == nil {
			return nil
		}
		s := d.str(n, what)
		return []string{s}
	}
	out := make([]string, 0, len(seq.Values))
	for _, e := range seq.Values {
		out = append(out, d.str(e, what+" entry"))
	}
	return out
}

// generic decodes any node to plain Go values, for keys kept in Extra.
func (d *doc) generic(n ast.Node, depth int) any {
	if depth > maxYAMLDepth {
		d.errs.Add(d.pos(n), "yaml nested too deeply", "")
		return nil
	}
	switch v := d.unwrap(n).(type) {
	case *ast.MappingNode:
		m := make(map[string]any, len(v.Values))
		for _, mv := range v.Values {
			k, _, _ := d.keyText(mv)
			m[k] = d.generic(mv.Value, depth+1)
		}
		return m
	case *ast.MappingValueNode:
		k, _, _ := d.keyText(v)
		return map[string]any{k: d.generic(v.Value, depth+1)}
	case *ast.SequenceNode:
		out := make([]any, 0, len(v.Values))
		for _, e := range v.Values {
			out = append(out, d.generic(e, depth+1))
		}
		return out
	}
	val, ok := d.scalar(n, "value")
	if !ok {
		return nil
	}
	switch val.Kind {
	case KindInt:
		return val.Int
	case KindFloat:
		return val.Float
	case KindBool:
		return val.Bool
	case KindNull:
		return nil
	}
	return val.Text
}

// keyed iterates the entries of a mapping with their key text, reporting
// duplicate keys.
func (d *doc) entries(m *ast.MappingNode, what string) []entry {
	out := make([]entry, 0, len(m.Values))
	seen := make(map[string]bool, len(m.Values))
	for _, mv := range m.Values {
		k, p, ok := d.keyText(mv)
		if !ok {
			continue
		}
		if seen[k] {
			d.errs.Add(p, "duplicate key "+strconv.Quote(k)+" in "+what, "merge the two entries; yaml keeps only one of them")
			continue
		}
		seen[k] = true
		out = append(out, entry{key: k, pos: p, value: mv.Value})
	}
	return out
}

type entry struct {
	key   string
	pos   Pos
	value ast.Node
}

func oneOf(s string, allowed ...string) bool {
	for _, a := range allowed {
		if s == a {
			return true
		}
	}
	return false
}

func quoteList(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}
