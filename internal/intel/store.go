package intel

import (
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// How indicators are stored. A million indicators as Indicator structs
// (eight strings, two slices, two times: ~220 bytes each, plus an ID string
// each) cost over 300 MiB and make every garbage collection scan them. The
// index instead keeps, per indicator, a 28-byte record without pointers: its
// type, where its value and id are in an arena of bytes, and the number of a
// shared metadata record (source, file, confidence, TLP, labels, validity…),
// which the indicators of one file, event or STIX object have in common. An
// id of the form "file:line" (plain lists, CSV) is not stored but built
// when the indicator is returned. *Indicator values are built on first use
// and kept, so a match returns the same pointer every time.

// meta is everything an Indicator holds but its type, value and id.
type meta struct {
	Source      string
	Path        string
	TLP         string
	Note        string
	Description string
	Confidence  int
	Labels      []string
	Attack      []string
	ValidFrom   time.Time
	ValidUntil  time.Time
}

func metaOf(ind *Indicator) meta {
	return meta{
		Source: ind.Source, Path: ind.Path, TLP: ind.TLP, Note: ind.Note, Description: ind.Description,
		Confidence: ind.Confidence, Labels: ind.Labels, Attack: ind.Attack, ValidFrom: ind.ValidFrom, ValidUntil: ind.ValidUntil,
	}
}

func (m *meta) equal(o *meta) bool {
	return m.Source == o.Source && m.Path == o.Path && m.TLP == o.TLP && m.Note == o.Note &&
		m.Description == o.Description && m.Confidence == o.Confidence &&
		slices.Equal(m.Labels, o.Labels) && slices.Equal(m.Attack, o.Attack) &&
		m.ValidFrom == o.ValidFrom && m.ValidUntil == o.ValidUntil
}

// key is a string that equal metas share (equal then confirms).
func (m *meta) key() string {
	var b strings.Builder
	for _, s := range [...]string{m.Source, m.Path, m.TLP, m.Note, m.Description} {
		b.WriteString(strconv.Itoa(len(s)))
		b.WriteByte(':')
		b.WriteString(s)
	}
	b.WriteString(strconv.Itoa(m.Confidence))
	for _, l := range [2][]string{m.Labels, m.Attack} {
		b.WriteByte('|')
		for _, s := range l {
			b.WriteString(strconv.Itoa(len(s)))
			b.WriteByte(':')
			b.WriteString(s)
		}
	}
	b.WriteByte('|')
	b.WriteString(strconv.FormatInt(m.ValidFrom.UnixNano(), 36))
	b.WriteByte('|')
	b.WriteString(strconv.FormatInt(m.ValidUntil.UnixNano(), 36))
	return b.String()
}

// validAt is Indicator.ValidAt for the indicators of m.
func (m *meta) validAt(t time.Time) bool {
	if t.IsZero() {
		return true
	}
	if !m.ValidFrom.IsZero() && t.Before(m.ValidFrom) {
		return false
	}
	if !m.ValidUntil.IsZero() && !t.Before(m.ValidUntil) {
		return false
	}
	return true
}

// rec is one indicator as stored: no pointers, so the garbage collector
// does not scan the million of them.
type rec struct {
	val, valLen uint32 // the value in the arena
	id, idLen   uint32 // the id in the arena, unless line > 0
	meta        uint32
	line        uint32 // > 0: the id is meta.Path + ":" + line
	typ         Type
}

// arena holds the bytes of values and ids, in chunks that never move or
// change once written: strings view them.
type arena struct {
	chunks [][]byte
}

const (
	chunkBits = 22 // 4 MiB chunks; a longer string gets a chunk of its own
	chunkSize = 1 << chunkBits
)

// add copies s into the arena and returns where it is.
func (a *arena) add(s string) (uint32, uint32) {
	if len(s) == 0 {
		return 0, 0
	}
	n := len(a.chunks)
	if n == 0 || len(a.chunks[n-1])+len(s) > cap(a.chunks[n-1]) {
		a.chunks = append(a.chunks, make([]byte, 0, max(chunkSize, len(s))))
		n++
	}
	c := a.chunks[n-1]
	off := uint32(n-1)<<chunkBits | uint32(len(c))
	a.chunks[n-1] = append(c, s...)
	return off, uint32(len(s))
}

// str returns the string at off.
func (a *arena) str(off, n uint32) string {
	if n == 0 {
		return ""
	}
	c := a.chunks[off>>chunkBits]
	return unsafe.String(&c[:cap(c)][off&(chunkSize-1)], int(n))
}

// store is the indicators of a builder or an index.
type store struct {
	recs  []rec
	metas []meta
	bytes arena
	// metaIdx finds a meta by its key; lastMeta is the one used last.
	metaIdx  map[string]uint32
	lastMeta uint32
}

// internMeta returns the number of a meta equal to m, adding it if new.
func (s *store) internMeta(m *meta) uint32 {
	if len(s.metas) > 0 && s.metas[s.lastMeta].equal(m) {
		return s.lastMeta
	}
	if s.metaIdx == nil {
		s.metaIdx = map[string]uint32{}
	}
	k := m.key()
	if i, ok := s.metaIdx[k]; ok && s.metas[i].equal(m) {
		s.lastMeta = i
		return i
	}
	c := *m
	for _, p := range []*string{&c.Source, &c.Path, &c.TLP, &c.Note, &c.Description} {
		*p = strings.Clone(*p) // not keeping a whole file's text alive
	}
	c.Labels, c.Attack = slices.Clip(c.Labels), slices.Clip(c.Attack)
	i := uint32(len(s.metas))
	s.metas = append(s.metas, c)
	s.metaIdx[k] = i
	s.lastMeta = i
	return i
}

// add stores ind (normalised); line > 0 says its id is Path:line and
// ind.ID is not stored.
func (s *store) add(ind *Indicator, line uint32) {
	m := metaOf(ind)
	r := rec{meta: s.internMeta(&m), typ: ind.Type, line: line}
	r.val, r.valLen = s.bytes.add(ind.Value)
	if line == 0 {
		r.id, r.idLen = s.bytes.add(ind.ID)
	}
	s.recs = append(s.recs, r)
}

func (s *store) value(i uint32) string {
	r := &s.recs[i]
	return s.bytes.str(r.val, r.valLen)
}

// indicator builds indicator i.
func (s *store) indicator(i uint32) Indicator {
	r := &s.recs[i]
	m := &s.metas[r.meta]
	id := s.bytes.str(r.id, r.idLen)
	if r.line > 0 {
		id = m.Path + ":" + strconv.FormatUint(uint64(r.line), 10)
	}
	return Indicator{
		Type: r.typ, Value: s.bytes.str(r.val, r.valLen), Source: m.Source, ID: id, Path: m.Path,
		Confidence: m.Confidence, TLP: m.TLP, Labels: m.Labels, Attack: m.Attack,
		ValidFrom: m.ValidFrom, ValidUntil: m.ValidUntil, Note: m.Note, Description: m.Description,
	}
}

// indicators is an index's store with the *Indicator of each record, built
// on first use 64 at a time: finding a chunk reads a table of 16 bytes per
// 64 indicators, and the pointer into the chunk is computed without
// touching the chunk, so a lookup that finds an indicator pays at most one
// cache miss (the table's entry) for its *Indicator. Next to each chunk of
// indicators is a chunk of one-element matches, so that a lookup that
// finds one indicator returns a slice of it without allocating.
type indicators struct {
	store
	chunks []indChunkRef
	texts  []atomic.Pointer[detText] // by metadata record
	all    func() []Indicator
}

// withText builds indicator i with the text its detections share.
func (x *indicators) withText(i uint32) Indicator {
	ind := x.indicator(i)
	m := x.recs[i].meta
	p := &x.texts[m]
	t := p.Load()
	if t == nil {
		t = newDetText(&ind)
		if !p.CompareAndSwap(nil, t) {
			t = p.Load()
		}
	}
	ind.text = t
	return ind
}

// detText is the part of a detection (NewDetection) that depends only on
// an indicator's metadata, which many indicators share (a feed's source,
// labels, ATT&CK ids): made once per metadata record, on first use,
// rather than for every match (a match of an indicator with a dozen
// ATT&CK ids made two dozen strings).
type detText struct {
	ruleID     string   // "intel:" + source
	tags       []string // "attack." + lower-case ATT&CK id; capacity = length
	labels     string   // joined with ","
	confidence string
}

func newDetText(ind *Indicator) *detText {
	t := &detText{
		ruleID:     "intel:" + ind.Source,
		labels:     strings.Join(ind.Labels, ","),
		confidence: strconv.Itoa(ind.Confidence),
	}
	if len(ind.Attack) > 0 {
		t.tags = make([]string, len(ind.Attack))
		for i, a := range ind.Attack {
			t.tags[i] = "attack." + strings.ToLower(a)
		}
	}
	return t
}

type indChunkRef struct {
	inds    atomic.Pointer[[indChunk]Indicator]
	matches atomic.Pointer[[indChunk]Match] // matches[j].Indicator is &inds[j]
}

const indChunk = 64

func newIndicators(s store) *indicators {
	x := &indicators{store: s, chunks: make([]indChunkRef, (len(s.recs)+indChunk-1)/indChunk), texts: make([]atomic.Pointer[detText], len(s.metas))}
	x.metaIdx = nil
	x.all = sync.OnceValue(func() []Indicator {
		// Whole chunks, so that the chunks not built yet can view it.
		all := make([]Indicator, len(x.recs), len(x.chunks)*indChunk)
		for k := range x.chunks {
			lo := k * indChunk
			if c := x.chunks[k].inds.Load(); c != nil {
				copy(all[lo:min(lo+indChunk, len(all))], c[:])
				continue
			}
			for i := lo; i < min(lo+indChunk, len(all)); i++ {
				all[i] = x.withText(uint32(i))
			}
			x.chunks[k].inds.CompareAndSwap(nil, (*[indChunk]Indicator)(all[lo:lo+indChunk]))
		}
		return all
	})
	return x
}

// chunk returns the chunk of indicators that holds indicator i.
func (x *indicators) chunk(i uint32) *[indChunk]Indicator {
	p := &x.chunks[i/indChunk].inds
	c := p.Load()
	if c == nil {
		c = new([indChunk]Indicator)
		lo := i / indChunk * indChunk
		for j := lo; j < min(lo+indChunk, uint32(len(x.recs))); j++ {
			c[j-lo] = x.withText(j)
		}
		if !p.CompareAndSwap(nil, c) {
			c = p.Load()
		}
	}
	return c
}

// get returns indicator i.
func (x *indicators) get(i uint32) *Indicator {
	return &x.chunk(i)[i%indChunk]
}

// match returns a slice of one Match of indicator i, without
// Warninglists. The slice is shared: it must not be modified (its capacity
// is 1, so appending to it copies).
func (x *indicators) match(i uint32) []Match {
	p := &x.chunks[i/indChunk].matches
	m := p.Load()
	if m == nil {
		c := x.chunk(i)
		m = new([indChunk]Match)
		for j := range m {
			m[j].Indicator = &c[j]
		}
		if !p.CompareAndSwap(nil, m) {
			m = p.Load()
		}
	}
	j := i % indChunk
	return m[j : j+1 : j+1]
}
