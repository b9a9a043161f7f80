package detect

import "math/bits"

// Prefiltering. Most events match no rule, so the matcher first checks, for
// each candidate program, a necessary condition that is much cheaper than
// the program: if the program matches, at least one of its "needles" (a
// literal that must occur in a given field) occurs. Needles are looked up in
// a bitset of the 4-byte substrings (quadgrams) of the event's case-folded
// values, hashed together with the field slot. Only programs with a needle
// present (or without needles) are evaluated. The bitset may report false
// positives, never false negatives, so results are exact.

const (
	gramBits = 15
	gramMask = 1<<gramBits - 1
	// needleGrams is how many quadgrams of a needle are checked (first,
	// middle, last): all must be present.
	needleGrams = 3
)

// needle is a literal that must occur in a slot's folded value.
type needle struct {
	slot  int32
	grams [needleGrams]uint32 // bit positions
	n     int                 // grams used
}

// prefilter is a program's necessary condition in conjunctive form: every
// clause must have at least one needle present. A nil prefilter means the
// program must always be evaluated.
type prefilter struct {
	clauses [][]needle
}

func gramHash(slot int32, g uint32) uint32 {
	h := (g ^ uint32(slot)*0x9e3779b1) * 0x85ebca6b
	h ^= h >> 15
	return h & gramMask
}

func quad(s string, i int) uint32 {
	return uint32(s[i]) | uint32(s[i+1])<<8 | uint32(s[i+2])<<16 | uint32(s[i+3])<<24
}

func makeNeedle(slot int32, lit string) needle {
	nd := needle{slot: slot}
	last := len(lit) - 4
	for _, i := range [needleGrams]int{0, last / 2, last} {
		g := gramHash(slot, quad(lit, i))
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

// lit is a candidate needle before hashing.
type lit struct {
	slot int32
	text string
}

// clause is a disjunction of literals: one must occur.
type clause []lit

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
		var any clause
		for i := range n.vals {
			l, ok := valueLiteral(&n.vals[i])
			if n.all {
				// Every value must match: each literal is a clause of its own.
				if ok {
					cnf = append(cnf, clause{{n.field, l}})
				}
				continue
			}
			if !ok {
				return nil, false
			}
			any = append(any, lit{n.field, l})
		}
		if n.all {
			return cnf, len(cnf) > 0
		}
		if len(any) == 0 {
			return nil, false
		}
		return []clause{any}, true
	}
	return nil, false
}

// valueLiteral returns a folded literal of at least 4 bytes that every
// value matched by v contains.
func valueLiteral(v *valueMatcher) (string, bool) {
	switch {
	case v.kind == vkRegexp:
		return v.reLit, validNeedle(v.reLit)
	case v.kind != vkString || v.str.cased:
		return "", false
	}
	l := v.str.literal()
	return l, len(l) >= 4
}

// bestClause picks the most selective clause: fewest literals, then longest
// shortest literal.
func bestClause(cnf []clause) clause {
	best := cnf[0]
	for _, c := range cnf[1:] {
		if len(c) < len(best) || (len(c) == len(best) && minLen(c) > minLen(best)) {
			best = c
		}
	}
	return best
}

func minLen(c clause) int {
	m := 1 << 30
	for _, l := range c {
		m = min(m, len(l.text))
	}
	return m
}

func buildPrefilter(cond cnode) *prefilter {
	cnf, ok := needles(cond)
	if !ok {
		return nil
	}
	pf := &prefilter{}
	for _, c := range cnf {
		var nds []needle
		for _, l := range c {
			nds = append(nds, makeNeedle(l.slot, l.text))
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

func (g *gramSet) add(slot int32, s string) {
	for i := 0; i+4 <= len(s); i++ {
		h := gramHash(slot, quad(s, i))
		g[h>>6] |= 1 << (h & 63)
	}
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
			if l, ok := valueLiteral(v); ok {
				v.nd = makeNeedle(f.field, l)
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
// (thousands in the process_creation class).
type invIndex struct {
	off     []uint32 // len 1<<gramBits + 1: entries[off[b]:off[b+1]] have first gram b
	entries []invEntry
}

type invEntry struct {
	prog int32 // index in the class's program list
	nd   *needle
}

func buildInvIndex(programs []*Program) *invIndex {
	counts := make([]uint32, 1<<gramBits+1)
	for _, p := range programs {
		if p.pf == nil || len(p.pf.clauses) == 0 {
			continue
		}
		for i := range p.pf.clauses[0] {
			counts[p.pf.clauses[0][i].grams[0]+1]++
		}
	}
	for i := 1; i < len(counts); i++ {
		counts[i] += counts[i-1]
	}
	inv := &invIndex{off: counts, entries: make([]invEntry, counts[len(counts)-1])}
	fill := make([]uint32, 1<<gramBits)
	copy(fill, counts[:1<<gramBits])
	for pi, p := range programs {
		if p.pf == nil || len(p.pf.clauses) == 0 {
			continue
		}
		for i := range p.pf.clauses[0] {
			nd := &p.pf.clauses[0][i]
			g := nd.grams[0]
			inv.entries[fill[g]] = invEntry{prog: int32(pi), nd: nd}
			fill[g]++
		}
	}
	return inv
}

// mark stamps sat[prog] = epoch for every program whose first clause has a
// needle with all its grams in g.
func (inv *invIndex) mark(g *gramSet, sat []uint32, epoch uint32) {
	for w, word := range g {
		for word != 0 {
			b := uint32(w)<<6 | uint32(bits.TrailingZeros64(word))
			word &= word - 1
			for _, e := range inv.entries[inv.off[b]:inv.off[b+1]] {
				if sat[e.prog] != epoch && e.nd.present(g) {
					sat[e.prog] = epoch
				}
			}
		}
	}
}
