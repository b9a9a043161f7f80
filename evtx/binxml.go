package evtx

import "encoding/binary"

// BinXML tokens (the 0x40 bit on some of them means "more data follows").
const (
	tokEOF            = 0x00
	tokOpenStart      = 0x01
	tokCloseStart     = 0x02
	tokCloseEmpty     = 0x03
	tokEnd            = 0x04
	tokValue          = 0x05
	tokAttr           = 0x06
	tokCDATA          = 0x07
	tokCharRef        = 0x08
	tokEntityRef      = 0x09
	tokPITarget       = 0x0a
	tokPIData         = 0x0b
	tokTemplate       = 0x0c
	tokNormalSubst    = 0x0d
	tokOptionalSubst  = 0x0e
	tokFragmentHeader = 0x0f
	tokMoreFlag       = 0x40
)

// Limits that bound the work and memory one record can cause, whatever the
// input. Real records are far below them.
const (
	maxElementDepth = 128
	maxNesting      = 12      // BinXML values inside BinXML values
	maxNodes        = 1 << 16 // nodes + pieces + attributes per record
	// maxValueBytes bounds the value bytes one record may reference (its
	// rendering is at most a small multiple of it). A record lives in one
	// 64 KiB chunk, so real records stay far below.
	maxValueBytes  = 1 << 20
	maxTemplateOps = 1 << 14
)

type opKind uint8

const (
	opOpen opKind = iota + 1
	opAttr
	opCloseStart
	opCloseEmpty
	opEnd
	opText
	opCharRef
	opEntityRef
	opCDATA
	opPITarget
	opPIData
	opSubst
	opTemplate
	opTextRef // text of a record's BinXML: UTF-16 in the chunk at v0..v1
)

// op is one step of a compiled BinXML fragment.
type op struct {
	kind     opKind
	optional bool
	vtype    ValueType
	idx      uint16
	num      uint32
	name     string
	tmpl     *template
	v0, v1   int32 // value range of a template instance in decoder.vals
}

// template is a compiled template definition.
type template struct {
	off uint32
	ops []op
	err error
}

// value is one substitution value of a template instance: a range of the
// chunk buffer and its type.
type value struct {
	typ  ValueType
	off  int32
	size int32
}

// decoder turns BinXML into a record tree. It keeps scratch slices across
// records of the same chunk.
type decoder struct {
	c    *Chunk
	r    *Record
	ops  []op
	vals []value

	// builder state
	stack    []int32 // open elements
	inStart  bool    // between element start and close-start
	curAttr  int32   // attribute receiving values, or -1
	attrNull bool    // current attribute received a null substitution
	openText int32   // text node receiving pieces, or -1
	budget   int
	// valueBytes counts the value bytes the record references so far.
	valueBytes int
	compiling  bool
}

func (d *decoder) reset(c *Chunk, r *Record) {
	d.c = c
	d.r = r
	d.ops = d.ops[:0]
	d.vals = d.vals[:0]
	d.stack = d.stack[:0]
	d.inStart = false
	d.curAttr = -1
	d.openText = -1
	d.budget = maxNodes
	d.valueBytes = 0
}

func (d *decoder) decodeRecord(start, end int) error {
	n, err := d.parse(start, end, &d.ops, 0)
	if err != nil {
		return err
	}
	_ = n
	if err := d.run(d.ops, nil, 0); err != nil {
		return err
	}
	if len(d.stack) != 0 {
		return bxErr(end, "%d element(s) not closed at the end of the record", len(d.stack))
	}
	if len(d.r.nodes) == 0 {
		return bxErr(start, "record holds no XML element")
	}
	return nil
}

// parse reads BinXML tokens from the chunk range [pos, end) into ops until
// an end-of-file token or the end of the range. It returns the offset after
// the last token read.
func (d *decoder) parse(pos, end int, ops *[]op, depth int) (int, error) {
	c := d.c
	b := c.buf
	le := binary.LittleEndian
	if end > len(b) {
		end = len(b)
	}
	need := func(n int) error {
		if pos+n > end {
			return bxErr(pos, "truncated token (need %d bytes, %d left)", n, end-pos)
		}
		return nil
	}
	// readName reads a name reference (4-byte chunk offset) at pos; when the
	// name is stored inline, it follows and is skipped.
	readName := func() (string, error) {
		if err := need(4); err != nil {
			return "", err
		}
		off := le.Uint32(b[pos:])
		pos += 4
		s, size, err := c.name(off)
		if err != nil {
			return "", err
		}
		if int(off) == pos {
			if pos+size > end {
				return "", bxErr(pos, "inline name runs past its data")
			}
			pos += size
		}
		return s, nil
	}
	readUTF16 := func() (string, error) {
		if err := need(2); err != nil {
			return "", err
		}
		n := int(le.Uint16(b[pos:]))
		pos += 2
		if err := need(2 * n); err != nil {
			return "", err
		}
		s := c.internUTF16(b[pos : pos+2*n])
		pos += 2 * n
		return s, nil
	}
	limitBase := 0
	if d.compiling {
		limitBase = len(*ops) // template ops share the chunk's arena
	}
	for pos < end {
		if len(*ops)-limitBase >= maxTemplateOps*4 {
			return pos, bxErr(pos, "too many tokens")
		}
		tok := b[pos]
		switch tok &^ tokMoreFlag {
		case tokEOF:
			return pos + 1, nil
		case tokFragmentHeader:
			if err := need(4); err != nil {
				return pos, err
			}
			pos += 4
		case tokOpenStart:
			// Element starts inside template definitions carry a 2-byte
			// dependency identifier; those in plain BinXML (records without
			// a template, BinXML values) do not. Take the layout whose name
			// reference is plausible, preferring the expected one.
			if err := need(9); err != nil {
				return pos, err
			}
			skip := 5 // token, data size
			alt := 7  // token, dependency id, data size
			if d.compiling {
				skip, alt = alt, skip
			}
			if !d.plausibleName(pos+skip, end) && d.plausibleName(pos+alt, end) {
				skip = alt
			}
			pos += skip
			name, err := readName()
			if err != nil {
				return pos, err
			}
			if tok&tokMoreFlag != 0 {
				if err := need(4); err != nil {
					return pos, err
				}
				pos += 4 // attribute list size
			}
			*ops = append(*ops, op{kind: opOpen, name: name})
		case tokCloseStart:
			pos++
			*ops = append(*ops, op{kind: opCloseStart})
		case tokCloseEmpty:
			pos++
			*ops = append(*ops, op{kind: opCloseEmpty})
		case tokEnd:
			pos++
			*ops = append(*ops, op{kind: opEnd})
		case tokValue:
			if err := need(2); err != nil {
				return pos, err
			}
			vt := ValueType(b[pos+1])
			pos += 2
			if vt != TypeString {
				return pos, bxErr(pos-1, "value token of type %#x (only strings are defined)", vt)
			}
			if !d.compiling {
				// Text of a record's own BinXML: keep it as a slice of the
				// chunk (rendered like a string substitution), no copy.
				if err := need(2); err != nil {
					return pos, err
				}
				n := int(le.Uint16(b[pos:]))
				pos += 2
				if err := need(2 * n); err != nil {
					return pos, err
				}
				*ops = append(*ops, op{kind: opTextRef, v0: int32(pos), v1: int32(pos + 2*n)})
				pos += 2 * n
				break
			}
			s, err := readUTF16()
			if err != nil {
				return pos, err
			}
			*ops = append(*ops, op{kind: opText, name: s})
		case tokAttr:
			pos++
			name, err := readName()
			if err != nil {
				return pos, err
			}
			*ops = append(*ops, op{kind: opAttr, name: name})
		case tokCDATA:
			pos++
			s, err := readUTF16()
			if err != nil {
				return pos, err
			}
			*ops = append(*ops, op{kind: opCDATA, name: s})
		case tokCharRef:
			if err := need(3); err != nil {
				return pos, err
			}
			*ops = append(*ops, op{kind: opCharRef, num: uint32(le.Uint16(b[pos+1:]))})
			pos += 3
		case tokEntityRef:
			pos++
			name, err := readName()
			if err != nil {
				return pos, err
			}
			*ops = append(*ops, op{kind: opEntityRef, name: name})
		case tokPITarget:
			pos++
			name, err := readName()
			if err != nil {
				return pos, err
			}
			*ops = append(*ops, op{kind: opPITarget, name: name})
		case tokPIData:
			pos++
			s, err := readUTF16()
			if err != nil {
				return pos, err
			}
			*ops = append(*ops, op{kind: opPIData, name: s})
		case tokNormalSubst, tokOptionalSubst:
			if err := need(4); err != nil {
				return pos, err
			}
			*ops = append(*ops, op{kind: opSubst, optional: tok == tokOptionalSubst, idx: le.Uint16(b[pos+1:]), vtype: ValueType(b[pos+3])})
			pos += 4
		case tokTemplate:
			if d.compiling {
				return pos, bxErr(pos, "template instance inside a template definition")
			}
			if err := need(10); err != nil {
				return pos, err
			}
			defOff := le.Uint32(b[pos+6:])
			pos += 10
			t, err := d.template(defOff, depth)
			if err != nil {
				return pos, err
			}
			if int(defOff) == pos {
				// The definition is stored inline: skip it.
				size := int(le.Uint32(b[pos+20:]))
				pos += 24 + size
				if pos > end {
					return pos, bxErr(int(defOff), "inline template definition runs past its data")
				}
			}
			if err := need(4); err != nil {
				return pos, err
			}
			n := int(le.Uint32(b[pos:]))
			pos += 4
			if n > (end-pos)/4 {
				return pos, bxErr(pos-4, "template instance declares %d values, more than its data can hold", n)
			}
			v0 := len(d.vals)
			dataPos := pos + 4*n
			for i := 0; i < n; i++ {
				size := int(le.Uint16(b[pos:]))
				vt := ValueType(b[pos+2])
				pos += 4
				if dataPos+size > end {
					return pos, bxErr(pos-4, "substitution value %d of %d bytes runs past the record", i, size)
				}
				d.vals = append(d.vals, value{typ: vt, off: int32(dataPos), size: int32(size)})
				dataPos += size
			}
			pos = dataPos
			*ops = append(*ops, op{kind: opTemplate, tmpl: t, v0: int32(v0), v1: int32(len(d.vals))})
		default:
			return pos, bxErr(pos, "unknown token %#02x", tok)
		}
	}
	return pos, nil
}

// plausibleName reports whether a name reference at chunk offset at points
// either inline (right after itself) or back to a name earlier in the chunk.
func (d *decoder) plausibleName(at, end int) bool {
	if at+4 > end {
		return false
	}
	off := int(binary.LittleEndian.Uint32(d.c.buf[at:]))
	if off == at+4 {
		return off+8 <= end
	}
	return off >= chunkHeaderSize && off < at && off+8 <= len(d.c.buf)
}

// template returns the compiled template whose definition is at chunk
// offset off, compiling it on first use.
func (d *decoder) template(off uint32, depth int) (*template, error) {
	c := d.c
	if t, ok := c.templates[off]; ok {
		return t, t.err
	}
	t := c.newTemplate(off)
	c.templates[off] = t
	if int(off)+24 > chunkSize || off < chunkHeaderSize {
		t.err = bxErr(int(off), "template definition offset outside the chunk")
		return t, t.err
	}
	size := int(binary.LittleEndian.Uint32(c.buf[off+20:]))
	start := int(off) + 24
	end := start + size
	if end > chunkSize {
		t.err = bxErr(int(off), "template definition of %d bytes runs past the chunk", size)
		return t, t.err
	}
	d.compiling = true
	mark := len(c.arena)
	_, err := d.parse(start, end, &c.arena, depth)
	d.compiling = false
	if err != nil {
		t.err = err
		c.arena = c.arena[:mark]
		return t, t.err
	}
	t.ops = c.arena[mark:len(c.arena):len(c.arena)]
	return t, t.err
}

// run instantiates ops with the given substitution values into the record
// tree.
func (d *decoder) run(ops []op, vals []value, depth int) error {
	if depth > maxNesting {
		return bxErr(0, "BinXML nested more than %d levels deep", maxNesting)
	}
	for i := range ops {
		o := &ops[i]
		var err error
		switch o.kind {
		case opOpen:
			err = d.open(o.name)
		case opAttr:
			err = d.attr(o.name)
		case opCloseStart:
			err = d.closeStart()
		case opCloseEmpty:
			if err = d.closeStart(); err == nil {
				err = d.end()
			}
		case opEnd:
			err = d.end()
		case opText:
			err = d.piece(piece{typ: typeLiteral, str: o.name})
		case opTextRef:
			err = d.piece(piece{typ: TypeString, data: d.c.buf[o.v0:o.v1]})
		case opCDATA:
			err = d.piece(piece{typ: typeCDATA, str: o.name})
		case opCharRef:
			err = d.piece(piece{typ: typeCharRef, num: o.num})
		case opEntityRef:
			err = d.piece(piece{typ: typeEntityRef, str: o.name})
		case opPITarget, opPIData:
			// Processing instructions carry no event data; they are skipped.
		case opSubst:
			if int(o.idx) >= len(vals) || o.optional && isNullValue(vals[o.idx]) {
				d.null()
				if o.optional {
					d.omitElement()
				}
				continue
			}
			err = d.subst(vals[o.idx], depth)
		case opTemplate:
			if o.tmpl == nil || o.tmpl.err != nil {
				return bxErr(0, "template instance without a usable definition")
			}
			err = d.run(o.tmpl.ops, d.vals[o.v0:o.v1], depth+1)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (d *decoder) subst(v value, depth int) error {
	c := d.c
	data := c.buf[v.off : v.off+v.size]
	switch {
	case v.typ == TypeNull:
		d.null()
		return nil
	case v.size == 0 && v.typ != TypeString && v.typ != TypeAnsiString:
		d.null()
		return nil
	case v.typ == TypeBinXML:
		if d.curAttr >= 0 {
			return d.piece(piece{typ: TypeBinary, data: data})
		}
		mark := len(d.ops)
		if _, err := d.parse(int(v.off), int(v.off+v.size), &d.ops, depth+1); err != nil {
			return err
		}
		nested := d.ops[mark:]
		err := d.run(nested, nil, depth+1)
		d.ops = d.ops[:mark]
		return err
	}
	return d.piece(piece{typ: v.typ, data: data})
}

// Tree building.

func (d *decoder) spend() error {
	d.budget--
	if d.budget < 0 {
		return errOverBudget()
	}
	return nil
}

// errOverBudget is out of line so that spend is inlined.
//
//go:noinline
func errOverBudget() error {
	return bxErr(0, "record expands to more than %d nodes", maxNodes)
}

func (d *decoder) open(name string) error {
	if err := d.spend(); err != nil {
		return err
	}
	if d.inStart {
		return bxErr(0, "element <%s> starts inside the start tag of another", name)
	}
	if len(d.stack) >= maxElementDepth {
		return bxErr(0, "elements nested more than %d deep", maxElementDepth)
	}
	r := d.r
	idx := int32(len(r.nodes))
	parent := int32(-1)
	if len(d.stack) > 0 {
		parent = d.stack[len(d.stack)-1]
	}
	r.nodes = append(r.nodes, node{kind: nodeElement, name: name, parent: parent, first: -1, last: -1, next: -1, a0: int32(len(r.attrs)), a1: int32(len(r.attrs))})
	r.link(parent, idx)
	d.stack = append(d.stack, idx)
	d.inStart = true
	d.curAttr = -1
	d.openText = -1
	return nil
}

func (d *decoder) attr(name string) error {
	if err := d.spend(); err != nil {
		return err
	}
	if !d.inStart || len(d.stack) == 0 {
		return bxErr(0, "attribute %q outside an element start tag", name)
	}
	d.finishAttr()
	r := d.r
	el := &r.nodes[d.stack[len(d.stack)-1]]
	if int(el.a1) != len(r.attrs) {
		return bxErr(0, "attribute %q is not contiguous with its element", name)
	}
	r.attrs = append(r.attrs, attr{name: name, p0: int32(len(r.pieces)), p1: int32(len(r.pieces))})
	el.a1++
	d.curAttr = int32(len(r.attrs) - 1)
	d.attrNull = false
	return nil
}

// finishAttr drops the current attribute when its only value was a null
// substitution (an optional attribute that is absent).
func (d *decoder) finishAttr() {
	if d.curAttr < 0 {
		return
	}
	r := d.r
	a := &r.attrs[d.curAttr]
	if a.p0 == a.p1 && d.attrNull && int(d.curAttr) == len(r.attrs)-1 {
		r.attrs = r.attrs[:d.curAttr]
		r.nodes[d.stack[len(d.stack)-1]].a1--
	}
	d.curAttr = -1
}

func (d *decoder) closeStart() error {
	if !d.inStart {
		return bxErr(0, "close of a start tag that is not open")
	}
	d.finishAttr()
	d.inStart = false
	return nil
}

func (d *decoder) end() error {
	if d.inStart {
		if err := d.closeStart(); err != nil {
			return err
		}
	}
	if len(d.stack) == 0 {
		return bxErr(0, "end of an element that is not open")
	}
	d.stack = d.stack[:len(d.stack)-1]
	d.openText = -1
	return nil
}

// isNullValue reports whether subst treats v as a null value.
func isNullValue(v value) bool {
	return v.typ == TypeNull || v.size == 0 && v.typ != TypeString && v.typ != TypeAnsiString
}

// omitElement detaches the element whose content holds an optional
// substitution with a null value: [MS-EVEN6] 3.1.4.7.2 omits that element
// from the rendering (an optional attribute is dropped by finishAttr). The
// element is the last child of its parent while it is open; the rest of its
// content is still decoded into the detached node.
func (d *decoder) omitElement() {
	if d.curAttr >= 0 || d.inStart || len(d.stack) == 0 {
		return
	}
	r := d.r
	n := d.stack[len(d.stack)-1]
	p := r.nodes[n].parent
	if p < 0 {
		for i, x := range r.roots {
			if x == n {
				r.roots = append(r.roots[:i], r.roots[i+1:]...)
				break
			}
		}
		return
	}
	if r.nodes[p].last != n {
		return // already detached
	}
	prev := int32(-1)
	for c := r.nodes[p].first; c >= 0 && c != n; c = r.nodes[c].next {
		prev = c
	}
	if prev < 0 {
		r.nodes[p].first = -1
	} else {
		r.nodes[prev].next = -1
	}
	r.nodes[p].last = prev
}

func (d *decoder) null() {
	if d.curAttr >= 0 {
		d.attrNull = true
	}
}

func (d *decoder) piece(p piece) error {
	if err := d.spend(); err != nil {
		return err
	}
	// A template may repeat one substitution many times: bound the bytes a
	// record can render, not only its number of values.
	d.valueBytes += len(p.data) + len(p.str)
	if d.valueBytes > maxValueBytes {
		return bxErr(0, "record expands to more than %d bytes of values", maxValueBytes)
	}
	r := d.r
	if d.curAttr >= 0 {
		a := &r.attrs[d.curAttr]
		if int(a.p1) != len(r.pieces) {
			return bxErr(0, "attribute value is not contiguous")
		}
		r.pieces = append(r.pieces, p)
		a.p1++
		return nil
	}
	if d.inStart {
		return bxErr(0, "value inside a start tag outside an attribute")
	}
	if d.openText >= 0 && int(r.nodes[d.openText].p1) == len(r.pieces) {
		r.pieces = append(r.pieces, p)
		r.nodes[d.openText].p1++
		return nil
	}
	parent := int32(-1)
	if len(d.stack) > 0 {
		parent = d.stack[len(d.stack)-1]
	}
	idx := int32(len(r.nodes))
	r.nodes = append(r.nodes, node{kind: nodeText, parent: parent, first: -1, last: -1, next: -1, p0: int32(len(r.pieces)), p1: int32(len(r.pieces) + 1)})
	r.pieces = append(r.pieces, p)
	r.link(parent, idx)
	d.openText = idx
	return nil
}
