package normalize

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/vigil-defense/vigil/internal/event"
	"github.com/vigil-defense/vigil/sigma"
)

// Logsource is one full logsource triple an event belongs to. Values are
// lower case; an empty value means the table says nothing about that part.
type Logsource struct{ Category, Product, Service string }

// String renders the triple as category/product/service, "-" for empty parts.
func (l Logsource) String() string {
	d := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	return d(l.Category) + "/" + d(l.Product) + "/" + d(l.Service)
}

// Class is what the table says about one kind of event (a combination of key
// field values).
type Class struct {
	Key        string      // the class key (see Table.Key)
	Logsources []Logsource // every full triple the event belongs to, e.g. {process_creation, windows, sysmon}; empty if unknown
	Aliases    []Alias     // Sigma field name -> event field name for events of this class
}

// Alias says that a rule's Sigma field name reads an event field of another
// name, e.g. {Image, NewProcessName} for Security 4688.
type Alias struct{ Sigma, Event string }

// Alias returns the event field a Sigma field name reads for events of this
// class: the alias if there is one, else the name itself.
func (c *Class) Alias(sigmaName string) string {
	for _, a := range c.Aliases {
		if a.Sigma == sigmaName {
			return a.Event
		}
	}
	return sigmaName
}

// Table routes events to logsources and says which fields are aliases. It is
// immutable after construction and safe for concurrent use.
type Table struct {
	specs []*sourceSpec // merged sources in order, disabled ones removed
	cased []string      // key fields compared case-sensitively

	keys []keyField
	// slot[len(name)][name[0]] is 1 + the index in buckets of the key
	// fields with that length and first byte, or 0: one load rejects most
	// field names.
	slot    [maxFieldName + 1][128]uint8
	buckets [][]uint8
	sources []source
	all     []Logsource // every triple any source names, deduplicated
}

type keyField struct {
	name     string
	presence bool // only presence matters: the value is not in the key
	cased    bool
	maxLen   int // longest condition value; longer event values cannot match
}

type source struct {
	conds      []cond
	logsources []Logsource
	aliases    []Alias
}

type cond struct {
	k      int
	kind   condKind
	values []string // folded unless the field is cased
}

// Key-byte tags; see Table.Key.
const (
	tagAbsent  = 0
	tagPresent = 1 // presence-only field, or a value no condition can match
	tagValue   = 2 // followed by a length byte and the (folded) value
)

//go:embed tables/*.yml
var tablesFS embed.FS

var defaultTable = sync.OnceValue(func() *Table {
	t, err := loadFS(tablesFS, "tables")
	if err != nil {
		// The embedded tables are part of the program and tested.
		panic("normalize: embedded tables: " + err.Error())
	}
	return t
})

// Default returns the tables embedded in vigil (the YAML files under
// internal/normalize/tables). Every call returns the same immutable table.
func Default() *Table { return defaultTable() }

func loadFS(fsys fs.FS, dir string) (*Table, error) {
	names, err := fs.Glob(fsys, dir+"/*.yml")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var t *Table
	for _, n := range names {
		data, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, err
		}
		if t, err = Load(t, data, path.Join("internal/normalize", n)); err != nil {
			return nil, err
		}
	}
	if t == nil {
		return nil, fmt.Errorf("no tables in %s", dir)
	}
	return t, nil
}

// Load returns a table made of base (which may be nil) extended by the table
// file data, read from name (used in error positions). A source of the file
// whose name is already in base replaces it in place, or removes it if it
// says "disabled: true"; any other source is added after base's. The error,
// if not nil, is a sigma.ErrorList with name:line:col, what is wrong and how
// to fix it; base is never changed.
func Load(base *Table, data []byte, name string) (*Table, error) {
	fs, err := parseFile(name, data)
	if err != nil {
		return nil, err
	}
	var errs sigma.ErrorList
	var specs []*sourceSpec
	cased := []string{}
	if base != nil {
		specs = slices.Clone(base.specs)
		cased = slices.Clone(base.cased)
	}
	for _, c := range fs.Cased {
		if !slices.Contains(cased, c) {
			cased = append(cased, c)
		}
	}
	for _, s := range fs.Sources {
		i := slices.IndexFunc(specs, func(b *sourceSpec) bool { return b.Name == s.Name })
		switch {
		case i >= 0 && s.Disabled:
			specs = slices.Delete(specs, i, i+1)
		case i >= 0:
			specs[i] = s
		case s.Disabled:
			errs.Add(s.Pos, fmt.Sprintf("source %q is disabled but no earlier table defines it", s.Name), "check the name against the built-in tables")
		default:
			specs = append(specs, s)
		}
	}
	t, cerrs := compile(specs, cased)
	errs = append(errs, cerrs...)
	if len(errs) > 0 {
		errs.Sort()
		return nil, errs
	}
	return t, nil
}

func compile(specs []*sourceSpec, cased []string) (*Table, sigma.ErrorList) {
	var errs sigma.ErrorList
	t := &Table{specs: specs, cased: cased}
	idx := map[string]int{}
	type info struct {
		values bool
		maxLen int
		pos    sigma.Pos
	}
	fields := map[string]*info{}
	for _, s := range specs {
		for _, c := range s.When {
			f := fields[c.Field]
			if f == nil {
				f = &info{pos: c.Pos}
				fields[c.Field] = f
			}
			if c.Kind == condValues {
				f.values = true
				for _, v := range c.Values {
					f.maxLen = max(f.maxLen, len(v))
				}
			}
		}
	}
	names := sortedKeys(fields)
	if len(names) > maxKeyFields {
		errs.Add(fields[names[maxKeyFields]].pos, fmt.Sprintf("too many key fields (%d, at most %d)", len(names), maxKeyFields),
			"conditions should only use the few fields that identify a kind of event (Channel, EventID, _path, ...)")
		return nil, errs
	}
	for i, n := range names {
		f := fields[n]
		idx[n] = i
		t.keys = append(t.keys, keyField{name: n, presence: !f.values, cased: slices.Contains(cased, n), maxLen: f.maxLen})
		if n[0] >= 128 {
			errs.Add(fields[n].pos, fmt.Sprintf("key field %q must start with an ASCII character", n), "")
			continue
		}
		b := &t.slot[len(n)][n[0]]
		if *b == 0 {
			t.buckets = append(t.buckets, nil)
			*b = uint8(len(t.buckets))
		}
		t.buckets[*b-1] = append(t.buckets[*b-1], uint8(i))
	}
	for _, s := range specs {
		src := source{logsources: s.Logsources, aliases: s.Aliases}
		for _, c := range s.When {
			k := idx[c.Field]
			cc := cond{k: k, kind: c.Kind}
			for _, v := range c.Values {
				if !t.keys[k].cased {
					v = foldString(v)
				}
				cc.values = append(cc.values, v)
			}
			src.conds = append(src.conds, cc)
		}
		t.sources = append(t.sources, src)
		for _, ls := range s.Logsources {
			if !slices.Contains(t.all, ls) {
				t.all = append(t.all, ls)
			}
		}
	}
	return t, errs
}

// KeyFields returns the names of the fields Key reads, in key order.
func (t *Table) KeyFields() []string {
	out := make([]string, len(t.keys))
	for i, k := range t.keys {
		out[i] = k.name
	}
	return out
}

// Key appends to dst a compact key made of the values of the table's key
// fields (the fields its conditions name) and returns it. Two events with
// the same key belong to the same Class. For each key field in KeyFields
// order the key holds one byte saying whether the field is absent or present
// and, for fields whose value matters, the value (ASCII case-folded unless
// the table lists the field under "cased"); a value longer than every
// condition value of its field cannot match and is kept as "present" only.
// The first field of a name counts. Key does not allocate when dst has room.
func (t *Table) Key(ev *event.Event, dst []byte) []byte {
	var at [maxKeyFields]int32
	for i := range t.keys {
		at[i] = -1
	}
	n := ev.Len()
	for i := 0; i < n; i++ {
		name := ev.Name(i)
		l := len(name)
		if l == 0 || l > maxFieldName || name[0] >= 128 {
			continue
		}
		b := t.slot[l][name[0]]
		if b == 0 {
			continue
		}
		for _, k := range t.buckets[b-1] {
			if at[k] < 0 && t.keys[k].name == name {
				at[k] = int32(i)
			}
		}
	}
	for k := range t.keys {
		kf := &t.keys[k]
		i := at[k]
		switch {
		case i < 0:
			dst = append(dst, tagAbsent)
		case kf.presence:
			dst = append(dst, tagPresent)
		default:
			v := ev.Bytes(int(i))
			if len(v) > kf.maxLen {
				dst = append(dst, tagPresent)
				continue
			}
			dst = append(dst, tagValue, byte(len(v)))
			start := len(dst)
			dst = append(dst, v...)
			if kf.cased {
				continue
			}
			for j, c := range dst[start:] {
				if 'A' <= c && c <= 'Z' {
					dst[start+j] = c + 'a' - 'A'
				}
			}
		}
	}
	return dst
}

// Classify returns the class of the event: every logsource triple and alias
// of every table source whose conditions the event meets. It depends only on
// Key(ev), so a caller may cache classes by key (see ClassifyKey).
func (t *Table) Classify(ev *event.Event) *Class {
	return t.ClassifyKey(t.Key(ev, nil))
}

// ClassifyKey returns the class of events whose key is key (as made by Key
// on this table). A key that Key did not make yields an empty class.
func (t *Table) ClassifyKey(key []byte) *Class {
	c := &Class{Key: string(key)}
	type obs struct {
		tag byte
		val string
	}
	vals := make([]obs, len(t.keys))
	p := 0
	for k := range t.keys {
		if p >= len(key) {
			return c
		}
		o := obs{tag: key[p]}
		p++
		if o.tag == tagValue {
			if p >= len(key) || p+1+int(key[p]) > len(key) {
				return c
			}
			l := int(key[p])
			o.val = string(key[p+1 : p+1+l])
			p += 1 + l
		}
		vals[k] = o
	}
	if p != len(key) {
		return c
	}
	aliasAt := map[string]int{}
	for _, s := range t.sources {
		ok := true
		for _, cd := range s.conds {
			o := vals[cd.k]
			switch cd.kind {
			case condAbsent:
				ok = o.tag == tagAbsent
			case condPresent:
				ok = o.tag != tagAbsent
			default:
				ok = o.tag == tagValue && slices.Contains(cd.values, o.val)
			}
			if !ok {
				break
			}
		}
		if !ok {
			continue
		}
		c.Logsources = append(c.Logsources, s.logsources...)
		for _, a := range s.aliases {
			if i, dup := aliasAt[a.Sigma]; dup {
				c.Aliases[i] = a // a later source overrides
				continue
			}
			aliasAt[a.Sigma] = len(c.Aliases)
			c.Aliases = append(c.Aliases, a)
		}
	}
	c.Logsources = reduce(c.Logsources)
	return c
}

// reduce removes duplicate triples and triples that another one makes
// redundant (every non-empty part equal), keeping the first-seen order.
func reduce(ls []Logsource) []Logsource {
	var out []Logsource
	for i, a := range ls {
		drop := false
		for j, b := range ls {
			if i == j {
				continue
			}
			if a == b && j < i || a != b && covers(b, a) {
				drop = true
				break
			}
		}
		if !drop {
			out = append(out, a)
		}
	}
	return out
}

// covers reports whether every non-empty part of a equals that part of b.
func covers(b, a Logsource) bool {
	return (a.Category == "" || a.Category == b.Category) &&
		(a.Product == "" || a.Product == b.Product) &&
		(a.Service == "" || a.Service == b.Service)
}

// agrees reports whether the triple t agrees with every non-empty field of
// the rule logsource ls, ignoring case.
func agrees(ls sigma.Logsource, t Logsource) bool {
	return (ls.Category == "" || strings.EqualFold(ls.Category, t.Category)) &&
		(ls.Product == "" || strings.EqualFold(ls.Product, t.Product)) &&
		(ls.Service == "" || strings.EqualFold(ls.Service, t.Service))
}

// RuleMatches reports whether a rule with logsource ls applies to events of
// class c: some triple of c agrees with every non-empty field of ls
// (case-insensitive). A class without triples matches no rule.
func (t *Table) RuleMatches(ls sigma.Logsource, c *Class) bool {
	if c == nil {
		return false
	}
	for _, tr := range c.Logsources {
		if agrees(ls, tr) {
			return true
		}
	}
	return false
}

// Known reports whether any class the table can produce satisfies ls; rules
// whose logsource is not Known can never match and are worth reporting.
func (t *Table) Known(ls sigma.Logsource) bool {
	for _, tr := range t.all {
		if agrees(ls, tr) {
			return true
		}
	}
	return false
}

// Logsources returns every triple the table can assign, in table order.
func (t *Table) Logsources() []Logsource { return slices.Clone(t.all) }

func foldString(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
