package detect

import (
	"regexp/syntax"
	"strings"
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
// at least 4 bytes of valid UTF-8.
func validNeedle(s string) bool { return len(s) >= 4 && utf8.ValidString(s) }
