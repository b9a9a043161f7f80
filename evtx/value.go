package evtx

import (
	"encoding/binary"
	"math"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// ValueType is the type of a BinXML substitution value.
type ValueType uint8

// BinXML value types ([MS-EVEN6] and libevtx's documentation). An array of a
// type has the 0x80 bit set.
const (
	TypeNull       ValueType = 0x00
	TypeString     ValueType = 0x01 // UTF-16LE
	TypeAnsiString ValueType = 0x02
	TypeInt8       ValueType = 0x03
	TypeUint8      ValueType = 0x04
	TypeInt16      ValueType = 0x05
	TypeUint16     ValueType = 0x06
	TypeInt32      ValueType = 0x07
	TypeUint32     ValueType = 0x08
	TypeInt64      ValueType = 0x09
	TypeUint64     ValueType = 0x0a
	TypeReal32     ValueType = 0x0b
	TypeReal64     ValueType = 0x0c
	TypeBool       ValueType = 0x0d
	TypeBinary     ValueType = 0x0e
	TypeGUID       ValueType = 0x0f
	TypeSizeT      ValueType = 0x10
	TypeFileTime   ValueType = 0x11
	TypeSysTime    ValueType = 0x12
	TypeSID        ValueType = 0x13
	TypeHex32      ValueType = 0x14
	TypeHex64      ValueType = 0x15
	TypeEvtHandle  ValueType = 0x20
	TypeBinXML     ValueType = 0x21
	TypeEvtXML     ValueType = 0x23
	TypeArray      ValueType = 0x80

	// Internal piece kinds, never found in files.
	typeLiteral   ValueType = 0x40 // text decoded at template compile time (str)
	typeCharRef   ValueType = 0x41 // character reference; rune in num
	typeEntityRef ValueType = 0x42 // entity reference; name in str
	typeCDATA     ValueType = 0x43 // CDATA text (str)
)

// piece is one part of an element's text or of an attribute's value: either
// a substitution value (typ, data: a slice of the chunk) or text decoded when
// the template was compiled (str).
type piece struct {
	typ  ValueType
	data []byte
	str  string
	num  uint32
}

// escaping modes for text output.
const (
	escNone = iota
	escJSON
	escXMLText
	escXMLAttr
)

// fixedSize gives the element size of fixed-size types (0 when variable).
func fixedSize(t ValueType) int {
	switch t &^ TypeArray {
	case TypeInt8, TypeUint8:
		return 1
	case TypeInt16, TypeUint16:
		return 2
	case TypeInt32, TypeUint32, TypeReal32, TypeBool, TypeHex32:
		return 4
	case TypeInt64, TypeUint64, TypeReal64, TypeFileTime, TypeHex64:
		return 8
	case TypeGUID, TypeSysTime:
		return 16
	}
	return 0
}

// isNumeric reports whether a scalar value renders as a JSON number.
func isNumeric(t ValueType) bool {
	switch t {
	case TypeInt8, TypeUint8, TypeInt16, TypeUint16, TypeInt32, TypeUint32,
		TypeInt64, TypeUint64, TypeReal32, TypeReal64:
		return true
	}
	return false
}

// appendEscapedByte writes one ASCII byte with the given escaping.
func appendEscapedByte(dst []byte, c byte, esc int) []byte {
	switch esc {
	case escJSON:
		switch c {
		case '"':
			return append(dst, '\\', '"')
		case '\\':
			return append(dst, '\\', '\\')
		case '\n':
			return append(dst, '\\', 'n')
		case '\r':
			return append(dst, '\\', 'r')
		case '\t':
			return append(dst, '\\', 't')
		}
		if c < 0x20 {
			const hex = "0123456789abcdef"
			return append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
		}
	case escXMLText:
		switch c {
		case '&':
			return append(dst, "&amp;"...)
		case '<':
			return append(dst, "&lt;"...)
		case '>':
			return append(dst, "&gt;"...)
		}
	case escXMLAttr:
		switch c {
		case '&':
			return append(dst, "&amp;"...)
		case '<':
			return append(dst, "&lt;"...)
		case '>':
			return append(dst, "&gt;"...)
		case '"':
			return append(dst, "&quot;"...)
		}
	}
	return append(dst, c)
}

func needsEscape(c byte, esc int) bool {
	switch esc {
	case escJSON:
		return c < 0x20 || c == '"' || c == '\\'
	case escXMLText:
		return c == '&' || c == '<' || c == '>'
	case escXMLAttr:
		return c == '&' || c == '<' || c == '>' || c == '"'
	}
	return false
}

// escTables[esc][c] is needsEscape(c, esc) for ASCII c, false otherwise: one
// load per byte instead of a switch in the transcoding loops.
var escTables = func() (t [4][256]bool) {
	for esc := range t {
		for c := 0; c < utf8.RuneSelf; c++ {
			t[esc][c] = needsEscape(byte(c), esc)
		}
	}
	return t
}()

// appendEscapedString writes a UTF-8 string with the given escaping.
func appendEscapedString(dst []byte, s string, esc int) []byte {
	if esc == escNone {
		return append(dst, s...)
	}
	tbl := &escTables[esc&3]
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if tbl[c] {
			dst = append(dst, s[start:i]...)
			dst = appendEscapedByte(dst, c, esc)
			start = i + 1
		}
	}
	return append(dst, s[start:]...)
}

// appendUTF16 decodes UTF-16LE bytes into UTF-8 with escaping. Unpaired
// surrogates become U+FFFD. Trailing NUL characters are dropped; an embedded
// NUL is kept (escaped in JSON).
func appendUTF16(dst []byte, b []byte, esc int) []byte {
	n := len(b) &^ 1
	for n >= 2 && b[n-2] == 0 && b[n-1] == 0 {
		n -= 2
	}
	tbl := &escTables[esc&3]
	dst = slices.Grow(dst, n/2)
	for i := 0; i < n; i += 2 {
		// Four ASCII characters that need no escaping at a time.
		for i+8 <= n {
			v := binary.LittleEndian.Uint64(b[i:])
			if v&0xff80ff80ff80ff80 != 0 {
				break
			}
			c0, c1, c2, c3 := byte(v), byte(v>>16), byte(v>>32), byte(v>>48)
			if tbl[c0] || tbl[c1] || tbl[c2] || tbl[c3] {
				break
			}
			dst = append(dst, c0, c1, c2, c3)
			i += 8
		}
		if i >= n {
			break
		}
		u := uint16(b[i]) | uint16(b[i+1])<<8
		if u < utf8.RuneSelf {
			c := byte(u)
			if tbl[c] {
				dst = appendEscapedByte(dst, c, esc)
			} else {
				dst = append(dst, c)
			}
			continue
		}
		r := rune(u)
		if u >= 0xd800 && u < 0xdc00 && i+3 < n {
			u2 := uint16(b[i+2]) | uint16(b[i+3])<<8
			if u2 >= 0xdc00 && u2 < 0xe000 {
				r = (rune(u)-0xd800)<<10 + (rune(u2) - 0xdc00) + 0x10000
				i += 2
			} else {
				r = utf8.RuneError
			}
		} else if u >= 0xd800 && u < 0xe000 {
			r = utf8.RuneError
		}
		dst = utf8.AppendRune(dst, r)
	}
	return dst
}

// decodeUTF16 returns the UTF-8 string of UTF-16LE bytes.
func decodeUTF16(b []byte) string {
	var buf [256]byte
	return string(appendUTF16(buf[:0], b, escNone))
}

// cp1252 maps the bytes 0x80..0x9f of Windows-1252 to Unicode (the rest of
// the range 0xa0..0xff is Latin-1). Undefined bytes map to U+FFFD.
var cp1252 = [32]rune{
	0x20ac, 0xfffd, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021,
	0x02c6, 0x2030, 0x0160, 0x2039, 0x0152, 0xfffd, 0x017d, 0xfffd,
	0xfffd, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014,
	0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0xfffd, 0x017e, 0x0178,
}

// appendANSI decodes a Windows-1252 string (the default codepage of
// evtxexport) with escaping, dropping trailing NULs.
func appendANSI(dst []byte, b []byte, esc int) []byte {
	n := len(b)
	for n > 0 && b[n-1] == 0 {
		n--
	}
	for _, c := range b[:n] {
		switch {
		case c < utf8.RuneSelf:
			if esc != escNone && needsEscape(c, esc) {
				dst = appendEscapedByte(dst, c, esc)
			} else {
				dst = append(dst, c)
			}
		case c < 0xa0:
			dst = utf8.AppendRune(dst, cp1252[c-0x80])
		default:
			dst = utf8.AppendRune(dst, rune(c))
		}
	}
	return dst
}

const hexUpper = "0123456789ABCDEF"

func appendHexBytes(dst []byte, b []byte) []byte {
	for _, c := range b {
		dst = append(dst, hexUpper[c>>4], hexUpper[c&15])
	}
	return dst
}

// appendGUID writes a GUID stored little-endian, upper case, with braces if
// braces is true.
func appendGUID(dst []byte, b []byte, braces bool) []byte {
	if len(b) < 16 {
		return appendHexBytes(dst, b)
	}
	if braces {
		dst = append(dst, '{')
	}
	d1 := binary.LittleEndian.Uint32(b[0:4])
	d2 := binary.LittleEndian.Uint16(b[4:6])
	d3 := binary.LittleEndian.Uint16(b[6:8])
	dst = appendHexFixed(dst, uint64(d1), 8)
	dst = append(dst, '-')
	dst = appendHexFixed(dst, uint64(d2), 4)
	dst = append(dst, '-')
	dst = appendHexFixed(dst, uint64(d3), 4)
	dst = append(dst, '-')
	dst = appendHexBytes(dst, b[8:10])
	dst = append(dst, '-')
	dst = appendHexBytes(dst, b[10:16])
	if braces {
		dst = append(dst, '}')
	}
	return dst
}

func appendHexFixed(dst []byte, v uint64, digits int) []byte {
	for i := digits - 1; i >= 0; i-- {
		dst = append(dst, hexUpper[(v>>(uint(i)*4))&15])
	}
	return dst
}

// appendHex writes 0x followed by lower-case hex digits without padding, as
// Windows renders HexInt32/HexInt64 values.
func appendHex(dst []byte, v uint64) []byte {
	dst = append(dst, '0', 'x')
	return strconv.AppendUint(dst, v, 16)
}

// appendSID writes a security identifier in S-R-A-S1-S2... form.
func appendSID(dst []byte, b []byte) []byte {
	if len(b) < 8 {
		return appendHexBytes(dst, b)
	}
	rev := b[0]
	n := int(b[1])
	if 8+4*n > len(b) {
		return appendHexBytes(dst, b)
	}
	var auth uint64
	for _, c := range b[2:8] {
		auth = auth<<8 | uint64(c)
	}
	dst = append(dst, 'S', '-')
	dst = strconv.AppendUint(dst, uint64(rev), 10)
	dst = append(dst, '-')
	if auth >= 1<<32 {
		dst = appendHex(dst, auth)
	} else {
		dst = strconv.AppendUint(dst, auth, 10)
	}
	for i := 0; i < n; i++ {
		dst = append(dst, '-')
		dst = strconv.AppendUint(dst, uint64(binary.LittleEndian.Uint32(b[8+4*i:])), 10)
	}
	return dst
}

// sidSize is the size of the SID starting at b, or -1.
func sidSize(b []byte) int {
	if len(b) < 8 {
		return -1
	}
	n := 8 + 4*int(b[1])
	if n > len(b) {
		return -1
	}
	return n
}

// filetimeToTime converts a FILETIME (100 ns intervals since 1601) to time.
func filetimeToTime(ft uint64) time.Time {
	const epochDiff = 116444736000000000 // 1601-01-01 to 1970-01-01 in 100 ns
	if ft < epochDiff {
		// before 1970: compute via seconds to avoid overflow
		d := int64(epochDiff - ft)
		return time.Unix(-(d / 1e7), -(d%1e7)*100).UTC()
	}
	d := ft - epochDiff
	return time.Unix(int64(d/1e7), int64(d%1e7)*100).UTC()
}

// appendFiletime writes an ISO 8601 UTC time with the given number of
// fractional digits (6 for evtx_dump JSON, 7 as Windows renders XML).
func appendFiletime(dst []byte, ft uint64, digits int) []byte {
	t := filetimeToTime(ft)
	dst = appendDateTime(dst, t)
	frac := ft % 1e7 // 100 ns units
	dst = append(dst, '.')
	switch digits {
	case 7:
		dst = appendDec(dst, frac, 7)
	case 6:
		dst = appendDec(dst, frac/10, 6)
	default:
		dst = appendDec(dst, frac/10000, 3)
	}
	return append(dst, 'Z')
}

func appendDateTime(dst []byte, t time.Time) []byte {
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	if y < 0 || y > 9999 {
		y = 0
	}
	dst = appendDec(dst, uint64(y), 4)
	dst = append(dst, '-')
	dst = appendDec(dst, uint64(mo), 2)
	dst = append(dst, '-')
	dst = appendDec(dst, uint64(d), 2)
	dst = append(dst, 'T')
	dst = appendDec(dst, uint64(h), 2)
	dst = append(dst, ':')
	dst = appendDec(dst, uint64(mi), 2)
	dst = append(dst, ':')
	return appendDec(dst, uint64(s), 2)
}

func appendDec(dst []byte, v uint64, digits int) []byte {
	var buf [20]byte
	i := len(buf)
	for j := 0; j < digits || v > 0; j++ {
		i--
		buf[i] = byte('0' + v%10)
		v /= 10
		if i == 0 {
			break
		}
	}
	return append(dst, buf[i:]...)
}

// appendSystime writes a SYSTEMTIME as an ISO 8601 time with milliseconds.
func appendSystime(dst []byte, b []byte) []byte {
	u := func(i int) uint64 { return uint64(binary.LittleEndian.Uint16(b[2*i:])) }
	dst = appendDec(dst, u(0), 4)
	dst = append(dst, '-')
	dst = appendDec(dst, u(1), 2)
	dst = append(dst, '-')
	dst = appendDec(dst, u(3), 2)
	dst = append(dst, 'T')
	dst = appendDec(dst, u(4), 2)
	dst = append(dst, ':')
	dst = appendDec(dst, u(5), 2)
	dst = append(dst, ':')
	dst = appendDec(dst, u(6), 2)
	dst = append(dst, '.')
	dst = appendDec(dst, u(7), 3)
	return append(dst, 'Z')
}

// appendFloat renders a float the way strconv's shortest form does; JSON
// cannot carry NaN or infinities, so those become strings where the caller
// asked for JSON.
func appendFloat(dst []byte, f float64, bits int, json bool) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		if json {
			dst = append(dst, '"')
			dst = strconv.AppendFloat(dst, f, 'g', -1, bits)
			return append(dst, '"')
		}
	}
	return strconv.AppendFloat(dst, f, 'g', -1, bits)
}

// renderOpts selects the textual form of values.
type renderOpts struct {
	esc        int
	json       bool // JSON scalar context: floats guarded
	guidBraces bool
	timeDigits int
}

var (
	optsJSON  = renderOpts{esc: escJSON, json: true, guidBraces: false, timeDigits: 6}
	optsXML   = renderOpts{esc: escXMLText, guidBraces: true, timeDigits: 7}
	optsXMLA  = renderOpts{esc: escXMLAttr, guidBraces: true, timeDigits: 7}
	optsPlain = renderOpts{esc: escNone, guidBraces: false, timeDigits: 7}
)

// appendScalar writes one scalar value of type t (no array bit) as text.
func appendScalar(dst []byte, t ValueType, b []byte, o renderOpts) []byte {
	if sz := fixedSize(t); sz > 0 && len(b) < sz {
		return appendHexBytes(dst, b) // short value: show the bytes
	}
	le := binary.LittleEndian
	switch t {
	case TypeNull:
		return dst
	case TypeString:
		return appendUTF16(dst, b, o.esc)
	case TypeAnsiString:
		return appendANSI(dst, b, o.esc)
	case TypeInt8:
		return strconv.AppendInt(dst, int64(int8(b[0])), 10)
	case TypeUint8:
		return strconv.AppendUint(dst, uint64(b[0]), 10)
	case TypeInt16:
		return strconv.AppendInt(dst, int64(int16(le.Uint16(b))), 10)
	case TypeUint16:
		return strconv.AppendUint(dst, uint64(le.Uint16(b)), 10)
	case TypeInt32:
		return strconv.AppendInt(dst, int64(int32(le.Uint32(b))), 10)
	case TypeUint32:
		return strconv.AppendUint(dst, uint64(le.Uint32(b)), 10)
	case TypeInt64:
		return strconv.AppendInt(dst, int64(le.Uint64(b)), 10)
	case TypeUint64:
		return strconv.AppendUint(dst, le.Uint64(b), 10)
	case TypeReal32:
		return appendFloat(dst, float64(math.Float32frombits(le.Uint32(b))), 32, o.json)
	case TypeReal64:
		return appendFloat(dst, math.Float64frombits(le.Uint64(b)), 64, o.json)
	case TypeBool:
		if le.Uint32(b) != 0 {
			return append(dst, "true"...)
		}
		return append(dst, "false"...)
	case TypeGUID:
		return appendGUID(dst, b, o.guidBraces)
	case TypeSizeT, TypeHex32, TypeHex64, TypeEvtHandle:
		switch len(b) {
		case 4:
			return appendHex(dst, uint64(le.Uint32(b)))
		case 8:
			return appendHex(dst, le.Uint64(b))
		}
		return appendHexBytes(dst, b)
	case TypeFileTime:
		return appendFiletime(dst, le.Uint64(b), o.timeDigits)
	case TypeSysTime:
		return appendSystime(dst, b)
	case TypeSID:
		return appendSID(dst, b)
	}
	// Binary, EvtXml and unknown types: upper-case hex of the bytes.
	return appendHexBytes(dst, b)
}

// arrayItems calls fn for each element of an array value.
func arrayItems(t ValueType, b []byte, fn func(item []byte)) {
	et := t &^ TypeArray
	switch et {
	case TypeString:
		start := 0
		for i := 0; i+1 < len(b); i += 2 {
			if b[i] == 0 && b[i+1] == 0 {
				fn(b[start:i])
				start = i + 2
			}
		}
		if start < len(b)&^1 {
			fn(b[start : len(b)&^1])
		}
		return
	case TypeAnsiString:
		start := 0
		for i := 0; i < len(b); i++ {
			if b[i] == 0 {
				fn(b[start:i])
				start = i + 1
			}
		}
		if start < len(b) {
			fn(b[start:])
		}
		return
	case TypeSID:
		for len(b) > 0 {
			n := sidSize(b)
			if n < 0 {
				fn(b)
				return
			}
			fn(b[:n])
			b = b[n:]
		}
		return
	case TypeSizeT:
		// Size arrays hold pointer-sized values; 64-bit when the length allows.
		sz := 8
		if len(b)%8 != 0 {
			sz = 4
		}
		for len(b) >= sz {
			fn(b[:sz])
			b = b[sz:]
		}
		return
	}
	sz := fixedSize(et)
	if sz == 0 {
		fn(b)
		return
	}
	for len(b) >= sz {
		fn(b[:sz])
		b = b[sz:]
	}
}
