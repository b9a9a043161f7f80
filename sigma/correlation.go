package sigma

import (
	"fmt"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"
)

// CorrelationType is the type of a correlation rule.
type CorrelationType string

// The correlation types of the correlation rules specification (v2.1).
const (
	EventCount      CorrelationType = "event_count"
	ValueCount      CorrelationType = "value_count"
	Temporal        CorrelationType = "temporal"
	TemporalOrdered CorrelationType = "temporal_ordered"
	ValueSum        CorrelationType = "value_sum"
	ValueAvg        CorrelationType = "value_avg"
	ValuePercentile CorrelationType = "value_percentile"
)

var correlationTypes = []string{string(EventCount), string(ValueCount), string(Temporal), string(TemporalOrdered),
	string(ValueSum), string(ValueAvg), string(ValuePercentile)}

// needsField reports whether the type aggregates the values of a field.
func (t CorrelationType) needsField() bool {
	return t == ValueCount || t == ValueSum || t == ValueAvg || t == ValuePercentile
}

// IsTemporal reports whether the type is temporal or temporal_ordered.
func (t CorrelationType) IsTemporal() bool { return t == Temporal || t == TemporalOrdered }

// Threshold is one criterion of a correlation condition, e.g. gte: 100.
type Threshold struct {
	Op    string // gt, gte, lt, lte, eq, neq
	Value float64
	Pos   Pos
}

var thresholdOps = []string{"gt", "gte", "lt", "lte", "eq", "neq"}

// Correlation is a Sigma correlation rule (a "correlation" document).
type Correlation struct {
	Meta
	Type CorrelationType
	// Rules references the correlated rules by id or name, in order.
	Rules   []string
	GroupBy []string
	// Timespan is the window; TimespanText is how it was written.
	Timespan     time.Duration
	TimespanText string
	// Thresholds are AND'ed; Field names the aggregated field(s) for the
	// value_* types.
	Thresholds []Threshold
	Field      []string
	// Expr is the boolean condition over rule names that a temporal
	// correlation may give instead of thresholds; nil otherwise.
	Expr Expr
	// Generate asks for the referenced rules to also produce their own
	// detections.
	Generate bool
	// Aliases maps alias name -> rule name -> field name.
	Aliases map[string]map[string]string
}

var correlationKeys = []string{"type", "rules", "group-by", "timespan", "condition", "generate", "aliases"}

func (d *doc) correlation(ents []entry, pos Pos) *Correlation {
	c := &Correlation{}
	c.Pos = pos
	for _, e := range ents {
		if d.meta(&c.Meta, e) {
			continue
		}
		switch e.key {
		case "correlation":
			d.correlationBody(c, e.value)
		case "generate":
			// Accepted at the top level too, as some tools write it there.
			c.Generate = d.boolean(e.value, "generate")
		default:
			d.extra(&c.Meta, e)
		}
	}
	d.requireTitle(&c.Meta, pos)
	return c
}

func (d *doc) boolean(n ast.Node, what string) bool {
	v, ok := d.scalar(n, what)
	if ok && v.Kind != KindBool {
		d.errs.Add(v.Pos, fmt.Sprintf("%s must be true or false, not %q", what, v.Text), "")
	}
	return v.Bool
}

func (d *doc) correlationBody(c *Correlation, n ast.Node) {
	m := d.mapping(n, "correlation")
	if m == nil {
		return
	}
	at := d.pos(n)
	var cond *entry
	seen := map[string]bool{}
	for _, e := range d.entries(m, "correlation") {
		seen[e.key] = true
		switch e.key {
		case "type":
			c.Type = CorrelationType(d.str(e.value, "correlation type"))
			if !oneOf(string(c.Type), correlationTypes...) {
				d.errs.Add(d.pos(e.value), fmt.Sprintf("unknown correlation type %q", c.Type), hintOrList(string(c.Type), correlationTypes))
			}
		case "rules":
			c.Rules = d.strList(e.value, "correlation rules")
		case "group-by":
			c.GroupBy = d.strList(e.value, "group-by")
		case "timespan":
			c.TimespanText = d.str(e.value, "timespan")
			ts, err := ParseTimespan(c.TimespanText)
			if err != nil {
				d.errs.Add(d.pos(e.value), "invalid timespan: "+err.Error(), "use a number and a unit, e.g. 5m or 1h")
			}
			c.Timespan = ts
		case "condition":
			cond = &e
		case "generate":
			c.Generate = d.boolean(e.value, "generate")
		case "aliases":
			c.Aliases = d.aliases(e.value)
		default:
			hint := suggest(e.key, correlationKeys)
			if hint == "" {
				hint = "expected " + quoteList(correlationKeys)
			}
			d.errs.Add(e.pos, fmt.Sprintf("unknown key %q in correlation", e.key), hint)
		}
	}
	for _, k := range []string{"type", "rules", "timespan"} {
		if !seen[k] {
			d.errs.Add(at, fmt.Sprintf("correlation is missing %q", k), "")
		}
	}
	if seen["rules"] && len(c.Rules) == 0 {
		d.errs.Add(at, "correlation references no rules", "list rule ids or names under rules")
	}
	if cond != nil {
		d.correlationCondition(c, *cond)
	} else if !c.Type.IsTemporal() && c.Type != "" {
		d.errs.Add(at, fmt.Sprintf("correlation of type %q is missing a condition", c.Type), "e.g. condition: {gte: 10}")
	}
}

func (d *doc) correlationCondition(c *Correlation, e entry) {
	if v, ok := d.unwrap(e.value).(*ast.StringNode); ok {
		if !c.Type.IsTemporal() {
			d.errs.Add(d.pos(e.value), fmt.Sprintf("a %s correlation needs a condition map such as {gte: 10}", c.Type), "only temporal correlations take a condition expression")
			return
		}
		val, _ := d.scalar(e.value, "condition")
		expr, agg, err := ParseCondition(v.Value)
		if err == nil && agg != nil {
			err = &ConditionError{Off: agg.Off, Msg: "aggregation is not allowed in a correlation condition"}
		}
		if err != nil {
			if ce, ok := err.(*ConditionError); ok {
				d.errs.Add(offsetPos(val.Pos, v.Value, ce.Off), "correlation condition: "+ce.Msg, ce.Hint)
			}
			return
		}
		var cerrs []*ConditionError
		resolve(expr, c.Rules, &cerrs)
		for _, ce := range cerrs {
			d.errs.Add(offsetPos(val.Pos, v.Value, ce.Off), "correlation condition: "+strings.Replace(ce.Msg, "search identifier", "rule", 1), ce.Hint)
		}
		c.Expr = expr
		return
	}
	m := d.mapping(e.value, "correlation condition")
	if m == nil {
		return
	}
	for _, ce := range d.entries(m, "correlation condition") {
		switch {
		case ce.key == "field":
			c.Field = d.strList(ce.value, "condition field")
		case oneOf(ce.key, thresholdOps...):
			v, ok := d.scalar(ce.value, ce.key)
			if !ok {
				continue
			}
			n, isNum := v.Number()
			if !isNum {
				d.errs.Add(v.Pos, fmt.Sprintf("threshold %s must be a number, not %q", ce.key, v.Text), "")
				continue
			}
			c.Thresholds = append(c.Thresholds, Threshold{Op: ce.key, Value: n, Pos: v.Pos})
		default:
			d.errs.Add(ce.pos, fmt.Sprintf("unknown key %q in correlation condition", ce.key), hintOrList(ce.key, append(thresholdOps, "field")))
		}
	}
	if len(c.Thresholds) == 0 {
		d.errs.Add(d.pos(e.value), "correlation condition has no threshold", "add one of gt, gte, lt, lte, eq, neq")
	}
	if c.Type.needsField() && len(c.Field) == 0 {
		d.errs.Add(d.pos(e.value), fmt.Sprintf("a %s correlation needs condition.field", c.Type), "name the field whose values are aggregated")
	}
	if !c.Type.needsField() && len(c.Field) > 0 && c.Type != "" {
		d.errs.Add(d.pos(e.value), fmt.Sprintf("a %s correlation takes no condition.field", c.Type), "")
	}
}

func (d *doc) aliases(n ast.Node) map[string]map[string]string {
	m := d.mapping(n, "aliases")
	if m == nil {
		return nil
	}
	out := map[string]map[string]string{}
	for _, e := range d.entries(m, "aliases") {
		inner := d.mapping(e.value, "alias "+e.key)
		if inner == nil {
			continue
		}
		out[e.key] = map[string]string{}
		for _, ie := range d.entries(inner, "alias "+e.key) {
			out[e.key][ie.key] = d.str(ie.value, "alias field")
		}
	}
	return out
}

// Filter is a Sigma filter rule (a "filter" document): a detection that is
// AND NOT'ed into the referenced rules.
type Filter struct {
	Meta
	Logsource Logsource
	// Rules references the filtered rules by id or name.
	Rules []string
	// Detection holds the filter's searches and condition.
	Detection Detection
}

func (d *doc) filter(ents []entry, pos Pos) *Filter {
	f := &Filter{}
	f.Pos = pos
	haveLS := false
	for _, e := range ents {
		if d.meta(&f.Meta, e) {
			continue
		}
		switch e.key {
		case "logsource":
			haveLS = true
			f.Logsource = d.logsource(e.value)
		case "filter":
			m := d.mapping(e.value, "filter")
			if m == nil {
				continue
			}
			haveRules := false
			for _, fe := range d.entries(m, "filter") {
				if fe.key == "rules" {
					haveRules = true
					f.Rules = d.strList(fe.value, "filter rules")
				}
			}
			if !haveRules {
				d.errs.Add(d.pos(e.value), "filter is missing \"rules\"", "list the ids or names of the rules to filter")
			}
			f.Detection = d.detection(m, []string{"rules"})
		default:
			d.extra(&f.Meta, e)
		}
	}
	d.requireTitle(&f.Meta, pos)
	if !haveLS {
		d.errs.Add(pos, "missing logsource", "")
	}
	return f
}
