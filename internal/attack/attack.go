package attack

import (
	"slices"
	"strings"
)

// Domains of ATT&CK, as in the x_mitre_domains of the STIX data.
const (
	Enterprise = "enterprise-attack"
	ICS        = "ics-attack"
)

// Technique is an ATT&CK technique or sub-technique.
type Technique struct {
	ID      string   // "T1003" or "T1003.001"
	Name    string   // own name: "LSASS Memory" for T1003.001; see FullName
	Tactics []string // tactic shortnames in matrix order, like "credential-access"
	Parent  string   // parent technique ID of a sub-technique ("T1003"), else ""
	Domain  string   // Enterprise or ICS
}

// Tactic is an ATT&CK tactic, a column of a matrix.
type Tactic struct {
	ID     string // "TA0006"
	Short  string // shortname, as in Sigma tags: "credential-access"
	Name   string // "Credential Access"
	Order  int    // 1-based column of the tactic in its domain's matrix
	Domain string // Enterprise or ICS
}

// tacticRow and techniqueRow are the rows of the generated table.
type tacticRow struct{ id, short, name string }

type techniqueRow struct{ id, name, tactics string }

// FullName is the display name of t: "Parent Name: Sub Name" for a
// sub-technique ("OS Credential Dumping: LSASS Memory"), else t.Name.
func (t Technique) FullName() string {
	if t.Parent == "" {
		return t.Name
	}
	p, ok := lookupTechnique(t.Parent, t.Domain)
	if !ok {
		return t.Name
	}
	return p.Name + ": " + t.Name
}

// String returns the ID and full name: "T1003.001 OS Credential Dumping: LSASS Memory".
func (t Technique) String() string { return t.ID + " " + t.FullName() }

// String returns the ID and name: "TA0006 Credential Access".
func (t Tactic) String() string { return t.ID + " " + t.Name }

// ResolvedTactics returns the tactics of t, looked up in t's domain (the
// shortnames of ICS tactics like "impact" are also enterprise shortnames).
func (t Technique) ResolvedTactics() []Tactic {
	var out []Tactic
	for _, s := range t.Tactics {
		if tc, ok := lookupShort(s, t.Domain); ok {
			out = append(out, tc)
		}
	}
	return out
}

// LookupTechnique returns the technique or sub-technique with the given ID,
// in any case ("T1003.001", "t1003.001"). An ID in both the enterprise and
// the ICS matrix is the enterprise technique. Revoked and deprecated
// techniques are not found.
func LookupTechnique(id string) (Technique, bool) {
	id = strings.ToUpper(strings.TrimSpace(id))
	if !isTechniqueID(id) {
		return Technique{}, false
	}
	if t, ok := lookupTechnique(id, Enterprise); ok {
		return t, true
	}
	return lookupTechnique(id, ICS)
}

func lookupTechnique(id, domain string) (Technique, bool) {
	var rows []techniqueRow
	switch domain {
	case Enterprise:
		rows = enterpriseTechniques[:]
	case ICS:
		rows = icsTechniques[:]
	default:
		return LookupTechnique(id)
	}
	i, ok := slices.BinarySearchFunc(rows, id, func(r techniqueRow, id string) int { return strings.Compare(r.id, id) })
	if !ok {
		return Technique{}, false
	}
	r := rows[i]
	t := Technique{ID: r.id, Name: r.name, Tactics: strings.Fields(r.tactics), Domain: domain}
	if p, _, sub := strings.Cut(r.id, "."); sub {
		t.Parent = p
	}
	return t, true
}

// isTechniqueID reports whether id has the form TNNNN or TNNNN.NNN.
func isTechniqueID(id string) bool {
	if len(id) != 5 && len(id) != 9 || id[0] != 'T' || !digits(id[1:5]) {
		return false
	}
	return len(id) == 5 || id[5] == '.' && digits(id[6:])
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// LookupTactic returns the tactic with the given shortname ("credential-access"),
// in any case and with "_" or " " for "-" ("credential_access", "Credential
// Access"), or with the given ID ("TA0006"). A shortname of both an
// enterprise and an ICS tactic (like "impact") is the enterprise tactic.
func LookupTactic(short string) (Tactic, bool) {
	s := strings.ToLower(strings.TrimSpace(short))
	if len(s) == 6 && s[:2] == "ta" && digits(s[2:]) {
		id := strings.ToUpper(s)
		for _, d := range []string{Enterprise, ICS} {
			for i, r := range tacticRows(d) {
				if r.id == id {
					return tacticOf(r, i, d), true
				}
			}
		}
		return Tactic{}, false
	}
	s = strings.NewReplacer("_", "-", " ", "-").Replace(s)
	if t, ok := lookupShort(s, Enterprise); ok {
		return t, true
	}
	return lookupShort(s, ICS)
}

func lookupShort(short, domain string) (Tactic, bool) {
	for i, r := range tacticRows(domain) {
		if r.short == short {
			return tacticOf(r, i, domain), true
		}
	}
	return Tactic{}, false
}

func tacticRows(domain string) []tacticRow {
	switch domain {
	case Enterprise:
		return enterpriseTactics[:]
	case ICS:
		return icsTactics[:]
	}
	return nil
}

func tacticOf(r tacticRow, i int, domain string) Tactic {
	return Tactic{ID: r.id, Short: r.short, Name: r.name, Order: i + 1, Domain: domain}
}

// Tactics returns the enterprise tactics in matrix order, from
// reconnaissance to impact.
func Tactics() []Tactic { return allTactics(Enterprise) }

// ICSTactics returns the ICS tactics in matrix order, from initial-access
// to impact.
func ICSTactics() []Tactic { return allTactics(ICS) }

func allTactics(domain string) []Tactic {
	rows := tacticRows(domain)
	out := make([]Tactic, len(rows))
	for i, r := range rows {
		out[i] = tacticOf(r, i, domain)
	}
	return out
}

// ParseTags returns the tactics and techniques named by Sigma tags:
// "attack.<tactic shortname>" (also with "_" for "-", or a TA ID) and
// "attack.tNNNN[.NNN]", with the "attack." prefix in any case. Software
// ("attack.s0002") and group ("attack.g0016") tags, other namespaces and
// names that are not in the table (revoked, deprecated or unknown IDs) are
// ignored. Each tactic and technique is returned once: tactics enterprise
// first then ICS, each in matrix order; techniques sorted by ID.
func ParseTags(tags []string) (tactics []Tactic, techniques []Technique) {
	for _, tag := range tags {
		tag = strings.TrimSpace(tag)
		if len(tag) < len("attack.") || !strings.EqualFold(tag[:len("attack.")], "attack.") {
			continue
		}
		name := tag[len("attack."):]
		if len(name) > 0 && (name[0] == 't' || name[0] == 'T') && digits(name[1:min(len(name), 5)]) {
			if t, ok := LookupTechnique(name); ok && !slices.ContainsFunc(techniques, func(u Technique) bool { return u.ID == t.ID }) {
				techniques = append(techniques, t)
			}
			continue
		}
		if t, ok := LookupTactic(name); ok && !slices.ContainsFunc(tactics, func(u Tactic) bool { return u.ID == t.ID }) {
			tactics = append(tactics, t)
		}
	}
	slices.SortFunc(tactics, func(a, b Tactic) int {
		if a.Domain != b.Domain {
			if a.Domain == Enterprise {
				return -1
			}
			return 1
		}
		return a.Order - b.Order
	})
	slices.SortFunc(techniques, func(a, b Technique) int { return strings.Compare(a.ID, b.ID) })
	return tactics, techniques
}
