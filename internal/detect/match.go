package detect

import (
	"math"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vigil-defense/vigil/internal/event"
)

// cnode is a compiled condition node.
type cnode interface {
	eval(m *Matcher) bool
}

type andNode struct{ kids []cnode }
type orNode struct{ kids []cnode }
type notNode struct{ x cnode }
type constNode bool

func (n *andNode) eval(m *Matcher) bool {
	for _, k := range n.kids {
		if !k.eval(m) {
			return false
		}
	}
	return true
}

func (n *orNode) eval(m *Matcher) bool {
	for _, k := range n.kids {
		if k.eval(m) {
			return true
		}
	}
	return false
}

func (n *notNode) eval(m *Matcher) bool { return !n.x.eval(m) }
func (n constNode) eval(*Matcher) bool  { return bool(n) }

// existsNode is "field|exists: true/false".
type existsNode struct {
	field int32
	want  bool
}

func (n *existsNode) eval(m *Matcher) bool { return (m.head[n.field] >= 0) == n.want }

// fieldNode is one field matcher: a field (or -1 for keywords) and values.
type fieldNode struct {
	field int32
	all   bool // every value must match (else any)
	neg   bool // neq: each value's result is negated
	vals  []valueMatcher
}

func (n *fieldNode) eval(m *Matcher) bool {
	if n.all {
		for i := range n.vals {
			if !n.one(m, &n.vals[i]) {
				return false
			}
		}
		return true
	}
	for i := range n.vals {
		if n.one(m, &n.vals[i]) {
			return true
		}
	}
	return false
}

// one evaluates one value against every occurrence of the field.
func (n *fieldNode) one(m *Matcher, v *valueMatcher) bool {
	if v.nd.n > 0 && !v.nd.present(&m.grams) {
		// The value's literal occurs in no value of the field: no match.
		return n.neg
	}
	hit := false
	if n.field < 0 {
		// Keyword: any field of the event.
		for i := 0; i < m.ev.Len() && !hit; i++ {
			hit = v.match(m, int32(i))
		}
	} else {
		o := m.head[n.field]
		if o < 0 {
			hit = v.kind == vkNull
		}
		for ; o >= 0 && !hit; o = m.occ[o].next {
			hit = v.match(m, m.occ[o].field)
		}
	}
	return hit != n.neg
}

type valueKind uint8

const (
	vkString valueKind = iota
	vkNull
	vkCmp
	vkTime
	vkCIDR
	vkRegexp
	vkFieldref
	vkAnyOf
	vkNever // a value that can match nothing (an unset placeholder)
)

type cmpOp uint8

const (
	cmpLt cmpOp = iota
	cmpLte
	cmpGt
	cmpGte
)

type timePart uint8

const (
	tpMinute timePart = iota
	tpHour
	tpDay
	tpWeek
	tpMonth
	tpYear
)

type valueMatcher struct {
	kind   valueKind
	str    strMatcher
	cmp    cmpOp
	part   timePart
	num    float64
	prefix netip.Prefix
	re     *regexp.Regexp
	ref    int32 // fieldref slot
	anchor int   // fieldref: 0 equal, 1 contains, 2 startswith, 3 endswith
	cased  bool
	alts   []valueMatcher
	nd     needle // a literal every match contains (nd.n == 0: none)
	reLit  string // vkRegexp: a folded literal every match contains, or ""
}

func (v *valueMatcher) match(m *Matcher, i int32) bool {
	switch v.kind {
	case vkString:
		if v.str.cased {
			return v.str.match(m.ev.Value(int(i)), "")
		}
		return v.str.match("", m.lower(i))
	case vkNull:
		return len(m.ev.Bytes(int(i))) == 0
	case vkCmp:
		f, ok := parseNumber(m.ev.Value(int(i)))
		if !ok {
			return false
		}
		switch v.cmp {
		case cmpLt:
			return f < v.num
		case cmpLte:
			return f <= v.num
		case cmpGt:
			return f > v.num
		default:
			return f >= v.num
		}
	case vkTime:
		t, ok := parseTime(m.ev.Value(int(i)))
		if !ok {
			return false
		}
		var got int
		switch v.part {
		case tpMinute:
			got = t.Minute()
		case tpHour:
			got = t.Hour()
		case tpDay:
			got = t.Day()
		case tpWeek:
			_, got = t.ISOWeek()
		case tpMonth:
			got = int(t.Month())
		default:
			got = t.Year()
		}
		return float64(got) == v.num
	case vkCIDR:
		a, err := netip.ParseAddr(strings.TrimSpace(m.ev.Value(int(i))))
		if err != nil {
			return false
		}
		return v.prefix.Contains(a.Unmap())
	case vkRegexp:
		return v.re.MatchString(m.ev.Value(int(i)))
	case vkFieldref:
		var s string
		if v.cased {
			s = m.ev.Value(int(i))
		} else {
			s = m.lower(i)
		}
		for o := m.head[v.ref]; o >= 0; o = m.occ[o].next {
			var r string
			if v.cased {
				r = m.ev.Value(int(m.occ[o].field))
			} else {
				r = m.lower(m.occ[o].field)
			}
			switch v.anchor {
			case 0:
				if s == r {
					return true
				}
			case 1:
				if strings.Contains(s, r) {
					return true
				}
			case 2:
				if strings.HasPrefix(s, r) {
					return true
				}
			case 3:
				if strings.HasSuffix(s, r) {
					return true
				}
			}
		}
		return false
	case vkAnyOf:
		for k := range v.alts {
			if v.alts[k].match(m, i) {
				return true
			}
		}
	}
	return false
}

func parseNumber(s string) (float64, bool) {
	s = strings.TrimSpace(s)
	if len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		u, err := strconv.ParseUint(s[2:], 16, 64)
		return float64(u), err == nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) {
		return 0, false
	}
	return f, true
}

func parseTime(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999"} {
		if t, err := time.Parse(layout, strings.TrimSpace(s)); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// occurrence links the event fields that fill one slot.
type occurrence struct {
	field int32 // event field index
	next  int32 // next occurrence for the same slot, or -1
}

type classInfo struct {
	programs  []*Program
	inv       *invIndex           // inverted prefilter index, for classes with many programs
	prefSlots []int32             // slots whose quadgrams the programs' prefilters need
	aliases   map[string]int32    // lower-cased event field name -> Sigma slot
	nameSlots map[string][2]int32 // event field name as seen -> own slot, alias slot
}

// Matcher evaluates an Engine's programs against events. It holds
// per-event scratch state and a cache of event classes; use one per
// goroutine.
type Matcher struct {
	e       *Engine
	classes map[string]*classInfo
	key     []byte

	ev      *event.Event
	head    []int32 // per slot: first occurrence, or -1
	occ     []occurrence
	touched []int32

	grams gramSet
	sat   []uint32 // per class program: epoch when its first clause held
	epoch uint32

	lowerVal  []string
	lowerDone []bool
	lowerBuf  []byte
}

// NewMatcher returns a matcher for e.
func (e *Engine) NewMatcher() *Matcher {
	m := &Matcher{e: e, classes: map[string]*classInfo{}, head: make([]int32, len(e.fields))}
	for i := range m.head {
		m.head[i] = -1
	}
	return m
}

// Match evaluates every program that applies to ev and calls fn for each
// that matches, in program order. ev must not change during the call.
func (m *Matcher) Match(ev *event.Event, fn func(p *Program)) {
	ci := m.class(ev)
	if len(ci.programs) == 0 {
		return
	}
	m.load(ev, ci)
	m.hashGrams(ev, ci)
	if inv := ci.inv; inv != nil {
		// Mark the programs whose first prefilter clause holds by walking
		// the event's quadgrams instead of every program's needles.
		m.epoch++
		if m.epoch == 0 { // wrapped: reset the stamps
			clear(m.sat)
			m.epoch = 1
		}
		if len(m.sat) < len(ci.programs) {
			m.sat = make([]uint32, len(ci.programs))
		}
		inv.mark(&m.grams, m.sat, m.epoch)
		for i, p := range ci.programs {
			if p.pf != nil && (m.sat[i] != m.epoch || !p.pf.passRest(&m.grams)) {
				continue
			}
			if p.cond.eval(m) {
				fn(p)
			}
		}
		m.unload()
		return
	}
	for _, p := range ci.programs {
		if p.pf != nil && !p.pf.pass(&m.grams) {
			continue
		}
		if p.cond.eval(m) {
			fn(p)
		}
	}
	m.unload()
}

// hashGrams fills the quadgram set with the folded values of the slots the
// class's prefilters and needles use.
func (m *Matcher) hashGrams(ev *event.Event, ci *classInfo) {
	if len(ci.prefSlots) > 0 {
		clear(m.grams[:])
		for _, s := range ci.prefSlots {
			if s == keywordSlot {
				for i := 0; i < ev.Len(); i++ {
					m.grams.add(s, m.lower(int32(i)))
				}
				continue
			}
			for o := m.head[s]; o >= 0; o = m.occ[o].next {
				m.grams.add(s, m.lower(m.occ[o].field))
			}
		}
	}
}

// Candidates returns how many programs apply to ev's class (for statistics).
func (m *Matcher) Candidates(ev *event.Event) int { return len(m.class(ev).programs) }

func (m *Matcher) class(ev *event.Event) *classInfo {
	t := m.e.table
	m.key = t.Key(ev, m.key[:0])
	if ci, ok := m.classes[string(m.key)]; ok {
		return ci
	}
	cls := t.Classify(ev)
	ci := &classInfo{aliases: map[string]int32{}, nameSlots: map[string][2]int32{}}
	for _, p := range m.e.programs {
		if t.RuleMatches(p.Rule.Logsource, cls) {
			ci.programs = append(ci.programs, p)
		}
	}
	ci.indexSlots()
	if len(ci.programs) >= invMinPrograms {
		ci.inv = buildInvIndex(ci.programs)
	}
	for _, a := range cls.Aliases {
		if id, ok := m.e.fieldIDs[strings.ToLower(a.Sigma)]; ok {
			ci.aliases[strings.ToLower(a.Event)] = id
		}
	}
	m.classes[string(m.key)] = ci
	return ci
}

// indexSlots computes the slots whose quadgrams the programs' prefilters
// and value needles look up.
func (ci *classInfo) indexSlots() {
	seen := map[int32]bool{}
	add := func(slot int32) {
		if !seen[slot] {
			seen[slot] = true
			ci.prefSlots = append(ci.prefSlots, slot)
		}
	}
	for _, p := range ci.programs {
		if p.pf != nil {
			for _, c := range p.pf.clauses {
				for _, nd := range c {
					add(nd.slot)
				}
			}
		}
		walkFields(p.cond, func(f *fieldNode) {
			for i := range f.vals {
				if f.vals[i].nd.n > 0 {
					add(f.field)
					return
				}
			}
		})
	}
}

// load indexes the event's fields by slot.
func (m *Matcher) load(ev *event.Event, ci *classInfo) {
	m.ev = ev
	n := ev.Len()
	m.occ = m.occ[:0]
	if cap(m.lowerVal) < n {
		m.lowerVal = make([]string, n)
		m.lowerDone = make([]bool, n)
	}
	m.lowerVal = m.lowerVal[:n]
	m.lowerDone = m.lowerDone[:n]
	clear(m.lowerDone)
	size := 0
	for i := 0; i < n; i++ {
		size += len(ev.Bytes(i))
		name := ev.Name(i)
		ns, ok := ci.nameSlots[name]
		if !ok {
			lname := strings.ToLower(name)
			ns = [2]int32{-1, -1}
			if id, ok := m.e.fieldIDs[lname]; ok {
				ns[0] = id
			} else if strings.Contains(lname, " ") {
				// Defender and other providers name EventData fields with
				// spaces ("Threat Name"); Sigma rules write them without.
				if id, ok := m.e.fieldIDs[strings.ReplaceAll(lname, " ", "")]; ok {
					ns[0] = id
				}
			}
			if id, ok := ci.aliases[lname]; ok && id != ns[0] {
				ns[1] = id
			}
			ci.nameSlots[name] = ns
		}
		for _, s := range ns {
			if s < 0 {
				continue
			}
			// Append at the end of the slot's list to keep event order.
			o := int32(len(m.occ))
			m.occ = append(m.occ, occurrence{field: int32(i), next: -1})
			if m.head[s] < 0 {
				m.head[s] = o
				m.touched = append(m.touched, s)
			} else {
				last := m.head[s]
				for m.occ[last].next >= 0 {
					last = m.occ[last].next
				}
				m.occ[last].next = o
			}
		}
	}
	if cap(m.lowerBuf) < size {
		m.lowerBuf = make([]byte, 0, size)
	}
	m.lowerBuf = m.lowerBuf[:0]
}

func (m *Matcher) unload() {
	for _, s := range m.touched {
		m.head[s] = -1
	}
	m.touched = m.touched[:0]
	m.ev = nil
}

// lower returns the case-folded value of event field i, computed once per
// event.
func (m *Matcher) lower(i int32) string {
	if m.lowerDone[i] {
		return m.lowerVal[i]
	}
	s := m.ev.Value(int(i))
	ascii, upper := true, false
	for k := 0; k < len(s); k++ {
		c := s[k]
		if c >= utf8.RuneSelf {
			ascii = false
			break
		}
		if 'A' <= c && c <= 'Z' {
			upper = true
		}
	}
	var out string
	switch {
	case ascii && !upper:
		out = s
	case ascii:
		// lowerBuf has room for every value of the event: no reallocation,
		// so earlier strings stay valid.
		start := len(m.lowerBuf)
		for k := 0; k < len(s); k++ {
			c := s[k]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			m.lowerBuf = append(m.lowerBuf, c)
		}
		out = unsafeString(m.lowerBuf[start:])
	default:
		// Unicode: lower-case, and fold the long s (U+017F), which
		// lower-cases to itself but matches 's' under case-insensitive
		// regular expressions; a prefilter literal must see it as 's'.
		out = strings.ToLower(s)
		if strings.ContainsRune(out, 'ſ') {
			out = strings.ReplaceAll(out, "ſ", "s")
		}
	}
	m.lowerVal[i] = out
	m.lowerDone[i] = true
	return out
}
