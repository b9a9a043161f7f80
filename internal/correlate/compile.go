package correlate

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/vigil-defense/vigil/internal/detect"
	"github.com/vigil-defense/vigil/sigma"
)

// Engine holds compiled correlation rules. It is immutable and safe for
// concurrent use; the state of the windows lives in a Runner and its State.
type Engine struct {
	corrs []*program // in dependency order: a correlation after those it reads
	// byRule routes a base detection (by ruleKey) to the correlations that
	// read it.
	byRule map[string][]target
	// referenced holds the keys of the base rules some correlation reads,
	// standalone those of them that still emit their own detections.
	referenced []string
	standalone map[string]bool
}

// target is one correlation that reads a rule, and the positions of that
// rule in the correlation's rules list.
type target struct {
	corr int
	pos  []int
}

// program is one compiled correlation rule.
type program struct {
	rule  *sigma.Correlation
	index int
	typ   sigma.CorrelationType
	span  time.Duration
	// early: the condition can only become true, never false again, as
	// events are added to a window, so it is checked at every event over a
	// sliding window; otherwise it is decided when an anchored window
	// closes (see doc.go).
	early      bool
	thresholds []sigma.Threshold
	expr       sigma.Expr
	refs       []string       // the rules list as written
	refIndex   map[string]int // reference -> first position
	groupBy    []string       // group-by names (alias names stay names)
	groupField [][]string     // per position: the event field of each group-by name
	valueField []string       // per position: the aggregated field (value_* types)
	parents    []target       // correlations that read this one
	emit       bool           // output to the caller (not consumed, or consumed with generate)
	minEvents  int            // events a sliding window must keep to decide the condition exactly
	key        string         // routing key of the rule (ruleKey)
	path       string
}

// ruleKey is how a detection is routed to correlations: its rule id, or,
// for a rule without one, its file and title.
func ruleKey(id, path, title string) string {
	if id != "" {
		return id
	}
	return path + "\x00" + title
}

func detectionKey(d *detect.Detection) string { return ruleKey(d.RuleID, d.RulePath, d.RuleTitle) }

// node is a referenceable rule while compiling: a base rule or a correlation.
type node struct {
	name, id string
	prog     *detect.Program // base rule
	corr     int             // correlation index, when prog is nil
}

// Compile resolves and compiles correlation rules against the compiled
// detection rules they reference. Every problem is reported, each as a
// *sigma.Error with the correlation's position; a refused correlation (and
// any correlation that reads it) is left out of the engine, the others are
// compiled.
func Compile(corrs []*sigma.Correlation, programs []*detect.Program) (*Engine, []error) {
	var errs []error
	fail := func(c *sigma.Correlation, msg, hint string) {
		errs = append(errs, &sigma.Error{Pos: c.Pos, Msg: fmt.Sprintf("correlation %s: %s", label(c), msg), Hint: hint})
	}

	// Everything a reference may name.
	byRef := map[string][]*node{}
	var known []string
	add := func(n *node, refs ...string) {
		for _, r := range refs {
			if r == "" {
				continue
			}
			if !slices.Contains(byRef[r], n) {
				byRef[r] = append(byRef[r], n)
			}
			known = append(known, r)
		}
	}
	for _, p := range programs {
		if p == nil || p.Rule == nil {
			continue
		}
		add(&node{name: p.Rule.Name, id: p.Rule.ID, prog: p}, p.Rule.ID, p.Rule.Name)
	}
	corrNodes := make([]*node, len(corrs))
	for i, c := range corrs {
		corrNodes[i] = &node{name: c.Name, id: c.ID, corr: i}
		add(corrNodes[i], c.ID, c.Name)
	}

	progs := make([]*program, len(corrs))
	deps := make([][]int, len(corrs)) // correlation -> correlations it reads
	bad := make([]bool, len(corrs))
	resolved := make([][]*node, len(corrs))
	for i, c := range corrs {
		p, res, ok := compileOne(c, byRef, known, fail)
		p.index = i
		progs[i], resolved[i], bad[i] = p, res, !ok
		for _, n := range res {
			if n != nil && n.prog == nil {
				deps[i] = append(deps[i], n.corr)
			}
		}
	}

	// Cycles: a correlation on a cycle can never be evaluated.
	order, cyclic := topo(deps)
	for _, i := range cyclic {
		fail(corrs[i], "is part of a reference cycle: "+cycleText(corrs, deps, i), "a correlation may read other correlations, but not itself through them")
		bad[i] = true
	}
	// A correlation reading a refused correlation is refused too.
	for changed := true; changed; {
		changed = false
		for i := range corrs {
			if bad[i] {
				continue
			}
			for _, d := range deps[i] {
				if bad[d] {
					fail(corrs[i], fmt.Sprintf("reads correlation %s, which was refused", label(corrs[d])), "fix the errors of that correlation first")
					bad[i], changed = true, true
					break
				}
			}
		}
	}

	e := &Engine{byRule: map[string][]target{}, standalone: map[string]bool{}}
	for _, i := range order {
		if bad[i] {
			continue
		}
		progs[i].index = len(e.corrs)
		progs[i].emit = true
		e.corrs = append(e.corrs, progs[i])
	}
	consumed := map[string]bool{}
	generate := map[string]bool{}
	for _, i := range order {
		if bad[i] {
			continue
		}
		p := progs[i]
		seen := map[*node]bool{}
		for _, n := range resolved[i] {
			if seen[n] {
				continue
			}
			seen[n] = true
			var pos []int
			for j, m := range resolved[i] {
				if m == n {
					pos = append(pos, j)
				}
			}
			t := target{corr: p.index, pos: pos}
			if n.prog != nil {
				k := ruleKey(n.prog.Rule.ID, n.prog.Path, n.prog.Rule.Title)
				e.byRule[k] = append(e.byRule[k], t)
				consumed[k] = true
				generate[k] = generate[k] || p.rule.Generate
				continue
			}
			inner := progs[n.corr]
			inner.parents = append(inner.parents, t)
			ik := "corr\x00" + fmt.Sprint(n.corr)
			consumed[ik] = true
			generate[ik] = generate[ik] || p.rule.Generate
		}
	}
	for k := range consumed {
		if strings.HasPrefix(k, "corr\x00") {
			var i int
			fmt.Sscan(strings.TrimPrefix(k, "corr\x00"), &i)
			progs[i].emit = generate[k]
			continue
		}
		e.referenced = append(e.referenced, k)
		e.standalone[k] = generate[k]
	}
	sort.Strings(e.referenced)
	return e, errs
}

func label(c *sigma.Correlation) string {
	switch {
	case c.ID != "":
		return c.ID
	case c.Name != "":
		return c.Name
	}
	return fmt.Sprintf("%q", c.Title)
}

func compileOne(c *sigma.Correlation, byRef map[string][]*node, known []string, fail func(*sigma.Correlation, string, string)) (*program, []*node, bool) {
	ok := true
	p := &program{
		rule: c, typ: c.Type, span: c.Timespan, thresholds: c.Thresholds, expr: c.Expr,
		refs: c.Rules, refIndex: map[string]int{}, groupBy: c.GroupBy,
		key: ruleKey(c.ID, c.Pos.File, c.Title), path: c.Pos.File,
	}
	switch c.Type {
	case sigma.EventCount, sigma.ValueCount, sigma.Temporal, sigma.TemporalOrdered, sigma.ValueSum, sigma.ValueAvg, sigma.ValuePercentile:
	default:
		fail(c, fmt.Sprintf("unknown correlation type %q", c.Type), "")
		return p, nil, false
	}
	if c.Timespan <= 0 {
		fail(c, "has no positive timespan", "e.g. timespan: 5m")
		ok = false
	}
	if len(c.Rules) == 0 {
		fail(c, "references no rules", "list rule ids or names under rules")
		ok = false
	}
	needsField := c.Type == sigma.ValueCount || c.Type == sigma.ValueSum || c.Type == sigma.ValueAvg || c.Type == sigma.ValuePercentile
	if needsField && len(c.Field) == 0 {
		fail(c, fmt.Sprintf("a %s correlation needs condition.field", c.Type), "name the field whose values are aggregated")
		ok = false
	}
	if needsField && c.Type != sigma.ValueCount && len(c.Field) > 1 {
		fail(c, fmt.Sprintf("a %s correlation aggregates one field, not %d", c.Type, len(c.Field)), "chain correlations to aggregate several fields")
		ok = false
	}
	if !needsField && len(c.Field) > 0 {
		fail(c, fmt.Sprintf("a %s correlation takes no condition.field", c.Type), "")
		ok = false
	}
	if !c.Type.IsTemporal() && len(c.Thresholds) == 0 {
		fail(c, "has no condition threshold", "add one of gt, gte, lt, lte, eq, neq")
		ok = false
	}
	if !c.Type.IsTemporal() && c.Expr != nil {
		fail(c, fmt.Sprintf("a %s correlation takes a threshold condition, not an expression", c.Type), "")
		ok = false
	}
	for _, t := range c.Thresholds {
		switch t.Op {
		case "gt", "gte", "lt", "lte", "eq", "neq":
		default:
			fail(c, fmt.Sprintf("unknown condition operator %q", t.Op), "use gt, gte, lt, lte, eq or neq")
			ok = false
		}
	}

	// Resolve references.
	res := make([]*node, len(c.Rules))
	for i, r := range c.Rules {
		if _, dup := p.refIndex[r]; !dup {
			p.refIndex[r] = i
		}
		ns := byRef[r]
		switch {
		case len(ns) == 0:
			hint := suggestRef(r, known)
			fail(c, fmt.Sprintf("references unknown rule %q", r), hint)
			ok = false
		case len(ns) > 1:
			fail(c, fmt.Sprintf("reference %q is ambiguous: %d rules have that id or name", r, len(ns)), "give each rule a unique name, or reference it by id")
			ok = false
		default:
			res[i] = ns[0]
		}
	}
	if c.Expr != nil {
		var unused []string
		used := map[string]bool{}
		exprNames(c.Expr, used)
		for _, r := range c.Rules {
			if !used[r] {
				unused = append(unused, r)
			}
		}
		if len(unused) > 0 {
			fail(c, fmt.Sprintf("condition does not mention %s", quoteList(unused)), "every listed rule must appear in the condition")
			ok = false
		}
	}

	// Aliases: an alias used in group-by (or as the value field) must map
	// every referenced rule; one that names a rule the correlation does not
	// reference is a typo.
	for alias, m := range c.Aliases {
		for r := range m {
			if !refersTo(r, c.Rules, res) {
				fail(c, fmt.Sprintf("alias %q maps rule %q, which the correlation does not reference", alias, r), suggestRef(r, c.Rules))
				ok = false
			}
		}
	}
	field := func(name string, i int) (string, bool) {
		m, isAlias := c.Aliases[name]
		if !isAlias {
			return name, true
		}
		if f, found := aliasFor(m, c.Rules[i], res[i]); found {
			return f, true
		}
		fail(c, fmt.Sprintf("alias %q is not defined for referenced rule %q", name, c.Rules[i]), fmt.Sprintf("add %s: <field> under aliases.%s", refName(c.Rules[i], res[i]), name))
		return "", false
	}
	p.groupField = make([][]string, len(c.Rules))
	p.valueField = make([]string, len(c.Rules))
	for i := range c.Rules {
		if res[i] == nil {
			continue
		}
		p.groupField[i] = make([]string, len(c.GroupBy))
		for j, g := range c.GroupBy {
			f, good := field(g, i)
			ok = ok && good
			p.groupField[i][j] = f
		}
		if needsField && len(c.Field) > 0 {
			// value_count over several fields counts distinct tuples; the
			// others aggregate Field[0] (checked above).
			fs := make([]string, len(c.Field))
			for j, f := range c.Field {
				ff, good := field(f, i)
				ok = ok && good
				fs[j] = ff
			}
			p.valueField[i] = strings.Join(fs, "\x00")
		}
	}

	p.early = isEarly(c)
	p.minEvents = 1
	for _, t := range c.Thresholds {
		if !p.early || c.Type != sigma.EventCount {
			break
		}
		if n := int(t.Value) + 2; n > p.minEvents && n < 1<<20 {
			p.minEvents = n
		}
	}
	return p, res, ok
}

// isEarly reports whether the condition is upward closed over an aggregate
// that only grows as events are added: then it may fire at the event that
// makes it true.
func isEarly(c *sigma.Correlation) bool {
	switch c.Type {
	case sigma.ValueAvg, sigma.ValuePercentile:
		return false
	}
	if c.Expr != nil {
		return !hasNot(c.Expr)
	}
	for _, t := range c.Thresholds {
		if t.Op != "gt" && t.Op != "gte" {
			return false
		}
	}
	return true
}

func hasNot(e sigma.Expr) bool {
	switch e := e.(type) {
	case *sigma.Not:
		return true
	case *sigma.And:
		return hasNot(e.X) || hasNot(e.Y)
	case *sigma.Or:
		return hasNot(e.X) || hasNot(e.Y)
	}
	return false
}

func exprNames(e sigma.Expr, out map[string]bool) {
	switch e := e.(type) {
	case *sigma.Ident:
		out[e.Name] = true
	case *sigma.Not:
		exprNames(e.X, out)
	case *sigma.And:
		exprNames(e.X, out)
		exprNames(e.Y, out)
	case *sigma.Or:
		exprNames(e.X, out)
		exprNames(e.Y, out)
	case *sigma.Of:
		for _, n := range e.Names {
			out[n] = true
		}
	}
}

// refersTo reports whether an alias key names one of the referenced rules,
// by the reference as written, or by the resolved rule's name or id.
func refersTo(key string, refs []string, res []*node) bool {
	for i, r := range refs {
		if r == key || res[i] != nil && (res[i].name == key || res[i].id == key) {
			return true
		}
	}
	return false
}

func aliasFor(m map[string]string, ref string, n *node) (string, bool) {
	if f, ok := m[ref]; ok {
		return f, true
	}
	if n != nil {
		if f, ok := m[n.name]; ok && n.name != "" {
			return f, true
		}
		if f, ok := m[n.id]; ok && n.id != "" {
			return f, true
		}
	}
	return "", false
}

func refName(ref string, n *node) string {
	if n != nil && n.name != "" {
		return n.name
	}
	return ref
}

func quoteList(s []string) string {
	q := make([]string, len(s))
	for i, x := range s {
		q[i] = fmt.Sprintf("%q", x)
	}
	return strings.Join(q, ", ")
}

// suggestRef proposes the known reference closest to r.
func suggestRef(r string, known []string) string {
	best, bestD := "", -1
	for _, k := range known {
		d := sigma.EditDistance(strings.ToLower(r), strings.ToLower(k))
		if bestD < 0 || d < bestD {
			best, bestD = k, d
		}
	}
	if bestD < 0 || bestD > max(2, len(r)/3) {
		return "reference a rule by its id or its name"
	}
	return fmt.Sprintf("did you mean %q?", best)
}

// topo orders correlations so that each comes after those it reads; the
// correlations on or behind a cycle are returned apart.
func topo(deps [][]int) (order, cyclic []int) {
	const (
		white = iota
		grey
		black
	)
	color := make([]int, len(deps))
	onCycle := make([]bool, len(deps))
	var visit func(i int, stack []int)
	visit = func(i int, stack []int) {
		color[i] = grey
		stack = append(stack, i)
		for _, d := range deps[i] {
			switch color[d] {
			case white:
				visit(d, stack)
			case grey:
				for k := len(stack) - 1; k >= 0; k-- {
					onCycle[stack[k]] = true
					if stack[k] == d {
						break
					}
				}
			}
		}
		color[i] = black
		order = append(order, i)
	}
	for i := range deps {
		if color[i] == white {
			visit(i, nil)
		}
	}
	kept := order[:0]
	for _, i := range order {
		if onCycle[i] {
			cyclic = append(cyclic, i)
		} else {
			kept = append(kept, i)
		}
	}
	sort.Ints(cyclic)
	return kept, cyclic
}

func cycleText(corrs []*sigma.Correlation, deps [][]int, start int) string {
	path := []string{label(corrs[start])}
	cur, seen := start, map[int]bool{start: true}
	for {
		next := -1
		for _, d := range deps[cur] {
			if d == start || reaches(deps, d, start) {
				next = d
				break
			}
		}
		if next < 0 {
			break
		}
		path = append(path, label(corrs[next]))
		if next == start || seen[next] {
			break
		}
		seen[next] = true
		cur = next
	}
	return strings.Join(path, " -> ")
}

func reaches(deps [][]int, from, to int) bool {
	seen := map[int]bool{}
	var walk func(int) bool
	walk = func(i int) bool {
		if i == to {
			return true
		}
		if seen[i] {
			return false
		}
		seen[i] = true
		for _, d := range deps[i] {
			if walk(d) {
				return true
			}
		}
		return false
	}
	return walk(from)
}

// Referenced returns the routing keys (rule ids) of the base rules that
// some correlation reads, sorted. Detections of other rules never affect
// a correlation, so a hunt need not feed them.
func (e *Engine) Referenced() []string { return slices.Clone(e.referenced) }

// Wants reports whether some correlation reads detections of d's rule.
func (e *Engine) Wants(d *detect.Detection) bool { return len(e.byRule[detectionKey(d)]) > 0 }

// Standalone reports whether d should still be output on its own: true
// unless its rule is read by correlations none of which sets generate: true
// (the specification's default is to generate only the correlation).
func (e *Engine) Standalone(d *detect.Detection) bool {
	k := detectionKey(d)
	if len(e.byRule[k]) == 0 {
		return true
	}
	return e.standalone[k]
}

// Len returns the number of compiled correlations.
func (e *Engine) Len() int { return len(e.corrs) }
