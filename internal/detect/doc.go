// Package detect compiles Sigma rules into immutable programs and evaluates
// them against events. It sits after normalisation in vigil's data flow:
//
//	sigma.Rule (spec) -> Compile (validate, fold case, compile regexps) -> Engine (immutable)
//	event.Event -> Matcher.Match (route by logsource, evaluate candidates) -> matching programs
//
// An [Engine] is built once and is safe for concurrent use; it also caches,
// under a lock, what its matchers learn about event classes (the programs
// that apply and their prefilter index, built once per set of logsources).
// Evaluation state (the per-event field index, lower-cased values, a
// per-matcher map of the classes met) lives in a [Matcher], one per
// goroutine.
//
// Per event, the matcher computes the event's class key (the values of the
// normalisation table's key fields, such as Channel and EventID), looks up
// the programs whose logsource applies to that class (computed once per
// class and cached), indexes the event's fields by the field names those
// programs use (including the class's aliases, such as Image for
// NewProcessName in Security 4688), and evaluates each candidate's
// condition. Values are lower-cased at most once per event and field; rule
// literals were lower-cased at compile time.
//
// Matching follows the Sigma specification: string comparisons are
// case-insensitive unless the cased modifier is given; plain values compare
// the whole field; '*' and '?' are wildcards; a list of values is OR unless
// the all modifier is given; a map is AND; a field that occurs several
// times in an event matches when any occurrence matches; a null value
// matches an absent or empty field.
package detect
