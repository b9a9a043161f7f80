package intel

import (
	"encoding/binary"
	"math/bits"
	"net/netip"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/vigil-defense/vigil/internal/detect"
	"github.com/vigil-defense/vigil/internal/event"
)

// MatchEvent looks up the values of ev's fields and calls fn for every
// indicator valid at the event's time that matches one: field is the
// field's name, value the value matched (a hash out of a Sysmon Hashes
// field, the host of a URL). The strings share ev's buffer: copy them to
// keep them (NewDetection does).
//
// Values are recognised by shape, whatever the field: an address (Sysmon
// DestinationIp, Security IpAddress, Zeek id.orig_h, CloudTrail
// sourceIPAddress…), also with a port or mapped into IPv6 (10.0.0.5:49712,
// [10.0.2.17]:64046, ::ffff:10.0.0.5: the address is reported), a URL (and
// its host), an e-mail address (and its domain), a domain name (DNS
// QueryName, Zeek query, HTTP host…), a hex hash, a CVE id, a file name (the
// last element of a path such as Image). A field named Hashes holds ALG=hex
// pairs (SHA256=…,MD5=…,IMPHASH=…). A domain or IPv4 address also matches a
// URL indicator that names only that host.
//
// MatchEvent allocates nothing for an event that matches nothing. It takes
// a Matcher from a pool for each event; a goroutine that matches many
// events (a hunt or serve worker) keeps its own (NewMatcher).
func (x *Index) MatchEvent(ev *event.Event, fn func(field, value string, m Match)) {
	m, _ := x.matchers.Get().(*Matcher)
	if m == nil {
		m = x.NewMatcher()
	}
	m.Match(ev, fn)
	x.matchers.Put(m)
}

// Matcher matches events against an Index for one goroutine at a time: it
// holds the values that found nothing lately (per field position and in a
// ring: seen.go; short ones also by their bytes: shortValue) and scratch
// space.
type Matcher struct {
	x *Index
	// The sizes of the index's tables (which cases can find anything),
	// read once: the index does not change.
	nCVE, nURL, nFile, nDomain, hostURLs int
	// maxFile is the longest file name indexed (set.maxFile), at most
	// len(buf): a path's last element is looked up only if no longer.
	maxFile int
	// fileBytes is set.fileBytes: the bytes a path's last element may
	// have to be looked up.
	fileBytes [4]uint64
	// times: an ISO 8601 time can find nothing (no such file name is
	// indexed), so Match passes times by.
	times bool
	seen  seenValues
	short [1 << shortBits]shortValue // short values that found nothing
	refs  [16]ref
	buf   [256]byte
}

// shortBits is log2 of the short values a Matcher keeps (shortValue).
const shortBits = 10

// shortValue is a value of 3 to 16 bytes that found nothing, kept by its
// bytes as two words (shortWords) and its length (0: none). Short values
// (addresses, host and user names, codes) recur in other fields and a few
// events later, where the position's last value does not catch them; a
// hit costs two loads and a compare instead of classifying the value.
type shortValue struct{ a, b, n uint64 }

// shortWords returns the bytes of v (3 to 16 of them) as two words: with
// its length they determine v (the words overlap when v is shorter than
// 16 bytes).
func shortWords(v string) (a, b uint64) {
	w := unsafeBytes(v)
	switch n := len(v); {
	case n >= 8:
		return binary.LittleEndian.Uint64(w), binary.LittleEndian.Uint64(w[n-8:])
	case n >= 4:
		return uint64(binary.LittleEndian.Uint32(w)) | uint64(binary.LittleEndian.Uint32(w[n-4:]))<<32, 0
	default:
		return uint64(w[0]) | uint64(w[1])<<8 | uint64(w[n-1])<<16, 0
	}
}

// shortSlot returns where a short value of words a, b and length n is kept.
func shortSlot(a, b, n uint64) uint64 {
	return ((a^n)*0x9e3779b97f4a7c15 ^ b*0xc2b2ae3d27d4eb4f) >> (64 - shortBits)
}

// NewMatcher returns a Matcher for x. Matchers are not safe for concurrent
// use: give each goroutine its own.
func (x *Index) NewMatcher() *Matcher {
	s := x.set
	m := &Matcher{x: x, nCVE: s.cves.n, nURL: s.urls.n, nFile: s.files.n, nDomain: s.domains.n, hostURLs: s.hostURLs, times: s.timeFiles == 0}
	m.maxFile = min(s.maxFile, len(m.buf))
	m.fileBytes = s.fileBytes
	m.seen.init()
	return m
}

// Match is MatchEvent with m's memory of values.
func (m *Matcher) Match(ev *event.Event, fn func(field, value string, m Match)) {
	x := m.x
	seen := &m.seen
	text, spans := ev.Text()
	n := len(spans)
	// The event's spans lie within its text (event.Event's invariant), so
	// values are read through pointers, without bounds checks.
	textp, spanp := unsafe.Pointer(unsafe.SliceData(text)), unsafe.Pointer(unsafe.SliceData(spans))
	for base := 0; base < n; base += 64 {
		// The fields that are not scalars (a number, time, GUID…: not
		// text that names anything), visited by their bits.
		todo := ^ev.ScalarWord(base >> 6)
		if n-base < 64 {
			todo &= 1<<(n-base) - 1
		}
		for ; todo != 0; todo &= todo - 1 {
			i := base + bits.TrailingZeros64(todo)
			sp := *(*event.Span)(unsafe.Add(spanp, uintptr(i)*unsafe.Sizeof(event.Span{})))
			l := sp.End - sp.Off
			if l < 3 || l > 2048 {
				continue
			}
			v := spanString(textp, sp)
			if i < seenFields {
				// As in the previous event: nothing. (seenValues.same,
				// written out: it is too large to be inlined; v has 3
				// bytes or more.) A value of 17 to lastInline bytes is
				// compared word by word, its last word first
				// (lastValue.sameLong).
				// The name matters only for a Hashes field, whose value
				// can name a hash (ALG=hex) only with minHashPair bytes
				// or more: the position's last value came from another
				// field, where it found nothing.
				if e := &seen.last[i]; e.n == uint64(len(v))+1 {
					if len(v) <= 16 {
						a, b := shortWords(v)
						if ea, eb := e.words(); a == ea && b == eb {
							continue
						}
					} else if len(v) <= lastInline && e.sameLong(v) || len(v) > lastInline && seen.at(e.end, v) {
						if len(v) < minHashPair || !isHashes(ev.Name(i)) {
							continue
						}
					}
				}
			}
			name := ev.Name(i)
			if isHashes(name) {
				x.matchHashes(ev, name, v, fn)
				continue
			}
			m.value(ev, i, name, v, fn)
		}
	}
}

// spanString returns the bytes of span sp of the text at textp as a
// string. It is unsafe.String without its checks (a length that is not
// negative, an end that does not wrap around the address space): the
// event's spans lie within its text.
func spanString(textp unsafe.Pointer, sp event.Span) string {
	h := struct {
		p unsafe.Pointer
		n int
	}{unsafe.Add(textp, sp.Off), int(sp.End - sp.Off)}
	return *(*string)(unsafe.Pointer(&h))
}

// isHashes reports whether a field of this name holds ALG=hex pairs
// (Sysmon's Hashes, and the names other logs give it).
func isHashes(name string) bool { return name == "Hashes" || name == "Hash" || name == "hashes" }

// minHashPair is the length of the shortest ALG=hex pair a Hashes field
// can match ("MD5=" and 32 hex digits).
const minHashPair = len("MD5=") + 32

// isTimestamp reports whether v is an ISO 8601 date and time:
// YYYY-MM-DD, 'T' or ' ', hh:mm:ss, optional fraction, optional zone (Z,
// ±hh:mm or ±hhmm), and nothing else. Such a value holds no address,
// domain, URL, e-mail address, hash or CVE id; with a fraction it is
// shaped like a file name (ss.fff), so MatchEvent skips it only when no
// indexed file name is such a time (set.timeFiles).
func isTimestamp(v string) bool {
	if len(v) < 19 || len(v) > 35 {
		return false
	}
	// Bytes 0-7, 8-15 and 11-18 as little-endian words: the separators
	// compared under a mask, the digits checked eight at a time, all
	// into one word, so that a time costs two branches, not eight.
	b := unsafeBytes(v)
	w0 := binary.LittleEndian.Uint64(b)
	w1 := binary.LittleEndian.Uint64(b[8:])
	w2 := binary.LittleEndian.Uint64(b[11:])
	bad := (w0&(0xff<<32|0xff<<56) ^ ('-'<<32 | '-'<<56)) | (w1&(0xff<<40) ^ ':'<<40) | (w2&(0xff<<40) ^ ':'<<40)
	bad |= notDigits(w0, 0x0080_8000_8080_8080) | notDigits(w1, 0x8080_0080_8000_8080) | notDigits(w2, 0x8080_0000_0000_0000)
	if sep := byte(w1 >> 16); bad != 0 || sep != 'T' && sep != ' ' {
		return false
	}
	rest := v[19:]
	if len(rest) == 8 && rest[0] == '.' && rest[7] == 'Z' {
		// Microseconds and Z, as Zeek and many JSON logs write: one word.
		return notDigits(binary.LittleEndian.Uint64(unsafeBytes(rest)), 0x0080_8080_8080_8000) == 0
	}
	if len(rest) > 0 && rest[0] == '.' {
		j := 1
		for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
			j++
		}
		if j == 1 {
			return false
		}
		rest = rest[j:]
	}
	switch {
	case rest == "" || rest == "Z":
		return true
	case rest[0] != '+' && rest[0] != '-':
		return false
	}
	rest = rest[1:]
	switch {
	case len(rest) == 5 && rest[2] == ':':
		return digits(rest[:2]) && digits(rest[3:])
	case len(rest) == 4:
		return digits(rest)
	}
	return false
}

// notDigits returns the top bits, among mask's, of the bytes of w that are
// not ASCII digits (zero if all are). Byte b is a digit when b^'0' < 10:
// adding 0x76 then sets its top bit exactly when it is not (a carry out of
// a byte happens only from a non-digit, which is marked itself).
func notDigits(w, mask uint64) uint64 {
	t := w ^ 0x3030303030303030
	return ((t + 0x7676767676767676) | t) & mask
}

// digits reports whether s is only ASCII digits.
func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// value is Match's case for value v of field i (name) that is not a
// scalar, a Hashes field or the position's last value: it passes times by
// (they change with every event, so they are checked here rather than for
// every field), classifies v and looks up what its shape can name. It is a
// function of its own so that Match's loop over every field stays small.
func (m *Matcher) value(ev *event.Event, i int, name, v string, fn func(field, value string, m Match)) {
	if m.times && len(v) >= 19 && v[4] == '-' && isTimestamp(v) {
		return // a time could only be taken for a file name (…20.8657Z)
	}
	if len(v) > 64 {
		m.classify(ev, i, name, v, 0, fn)
		return
	}
	var e *shortValue
	var a, b uint64
	if len(v) <= 16 {
		a, b = shortWords(v)
		e = &m.short[shortSlot(a, b, uint64(len(v)))]
		if e.a == a && e.b == b && e.n == uint64(len(v)) {
			m.seen.rememberWords(i, uint64(len(v)), a, b)
			return
		}
	}
	// Most values that reach here name nothing (identifiers, codes,
	// names): they are told apart by their classes here, and only the
	// others go through classify (a large function, whose code a hunt's
	// reading and rules push out of the instruction cache).
	or := scanClasses(v)
	// namesNothing, written out: it is too large to be inlined.
	if or&(scDot|scColon|scSlash|scBackslash|scAt) == 0 && v[0] != '[' && hashLen(len(v)) == TypeUnknown && (m.nCVE == 0 || !isCVE(v)) {
		if e != nil {
			m.seen.rememberWords(i, uint64(len(v)), a, b)
		} else {
			m.seen.remember(i, v)
		}
	} else if m.classify(ev, i, name, v, or, fn) {
		return
	}
	if e != nil {
		*e = shortValue{a, b, uint64(len(v))}
	}
}

// namesNothing reports whether v, whose bytes' classes are or, is not an
// address, URL, e-mail address, domain, file name, hash or CVE id (a CVE
// id only matters when nCVE are indexed): nothing classify looks up.
func namesNothing(v string, or uint16, nCVE int) bool {
	return or&(scDot|scColon|scSlash|scBackslash|scAt) == 0 && v[0] != '[' && hashLen(len(v)) == TypeUnknown && (nCVE == 0 || !isCVE(v))
}

// classify is value's work for a value not kept as found nothing: it
// classifies v, looks up what its shape can name, calls fn for each match
// and reports whether there was any.
func (m *Matcher) classify(ev *event.Event, i int, name, v string, or uint16, fn func(field, value string, m Match)) bool {
	x := m.x
	s := x.set
	seen := &m.seen
	buf := m.buf[:]
	nCVE, nURL, nFile, nDomain := m.nCVE, m.nURL, m.nFile, m.nDomain
	// A short value's classes tell whether it has a space; a long
	// one (a message, a command line) is searched for a space first
	// and classified only when it has none.
	space := false
	if len(v) <= 64 {
		space = or&scSpace != 0
	} else {
		space = strings.IndexByte(v, ' ') >= 0
	}
	refs := m.refs[:0]
	mv := v // the value reported
	if space && v[0] != '[' {
		// Messages, command lines: with a space, a value can only
		// hold a URL or end in a path whose file name is indexed
		// (the general case below, without scanning every byte).
		if (len(v) > 64 || or&(scColon|scSlash) == scColon|scSlash) && hasScheme(v) {
			refs = x.appendURLAndHost(refs, v, buf[:0])
		} else if nFile > 0 {
			// The last path element, if it may be an indexed file
			// name (fileTail).
			if base, ok := m.fileTail(v); ok && len(base) >= 3 && strings.IndexByte(base, '.') >= 0 {
				n := len(refs)
				if refs = s.appendStr(refs, fkFile, lowerBuf(buf[:0], base)); len(refs) > n {
					mv = base
				}
			}
		}
		if len(refs) == 0 && len(v) <= seenMaxLen {
			seen.remember(i, v)
		}
		for _, r := range refs {
			x.emit(ev, r, name, mv, fn)
		}
		return len(refs) > 0
	}
	if len(v) > 64 {
		// (A shorter value is here only if value found that it may
		// name something.)
		if or = scanClasses(v); namesNothing(v, or, nCVE) {
			if len(v) <= seenMaxLen {
				seen.remember(i, v)
			}
			return false
		}
	}
	// known reports v as remembered with nothing found; it is asked
	// before the costly cases only (the others are cheaper than a hash).
	var h uint64
	remember, hashed := len(v) <= seenMaxLen, false
	known := func() bool {
		if hashed || !remember {
			return false
		}
		h, hashed = seen.hash(v), true
		end, ok := seen.find(h, v)
		if ok {
			seen.rememberAt(i, v, end)
		}
		return ok
	}
	isAddr := false
	if or&^(scDigit|scDot) == 0 && or&scDot != 0 {
		// Digits and dots: an IPv4 address, or else at most a file
		// name (a domain's last label is not all digits).
		if a4, ok := parseIPv4(v); ok {
			refs, mv, isAddr = s.appendV4(refs, a4), v, true
			if m.hostURLs > 0 {
				refs = s.appendHostURL(refs, v)
			}
		} else if nFile == 0 {
			if remember {
				seen.remember(i, v)
			}
			return false
		}
	} else if or&^(scDigit|scHex|scUpper|scDot|scColon) == 0 && or&(scDot|scColon) != 0 || v[0] == '[' {
		if known() {
			return false
		}
		// An address, or an address with a port (Security IpAddress
		// and ClientIP write 10.0.0.5:49712): the address is reported.
		if r, host, ok := s.addrPort(refs, v); ok {
			refs, mv, isAddr = r, host, true
			if _, v4 := parseIPv4(host); v4 && m.hostURLs > 0 {
				refs = s.appendHostURL(refs, host)
			}
		}
	}
	t := TypeUnknown
	if !isAddr && or&^(scDigit|scHex|scUpper) == 0 {
		t = hashLen(len(v))
	}
	switch {
	case isAddr:
	case t != TypeUnknown:
		if known() {
			return false
		}
		if t == TypeMD5 && strings.Contains(strings.ToLower(name), "imphash") {
			t = TypeImphash
			remember = false // found nothing as an imphash, it may be an MD5
		}
		if t == TypeMD5 {
			refs = s.appendHex(refs, TypeImphash, v)
		}
		refs = s.appendHex(refs, t, v)
	case or&scColon != 0 && or&scSlash != 0 && hasScheme(v):
		if known() {
			return false
		}
		refs = x.appendURLAndHost(refs, v, buf[:0])
	case or&scAt != 0 && or&scSpace == 0 && v[0] != '@':
		if known() {
			return false
		}
		j := strings.LastIndexByte(v, '@')
		e := lowerBuf(buf[:0], v)
		refs = s.appendStr(refs, fkEmail, e)
		refs = s.appendDomain(refs, e[j+1:])
	case nCVE > 0 && isCVE(v):
		refs = s.appendStr(refs, fkCVE, upperBuf(buf[:0], v))
	default:
		base := v
		if or&(scSlash|scBackslash) != 0 {
			j := lastSlash(v)
			base = v[j+1:]
			if nURL > 0 && j > 0 && v[0] != '/' && v[0] != '\\' && or&scSpace == 0 && !backslashHost(v, or) {
				if known() {
					return false
				}
				refs = x.appendURLAndHost(refs, v, buf[:0]) // host/path without a scheme
			}
		}
		if or&scDot == 0 || len(base) < 3 || len(base) > len(buf) || len(base) < len(v) && strings.IndexByte(base, '.') < 0 {
			break
		}
		// A domain has only letters, digits, '.', '-', '_' and non-ASCII.
		domain := base == v && or&^(scDigit|scHex|scAlpha|scUpper|scDot|scDash|scHigh) == 0 && (nDomain > 0 || nURL > 0)
		if nFile == 0 && !domain {
			break
		}
		if known() {
			return false
		}
		lb := lowerBuf(buf[:0], base)
		if n := len(refs); nFile > 0 {
			if refs = s.appendStr(refs, fkFile, lb); len(refs) > n {
				mv = base
			}
		}
		if domain && validDomainOf(strings.TrimSuffix(lb, "."), or&scHigh == 0) {
			refs = s.appendDomain(refs, lb)
			refs = s.appendHostURL(refs, strings.TrimSuffix(lb, "."))
		}
	}
	if len(refs) == 0 && remember {
		if hashed {
			seen.rememberAt(i, v, seen.add(h, v))
		} else {
			seen.remember(i, v)
		}
	}
	for _, r := range refs {
		x.emit(ev, r, name, mv, fn)
	}
	return len(refs) > 0
}

// hasScheme reports whether v contains "://". It looks for the slashes:
// the text of a long value (a Windows event's message, a command line)
// has many colons and few slashes, and strings.Contains restarts at every
// colon.
func hasScheme(v string) bool {
	for {
		j := strings.IndexByte(v, '/')
		if j < 0 || j+1 >= len(v) {
			return false
		}
		if j > 0 && v[j-1] == ':' && v[j+1] == '/' {
			return true
		}
		v = v[j+1:]
	}
}

// backslashHost reports whether v (of classes or), read as a URL without a
// scheme, has a backslash in its host, which appendURLKey refuses: a
// Windows path (C:\Windows\System32\svchost.exe) is not a URL, and is
// neither hashed nor remembered for that.
func backslashHost(v string, or uint16) bool {
	if or&(scBackslash|scAt) != scBackslash {
		return false // no backslash, or an '@' that may end the user part
	}
	k := strings.IndexByte(v, '\\')
	for j := 0; j < k; j++ {
		if c := v[j]; c == '/' || c == '?' || c == '#' {
			return false
		}
	}
	return true
}

// Classes of scanClasses: a value's shape from one pass over its bytes.
// The first seven are fast.go's byte classes (scanClass copies them from
// byteClass); the others split what fast.go calls clOther.
const (
	scDigit = uint16(clDigit) // 0-9
	scHex   = uint16(clHex)   // a-f A-F
	scAlpha = uint16(clAlpha) // g-z G-Z
	scUpper = uint16(clUpper) // A-Z
	scDot   = uint16(clDot)   // .
	scColon = uint16(clColon) // :
	scDash  = uint16(clDash)  // - _
)

const (
	scSlash     uint16 = uint16(clOther) << iota // /
	scBackslash                                  // backslash
	scAt                                         // @
	scSpace                                      // ' '
	scHigh                                       // 0x80-0xff
	scOther                                      // any other byte
)

var scanClass = func() (t [256]uint16) {
	for i := range t {
		switch c := byte(i); {
		case c >= 0x80:
			t[i] = scHigh
		case byteClass[c]&clOther == 0:
			t[i] = uint16(byteClass[c]) // scDigit … scDash
		case c == '/':
			t[i] = scSlash
		case c == '\\':
			t[i] = scBackslash
		case c == '@':
			t[i] = scAt
		case c == ' ':
			t[i] = scSpace
		default:
			t[i] = scOther
		}
	}
	return t
}()

// scanClasses returns the union of the classes of v's bytes. It is not
// inlined: inside MatchEvent's loop the accumulators were kept on the
// stack (a load and a store per byte), here they stay in registers.
//
//go:noinline
func scanClasses(v string) uint16 {
	var a, b, c, d uint16
	for len(v) >= 8 {
		_ = v[7]
		a |= scanClass[v[0]] | scanClass[v[4]]
		b |= scanClass[v[1]] | scanClass[v[5]]
		c |= scanClass[v[2]] | scanClass[v[6]]
		d |= scanClass[v[3]] | scanClass[v[7]]
		v = v[8:]
	}
	for i := 0; i < len(v); i++ {
		a |= scanClass[v[i]]
	}
	return a | b | c | d
}

// fileTail returns the part of v after its last '/' or '\\' (all of v if
// it has none), read back from v's end, when it may be an indexed file
// name: at most maxFile bytes, each one that some indexed name has
// (fileBytes). Messages and command lines end in a line break, a quote or a
// colon a few bytes from their end, so few bytes are read.
func (m *Matcher) fileTail(v string) (base string, ok bool) {
	stop := max(0, len(v)-m.maxFile-1)
	for i := len(v) - 1; i >= stop; i-- {
		c := v[i]
		if c == '/' || c == '\\' {
			return v[i+1:], true
		}
		if m.fileBytes[c>>6]&(1<<(c&63)) == 0 {
			return "", false
		}
	}
	return v, stop == 0 && len(v) <= m.maxFile
}

// lastSlash returns the index of the last '/' or '\\' in v, or -1. It
// reads v eight bytes at a time from its end (slashMask), then the bytes
// before the first word a byte at a time.
func lastSlash(v string) int {
	i := len(v)
	for ; i >= 8; i -= 8 {
		if m := slashMask(binary.LittleEndian.Uint64(unsafeBytes(v[i-8:]))); m != 0 {
			return i - 8 + (63-bits.LeadingZeros64(m))>>3
		}
	}
	for i--; i >= 0; i-- {
		if c := v[i]; c == '/' || c == '\\' {
			return i
		}
	}
	return -1
}

// slashMask returns the top bit of each byte of w that is '/' or '\\'.
// Byte x is zero exactly when (x&0x7f)+0x7f|x has no top bit: no carry
// leaves a byte, so every byte is told exactly (the last one is found by
// the highest bit).
func slashMask(w uint64) uint64 {
	const lo7, hi = 0x7f7f7f7f7f7f7f7f, 0x8080808080808080
	a, b := w^(0x0101010101010101*'/'), w^(0x0101010101010101*'\\')
	za := ^((a&lo7 + lo7) | a | lo7)
	zb := ^((b&lo7 + lo7) | b | lo7)
	return (za | zb) & hi
}

// emit calls fn for the indicators of r valid at the event's time.
func (x *Index) emit(ev *event.Event, r ref, name, v string, fn func(string, string, Match)) {
	one := func(j uint32) {
		if x.inds.metas[x.inds.recs[j].meta].validAt(ev.Time) {
			ind := x.inds.get(j)
			fn(name, v, Match{Indicator: ind, Warninglists: x.warninglistsFor(ind.Type, v, ind)})
		}
	}
	if r&multiRef == 0 {
		one(uint32(r))
		return
	}
	for _, j := range x.set.multi[r&^multiRef] {
		one(j)
	}
}

// lowerBuf returns s lower-cased in buf (or s itself when it has no upper
// case), as a string that is only valid until buf changes. It lets map
// lookups take a lower-cased key without allocating.
func lowerBuf(buf []byte, s string) string {
	if !hasUpper(s) || len(s) > cap(buf) {
		if len(s) > cap(buf) {
			return strings.ToLower(s)
		}
		return s
	}
	b := appendLower(buf, s)
	return unsafeString(b)
}

// upperBuf is lowerBuf for upper case.
func upperBuf(buf []byte, s string) string {
	if len(s) > cap(buf) {
		return strings.ToUpper(s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		buf = append(buf, c)
	}
	return unsafeString(buf)
}

// appendURLAndHost finds a URL and, by its host, the addresses, networks
// and domains it names.
func (x *Index) appendURLAndHost(dst []ref, v string, buf []byte) []ref {
	s := x.set
	k, _, ok := appendURLKey(buf, v)
	if !ok {
		return dst
	}
	key := unsafeString(k)
	dst = s.appendStr(dst, fkURL, key)
	host := key
	if j := strings.IndexByte(host, '/'); j >= 0 {
		host = host[:j]
	}
	if c := host[0]; c == '[' || c >= '0' && c <= '9' {
		// Parse the address out of v, not out of buf: netip may keep
		// (a zone of) the string it parses, which would move buf to the heap.
		if a, err := netip.ParseAddr(rawHost(v)); err == nil {
			return s.appendAddr(dst, a)
		}
	}
	if j := strings.LastIndexByte(host, ':'); j >= 0 {
		host = host[:j]
	}
	return s.appendDomain(dst, host)
}

// rawHost returns the host of URL v as written, without brackets.
func rawHost(v string) string {
	if i := strings.Index(v, "://"); i >= 0 {
		v = v[i+3:]
	}
	if i := strings.IndexAny(v, "/?#"); i >= 0 {
		v = v[:i]
	}
	if i := strings.LastIndexByte(v, '@'); i >= 0 {
		v = v[i+1:]
	}
	if strings.HasPrefix(v, "[") {
		if i := strings.IndexByte(v, ']'); i > 0 {
			return v[1:i]
		}
	}
	if i := strings.LastIndexByte(v, ':'); i >= 0 && strings.Count(v, ":") == 1 {
		v = v[:i]
	}
	return v
}

// matchHashes reads Sysmon's "SHA1=…,MD5=…,SHA256=…,IMPHASH=…".
func (x *Index) matchHashes(ev *event.Event, name, v string, fn func(string, string, Match)) {
	var refsBuf [4]ref
	for v != "" {
		var pair string
		if j := strings.IndexByte(v, ','); j >= 0 {
			pair, v = v[:j], v[j+1:]
		} else {
			pair, v = v, ""
		}
		// strings.TrimSpace, called only when an end may be white space
		// (ASCII control or space, or a byte of a multi-byte character).
		if pair != "" && (pair[0] <= ' ' || pair[0] >= utf8.RuneSelf || pair[len(pair)-1] <= ' ' || pair[len(pair)-1] >= utf8.RuneSelf) {
			pair = strings.TrimSpace(pair)
		}
		alg, h, ok := strings.Cut(pair, "=")
		if !ok {
			continue
		}
		// The algorithm by its name's length, then its letters.
		t := TypeUnknown
		switch len(alg) {
		case 3:
			if strings.EqualFold(alg, "MD5") {
				t = TypeMD5
			}
		case 4:
			if strings.EqualFold(alg, "SHA1") {
				t = TypeSHA1
			}
		case 6:
			if strings.EqualFold(alg, "SHA256") {
				t = TypeSHA256
			} else if strings.EqualFold(alg, "SHA512") {
				t = TypeSHA512
			}
		case 7:
			if strings.EqualFold(alg, "IMPHASH") {
				t = TypeImphash
			}
		}
		if t == TypeUnknown {
			continue
		}
		for _, r := range x.set.appendHex(refsBuf[:0], t, h) {
			x.emit(ev, r, name, h, fn)
		}
	}
}

// Level returns the Sigma level of a match: informational when the value is
// on a warninglist, else high for confidence 80 and above, medium for 50
// and above, low below.
func (m Match) Level() string {
	switch c := m.Indicator.Confidence; {
	case m.ProbablyBenign():
		return "informational"
	case c >= 80:
		return "high"
	case c >= 50:
		return "medium"
	}
	return "low"
}

// NewDetection returns the detection for a match of MatchEvent: rule_id
// "intel:<source>", the title "Threat intelligence match: <type> <value>",
// the level from the confidence (see Match.Level), ATT&CK tags, the feed as
// author, and the event's fields followed by intel.field, intel.value,
// intel.indicator, intel.type, intel.id, intel.source, intel.confidence,
// intel.tlp, intel.labels, intel.warninglist (and intel.note when set).
func NewDetection(ev *event.Event, field, value string, m Match) detect.Detection {
	ind := m.Indicator
	t := ind.text
	if t == nil {
		t = newDetText(ind)
	}
	const extra = 11 // the intel.* fields
	d := detect.FromEventRoom(ev, extra)
	d.RuleID = t.ruleID
	d.RuleTitle = "Threat intelligence match: " + ind.Type.String() + " " + ind.Value
	d.Level, d.Author, d.RulePath = m.Level(), ind.Source, ind.Path
	d.Tags = t.tags     // shared: its capacity is its length, so appending copies
	fv := field + value // one copy of both (they may be the event's bytes)
	d.Fields = append(d.Fields,
		event.Field{Name: "intel.field", Value: fv[:len(field)]},
		event.Field{Name: "intel.value", Value: fv[len(field):]},
		event.Field{Name: "intel.indicator", Value: ind.Value},
		event.Field{Name: "intel.type", Value: ind.Type.String()},
		event.Field{Name: "intel.id", Value: ind.ID},
		event.Field{Name: "intel.source", Value: ind.Source},
		event.Field{Name: "intel.confidence", Value: t.confidence},
		event.Field{Name: "intel.tlp", Value: ind.TLP},
		event.Field{Name: "intel.labels", Value: t.labels},
		event.Field{Name: "intel.warninglist", Value: strings.Join(m.Warninglists, ",")},
	)
	if ind.Note != "" {
		d.Fields = append(d.Fields, event.Field{Name: "intel.note", Value: ind.Note})
	}
	return d
}
