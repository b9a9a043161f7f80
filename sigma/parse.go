package sigma

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// Enumerations of the rules specification.
var (
	statuses     = []string{"stable", "test", "experimental", "deprecated", "unsupported"}
	levels       = []string{"informational", "low", "medium", "high", "critical"}
	relatedTypes = []string{"derived", "obsolete", "merged", "renamed", "similar"}
)

// ParseFile parses the Sigma documents in data, which was read from path
// (used only in positions). A file may hold several YAML documents, each a
// detection rule, a correlation rule (a "correlation" key) or a filter (a
// "filter" key).
//
// Every problem of every document is collected: the error, if not nil, is an
// ErrorList sorted by position. The returned File holds the documents that
// parsed without error, so a caller may still inspect them; a loader should
// treat the whole file as refused.
func ParseFile(path string, data []byte) (*File, error) {
	f := &File{Path: path}
	var errs ErrorList
	af, err := parser.ParseBytes(data, 0)
	if err != nil {
		errs = append(errs, yamlError(path, err))
		return f, errs
	}
	if p, action, ok := v1Collection(path, af); ok {
		errs.Add(p, fmt.Sprintf("multi-document rule collections (action: %s) are a sigma v1 feature removed in v2", action),
			"write each rule as a complete document; correlations now use a \"correlation\" document")
		return f, errs
	}
	for _, d := range af.Docs {
		if d == nil || d.Body == nil {
			continue
		}
		parseDocument(f, path, d.Body, &errs)
	}
	if len(f.Rules)+len(f.Correlations)+len(f.Filters) == 0 && len(errs) == 0 {
		errs.Add(Pos{File: path}, "no sigma rule in file", "a rule needs at least title, logsource and detection")
	}
	errs.Sort()
	return f, errs.Err()
}

// yamlError turns a go-yaml error into a positioned Error.
func yamlError(path string, err error) *Error {
	var se *yaml.SyntaxError
	if errors.As(err, &se) && se.Token != nil && se.Token.Position != nil {
		return &Error{Pos: Pos{File: path, Line: se.Token.Position.Line, Col: se.Token.Position.Column}, Msg: "invalid yaml: " + strings.ToLower(se.Message[:1]) + se.Message[1:]}
	}
	msg := err.Error()
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	return &Error{Pos: Pos{File: path}, Msg: "invalid yaml: " + msg}
}

// v1Collection reports whether a document of af has a top-level "action"
// key (a v1 global/reset/repeat collection), with its position and value.
func v1Collection(path string, af *ast.File) (Pos, string, bool) {
	for _, doc := range af.Docs {
		if doc == nil {
			continue
		}
		m, ok := doc.Body.(*ast.MappingNode)
		if !ok {
			continue
		}
		for _, mv := range m.Values {
			if k, ok := mv.Key.(*ast.StringNode); ok && k.Value == "action" {
				tk := k.GetToken()
				v := ""
				if mv.Value != nil && mv.Value.GetToken() != nil {
					v = mv.Value.GetToken().Value
				}
				return Pos{File: path, Line: tk.Position.Line, Col: tk.Position.Column}, v, true
			}
		}
	}
	return Pos{}, "", false
}

func parseDocument(f *File, path string, body ast.Node, errs *ErrorList) {
	start := len(*errs)
	d := newDoc(path, body, errs)
	m := d.mapping(body, "a sigma document")
	if m == nil {
		return
	}
	ents := d.entries(m, "document")
	has := func(k string) bool {
		for _, e := range ents {
			if e.key == k {
				return true
			}
		}
		return false
	}
	pos := d.pos(m)
	if len(m.Values) > 0 {
		_, pos, _ = d.keyText(m.Values[0])
	}
	switch {
	case has("correlation"):
		c := d.correlation(ents, pos)
		if len(*errs) == start {
			f.Correlations = append(f.Correlations, c)
		}
	case has("filter"):
		fl := d.filter(ents, pos)
		if len(*errs) == start {
			f.Filters = append(f.Filters, fl)
		}
	default:
		r := d.rule(ents, pos)
		if len(*errs) == start {
			f.Rules = append(f.Rules, r)
		}
	}
}

// meta decodes a metadata key into m; it reports whether key was one.
func (d *doc) meta(m *Meta, e entry) bool {
	switch e.key {
	case "title":
		m.Title = d.str(e.value, "title")
	case "id":
		m.ID = d.str(e.value, "id")
	case "name":
		m.Name = d.str(e.value, "name")
	case "status":
		m.Status = d.str(e.value, "status")
		if m.Status != "" && !oneOf(m.Status, statuses...) {
			d.errs.Add(d.pos(e.value), fmt.Sprintf("unknown status %q", m.Status), hintOrList(m.Status, statuses))
		}
	case "level":
		m.Level = d.str(e.value, "level")
		if m.Level != "" && !oneOf(m.Level, levels...) {
			d.errs.Add(d.pos(e.value), fmt.Sprintf("unknown level %q", m.Level), hintOrList(m.Level, levels))
		}
	case "description":
		m.Description = d.str(e.value, "description")
	case "author":
		m.Author = d.str(e.value, "author")
	case "date":
		m.Date = d.str(e.value, "date")
	case "modified":
		m.Modified = d.str(e.value, "modified")
	case "license":
		m.License = d.str(e.value, "license")
	case "taxonomy":
		m.Taxonomy = d.str(e.value, "taxonomy")
	case "references":
		m.References = d.strList(e.value, "references")
	case "tags":
		m.Tags = d.strList(e.value, "tags")
	case "falsepositives":
		m.FalsePositives = d.strList(e.value, "falsepositives")
	case "fields":
		m.Fields = d.strList(e.value, "fields")
	case "scope":
		m.Scope = d.strList(e.value, "scope")
	case "related":
		m.Related = d.related(e.value)
	default:
		return false
	}
	return true
}

func hintOrList(got string, allowed []string) string {
	if h := suggest(got, allowed); h != "" {
		return h
	}
	return "expected one of " + quoteList(allowed)
}

func (d *doc) related(n ast.Node) []Related {
	seq, ok := d.unwrap(n).(*ast.SequenceNode)
	if !ok {
		d.errs.Add(d.pos(n), "related must be a list of {id, type} maps", "")
		return nil
	}
	var out []Related
	for _, el := range seq.Values {
		m := d.mapping(el, "related entry")
		if m == nil {
			continue
		}
		r := Related{Pos: d.pos(el)}
		for _, e := range d.entries(m, "related entry") {
			switch e.key {
			case "id":
				r.ID = d.str(e.value, "related id")
			case "type":
				r.Type = d.str(e.value, "related type")
				if !oneOf(r.Type, relatedTypes...) {
					d.errs.Add(d.pos(e.value), fmt.Sprintf("unknown related type %q", r.Type), hintOrList(r.Type, relatedTypes))
				}
			default:
				d.errs.Add(e.pos, fmt.Sprintf("unknown key %q in related entry", e.key), "expected \"id\" and \"type\"")
			}
		}
		if r.ID == "" {
			d.errs.Add(r.Pos, "related entry without id", "")
		}
		out = append(out, r)
	}
	return out
}

func (d *doc) logsource(n ast.Node) Logsource {
	ls := Logsource{Pos: d.pos(n)}
	m := d.mapping(n, "logsource")
	if m == nil {
		return ls
	}
	for _, e := range d.entries(m, "logsource") {
		v := d.str(e.value, "logsource "+e.key)
		switch e.key {
		case "category":
			ls.Category = v
		case "product":
			ls.Product = v
		case "service":
			ls.Service = v
		case "definition":
			ls.Definition = v
		default:
			if ls.Extra == nil {
				ls.Extra = map[string]string{}
			}
			ls.Extra[e.key] = v
		}
	}
	return ls
}

func (d *doc) rule(ents []entry, pos Pos) *Rule {
	r := &Rule{}
	r.Pos = pos
	var haveLS, haveDet bool
	for _, e := range ents {
		if d.meta(&r.Meta, e) {
			continue
		}
		switch e.key {
		case "logsource":
			haveLS = true
			r.Logsource = d.logsource(e.value)
		case "detection":
			haveDet = true
			if m := d.mapping(e.value, "detection"); m != nil {
				r.Detection = d.detection(m, nil)
			}
		default:
			d.extra(&r.Meta, e)
		}
	}
	d.requireTitle(&r.Meta, pos)
	if !haveLS {
		d.errs.Add(pos, "missing logsource", "add a logsource map with category, product and/or service")
	}
	if !haveDet {
		d.errs.Add(pos, "missing detection", "add a detection map with at least one search and a condition")
	}
	return r
}

func (d *doc) requireTitle(m *Meta, pos Pos) {
	if strings.TrimSpace(m.Title) == "" {
		d.errs.Add(pos, "missing title", "every sigma rule needs a title")
	} else if len(m.Title) > 256 {
		d.errs.Addf(pos, "title longer than 256 characters (%d)", len(m.Title))
	}
}

// extra keeps a non-standard top-level key, suggesting a known key when the
// name looks like a typo of one.
func (d *doc) extra(m *Meta, e entry) {
	known := []string{"title", "id", "name", "status", "level", "description", "author", "date", "modified",
		"license", "taxonomy", "references", "tags", "falsepositives", "fields", "scope", "related", "logsource", "detection"}
	if h := suggest(e.key, known); h != "" && len(e.key) > 3 {
		d.errs.Add(e.pos, fmt.Sprintf("unknown key %q", e.key), h)
		return
	}
	if m.Extra == nil {
		m.Extra = map[string]any{}
	}
	m.Extra[e.key] = d.generic(e.value, 0)
}

// detection decodes a detection (or filter) map. Keys in skip are handled by
// the caller.
func (d *doc) detection(m *ast.MappingNode, skip []string) Detection {
	det := Detection{Searches: map[string]*Search{}, Pos: d.pos(m)}
	var conds []entry
	for _, e := range d.entries(m, "detection") {
		switch {
		case oneOf(e.key, skip...):
		case e.key == "condition":
			conds = append(conds, e)
		case e.key == "timeframe":
			det.TimeframeText = d.str(e.value, "timeframe")
			tf, err := ParseTimespan(det.TimeframeText)
			if err != nil {
				d.errs.Add(d.pos(e.value), "invalid timeframe: "+err.Error(), "use a number and a unit, e.g. 5m")
			}
			det.Timeframe = tf
		default:
			if e.key == "" {
				d.errs.Add(e.pos, "empty search identifier", "")
				continue
			}
			s := d.search(e)
			det.Names = append(det.Names, e.key)
			det.Searches[e.key] = s
		}
	}
	if len(det.Names) == 0 {
		d.errs.Add(det.Pos, "detection defines no search", "add a search identifier such as \"selection\"")
	}
	if len(conds) == 0 {
		d.errs.Add(det.Pos, "missing condition", "add e.g. \"condition: selection\"")
		return det
	}
	for _, c := range conds {
		d.conditions(&det, c.value)
	}
	return det
}

func (d *doc) conditions(det *Detection, n ast.Node) {
	if seq, ok := d.unwrap(n).(*ast.SequenceNode); ok {
		if len(seq.Values) == 0 {
			d.errs.Add(d.pos(n), "empty condition list", "")
		}
		for _, el := range seq.Values {
			d.condition(det, el)
		}
		return
	}
	d.condition(det, n)
}

func (d *doc) condition(det *Detection, n ast.Node) {
	v, ok := d.scalar(n, "condition")
	if !ok {
		return
	}
	if v.Kind != KindString {
		d.errs.Add(v.Pos, "condition must be a string, not "+v.Kind.String(), "")
		return
	}
	c := &Condition{Text: v.Text, Pos: v.Pos}
	at := func(off int) Pos { return offsetPos(v.Pos, v.Text, off) }
	expr, agg, err := ParseCondition(v.Text)
	if err != nil {
		var ce *ConditionError
		if errors.As(err, &ce) {
			d.errs.Add(at(ce.Off), "condition: "+ce.Msg, ce.Hint)
		} else {
			d.errs.Add(v.Pos, "condition: "+err.Error(), "")
		}
		return
	}
	var cerrs []*ConditionError
	resolve(expr, det.Names, &cerrs)
	for _, ce := range cerrs {
		d.errs.Add(at(ce.Off), "condition: "+ce.Msg, ce.Hint)
	}
	c.Expr, c.Aggregation = expr, agg
	det.Conditions = append(det.Conditions, c)
}

// offsetPos maps a byte offset inside a scalar starting at p to a position,
// following newlines for multi-line plain or block scalars (approximately:
// continuation lines are assumed to start at p's column).
func offsetPos(p Pos, text string, off int) Pos {
	off = min(max(off, 0), len(text))
	line := strings.Count(text[:off], "\n")
	if line == 0 {
		p.Col += len([]rune(text[:off]))
		return p
	}
	p.Line += line
	last := strings.LastIndexByte(text[:off], '\n')
	p.Col += len([]rune(text[last+1 : off]))
	return p
}

// search decodes one search identifier.
func (d *doc) search(e entry) *Search {
	s := &Search{Name: e.key, Pos: e.pos}
	switch v := d.unwrap(e.value).(type) {
	case *ast.MappingNode, *ast.MappingValueNode:
		if g := d.group(e.value); g != nil {
			s.Groups = append(s.Groups, g)
		}
	case *ast.SequenceNode:
		if len(v.Values) == 0 {
			d.errs.Add(d.pos(e.value), fmt.Sprintf("search %q is an empty list", e.key), "remove it or add values")
		}
		var kw *FieldMatcher
		for _, el := range v.Values {
			switch u := d.unwrap(el).(type) {
			case *ast.MappingNode, *ast.MappingValueNode:
				if g := d.group(el); g != nil {
					s.Groups = append(s.Groups, g)
				}
			case *ast.SequenceNode:
				d.errs.Add(d.pos(el), fmt.Sprintf("search %q: nested list", e.key), "a search is a map, a list of maps or a list of values")
			default:
				_ = u
				val, ok := d.scalar(el, "keyword")
				if !ok {
					continue
				}
				if kw == nil {
					kw = &FieldMatcher{Pos: val.Pos}
					s.Groups = append(s.Groups, &Group{Matchers: []*FieldMatcher{kw}, Pos: val.Pos})
				}
				kw.Values = append(kw.Values, d.value(val, false))
			}
		}
		if kw != nil {
			d.validate(kw, nil)
		}
	case *ast.NullNode, nil:
		d.errs.Add(d.pos(e.value), fmt.Sprintf("search %q is empty", e.key), "give it a map of fields or a list of keywords")
	default:
		val, ok := d.scalar(e.value, "keyword")
		if ok {
			kw := &FieldMatcher{Pos: val.Pos, Values: []Value{d.value(val, false)}}
			d.validate(kw, nil)
			s.Groups = append(s.Groups, &Group{Matchers: []*FieldMatcher{kw}, Pos: val.Pos})
		}
	}
	return s
}

// group decodes one map of field matchers.
func (d *doc) group(n ast.Node) *Group {
	m := d.mapping(n, "search")
	if m == nil {
		return nil
	}
	g := &Group{Pos: d.pos(n)}
	if len(m.Values) == 0 {
		d.errs.Add(g.Pos, "empty map in search", "")
		return nil
	}
	for _, e := range d.entries(m, "search") {
		fm, modPos := d.fieldKey(e)
		if fm == nil {
			continue
		}
		expand := fm.Modifiers.Has(ModExpand)
		switch u := d.unwrap(e.value).(type) {
		case *ast.SequenceNode:
			if len(u.Values) == 0 {
				d.errs.Add(d.pos(e.value), fmt.Sprintf("field %q has an empty value list", fm.Field), "use '' to match an empty value or null for a missing one")
			}
			for _, el := range u.Values {
				switch d.unwrap(el).(type) {
				case *ast.MappingNode, *ast.MappingValueNode, *ast.SequenceNode:
					d.errs.Add(d.pos(el), fmt.Sprintf("field %q: value list entries must be scalars", fm.Field), "")
					continue
				}
				if v, ok := d.scalar(el, "value"); ok {
					fm.Values = append(fm.Values, d.value(v, expand))
				}
			}
		case *ast.MappingNode, *ast.MappingValueNode:
			d.errs.Add(d.pos(e.value), fmt.Sprintf("field %q: value must be a scalar or a list of scalars, not a map", fm.Field), "check the indentation")
			continue
		default:
			if v, ok := d.scalar(e.value, "value"); ok {
				fm.Values = append(fm.Values, d.value(v, expand))
			}
		}
		d.validate(fm, modPos)
		g.Matchers = append(g.Matchers, fm)
	}
	return g
}

func (d *doc) value(v Value, expand bool) Value {
	if v.Kind == KindString {
		v.Pattern = ParsePattern(v.Text, expand)
	}
	return v
}

// fieldKey splits "field|mod1|mod2" and resolves the modifiers. It returns
// the matcher (without values) and the position of each modifier.
func (d *doc) fieldKey(e entry) (*FieldMatcher, []Pos) {
	parts := strings.Split(e.key, "|")
	fm := &FieldMatcher{Field: parts[0], Pos: e.pos}
	var positions []Pos
	off := len(parts[0]) + 1
	ok := true
	for _, name := range parts[1:] {
		p := e.pos
		p.Col += len([]rune(e.key[:off]))
		off += len(name) + 1
		m := LookupModifier(name)
		if m == ModInvalid {
			ok = false
			if name == "" {
				d.errs.Add(p, fmt.Sprintf("empty modifier in %q", e.key), "remove the extra \"|\"")
				continue
			}
			hint := suggest(name, ModifierNames())
			if hint == "" {
				hint = "known modifiers: " + strings.Join(ModifierNames(), ", ")
			}
			d.errs.Add(p, fmt.Sprintf("unknown modifier %q", name), hint)
			continue
		}
		if fm.Modifiers.Has(m) {
			ok = false
			d.errs.Add(p, fmt.Sprintf("duplicate modifier %q", name), "")
			continue
		}
		fm.Modifiers = append(fm.Modifiers, m)
		positions = append(positions, p)
	}
	if !ok {
		return nil, nil
	}
	return fm, positions
}

// modPos returns the position of modifier m in a validated matcher.
func modPos(fm *FieldMatcher, positions []Pos, m Modifier) Pos {
	for i, x := range fm.Modifiers {
		if x == m && i < len(positions) {
			return positions[i]
		}
	}
	return fm.Pos
}

// validate checks a matcher's modifier chain and values.
func (d *doc) validate(fm *FieldMatcher, positions []Pos) {
	ms := fm.Modifiers
	at := func(m Modifier) Pos { return modPos(fm, positions, m) }
	index := func(m Modifier) int {
		for i, x := range ms {
			if x == m {
				return i
			}
		}
		return -1
	}
	var count = func(pred func(Modifier) bool) []Modifier {
		var out []Modifier
		for _, m := range ms {
			if pred(m) {
				out = append(out, m)
			}
		}
		return out
	}
	bad := false
	conflict := func(a, b Modifier, hint string) {
		bad = true
		d.errs.Add(at(b), fmt.Sprintf("modifier %q cannot be combined with %q", b, a), hint)
	}
	exclusive := func(group []Modifier, what string) {
		if len(group) > 1 {
			bad = true
			d.errs.Add(at(group[1]), fmt.Sprintf("modifiers %q and %q both set the %s", group[0], group[1], what), "keep one of them")
		}
	}
	stringMatch := count(Modifier.isStringMatch)
	compare := count(Modifier.isCompare)
	timeMods := count(Modifier.isTime)
	encodings := count(Modifier.isEncoding)
	b64 := count(Modifier.isBase64)
	exclusive(stringMatch, "match position")
	exclusive(compare, "comparison")
	exclusive(timeMods, "date part")
	exclusive(encodings, "encoding")
	exclusive(b64, "base64 form")

	// Modifiers that decide the value type exclude each other and the string
	// transformations.
	typed := count(func(m Modifier) bool {
		return m == ModRe || m == ModCIDR || m == ModExists || m.isCompare() || m.isTime() || m == ModFieldref
	})
	stringTransforms := count(func(m Modifier) bool {
		return m.isStringMatch() || m == ModWindash || m.isBase64() || m.isEncoding() || m == ModExpand
	})
	for _, t := range typed {
		for _, o := range typed {
			if o == t || (t.isTime() || t.isCompare()) && (o.isTime() || o.isCompare()) {
				continue
			}
			if index(o) > index(t) {
				conflict(t, o, "")
			}
		}
		for _, s := range stringTransforms {
			if t == ModFieldref && s.isStringMatch() {
				continue
			}
			conflict(t, s, "")
		}
	}
	if ms.Has(ModExists) {
		for _, m := range ms {
			if m == ModAll || m == ModCased || m == ModNeq || m.isReFlag() {
				conflict(ModExists, m, "exists takes only true or false")
			}
		}
	}
	for _, m := range ms {
		if m.isReFlag() && !ms.Has(ModRe) {
			bad = true
			d.errs.Add(at(m), fmt.Sprintf("modifier %q is a regular expression flag", m), "use it after \"re\", e.g. field|re|"+m.String())
		}
	}
	if ms.Has(ModNeq) {
		for _, m := range []Modifier{ModRe, ModCIDR} {
			if ms.Has(m) {
				conflict(m, ModNeq, "")
			}
		}
	}
	if ms.Has(ModCased) {
		for _, m := range []Modifier{ModCIDR, ModExists} {
			if ms.Has(m) {
				conflict(m, ModCased, "")
			}
		}
		if len(compare) > 0 || len(timeMods) > 0 {
			conflict(append(compare, timeMods...)[0], ModCased, "")
		}
	}
	// Order: encodings before base64, base64 before the match position,
	// time part before the comparison.
	for _, e := range encodings {
		for _, b := range b64 {
			if index(e) > index(b) {
				bad = true
				d.errs.Add(at(e), fmt.Sprintf("modifier %q must come before %q", e, b), fmt.Sprintf("write |%s|%s", e, b))
			}
		}
	}
	for _, b := range b64 {
		for _, s := range stringMatch {
			if index(b) > index(s) {
				bad = true
				d.errs.Add(at(b), fmt.Sprintf("modifier %q must come before %q", b, s), fmt.Sprintf("write |%s|%s", b, s))
			}
		}
	}
	for _, t := range timeMods {
		for _, c := range compare {
			if index(t) > index(c) {
				bad = true
				d.errs.Add(at(t), fmt.Sprintf("modifier %q must come before %q", t, c), fmt.Sprintf("write |%s|%s", t, c))
			}
		}
	}
	if fm.Field == "" {
		for _, m := range ms {
			if m == ModExists || m == ModFieldref || m == ModCIDR || m.isCompare() || m.isTime() {
				bad = true
				d.errs.Add(at(m), fmt.Sprintf("modifier %q needs a field name", m), "keyword searches match the whole event")
			}
		}
	}
	if bad {
		return
	}
	d.validateValues(fm, at)
}

func (d *doc) validateValues(fm *FieldMatcher, at func(Modifier) Pos) {
	ms := fm.Modifiers
	if ms.Has(ModAll) && len(fm.Values) < 2 {
		d.errs.Add(at(ModAll), "modifier \"all\" needs a list of at least two values", "remove \"all\", or use a separate search for a repeated field")
	}
	needString := ""
	for _, m := range ms {
		switch {
		case m == ModRe || m == ModCIDR || m == ModFieldref || m == ModExpand || m == ModWindash ||
			m.isStringMatch() || m.isBase64() || m.isEncoding() || m == ModCased:
			if needString == "" {
				needString = m.String()
			}
		}
	}
	numeric := len(ms) > 0 && (ms.Has(ModLt) || ms.Has(ModLte) || ms.Has(ModGt) || ms.Has(ModGte) ||
		ms.Has(ModMinute) || ms.Has(ModHour) || ms.Has(ModDay) || ms.Has(ModWeek) || ms.Has(ModMonth) || ms.Has(ModYear))
	for _, v := range fm.Values {
		switch {
		case ms.Has(ModExists):
			if v.Kind != KindBool {
				d.errs.Add(v.Pos, fmt.Sprintf("modifier \"exists\" takes true or false, not %s %q", v.Kind, v.Text), "write field|exists: true")
			}
			if len(fm.Values) > 1 {
				d.errs.Add(v.Pos, "modifier \"exists\" takes a single value", "")
				return
			}
		case numeric:
			if !v.IsNumeric() {
				d.errs.Add(v.Pos, fmt.Sprintf("numeric modifier %q needs a number, not %s %q", firstNumeric(ms), v.Kind, v.Text), "write the number without quotes")
			}
		case needString != "":
			if v.Kind != KindString {
				d.errs.Add(v.Pos, fmt.Sprintf("modifier %q needs a string, not %s %q", needString, v.Kind, v.Text), "quote the value")
				continue
			}
			d.validateString(fm, v)
		case v.Kind == KindNull && len(ms) > 0 && !(len(ms) == 1 && ms[0] == ModNeq):
			d.errs.Add(v.Pos, fmt.Sprintf("null cannot be used with modifier %q", ms[0]), "null matches a missing or empty field without modifiers")
		case ms.Has(ModNeq) && v.Kind == KindBool:
			d.errs.Add(v.Pos, "modifier \"neq\" needs a string or a number", "")
		}
	}
}

func firstNumeric(ms Modifiers) Modifier {
	for _, m := range ms {
		if m.isCompare() || m.isTime() {
			return m
		}
	}
	return ModInvalid
}

func (d *doc) validateString(fm *FieldMatcher, v Value) {
	ms := fm.Modifiers
	switch {
	case ms.Has(ModRe):
		if _, err := compileRegexp(v.Text, ms); err != nil {
			d.errs.Add(v.Pos, "invalid regular expression: "+err.Error(), regexpHint(err))
		}
	case ms.Has(ModCIDR):
		if _, err := ParseCIDR(v.Text); err != nil {
			hint := "write an ipv4 or ipv6 prefix such as 10.0.0.0/8 or fe80::/10"
			if strings.Contains(err.Error(), "did you mean") {
				hint = ""
			}
			d.errs.Add(v.Pos, err.Error(), hint)
		}
	case ms.Has(ModBase64) || ms.Has(ModBase64Offset):
		if v.Pattern.HasWildcards() {
			d.errs.Add(v.Pos, fmt.Sprintf("wildcards cannot be base64-encoded: %q", v.Text), "escape them as \\* and \\? or drop them; use |contains for substrings")
		}
	case ms.Has(ModFieldref):
		if v.Text == "" {
			d.errs.Add(v.Pos, "modifier \"fieldref\" needs a field name", "")
		}
	}
	if ms.Has(ModExpand) && len(v.Pattern.Placeholders()) == 0 {
		d.errs.Add(v.Pos, fmt.Sprintf("modifier \"expand\" on a value without placeholder: %q", v.Text), "write placeholders as %name%")
	}
}

// RegexpFlags returns the Go (RE2) flag prefix for the re sub-modifiers of
// ms, e.g. "(?is)", or "" for none.
func RegexpFlags(ms Modifiers) string {
	f := ""
	if ms.Has(ModReI) {
		f += "i"
	}
	if ms.Has(ModReM) {
		f += "m"
	}
	if ms.Has(ModReS) {
		f += "s"
	}
	if f == "" {
		return ""
	}
	return "(?" + f + ")"
}

func regexpHint(err error) string {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "(?=") || strings.Contains(msg, "(?!") || strings.Contains(msg, "(?<"):
		return "lookaround assertions are not part of the sigma regular expression subset (and go's re2 lacks them)"
	case strings.Contains(msg, "\\1") || strings.Contains(msg, "escape sequence"):
		return "the sigma regular expression subset has no backreferences or exotic escapes"
	}
	return "sigma regular expressions are a pcre subset: . ^ $ * + ? {n,m} [] () |"
}

// ParseTimespan parses a correlation timespan or v1 timeframe: a positive
// integer followed by s, m, h, d (or w for weeks), e.g. "90m".
func ParseTimespan(s string) (time.Duration, error) {
	if len(s) < 2 {
		return 0, fmt.Errorf("%q is not a number followed by s, m, h or d", s)
	}
	n, err := strconv.ParseUint(s[:len(s)-1], 10, 31)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("%q is not a positive number followed by s, m, h or d", s)
	}
	unit := map[byte]time.Duration{'s': time.Second, 'm': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour, 'w': 7 * 24 * time.Hour}[s[len(s)-1]]
	if unit == 0 {
		return 0, fmt.Errorf("unknown unit %q in %q (expected s, m, h or d)", s[len(s)-1:], s)
	}
	return time.Duration(n) * unit, nil
}
