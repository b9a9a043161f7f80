package evtx

import (
	"encoding/binary"
	"strconv"
	"time"
)

const (
	nodeElement uint8 = iota + 1
	nodeText
)

type node struct {
	kind                      uint8
	name                      string
	parent, first, last, next int32
	a0, a1                    int32 // attributes
	p0, p1                    int32 // pieces of a text node
}

type attr struct {
	name   string
	p0, p1 int32
}

// Record is one decoded event record. Its tree of elements, attributes and
// values refers to the buffer of the [Chunk] it came from and is valid until
// that chunk is reused.
type Record struct {
	ID      uint64    // event record identifier
	Written time.Time // time the record was written (record header)
	Offset  int64     // absolute file offset of the record

	chunk  *Chunk
	nodes  []node
	attrs  []attr
	pieces []piece
	roots  []int32

	// JSON rendering scratch, reused from record to record.
	jkids []jsonKid
	jkey  []byte
	jtab  []int32

	// Field names rendered from substitutions (<Data Name="%1">), interned
	// from record to record: AppendFields then allocates no name.
	fnames   map[string]string
	fnameBuf []byte
}

func (r *Record) reset() {
	r.nodes = r.nodes[:0]
	r.attrs = r.attrs[:0]
	r.pieces = r.pieces[:0]
	r.roots = r.roots[:0]
}

func (r *Record) link(parent, idx int32) {
	if parent < 0 {
		r.roots = append(r.roots, idx)
		return
	}
	p := &r.nodes[parent]
	if p.last < 0 {
		p.first = idx
	} else {
		r.nodes[p.last].next = idx
	}
	p.last = idx
}

// Node identifies an element of a record; -1 means none.
type Node int32

// Root returns the record's first top-level element (normally <Event>).
func (r *Record) Root() Node {
	for _, i := range r.roots {
		if r.nodes[i].kind == nodeElement {
			return Node(i)
		}
	}
	return -1
}

// Name returns the element's name.
func (r *Record) Name(n Node) string {
	if n < 0 {
		return ""
	}
	return r.nodes[n].name
}

// FirstChild returns the first child element of n, or -1.
func (r *Record) FirstChild(n Node) Node {
	if n < 0 {
		return -1
	}
	return r.nextElement(r.nodes[n].first)
}

// NextSibling returns the next sibling element of n, or -1.
func (r *Record) NextSibling(n Node) Node {
	if n < 0 {
		return -1
	}
	return r.nextElement(r.nodes[n].next)
}

func (r *Record) nextElement(i int32) Node {
	for i >= 0 && r.nodes[i].kind != nodeElement {
		i = r.nodes[i].next
	}
	return Node(i)
}

// Child returns the first child element of n with the given name, or -1.
func (r *Record) Child(n Node, name string) Node {
	for c := r.FirstChild(n); c >= 0; c = r.NextSibling(c) {
		if r.nodes[c].name == name {
			return c
		}
	}
	return -1
}

// Attrs calls fn for each attribute of n with its name and value rendered
// as plain text (the value slice is only valid during the call).
func (r *Record) Attrs(n Node, fn func(name string, value []byte)) {
	if n < 0 {
		return
	}
	var buf [128]byte
	nd := &r.nodes[n]
	for _, a := range r.attrs[nd.a0:nd.a1] {
		fn(a.name, r.appendPieces(buf[:0], a.p0, a.p1, optsPlain))
	}
}

// AppendAttr appends the plain-text value of n's attribute name to dst and
// reports whether the attribute exists.
func (r *Record) AppendAttr(dst []byte, n Node, name string) ([]byte, bool) {
	if n < 0 {
		return dst, false
	}
	nd := &r.nodes[n]
	for _, a := range r.attrs[nd.a0:nd.a1] {
		if a.name == name {
			return r.appendPieces(dst, a.p0, a.p1, optsPlain), true
		}
	}
	return dst, false
}

// Attr returns the plain-text value of n's attribute name.
func (r *Record) Attr(n Node, name string) (string, bool) {
	var buf [128]byte
	b, ok := r.AppendAttr(buf[:0], n, name)
	return string(b), ok
}

// AppendText appends the plain text directly inside element n (not that of
// its child elements) to dst.
func (r *Record) AppendText(dst []byte, n Node) []byte {
	if n < 0 {
		return dst
	}
	for i := r.nodes[n].first; i >= 0; i = r.nodes[i].next {
		if t := &r.nodes[i]; t.kind == nodeText {
			dst = r.appendPieces(dst, t.p0, t.p1, optsPlain)
		}
	}
	return dst
}

// Text returns the plain text directly inside element n.
func (r *Record) Text(n Node) string {
	var buf [256]byte
	return string(r.AppendText(buf[:0], n))
}

func (r *Record) appendPieces(dst []byte, p0, p1 int32, o renderOpts) []byte {
	for _, p := range r.pieces[p0:p1] {
		dst = appendPiece(dst, p, o)
	}
	return dst
}

// appendPiece renders one piece as text (arrays as comma-separated items).
func appendPiece(dst []byte, p piece, o renderOpts) []byte {
	switch p.typ {
	case typeLiteral, typeCDATA:
		return appendEscapedString(dst, p.str, o.esc)
	case typeCharRef:
		if o.esc == escXMLText || o.esc == escXMLAttr {
			dst = append(dst, '&', '#')
			dst = strconv.AppendUint(dst, uint64(p.num), 10)
			return append(dst, ';')
		}
		var tmp [4]byte
		return appendEscapedString(dst, string(appendRune(tmp[:0], rune(p.num))), o.esc)
	case typeEntityRef:
		if o.esc == escXMLText || o.esc == escXMLAttr {
			dst = append(dst, '&')
			dst = append(dst, p.str...)
			return append(dst, ';')
		}
		return appendEscapedString(dst, entityText(p.str), o.esc)
	}
	if p.typ&TypeArray != 0 {
		first := true
		arrayItems(p.typ, p.data, func(item []byte) {
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = appendScalar(dst, p.typ&^TypeArray, item, o)
		})
		return dst
	}
	return appendScalar(dst, p.typ, p.data, o)
}

func appendRune(dst []byte, r rune) []byte {
	if r == 0 || r > 0x10ffff || (r >= 0xd800 && r < 0xe000) {
		r = 0xfffd
	}
	return append(dst, string(r)...)
}

func entityText(name string) string {
	switch name {
	case "amp":
		return "&"
	case "lt":
		return "<"
	case "gt":
		return ">"
	case "quot":
		return "\""
	case "apos":
		return "'"
	}
	return "&" + name + ";"
}

// System holds the fields of a record's <System> element.
type System struct {
	ProviderName      string
	ProviderGUID      string // upper case, no braces
	EventSourceName   string
	EventID           uint32
	Qualifiers        uint32
	HasQualifiers     bool
	Version           uint8
	Level             uint8
	Task              uint16
	Opcode            uint8
	Keywords          uint64
	TimeCreated       time.Time
	RecordID          uint64
	ActivityID        string
	RelatedActivityID string
	ProcessID         uint32
	ThreadID          uint32
	Channel           string
	Computer          string
	UserID            string // Security UserID (a SID)
}

// System decodes the record's <System> element.
func (r *Record) System() System {
	var s System
	sys := r.Child(r.Root(), "System")
	var buf []byte
	num := func(n Node) uint64 {
		buf = r.AppendText(buf[:0], n)
		return parseUint(buf)
	}
	for c := r.FirstChild(sys); c >= 0; c = r.NextSibling(c) {
		switch r.nodes[c].name {
		case "Provider":
			s.ProviderName, _ = r.Attr(c, "Name")
			s.ProviderGUID, _ = r.Attr(c, "Guid")
			s.EventSourceName, _ = r.Attr(c, "EventSourceName")
		case "EventID":
			s.EventID = uint32(num(c))
			if q, ok := r.AppendAttr(buf[:0], c, "Qualifiers"); ok {
				s.Qualifiers, s.HasQualifiers = uint32(parseUint(q)), true
			}
		case "Version":
			s.Version = uint8(num(c))
		case "Level":
			s.Level = uint8(num(c))
		case "Task":
			s.Task = uint16(num(c))
		case "Opcode":
			s.Opcode = uint8(num(c))
		case "Keywords":
			s.Keywords = num(c)
		case "TimeCreated":
			s.TimeCreated = r.timeAttr(c, "SystemTime")
		case "EventRecordID":
			s.RecordID = num(c)
		case "Correlation":
			s.ActivityID, _ = r.Attr(c, "ActivityID")
			s.RelatedActivityID, _ = r.Attr(c, "RelatedActivityID")
		case "Execution":
			b, _ := r.AppendAttr(buf[:0], c, "ProcessID")
			s.ProcessID = uint32(parseUint(b))
			b, _ = r.AppendAttr(b[:0], c, "ThreadID")
			s.ThreadID = uint32(parseUint(b))
		case "Channel":
			s.Channel = r.Text(c)
		case "Computer":
			s.Computer = r.Text(c)
		case "Security":
			s.UserID, _ = r.Attr(c, "UserID")
		}
	}
	return s
}

// timeAttr returns a FILETIME or SYSTEMTIME attribute as time.
func (r *Record) timeAttr(n Node, name string) time.Time {
	nd := &r.nodes[n]
	for _, a := range r.attrs[nd.a0:nd.a1] {
		if a.name != name || a.p1 != a.p0+1 {
			continue
		}
		p := r.pieces[a.p0]
		switch {
		case p.typ == TypeFileTime && len(p.data) == 8:
			return filetimeToTime(binary.LittleEndian.Uint64(p.data))
		case p.typ == TypeSysTime && len(p.data) == 16:
			u := func(i int) int { return int(binary.LittleEndian.Uint16(p.data[2*i:])) }
			return time.Date(u(0), time.Month(u(1)), u(3), u(4), u(5), u(6), u(7)*1e6, time.UTC)
		default:
			var buf [64]byte
			t, err := time.Parse(time.RFC3339Nano, string(appendPiece(buf[:0], p, optsPlain)))
			if err == nil {
				return t
			}
		}
	}
	return time.Time{}
}

// parseUint parses decimal or 0x-prefixed hexadecimal text; 0 on error.
func parseUint(b []byte) uint64 {
	if len(b) > 2 && b[0] == '0' && (b[1] == 'x' || b[1] == 'X') {
		v, _ := strconv.ParseUint(string(b[2:]), 16, 64)
		return v
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0
		}
		v = v*10 + uint64(c-'0')
	}
	return v
}

// EventData calls fn for each field of the record's <EventData> or
// <UserData> element: a <Data Name="X">v</Data> gives ("X", v); a child
// element without a Name attribute gives its element name; nested elements
// (UserData) give their leaf names. The value slice is only valid during the
// call; returning false stops the walk.
func (r *Record) EventData(fn func(name string, value []byte) bool) {
	root := r.Root()
	var buf, nbuf []byte
	var walk func(n Node) bool
	walk = func(n Node) bool {
		for c := r.FirstChild(n); c >= 0; c = r.NextSibling(c) {
			if r.FirstChild(c) >= 0 {
				if !walk(c) {
					return false
				}
				continue
			}
			name := r.nodes[c].name
			if nb, ok := r.AppendAttr(nbuf[:0], c, "Name"); ok {
				nbuf = nb
				name = string(nb)
			}
			buf = r.AppendText(buf[:0], c)
			if !fn(name, buf) {
				return false
			}
		}
		return true
	}
	if ed := r.Child(root, "EventData"); ed >= 0 {
		if !walk(ed) {
			return
		}
	}
	if ud := r.Child(root, "UserData"); ud >= 0 {
		walk(ud)
	}
}
