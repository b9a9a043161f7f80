package evtx

// AppendXML appends the record's XML on one line, as Windows renders an
// event (wevtutil's /f:xml form), without a trailing newline.
func (r *Record) AppendXML(dst []byte) []byte {
	for _, i := range r.roots {
		if r.nodes[i].kind == nodeElement {
			dst = r.appendXMLElement(dst, i)
		}
	}
	return dst
}

func (r *Record) appendXMLElement(dst []byte, n int32) []byte {
	nd := &r.nodes[n]
	// An element whose whole content is one array substitution is written
	// once per item, as Windows renders it: <Data>a</Data><Data>b</Data>.
	if c := nd.first; c >= 0 && c == nd.last && r.nodes[c].kind == nodeText && r.nodes[c].p1 == r.nodes[c].p0+1 {
		if p := r.pieces[r.nodes[c].p0]; p.typ&TypeArray != 0 {
			arrayItems(p.typ, p.data, func(item []byte) {
				dst = append(dst, '<')
				dst = append(dst, nd.name...)
				for _, a := range r.attrs[nd.a0:nd.a1] {
					dst = append(dst, ' ')
					dst = append(dst, a.name...)
					dst = append(dst, '=', '"')
					dst = r.appendPieces(dst, a.p0, a.p1, optsXMLA)
					dst = append(dst, '"')
				}
				dst = append(dst, '>')
				dst = appendScalar(dst, p.typ&^TypeArray, item, optsXML)
				dst = append(dst, '<', '/')
				dst = append(dst, nd.name...)
				dst = append(dst, '>')
			})
			return dst
		}
	}
	dst = append(dst, '<')
	dst = append(dst, nd.name...)
	for _, a := range r.attrs[nd.a0:nd.a1] {
		dst = append(dst, ' ')
		dst = append(dst, a.name...)
		dst = append(dst, '=', '"')
		dst = r.appendPieces(dst, a.p0, a.p1, optsXMLA)
		dst = append(dst, '"')
	}
	if nd.first < 0 {
		return append(dst, '/', '>')
	}
	dst = append(dst, '>')
	for c := nd.first; c >= 0; c = r.nodes[c].next {
		t := &r.nodes[c]
		if t.kind == nodeElement {
			dst = r.appendXMLElement(dst, c)
			continue
		}
		for _, p := range r.pieces[t.p0:t.p1] {
			if p.typ == typeCDATA {
				dst = append(dst, "<![CDATA["...)
				dst = append(dst, p.str...)
				dst = append(dst, "]]>"...)
				continue
			}
			dst = appendPiece(dst, p, optsXML)
		}
	}
	dst = append(dst, '<', '/')
	dst = append(dst, nd.name...)
	return append(dst, '>')
}
