package detect

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/bits"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/vigil-defense/vigil/internal/event"
	"github.com/vigil-defense/vigil/sigma"
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
	nd     needle     // a literal every match contains (nd.n == 0: none)
	reLit  string     // vkRegexp: a folded literal every match contains, or ""
	reCNF  [][]string // vkRegexp: folded literals every match contains, as clauses
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
	slots     [ndKinds][]int32    // by needle kind, the slots the programs' prefilters and value needles look up
	wideAll   bool                // some needle of kind ndQuad or ndTri checks its slot's non-ASCII bit
	hashes    bool                // some slot list is not empty
	anchors   *[256]bool          // the anchor bytes of the keyword quadgram needles
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
	cand  []uint64 // per class program: its first prefilter clause holds

	names    [1 << nameCacheBits]nameEntry // event field name -> slot, without aliases
	nameTick uint32

	lowerVal  []string
	lowerDone []uint8 // 0: not yet, lowerASCII or lowerWide
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
		// the event's quadgrams instead of every program's needles, then
		// visit, in program order, only those and the programs without a
		// prefilter.
		words := len(inv.always)
		if len(m.cand) < words {
			m.cand = make([]uint64, words)
		}
		cand := m.cand[:words]
		inv.mark(&m.grams, cand)
		for w := range cand {
			word := cand[w] | inv.always[w]
			cand[w] = 0
			for word != 0 {
				p := ci.programs[w<<6|bits.TrailingZeros64(word)]
				word &= word - 1
				if p.pf != nil && !p.pf.passRest(&m.grams) {
					continue
				}
				if p.cond.eval(m) {
					fn(p)
				}
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
	if !ci.hashes {
		return
	}
	clear(m.grams[:])
	for k, slots := range ci.slots {
		kind := needleKind(k)
		for _, s := range slots {
			if s == keywordSlot {
				for i := 0; i < ev.Len(); i++ {
					m.addGrams(kind, s, int32(i), ci)
				}
				continue
			}
			for o := m.head[s]; o >= 0; o = m.occ[o].next {
				m.addGrams(kind, s, m.occ[o].field, ci)
			}
		}
	}
}

// addGrams adds to the set what needles of the kind look up in the slot
// for event field i (and the slot's non-ASCII bit when some needle checks
// it).
func (m *Matcher) addGrams(kind needleKind, slot, i int32, ci *classInfo) {
	v := m.lower(i)
	wide := ci.wideAll
	switch kind {
	case ndQuad:
		if slot == keywordSlot {
			m.grams.addAnchored(slot, v, ci.anchors)
			break
		}
		m.grams.add(slot, v)
	case ndTri:
		m.grams.addTri(slot, v)
	case ndBi:
		m.grams.addBi(slot, v)
	case ndByte:
		m.grams.addBytes(slot, v)
	case ndEq:
		m.grams.addEq(slot, v)
		return
	case ndWide:
		wide = true
	}
	if wide && m.lowerDone[i] == lowerWide {
		m.grams.setWide(slot)
	}
}

// Candidates returns how many programs apply to ev's class (for statistics).
func (m *Matcher) Candidates(ev *event.Event) int { return len(m.class(ev).programs) }

func (m *Matcher) class(ev *event.Event) *classInfo {
	m.key = m.e.table.Key(ev, m.key[:0])
	if ci, ok := m.classes[string(m.key)]; ok {
		return ci
	}
	// The class's programs and indexes are shared by the engine's
	// matchers; the field-name cache is this matcher's own.
	ci := *m.e.sharedClass(m.key)
	ci.nameSlots = map[string][2]int32{}
	if len(m.classes) >= maxClassKeys {
		// Key values come from the events (a syslog program name, a
		// JSON Channel): a long-running server must not keep one entry
		// per value ever seen. Starting over costs a rebuild per class.
		clear(m.classes)
	}
	m.classes[string(m.key)] = &ci
	return &ci
}

// maxClassKeys bounds the class caches of an engine and of each matcher.
const maxClassKeys = 1 << 14

// classCache holds what the engine's matchers share about event classes:
// built once per engine (not per matcher), and once per set of logsources
// for the costly parts (several classes, say Security events with
// different EventIDs, route to the same programs).
type classCache struct {
	mu      sync.Mutex
	byKey   map[string]*classInfo // class key -> programs, indexes, aliases (nameSlots nil)
	bySrcs  map[string]*classInfo // logsources -> programs and indexes
	scratch []byte
	groups  []lsGroup // the engine's programs by rule logsource
}

// lsGroup is the programs whose rules have the same logsource (category,
// product, service), which route alike.
type lsGroup struct {
	ls    sigma.Logsource
	progs []int // indexes in the engine's programs
}

func (c *classCache) groupPrograms(programs []*Program) {
	at := map[[3]string]int{}
	for i, p := range programs {
		ls := p.Rule.Logsource
		k := [3]string{ls.Category, ls.Product, ls.Service}
		g, ok := at[k]
		if !ok {
			g = len(c.groups)
			at[k] = g
			c.groups = append(c.groups, lsGroup{ls: ls})
		}
		c.groups[g].progs = append(c.groups[g].progs, i)
	}
}

// sharedClass returns the immutable part of the class of events whose key
// is key.
func (e *Engine) sharedClass(key []byte) *classInfo {
	c := &e.cache
	c.mu.Lock()
	defer c.mu.Unlock()
	if ci, ok := c.byKey[string(key)]; ok {
		return ci
	}
	if c.byKey == nil {
		c.byKey = map[string]*classInfo{}
		c.bySrcs = map[string]*classInfo{}
	}
	if len(c.byKey) >= maxClassKeys {
		clear(c.byKey) // bySrcs, bounded by the distinct logsource sets, stays
	}
	t := e.table
	cls := t.ClassifyKey(key)
	c.scratch = c.scratch[:0]
	for _, ls := range cls.Logsources {
		c.scratch = append(c.scratch, ls.Category...)
		c.scratch = append(c.scratch, 0)
		c.scratch = append(c.scratch, ls.Product...)
		c.scratch = append(c.scratch, 0)
		c.scratch = append(c.scratch, ls.Service...)
		c.scratch = append(c.scratch, 1)
	}
	src, ok := c.bySrcs[string(c.scratch)]
	if !ok {
		if c.groups == nil {
			c.groupPrograms(e.programs)
		}
		applies := make([]bool, len(e.programs))
		for _, g := range c.groups {
			if t.RuleMatches(g.ls, cls) {
				for _, i := range g.progs {
					applies[i] = true
				}
			}
		}
		src = &classInfo{}
		for i, p := range e.programs {
			if applies[i] {
				src.programs = append(src.programs, p)
			}
		}
		src.indexSlots()
		if len(src.programs) >= invMinPrograms {
			src.inv = buildInvIndex(src.programs)
		}
		c.bySrcs[string(c.scratch)] = src
	}
	ci := &classInfo{programs: src.programs, inv: src.inv, slots: src.slots, wideAll: src.wideAll, hashes: src.hashes, anchors: src.anchors, aliases: map[string]int32{}}
	for _, a := range cls.Aliases {
		if id, ok := e.fieldIDs[strings.ToLower(a.Sigma)]; ok {
			ci.aliases[strings.ToLower(a.Event)] = id
		}
	}
	c.byKey[string(key)] = ci
	return ci
}

// indexSlots computes the slots whose quadgrams, trigrams or whole values
// the programs' prefilters and value needles look up.
func (ci *classInfo) indexSlots() {
	var seen [ndKinds][]bool // by kind, slot + 1 (keywordSlot is -1)
	ci.anchors = new([256]bool)
	for _, p := range ci.programs {
		for _, b := range p.anchors {
			ci.anchors[b] = true
		}
		ci.wideAll = ci.wideAll || p.wide
		for k, slots := range p.slots {
			for _, s := range slots {
				if int(s+1) >= len(seen[k]) {
					seen[k] = append(seen[k], make([]bool, int(s+2)-len(seen[k]))...)
				}
				if !seen[k][s+1] {
					seen[k][s+1] = true
					ci.slots[k] = append(ci.slots[k], s)
					ci.hashes = true
				}
			}
		}
	}
}

// programSlots returns, by needle kind, the slots the program's prefilter
// and value needles look up, in first-use order.
func programSlots(p *Program) (slots [ndKinds][]int32, wide bool, anchors []byte) {
	add := func(nd *needle) {
		if nd.slot == keywordSlot && nd.kind == ndQuad && !bytes.Contains(anchors, []byte{nd.anchor}) {
			anchors = append(anchors, nd.anchor)
		}
		if (nd.kind == ndQuad || nd.kind == ndTri) && nd.grams[nd.n-1] == wideHash(nd.slot) {
			wide = true // a quadgram or trigram needle that checks the bit
		}
		list := &slots[nd.kind]
		for _, s := range *list {
			if s == nd.slot {
				return
			}
		}
		*list = append(*list, nd.slot)
	}
	if p.pf != nil {
		for _, c := range p.pf.clauses {
			for i := range c {
				add(&c[i])
			}
		}
	}
	walkFields(p.cond, func(f *fieldNode) {
		for i := range f.vals {
			if f.vals[i].nd.n > 0 {
				add(&f.vals[i].nd)
			}
		}
	})
	return slots, wide, anchors
}

// load indexes the event's fields by slot.
func (m *Matcher) load(ev *event.Event, ci *classInfo) {
	m.ev = ev
	n := ev.Len()
	m.occ = m.occ[:0]
	if cap(m.lowerVal) < n {
		m.lowerVal = make([]string, n)
		m.lowerDone = make([]uint8, n)
	}
	m.lowerVal = m.lowerVal[:n]
	m.lowerDone = m.lowerDone[:n]
	clear(m.lowerDone)
	size := 0
	for i := 0; i < n; i++ {
		size += len(ev.Bytes(i))
		name := ev.Name(i)
		var ns [2]int32
		if len(ci.aliases) == 0 {
			// Without aliases a name's slot does not depend on the class: a
			// small cache of the matcher's saves a map lookup.
			ns = [2]int32{m.ownSlot(name), -1}
		} else {
			var ok bool
			ns, ok = ci.nameSlots[name]
			if !ok {
				ns = [2]int32{m.e.ownSlot(name), -1}
				if id, ok := ci.aliases[strings.ToLower(name)]; ok && id != ns[0] {
					ns[1] = id
				}
				if len(ci.nameSlots) >= maxClassKeys {
					clear(ci.nameSlots) // field names chosen by the events
				}
				ci.nameSlots[name] = ns
			}
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

// ownSlot returns the slot of event field name (-1 if no rule reads it),
// through the matcher's cache.
func (m *Matcher) ownSlot(name string) int32 {
	if name == "" {
		return m.e.ownSlot(name)
	}
	var h uint64
	if len(name) >= 8 {
		h = load64(name, 0) ^ load64(name, len(name)-8)<<1
	} else {
		for i := 0; i < len(name); i++ {
			h = h<<8 | uint64(name[i])
		}
	}
	h = (h ^ uint64(len(name))) * 0x9e3779b97f4a7c15
	// Two places a name may be in; a new name replaces the older entry.
	i1, i2 := h>>(64-nameCacheBits), h>>(64-2*nameCacheBits)&(1<<nameCacheBits-1)
	e1, e2 := &m.names[i1], &m.names[i2]
	if e1.set && e1.name == name {
		return e1.slot
	}
	if e2.set && e2.name == name {
		return e2.slot
	}
	m.nameTick++
	e := e1
	if e2.tick < e1.tick {
		e = e2
	}
	*e = nameEntry{name: name, slot: m.e.ownSlot(name), set: true, tick: m.nameTick}
	return e.slot
}

const nameCacheBits = 9

type nameEntry struct {
	name string
	slot int32
	set  bool
	tick uint32 // when the entry was filled
}

// ownSlot returns the slot of event field name, -1 if no rule reads it.
func (e *Engine) ownSlot(name string) int32 {
	lname := strings.ToLower(name)
	if id, ok := e.fieldIDs[lname]; ok {
		return id
	}
	if strings.Contains(lname, " ") {
		// Defender and other providers name EventData fields with spaces
		// ("Threat Name"); Sigma rules write them without.
		if id, ok := e.fieldIDs[strings.ReplaceAll(lname, " ", "")]; ok {
			return id
		}
	}
	return -1
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
	if m.lowerDone[i] != 0 {
		return m.lowerVal[i]
	}
	s := m.ev.Value(int(i))
	n := len(s)
	ascii, upper := true, false
	k := 0
	for ; k+8 <= n; k += 8 {
		w := load64(s, k)
		if w&swarHigh != 0 {
			ascii = false
			break
		}
		upper = upper || upperBytes(w) != 0
	}
	for ; ascii && k < n; k++ {
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
		buf := m.lowerBuf[:start+n]
		dst := buf[start:]
		k := 0
		for ; k+8 <= n; k += 8 {
			w := load64(s, k)
			binary.LittleEndian.PutUint64(dst[k:], w|upperBytes(w)>>2)
		}
		for ; k < n; k++ {
			c := s[k]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			dst[k] = c
		}
		m.lowerBuf = buf
		out = unsafeString(dst)
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
	m.lowerDone[i] = lowerASCII
	if !ascii && !isASCII(out) {
		m.lowerDone[i] = lowerWide
	}
	return out
}

const (
	swarOnes = 0x0101010101010101
	swarHigh = 0x8080808080808080
)

// load64 reads 8 bytes of s from k, little-endian.
func load64(s string, k int) uint64 {
	s = s[k : k+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// upperBytes returns 0x80 in each byte of w (8 ASCII bytes) that is an
// upper-case letter, 0 in the others.
func upperBytes(w uint64) uint64 {
	ge := w + swarOnes*(0x80-'A')   // high bit set when the byte is >= 'A'
	gt := w + swarOnes*(0x80-'Z'-1) // high bit set when the byte is > 'Z'
	return ge &^ gt & swarHigh
}

const (
	lowerASCII = 1 + iota
	lowerWide
)

// wide reports whether the folded value of event field i has non-ASCII
// bytes.
func (m *Matcher) wide(i int32) bool {
	m.lower(i)
	return m.lowerDone[i] == lowerWide
}
