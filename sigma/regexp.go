package sigma

import "regexp"

// compileRegexp compiles a re value with its flags, only to validate it: the
// compiled program belongs to internal/detect, not to the rule AST.
func compileRegexp(expr string, ms Modifiers) (*regexp.Regexp, error) {
	return regexp.Compile(RegexpFlags(ms) + expr)
}
