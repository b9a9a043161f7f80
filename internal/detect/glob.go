package detect

import (
	"strings"
	"unicode/utf8"

	"github.com/vigil-defense/vigil/sigma"
)

// strMatcher matches a string value with a compiled form of a Sigma
// pattern. Literals are already case-folded unless cased is set.
type strMatcher struct {
	op    strOp
	lit   string     // for eq, contains, prefix, suffix
	parts []globPart // for glob
	cased bool       // compare the original value instead of the folded one
}

type strOp uint8

const (
	opEq strOp = iota
	opContains
	opPrefix
	opSuffix
	opGlob
	opAny // "*": matches any value of a present field
)

type globPart struct {
	star bool   // '*' before lit
	one  int    // number of '?' before lit
	lit  string // literal after the wildcards (may be empty at the end)
}

// compilePattern turns a pattern with the given anchoring into a matcher.
// anchor: 0 whole value, 1 contains, 2 startswith, 3 endswith.
func compilePattern(p sigma.Pattern, anchor int, cased bool) strMatcher {
	pieces := make([]sigma.Piece, 0, len(p)+2)
	if anchor == 1 || anchor == 3 {
		pieces = append(pieces, sigma.Piece{Kind: sigma.AnyRun})
	}
	pieces = append(pieces, p...)
	if anchor == 1 || anchor == 2 {
		pieces = append(pieces, sigma.Piece{Kind: sigma.AnyRun})
	}
	fold := func(s string) string {
		if cased {
			return s
		}
		return strings.ToLower(s)
	}
	// Merge runs of '*' and classify the simple shapes.
	var norm []sigma.Piece
	for _, pc := range pieces {
		if pc.Kind == sigma.Literal && pc.Text == "" {
			continue
		}
		if pc.Kind == sigma.AnyRun && len(norm) > 0 && norm[len(norm)-1].Kind == sigma.AnyRun {
			continue
		}
		if pc.Kind == sigma.Literal && len(norm) > 0 && norm[len(norm)-1].Kind == sigma.Literal {
			norm[len(norm)-1].Text += pc.Text
			continue
		}
		norm = append(norm, pc)
	}
	m := strMatcher{cased: cased}
	isLit := func(i int) bool { return i < len(norm) && norm[i].Kind == sigma.Literal }
	isStar := func(i int) bool { return i < len(norm) && norm[i].Kind == sigma.AnyRun }
	switch {
	case len(norm) == 0:
		m.op, m.lit = opEq, ""
		return m
	case len(norm) == 1 && isStar(0):
		m.op = opAny
		return m
	case len(norm) == 1 && isLit(0):
		m.op, m.lit = opEq, fold(norm[0].Text)
		return m
	case len(norm) == 2 && isStar(0) && isLit(1):
		m.op, m.lit = opSuffix, fold(norm[1].Text)
		return m
	case len(norm) == 2 && isLit(0) && isStar(1):
		m.op, m.lit = opPrefix, fold(norm[0].Text)
		return m
	case len(norm) == 3 && isStar(0) && isLit(1) && isStar(2):
		m.op, m.lit = opContains, fold(norm[1].Text)
		return m
	}
	m.op = opGlob
	var cur globPart
	for _, pc := range norm {
		switch pc.Kind {
		case sigma.AnyRun:
			if cur.lit != "" {
				m.parts = append(m.parts, cur)
				cur = globPart{}
			}
			cur.star = true
		case sigma.AnyOne:
			if cur.lit != "" {
				m.parts = append(m.parts, cur)
				cur = globPart{}
			}
			cur.one++
		default:
			cur.lit += fold(pc.Text)
		}
	}
	m.parts = append(m.parts, cur)
	return m
}

// literal returns the longest literal that every matching value contains
// (for prefiltering), or "".
func (m *strMatcher) literal() string {
	switch m.op {
	case opEq, opContains, opPrefix, opSuffix:
		return m.lit
	case opGlob:
		best := ""
		for _, p := range m.parts {
			if len(p.lit) > len(best) {
				best = p.lit
			}
		}
		return best
	}
	return ""
}

func (m *strMatcher) match(orig, folded string) bool {
	s := folded
	if m.cased {
		s = orig
	}
	switch m.op {
	case opEq:
		return s == m.lit
	case opContains:
		return strings.Contains(s, m.lit)
	case opPrefix:
		return strings.HasPrefix(s, m.lit)
	case opSuffix:
		return strings.HasSuffix(s, m.lit)
	case opAny:
		return true
	}
	return globMatch(m.parts, s)
}

// globMatch matches s against parts: each part is some '?' (one character
// each) and an optional '*' before a literal. Backtracking is limited to the
// last star, which makes it linear in practice.
func globMatch(parts []globPart, s string) bool {
	return globFrom(parts, s)
}

func globFrom(parts []globPart, s string) bool {
	for i, p := range parts {
		// Skip the '?' characters.
		for k := 0; k < p.one; k++ {
			if s == "" {
				return false
			}
			_, size := utf8.DecodeRuneInString(s)
			s = s[size:]
		}
		last := i == len(parts)-1
		if !p.star {
			if !strings.HasPrefix(s, p.lit) {
				return false
			}
			s = s[len(p.lit):]
			if last {
				return s == ""
			}
			continue
		}
		if last {
			return strings.HasSuffix(s, p.lit)
		}
		// Try every occurrence of the literal (the rest may need a later one).
		for {
			j := strings.Index(s, p.lit)
			if j < 0 {
				return false
			}
			if globFrom(parts[i+1:], s[j+len(p.lit):]) {
				return true
			}
			if p.lit == "" {
				if s == "" {
					return false
				}
				_, size := utf8.DecodeRuneInString(s)
				s = s[size:]
				continue
			}
			s = s[j+1:]
		}
	}
	return s == ""
}
