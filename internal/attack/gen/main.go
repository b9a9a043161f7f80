// Command gen writes table_gen.go, the MITRE ATT&CK technique and tactic
// table of package attack, from a copy of the STIX 2 data of mitre/cti.
//
// Usage (from internal/attack, see the go:generate line in doc.go):
//
//	go run ./gen -corpus ../../../shared/corpus/attack -out table_gen.go
//
// The corpus folder holds LICENSE.txt (MITRE's terms of use), SOURCE.txt
// (where the copy comes from, naming the ATT&CK version) and, for each of
// enterprise-attack and ics-attack, the folders attack-pattern/ and
// x-mitre-tactic/ with one STIX bundle (or bare object) per JSON file.
//
// The output depends only on the content of those files: objects are
// sorted, and the file is formatted with go/format.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"go/format"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// domain describes one ATT&CK matrix in the corpus.
type domain struct {
	dir       string // folder under the corpus, also the x_mitre_domains value
	killChain string // kill_chain_name of the phases that name this domain's tactics
	goName    string // prefix of the generated variables
	// order lists the tactic IDs in the order of the domain's matrix (the
	// tactic_refs of its x-mitre-matrix object, which the corpus does not
	// carry). The generator fails if the corpus has a different set of
	// tactics, so that a new ATT&CK release cannot be half-imported.
	order []string
}

var domains = []domain{
	{
		dir: "enterprise-attack", killChain: "mitre-attack", goName: "enterprise",
		order: []string{
			"TA0043", // reconnaissance
			"TA0042", // resource-development
			"TA0001", // initial-access
			"TA0002", // execution
			"TA0003", // persistence
			"TA0004", // privilege-escalation
			"TA0005", // defense-evasion
			"TA0006", // credential-access
			"TA0007", // discovery
			"TA0008", // lateral-movement
			"TA0009", // collection
			"TA0011", // command-and-control
			"TA0010", // exfiltration
			"TA0040", // impact
		},
	},
	{
		dir: "ics-attack", killChain: "mitre-ics-attack", goName: "ics",
		order: []string{
			"TA0108", // initial-access
			"TA0104", // execution
			"TA0110", // persistence
			"TA0111", // privilege-escalation
			"TA0103", // evasion
			"TA0102", // discovery
			"TA0109", // lateral-movement
			"TA0100", // collection
			"TA0101", // command-and-control
			"TA0107", // inhibit-response-function
			"TA0106", // impair-process-control
			"TA0105", // impact
		},
	},
}

// object is the part of a STIX 2 object the generator reads.
type object struct {
	Type               string `json:"type"`
	ID                 string `json:"id"`
	Name               string `json:"name"`
	Revoked            bool   `json:"revoked"`
	Deprecated         bool   `json:"x_mitre_deprecated"`
	Shortname          string `json:"x_mitre_shortname"`
	IsSubtechnique     bool   `json:"x_mitre_is_subtechnique"`
	ExternalReferences []struct {
		SourceName string `json:"source_name"`
		ExternalID string `json:"external_id"`
	} `json:"external_references"`
	KillChainPhases []struct {
		KillChainName string `json:"kill_chain_name"`
		PhaseName     string `json:"phase_name"`
	} `json:"kill_chain_phases"`
	Objects []json.RawMessage `json:"objects"` // when Type is "bundle"
}

// attackID returns the ATT&CK ID of o: the external_id of its external
// reference whose source_name is "mitre-attack".
func (o *object) attackID() (string, error) {
	id := ""
	for _, r := range o.ExternalReferences {
		if r.SourceName != "mitre-attack" || r.ExternalID == "" {
			continue
		}
		if id != "" && id != r.ExternalID {
			return "", fmt.Errorf("%s: two mitre-attack IDs %s and %s", o.ID, id, r.ExternalID)
		}
		id = r.ExternalID
	}
	if id == "" {
		return "", fmt.Errorf("%s (%q): no mitre-attack external_id", o.ID, o.Name)
	}
	return id, nil
}

type tactic struct {
	id, short, name string
}

type technique struct {
	id, name string
	tactics  []string // shortnames, in matrix order
}

type table struct {
	version, commit string
	license         string // the ATT&CK part of LICENSE.txt
	tactics         [][]tactic
	techniques      [][]technique
}

var (
	techniqueID = regexp.MustCompile(`^T[0-9]{4}(\.[0-9]{3})?$`)
	tacticID    = regexp.MustCompile(`^TA[0-9]{4}$`)
	shortname   = regexp.MustCompile(`^[a-z]+(-[a-z]+)*$`)
	versionRE   = regexp.MustCompile(`ATT&CK v([0-9]+(?:\.[0-9]+)*)`)
	commitRE    = regexp.MustCompile(`(?m)^Commit:\s+([0-9a-f]{40})\s*$`)
)

func main() {
	corpus := flag.String("corpus", "", "folder with the ATT&CK STIX corpus (LICENSE.txt, SOURCE.txt, enterprise-attack/, ics-attack/)")
	out := flag.String("out", "table_gen.go", "output file")
	version := flag.String("version", "", "ATT&CK version, like 18.1 (default: read from SOURCE.txt)")
	flag.Parse()
	if *corpus == "" || flag.NArg() != 0 {
		flag.Usage()
		os.Exit(2)
	}
	src, err := Generate(*corpus, *version)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	if err := os.WriteFile(*out, src, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

// Generate reads the corpus and returns the formatted table_gen.go. An
// empty version is read from the corpus's SOURCE.txt.
func Generate(corpus, version string) ([]byte, error) {
	t, err := load(corpus, version)
	if err != nil {
		return nil, err
	}
	return t.render()
}

func load(corpus, version string) (*table, error) {
	t := &table{version: version}
	lic, err := os.ReadFile(filepath.Join(corpus, "LICENSE.txt"))
	if err != nil {
		return nil, err
	}
	if t.license, err = attackLicense(string(lic)); err != nil {
		return nil, err
	}
	source, err := os.ReadFile(filepath.Join(corpus, "SOURCE.txt"))
	if err != nil && (version == "" || !errors.Is(err, os.ErrNotExist)) {
		return nil, err
	}
	if t.version == "" {
		m := versionRE.FindSubmatch(source)
		if m == nil {
			return nil, errors.New("SOURCE.txt names no ATT&CK version (\"ATT&CK vN.N\"); use -version")
		}
		t.version = string(m[1])
	}
	if m := commitRE.FindSubmatch(source); m != nil {
		t.commit = string(m[1])
	}
	for _, d := range domains {
		tac, tech, err := loadDomain(corpus, d)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", d.dir, err)
		}
		t.tactics = append(t.tactics, tac)
		t.techniques = append(t.techniques, tech)
	}
	return t, nil
}

// attackLicense returns the ATT&CK section of LICENSE.txt (which also
// carries CAPEC's terms), checking that it holds the copyright designation.
func attackLicense(s string) (string, error) {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	if i := strings.Index(s, "\nCAPEC"); i >= 0 {
		s = s[:i]
	}
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "ATT&CK") || !strings.Contains(s, "The MITRE Corporation. This work is reproduced and distributed with the permission of The MITRE Corporation.") {
		return "", errors.New("LICENSE.txt: no ATT&CK section with MITRE's copyright designation")
	}
	return s, nil
}

// readObjects returns the STIX objects of type typ in the JSON files of dir,
// in file name order. A file holds a bundle or a bare object.
func readObjects(dir, typ string) ([]*object, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s: no JSON files", dir)
	}
	slices.Sort(files)
	var objs []*object
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var o object
		if err := json.Unmarshal(data, &o); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		list := []*object{&o}
		if o.Type == "bundle" {
			list = list[:0]
			for _, raw := range o.Objects {
				var e object
				if err := json.Unmarshal(raw, &e); err != nil {
					return nil, fmt.Errorf("%s: %w", f, err)
				}
				list = append(list, &e)
			}
		}
		for _, e := range list {
			if e.Type == typ {
				objs = append(objs, e)
			}
		}
	}
	return objs, nil
}

func loadDomain(corpus string, d domain) ([]tactic, []technique, error) {
	objs, err := readObjects(filepath.Join(corpus, d.dir, "x-mitre-tactic"), "x-mitre-tactic")
	if err != nil {
		return nil, nil, err
	}
	byID := map[string]tactic{}
	for _, o := range objs {
		if o.Revoked || o.Deprecated {
			continue
		}
		id, err := o.attackID()
		if err != nil {
			return nil, nil, err
		}
		if !tacticID.MatchString(id) || !shortname.MatchString(o.Shortname) || o.Name == "" {
			return nil, nil, fmt.Errorf("tactic %s: bad ID, shortname %q or name %q", id, o.Shortname, o.Name)
		}
		if _, dup := byID[id]; dup {
			return nil, nil, fmt.Errorf("tactic %s twice", id)
		}
		byID[id] = tactic{id: id, short: o.Shortname, name: o.Name}
	}
	var tactics []tactic
	rank := map[string]int{} // shortname → position in the matrix
	for i, id := range d.order {
		tc, ok := byID[id]
		if !ok {
			return nil, nil, fmt.Errorf("tactic %s of the matrix order is not in the corpus", id)
		}
		if _, dup := rank[tc.short]; dup {
			return nil, nil, fmt.Errorf("tactic shortname %q twice", tc.short)
		}
		rank[tc.short] = i
		tactics = append(tactics, tc)
		delete(byID, id)
	}
	if len(byID) > 0 {
		return nil, nil, fmt.Errorf("tactics %v are not in the generator's matrix order; update domains in gen/main.go", slices.Sorted(maps.Keys(byID)))
	}

	objs, err = readObjects(filepath.Join(corpus, d.dir, "attack-pattern"), "attack-pattern")
	if err != nil {
		return nil, nil, err
	}
	var techs []technique
	seen := map[string]bool{}
	for _, o := range objs {
		if o.Revoked || o.Deprecated {
			continue
		}
		id, err := o.attackID()
		if err != nil {
			return nil, nil, err
		}
		name := strings.TrimSpace(o.Name)
		if !techniqueID.MatchString(id) || name == "" || strings.ContainsAny(name, "\n\r\t") {
			return nil, nil, fmt.Errorf("technique %s: bad ID or name %q", id, o.Name)
		}
		if strings.Contains(id, ".") != o.IsSubtechnique {
			return nil, nil, fmt.Errorf("technique %s: x_mitre_is_subtechnique is %v", id, o.IsSubtechnique)
		}
		if seen[id] {
			return nil, nil, fmt.Errorf("technique %s twice", id)
		}
		seen[id] = true
		var shorts []string
		for _, p := range o.KillChainPhases {
			if p.KillChainName != d.killChain {
				continue
			}
			if _, ok := rank[p.PhaseName]; !ok {
				return nil, nil, fmt.Errorf("technique %s: unknown tactic %q", id, p.PhaseName)
			}
			if !slices.Contains(shorts, p.PhaseName) {
				shorts = append(shorts, p.PhaseName)
			}
		}
		if len(shorts) == 0 {
			return nil, nil, fmt.Errorf("technique %s: no %s kill chain phase", id, d.killChain)
		}
		slices.SortFunc(shorts, func(a, b string) int { return rank[a] - rank[b] })
		techs = append(techs, technique{id: id, name: name, tactics: shorts})
	}
	slices.SortFunc(techs, func(a, b technique) int { return strings.Compare(a.id, b.id) })
	for _, tc := range techs {
		if parent, _, sub := strings.Cut(tc.id, "."); sub && !seen[parent] {
			return nil, nil, fmt.Errorf("sub-technique %s: parent %s is not an active technique", tc.id, parent)
		}
	}
	return tactics, techs, nil
}

func (t *table) render() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("// Code generated by \"go run ./gen\" from MITRE ATT&CK STIX data; DO NOT EDIT.\n\n")
	fmt.Fprintf(&b, "// MITRE ATT&CK v%s, Enterprise and ICS: technique and tactic names.\n", t.version)
	b.WriteString("// Source: STIX 2 data of https://github.com/mitre/cti")
	if t.commit != "" {
		fmt.Fprintf(&b, " at commit %s", t.commit)
	}
	b.WriteString(";\n// revoked and deprecated objects are left out.\n//\n")
	b.WriteString("// MITRE's terms of use (the ATT&CK part of its LICENSE.txt), reproduced as\n// they require:\n//\n")
	for _, line := range strings.Split(t.license, "\n") {
		line = strings.TrimRight(line, " \t")
		if line == "" {
			b.WriteString("//\n")
		} else {
			b.WriteString("//\t" + line + "\n")
		}
	}
	b.WriteString("\npackage attack\n\n")
	fmt.Fprintf(&b, "// Version is the ATT&CK release the table was generated from.\nconst Version = %q\n", t.version)
	for i, d := range domains {
		fmt.Fprintf(&b, "\n// %sTactics are the %s tactics in matrix order.\nvar %sTactics = [...]tacticRow{\n", d.goName, d.dir, d.goName)
		for _, tc := range t.tactics[i] {
			fmt.Fprintf(&b, "{%q, %q, %q},\n", tc.id, tc.short, tc.name)
		}
		b.WriteString("}\n")
		fmt.Fprintf(&b, "\n// %sTechniques are the %s techniques and sub-techniques sorted by ID;\n"+
			"// tactics holds shortnames in matrix order, separated by spaces.\nvar %sTechniques = [...]techniqueRow{\n", d.goName, d.dir, d.goName)
		for _, tc := range t.techniques[i] {
			fmt.Fprintf(&b, "{%q, %q, %q},\n", tc.id, tc.name, strings.Join(tc.tactics, " "))
		}
		b.WriteString("}\n")
	}
	src, err := format.Source(b.Bytes())
	if err != nil {
		return nil, fmt.Errorf("formatting output: %w", err)
	}
	return src, nil
}
