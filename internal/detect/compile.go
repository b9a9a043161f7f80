package detect

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/vigil-defense/vigil/internal/normalize"
	"github.com/vigil-defense/vigil/sigma"
)

// Options change how rules are compiled.
type Options struct {
	// Placeholders gives the values of %name% placeholders for the expand
	// modifier. A rule using a placeholder without values is refused.
	Placeholders map[string][]string
}

// Program is one compiled detection rule. It is immutable.
type Program struct {
	Rule  *sigma.Rule // the rule as written (title, id, level, author, tags…)
	Path  string      // file the rule came from
	Index int         // position in the engine, stable for a given rule set

	cond    cnode
	pf      *prefilter       // nil: always evaluate
	slots   [ndKinds][]int32 // by needle kind, the slots pf and the value needles use
	wide    bool             // some needle of kind ndQuad or ndTri checks its slot's non-ASCII bit
	anchors []byte           // the anchor bytes of its keyword quadgram needles

	// Warnings say where the program may not behave as the rule's author
	// meant (an unset placeholder matches nothing).
	Warnings []string
	// Filters lists the titles of the Sigma filter rules applied.
	Filters []string
}

// Refusal is a rule that could not be compiled, and why.
type Refusal struct {
	Path string
	Rule *sigma.Rule
	Err  error
}

func (r Refusal) Error() string {
	id := ""
	if r.Rule != nil {
		id = r.Rule.ID
		if id == "" {
			id = fmt.Sprintf("%q", r.Rule.Title)
		}
	}
	return fmt.Sprintf("%s: rule %s: %v", r.Path, id, r.Err)
}

// Engine holds compiled programs and the normalisation table. It is
// immutable and safe for concurrent use.
type Engine struct {
	programs []*Program
	table    *normalize.Table
	fieldIDs map[string]int32 // lower-cased Sigma field name -> slot
	fields   []string         // slot -> lower-cased name

	cache classCache // event classes, filled as matchers meet them
}

// Programs returns the compiled programs in order.
func (e *Engine) Programs() []*Program { return e.programs }

// Table returns the normalisation table the engine routes with.
func (e *Engine) Table() *normalize.Table { return e.table }

// Compile compiles the detection rules of files. Rules that cannot be
// compiled are returned as refusals, each with the reason; the others are
// in the engine.
func Compile(files []*sigma.File, table *normalize.Table, opts Options) (*Engine, []Refusal) {
	e := &Engine{table: table, fieldIDs: map[string]int32{}}
	var refused []Refusal
	for _, f := range files {
		for _, r := range f.Rules {
			c := compiler{e: e, opts: &opts, rule: r}
			cond, err := c.compileRule()
			if err != nil {
				refused = append(refused, Refusal{Path: f.Path, Rule: r, Err: err})
				continue
			}
			e.programs = append(e.programs, &Program{Rule: r, Path: f.Path, Index: len(e.programs), cond: cond, pf: buildPrefilter(cond), Warnings: c.warnings})
		}
	}
	refused = append(refused, e.applyFilters(files, opts)...)
	for _, p := range e.programs {
		p.slots, p.wide, p.anchors = programSlots(p)
	}
	return e, refused
}

// applyFilters adds each Sigma filter rule of files to the programs it
// names (by rule id or name): the program then matches only when the
// filter's condition does not. A filter whose logsource disagrees with a
// named rule's is not applied to it, and says so.
func (e *Engine) applyFilters(files []*sigma.File, opts Options) []Refusal {
	var refused []Refusal
	byRef := map[string][]*Program{}
	for _, p := range e.programs {
		if p.Rule.ID != "" {
			byRef[strings.ToLower(p.Rule.ID)] = append(byRef[strings.ToLower(p.Rule.ID)], p)
		}
		if p.Rule.Name != "" {
			byRef[p.Rule.Name] = append(byRef[p.Rule.Name], p)
		}
	}
	for _, f := range files {
		for _, flt := range f.Filters {
			pseudo := &sigma.Rule{Meta: flt.Meta, Logsource: flt.Logsource, Detection: flt.Detection}
			c := compiler{e: e, opts: &opts, rule: pseudo}
			cond, err := c.compileRule()
			if err != nil {
				refused = append(refused, Refusal{Path: f.Path, Rule: pseudo, Err: fmt.Errorf("filter: %w", err)})
				continue
			}
			walkFields(cond, attachNeedles)
			applied, found := 0, 0
			for _, ref := range flt.Rules {
				targets := byRef[ref]
				if len(targets) == 0 {
					targets = byRef[strings.ToLower(ref)]
				}
				for _, p := range targets {
					found++
					if !logsourceCovers(flt.Logsource, p.Rule.Logsource) {
						p.Warnings = append(p.Warnings, fmt.Sprintf("filter %q (%s) not applied: its logsource differs from the rule's", flt.Title, f.Path))
						continue
					}
					p.cond = &andNode{[]cnode{p.cond, &notNode{cond}}}
					p.Filters = append(p.Filters, flt.Title)
					applied++
				}
			}
			if applied == 0 && found > 0 {
				refused = append(refused, Refusal{Path: f.Path, Rule: pseudo, Err: fmt.Errorf("filter %q: its logsource differs from that of every rule it names", flt.Title)})
			} else if applied == 0 {
				refused = append(refused, Refusal{Path: f.Path, Rule: pseudo, Err: fmt.Errorf("filter %q names no loaded rule (rules: %s)", flt.Title, strings.Join(flt.Rules, ", "))})
			}
		}
	}
	return refused
}

// logsourceCovers reports whether every field set in a filter's logsource
// equals the rule's.
func logsourceCovers(f, r sigma.Logsource) bool {
	eq := func(a, b string) bool { return a == "" || strings.EqualFold(a, b) }
	return eq(f.Category, r.Category) && eq(f.Product, r.Product) && eq(f.Service, r.Service)
}

func (e *Engine) slot(field string) int32 {
	k := strings.ToLower(field)
	if id, ok := e.fieldIDs[k]; ok {
		return id
	}
	id := int32(len(e.fields))
	e.fieldIDs[k] = id
	e.fields = append(e.fields, k)
	return id
}

type compiler struct {
	e    *Engine
	opts *Options
	rule *sigma.Rule
	// searches compiled so far, by name
	searches map[string]cnode
	warnings []string
}

func (c *compiler) warn(msg string) {
	for _, w := range c.warnings {
		if w == msg {
			return
		}
	}
	c.warnings = append(c.warnings, msg)
}

func (c *compiler) compileRule() (cnode, error) {
	det := &c.rule.Detection
	if len(det.Conditions) == 0 {
		return nil, errors.New("detection has no condition")
	}
	c.searches = map[string]cnode{}
	var alts []cnode
	for _, cond := range det.Conditions {
		if cond.Aggregation != nil {
			return nil, fmt.Errorf("condition %q uses the Sigma v1 aggregation %q, which Sigma v2 replaced by correlation rules; rewrite it as a correlation rule", cond.Text, "| "+cond.Aggregation.Text)
		}
		n, err := c.expr(cond.Expr)
		if err != nil {
			return nil, err
		}
		alts = append(alts, n)
	}
	var root cnode = &orNode{alts}
	if len(alts) == 1 {
		root = alts[0]
	}
	orderByCost(root)
	walkFields(root, attachNeedles)
	return root, nil
}

// cost estimates how expensive a node is to evaluate, so that and/or
// children can be tried cheapest first (the result does not depend on the
// order: evaluation has no side effects).
func cost(n cnode) int {
	switch n := n.(type) {
	case *andNode:
		c := 0
		for _, k := range n.kids {
			c += cost(k)
		}
		return c
	case *orNode:
		c := 0
		for _, k := range n.kids {
			c += cost(k)
		}
		return c
	case *notNode:
		return cost(n.x)
	case *fieldNode:
		c := 0
		for i := range n.vals {
			c += valueCost(&n.vals[i])
		}
		if n.field < 0 {
			c *= 30 // keywords look at every field
		}
		return c
	}
	return 1
}

func valueCost(v *valueMatcher) int {
	switch v.kind {
	case vkString:
		switch v.str.op {
		case opEq, opAny:
			return 1
		case opPrefix, opSuffix:
			return 2
		case opContains:
			return 4
		}
		return 8
	case vkRegexp:
		// A regular expression scans the value, often with backtracking:
		// far costlier than a literal comparison behind its needle.
		return 100
	case vkAnyOf:
		c := 0
		for i := range v.alts {
			c += valueCost(&v.alts[i])
		}
		return c
	}
	return 3
}

func orderByCost(n cnode) {
	var kids []cnode
	switch x := n.(type) {
	case *andNode:
		kids = x.kids
	case *orNode:
		kids = x.kids
	case *notNode:
		orderByCost(x.x)
		return
	default:
		return
	}
	for _, k := range kids {
		orderByCost(k)
	}
	sort.SliceStable(kids, func(i, j int) bool { return cost(kids[i]) < cost(kids[j]) })
}

func (c *compiler) expr(x sigma.Expr) (cnode, error) {
	switch x := x.(type) {
	case *sigma.And:
		a, err := c.expr(x.X)
		if err != nil {
			return nil, err
		}
		b, err := c.expr(x.Y)
		if err != nil {
			return nil, err
		}
		return flattenAnd(a, b), nil
	case *sigma.Or:
		a, err := c.expr(x.X)
		if err != nil {
			return nil, err
		}
		b, err := c.expr(x.Y)
		if err != nil {
			return nil, err
		}
		return flattenOr(a, b), nil
	case *sigma.Not:
		a, err := c.expr(x.X)
		if err != nil {
			return nil, err
		}
		return &notNode{a}, nil
	case *sigma.Ident:
		return c.search(x.Name)
	case *sigma.Of:
		if len(x.Names) == 0 {
			return nil, fmt.Errorf("%q matches no search identifier", x.String())
		}
		var kids []cnode
		for _, n := range x.Names {
			s, err := c.search(n)
			if err != nil {
				return nil, err
			}
			kids = append(kids, s)
		}
		if len(kids) == 1 {
			return kids[0], nil
		}
		if x.All {
			return &andNode{kids}, nil
		}
		return &orNode{kids}, nil
	}
	return nil, fmt.Errorf("unsupported condition element %T", x)
}

func flattenAnd(a, b cnode) cnode {
	var kids []cnode
	for _, n := range []cnode{a, b} {
		if x, ok := n.(*andNode); ok {
			kids = append(kids, x.kids...)
		} else {
			kids = append(kids, n)
		}
	}
	return &andNode{kids}
}

func flattenOr(a, b cnode) cnode {
	var kids []cnode
	for _, n := range []cnode{a, b} {
		if x, ok := n.(*orNode); ok {
			kids = append(kids, x.kids...)
		} else {
			kids = append(kids, n)
		}
	}
	return &orNode{kids}
}

func (c *compiler) search(name string) (cnode, error) {
	if n, ok := c.searches[name]; ok {
		return n, nil
	}
	s := c.rule.Detection.Searches[name]
	if s == nil {
		return nil, fmt.Errorf("condition references undefined search %q", name)
	}
	var groups []cnode
	for _, g := range s.Groups {
		var ms []cnode
		for _, fm := range g.Matchers {
			m, err := c.matcher(fm)
			if err != nil {
				return nil, fmt.Errorf("%s: search %q, field %q: %w", fm.Pos, name, fm.Field, err)
			}
			ms = append(ms, m)
		}
		switch len(ms) {
		case 0:
			groups = append(groups, constNode(true))
		case 1:
			groups = append(groups, ms[0])
		default:
			groups = append(groups, &andNode{ms})
		}
	}
	var n cnode
	switch len(groups) {
	case 0:
		n = constNode(false)
	case 1:
		n = groups[0]
	default:
		n = &orNode{groups}
	}
	c.searches[name] = n
	return n, nil
}

// matcher compiles one field matcher with its modifier chain.
func (c *compiler) matcher(fm *sigma.FieldMatcher) (cnode, error) {
	mods := fm.Modifiers
	m := &fieldNode{field: -1, all: mods.Has(sigma.ModAll)}
	if fm.Field != "" {
		m.field = c.e.slot(fm.Field)
	}
	// Modifiers that replace value matching altogether.
	switch {
	case mods.Has(sigma.ModExists):
		if fm.Field == "" {
			return nil, errors.New("exists needs a field")
		}
		if len(fm.Values) != 1 || fm.Values[0].Kind != sigma.KindBool {
			return nil, errors.New("exists takes one boolean value (true or false)")
		}
		return &existsNode{field: m.field, want: fm.Values[0].Bool}, nil
	case mods.Has(sigma.ModFieldref):
		return c.fieldref(fm, m)
	}
	anchor := 0
	for _, mod := range mods {
		switch mod {
		case sigma.ModContains:
			anchor = 1
		case sigma.ModStartswith:
			anchor = 2
		case sigma.ModEndswith:
			anchor = 3
		}
	}
	if fm.Field == "" && anchor == 0 {
		// Keywords search the event's text: a plain keyword matches
		// anywhere in a value, as full-text search does.
		anchor = 1
	}
	cased := mods.Has(sigma.ModCased)
	m.neg = mods.Has(sigma.ModNeq)
	for _, v := range fm.Values {
		vms, err := c.values(fm, v, anchor, cased)
		if err != nil {
			return nil, err
		}
		if len(vms) == 1 || !m.all {
			m.vals = append(m.vals, vms...)
			continue
		}
		// Under "all", a value that expands to several forms (windash,
		// base64offset) matches when any of its forms does.
		m.vals = append(m.vals, valueMatcher{kind: vkAnyOf, alts: vms})
	}
	if len(m.vals) == 0 {
		return nil, errors.New("no values to match")
	}
	return m, nil
}

func (c *compiler) fieldref(fm *sigma.FieldMatcher, m *fieldNode) (cnode, error) {
	if fm.Field == "" {
		return nil, errors.New("fieldref needs a field")
	}
	anchor := 0
	for _, mod := range fm.Modifiers {
		switch mod {
		case sigma.ModContains:
			anchor = 1
		case sigma.ModStartswith:
			anchor = 2
		case sigma.ModEndswith:
			anchor = 3
		}
	}
	m.neg = fm.Modifiers.Has(sigma.ModNeq)
	for _, v := range fm.Values {
		if v.Kind != sigma.KindString || v.Text == "" {
			return nil, fmt.Errorf("fieldref value must name a field, got %q", v.Text)
		}
		m.vals = append(m.vals, valueMatcher{kind: vkFieldref, ref: c.e.slot(v.Text), anchor: anchor, cased: fm.Modifiers.Has(sigma.ModCased)})
	}
	return m, nil
}

// The numeric comparison and time-part modifiers, by modifier.
var (
	cmpOps    = map[sigma.Modifier]cmpOp{sigma.ModLt: cmpLt, sigma.ModLte: cmpLte, sigma.ModGt: cmpGt, sigma.ModGte: cmpGte}
	timeParts = map[sigma.Modifier]timePart{sigma.ModMinute: tpMinute, sigma.ModHour: tpHour, sigma.ModDay: tpDay, sigma.ModWeek: tpWeek, sigma.ModMonth: tpMonth, sigma.ModYear: tpYear}
)

// values compiles one value into one or more alternatives.
func (c *compiler) values(fm *sigma.FieldMatcher, v sigma.Value, anchor int, cased bool) ([]valueMatcher, error) {
	mods := fm.Modifiers
	if v.Kind == sigma.KindNull {
		return []valueMatcher{{kind: vkNull}}, nil
	}
	// Numeric comparisons, then time parts (a chain combining both, such
	// as hour|gte, is not supported yet: the comparison wins).
	for _, mod := range mods {
		if op, ok := cmpOps[mod]; ok {
			n, ok := v.Number()
			if !ok {
				f, err := strconv.ParseFloat(v.Text, 64)
				if err != nil {
					return nil, fmt.Errorf("%s needs a number, got %q", mod, v.Text)
				}
				n = f
			}
			return []valueMatcher{{kind: vkCmp, cmp: op, num: n}}, nil
		}
	}
	for _, mod := range mods {
		if part, ok := timeParts[mod]; ok {
			n, ok := v.Number()
			if !ok {
				return nil, fmt.Errorf("%s needs an integer, got %q", mod, v.Text)
			}
			return []valueMatcher{{kind: vkTime, part: part, num: n}}, nil
		}
	}
	if mods.Has(sigma.ModCIDR) {
		p, err := sigma.ParseCIDR(v.Text)
		if err != nil {
			return nil, err
		}
		return []valueMatcher{{kind: vkCIDR, prefix: p}}, nil
	}
	if mods.Has(sigma.ModRe) {
		re, err := regexp.Compile(sigma.RegexpFlags(mods) + v.Text)
		if err != nil {
			return nil, fmt.Errorf("regular expression %q does not compile: %v", v.Text, err)
		}
		expr := sigma.RegexpFlags(mods) + v.Text
		return []valueMatcher{{kind: vkRegexp, re: re, reLit: regexpLiteral(expr), reCNF: regexpCNF(expr)}}, nil
	}
	// String matching, possibly through encodings.
	pats := []sigma.Pattern{v.Pattern}
	if v.Kind != sigma.KindString {
		pats = []sigma.Pattern{sigma.ParsePattern(v.Text, false)}
	}
	if mods.Has(sigma.ModExpand) {
		var err error
		pats, err = c.expand(pats)
		if err != nil {
			return nil, err
		}
	}
	// Encodings apply in chain order to the plain text of the value.
	var raw []string // current byte strings, when an encoding was applied
	encoded := false
	for _, mod := range mods {
		switch mod {
		case sigma.ModWindash:
			var out []sigma.Pattern
			for _, p := range pats {
				out = append(out, sigma.WindashPattern(p)...)
			}
			pats = out
		case sigma.ModUTF16LE, sigma.ModWide, sigma.ModUTF16BE, sigma.ModUTF16, sigma.ModBase64, sigma.ModBase64Offset:
			if !encoded {
				for _, p := range pats {
					s, ok := p.IsPlain()
					if !ok {
						return nil, fmt.Errorf("%s cannot encode a value with wildcards (%q); remove the wildcards or the modifier", mod, v.Text)
					}
					raw = append(raw, s)
				}
				encoded = true
			}
			var out []string
			for _, s := range raw {
				switch mod {
				case sigma.ModUTF16LE, sigma.ModWide:
					out = append(out, string(sigma.UTF16LE(s)))
				case sigma.ModUTF16BE:
					out = append(out, string(sigma.UTF16BE(s)))
				case sigma.ModUTF16:
					out = append(out, string(sigma.UTF16(s)))
				case sigma.ModBase64:
					out = append(out, sigma.Base64([]byte(s)))
				case sigma.ModBase64Offset:
					for _, f := range sigma.Base64Offset([]byte(s)) {
						out = append(out, f)
					}
				}
			}
			raw = out
		}
	}
	if encoded {
		pats = pats[:0]
		for _, s := range raw {
			pats = append(pats, sigma.Pattern{{Kind: sigma.Literal, Text: s}})
		}
		// Base64 text is case-sensitive.
		if mods.Has(sigma.ModBase64) || mods.Has(sigma.ModBase64Offset) {
			cased = true
		}
	}
	if len(pats) == 0 {
		// Every form of the value was dropped (an unset placeholder).
		return []valueMatcher{{kind: vkNever}}, nil
	}
	out := make([]valueMatcher, 0, len(pats))
	for _, p := range pats {
		out = append(out, valueMatcher{kind: vkString, str: compilePattern(p, anchor, cased)})
	}
	return out, nil
}

// expand replaces %name% placeholders with every configured value.
func (c *compiler) expand(pats []sigma.Pattern) ([]sigma.Pattern, error) {
	var out []sigma.Pattern
	for _, p := range pats {
		variants := []sigma.Pattern{nil}
		for _, pc := range p {
			if pc.Kind != sigma.Placeholder {
				for i := range variants {
					variants[i] = append(variants[i], pc)
				}
				continue
			}
			vals, ok := c.opts.Placeholders[pc.Text]
			if !ok || len(vals) == 0 {
				// Without a value the placeholder matches nothing: the rule
				// still loads, and says so.
				c.warn(fmt.Sprintf("placeholder %%%s%% has no value, so it matches nothing; give it values in a placeholders file (vigil hunt --placeholders FILE)", pc.Text))
				variants = nil
				break
			}
			var next []sigma.Pattern
			for _, v := range variants {
				for _, val := range vals {
					nv := append(append(sigma.Pattern(nil), v...), sigma.ParsePattern(val, false)...)
					next = append(next, nv)
				}
			}
			variants = next
		}
		out = append(out, variants...)
	}
	return out, nil
}
