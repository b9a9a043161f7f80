package sigma

import (
	"fmt"
	"path"
	"strconv"
	"strings"
)

// Expr is a node of a condition's expression tree. Off is the byte offset of
// the node's first character in the condition text.
type Expr interface {
	Offset() int
	String() string
	expr()
}

// Ident references one search identifier.
type Ident struct {
	Name string
	Off  int
}

// Not negates X.
type Not struct {
	X   Expr
	Off int
}

// And is the conjunction of X and Y.
type And struct {
	X, Y Expr
	Off  int // offset of the "and" keyword
}

// Or is the disjunction of X and Y.
type Or struct {
	X, Y Expr
	Off  int // offset of the "or" keyword
}

// Of is "1 of pattern", "all of pattern", "1 of them" or "all of them".
// Names are the search identifiers it covers, in detection order, filled in
// when the condition is resolved against a detection.
type Of struct {
	All     bool   // "all of" rather than "1 of" / "any of"
	Them    bool   // "of them": every search not starting with '_'
	Pattern string // the identifier pattern ('*' wildcards) unless Them
	Names   []string
	Off     int
}

func (e *Ident) Offset() int { return e.Off }
func (e *Not) Offset() int   { return e.Off }
func (e *And) Offset() int   { return e.X.Offset() }
func (e *Or) Offset() int    { return e.X.Offset() }
func (e *Of) Offset() int    { return e.Off }

func (*Ident) expr() {}
func (*Not) expr()   {}
func (*And) expr()   {}
func (*Or) expr()    {}
func (*Of) expr()    {}

// String renders the expression fully parenthesised, for tests and messages.
func (e *Ident) String() string { return e.Name }
func (e *Not) String() string   { return "not " + e.X.String() }
func (e *And) String() string   { return "(" + e.X.String() + " and " + e.Y.String() + ")" }
func (e *Or) String() string    { return "(" + e.X.String() + " or " + e.Y.String() + ")" }
func (e *Of) String() string {
	q := "1"
	if e.All {
		q = "all"
	}
	if e.Them {
		return q + " of them"
	}
	return q + " of " + e.Pattern
}

// Aggregation is the deprecated Sigma v1 aggregation suffix of a condition,
// "| count(field) by group > 5". Sigma v2 replaced it by correlation rules;
// it is kept so that a tool can say so, not so that it is evaluated.
type Aggregation struct {
	Func    string // count, min, max, avg or sum
	Field   string // may be empty for count()
	GroupBy string // may be empty
	Op      string // <, <=, >, >=, ==, !=
	Value   float64
	Text    string // as written, after the '|'
	Off     int
}

// ConditionError is a syntax or reference error inside a condition, at a
// byte offset of the condition text.
type ConditionError struct {
	Off  int
	Msg  string
	Hint string
}

func (e *ConditionError) Error() string {
	s := fmt.Sprintf("condition offset %d: %s", e.Off, e.Msg)
	if e.Hint != "" {
		s += " (" + e.Hint + ")"
	}
	return s
}

type tokKind uint8

const (
	tEOF tokKind = iota
	tIdent
	tAnd
	tOr
	tNot
	tOf
	tThem
	tAll
	tLParen
	tRParen
	tPipe
	tBad
)

type ctoken struct {
	kind tokKind
	text string
	off  int
}

func isIdentByte(c byte) bool {
	return c == '_' || c == '-' || c == '.' || c == '*' || c == '?' ||
		('0' <= c && c <= '9') || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}

// lexCondition splits s into tokens, stopping after a '|'.
func lexCondition(s string) []ctoken {
	var toks []ctoken
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(':
			toks = append(toks, ctoken{tLParen, "(", i})
			i++
		case c == ')':
			toks = append(toks, ctoken{tRParen, ")", i})
			i++
		case c == '|':
			toks = append(toks, ctoken{tPipe, "|", i})
			return append(toks, ctoken{tEOF, "", len(s)})
		case isIdentByte(c):
			j := i
			for j < len(s) && isIdentByte(s[j]) {
				j++
			}
			w := s[i:j]
			k := tIdent
			switch strings.ToLower(w) {
			case "and":
				k = tAnd
			case "or":
				k = tOr
			case "not":
				k = tNot
			case "of":
				k = tOf
			case "them":
				k = tThem
			case "all":
				k = tAll
			}
			toks = append(toks, ctoken{k, w, i})
			i = j
		default:
			j := i + 1
			for j < len(s) && s[j]&0xc0 == 0x80 {
				j++
			}
			toks = append(toks, ctoken{tBad, s[i:j], i})
			i = j
		}
	}
	return append(toks, ctoken{tEOF, "", len(s)})
}

// maxConditionDepth bounds the nesting of a condition, so that hostile input
// cannot exhaust the stack.
const maxConditionDepth = 256

type condParser struct {
	src   string
	toks  []ctoken
	pos   int
	depth int
}

func (p *condParser) peek() ctoken { return p.toks[p.pos] }
func (p *condParser) next() ctoken {
	t := p.toks[p.pos]
	if t.kind != tEOF {
		p.pos++
	}
	return t
}

func describe(t ctoken) string {
	if t.kind == tEOF {
		return "end of condition"
	}
	return strconv.Quote(t.text)
}

// ParseCondition parses a condition string into an expression and, if the
// deprecated v1 pipe syntax is present, its aggregation. Identifiers are not
// checked against any detection; see Detection for resolved conditions.
func ParseCondition(s string) (Expr, *Aggregation, error) {
	p := &condParser{src: s, toks: lexCondition(s)}
	if p.peek().kind == tEOF {
		return nil, nil, &ConditionError{Off: 0, Msg: "empty condition", Hint: "name a search identifier, e.g. \"selection\""}
	}
	e, err := p.parseOr()
	if err != nil {
		return nil, nil, err
	}
	t := p.next()
	switch t.kind {
	case tEOF:
		return e, nil, nil
	case tPipe:
		agg, err := parseAggregation(s, t.off+1)
		if err != nil {
			return nil, nil, err
		}
		return e, agg, nil
	case tRParen:
		return nil, nil, &ConditionError{Off: t.off, Msg: "unbalanced \")\""}
	case tBad:
		return nil, nil, &ConditionError{Off: t.off, Msg: fmt.Sprintf("unexpected character %q", t.text)}
	}
	return nil, nil, &ConditionError{Off: t.off, Msg: "unexpected " + describe(t) + " after expression", Hint: "join expressions with \"and\" or \"or\""}
}

func (p *condParser) parseOr() (Expr, error) {
	x, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	for p.peek().kind == tOr {
		op := p.next()
		y, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		x = &Or{X: x, Y: y, Off: op.off}
	}
	return x, nil
}

func (p *condParser) parseAnd() (Expr, error) {
	x, err := p.parseNot()
	if err != nil {
		return nil, err
	}
	for p.peek().kind == tAnd {
		op := p.next()
		y, err := p.parseNot()
		if err != nil {
			return nil, err
		}
		x = &And{X: x, Y: y, Off: op.off}
	}
	return x, nil
}

func (p *condParser) parseNot() (Expr, error) {
	if t := p.peek(); t.kind == tNot {
		p.next()
		p.depth++
		defer func() { p.depth-- }()
		if p.depth > maxConditionDepth {
			return nil, &ConditionError{Off: t.off, Msg: "condition nested too deeply"}
		}
		x, err := p.parseNot()
		if err != nil {
			return nil, err
		}
		return &Not{X: x, Off: t.off}, nil
	}
	return p.parsePrimary()
}

func (p *condParser) parsePrimary() (Expr, error) {
	t := p.next()
	switch t.kind {
	case tLParen:
		p.depth++
		defer func() { p.depth-- }()
		if p.depth > maxConditionDepth {
			return nil, &ConditionError{Off: t.off, Msg: "condition nested too deeply"}
		}
		x, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		if c := p.next(); c.kind != tRParen {
			return nil, &ConditionError{Off: c.off, Msg: "expected \")\" but found " + describe(c), Hint: fmt.Sprintf("close the \"(\" at offset %d", t.off)}
		}
		return x, nil
	case tAll:
		return p.parseOf(t, true)
	case tIdent:
		if p.peek().kind == tOf {
			switch strings.ToLower(t.text) {
			case "1", "any":
				return p.parseOf(t, false)
			}
			return nil, &ConditionError{Off: t.off, Msg: fmt.Sprintf("unsupported quantifier %q", t.text), Hint: "use \"1 of\" or \"all of\""}
		}
		if strings.ContainsAny(t.text, "*?") {
			return nil, &ConditionError{Off: t.off, Msg: fmt.Sprintf("wildcard identifier %q outside of an \"of\" expression", t.text), Hint: fmt.Sprintf("write \"1 of %s\" or \"all of %s\"", t.text, t.text)}
		}
		return &Ident{Name: t.text, Off: t.off}, nil
	case tThem:
		return nil, &ConditionError{Off: t.off, Msg: "\"them\" without a quantifier", Hint: "write \"1 of them\" or \"all of them\""}
	case tOf:
		return nil, &ConditionError{Off: t.off, Msg: "\"of\" without a quantifier", Hint: "write \"1 of\" or \"all of\""}
	case tEOF:
		return nil, &ConditionError{Off: t.off, Msg: "unexpected end of condition", Hint: "an operator needs an operand"}
	case tPipe:
		return nil, &ConditionError{Off: t.off, Msg: "unexpected \"|\"", Hint: "an aggregation follows a complete expression"}
	case tBad:
		return nil, &ConditionError{Off: t.off, Msg: fmt.Sprintf("unexpected character %q", t.text)}
	}
	return nil, &ConditionError{Off: t.off, Msg: "unexpected " + describe(t), Hint: "expected a search identifier, \"not\", \"(\" or \"1 of\"/\"all of\""}
}

func (p *condParser) parseOf(q ctoken, all bool) (Expr, error) {
	if of := p.next(); of.kind != tOf {
		return nil, &ConditionError{Off: of.off, Msg: "expected \"of\" after " + strconv.Quote(q.text) + " but found " + describe(of)}
	}
	t := p.next()
	switch t.kind {
	case tThem:
		return &Of{All: all, Them: true, Off: q.off}, nil
	case tIdent:
		return &Of{All: all, Pattern: t.text, Off: q.off}, nil
	}
	return nil, &ConditionError{Off: t.off, Msg: "expected a search identifier pattern or \"them\" after \"of\" but found " + describe(t)}
}

// parseAggregation parses the v1 aggregation expression that starts at off.
func parseAggregation(s string, off int) (*Aggregation, error) {
	rest := s[off:]
	text := strings.TrimSpace(rest)
	lead := off + len(rest) - len(strings.TrimLeft(rest, " \t\r\n"))
	deprecated := "the v1 aggregation syntax is deprecated in sigma v2"
	hint := "express it as a correlation rule (type event_count or value_count)"
	if strings.HasPrefix(text, "near") {
		return nil, &ConditionError{Off: lead, Msg: deprecated + ": \"near\" is not supported", Hint: "express it as a temporal correlation rule"}
	}
	fn := ""
	for _, f := range []string{"count", "min", "max", "avg", "sum"} {
		if strings.HasPrefix(text, f+"(") {
			fn = f
		}
	}
	if fn == "" {
		return nil, &ConditionError{Off: lead, Msg: deprecated + ": expected count(), min(), max(), avg() or sum() after \"|\"", Hint: hint}
	}
	cl := strings.IndexByte(text, ')')
	if cl < 0 {
		return nil, &ConditionError{Off: lead + len(text), Msg: deprecated + ": missing \")\" in " + fn + "()", Hint: hint}
	}
	agg := &Aggregation{Func: fn, Field: strings.TrimSpace(text[len(fn)+1 : cl]), Text: text, Off: lead}
	tail := strings.TrimSpace(text[cl+1:])
	if strings.HasPrefix(tail, "by ") {
		rest := strings.TrimSpace(tail[3:])
		end := strings.IndexAny(rest, " \t<>=!")
		if end < 0 {
			end = len(rest)
		}
		agg.GroupBy = rest[:end]
		tail = strings.TrimSpace(rest[end:])
	}
	for _, op := range []string{">=", "<=", "==", "!=", ">", "<", "="} {
		if strings.HasPrefix(tail, op) {
			agg.Op = op
			if op == "=" {
				agg.Op = "=="
			}
			v, err := strconv.ParseFloat(strings.TrimSpace(tail[len(op):]), 64)
			if err != nil {
				return nil, &ConditionError{Off: lead, Msg: deprecated + ": invalid threshold in " + strconv.Quote(text), Hint: hint}
			}
			agg.Value = v
			return agg, nil
		}
	}
	return nil, &ConditionError{Off: lead, Msg: deprecated + ": missing comparison in " + strconv.Quote(text), Hint: hint}
}

// resolve checks every identifier of e against the detection's search names
// and fills in the names each "of" covers.
func resolve(e Expr, names []string, errs *[]*ConditionError) {
	switch e := e.(type) {
	case *Ident:
		if !contains(names, e.Name) {
			hint := suggest(e.Name, names)
			if hint == "" {
				hint = definedHint(names)
			}
			*errs = append(*errs, &ConditionError{Off: e.Off, Msg: fmt.Sprintf("undefined search identifier %q", e.Name), Hint: hint})
		}
	case *Not:
		resolve(e.X, names, errs)
	case *And:
		resolve(e.X, names, errs)
		resolve(e.Y, names, errs)
	case *Or:
		resolve(e.X, names, errs)
		resolve(e.Y, names, errs)
	case *Of:
		e.Names = nil
		for _, n := range names {
			if e.Them && !strings.HasPrefix(n, "_") || !e.Them && matchIdentPattern(e.Pattern, n) {
				e.Names = append(e.Names, n)
			}
		}
		if len(e.Names) == 0 {
			what := "pattern " + strconv.Quote(e.Pattern)
			if e.Them {
				what = "\"them\""
			}
			*errs = append(*errs, &ConditionError{Off: e.Off, Msg: what + " matches no search identifier", Hint: definedHint(names)})
		}
	}
}

// matchIdentPattern matches name against a pattern whose '*' stands for any
// run of characters (and, leniently, '?' for one character).
func matchIdentPattern(pattern, name string) bool {
	ok, err := path.Match(pattern, name)
	return err == nil && ok
}

func definedHint(names []string) string {
	if len(names) == 0 {
		return "no search identifier is defined"
	}
	return "defined: " + strings.Join(names, ", ")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
