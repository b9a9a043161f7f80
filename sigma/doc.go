// Package sigma parses Sigma rules (specification v2) into an abstract
// syntax tree that keeps the position of every element, and validates them;
// it is the "spec" stage of vigil's detection path:
//
//	spec (sigma: YAML -> Rule) -> validate (sigma) -> compile (internal/detect) -> program
//
// The package reads detection rules, correlation rules and filter rules,
// from single files (ParseFile) or directory trees (LoadDir). It never
// evaluates events: internal/detect compiles a Rule into an immutable
// matching program, and internal/correlate runs Correlations. The AST is
// plain data (what the rule author wrote, decoded); nothing compiled is
// cached in it, and nothing in this package rewrites it after parsing.
//
// Validation collects every problem of a file in an ErrorList, each with
// file:line:col, a lowercase message and, where the likely fix is known, a
// hint ("unknown modifier \"contians\" (did you mean \"contains\"?)"). A
// directory walk refuses a bad file as a whole and goes on with the next.
//
// The value transformations of the modifiers appendix (Base64,
// Base64Offset, UTF16LE, UTF16BE, UTF16, Wide, Windash, ParseCIDR) and the
// wildcard and escaping rules of string values (ParsePattern) are exported
// as pure functions, so that the compiler and the tests share one
// definition of their semantics.
//
// Deprecated Sigma v1 constructs are handled explicitly: the aggregation
// suffix of a condition ("| count() by x > 5") is parsed into an
// Aggregation so a compiler can refuse it by name, the "timeframe" key is
// kept, and multi-document "action: global" collections are refused with a
// message saying they were removed in v2.
package sigma
