package intel

import (
	"hash/maphash"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// ref names the indicators stored under one key: an index into the
// indicator slice, or, with multiRef set, an index into the set's lists of
// several indicators. One word per key keeps the maps small for millions of
// values.
type ref uint32

const multiRef ref = 1 << 31

type v6key struct {
	addr [16]byte
	bits uint8
}

// set holds values of every type, each pointing at indicators. It is built
// once and then only read.
type set struct {
	v4    *fixedTable[uint32]
	v6    map[[16]byte]ref
	cidr4 map[uint64]ref // bits<<32 | masked address
	cidr6 map[v6key]ref
	lens4 []uint8 // prefix lengths present in cidr4, longest first
	// cover4 has a bit for every /16 that an IPv4 network of cidr4 overlaps:
	// an address outside them skips the probes of cidr4.
	cover4 *[1 << 16 / 64]uint64
	// cover24 is cover4 for the /24s: of the addresses in a covered /16,
	// most are outside every network.
	cover24 *[1 << 24 / 64]uint64
	lens6   []uint8
	domains *strTable // matched with every parent domain of a value
	urls    *strTable // by appendURLKey
	emails  *strTable
	files   *strTable
	cves    *strTable
	md5     *fixedTable[[16]byte]
	imphash *fixedTable[[16]byte]
	sha1    *fixedTable[[20]byte]
	sha256  *fixedTable[[32]byte]
	sha512  *fixedTable[[64]byte]
	multi   [][]uint32
	filt    *filter // nil: every probe goes to the maps
	// domainLabels has bit n set if a domain of n labels is indexed (see
	// labelBit): parents of other lengths (the "com" of every value) are
	// not probed.
	domainLabels uint64
	// hostURLs counts the URLs indexed with no path ("host/"): without
	// them, addresses and domains are not probed as URLs.
	hostURLs int
	// timeFiles counts the file names indexed that are ISO 8601 times
	// (isTimestamp, in any case): without them, times are not looked up.
	timeFiles int
	// maxFile is the length of the longest file name indexed: a longer
	// last path element is not looked up.
	maxFile int
	// fileBytes has bit c set when an indexed file name has byte c or,
	// for an upper-case ASCII letter c, its lower case: a path element
	// with another byte is not looked up (fileTail).
	fileBytes [4]uint64
}

// strMap returns the table of string keys of a kind.
func (s *set) strMap(kind uint64) *strTable {
	switch kind {
	case fkDomain:
		return s.domains
	case fkURL:
		return s.urls
	case fkEmail:
		return s.emails
	case fkFile:
		return s.files
	}
	return s.cves
}

// appendStr finds string key k of a kind (fkDomain, fkURL, fkEmail,
// fkFile, fkCVE).
func (s *set) appendStr(dst []ref, kind uint64, k string) []ref {
	if s.filt != nil && !s.filt.has(kind, s.filt.hashString(kind, k)) {
		return dst
	}
	if r, ok := s.strMap(kind).get(k); ok {
		dst = append(dst, r)
	}
	return dst
}

func (s *set) mayBytes(kind uint64, b []byte) bool {
	return s.filt == nil || s.filt.has(kind, s.filt.hashBytes(kind, b))
}

func (s *set) addStr(kind uint64, k string, i uint32, dup func(uint32) bool) bool {
	if s.filt != nil {
		s.filt.add(kind, s.filt.hashString(kind, k))
	}
	return s.strMap(kind).put(k, s.merger(i, dup))
}

func (s *set) addBytes(kind uint64, b []byte) {
	if s.filt != nil {
		s.filt.add(kind, s.filt.hashBytes(kind, b))
	}
}

func newSet() *set {
	seed := maphash.Comparable(maphash.MakeSeed(), 0)
	return &set{
		v4: newFixedTable[uint32](seed), v6: map[[16]byte]ref{}, cidr4: map[uint64]ref{}, cidr6: map[v6key]ref{},
		domains: newStrTable(), urls: newStrTable(), emails: newStrTable(), files: newStrTable(), cves: newStrTable(),
		md5: newFixedTable[[16]byte](seed), imphash: newFixedTable[[16]byte](seed), sha1: newFixedTable[[20]byte](seed),
		sha256: newFixedTable[[32]byte](seed), sha512: newFixedTable[[64]byte](seed),
	}
}

// reserve sizes the tables for count[t] values of type t.
func (s *set) reserve(count [numTypes]int) {
	s.v4.reserve(count[TypeIPv4])
	s.md5.reserve(count[TypeMD5])
	s.imphash.reserve(count[TypeImphash])
	s.sha1.reserve(count[TypeSHA1])
	s.sha256.reserve(count[TypeSHA256])
	s.sha512.reserve(count[TypeSHA512])
	s.domains.reserve(count[TypeDomain])
	s.urls.reserve(count[TypeURL])
	s.emails.reserve(count[TypeEmail])
	s.files.reserve(count[TypeFileName])
	s.cves.reserve(count[TypeCVE])
}

// merge returns the ref to store under a key when indicator i is added
// to it: i, if the key is new (found false), else the key's indicators
// (old) and i. ok is false if dup reports one of the indicators already
// there as the same: the key keeps old.
func (s *set) merge(old ref, found bool, i uint32, dup func(uint32) bool) (ref, bool) {
	if !found {
		return ref(i), true
	}
	if dup != nil {
		found := false
		s.each(old, func(j uint32) { found = found || dup(j) })
		if found {
			return old, false
		}
	}
	if old&multiRef == 0 {
		s.multi = append(s.multi, []uint32{uint32(old), i})
		return multiRef | ref(len(s.multi)-1), true
	}
	s.multi[old&^multiRef] = append(s.multi[old&^multiRef], i)
	return old, true
}

// merger is merge for the put of a table.
func (s *set) merger(i uint32, dup func(uint32) bool) func(ref, bool) (ref, bool) {
	return func(old ref, found bool) (ref, bool) { return s.merge(old, found, i, dup) }
}

// addRef stores indicator i under key k of map m, unless dup reports one
// of the indicators already there as the same.
func addRef[K comparable](s *set, m map[K]ref, k K, i uint32, dup func(uint32) bool) bool {
	old, found := m[k]
	r, ok := s.merge(old, found, i, dup)
	if ok {
		m[k] = r
	}
	return ok
}

// refs returns the indicator numbers r stands for, without allocating.
func (s *set) each(r ref, fn func(uint32)) {
	if r&multiRef == 0 {
		fn(uint32(r))
		return
	}
	for _, i := range s.multi[r&^multiRef] {
		fn(i)
	}
}

// insert adds value v (normalised, of type t) as indicator number i. It
// returns false if v is not a valid t or dup reports a duplicate.
func (s *set) insert(t Type, v string, i uint32, dup func(uint32) bool) bool {
	switch t {
	case TypeIPv4, TypeIPv6:
		a, err := netip.ParseAddr(v)
		if err != nil {
			return false
		}
		if a.Is4() {
			x := be32(a.As4())
			if s.filt != nil {
				s.filt.add(fkV4, s.filt.hashV4(x))
			}
			return s.v4.put(&x, s.merger(i, dup))
		}
		k := a.As16()
		s.addBytes(fkV6, k[:])
		return addRef(s, s.v6, k, i, dup)
	case TypeCIDR:
		p, err := netip.ParsePrefix(v)
		if err != nil {
			return false
		}
		p = p.Masked()
		bits := uint8(p.Bits())
		if p.Addr().Is4() {
			if !slices.Contains(s.lens4, bits) {
				s.lens4 = append(s.lens4, bits)
				slices.Sort(s.lens4)
				slices.Reverse(s.lens4)
			}
			x := be32(p.Addr().As4())
			if s.cover4 == nil {
				s.cover4 = new([1 << 16 / 64]uint64)
			}
			lo, hi := x>>16, x>>16
			if bits < 16 {
				hi = lo | (1<<(16-bits) - 1)
			}
			for k := lo; k <= hi; k++ {
				s.cover4[k/64] |= 1 << (k % 64)
			}
			if s.cover24 == nil {
				s.cover24 = new([1 << 24 / 64]uint64)
			}
			lo, hi = x>>8, x>>8
			if bits < 24 {
				hi = lo | (1<<(24-bits) - 1)
			}
			for k := lo; k <= hi; k++ {
				s.cover24[k/64] |= 1 << (k % 64)
			}
			k := uint64(bits)<<32 | uint64(x)
			if s.filt != nil {
				s.filt.add(fkCIDR4, s.filt.hashCIDR4(k))
			}
			return addRef(s, s.cidr4, k, i, dup)
		}
		if !slices.Contains(s.lens6, bits) {
			s.lens6 = append(s.lens6, bits)
			slices.Sort(s.lens6)
			slices.Reverse(s.lens6)
		}
		return addRef(s, s.cidr6, v6key{p.Addr().As16(), bits}, i, dup)
	case TypeDomain:
		s.domainLabels |= labelBit(strings.Count(v, ".") + 1)
		return s.addStr(fkDomain, v, i, dup)
	case TypeURL:
		var b [512]byte
		k, _, ok := appendURLKey(b[:0], v)
		if !ok {
			return false
		}
		if strings.IndexByte(string(k), '/') == len(k)-1 {
			s.hostURLs++ // may count a duplicate: only zero matters
		}
		if string(k) == v {
			return s.addStr(fkURL, v, i, dup) // no copy
		}
		return s.addStr(fkURL, string(k), i, dup)
	case TypeEmail:
		return s.addStr(fkEmail, v, i, dup)
	case TypeFileName:
		if len(v) >= 19 && len(v) <= 35 && v[4] == '-' && isTimestamp(strings.ToUpper(v)) {
			s.timeFiles++ // may count a duplicate: only zero matters
		}
		s.maxFile = max(s.maxFile, len(v))
		for j := 0; j < len(v); j++ {
			c := v[j]
			s.fileBytes[c>>6] |= 1 << (c & 63)
			if c >= 'a' && c <= 'z' {
				c -= 'a' - 'A'
				s.fileBytes[c>>6] |= 1 << (c & 63)
			}
		}
		return s.addStr(fkFile, v, i, dup)
	case TypeCVE:
		return s.addStr(fkCVE, v, i, dup)
	case TypeMD5, TypeImphash:
		var k [16]byte
		if !decodeHex(k[:], v) {
			return false
		}
		if t == TypeMD5 {
			s.addBytes(fkMD5, k[:])
			return s.md5.put(&k, s.merger(i, dup))
		}
		s.addBytes(fkImphash, k[:])
		return s.imphash.put(&k, s.merger(i, dup))
	case TypeSHA1:
		var k [20]byte
		if !decodeHex(k[:], v) {
			return false
		}
		s.addBytes(fkSHA1, k[:])
		return s.sha1.put(&k, s.merger(i, dup))
	case TypeSHA256:
		var k [32]byte
		if !decodeHex(k[:], v) {
			return false
		}
		s.addBytes(fkSHA256, k[:])
		return s.sha256.put(&k, s.merger(i, dup))
	case TypeSHA512:
		var k [64]byte
		if !decodeHex(k[:], v) {
			return false
		}
		s.addBytes(fkSHA512, k[:])
		return s.sha512.put(&k, s.merger(i, dup))
	}
	return false
}

func be32(b [4]byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// The lookups below take values as a caller found them, append the refs
// stored for them to dst and allocate nothing (unless dst must grow).

func (s *set) appendAddr(dst []ref, a netip.Addr) []ref {
	a = a.Unmap()
	if a.Is4() {
		return s.appendV4(dst, be32(a.As4()))
	}
	b := a.As16()
	if s.mayBytes(fkV6, b[:]) {
		if r, ok := s.v6[b]; ok {
			dst = append(dst, r)
		}
	}
	for _, bits := range s.lens6 {
		k := v6key{bits: bits}
		for i := 0; i < 16; i++ {
			switch {
			case int(bits) >= 8*(i+1):
				k.addr[i] = b[i]
			case int(bits) > 8*i:
				k.addr[i] = b[i] & (0xff << (8 - (int(bits) - 8*i)))
			}
		}
		if r, ok := s.cidr6[k]; ok {
			dst = append(dst, r)
		}
	}
	return dst
}

// appendCIDR finds the refs for network p: the network itself and the
// networks that contain it.
func (s *set) appendCIDR(dst []ref, p netip.Prefix) []ref {
	p = p.Masked()
	if p.Addr().Is4() {
		x := be32(p.Addr().As4())
		for _, bits := range s.lens4 {
			if int(bits) > p.Bits() {
				continue
			}
			mask := uint32(0)
			if bits > 0 {
				mask = ^uint32(0) << (32 - bits)
			}
			if r, ok := s.cidr4[uint64(bits)<<32|uint64(x&mask)]; ok {
				dst = append(dst, r)
			}
		}
		return dst
	}
	for _, bits := range s.lens6 {
		if int(bits) > p.Bits() {
			continue
		}
		q, _ := p.Addr().Prefix(int(bits))
		if r, ok := s.cidr6[v6key{q.Addr().As16(), bits}]; ok {
			dst = append(dst, r)
		}
	}
	return dst
}

// appendDomain finds d (lower case) and every parent domain of d.
func (s *set) appendDomain(dst []ref, d string) []ref {
	if s.domains.n == 0 {
		return dst
	}
	d = strings.TrimSuffix(d, ".")
	n := strings.Count(d, ".") + 1 // labels
	for {
		if s.domainLabels&labelBit(n) != 0 {
			dst = s.appendStr(dst, fkDomain, d)
		}
		i := strings.IndexByte(d, '.')
		if i < 0 {
			return dst
		}
		d = d[i+1:]
		n--
	}
}

// labelBit is the bit of set.domainLabels for a domain of n labels.
func labelBit(n int) uint64 {
	return 1 << min(n, 63)
}

// appendHex finds a hash given as hex (any case) of type t.
func (s *set) appendHex(dst []ref, t Type, h string) []ref {
	var r ref
	var ok bool
	switch t {
	case TypeMD5, TypeImphash:
		var k [16]byte
		if !decodeHex(k[:], h) {
			return dst
		}
		if t == TypeMD5 {
			if s.md5.n > 0 && s.mayBytes(fkMD5, k[:]) {
				r, ok = s.md5.get(&k)
			}
		} else if s.imphash.n > 0 && s.mayBytes(fkImphash, k[:]) {
			r, ok = s.imphash.get(&k)
		}
	case TypeSHA1:
		var k [20]byte
		if s.sha1.n == 0 || !decodeHex(k[:], h) {
			return dst
		}
		if s.mayBytes(fkSHA1, k[:]) {
			r, ok = s.sha1.get(&k)
		}
	case TypeSHA256:
		var k [32]byte
		if s.sha256.n == 0 || !decodeHex(k[:], h) {
			return dst
		}
		if s.mayBytes(fkSHA256, k[:]) {
			r, ok = s.sha256.get(&k)
		}
	case TypeSHA512:
		var k [64]byte
		if s.sha512.n == 0 || !decodeHex(k[:], h) {
			return dst
		}
		if s.mayBytes(fkSHA512, k[:]) {
			r, ok = s.sha512.get(&k)
		}
	}
	if ok {
		dst = append(dst, r)
	}
	return dst
}

// appendURL finds a URL by its key (see appendURLKey).
func (s *set) appendURL(dst []ref, u string) []ref {
	var b [512]byte
	if k, _, ok := appendURLKey(b[:0], u); ok {
		dst = s.appendStr(dst, fkURL, unsafeString(k))
	}
	return dst
}

// lookup calls fn with every indicator number stored for a normalised
// value of type t.
func (s *set) lookup(t Type, v string, fn func(uint32)) {
	var refs []ref
	switch t {
	case TypeIPv4, TypeIPv6:
		if a, err := netip.ParseAddr(v); err == nil {
			refs = s.appendAddr(refs, a)
			refs = s.appendHostURL(refs, v)
		}
	case TypeCIDR:
		if p, err := netip.ParsePrefix(v); err == nil {
			refs = s.appendCIDR(refs, p)
		}
	case TypeDomain:
		refs = s.appendDomain(refs, v)
		refs = s.appendHostURL(refs, v)
	case TypeURL:
		refs = s.appendURL(refs, v)
	case TypeEmail:
		refs = s.appendStr(refs, fkEmail, v)
		if i := strings.LastIndexByte(v, '@'); i >= 0 {
			refs = s.appendDomain(refs, v[i+1:])
		}
	case TypeFileName:
		refs = s.appendStr(refs, fkFile, v)
	case TypeCVE:
		refs = s.appendStr(refs, fkCVE, v)
	case TypeMD5:
		refs = s.appendHex(refs, TypeMD5, v)
		refs = s.appendHex(refs, TypeImphash, v)
	default:
		if t.IsHash() {
			refs = s.appendHex(refs, t, v)
		}
	}
	for _, r := range refs {
		s.each(r, fn)
	}
}

// Index is an immutable set of indicators, with the MISP warninglists that
// mark values as probably benign. It is safe for concurrent use.
type Index struct {
	inds  *indicators
	set   *set
	warn  *warnIndex
	types [numTypes]int
	// matchers holds the *Matcher of MatchEvent: memory of values that
	// found nothing, one per goroutine at a time.
	matchers sync.Pool
}

// Len returns the number of indicators.
func (x *Index) Len() int { return len(x.inds.recs) }

// Count returns the number of indicators of type t.
func (x *Index) Count(t Type) int { return x.types[t] }

// Indicators returns the indicators in the order they were added. The
// caller must not modify them. The index keeps indicators in a compact form
// (see store.go): the slice is built on the first call and kept.
func (x *Index) Indicators() []Indicator { return x.inds.all() }

// Warninglists returns the names of the warninglists loaded.
func (x *Index) WarninglistNames() []string {
	if x.warn == nil {
		return nil
	}
	return x.warn.names
}

// Lookup recognises value's type from its shape (see Detect) and returns
// every indicator that matches it: the same value, a network that contains
// an address, a domain of which value is a sub-domain, the domain of an
// e-mail address, a URL that names only the domain or address (feeds type
// bare hosts as URLs: MISP url attributes, STIX url:value). Each match
// lists the warninglists the value is on.
//
// The returned slice may be shared with other calls: callers must not
// modify its elements (appending to it is fine).
//
// It allocates only the matches it returns, and nothing when a value of
// the common shapes matches one indicator and no warninglist: hashes, IPv4
// and IPv6 addresses, domains and file names, URLs and CVE ids are
// recognised by one scan of the value's bytes and looked up without
// building strings; other shapes (defanged values, networks, e-mail
// addresses, host/path URLs, values with a port or surrounding spaces) go
// through Detect.
func (x *Index) Lookup(value string) (Type, []Match) {
	var refsBuf [16]ref
	// The filter pays off for probes that mostly find nothing (every field
	// of every event: MatchEvent); a value looked up on its own is often
	// indexed, and the filter would add a cache miss to finding it.
	s := *x.set
	s.filt = nil
	t, refs, ok := s.fastRefs(refsBuf[:0], value)
	if !ok {
		return x.lookupSlow(value)
	}
	if len(refs) == 0 {
		return t, nil
	}
	if len(refs) == 1 && refs[0]&multiRef == 0 {
		// One indicator: the index's own slice of its match, unless the
		// match carries warninglists.
		ms := x.inds.match(uint32(refs[0]))
		if x.warn == nil {
			return t, ms
		}
		_, v := Detect(value)
		if wl := x.warninglistsFor(t, v, ms[0].Indicator); wl != nil {
			return t, []Match{{Indicator: ms[0].Indicator, Warninglists: wl}}
		}
		return t, ms
	}
	var ms []Match
	for _, r := range refs {
		if r&multiRef == 0 {
			ms = x.addMatch(ms, uint32(r))
			continue
		}
		for _, i := range x.set.multi[r&^multiRef] {
			ms = x.addMatch(ms, i)
		}
	}
	if x.warn != nil {
		_, v := Detect(value)
		for i := range ms {
			ms[i].Warninglists = x.warninglistsFor(t, v, ms[i].Indicator)
		}
	}
	return t, ms
}

// addMatch appends indicator i to ms unless it is there.
func (x *Index) addMatch(ms []Match, i uint32) []Match {
	ind := x.inds.get(i)
	for _, m := range ms {
		if m.Indicator == ind {
			return ms
		}
	}
	if ms == nil {
		ms = make([]Match, 0, 2)
	}
	return append(ms, Match{Indicator: ind})
}

// lookupSlow is Lookup through Detect, for every shape.
func (x *Index) lookupSlow(value string) (Type, []Match) {
	t, v := Detect(value)
	if t == TypeUnknown {
		return t, nil
	}
	var ms []Match
	add := func(i uint32) {
		ind := x.inds.get(i)
		for _, m := range ms {
			if m.Indicator == ind {
				return
			}
		}
		ms = append(ms, Match{Indicator: ind})
	}
	x.set.lookup(t, v, add)
	if t == TypeDomain || t == TypeFileName {
		// invoice.pdf.exe could be either; evil.com could be a file name.
		x.set.lookup(TypeDomain, v, add)
		x.set.lookup(TypeFileName, v, add)
	}
	for i := range ms {
		ms[i].Warninglists = x.warninglistsFor(t, v, ms[i].Indicator)
	}
	return t, ms
}

// Warninglists returns the names of the warninglists value is on.
func (x *Index) Warninglists(value string) []string {
	t, v := Detect(value)
	if t == TypeUnknown || x.warn == nil {
		return nil
	}
	return x.warn.names4(t, v, nil)
}

func (x *Index) warninglistsFor(t Type, v string, ind *Indicator) []string {
	if x.warn == nil {
		return nil
	}
	names := x.warn.names4(t, v, nil)
	if ind != nil && ind.Value != v {
		names = x.warn.names4(ind.Type, ind.Value, names)
	}
	return names
}

// warnIndex holds the MISP warninglists: networks and hostnames (which
// match sub-domains) in a set, exact strings, substrings and regular
// expressions.
type warnIndex struct {
	names   []string
	types   []typeSet // per list: the types of value it applies to
	set     *set
	lists   []uint16 // set's "indicator" number -> list
	exact   map[string][]uint16
	substr  substrIndex
	regexps []warnRegexp
}

type warnRegexp struct {
	re   *regexp.Regexp
	list uint16
}

// names4 appends to names the warninglists value v of type t is on,
// among those that apply to values of type t (Warninglist.Attributes).
func (w *warnIndex) names4(t Type, v string, names []string) []string {
	// add adds list l if it applies to values of type of.
	add := func(l uint16, of Type) {
		if w.types[l].has(of) && !slices.Contains(names, w.names[l]) {
			names = append(names, w.names[l])
		}
	}
	addT := func(l uint16) { add(l, t) }
	w.set.lookup(t, v, func(i uint32) { addT(w.lists[i]) })
	if t == TypeURL {
		// a URL whose host is on a hostname or network list
		var b [512]byte
		if k, _, ok := appendURLKey(b[:0], v); ok {
			host := string(k)
			if i := strings.IndexAny(host, ":/"); i >= 0 && !strings.HasPrefix(host, "[") {
				host = host[:i]
			}
			// the host is checked against the lists that apply to
			// its own type
			var refs []ref
			hostType := TypeDomain
			if a, err := netip.ParseAddr(host); err == nil {
				refs, hostType = w.set.appendAddr(refs, a), TypeIPv4
			} else {
				refs = w.set.appendDomain(refs, host)
			}
			for _, r := range refs {
				w.set.each(r, func(i uint32) { add(w.lists[i], hostType) })
			}
		}
	}
	for _, l := range w.exact[strings.ToLower(v)] {
		addT(l)
	}
	if w.substr.n > 0 {
		// Entries and value compared in lower case (ASCII).
		var buf [256]byte
		w.substr.each(unsafeString(appendLower(buf[:0], v)), addT)
	}
	for _, r := range w.regexps {
		if w.types[r.list].has(t) && r.re.MatchString(v) {
			addT(r.list)
		}
	}
	return names
}
