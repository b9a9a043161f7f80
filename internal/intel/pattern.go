package intel

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// This file parses the STIX 2.0/2.1 patterning language: the whole grammar
// of the OASIS specification (STIXPattern.g4), so that every valid pattern
// parses and an invalid one is refused with the offset of the fault.
// Deciding what of a parsed pattern vigil can match inline is separate
// (patternTerms).

// Pattern is a parsed STIX pattern.
type Pattern struct {
	Text string
	Root ObservationExpr
}

// ObservationExpr is an observation expression: *Observation,
// *ObservationBinary or *Qualified.
type ObservationExpr interface{ obsExpr() }

// ComparisonExpr is a comparison expression: *Comparison or
// *ComparisonBinary.
type ComparisonExpr interface{ cmpExpr() }

// Observation is "[ comparison-expression ]".
type Observation struct{ Expr ComparisonExpr }

// ObservationBinary joins observation expressions with AND, OR or
// FOLLOWEDBY.
type ObservationBinary struct {
	Op   string
	L, R ObservationExpr
}

// Qualified is an observation expression with a qualifier: WITHIN n
// SECONDS, REPEATS n TIMES, or START t STOP t.
type Qualified struct {
	X         ObservationExpr
	Qualifier string // the qualifier as written, normalised: "WITHIN 300 SECONDS"
}

// ComparisonBinary joins comparison expressions with AND or OR.
type ComparisonBinary struct {
	Op   string
	L, R ComparisonExpr
}

// Comparison tests one object path: path [NOT] op value, or [NOT] EXISTS
// path.
type Comparison struct {
	Path  ObjectPath
	Not   bool
	Op    string    // =, !=, <, <=, >, >=, IN, LIKE, MATCHES, ISSUBSET, ISSUPERSET, EXISTS
	Value Literal   // unless Op is IN or EXISTS
	Set   []Literal // Op IN
}

func (*Observation) obsExpr()       {}
func (*ObservationBinary) obsExpr() {}
func (*Qualified) obsExpr()         {}
func (*ComparisonBinary) cmpExpr()  {}
func (*Comparison) cmpExpr()        {}

// ObjectPath is "type:property.sub[0].…".
type ObjectPath struct {
	ObjectType string
	Steps      []PathStep
}

// PathStep is a property name (Key) or a list index (Index, or Any for *).
type PathStep struct {
	Key     string
	IsIndex bool
	Index   int
	Any     bool
}

// String writes the path as STIX does, quoting keys that need it.
func (p ObjectPath) String() string {
	var b strings.Builder
	b.WriteString(p.ObjectType)
	b.WriteByte(':')
	for i, s := range p.Steps {
		switch {
		case s.IsIndex && s.Any:
			b.WriteString("[*]")
		case s.IsIndex:
			fmt.Fprintf(&b, "[%d]", s.Index)
		default:
			if i > 0 {
				b.WriteByte('.')
			}
			if isIdent(s.Key, false) {
				b.WriteString(s.Key)
			} else {
				b.WriteString("'" + strings.ReplaceAll(strings.ReplaceAll(s.Key, `\`, `\\`), "'", `\'`) + "'")
			}
		}
	}
	return b.String()
}

// LiteralKind is the kind of a constant in a pattern.
type LiteralKind uint8

// Literal kinds.
const (
	LitString LiteralKind = iota
	LitInt
	LitFloat
	LitBool
	LitBinary    // b'base64'
	LitHex       // h'hex'
	LitTimestamp // t'2014-01-13T07:03:17Z'
)

// Literal is a constant: Text is a string's decoded value, or the
// constant's text for the other kinds (without b”, h”, t”).
type Literal struct {
	Kind LiteralKind
	Text string
}

// PatternError is a syntax error in a pattern, at a byte offset.
type PatternError struct {
	Offset int
	Msg    string
}

func (e *PatternError) Error() string { return fmt.Sprintf("pattern offset %d: %s", e.Offset, e.Msg) }

// ParsePattern parses a STIX pattern.
func ParsePattern(s string) (*Pattern, error) {
	p := &patternParser{src: s}
	if err := p.lex(); err != nil {
		return nil, err
	}
	root, err := p.observationExpressions()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tokEOF {
		return nil, p.errorf(t, "unexpected %s after the end of the pattern", t)
	}
	return &Pattern{Text: s, Root: root}, nil
}

type tokKind uint8

const (
	tokEOF tokKind = iota
	tokIdent
	tokString
	tokInt
	tokFloat
	tokBinary
	tokHex
	tokTimestamp
	tokBool
	tokKeyword
	tokOp // = != < <= > >=
	tokPunct
)

type token struct {
	kind tokKind
	text string // decoded for strings
	pos  int
}

func (t token) String() string {
	switch t.kind {
	case tokEOF:
		return "end of pattern"
	case tokString:
		return "string '" + t.text + "'"
	}
	return strconv.Quote(t.text)
}

var keywords = map[string]bool{
	"AND": true, "OR": true, "NOT": true, "FOLLOWEDBY": true, "LIKE": true, "MATCHES": true, "ISSUPERSET": true,
	"ISSUBSET": true, "EXISTS": true, "LAST": true, "IN": true, "START": true, "STOP": true, "SECONDS": true,
	"WITHIN": true, "REPEATS": true, "TIMES": true,
}

type patternParser struct {
	src  string
	toks []token
	i    int
}

func (p *patternParser) errorf(t token, format string, args ...any) error {
	return &PatternError{Offset: t.pos, Msg: fmt.Sprintf(format, args...)}
}

func isIdent(s string, hyphen bool) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && (c >= '0' && c <= '9' || hyphen && c == '-') {
			continue
		}
		return false
	}
	return true
}

func (p *patternParser) lex() error {
	s := p.src
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f':
			i++
			continue
		case c >= 0x80:
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == 0x85 || r == 0xa0 || r == 0x1680 || r >= 0x2000 && r <= 0x200a || r == 0x2028 || r == 0x2029 || r == 0x202f || r == 0x205f || r == 0x3000 {
				i += n
				continue
			}
			return &PatternError{i, fmt.Sprintf("unexpected character %q", r)}
		case strings.HasPrefix(s[i:], "/*"):
			j := strings.Index(s[i+2:], "*/")
			if j < 0 {
				return &PatternError{i, "unterminated comment"}
			}
			i += j + 4
			continue
		case strings.HasPrefix(s[i:], "//"):
			j := strings.IndexAny(s[i:], "\r\n")
			if j < 0 {
				j = len(s) - i
			}
			i += j
			continue
		case c == '\'':
			v, n, err := lexString(s, i)
			if err != nil {
				return err
			}
			p.toks = append(p.toks, token{tokString, v, i})
			i += n
			continue
		case (c == 'b' || c == 'h' || c == 't') && i+1 < len(s) && s[i+1] == '\'':
			v, n, err := lexString(s, i+1)
			if err != nil {
				return err
			}
			k := map[byte]tokKind{'b': tokBinary, 'h': tokHex, 't': tokTimestamp}[c]
			if err := checkTyped(c, v); err != nil {
				return &PatternError{i, err.Error()}
			}
			p.toks = append(p.toks, token{k, v, i})
			i += n + 1
			continue
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			j := i + 1
			for j < len(s) && (s[j] == '_' || s[j] == '-' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= '0' && s[j] <= '9') {
				j++
			}
			w := s[i:j]
			switch {
			case keywords[w]:
				p.toks = append(p.toks, token{tokKeyword, w, i})
			case w == "true" || w == "false":
				p.toks = append(p.toks, token{tokBool, w, i})
			default:
				p.toks = append(p.toks, token{tokIdent, w, i})
			}
			i = j
			continue
		case c >= '0' && c <= '9' || (c == '-' || c == '+' || c == '.') && i+1 < len(s) && (s[i+1] >= '0' && s[i+1] <= '9' || s[i+1] == '.'):
			j := i
			if c == '-' || c == '+' {
				j++
			}
			digits := j
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			kind := tokInt
			if j < len(s) && s[j] == '.' {
				kind = tokFloat
				j++
				k := j
				for j < len(s) && s[j] >= '0' && s[j] <= '9' {
					j++
				}
				if j == k {
					return &PatternError{i, "a number needs digits after the decimal point"}
				}
			} else if j-digits > 1 && s[digits] == '0' {
				return &PatternError{i, "an integer has no leading zeros"}
			}
			p.toks = append(p.toks, token{kind, s[i:j], i})
			i = j
			continue
		}
		for _, op := range []string{"==", "!=", "<>", "<=", ">=", "=", "<", ">"} {
			if strings.HasPrefix(s[i:], op) {
				o := op
				switch op {
				case "==":
					o = "="
				case "<>":
					o = "!="
				}
				p.toks = append(p.toks, token{tokOp, o, i})
				i += len(op)
				goto next
			}
		}
		if strings.IndexByte("[]():.,*", c) >= 0 {
			p.toks = append(p.toks, token{tokPunct, string(c), i})
			i++
			continue
		}
		return &PatternError{i, fmt.Sprintf("unexpected character %q", c)}
	next:
	}
	p.toks = append(p.toks, token{tokEOF, "", len(s)})
	return nil
}

// lexString reads a quoted string at s[i] ('), with \' and \\ escapes.
func lexString(s string, i int) (string, int, error) {
	var b strings.Builder
	j := i + 1
	for j < len(s) {
		switch s[j] {
		case '\\':
			if j+1 < len(s) && (s[j+1] == '\'' || s[j+1] == '\\') {
				b.WriteByte(s[j+1])
				j += 2
				continue
			}
			return "", 0, &PatternError{j, `a backslash in a string must escape ' or \`}
		case '\'':
			return b.String(), j + 1 - i, nil
		}
		b.WriteByte(s[j])
		j++
	}
	return "", 0, &PatternError{i, "unterminated string"}
}

func checkTyped(kind byte, v string) error {
	switch kind {
	case 'h':
		if len(v)%2 != 0 || strings.Trim(v, "0123456789abcdefABCDEF") != "" {
			return fmt.Errorf("h'%s' is not an even number of hexadecimal digits", v)
		}
	case 'b':
		if len(v)%4 != 0 || strings.Trim(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") != "" {
			return fmt.Errorf("b'%s' is not base64", v)
		}
	case 't':
		if len(v) < 20 || v[4] != '-' || v[7] != '-' || v[10] != 'T' || v[len(v)-1] != 'Z' {
			return fmt.Errorf("t'%s' is not an RFC 3339 UTC timestamp (YYYY-MM-DDThh:mm:ss[.s]Z)", v)
		}
	}
	return nil
}

func (p *patternParser) peek() token { return p.toks[p.i] }
func (p *patternParser) next() token {
	t := p.toks[p.i]
	if t.kind != tokEOF {
		p.i++
	}
	return t
}
func (p *patternParser) isKeyword(w string) bool {
	t := p.peek()
	return t.kind == tokKeyword && t.text == w
}
func (p *patternParser) isPunct(c string) bool {
	t := p.peek()
	return t.kind == tokPunct && t.text == c
}
func (p *patternParser) expectPunct(c, what string) error {
	if t := p.next(); t.kind != tokPunct || t.text != c {
		return p.errorf(t, "expected %q %s, found %s", c, what, t)
	}
	return nil
}

// observationExpressions: or (FOLLOWEDBY or)*
func (p *patternParser) observationExpressions() (ObservationExpr, error) {
	l, err := p.observationOr()
	if err != nil {
		return nil, err
	}
	for p.isKeyword("FOLLOWEDBY") {
		p.next()
		r, err := p.observationOr()
		if err != nil {
			return nil, err
		}
		l = &ObservationBinary{"FOLLOWEDBY", l, r}
	}
	return l, nil
}

func (p *patternParser) observationOr() (ObservationExpr, error) {
	l, err := p.observationAnd()
	if err != nil {
		return nil, err
	}
	for p.isKeyword("OR") {
		p.next()
		r, err := p.observationAnd()
		if err != nil {
			return nil, err
		}
		l = &ObservationBinary{"OR", l, r}
	}
	return l, nil
}

func (p *patternParser) observationAnd() (ObservationExpr, error) {
	l, err := p.observation()
	if err != nil {
		return nil, err
	}
	for p.isKeyword("AND") {
		p.next()
		r, err := p.observation()
		if err != nil {
			return nil, err
		}
		l = &ObservationBinary{"AND", l, r}
	}
	return l, nil
}

// observation: ( '[' cmp ']' | '(' observationExpressions ')' ) qualifier*
func (p *patternParser) observation() (ObservationExpr, error) {
	var x ObservationExpr
	t := p.next()
	switch {
	case t.kind == tokPunct && t.text == "[":
		c, err := p.comparisonOr()
		if err != nil {
			return nil, err
		}
		if err := p.expectPunct("]", "to close the observation expression"); err != nil {
			return nil, err
		}
		x = &Observation{c}
	case t.kind == tokPunct && t.text == "(":
		e, err := p.observationExpressions()
		if err != nil {
			return nil, err
		}
		if err := p.expectPunct(")", "to close the parenthesis"); err != nil {
			return nil, err
		}
		x = e
	default:
		return nil, p.errorf(t, "expected '[' to start an observation expression, found %s", t)
	}
	for {
		t := p.peek()
		if t.kind != tokKeyword {
			return x, nil
		}
		switch t.text {
		case "WITHIN":
			p.next()
			n := p.next()
			if n.kind != tokInt && n.kind != tokFloat || strings.HasPrefix(n.text, "-") {
				return nil, p.errorf(n, "WITHIN needs a positive number of seconds, found %s", n)
			}
			if s := p.next(); s.kind != tokKeyword || s.text != "SECONDS" {
				return nil, p.errorf(s, "expected SECONDS after WITHIN %s, found %s", n.text, s)
			}
			x = &Qualified{x, "WITHIN " + n.text + " SECONDS"}
		case "REPEATS":
			p.next()
			n := p.next()
			if n.kind != tokInt || strings.HasPrefix(n.text, "-") {
				return nil, p.errorf(n, "REPEATS needs a positive integer, found %s", n)
			}
			if s := p.next(); s.kind != tokKeyword || s.text != "TIMES" {
				return nil, p.errorf(s, "expected TIMES after REPEATS %s, found %s", n.text, s)
			}
			x = &Qualified{x, "REPEATS " + n.text + " TIMES"}
		case "START":
			p.next()
			a := p.next()
			if a.kind != tokTimestamp {
				return nil, p.errorf(a, "START needs a timestamp t'…', found %s", a)
			}
			if s := p.next(); s.kind != tokKeyword || s.text != "STOP" {
				return nil, p.errorf(s, "expected STOP after START t'%s', found %s", a.text, s)
			}
			b := p.next()
			if b.kind != tokTimestamp {
				return nil, p.errorf(b, "STOP needs a timestamp t'…', found %s", b)
			}
			x = &Qualified{x, "START t'" + a.text + "' STOP t'" + b.text + "'"}
		default:
			return x, nil
		}
	}
}

func (p *patternParser) comparisonOr() (ComparisonExpr, error) {
	l, err := p.comparisonAnd()
	if err != nil {
		return nil, err
	}
	for p.isKeyword("OR") {
		p.next()
		r, err := p.comparisonAnd()
		if err != nil {
			return nil, err
		}
		l = &ComparisonBinary{"OR", l, r}
	}
	return l, nil
}

func (p *patternParser) comparisonAnd() (ComparisonExpr, error) {
	l, err := p.propTest()
	if err != nil {
		return nil, err
	}
	for p.isKeyword("AND") {
		p.next()
		r, err := p.propTest()
		if err != nil {
			return nil, err
		}
		l = &ComparisonBinary{"AND", l, r}
	}
	return l, nil
}

func (p *patternParser) propTest() (ComparisonExpr, error) {
	if p.isPunct("(") {
		p.next()
		c, err := p.comparisonOr()
		if err != nil {
			return nil, err
		}
		if err := p.expectPunct(")", "to close the parenthesis"); err != nil {
			return nil, err
		}
		return c, nil
	}
	not := false
	if p.isKeyword("NOT") {
		p.next()
		not = true
		if !p.isKeyword("EXISTS") {
			return nil, p.errorf(p.peek(), "NOT before a comparison goes after the object path (path NOT = value), or before EXISTS")
		}
	}
	if p.isKeyword("EXISTS") {
		p.next()
		path, err := p.objectPath()
		if err != nil {
			return nil, err
		}
		return &Comparison{Path: path, Not: not, Op: "EXISTS"}, nil
	}
	path, err := p.objectPath()
	if err != nil {
		return nil, err
	}
	c := &Comparison{Path: path}
	if p.isKeyword("NOT") {
		p.next()
		c.Not = true
	}
	t := p.next()
	switch {
	case t.kind == tokOp:
		c.Op = t.text
		v := p.next()
		lit, ok := literal(v)
		if !ok {
			return nil, p.errorf(v, "expected a constant after %s, found %s", t.text, v)
		}
		if c.Op != "=" && c.Op != "!=" && (lit.Kind == LitBool) {
			return nil, p.errorf(v, "%s needs an orderable constant, not a boolean", c.Op)
		}
		c.Value = lit
	case t.kind == tokKeyword && t.text == "IN":
		c.Op = "IN"
		if err := p.expectPunct("(", "to start the set after IN"); err != nil {
			return nil, err
		}
		for !p.isPunct(")") {
			if len(c.Set) > 0 {
				if err := p.expectPunct(",", "between the constants of the set"); err != nil {
					return nil, err
				}
			}
			v := p.next()
			lit, ok := literal(v)
			if !ok {
				return nil, p.errorf(v, "expected a constant in the set, found %s", v)
			}
			c.Set = append(c.Set, lit)
		}
		p.next()
	case t.kind == tokKeyword && (t.text == "LIKE" || t.text == "MATCHES" || t.text == "ISSUBSET" || t.text == "ISSUPERSET"):
		c.Op = t.text
		v := p.next()
		if v.kind != tokString {
			return nil, p.errorf(v, "%s needs a string constant, found %s", t.text, v)
		}
		c.Value = Literal{LitString, v.text}
	default:
		return nil, p.errorf(t, "expected a comparison operator (=, !=, <, >, IN, LIKE, MATCHES, ISSUBSET, ISSUPERSET) after %s, found %s", path, t)
	}
	return c, nil
}

func literal(t token) (Literal, bool) {
	switch t.kind {
	case tokString:
		return Literal{LitString, t.text}, true
	case tokInt:
		return Literal{LitInt, t.text}, true
	case tokFloat:
		return Literal{LitFloat, t.text}, true
	case tokBool:
		return Literal{LitBool, t.text}, true
	case tokBinary:
		return Literal{LitBinary, t.text}, true
	case tokHex:
		return Literal{LitHex, t.text}, true
	case tokTimestamp:
		return Literal{LitTimestamp, t.text}, true
	}
	return Literal{}, false
}

// objectPath: type ':' first ( '.' key | '[' int|* ']' )*
func (p *patternParser) objectPath() (ObjectPath, error) {
	var op ObjectPath
	t := p.next()
	if t.kind != tokIdent {
		return op, p.errorf(t, "expected an object path such as ipv4-addr:value, found %s", t)
	}
	op.ObjectType = t.text
	if c := p.next(); c.kind != tokPunct || c.text != ":" {
		return op, p.errorf(c, "expected ':' after the object type %q, found %s", t.text, c)
	}
	f := p.next()
	switch {
	case f.kind == tokIdent && isIdent(f.text, false):
	case f.kind == tokString:
	case f.kind == tokIdent:
		return op, p.errorf(f, "property name %q has a hyphen: quote it ('%s')", f.text, f.text)
	default:
		return op, p.errorf(f, "expected a property name after %q, found %s", t.text+":", f)
	}
	op.Steps = append(op.Steps, PathStep{Key: f.text})
	for {
		switch {
		case p.isPunct("."):
			p.next()
			k := p.next()
			switch {
			case k.kind == tokIdent && isIdent(k.text, false), k.kind == tokString:
				op.Steps = append(op.Steps, PathStep{Key: k.text})
			case k.kind == tokIdent:
				return op, p.errorf(k, "property name %q has a hyphen: quote it ('%s')", k.text, k.text)
			default:
				return op, p.errorf(k, "expected a property name after '.', found %s", k)
			}
		case p.isPunct("[") && p.i+2 < len(p.toks) && p.toks[p.i+2].kind == tokPunct && p.toks[p.i+2].text == "]" &&
			(p.toks[p.i+1].kind == tokInt || p.toks[p.i+1].kind == tokPunct && p.toks[p.i+1].text == "*"):
			p.next()
			ix := p.next()
			p.next()
			if ix.text == "*" {
				op.Steps = append(op.Steps, PathStep{IsIndex: true, Any: true})
			} else {
				n, err := strconv.Atoi(strings.TrimPrefix(ix.text, "+"))
				if err != nil {
					return op, p.errorf(ix, "list index %s: %v", ix.text, err)
				}
				op.Steps = append(op.Steps, PathStep{IsIndex: true, Index: n})
			}
		default:
			return op, nil
		}
	}
}
