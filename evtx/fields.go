package evtx

// Flat field names of the <System> element, as Sigma rules and the hunting
// tools that read them name these values.
const (
	FieldProviderName      = "Provider_Name"
	FieldProviderGUID      = "Provider_Guid"
	FieldEventSourceName   = "EventSourceName"
	FieldEventID           = "EventID"
	FieldQualifiers        = "Qualifiers"
	FieldVersion           = "Version"
	FieldLevel             = "Level"
	FieldTask              = "Task"
	FieldOpcode            = "Opcode"
	FieldKeywords          = "Keywords"
	FieldTimeCreated       = "TimeCreated"
	FieldEventRecordID     = "EventRecordID"
	FieldActivityID        = "ActivityID"
	FieldRelatedActivityID = "RelatedActivityID"
	FieldProcessID         = "Execution_ProcessID"
	FieldThreadID          = "Execution_ThreadID"
	FieldChannel           = "Channel"
	FieldComputer          = "Computer"
	FieldUserID            = "UserID"
)

// trimSpace trims ASCII white space around a value, as the JSON rendering
// does (and as the evtx_dump layout that rule authors test with has it).
func trimSpace(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// AppendFields flattens the record into named text fields and calls fn for
// each: first the <System> values under the Field* names above, then every
// field of <EventData> (<Data Name="X">v</Data> as X, an unnamed <Data> as
// "Data", <Binary> as "Binary") and of <UserData> (leaf elements by name,
// nested elements walked). Values are rendered as plain text, trimmed of surrounding white space, into scratch,
// which is returned for reuse; a value is only valid during its call.
func (r *Record) AppendFields(scratch []byte, fn func(name string, value []byte)) []byte {
	return r.AppendFieldsTyped(scratch, func(name string, value []byte, _ bool) { fn(name, value) })
}

// FieldFunc receives a field of AppendFieldsTyped. scalar is true when the
// value is one substitution value of a type that is not text: a number, a
// boolean, a GUID, a time, a SID or a hex integer (arrays of those too).
type FieldFunc func(name string, value []byte, scalar bool)

// AppendFieldsTyped is AppendFields that also tells which values the
// record typed as scalars, so that a reader looking for text (addresses,
// domains, hashes) can pass them by without reading them.
func (r *Record) AppendFieldsTyped(scratch []byte, fn FieldFunc) []byte {
	root := r.Root()
	if root < 0 {
		return scratch
	}
	for c := r.nodes[root].first; c >= 0; c = r.nodes[c].next {
		n := &r.nodes[c]
		if n.kind != nodeElement {
			continue
		}
		switch n.name {
		case "System":
			scratch = r.systemFields(Node(c), scratch, fn)
		case "EventData", "UserData":
			scratch = r.dataFields(Node(c), scratch, fn)
		}
	}
	return scratch
}

// isScalar reports whether a substitution value of type t renders as
// something other than text.
func isScalar(t ValueType) bool {
	switch t &^ TypeArray {
	case TypeInt8, TypeUint8, TypeInt16, TypeUint16, TypeInt32, TypeUint32,
		TypeInt64, TypeUint64, TypeReal32, TypeReal64, TypeBool, TypeGUID,
		TypeSizeT, TypeFileTime, TypeSysTime, TypeSID, TypeHex32, TypeHex64:
		return true
	}
	return false
}

// scalarPieces reports whether pieces p0..p1 are one scalar value.
func (r *Record) scalarPieces(p0, p1 int32) bool {
	return p1 == p0+1 && isScalar(r.pieces[p0].typ)
}

// scalarText reports whether the text of element n is one scalar value.
func (r *Record) scalarText(n Node) bool {
	found := false
	for i := r.nodes[n].first; i >= 0; i = r.nodes[i].next {
		if t := &r.nodes[i]; t.kind == nodeText {
			if found || !r.scalarPieces(t.p0, t.p1) {
				return false
			}
			found = true
		}
	}
	return found
}

func (r *Record) systemFields(sys Node, scratch []byte, fn FieldFunc) []byte {
	for c := r.nodes[sys].first; c >= 0; c = r.nodes[c].next {
		n := &r.nodes[c]
		if n.kind != nodeElement {
			continue
		}
		switch n.name {
		case "Provider":
			scratch = r.attrField(n, "Name", FieldProviderName, scratch, fn)
			scratch = r.attrField(n, "Guid", FieldProviderGUID, scratch, fn)
			scratch = r.attrField(n, "EventSourceName", FieldEventSourceName, scratch, fn)
		case "EventID":
			scratch = r.AppendText(scratch[:0], Node(c))
			fn(FieldEventID, trimSpace(scratch), r.scalarText(Node(c)))
			scratch = r.attrField(n, "Qualifiers", FieldQualifiers, scratch, fn)
		case "TimeCreated":
			scratch = r.attrField(n, "SystemTime", FieldTimeCreated, scratch, fn)
		case "Correlation":
			scratch = r.attrField(n, "ActivityID", FieldActivityID, scratch, fn)
			scratch = r.attrField(n, "RelatedActivityID", FieldRelatedActivityID, scratch, fn)
		case "Execution":
			scratch = r.attrField(n, "ProcessID", FieldProcessID, scratch, fn)
			scratch = r.attrField(n, "ThreadID", FieldThreadID, scratch, fn)
		case "Security":
			scratch = r.attrField(n, "UserID", FieldUserID, scratch, fn)
		default:
			if n.first >= 0 {
				scratch = r.AppendText(scratch[:0], Node(c))
				fn(n.name, trimSpace(scratch), r.scalarText(Node(c)))
			}
		}
	}
	return scratch
}

// attrField passes attribute attrName of element n, when present, to fn as
// field; scratch is returned for reuse.
func (r *Record) attrField(n *node, attrName, field string, scratch []byte, fn FieldFunc) []byte {
	for _, a := range r.attrs[n.a0:n.a1] {
		if a.name == attrName {
			scratch = r.appendPieces(scratch[:0], a.p0, a.p1, optsPlain)
			fn(field, trimSpace(scratch), r.scalarPieces(a.p0, a.p1))
			break
		}
	}
	return scratch
}

func (r *Record) dataFields(parent Node, scratch []byte, fn FieldFunc) []byte {
	for c := r.nodes[parent].first; c >= 0; c = r.nodes[c].next {
		n := &r.nodes[c]
		if n.kind != nodeElement {
			continue
		}
		if r.FirstChild(Node(c)) >= 0 {
			scratch = r.dataFields(Node(c), scratch, fn)
			continue
		}
		name := n.name
		if name == "Data" {
			if a := r.dataName(c); a >= 0 {
				at := &r.attrs[a]
				// Names are template literals: use the string without copying.
				if at.p1 == at.p0+1 && r.pieces[at.p0].typ == typeLiteral {
					name = r.pieces[at.p0].str
				} else {
					name = r.internName(at.p0, at.p1)
				}
			}
		}
		scratch = r.AppendText(scratch[:0], Node(c))
		fn(name, trimSpace(scratch), r.scalarText(Node(c)))
	}
	return scratch
}

// maxFieldNames bounds the field names a Record keeps for reuse.
const maxFieldNames = 1024

// internName renders pieces p0..p1 as plain text and returns it as a
// string, the same string for the same name from record to record.
func (r *Record) internName(p0, p1 int32) string {
	r.fnameBuf = r.appendPieces(r.fnameBuf[:0], p0, p1, optsPlain)
	if name, ok := r.fnames[string(r.fnameBuf)]; ok {
		return name
	}
	if len(r.fnameBuf) > maxInternSize {
		return string(r.fnameBuf)
	}
	if r.fnames == nil || len(r.fnames) >= maxFieldNames {
		r.fnames = make(map[string]string)
	}
	name := string(r.fnameBuf)
	r.fnames[name] = name
	return name
}
