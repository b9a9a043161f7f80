package detect

import (
	"math"
	"math/bits"
	"sort"
	"strings"
	"unicode/utf8"
)

// Prefiltering. Most events match no rule, so the matcher first checks, for
// each candidate program, a necessary condition that is much cheaper than
// the program: if the program matches, at least one of its "needles" (a
// literal that must occur in a given field) occurs. Needles are looked up in
// a bitset of hashes of the event's case-folded values, each hashed together
// with the field slot: their 4-byte substrings (quadgrams), and for the
// slots that need them their trigrams, bigrams and bytes (short literals),
// their whole values (eq needles) and whether they have non-ASCII bytes
// (non-ASCII literals). Only programs with a needle present (or without
// needles) are evaluated. The bitset may report false positives, never
// false negatives, so results are exact.

const (
	gramBits = 15
	gramMask = 1<<gramBits - 1
	// quadChecks is how many quadgrams of a needle are checked (first,
	// middle, last): all must be present.
	quadChecks = 3
	// needleGrams is the most bits a needle checks: its quadgrams and, for
	// a literal with non-ASCII bytes, the slot's "has non-ASCII" bit.
	needleGrams = quadChecks + 1
)

// needle is a literal that must occur in a slot's folded value.
type needle struct {
	slot   int32
	kind   needleKind
	anchor byte                // keyword quadgram needle: the byte its quadgrams start with
	grams  [needleGrams]uint32 // bit positions
	n      uint8               // grams used
}

type needleKind uint8

const (
	ndQuad needleKind = iota // a literal of 4 bytes or more: its quadgrams
	ndTri                    // a literal of 3 bytes: its trigram
	ndBi                     // an ASCII literal of 2 bytes: its bigram
	ndByte                   // an ASCII literal of 1 byte: the byte
	ndEq                     // a whole value, of any length: its hash
	ndWide                   // a short non-ASCII literal: the slot has a non-ASCII value
	ndKinds
)

// prefilter is a program's necessary condition in conjunctive form: every
// clause must have at least one needle present. A nil prefilter means the
// program must always be evaluated.
type prefilter struct {
	clauses [][]needle
}

// gramHash hashes a quadgram with its slot to a bit position (the top
// bits of a multiplicative hash).
func gramHash(slot int32, g uint32) uint32 {
	return (g ^ uint32(slot)*0x9e3779b1) * 0x85ebca6b >> (32 - gramBits)
}

// triHash hashes a trigram (3 bytes in the low 24 bits) with its slot.
func triHash(slot int32, g uint32) uint32 { return gramHash(slot, g|0xff<<24) }

// biHash hashes a bigram (2 bytes in the low 16 bits) with its slot.
func biHash(slot int32, g uint32) uint32 { return gramHash(slot, g|0xfefe<<16) }

// byteHash hashes one byte with its slot.
func byteHash(slot int32, b byte) uint32 { return gramHash(slot, uint32(b)|0xfdfdfd<<8) }

// wideHash is the bit of a slot that has a value with non-ASCII bytes.
func wideHash(slot int32) uint32 { return gramHash(slot, 0xffffffff) }

// eqHash hashes a whole folded value with its slot to two bit positions,
// for eq needles (one bit would let a needle in a long list of values pass
// too often).
func eqHash(slot int32, s string) (uint32, uint32) {
	h := uint32(2166136261) ^ (uint32(slot)+0x51ed27)*0x9e3779b1
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	h ^= uint32(len(s))
	h *= 0x85ebca6b
	h ^= h >> 13
	h *= 0xc2b2ae35
	h ^= h >> 16
	return h & gramMask, h >> (32 - gramBits)
}

func quad(s string, i int) uint32 {
	return uint32(s[i]) | uint32(s[i+1])<<8 | uint32(s[i+2])<<16 | uint32(s[i+3])<<24
}

func tri(s string, i int) uint32 {
	return uint32(s[i]) | uint32(s[i+1])<<8 | uint32(s[i+2])<<16
}

func makeNeedle(slot int32, l lit) needle {
	wide := !isASCII(l.text)
	switch {
	case l.eq:
		h1, h2 := eqHash(slot, l.text)
		nd := needle{slot: slot, kind: ndEq, grams: [needleGrams]uint32{h1, h2}, n: 2}
		if h1 == h2 {
			nd.n = 1
		}
		return nd
	case len(l.text) < 3 && wide:
		return needle{slot: slot, kind: ndWide, grams: [needleGrams]uint32{wideHash(slot)}, n: 1}
	case len(l.text) == 2:
		return needle{slot: slot, kind: ndBi, grams: [needleGrams]uint32{biHash(slot, uint32(l.text[0])|uint32(l.text[1])<<8)}, n: 1}
	case len(l.text) == 1:
		return needle{slot: slot, kind: ndByte, grams: [needleGrams]uint32{byteHash(slot, l.text[0])}, n: 1}
	case len(l.text) == 3:
		nd := needle{slot: slot, kind: ndTri, grams: [needleGrams]uint32{triHash(slot, tri(l.text, 0))}, n: 1}
		if wide {
			nd.grams[1] = wideHash(slot)
			nd.n++
		}
		return nd
	}
	nd := needle{slot: slot}
	last := len(l.text) - 4
	var grams [needleGrams]uint32
	if slot == keywordSlot {
		// Keyword needles look in every field of the event, which would
		// mean hashing every quadgram of the event; instead only quadgrams
		// that start with an anchor byte are hashed, and a needle checks
		// the quadgrams of its literal that start with its anchor, the
		// rarest byte it has where a quadgram can start.
		nd.anchor = anchorByte(l.text[:last+1])
		var at []int
		for i := 0; i <= last; i++ {
			if l.text[i] == nd.anchor {
				at = append(at, i)
			}
		}
		grams = [needleGrams]uint32{gramHash(slot, quad(l.text, at[0])), gramHash(slot, quad(l.text, at[len(at)/2])), gramHash(slot, quad(l.text, at[len(at)-1]))}
	} else {
		grams = [needleGrams]uint32{gramHash(slot, quad(l.text, 0)), gramHash(slot, quad(l.text, last/2)), gramHash(slot, quad(l.text, last))}
	}
	k := quadChecks
	if wide {
		grams[k] = wideHash(slot)
		k++
	}
	for _, g := range grams[:k] {
		dup := false
		for _, x := range nd.grams[:nd.n] {
			dup = dup || x == g
		}
		if !dup {
			nd.grams[nd.n] = g
			nd.n++
		}
	}
	return nd
}

// byteRank orders bytes from the most to the least frequent in folded
// event values (roughly: Windows logs); bytes not listed are rarer still.
const byteRank = " etaoinsr\\.0123456789lcdmhupfwgyb-/:_vk,x{}()=\"jqz"

// anchorByte returns the rarest byte of s by byteRank (the first of the
// rarest).
func anchorByte(s string) byte {
	best, bestRank := s[0], -1
	for i := 0; i < len(s); i++ {
		r := strings.IndexByte(byteRank, s[i])
		if r < 0 {
			r = len(byteRank)
		}
		if r > bestRank {
			best, bestRank = s[i], r
		}
	}
	return best
}

// lit is a candidate needle before hashing.
type lit struct {
	slot int32
	text string // folded; not empty unless eq
	eq   bool   // text is the whole value
}

// score estimates how often the literal occurs (lower: more selective):
// longer literals are rarer, and a whole value rarer than a substring.
func (l lit) score() float64 {
	n := len(l.text)
	if l.eq {
		n += 4
	}
	if !isASCII(l.text) {
		n += 2 // most values are ASCII
	}
	return math.Ldexp(1, -min(n-2, 40))
}

// clause is a disjunction of literals: one must occur.
type clause []lit

func (c clause) score() float64 {
	s := 0.0
	for _, l := range c {
		s += l.score()
	}
	return s
}

// needles computes necessary conditions for a node as clauses that must all
// hold (each a disjunction of literals). ok is false when the node can
// match without any literal (then it cannot be prefiltered).
func needles(n cnode) (cnf []clause, ok bool) {
	switch n := n.(type) {
	case constNode:
		if bool(n) {
			return nil, false
		}
		return []clause{{}}, true // never matches: an empty clause never passes
	case *notNode, *existsNode:
		return nil, false
	case *andNode:
		for _, k := range n.kids {
			if c, ok := needles(k); ok {
				cnf = append(cnf, c...)
			}
		}
		return cnf, len(cnf) > 0
	case *orNode:
		// Each alternative implies its best clause, so the disjunction
		// implies the union of those clauses.
		var union clause
		for _, k := range n.kids {
			c, ok := needles(k)
			if !ok {
				return nil, false
			}
			union = append(union, bestClause(c)...)
		}
		return []clause{union}, true
	case *fieldNode:
		if n.neg {
			return nil, false
		}
		if n.all {
			// Every value must match: each value's clauses hold.
			for i := range n.vals {
				if c, ok := valueClauses(n.field, &n.vals[i]); ok {
					cnf = append(cnf, c...)
				}
			}
			return cnf, len(cnf) > 0
		}
		if len(n.vals) == 1 {
			return valueClauses(n.field, &n.vals[0])
		}
		var any clause
		for i := range n.vals {
			c, ok := valueClauses(n.field, &n.vals[i])
			if !ok {
				return nil, false
			}
			any = append(any, bestClause(c)...)
		}
		return []clause{any}, true
	}
	return nil, false
}

// valueClauses returns the literals every value matched by v holds, as
// clauses that must all hold.
func valueClauses(slot int32, v *valueMatcher) ([]clause, bool) {
	switch v.kind {
	case vkRegexp:
		var cnf []clause
		for _, c := range v.reCNF {
			var cl clause
			for _, t := range c {
				cl = append(cl, lit{slot, t, false})
			}
			cnf = append(cnf, cl)
		}
		return cnf, len(cnf) > 0
	case vkAnyOf:
		var any clause
		for i := range v.alts {
			c, ok := valueClauses(slot, &v.alts[i])
			if !ok {
				return nil, false
			}
			any = append(any, bestClause(c)...)
		}
		return []clause{any}, len(v.alts) > 0
	}
	text, eq, ok := valueLiteral(v)
	if !ok || eq && slot < 0 {
		return nil, false
	}
	return []clause{{{slot, text, eq}}}, true
}

// valueLiteral returns a folded literal of at least 3 bytes that every
// value matched by v contains or, when eq is set, the folded value (of any
// length) that every value matched by v equals.
func valueLiteral(v *valueMatcher) (text string, eq, ok bool) {
	switch v.kind {
	case vkRegexp:
		return v.reLit, false, validRegexpNeedle(v.reLit)
	case vkString:
	default:
		return "", false, false
	}
	l := v.str.literal()
	if v.str.cased {
		// A case-sensitive literal folds like the value it occurs in when
		// it is ASCII (lower-casing maps each byte on its own).
		if !isASCII(l) {
			return "", false, false
		}
		l = asciiLower(l)
	}
	if v.str.op == opEq {
		return l, true, true
	}
	return l, false, validNeedle(l)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// bestClause picks the most selective clause (lowest score).
func bestClause(cnf []clause) clause {
	best := cnf[0]
	for _, c := range cnf[1:] {
		if c.score() < best.score() {
			best = c
		}
	}
	return best
}

func buildPrefilter(cond cnode) *prefilter {
	cnf, ok := needles(cond)
	if !ok {
		return nil
	}
	// Most selective clause first: the inverted index looks up the first.
	sort.SliceStable(cnf, func(i, j int) bool { return cnf[i].score() < cnf[j].score() })
	pf := &prefilter{}
	for _, c := range cnf {
		var nds []needle
		for _, l := range c {
			nds = append(nds, makeNeedle(l.slot, l))
		}
		pf.clauses = append(pf.clauses, nds)
	}
	return pf
}

// keywordSlot is the slot under which the quadgrams of every field of an
// event are hashed for keyword (field-less) needles.
const keywordSlot = -1

// gramSet is the bitset of hashed quadgrams of one event.
type gramSet [1 << (gramBits - 6)]uint64

// add, addTri and addAnchored compute gramHash and triHash inline, with the
// slot's part hoisted and the string consumed from the front so that the
// compiler drops the bounds checks: they hash every byte of every value a
// prefilter reads (TestGramLoops checks they set the same bits).

func (g *gramSet) add(slot int32, s string) {
	salt := uint32(slot) * 0x9e3779b1
	for ; len(s) >= 4; s = s[1:] {
		q := uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24
		h := (q ^ salt) * 0x85ebca6b >> (32 - gramBits)
		g[h>>6] |= 1 << (h & 63)
	}
}

func (g *gramSet) addTri(slot int32, s string) {
	salt := uint32(slot) * 0x9e3779b1
	for ; len(s) >= 3; s = s[1:] {
		q := uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | 0xff<<24
		h := (q ^ salt) * 0x85ebca6b >> (32 - gramBits)
		g[h>>6] |= 1 << (h & 63)
	}
}

// addAnchored adds the quadgrams of s that start with a byte of anchors.
func (g *gramSet) addAnchored(slot int32, s string, anchors *[256]bool) {
	salt := uint32(slot) * 0x9e3779b1
	for ; len(s) >= 4; s = s[1:] {
		if anchors[s[0]] {
			q := uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24
			h := (q ^ salt) * 0x85ebca6b >> (32 - gramBits)
			g[h>>6] |= 1 << (h & 63)
		}
	}
}

func (g *gramSet) addBi(slot int32, s string) {
	for i := 0; i+2 <= len(s); i++ {
		h := biHash(slot, uint32(s[i])|uint32(s[i+1])<<8)
		g[h>>6] |= 1 << (h & 63)
	}
}

func (g *gramSet) addBytes(slot int32, s string) {
	for i := 0; i < len(s); i++ {
		h := byteHash(slot, s[i])
		g[h>>6] |= 1 << (h & 63)
	}
}

func (g *gramSet) setWide(slot int32) {
	h := wideHash(slot)
	g[h>>6] |= 1 << (h & 63)
}

func (g *gramSet) addEq(slot int32, s string) {
	h1, h2 := eqHash(slot, s)
	g[h1>>6] |= 1 << (h1 & 63)
	g[h2>>6] |= 1 << (h2 & 63)
}

func (g *gramSet) has(h uint32) bool { return g[h>>6]&(1<<(h&63)) != 0 }

// pass reports whether the event may match: every clause has a needle
// whose grams are all present.
func (pf *prefilter) pass(g *gramSet) bool {
	for _, c := range pf.clauses {
		if !clausePasses(c, g) {
			return false
		}
	}
	return true
}

func clausePasses(c []needle, g *gramSet) bool {
	for i := range c {
		if c[i].present(g) {
			return true
		}
	}
	return false
}

// present reports whether all of the needle's grams are in the set.
func (nd *needle) present(g *gramSet) bool {
	for _, h := range nd.grams[:nd.n] {
		if !g.has(h) {
			return false
		}
	}
	return true
}

// presentRest is present without the first gram, for a needle found by
// that gram's bit.
func (nd *needle) presentRest(g *gramSet) bool {
	for i := 1; i < int(nd.n) && i < len(nd.grams); i++ {
		if !g.has(nd.grams[i]) {
			return false
		}
	}
	return true
}

// walkFields calls fn for every field node of a condition tree.
func walkFields(n cnode, fn func(*fieldNode)) {
	switch x := n.(type) {
	case *andNode:
		for _, k := range x.kids {
			walkFields(k, fn)
		}
	case *orNode:
		for _, k := range x.kids {
			walkFields(k, fn)
		}
	case *notNode:
		walkFields(x.x, fn)
	case *fieldNode:
		fn(x)
	}
}

// attachNeedles gives each plain string value of a field node the needle
// of its literal, so evaluation can skip values whose literal is absent.
func attachNeedles(f *fieldNode) {
	var set func(v *valueMatcher)
	set = func(v *valueMatcher) {
		switch v.kind {
		case vkString, vkRegexp:
			if l, eq, ok := valueLiteral(v); ok && !(eq && f.field < 0) {
				v.nd = makeNeedle(f.field, lit{f.field, l, eq})
			}
		case vkAnyOf:
			for i := range v.alts {
				set(&v.alts[i])
			}
		}
	}
	for i := range f.vals {
		set(&f.vals[i])
	}
}

// passRest checks every clause but the first (which the inverted index
// already checked).
func (pf *prefilter) passRest(g *gramSet) bool {
	for _, c := range pf.clauses[1:] {
		if !clausePasses(c, g) {
			return false
		}
	}
	return true
}

// invMinPrograms is the class size from which the inverted index pays.
const invMinPrograms = 64

// invIndex maps each quadgram bit to the first-clause needles whose first
// gram it is, so that a matcher finds the programs whose first clause holds
// by walking the event's set bits rather than every program's needles
// (thousands in the process_creation class). It is compact, to stay in
// cache: a bitmap of the bits that have needles, ANDed with the event's
// set, and the needles of the n-th such bit at entries[start[n]:start[n+1]]
// (n counted with the bitmap's population counts).
type invIndex struct {
	always  []uint64 // per program: it has no prefilter
	has     gramSet
	base    [len(gramSet{})]uint32 // indexed bits in the words before
	start   []uint32
	entries []invEntry
}

type invEntry struct {
	prog int32 // index in the class's program list
	nd   needle
}

func buildInvIndex(programs []*Program) *invIndex {
	counts := make([]uint32, 1<<gramBits)
	inv := &invIndex{always: make([]uint64, (len(programs)+63)/64)}
	for i, p := range programs {
		if p.pf == nil {
			inv.always[i>>6] |= 1 << (i & 63)
		}
		if p.pf == nil || len(p.pf.clauses) == 0 {
			continue
		}
		for i := range p.pf.clauses[0] {
			g := p.pf.clauses[0][i].grams[0]
			counts[g]++
			inv.has[g>>6] |= 1 << (g & 63)
		}
	}
	// start[rank] for each indexed bit, in bit order.
	n := uint32(0)
	for w := range inv.has {
		inv.base[w] = uint32(len(inv.start))
		for word := inv.has[w]; word != 0; word &= word - 1 {
			b := uint32(w)<<6 | uint32(bits.TrailingZeros64(word))
			inv.start = append(inv.start, n)
			n += counts[b]
			counts[b] = inv.start[len(inv.start)-1] // fill position
		}
	}
	inv.start = append(inv.start, n)
	inv.entries = make([]invEntry, n)
	for pi, p := range programs {
		if p.pf == nil || len(p.pf.clauses) == 0 {
			continue
		}
		for i := range p.pf.clauses[0] {
			nd := p.pf.clauses[0][i]
			g := nd.grams[0]
			inv.entries[counts[g]] = invEntry{prog: int32(pi), nd: nd}
			counts[g]++
		}
	}
	return inv
}

// mark sets the bit of every program whose first clause has a needle with
// all its grams in g (the first is: it is the bit being visited).
func (inv *invIndex) mark(g *gramSet, cand []uint64) {
	for w := range g {
		has := inv.has[w]
		word := g[w] & has
		for word != 0 {
			bit := uint(bits.TrailingZeros64(word))
			word &= word - 1
			r := inv.base[w] + uint32(bits.OnesCount64(has&(1<<bit-1)))
			for i := inv.start[r]; i < inv.start[r+1]; i++ {
				e := &inv.entries[i]
				if cand[e.prog>>6]&(1<<(e.prog&63)) == 0 && e.nd.presentRest(g) {
					cand[e.prog>>6] |= 1 << (e.prog & 63)
				}
			}
		}
	}
}
