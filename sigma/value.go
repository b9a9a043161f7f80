package sigma

import (
	"strconv"
	"strings"
)

// Kind is the YAML kind a value was written with.
type Kind uint8

// The kinds of a Value.
const (
	KindString Kind = iota
	KindInt
	KindFloat
	KindBool
	KindNull
)

func (k Kind) String() string {
	switch k {
	case KindString:
		return "string"
	case KindInt:
		return "integer"
	case KindFloat:
		return "float"
	case KindBool:
		return "boolean"
	case KindNull:
		return "null"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Value is one value of a field matcher or keyword search, as written.
//
// Text is the decoded string for strings and the literal as written for the
// other kinds (so "0x17" stays "0x17" while Int holds 23). Pattern holds the
// string parsed with Sigma's wildcard and escaping rules; it is set for every
// string value, but it is meaningless under modifiers that take the raw text
// (re, cidr, fieldref), which read Text instead.
type Value struct {
	Kind    Kind
	Text    string
	Int     int64
	Float   float64
	Bool    bool
	Pattern Pattern
	Pos     Pos
}

// IsNumeric reports whether the value is an integer or a float.
func (v Value) IsNumeric() bool { return v.Kind == KindInt || v.Kind == KindFloat }

// Number returns the value as a float64 for numeric kinds.
func (v Value) Number() (float64, bool) {
	switch v.Kind {
	case KindInt:
		return float64(v.Int), true
	case KindFloat:
		return v.Float, true
	}
	return 0, false
}

// PieceKind says what a Piece of a Pattern stands for.
type PieceKind uint8

// The kinds of pattern pieces.
const (
	Literal     PieceKind = iota // literal text, escapes resolved
	AnyRun                       // '*': any run of characters, possibly empty
	AnyOne                       // '?': exactly one character
	Placeholder                  // %name% under the expand modifier; Text is the name
)

// Piece is one element of a Pattern.
type Piece struct {
	Kind PieceKind
	Text string // for Literal and Placeholder
}

// Pattern is a string value parsed with Sigma's wildcard rules: a sequence of
// literal runs, '*' and '?' wildcards and (under expand) placeholders.
// Adjacent literals are merged, so a Pattern without wildcards has at most one
// piece.
type Pattern []Piece

// ParsePattern parses s with Sigma's escaping rules: '*' and '?' are
// wildcards; a backslash escapes a following '*', '?' or backslash; a
// backslash before any other character is a literal backslash. With
// placeholders set (the expand modifier), %name% becomes a Placeholder piece
// and a backslash also escapes '%'.
func ParsePattern(s string, placeholders bool) Pattern {
	var p Pattern
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			p = append(p, Piece{Kind: Literal, Text: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\':
			if i+1 < len(s) {
				n := s[i+1]
				if n == '*' || n == '?' || n == '\\' || (placeholders && n == '%') {
					lit.WriteByte(n)
					i++
					continue
				}
			}
			lit.WriteByte('\\')
		case c == '*':
			flush()
			p = append(p, Piece{Kind: AnyRun})
		case c == '?':
			flush()
			p = append(p, Piece{Kind: AnyOne})
		case c == '%' && placeholders:
			end := strings.IndexByte(s[i+1:], '%')
			if end <= 0 {
				lit.WriteByte(c)
				continue
			}
			flush()
			p = append(p, Piece{Kind: Placeholder, Text: s[i+1 : i+1+end]})
			i += end + 1
		default:
			lit.WriteByte(c)
		}
	}
	flush()
	return p
}

// HasWildcards reports whether the pattern contains '*' or '?'.
func (p Pattern) HasWildcards() bool {
	for _, pc := range p {
		if pc.Kind == AnyRun || pc.Kind == AnyOne {
			return true
		}
	}
	return false
}

// Placeholders returns the names of the placeholders in the pattern.
func (p Pattern) Placeholders() []string {
	var names []string
	for _, pc := range p {
		if pc.Kind == Placeholder {
			names = append(names, pc.Text)
		}
	}
	return names
}

// IsPlain reports whether the pattern is only literal text, and returns it.
func (p Pattern) IsPlain() (string, bool) {
	switch len(p) {
	case 0:
		return "", true
	case 1:
		if p[0].Kind == Literal {
			return p[0].Text, true
		}
	}
	return "", false
}

// String renders the pattern back in Sigma syntax, escaping as needed.
func (p Pattern) String() string {
	var b strings.Builder
	for _, pc := range p {
		switch pc.Kind {
		case AnyRun:
			b.WriteByte('*')
		case AnyOne:
			b.WriteByte('?')
		case Placeholder:
			b.WriteString("%" + pc.Text + "%")
		default:
			for i := 0; i < len(pc.Text); i++ {
				c := pc.Text[i]
				switch c {
				case '*', '?':
					b.WriteByte('\\')
				case '\\':
					// A backslash must be doubled only where the reader
					// would otherwise take it as an escape.
					if i+1 == len(pc.Text) || strings.IndexByte("*?\\", pc.Text[i+1]) >= 0 {
						b.WriteByte('\\')
					}
				}
				b.WriteByte(c)
			}
		}
	}
	return b.String()
}
