package detect

import (
	"regexp/syntax"
	"strings"
	"unicode"
	"unicode/utf8"
)

// regexpLiteral returns the longest literal that every match of the
// regular expression contains, case-folded, or "" when none can be found
// (for prefiltering: a necessary condition, never a sufficient one).
func regexpLiteral(expr string) string {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return ""
	}
	return strings.ToLower(requiredLiteral(re.Simplify()))
}

// regexpCNF returns literals every match of the regular expression
// contains, as clauses that must all hold (each a list of alternatives),
// case-folded; every literal is a valid needle (see validNeedle).
func regexpCNF(expr string) [][]string {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return nil
	}
	var out [][]string
	for _, c := range requiredCNF(re.Simplify()) {
		var folded []string
		for _, l := range c {
			l = strings.ToLower(l)
			if !validRegexpNeedle(l) {
				folded = nil
				break
			}
			folded = append(folded, l)
		}
		if folded != nil {
			out = append(out, folded)
		}
	}
	return out
}

// requiredCNF returns clauses of literals (not yet folded or checked) that
// every match contains.
func requiredCNF(re *syntax.Regexp) [][]string {
	switch re.Op {
	case syntax.OpLiteral:
		return [][]string{{string(re.Rune)}}
	case syntax.OpCapture, syntax.OpPlus:
		return requiredCNF(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return requiredCNF(re.Sub[0])
		}
	case syntax.OpConcat:
		// Adjacent literals join into one; every sub-expression's clauses
		// hold for the whole.
		var cnf [][]string
		run := ""
		for _, sub := range re.Sub {
			if sub.Op == syntax.OpLiteral {
				run += string(sub.Rune)
				continue
			}
			if run != "" {
				cnf = append(cnf, []string{run})
				run = ""
			}
			cnf = append(cnf, requiredCNF(sub)...)
		}
		if run != "" {
			cnf = append(cnf, []string{run})
		}
		return cnf
	case syntax.OpAlternate:
		// One alternative matches: the union of each one's longest-shortest
		// clause.
		var union []string
		for _, sub := range re.Sub {
			cnf := requiredCNF(sub)
			best := -1
			for i, c := range cnf {
				if best < 0 || shortest(c) > shortest(cnf[best]) {
					best = i
				}
			}
			if best < 0 {
				return nil
			}
			union = append(union, cnf[best]...)
		}
		return [][]string{union}
	}
	return nil
}

func shortest(c []string) int {
	m := 1 << 30
	for _, l := range c {
		m = min(m, len(l))
	}
	return m
}

func requiredLiteral(re *syntax.Regexp) string {
	switch re.Op {
	case syntax.OpLiteral:
		return string(re.Rune)
	case syntax.OpCapture:
		return requiredLiteral(re.Sub[0])
	case syntax.OpPlus:
		return requiredLiteral(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return requiredLiteral(re.Sub[0])
		}
	case syntax.OpConcat:
		// Adjacent literals join; any sub-expression's required literal is
		// required of the whole.
		best, run := "", ""
		for _, sub := range re.Sub {
			if sub.Op == syntax.OpLiteral {
				run += string(sub.Rune)
				if len(run) > len(best) {
					best = run
				}
				continue
			}
			run = ""
			if l := requiredLiteral(sub); len(l) > len(best) {
				best = l
			}
		}
		return best
	}
	return ""
}

// validNeedle reports whether a folded literal can be a prefilter needle:
// not empty, valid UTF-8.
func validNeedle(s string) bool { return s != "" && utf8.ValidString(s) }

// validRegexpNeedle is validNeedle for a literal of a regular expression,
// which may match case-insensitively: every character that folds to one of
// the literal's must also lower-case to it (as the matcher folds values),
// which is not so for a few, such as 'ς' against 'σ'.
func validRegexpNeedle(s string) bool {
	if !validNeedle(s) {
		return false
	}
	for _, c := range s {
		if c < utf8.RuneSelf {
			continue
		}
		want := foldRune(c)
		for r := unicode.SimpleFold(c); r != c; r = unicode.SimpleFold(r) {
			if foldRune(r) != want {
				return false
			}
		}
	}
	return true
}

// foldRune folds a character as Matcher.lower folds values.
func foldRune(r rune) rune {
	r = unicode.ToLower(r)
	if r == 'ſ' {
		r = 's'
	}
	return r
}
