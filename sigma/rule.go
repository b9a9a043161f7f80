package sigma

import "time"

// File is the result of parsing one rule file: its detection rules,
// correlation rules and filter rules in document order of each kind.
type File struct {
	Path         string
	Rules        []*Rule
	Correlations []*Correlation
	Filters      []*Filter
}

// Related is an entry of a rule's related list.
type Related struct {
	ID   string
	Type string // derived, obsolete, merged, renamed, similar
	Pos  Pos
}

// Meta is the metadata shared by detection, correlation and filter rules.
// Extra keeps the top-level keys the specification does not define (such as
// regression_tests_path or simulation), decoded to plain Go values:
// string, int64, uint64, float64, bool, nil, []any and map[string]any.
type Meta struct {
	Title          string
	ID             string
	Name           string
	Status         string
	Level          string
	Description    string
	Author         string
	Date           string // as written; the specification asks for YYYY-MM-DD
	Modified       string
	License        string
	Taxonomy       string
	References     []string
	Tags           []string
	FalsePositives []string
	Fields         []string
	Scope          []string
	Related        []Related
	Extra          map[string]any
	// Pos is the position of the document's first key.
	Pos Pos
}

// Logsource names the log data a rule or filter applies to. Extra keeps any
// further keys as strings.
type Logsource struct {
	Category   string
	Product    string
	Service    string
	Definition string
	Extra      map[string]string
	Pos        Pos
}

// Rule is a Sigma detection rule.
type Rule struct {
	Meta
	Logsource Logsource
	Detection Detection
}

// Detection is a rule's detection section: its named searches and its
// conditions (several conditions are OR'ed).
type Detection struct {
	// Names lists the search identifiers in the order they were written.
	Names    []string
	Searches map[string]*Search
	// Conditions holds the parsed condition(s); a list of conditions in
	// the YAML means any of them.
	Conditions []*Condition
	// Timeframe is the deprecated v1 time window of an aggregation, as
	// written and parsed; zero when absent.
	Timeframe     time.Duration
	TimeframeText string
	Pos           Pos
}

// Search is one named search identifier: it matches when any of its groups
// matches. A map in the YAML is one group; a list of maps is one group per
// map; a list of plain values is one group holding one keyword matcher.
type Search struct {
	Name   string
	Groups []*Group
	Pos    Pos
}

// IsKeywords reports whether the search is only field-less keyword matchers.
func (s *Search) IsKeywords() bool {
	for _, g := range s.Groups {
		for _, m := range g.Matchers {
			if m.Field != "" {
				return false
			}
		}
	}
	return len(s.Groups) > 0
}

// Group is a conjunction of field matchers (a YAML map).
type Group struct {
	Matchers []*FieldMatcher
	Pos      Pos
}

// FieldMatcher is one "field|mod1|mod2: values" entry. Field is empty for a
// keyword matcher, which applies to the whole event. Values are OR'ed unless
// the chain holds the all modifier.
type FieldMatcher struct {
	Field     string
	Modifiers Modifiers
	Values    []Value
	Pos       Pos
}

// Condition is one parsed condition string.
type Condition struct {
	// Text is the condition as written.
	Text string
	// Expr is the boolean expression over the search identifiers.
	Expr Expr
	// Aggregation is the deprecated v1 "| count() by x > n" suffix, or nil.
	Aggregation *Aggregation
	// Pos is the position of the condition's first character.
	Pos Pos
}
