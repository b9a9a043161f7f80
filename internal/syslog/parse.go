package syslog

import (
	"bytes"
	"time"
)

// Parse parses one syslog message (see Message.Parse). It allocates the
// returned Message; a caller parsing many messages should reuse one
// Message and call its Parse method instead.
func Parse(b []byte, opts ParseOptions) (Message, error) {
	var m Message
	err := m.Parse(b, opts)
	return m, err
}

// Parse parses b into m, reusing m's buffers: in the steady state it does
// not allocate. Trailing LF, CR and NUL bytes are ignored.
//
// The syntax is detected from the content: after an optional PRI, a
// VERSION digit followed by a space makes an RFC 5424 message; anything
// else is read as RFC 3164 (BSD) syslog: an optional timestamp ("Mmm dd
// hh:mm:ss", optionally with a fraction or a year, or an RFC 3339 time as
// rsyslog writes it), an optional hostname, an optional tag "prog[pid]:",
// and the message text. A line with neither PRI nor timestamp is FormatText,
// the whole line its Message.
//
// On a *ParseError (a PRI that is not one, an RFC 5424 message with a
// broken header or structured data, an empty message) m is still usable:
// it is FormatText with the whole input as Message (and the PRI's facility
// and severity if the PRI was valid), so that the text is never lost; the
// caller decides whether to count the error as a warning.
func (m *Message) Parse(b []byte, opts ParseOptions) error {
	m.reset()
	for len(b) > 0 {
		c := b[len(b)-1]
		if c != '\n' && c != '\r' && c != 0 {
			break
		}
		b = b[:len(b)-1]
	}
	m.Raw = b
	if len(b) == 0 {
		m.Timestamp = opts.Now
		return &ParseError{Part: "message", Offset: 0, Reason: "empty message"}
	}
	pos := 0
	if b[0] == '<' {
		n, err := m.parsePRI(b)
		if err != nil {
			m.text(b, opts)
			return err
		}
		pos = n
		if isVersion(b[pos:]) {
			if err := m.parse5424(b, pos, opts); err != nil {
				m.text(b, opts)
				return err
			}
			return nil
		}
	}
	m.parse3164(b, pos, opts)
	return nil
}

func (m *Message) reset() {
	m.Format = FormatText
	m.HasPRI = false
	m.Facility, m.Severity = 0, 0
	m.Timestamp = time.Time{}
	m.HasTimestamp = false
	m.Version = 0
	m.Hostname, m.AppName, m.ProcID, m.MsgID, m.Message, m.Raw = nil, nil, nil, nil, nil, nil
	m.StructuredData = m.StructuredData[:0]
	m.params = m.params[:0]
	m.buf = m.buf[:0]
}

// text makes m a FormatText message holding all of b, keeping the PRI.
func (m *Message) text(b []byte, opts ParseOptions) {
	m.Format = FormatText
	m.Timestamp = opts.Now
	m.HasTimestamp = false
	m.Version = 0
	m.Hostname, m.AppName, m.ProcID, m.MsgID = nil, nil, nil, nil
	m.StructuredData = m.StructuredData[:0]
	m.Message = b
}

// parsePRI reads "<N>" at the start of b, 0 <= N <= 191, and returns the
// offset after it.
func (m *Message) parsePRI(b []byte) (int, error) {
	v, i := 0, 1
	for ; i < len(b) && i <= 4 && isDigit(b[i]); i++ {
		v = v*10 + int(b[i]-'0')
	}
	switch {
	case i == 1:
		return 0, &ParseError{Part: "PRI", Offset: 1, Reason: "expected a number after '<'"}
	case i > 4:
		return 0, &ParseError{Part: "PRI", Offset: 1, Reason: "more than 3 digits"}
	case i >= len(b) || b[i] != '>':
		return 0, &ParseError{Part: "PRI", Offset: i, Reason: "expected '>' after the priority number"}
	case v > 191:
		return 0, &ParseError{Part: "PRI", Offset: 1, Reason: "priority above 191 (facility 23, severity 7)"}
	}
	m.HasPRI = true
	m.Facility, m.Severity = uint8(v>>3), uint8(v&7)
	return i + 1, nil
}

// isVersion reports whether b starts with an RFC 5424 VERSION and a space.
func isVersion(b []byte) bool {
	if len(b) < 2 || b[0] < '1' || b[0] > '9' {
		return false
	}
	for i := 1; i < len(b) && i <= 3; i++ {
		if b[i] == ' ' {
			return true
		}
		if !isDigit(b[i]) {
			return false
		}
	}
	return false
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func (m *Message) parse5424(b []byte, pos int, opts ParseOptions) error {
	const part = "RFC 5424 header"
	m.Format = FormatRFC5424
	i := pos
	v := 0
	for ; b[i] != ' '; i++ {
		v = v*10 + int(b[i]-'0')
	}
	m.Version = v
	i++ // the space isVersion saw
	// TIMESTAMP
	if i >= len(b) {
		return &ParseError{Part: part, Field: "timestamp", Offset: i, Reason: "message ends before the timestamp"}
	}
	if b[i] == '-' && (i+1 == len(b) || b[i+1] == ' ') {
		m.Timestamp = opts.Now
		i++
	} else {
		t, n, reason := m.parseRFC3339(b[i:], nil)
		if reason != "" {
			return &ParseError{Part: part, Field: "timestamp", Offset: i + n, Reason: reason}
		}
		m.Timestamp, m.HasTimestamp = t, true
		i += n
	}
	// HOSTNAME, APP-NAME, PROCID, MSGID
	fields := [4]struct {
		name string
		dst  *[]byte
	}{{"hostname", &m.Hostname}, {"app-name", &m.AppName}, {"procid", &m.ProcID}, {"msgid", &m.MsgID}}
	for _, f := range fields {
		if i >= len(b) || b[i] != ' ' {
			return &ParseError{Part: part, Field: f.name, Offset: i, Reason: "expected a space before the " + f.name}
		}
		i++
		start := i
		for i < len(b) && b[i] != ' ' {
			if b[i] < 33 || b[i] > 126 {
				return &ParseError{Part: part, Field: f.name, Offset: i, Reason: "not printable US-ASCII"}
			}
			i++
		}
		switch {
		case i == start:
			return &ParseError{Part: part, Field: f.name, Offset: start, Reason: "empty (use \"-\" for none)"}
		case i == start+1 && b[start] == '-':
		default:
			*f.dst = b[start:i]
		}
	}
	// STRUCTURED-DATA: missing altogether is tolerated at the end of the
	// message (some senders stop after MSGID).
	if i >= len(b) {
		return nil
	}
	i++ // space
	if i >= len(b) {
		return nil
	}
	if b[i] == '-' {
		i++
	} else if b[i] == '[' {
		n, err := m.parseSD(b, i)
		if err != nil {
			return err
		}
		i = n
	} else {
		return &ParseError{Part: "structured data", Offset: i, Reason: "expected '[' or \"-\""}
	}
	if i < len(b) {
		if b[i] != ' ' {
			return &ParseError{Part: "structured data", Offset: i, Reason: "expected a space or '[' after ']'"}
		}
		i++
	}
	msg := b[i:]
	if bytes.HasPrefix(msg, utf8BOM) {
		msg = msg[3:]
	}
	m.Message = msg
	return nil
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// parseSD reads one or more SD elements at b[i] == '['; it returns the
// offset after the last ']'.
func (m *Message) parseSD(b []byte, i int) (int, error) {
	const part = "structured data"
	if cap(m.buf) < len(b) {
		m.buf = make([]byte, 0, len(b)) // values never grow when unescaped: no reallocation below
	}
	type rng struct{ lo, hi int }
	var ranges [16]rng
	rs := ranges[:0]
	for i < len(b) && b[i] == '[' {
		i++
		start := i
		for i < len(b) && isSDName(b[i]) {
			i++
		}
		if i == start {
			return 0, &ParseError{Part: part, Field: "SD-ID", Offset: i, Reason: "empty or invalid element ID"}
		}
		m.StructuredData = append(m.StructuredData, SDElement{ID: b[start:i]})
		lo := len(m.params)
		for i < len(b) && b[i] == ' ' {
			i++
			ns := i
			for i < len(b) && isSDName(b[i]) {
				i++
			}
			if i == ns {
				return 0, &ParseError{Part: part, Field: "PARAM-NAME", Offset: i, Reason: "empty or invalid parameter name"}
			}
			name := b[ns:i]
			if i+1 >= len(b) || b[i] != '=' || b[i+1] != '"' {
				return 0, &ParseError{Part: part, Field: "PARAM-VALUE", Offset: i, Reason: "expected =\" after the parameter name"}
			}
			i += 2
			vs := i
			escaped := false
			for i < len(b) && b[i] != '"' {
				if b[i] == '\\' && i+1 < len(b) {
					escaped = true
					i++
				}
				i++
			}
			if i >= len(b) {
				return 0, &ParseError{Part: part, Field: "PARAM-VALUE", Offset: vs, Reason: "unterminated value (no closing '\"')"}
			}
			val := b[vs:i]
			if escaped {
				val = m.unescape(val)
			}
			m.params = append(m.params, SDParam{Name: name, Value: val})
			i++ // closing quote
		}
		if i >= len(b) || b[i] != ']' {
			return 0, &ParseError{Part: part, Offset: i, Reason: "expected ']' or a space and a parameter"}
		}
		i++
		rs = append(rs, rng{lo, len(m.params)}) // Params are set below: m.params may still move
	}
	for k := range m.StructuredData {
		r := rs[k]
		m.StructuredData[k].Params = m.params[r.lo:r.hi:r.hi]
	}
	return i, nil
}

// unescape appends v with \" \\ \] unescaped to m.buf and returns it; a
// backslash before another character is kept (RFC 5424 section 6.3.3).
func (m *Message) unescape(v []byte) []byte {
	start := len(m.buf)
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '\\' && i+1 < len(v) && (v[i+1] == '"' || v[i+1] == '\\' || v[i+1] == ']') {
			i++
			c = v[i]
		}
		m.buf = append(m.buf, c)
	}
	return m.buf[start:len(m.buf):len(m.buf)]
}

func isSDName(c byte) bool {
	return c >= 33 && c <= 126 && c != '=' && c != ']' && c != '"' && c != ' '
}

// parseRFC3339 reads YYYY-MM-DDThh:mm:ss[.frac](Z|+hh:mm|-hh:mm) at the
// start of b. With loc non-nil the offset may be missing (the time is then
// in loc) and a space may replace the T. It returns the time, the bytes
// read, and on failure a reason with n the offset of the problem. With loc
// non-nil the offset may also be written +hhmm.
func (m *Message) parseRFC3339(b []byte, loc *time.Location) (t time.Time, n int, reason string) {
	num := func(i, w int) (int, bool) {
		if i+w > len(b) {
			return 0, false
		}
		v := 0
		for k := i; k < i+w; k++ {
			if !isDigit(b[k]) {
				return 0, false
			}
			v = v*10 + int(b[k]-'0')
		}
		return v, true
	}
	sep := func(i int, c byte) bool { return i < len(b) && b[i] == c }
	year, ok := num(0, 4)
	if !ok || !sep(4, '-') {
		return t, 0, "expected a date YYYY-MM-DD"
	}
	month, ok := num(5, 2)
	if !ok || !sep(7, '-') || month < 1 || month > 12 {
		return t, 5, "invalid month"
	}
	day, ok := num(8, 2)
	if !ok || day < 1 || day > 31 {
		return t, 8, "invalid day"
	}
	if !sep(10, 'T') && !(loc != nil && sep(10, ' ')) {
		return t, 10, "expected 'T' between date and time"
	}
	hour, ok := num(11, 2)
	if !ok || !sep(13, ':') || hour > 23 {
		return t, 11, "invalid hour"
	}
	minute, ok := num(14, 2)
	if !ok || !sep(16, ':') || minute > 59 {
		return t, 14, "invalid minute"
	}
	sec, ok := num(17, 2)
	if !ok || sec > 60 {
		return t, 17, "invalid second"
	}
	i := 19
	nsec := 0
	if sep(i, '.') || sep(i, ',') {
		i++
		start := i
		scale := 100000000
		for i < len(b) && isDigit(b[i]) {
			if i-start < 9 {
				nsec += int(b[i]-'0') * scale
				scale /= 10
			}
			i++
		}
		if i == start {
			return t, i, "expected digits after the decimal point"
		}
	}
	var zone *time.Location
	switch {
	case sep(i, 'Z') || sep(i, 'z'):
		zone = time.UTC
		i++
	case sep(i, '+') || sep(i, '-'):
		w := 6 // +hh:mm
		oh, ok1 := num(i+1, 2)
		om, ok2 := num(i+4, 2)
		if loc != nil && !sep(i+3, ':') {
			om, ok2 = num(i+3, 2) // +hhmm, as journalctl -o short-iso writes
			w = 5
		} else if !sep(i+3, ':') {
			ok2 = false
		}
		if !ok1 || !ok2 || oh > 23 || om > 59 {
			return t, i, "invalid time offset (want Z or +hh:mm)"
		}
		off := oh*3600 + om*60
		if b[i] == '-' {
			off = -off
		}
		zone = m.fixedZone(off)
		i += w
	case loc != nil:
		zone = loc
	default:
		return t, i, "expected a time offset (Z or +hh:mm)"
	}
	t = time.Date(year, time.Month(month), day, hour, minute, sec, nsec, zone)
	if t.Day() != day && sec != 60 {
		return time.Time{}, 8, "no such day in that month"
	}
	return t, i, ""
}

func (m *Message) fixedZone(off int) *time.Location {
	if off == 0 {
		return time.UTC
	}
	if m.zone == nil || m.zoneS != off {
		m.zone, m.zoneS = time.FixedZone("", off), off
	}
	return m.zone
}

var months = [12]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

// parseBSDTime reads "Mmm dd hh:mm:ss" at the start of b (day padded with a
// space or a zero, or a single digit; an optional fraction; an optional
// year before or after the time), and returns the time in loc, taking the
// year from ref when the line gives none.
func parseBSDTime(b []byte, ref time.Time, loc *time.Location) (time.Time, int, bool) {
	if len(b) < 14 || b[3] != ' ' {
		return time.Time{}, 0, false
	}
	month := 0
	for k, name := range months {
		if b[0] == name[0] && b[1] == name[1] && b[2] == name[2] {
			month = k + 1
			break
		}
	}
	if month == 0 {
		return time.Time{}, 0, false
	}
	i := 4
	if b[i] == ' ' {
		i++
	}
	day := 0
	start := i
	for i < len(b) && isDigit(b[i]) && i-start < 2 {
		day = day*10 + int(b[i]-'0')
		i++
	}
	if i == start || day < 1 || day > 31 || i >= len(b) || b[i] != ' ' {
		return time.Time{}, 0, false
	}
	i++
	year := -1
	if y, ok := digits(b, i, 4); ok && i+4 < len(b) && b[i+4] == ' ' {
		year = y
		i += 5
	}
	hour, ok1 := digits(b, i, 2)
	minute, ok2 := digits(b, i+3, 2)
	sec, ok3 := digits(b, i+6, 2)
	if !ok1 || !ok2 || !ok3 || b[i+2] != ':' || b[i+5] != ':' || hour > 23 || minute > 59 || sec > 60 {
		return time.Time{}, 0, false
	}
	i += 8
	nsec := 0
	if i+1 < len(b) && b[i] == '.' && isDigit(b[i+1]) {
		i++
		scale := 100000000
		for k := 0; i < len(b) && isDigit(b[i]); k++ {
			if k < 9 {
				nsec += int(b[i]-'0') * scale
				scale /= 10
			}
			i++
		}
	}
	if year < 0 {
		if y, ok := digits(b, i+1, 4); ok && b[i] == ' ' && (i+5 == len(b) || b[i+5] == ' ') {
			year = y
			i += 5
		}
	}
	if i < len(b) && b[i] != ' ' {
		return time.Time{}, 0, false
	}
	if year >= 0 {
		t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, loc)
		return t, i, t.Day() == day || sec == 60
	}
	if ref.IsZero() {
		ref = time.Now()
	}
	// The latest year that puts the date no later than two days after ref
	// (a clock or zone difference), and that has the day (29 February).
	limit := ref.Add(48 * time.Hour)
	for y := ref.Year() + 1; y >= ref.Year()-8; y-- {
		t := time.Date(y, time.Month(month), day, hour, minute, sec, nsec, loc)
		if (t.Day() == day || sec == 60) && !t.After(limit) {
			return t, i, true
		}
	}
	return time.Time{}, 0, false
}

func digits(b []byte, i, w int) (int, bool) {
	if i < 0 || i+w > len(b) {
		return 0, false
	}
	v := 0
	for k := i; k < i+w; k++ {
		if !isDigit(b[k]) {
			return 0, false
		}
		v = v*10 + int(b[k]-'0')
	}
	return v, true
}

// parse3164 reads a BSD syslog message from b[pos:] (after the PRI, if
// any). It never fails: what it does not recognise is message text.
func (m *Message) parse3164(b []byte, pos int, opts ParseOptions) {
	loc := opts.Location
	if loc == nil {
		loc = time.UTC
	}
	i := pos
	if t, n, ok := parseBSDTime(b[i:], opts.Now, loc); ok {
		m.Timestamp, m.HasTimestamp = t, true
		i += n
	} else if len(b)-i >= 19 && isDigit(b[i]) {
		if t, n, reason := m.parseRFC3339(b[i:], loc); reason == "" && (i+n == len(b) || b[i+n] == ' ') {
			m.Timestamp, m.HasTimestamp = t, true
			i += n
		}
	}
	if !m.HasTimestamp {
		m.Timestamp = opts.Now
		if !m.HasPRI {
			m.Format = FormatText
			m.Message = b[pos:]
			return
		}
	}
	m.Format = FormatRFC3164
	for i < len(b) && b[i] == ' ' {
		i++
	}
	if m.HasTimestamp {
		// HOSTNAME, unless the first word is already the tag (messages
		// from syslog(3) through /dev/log carry none).
		tok := word(b, i)
		if len(tok) > 0 && !isTag(tok) {
			m.Hostname = tok
			i += len(tok)
			for i < len(b) && b[i] == ' ' {
				i++
			}
		}
	}
	if tok := word(b, i); isTag(tok) {
		m.tag(tok)
		i += len(tok)
		if i < len(b) && b[i] == ' ' {
			i++
		}
	}
	m.Message = b[i:]
}

// word returns the bytes of b from i up to the next space.
func word(b []byte, i int) []byte {
	j := i
	for j < len(b) && b[j] != ' ' {
		j++
	}
	return b[i:j]
}

// maxTag bounds the length of a tag; a longer first word is message text.
const maxTag = 128

// isTag reports whether tok is a TAG as programs write it: "prog:",
// "prog[pid]:" or "prog[pid]" (prog may contain '/', '-', '.', and so on).
func isTag(tok []byte) bool {
	if len(tok) < 2 || len(tok) > maxTag {
		return false
	}
	if tok[len(tok)-1] == ':' {
		tok = tok[:len(tok)-1]
	} else if tok[len(tok)-1] != ']' {
		return false
	}
	if k := bytes.IndexByte(tok, '['); k >= 0 {
		if k == 0 || tok[len(tok)-1] != ']' {
			return false
		}
		tok = tok[:k]
	}
	if len(tok) == 0 {
		return false
	}
	for _, c := range tok {
		if c < 33 || c > 126 || c == ':' || c == '[' || c == ']' {
			return false
		}
	}
	return true
}

func (m *Message) tag(tok []byte) {
	if tok[len(tok)-1] == ':' {
		tok = tok[:len(tok)-1]
	}
	if k := bytes.IndexByte(tok, '['); k >= 0 {
		m.AppName = tok[:k]
		m.ProcID = tok[k+1 : len(tok)-1]
		return
	}
	m.AppName = tok
}

// Sniff reports whether line looks like the start of a syslog file or
// stream: a valid PRI followed by an RFC 5424 version or a timestamp, or,
// without PRI, a BSD timestamp ("Mmm dd hh:mm:ss") or an RFC 3339 time
// (with a 'T' between date and time) followed by a space, as in
// /var/log/syslog and /var/log/auth.log.
func Sniff(line []byte) bool {
	var m Message
	i := 0
	if len(line) > 0 && line[0] == '<' {
		n, err := m.parsePRI(line)
		if err != nil {
			return false
		}
		i = n
		if isVersion(line[i:]) {
			return m.parse5424(line, i, ParseOptions{}) == nil
		}
	}
	ref := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, n, ok := parseBSDTime(line[i:], ref, time.UTC); ok && n < len(line[i:]) {
		return true
	}
	if len(line)-i >= 20 && isDigit(line[i]) && line[i+10] == 'T' { // a space there is too common in other logs
		_, n, reason := m.parseRFC3339(line[i:], time.UTC)
		return reason == "" && i+n < len(line) && line[i+n] == ' '
	}
	return false
}
