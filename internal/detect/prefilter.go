package detect

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

// prefilter is a program's necessary condition: at least one needle present.
// A nil prefilter means the program must always be evaluated.
type prefilter struct {
	needles []needle
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

// needles computes a necessary literal set for a condition node: ok is false
// when the node can match without any literal (then it cannot be
// prefiltered).
func needles(n cnode) (set []lit, ok bool) {
	switch n := n.(type) {
	case constNode:
		return nil, !bool(n)
	case *notNode, *existsNode:
		return nil, false
	case *andNode:
		// Any child's set is necessary; take the smallest, longest one.
		best, found := []lit(nil), false
		for _, k := range n.kids {
			s, ok := needles(k)
			if !ok {
				continue
			}
			if !found || better(s, best) {
				best, found = s, true
			}
		}
		return best, found
	case *orNode:
		var all []lit
		for _, k := range n.kids {
			s, ok := needles(k)
			if !ok {
				return nil, false
			}
			all = append(all, s...)
		}
		return all, true
	case *fieldNode:
		if n.field < 0 || n.neg {
			return nil, false
		}
		var out []lit
		for i := range n.vals {
			v := &n.vals[i]
			l, ok := valueLiteral(v)
			if !ok {
				if n.all {
					continue // another value of an "all" list may do
				}
				return nil, false
			}
			if n.all {
				// One value is enough: every value must match.
				if len(out) == 0 || len(l) > len(out[0].text) {
					out = []lit{{n.field, l}}
				}
				continue
			}
			out = append(out, lit{n.field, l})
		}
		if len(out) == 0 {
			return nil, false
		}
		return out, true
	}
	return nil, false
}

// valueLiteral returns a folded literal of at least 4 bytes that every
// value matched by v contains.
func valueLiteral(v *valueMatcher) (string, bool) {
	switch v.kind {
	case vkString:
		if v.str.cased {
			return "", false
		}
		l := v.str.literal()
		return l, len(l) >= 4
	case vkAnyOf:
		// Several forms: no single literal (the caller treats it as none).
		return "", false
	}
	return "", false
}

func better(a, b []lit) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return minLen(a) > minLen(b)
}

func minLen(s []lit) int {
	m := 1 << 30
	for _, l := range s {
		m = min(m, len(l.text))
	}
	return m
}

func buildPrefilter(cond cnode) *prefilter {
	set, ok := needles(cond)
	if !ok {
		return nil
	}
	pf := &prefilter{}
	for _, l := range set {
		pf.needles = append(pf.needles, makeNeedle(l.slot, l.text))
	}
	return pf
}

// gramSet is the bitset of hashed quadgrams of one event.
type gramSet [1 << (gramBits - 6)]uint64

func (g *gramSet) add(slot int32, s string) {
	for i := 0; i+4 <= len(s); i++ {
		h := gramHash(slot, quad(s, i))
		g[h>>6] |= 1 << (h & 63)
	}
}

func (g *gramSet) has(h uint32) bool { return g[h>>6]&(1<<(h&63)) != 0 }

// pass reports whether the event may match: some needle has all its grams.
func (pf *prefilter) pass(g *gramSet) bool {
	for i := range pf.needles {
		nd := &pf.needles[i]
		ok := true
		for _, h := range nd.grams[:nd.n] {
			if !g.has(h) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}
