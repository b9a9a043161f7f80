package intel

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Builder collects indicators and warninglists, then builds an Index. It is
// not safe for concurrent use. The zero value is not ready: use NewBuilder.
type Builder struct {
	st    store
	warns []Warninglist
	files []*FileStats
	errs  []error
	// maxInflated bounds a compressed feed's files (MaxInflated if 0).
	maxInflated int64
}

// NewBuilder returns an empty builder.
func NewBuilder() *Builder { return &Builder{} }

// Add normalises ind.Value for ind.Type (refining the type where the value
// says more, e.g. an "ip" that is a network) and adds it. A value that is not
// of its type is an error and is not added.
func (b *Builder) Add(ind Indicator) error {
	return b.add(ind, 0)
}

// add is Add; line > 0 says ind's id is ind.Path:line (ind.ID is ignored),
// built when the indicator is returned.
func (b *Builder) add(ind Indicator, line uint32) error {
	t, v, err := Normalize(ind.Type, ind.Value)
	if err != nil {
		return err
	}
	ind.Type, ind.Value = t, v
	if ind.Confidence < 0 {
		ind.Confidence = 0
	} else if ind.Confidence > 100 {
		ind.Confidence = 100
	}
	b.st.add(&ind, line)
	return nil
}

// Warninglist is a MISP warninglist: values that are well known and usually
// benign (public DNS resolvers, cloud networks, top sites).
type Warninglist struct {
	Name        string
	Description string
	// Type says how values compare: "cidr" (an address inside a network),
	// "hostname" (the domain and its sub-domains), "string" (exact, case
	// folded), "substring" (the value contains the entry) or "regex".
	Type    string
	Entries []string
	Path    string
	// Attributes are the MISP attribute types the list applies to
	// (matching_attributes: ip-src, domain, url, email-src, sha256…): a
	// value is checked against the list only if its type is one of them
	// (see attributeTypes). None: the list applies to every value.
	Attributes []string
}

// AddWarninglist adds a warninglist. Entries that do not fit the list's
// type are returned as errors and left out.
func (b *Builder) AddWarninglist(w Warninglist) []error {
	switch w.Type {
	case "cidr", "hostname", "string", "substring", "regex":
	default:
		return []error{fmt.Errorf("warninglist %q: unknown type %q (want cidr, hostname, string, substring or regex)", w.Name, w.Type)}
	}
	b.warns = append(b.warns, w)
	return nil
}

// Stats returns what each loaded file contributed, in load order.
func (b *Builder) Stats() []FileStats {
	out := make([]FileStats, len(b.files))
	for i, f := range b.files {
		out[i] = *f
	}
	return out
}

// Errors returns the errors of the files loaded so far.
func (b *Builder) Errors() []error { return b.errs }

// Build returns the index of everything added. Indicators with the same
// type, value, source and file are kept once. The builder may be used again
// afterwards; the index does not share its state.
func (b *Builder) Build() (*Index, []error) {
	x := &Index{set: newSet()}
	src := &b.st
	// Size the tables and filters for the indicators of each type
	// (duplicates are few), so that tables are not copied as they grow.
	var count [numTypes]int
	for i := range src.recs {
		count[src.recs[i].typ]++
	}
	x.set.filt = newFilter(filterKeys(count))
	x.set.reserve(count)
	st := store{recs: make([]rec, 0, len(src.recs)), metas: slices.Clip(src.metas), bytes: arena{chunks: slices.Clone(src.bytes.chunks)}}
	for _, r := range src.recs {
		n := uint32(len(st.recs))
		v := st.bytes.str(r.val, r.valLen)
		m := &st.metas[r.meta]
		dup := func(j uint32) bool {
			o := &st.recs[j]
			if o.typ != r.typ {
				return false
			}
			if om := &st.metas[o.meta]; o.meta != r.meta && (om.Source != m.Source || om.Path != m.Path) {
				return false
			}
			return st.value(j) == v
		}
		if x.set.insert(r.typ, v, n, dup) {
			st.recs = append(st.recs, r)
			x.types[r.typ]++
		}
	}
	x.inds = newIndicators(st)
	var errs []error
	if len(b.warns) > 0 {
		x.warn, errs = buildWarn(b.warns)
	}
	return x, errs
}

// filterKeys returns how many keys of each filter kind indicators of these
// counts per type make.
func filterKeys(count [numTypes]int) (k [numKinds]int) {
	for t, n := range count {
		k[typeKind[t]] += n
	}
	return k
}

func buildWarn(ws []Warninglist) (*warnIndex, []error) {
	w := &warnIndex{set: newSet(), exact: map[string][]uint16{}}
	var errs []error
	for _, wl := range ws {
		l := uint16(len(w.names))
		w.names = append(w.names, wl.Name)
		w.types = append(w.types, attributeTypes(wl.Attributes))
		for _, e := range wl.Entries {
			e = strings.TrimSpace(e)
			if e == "" {
				continue
			}
			switch wl.Type {
			case "cidr":
				t, v, ok := parseIPish(e)
				if !ok {
					errs = append(errs, fmt.Errorf("%s: warninglist %q: %q is not an address or network", wl.Path, wl.Name, e))
					continue
				}
				w.set.insert(t, v, uint32(len(w.lists)), nil)
				w.lists = append(w.lists, l)
			case "hostname":
				d := strings.TrimPrefix(strings.TrimSuffix(strings.ToLower(e), "."), ".")
				if !validDomain(d) {
					// a bare TLD or an odd entry: compare exactly
					w.exact[d] = appendList(w.exact[d], l)
					continue
				}
				w.set.insert(TypeDomain, d, uint32(len(w.lists)), nil)
				w.lists = append(w.lists, l)
			case "string":
				k := strings.ToLower(e)
				if t, v := Detect(e); t != TypeUnknown {
					k = v
				}
				w.exact[k] = appendList(w.exact[k], l)
			case "substring":
				w.substr.add(string(appendLower(nil, e)), l)
			case "regex":
				re, err := compileMISPRegexp(e)
				if err != nil {
					errs = append(errs, fmt.Errorf("%s: warninglist %q: %w", wl.Path, wl.Name, err))
					continue
				}
				w.regexps = append(w.regexps, warnRegexp{re, l})
			}
		}
	}
	return w, errs
}

func appendList(ls []uint16, l uint16) []uint16 {
	for _, x := range ls {
		if x == l {
			return ls
		}
	}
	return append(ls, l)
}

// compileMISPRegexp compiles a PCRE-style "/pattern/flags" as MISP writes
// them.
func compileMISPRegexp(s string) (*regexp.Regexp, error) {
	pat, flags := s, ""
	if strings.HasPrefix(s, "/") {
		if i := strings.LastIndexByte(s, '/'); i > 0 {
			pat, flags = s[1:i], s[i+1:]
		}
	}
	prefix := ""
	for _, f := range flags {
		switch f {
		case 'i', 'm', 's':
			prefix += string(f)
		case 'g', 'u', 'x':
		default:
			return nil, fmt.Errorf("regular expression %q: unknown flag %q", s, f)
		}
	}
	if prefix != "" {
		pat = "(?" + prefix + ")" + pat
	}
	re, err := regexp.Compile(pat)
	if err != nil {
		return nil, fmt.Errorf("regular expression %q: %w", s, err)
	}
	return re, nil
}
