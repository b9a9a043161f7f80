package evtx

import "math/bits"

// JSON rendering in the layout the Rust evtx_dump tool made common:
//
//   - an element with only text becomes its value (a number for integer and
//     float substitutions, true/false for booleans, a string otherwise, an
//     array for array substitutions); an empty element becomes null;
//   - attributes go under "#attributes", and text beside attributes or child
//     elements under "#text";
//   - <Data Name="X">v</Data> becomes "X": v;
//   - elements repeated under one parent become an array under one key.

// AppendJSON appends the record as one JSON object, {"Event":{...}}, without
// a trailing newline.
func (r *Record) AppendJSON(dst []byte) []byte {
	dst = append(dst, '{')
	first := true
	for _, i := range r.roots {
		if r.nodes[i].kind != nodeElement {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, '"')
		dst = appendEscapedString(dst, r.nodes[i].name, escJSON)
		dst = append(dst, '"', ':')
		dst = r.appendJSONElement(dst, i, false)
	}
	return append(dst, '}')
}

// dataName returns the index of the Name attribute when n is a <Data>
// element keyed by it, or -1.
func (r *Record) dataName(n int32) int32 {
	nd := &r.nodes[n]
	if nd.name != "Data" {
		return -1
	}
	for i := nd.a0; i < nd.a1; i++ {
		if r.attrs[i].name == "Name" {
			return i
		}
	}
	return -1
}

// appendKey writes the JSON key (without quotes) of child element n.
func (r *Record) appendKey(dst []byte, n int32) []byte {
	if a := r.dataName(n); a >= 0 {
		at := &r.attrs[a]
		return r.appendPieces(dst, at.p0, at.p1, optsJSON)
	}
	return appendEscapedString(dst, r.nodes[n].name, escJSON)
}

func (r *Record) appendJSONElement(dst []byte, n int32, skipName bool) []byte {
	nd := &r.nodes[n]
	nattrs := 0
	for i := nd.a0; i < nd.a1; i++ {
		if skipName && r.attrs[i].name == "Name" {
			continue
		}
		nattrs++
	}
	hasChild, hasText := false, false
	for c := nd.first; c >= 0; c = r.nodes[c].next {
		if r.nodes[c].kind == nodeElement {
			hasChild = true
		} else {
			hasText = true
		}
	}
	if nattrs == 0 && !hasChild {
		if !hasText {
			return append(dst, "null"...)
		}
		return r.appendJSONText(dst, n)
	}
	dst = append(dst, '{')
	comma := false
	if nattrs > 0 {
		dst = append(dst, `"#attributes":{`...)
		for i := nd.a0; i < nd.a1; i++ {
			a := &r.attrs[i]
			if skipName && a.name == "Name" {
				continue
			}
			if comma {
				dst = append(dst, ',')
			}
			comma = true
			dst = append(dst, '"')
			dst = appendEscapedString(dst, a.name, escJSON)
			dst = append(dst, '"', ':')
			dst = r.appendJSONValue(dst, a.p0, a.p1)
		}
		dst = append(dst, '}')
		comma = true
	}
	if hasChild {
		dst = r.appendJSONChildren(dst, n, comma)
		comma = true
	}
	if hasText {
		if comma {
			dst = append(dst, ',')
		}
		dst = append(dst, `"#text":`...)
		dst = r.appendJSONText(dst, n)
	}
	return append(dst, '}')
}

// jsonKid is one child element during appendJSONChildren: its key and the
// chain of later siblings that share that key.
type jsonKid struct {
	key        string // the key, when it is written as is (k1 < 0)
	k0, k1     int32  // else the key rendered in Record.jkey[k0:k1]
	node       int32
	next, tail int32  // next kid (relative index) with the same key or -1; last of the chain (first kid only)
	fp         uint64 // fingerprint of the key (keyFP)
	dup        bool   // an earlier kid has the same key
	data       bool   // a <Data Name="..."> element, keyed by its Name
}

// appendJSONChildren writes the child elements of n as object members,
// grouping repeated keys into arrays in first-occurrence order.
//
// Each child's key is found once (an element name or a Name literal that
// needs no escaping is used as is; other keys are rendered into a scratch
// buffer of the record) and the children are grouped by key. The scratch
// slices are stacks, as children of children are written from inside this
// call.
func (r *Record) appendJSONChildren(dst []byte, n int32, comma bool) []byte {
	base, kbase := len(r.jkids), len(r.jkey)
	for c := r.nodes[n].first; c >= 0; c = r.nodes[c].next {
		nd := &r.nodes[c]
		if nd.kind != nodeElement {
			continue
		}
		kid := jsonKid{node: c, k1: -1, next: -1}
		if a := r.dataName(c); a >= 0 {
			kid.data = true
			at := &r.attrs[a]
			if p := &r.pieces[at.p0]; at.p1 == at.p0+1 && p.typ == typeLiteral && !needsJSONEscape(p.str) {
				kid.key = p.str
			} else {
				kid.k0 = int32(len(r.jkey))
				r.jkey = r.appendPieces(r.jkey, at.p0, at.p1, optsJSON)
				kid.k1 = int32(len(r.jkey))
			}
		} else if !needsJSONEscape(nd.name) {
			kid.key = nd.name
		} else {
			// An element name that needs escaping: its written key differs
			// from the name it is compared by; keep the general algorithm.
			r.jkids, r.jkey = r.jkids[:base], r.jkey[:kbase]
			return r.appendJSONChildrenSlow(dst, n, comma)
		}
		if kid.k1 < 0 {
			kid.fp = keyFP(kid.key)
		} else {
			kid.fp = keyFP(r.jkey[kid.k0:kid.k1])
		}
		r.jkids = append(r.jkids, kid)
	}
	r.groupKids(base)
	m := len(r.jkids) - base
	for i := 0; i < m; i++ {
		k := &r.jkids[base+i]
		if k.dup {
			continue
		}
		// Nested calls may grow (move) r.jkids: keep what is needed.
		node, data, next := k.node, k.data, k.next
		if comma {
			dst = append(dst, ',')
		}
		comma = true
		dst = append(dst, '"')
		if k.k1 < 0 {
			dst = append(dst, k.key...)
		} else {
			dst = append(dst, r.jkey[k.k0:k.k1]...)
		}
		dst = append(dst, '"', ':')
		if next < 0 {
			dst = r.appendJSONElement(dst, node, data)
			continue
		}
		dst = append(dst, '[')
		dst = r.appendJSONElement(dst, node, data)
		for j := next; j >= 0; {
			s := &r.jkids[base+int(j)]
			node, data, j = s.node, s.data, s.next
			dst = append(dst, ',')
			dst = r.appendJSONElement(dst, node, data)
		}
		dst = append(dst, ']')
	}
	r.jkids, r.jkey = r.jkids[:base], r.jkey[:kbase]
	return dst
}

// needsJSONEscape reports whether s changes when escaped for JSON.
func needsJSONEscape(s string) bool {
	tbl := &escTables[escJSON]
	for i := 0; i < len(s); i++ {
		if tbl[s[i]] {
			return true
		}
	}
	return false
}

// groupKids links the kids r.jkids[base:] with equal keys into chains and
// marks every kid but the first of each key as a duplicate.
func (r *Record) groupKids(base int) {
	kids := r.jkids[base:]
	m := len(kids)
	if m <= 32 {
		for i := range kids {
			kids[i].tail = int32(i)
			fp := kids[i].fp
			for h := 0; h < i; h++ {
				if kids[h].fp == fp && !kids[h].dup && r.sameKid(&kids[h], &kids[i]) {
					r.linkKid(kids, h, i)
					break
				}
			}
		}
		return
	}
	size := 64
	for size < 2*m {
		size <<= 1
	}
	if cap(r.jtab) < size {
		r.jtab = make([]int32, size)
	}
	tab := r.jtab[:size]
	for i := range tab {
		tab[i] = -1
	}
	mask := uint64(size - 1)
	for i := range kids {
		kids[i].tail = int32(i)
		for slot := (kids[i].fp * 0x9e3779b97f4a7c15 >> 32) & mask; ; slot = (slot + 1) & mask {
			h := tab[slot]
			if h < 0 {
				tab[slot] = int32(i)
				break
			}
			if r.sameKid(&kids[h], &kids[i]) {
				r.linkKid(kids, int(h), i)
				break
			}
		}
	}
}

func (r *Record) sameKid(a, b *jsonKid) bool {
	if a.fp != b.fp {
		return false
	}
	switch {
	case a.k1 < 0 && b.k1 < 0:
		return a.key == b.key
	case a.k1 < 0:
		return a.key == string(r.jkey[b.k0:b.k1])
	case b.k1 < 0:
		return string(r.jkey[a.k0:a.k1]) == b.key
	}
	return string(r.jkey[a.k0:a.k1]) == string(r.jkey[b.k0:b.k1])
}

// linkKid appends kid i to the chain of kid h, the first of its key.
func (r *Record) linkKid(kids []jsonKid, h, i int) {
	kids[i].dup = true
	kids[kids[h].tail].next = int32(i)
	kids[h].tail = int32(i)
}

// keyFP is a cheap fingerprint of a key: its length and its first and last
// eight bytes (keys such as SubjectUserName and SubjectUserSid share a
// prefix). Equal keys have equal fingerprints.
func keyFP[T string | []byte](b T) uint64 {
	n := len(b)
	if n >= 8 {
		first := load64(b)
		last := load64(b[n-8:])
		return first ^ bits.RotateLeft64(last, 29) ^ uint64(n)<<56
	}
	var v uint64
	for i := 0; i < n; i++ {
		v = v<<8 | uint64(b[i])
	}
	return v ^ uint64(n)<<56
}

// load64 reads eight bytes little-endian (len(b) >= 8).
func load64[T string | []byte](b T) uint64 {
	_ = b[7]
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}

// appendJSONChildrenSlow is the general form of appendJSONChildren, for
// children whose element names need escaping (hostile input only).
func (r *Record) appendJSONChildrenSlow(dst []byte, n int32, comma bool) []byte {
	var keyBuf [512]byte
	for c := r.nodes[n].first; c >= 0; c = r.nodes[c].next {
		if r.nodes[c].kind != nodeElement {
			continue
		}
		key := r.appendKey(keyBuf[:0], c)
		klen := len(key)
		// Skip if an earlier sibling had the same key: it was written as an array.
		seen := false
		for p := r.nodes[n].first; p != c; p = r.nodes[p].next {
			if r.nodes[p].kind == nodeElement && r.sameKey(p, key[:klen], keyBuf[klen:klen]) {
				seen = true
				break
			}
		}
		if seen {
			continue
		}
		// Count later siblings with the same key.
		dup := false
		for s := r.nodes[c].next; s >= 0; s = r.nodes[s].next {
			if r.nodes[s].kind == nodeElement && r.sameKey(s, key[:klen], keyBuf[klen:klen]) {
				dup = true
				break
			}
		}
		if comma {
			dst = append(dst, ',')
		}
		comma = true
		dst = append(dst, '"')
		dst = append(dst, key[:klen]...)
		dst = append(dst, '"', ':')
		if !dup {
			dst = r.appendJSONElement(dst, c, r.dataName(c) >= 0)
			continue
		}
		dst = append(dst, '[')
		dst = r.appendJSONElement(dst, c, r.dataName(c) >= 0)
		for s := r.nodes[c].next; s >= 0; s = r.nodes[s].next {
			if r.nodes[s].kind == nodeElement && r.sameKey(s, key[:klen], keyBuf[klen:klen]) {
				dst = append(dst, ',')
				dst = r.appendJSONElement(dst, s, r.dataName(s) >= 0)
			}
		}
		dst = append(dst, ']')
	}
	return dst
}

func (r *Record) sameKey(n int32, key []byte, scratch []byte) bool {
	if r.dataName(n) < 0 {
		return r.nodes[n].name == string(key)
	}
	k := r.appendKey(scratch, n)
	return string(k) == string(key)
}

// appendJSONText writes the text content of element n as a JSON value.
func (r *Record) appendJSONText(dst []byte, n int32) []byte {
	// A single typed piece keeps its type.
	var only *piece
	count := 0
	for c := r.nodes[n].first; c >= 0; c = r.nodes[c].next {
		t := &r.nodes[c]
		if t.kind != nodeText {
			continue
		}
		count += int(t.p1 - t.p0)
		if t.p1 > t.p0 {
			only = &r.pieces[t.p0]
		}
	}
	if count == 1 {
		return appendJSONPiece(dst, *only)
	}
	dst = append(dst, '"')
	start := len(dst)
	for c := r.nodes[n].first; c >= 0; c = r.nodes[c].next {
		if t := &r.nodes[c]; t.kind == nodeText {
			dst = r.appendPieces(dst, t.p0, t.p1, optsJSON)
		}
	}
	return append(trimJSONSpace(dst, start), '"')
}

// appendJSONValue writes an attribute value (pieces p0..p1) as a JSON value.
func (r *Record) appendJSONValue(dst []byte, p0, p1 int32) []byte {
	if p1 == p0+1 {
		return appendJSONPiece(dst, r.pieces[p0])
	}
	dst = append(dst, '"')
	start := len(dst)
	dst = r.appendPieces(dst, p0, p1, optsJSON)
	return append(trimJSONSpace(dst, start), '"')
}

func appendJSONPiece(dst []byte, p piece) []byte {
	switch {
	// A value shorter than its type renders as hex digits: quoted below.
	case (isNumeric(p.typ) || p.typ == TypeBool) && len(p.data) >= fixedSize(p.typ):
		return appendScalar(dst, p.typ, p.data, optsJSON)
	case p.typ&TypeArray != 0 && p.typ != TypeArray:
		et := p.typ &^ TypeArray
		dst = append(dst, '[')
		first := true
		arrayItems(p.typ, p.data, func(item []byte) {
			if !first {
				dst = append(dst, ',')
			}
			first = false
			if isNumeric(et) || et == TypeBool {
				dst = appendScalar(dst, et, item, optsJSON)
			} else {
				dst = append(dst, '"')
				dst = appendScalar(dst, et, item, optsJSON)
				dst = append(dst, '"')
			}
		})
		return append(dst, ']')
	}
	dst = append(dst, '"')
	start := len(dst)
	dst = appendPiece(dst, p, optsJSON)
	return append(trimJSONSpace(dst, start), '"')
}

// trimJSONSpace removes leading and trailing white space (space, and the
// escaped tab, newline and carriage return) from the JSON string content
// dst[start:], as evtx_dump does for string values.
func trimJSONSpace(dst []byte, start int) []byte {
	for {
		n := len(dst)
		switch {
		case n > start && dst[n-1] == ' ':
			dst = dst[:n-1]
			continue
		case n-2 >= start && dst[n-2] == '\\' && (dst[n-1] == 'n' || dst[n-1] == 'r' || dst[n-1] == 't'):
			// The backslash starts an escape only if an even number of
			// backslashes precede it.
			k := 0
			for i := n - 3; i >= start && dst[i] == '\\'; i-- {
				k++
			}
			if k%2 == 0 {
				dst = dst[:n-2]
				continue
			}
		}
		break
	}
	lead := 0
	for {
		i := start + lead
		if i < len(dst) && dst[i] == ' ' {
			lead++
			continue
		}
		if i+1 < len(dst) && dst[i] == '\\' && (dst[i+1] == 'n' || dst[i+1] == 'r' || dst[i+1] == 't') {
			lead += 2
			continue
		}
		break
	}
	if lead > 0 {
		n := copy(dst[start:], dst[start+lead:])
		dst = dst[:start+n]
	}
	return dst
}
