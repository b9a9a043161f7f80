package taxii

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Object is one STIX object in a collection, with what the server says
// about it.
type Object struct {
	ID        string    // the STIX id
	Type      string    // the STIX type
	Version   time.Time // the object's modified time (created for an unversioned object)
	DateAdded time.Time // when the collection got this version
	Raw       json.RawMessage
}

// Position is a place in a collection's order: by date added, then id.
type Position struct {
	DateAdded time.Time
	ID        string
}

// less orders positions as collections are paged.
func (p Position) less(q Position) bool {
	if c := p.DateAdded.Compare(q.DateAdded); c != 0 {
		return c < 0
	}
	return p.ID < q.ID
}

// Filter selects objects of a collection.
type Filter struct {
	AddedAfter time.Time   // only objects added after this time (zero: all)
	After      Position    // only objects after this position (zero: from the start)
	Types      []string    // only these STIX types (empty: all)
	IDs        []string    // only these ids (empty: all)
	Versions   []time.Time // only objects whose version is one of these (empty: all)
	Limit      int         // at most this many objects (0: no limit)
}

// Page is what a Store lists: objects in order and whether more match.
type Page struct {
	Objects []Object
	More    bool
}

// Store holds the objects of one collection, the latest version of each.
// Implementations are safe for concurrent use.
type Store interface {
	// Add adds objects, replacing any version of the same id. An object
	// without a DateAdded is added now.
	Add(ctx context.Context, objs ...Object) error
	// List returns the objects that f selects, ordered by date added then
	// id: an order that adding objects never changes before a position a
	// client has reached.
	List(ctx context.Context, f Filter) (Page, error)
}

// MemoryStore is a Store in memory. The zero value is ready to use.
type MemoryStore struct {
	mu    sync.RWMutex
	byID  map[string]int // id -> index in objs
	objs  []Object       // sorted by position
	dirty bool
}

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns an empty store.
func NewMemoryStore() *MemoryStore { return &MemoryStore{} }

// taxiiPrecision is the precision of the dates added the server keeps and
// writes: a client that sends back X-TAXII-Date-Added-Last as added_after
// must not get the last object again.
const taxiiPrecision = time.Microsecond

// Add implements Store.
func (s *MemoryStore) Add(ctx context.Context, objs ...Object) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byID == nil {
		s.byID = map[string]int{}
	}
	for _, o := range objs {
		if o.ID == "" {
			return errors.New("add object: no id")
		}
		if o.DateAdded.IsZero() {
			o.DateAdded = time.Now()
		}
		o.DateAdded = o.DateAdded.UTC().Truncate(taxiiPrecision)
		if i, ok := s.byID[o.ID]; ok {
			s.objs[i] = o
		} else {
			s.byID[o.ID] = len(s.objs)
			s.objs = append(s.objs, o)
		}
		s.dirty = true
	}
	return nil
}

func (s *MemoryStore) sortLocked() {
	slices.SortFunc(s.objs, func(a, b Object) int {
		if c := a.DateAdded.Compare(b.DateAdded); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	for i, o := range s.objs {
		s.byID[o.ID] = i
	}
	s.dirty = false
}

// List implements Store.
func (s *MemoryStore) List(ctx context.Context, f Filter) (Page, error) {
	s.mu.RLock()
	if s.dirty {
		s.mu.RUnlock()
		s.mu.Lock()
		if s.dirty {
			s.sortLocked()
		}
		s.mu.Unlock()
		s.mu.RLock()
	}
	defer s.mu.RUnlock()
	// Objects come after both bounds: the later one is where to start.
	bound := f.After
	if aa := (Position{DateAdded: f.AddedAfter.UTC(), ID: "\U0010FFFF"}); !f.AddedAfter.IsZero() && bound.less(aa) {
		bound = aa // after every id added at that time
	}
	i := sort.Search(len(s.objs), func(i int) bool {
		return bound.less(Position{s.objs[i].DateAdded, s.objs[i].ID})
	})
	var p Page
	for ; i < len(s.objs); i++ {
		o := s.objs[i]
		if len(f.Types) > 0 && !slices.Contains(f.Types, o.Type) || len(f.IDs) > 0 && !slices.Contains(f.IDs, o.ID) {
			continue
		}
		if len(f.Versions) > 0 && !slices.ContainsFunc(f.Versions, o.Version.Equal) {
			continue
		}
		if f.Limit > 0 && len(p.Objects) == f.Limit {
			p.More = true
			break
		}
		p.Objects = append(p.Objects, o)
	}
	return p, nil
}

// The next cursor is opaque to clients: base64url of a version byte, the
// date added in microseconds since the Unix epoch (a varint) and the id.
const cursorVersion = 1

// maxCursorID bounds the id in a cursor (STIX ids are type--uuid, well
// under this).
const maxCursorID = 256

func encodeCursor(p Position) string {
	b := make([]byte, 0, 16+len(p.ID))
	b = append(b, cursorVersion)
	b = binary.AppendVarint(b, p.DateAdded.UnixMicro())
	b = append(b, p.ID...)
	return base64.RawURLEncoding.EncodeToString(b)
}

var errCursor = errors.New("not a next value this server gave (it may be from another server or an older version)")

func decodeCursor(s string) (Position, error) {
	if len(s) > base64.RawURLEncoding.EncodedLen(1+binary.MaxVarintLen64+maxCursorID) {
		return Position{}, errCursor
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) < 2 || b[0] != cursorVersion {
		return Position{}, errCursor
	}
	us, n := binary.Varint(b[1:])
	if n <= 0 || us <= 0 {
		return Position{}, errCursor
	}
	id := b[1+n:]
	if len(id) == 0 || len(id) > maxCursorID || !utf8.Valid(id) {
		return Position{}, errCursor
	}
	t := time.UnixMicro(us).UTC()
	if t.Year() > 9999 {
		return Position{}, errCursor
	}
	return Position{DateAdded: t, ID: string(id)}, nil
}
