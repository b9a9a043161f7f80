package attack

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/vigil-defense/vigil/sigma"
)

// Corpus folders, relative to this package; absent outside the project's
// workspace, where the tests that need them skip.
const (
	attackCorpus = "../../../shared/corpus/attack"
	sigmaRules   = "../../../shared/corpus/sigma/rules"
)

func TestLookupTechnique(t *testing.T) {
	for _, tc := range []struct {
		in, id, name, full, parent, domain string
		tactics                            []string
	}{
		{"T1003", "T1003", "OS Credential Dumping", "OS Credential Dumping", "", Enterprise, []string{"credential-access"}},
		{"T1003.001", "T1003.001", "LSASS Memory", "OS Credential Dumping: LSASS Memory", "T1003", Enterprise, []string{"credential-access"}},
		{"t1003.001", "T1003.001", "LSASS Memory", "OS Credential Dumping: LSASS Memory", "T1003", Enterprise, []string{"credential-access"}},
		{" t1059.001 ", "T1059.001", "PowerShell", "Command and Scripting Interpreter: PowerShell", "T1059", Enterprise, []string{"execution"}},
		// Several tactics, in matrix order.
		{"T1078", "T1078", "Valid Accounts", "Valid Accounts", "", Enterprise, []string{"initial-access", "persistence", "privilege-escalation", "defense-evasion"}},
		{"T1055.013", "T1055.013", "Process Doppelgänging", "Process Injection: Process Doppelgänging", "T1055", Enterprise, []string{"privilege-escalation", "defense-evasion"}},
		// ICS.
		{"T0800", "T0800", "Activate Firmware Update Mode", "Activate Firmware Update Mode", "", ICS, []string{"inhibit-response-function"}},
	} {
		got, ok := LookupTechnique(tc.in)
		if !ok {
			t.Errorf("LookupTechnique(%q) not found", tc.in)
			continue
		}
		if got.ID != tc.id || got.Name != tc.name || got.FullName() != tc.full || got.Parent != tc.parent ||
			got.Domain != tc.domain || !slices.Equal(got.Tactics, tc.tactics) {
			t.Errorf("LookupTechnique(%q) = %+v (full name %q), want %s %q %q parent %q %s %v",
				tc.in, got, got.FullName(), tc.id, tc.name, tc.full, tc.parent, tc.domain, tc.tactics)
		}
		if s, want := got.String(), tc.id+" "+tc.full; s != want {
			t.Errorf("String() = %q, want %q", s, want)
		}
	}
	for _, in := range []string{"", "T", "T100", "T1003.1", "T1003.0011", "T1003x001", "attack.t1003", "TA0006", "T9999", "T1003.999",
		// Revoked (T1086 PowerShell, T1574.002 DLL Side-Loading) and deprecated
		// (T1064 Scripting, ICS T0818) techniques are not in the table.
		"T1086", "T1574.002", "T1064", "T0818"} {
		if got, ok := LookupTechnique(in); ok {
			t.Errorf("LookupTechnique(%q) = %+v, want not found", in, got)
		}
	}
}

func TestLookupTactic(t *testing.T) {
	for _, tc := range []struct {
		in, id, short, name, domain string
		order                       int
	}{
		{"credential-access", "TA0006", "credential-access", "Credential Access", Enterprise, 8},
		{"credential_access", "TA0006", "credential-access", "Credential Access", Enterprise, 8},
		{"Credential-Access", "TA0006", "credential-access", "Credential Access", Enterprise, 8},
		{"Credential Access", "TA0006", "credential-access", "Credential Access", Enterprise, 8},
		{"TA0006", "TA0006", "credential-access", "Credential Access", Enterprise, 8},
		{"ta0006", "TA0006", "credential-access", "Credential Access", Enterprise, 8},
		{"impact", "TA0040", "impact", "Impact", Enterprise, 14}, // also an ICS shortname: enterprise wins
		{"reconnaissance", "TA0043", "reconnaissance", "Reconnaissance", Enterprise, 1},
		{"command_and_control", "TA0011", "command-and-control", "Command and Control", Enterprise, 12},
		{"TA0105", "TA0105", "impact", "Impact", ICS, 12},
		{"inhibit-response-function", "TA0107", "inhibit-response-function", "Inhibit Response Function", ICS, 10},
	} {
		got, ok := LookupTactic(tc.in)
		want := Tactic{ID: tc.id, Short: tc.short, Name: tc.name, Order: tc.order, Domain: tc.domain}
		if !ok || got != want {
			t.Errorf("LookupTactic(%q) = %+v, %v; want %+v", tc.in, got, ok, want)
		}
	}
	if got, _ := LookupTactic("credential-access"); got.String() != "TA0006 Credential Access" {
		t.Errorf("String() = %q", got.String())
	}
	for _, in := range []string{"", "credential", "attack.credential-access", "TA9999", "TA06", "t1003"} {
		if got, ok := LookupTactic(in); ok {
			t.Errorf("LookupTactic(%q) = %+v, want not found", in, got)
		}
	}
}

func TestTactics(t *testing.T) {
	want := []string{"reconnaissance", "resource-development", "initial-access", "execution", "persistence",
		"privilege-escalation", "defense-evasion", "credential-access", "discovery", "lateral-movement",
		"collection", "command-and-control", "exfiltration", "impact"}
	var got []string
	for i, tc := range Tactics() {
		got = append(got, tc.Short)
		if tc.Order != i+1 || tc.Domain != Enterprise {
			t.Errorf("Tactics()[%d] = %+v", i, tc)
		}
		if l, ok := LookupTactic(tc.ID); !ok || l != tc {
			t.Errorf("LookupTactic(%q) = %+v, want %+v", tc.ID, l, tc)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("Tactics() = %v, want %v", got, want)
	}
	Tactics()[0].Name = "changed" // a copy
	if Tactics()[0].Name != "Reconnaissance" {
		t.Error("Tactics() shares its result")
	}
	ics := ICSTactics()
	if len(ics) != 12 || ics[0].Short != "initial-access" || ics[11].Short != "impact" || ics[11].ID != "TA0105" {
		t.Errorf("ICSTactics() = %+v", ics)
	}
}

// TestTable checks invariants of the generated table.
func TestTable(t *testing.T) {
	for _, d := range []struct {
		domain string
		rows   []techniqueRow
	}{{Enterprise, enterpriseTechniques[:]}, {ICS, icsTechniques[:]}} {
		if !slices.IsSortedFunc(d.rows, func(a, b techniqueRow) int { return strings.Compare(a.id, b.id) }) {
			t.Errorf("%s techniques are not sorted", d.domain)
		}
		for _, r := range d.rows {
			tech, ok := LookupTechnique(r.id)
			if !ok {
				t.Errorf("%s not found", r.id)
				continue
			}
			if tech.Domain != d.domain {
				t.Logf("%s %s is also an enterprise ID", d.domain, r.id)
				continue
			}
			if tech.Parent != "" {
				if _, ok := lookupTechnique(tech.Parent, d.domain); !ok {
					t.Errorf("%s: parent %s not found", r.id, tech.Parent)
				}
			}
			rt := tech.ResolvedTactics()
			if len(rt) == 0 || len(rt) != len(tech.Tactics) {
				t.Errorf("%s: tactics %v resolve to %+v", r.id, tech.Tactics, rt)
			}
			for i, tc := range rt {
				if tc.Domain != d.domain || i > 0 && rt[i-1].Order >= tc.Order {
					t.Errorf("%s: tactics %+v not in %s matrix order", r.id, rt, d.domain)
				}
			}
		}
	}
	// An ICS technique's tactics resolve in the ICS matrix.
	tech, _ := LookupTechnique("T0826") // Loss of Availability
	if rt := tech.ResolvedTactics(); len(rt) != 1 || rt[0].ID != "TA0105" {
		t.Errorf("T0826 tactics = %+v, want TA0105", rt)
	}
	t.Logf("ATT&CK v%s: %d enterprise + %d ICS techniques, %d + %d tactics",
		Version, len(enterpriseTechniques), len(icsTechniques), len(enterpriseTactics), len(icsTactics))
}

func ids[T any](list []T, id func(T) string) []string {
	out := []string{}
	for _, x := range list {
		out = append(out, id(x))
	}
	return out
}

func tacticIDs(l []Tactic) []string       { return ids(l, func(t Tactic) string { return t.ID }) }
func techniqueIDs(l []Technique) []string { return ids(l, func(t Technique) string { return t.ID }) }

func TestParseTags(t *testing.T) {
	tactics, techs := ParseTags([]string{
		"attack.T1003.001", "ATTACK.credential_access", "attack.t1003.001", "attack.execution", "attack.s0002",
		"attack.g0016", "car.2013-07-001", "cve.2021-1234", "attack.t9999", "attack.credential-access",
		"attack.t1059", "detection.threat-hunting", "attack", "attack.", "tlp.white", "attack.impact", "attack.inhibit-response-function",
	})
	if got, want := tacticIDs(tactics), []string{"TA0002", "TA0006", "TA0040", "TA0107"}; !slices.Equal(got, want) {
		t.Errorf("tactics = %v, want %v", got, want)
	}
	if got, want := techniqueIDs(techs), []string{"T1003.001", "T1059"}; !slices.Equal(got, want) {
		t.Errorf("techniques = %v, want %v", got, want)
	}
	if tactics, techs := ParseTags(nil); tactics != nil || techs != nil {
		t.Errorf("ParseTags(nil) = %v, %v", tactics, techs)
	}
}

// readRuleTags returns the tags of every rule, correlation and filter in a
// Sigma rule file.
func readRuleTags(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := sigma.ParseFile(path, data)
	if err != nil {
		t.Logf("%s: %v", path, err) // the parsed documents are still in f
	}
	var tags []string
	for _, r := range f.Rules {
		tags = append(tags, r.Tags...)
	}
	for _, r := range f.Correlations {
		tags = append(tags, r.Tags...)
	}
	for _, r := range f.Filters {
		tags = append(tags, r.Tags...)
	}
	return tags
}

func needDir(t *testing.T, dir string) {
	t.Helper()
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("corpus not available: %v", err)
	}
}

// TestParseTagsSigmaHQ reads the tags of a few SigmaHQ rules.
func TestParseTagsSigmaHQ(t *testing.T) {
	needDir(t, sigmaRules)
	for _, tc := range []struct {
		file                string
		tactics, techniques []string
	}{
		// s0002 (Mimikatz) and car.* tags are ignored.
		{"windows/builtin/win_alert_mimikatz_keywords.yml",
			[]string{"TA0006", "TA0008"}, []string{"T1003.001", "T1003.002", "T1003.004", "T1003.006"}},
		{"windows/builtin/security/win_security_ad_replication_machine_account.yml",
			[]string{"TA0006"}, []string{"T1003.006"}},
		// g0020 (Equation) is ignored.
		{"linux/builtin/lnx_apt_equationgroup_lnx.yml", []string{"TA0002"}, []string{"T1059.004"}},
		// ds0005 (a data source) is ignored.
		{"windows/powershell/powershell_script/posh_ps_create_volume_shadow_copy.yml",
			[]string{"TA0006"}, []string{"T1003.003"}},
		// "stealth" is an ATT&CK v19 tactic, not in the table (v18.1).
		{"windows/process_creation/proc_creation_win_uac_bypass_cmstp_com_object_access.yml",
			[]string{"TA0002", "TA0004"}, []string{"T1218.003", "T1548.002"}},
		// defense-impairment and T1685.* are ATT&CK v19 names, not in the table.
		{"windows/process_creation/proc_creation_win_susp_eventlog_clear.yml", []string{}, []string{}},
	} {
		tags := readRuleTags(t, filepath.Join(sigmaRules, tc.file))
		if len(tags) == 0 {
			t.Errorf("%s: no tags", tc.file)
			continue
		}
		tactics, techs := ParseTags(tags)
		if got := tacticIDs(tactics); !slices.Equal(got, tc.tactics) {
			t.Errorf("%s: tactics %v, want %v", tc.file, got, tc.tactics)
		}
		if got := techniqueIDs(techs); !slices.Equal(got, tc.techniques) {
			t.Errorf("%s: techniques %v, want %v", tc.file, got, tc.techniques)
		}
	}
	tech, _ := ParseTags([]string{"attack.credential-access"})
	_, techs := ParseTags(readRuleTags(t, filepath.Join(sigmaRules, "windows/builtin/win_alert_mimikatz_keywords.yml")))
	if tech[0].String() != "TA0006 Credential Access" || techs[0].String() != "T1003.001 OS Credential Dumping: LSASS Memory" {
		t.Errorf("names: %v, %v", tech[0], techs[0])
	}
}

// newerThanCorpus are technique IDs that SigmaHQ rules (commit 8eaafff,
// 2026-08) use but that the ATT&CK v18.1 corpus does not hold at all, not
// even as revoked or deprecated. They appear to come from a later ATT&CK
// release (v19): the same rules carry the tactics "stealth" and
// "defense-impairment", also absent from v18.1, and no SigmaHQ rule tags
// T1562 Impair Defenses any more. They should resolve once the table is
// regenerated from that release; the test then fails until they are
// removed from this list.
var newerThanCorpus = []string{
	"T1685", "T1685.001", "T1685.002", "T1685.004", "T1685.005", "T1685.006",
	"T1686", "T1686.001", "T1686.002", "T1686.003",
	"T1689", "T1690",
}

// corpusStatus returns the status of every technique ID in the ATT&CK corpus:
// "revoked", "deprecated" or "active" (an ID that is active in one domain
// and not in the other is "active").
func corpusStatus(t *testing.T) map[string]string {
	t.Helper()
	status := map[string]string{}
	for _, dom := range []string{Enterprise, ICS} {
		files, err := filepath.Glob(filepath.Join(attackCorpus, dom, "attack-pattern", "*.json"))
		if err != nil || len(files) == 0 {
			t.Fatalf("%s: no attack-pattern files (%v)", dom, err)
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var b struct {
				Objects []struct {
					Revoked    bool `json:"revoked"`
					Deprecated bool `json:"x_mitre_deprecated"`
					Refs       []struct {
						Source string `json:"source_name"`
						ID     string `json:"external_id"`
					} `json:"external_references"`
				} `json:"objects"`
			}
			if err := json.Unmarshal(data, &b); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			for _, o := range b.Objects {
				s := "active"
				if o.Revoked {
					s = "revoked"
				} else if o.Deprecated {
					s = "deprecated"
				}
				for _, r := range o.Refs {
					// Deprecated ICS objects name their ID with "mitre-ics-attack".
					if (r.Source == "mitre-attack" || r.Source == "mitre-ics-attack") && r.ID != "" && status[r.ID] != "active" {
						status[r.ID] = s
					}
				}
			}
		}
	}
	return status
}

var techniqueTag = regexp.MustCompile(`(?i)^attack\.(t[0-9]{4}(?:\.[0-9]{3})?)$`)

// TestSigmaHQTechniques checks that every attack.tNNNN tag of every SigmaHQ
// rule names a technique, except IDs that the corpus marks revoked or
// deprecated and the newer IDs listed in newerThanCorpus.
func TestSigmaHQTechniques(t *testing.T) {
	needDir(t, sigmaRules)
	needDir(t, attackCorpus)
	status := corpusStatus(t)
	unresolved := map[string][]string{} // ID → rule files
	otherTags := map[string]int{}       // attack.* tags that are neither techniques nor table tactics
	resolved, rules := map[string]bool{}, 0
	err := filepath.WalkDir(sigmaRules, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !sigma.IsRuleFile(path) {
			return err
		}
		rules++
		rel, _ := filepath.Rel(sigmaRules, path)
		for _, tag := range readRuleTags(t, path) {
			m := techniqueTag.FindStringSubmatch(strings.TrimSpace(tag))
			if m == nil {
				if l := strings.ToLower(tag); strings.HasPrefix(l, "attack.") {
					if tactics, _ := ParseTags([]string{tag}); len(tactics) == 0 {
						otherTags[l]++
					}
				}
				continue
			}
			id := strings.ToUpper(m[1])
			if _, techs := ParseTags([]string{tag}); len(techs) == 1 && techs[0].ID == id {
				resolved[id] = true
				continue
			}
			unresolved[id] = append(unresolved[id], rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if rules < 1000 {
		t.Fatalf("only %d rule files under %s", rules, sigmaRules)
	}
	t.Logf("%d rule files: %d distinct technique IDs resolve, %d do not", rules, len(resolved), len(unresolved))
	var idsList []string
	for id := range unresolved {
		idsList = append(idsList, id)
	}
	sort.Strings(idsList)
	for _, id := range idsList {
		files := unresolved[id]
		switch s := status[id]; {
		case s == "revoked" || s == "deprecated":
			t.Logf("%s is %s in ATT&CK v%s; tagged by %d rules, like %s", id, s, Version, len(files), files[0])
		case s == "" && slices.Contains(newerThanCorpus, id):
			t.Logf("%s is not in ATT&CK v%s (newer); tagged by %d rules, like %s", id, Version, len(files), files[0])
		case s == "":
			t.Errorf("%s is not in the ATT&CK v%s corpus; tagged by %d rules, like %s", id, Version, len(files), files[0])
		default:
			t.Errorf("%s is %s in the corpus but not found; tagged by %d rules, like %s", id, s, len(files), files[0])
		}
	}
	for _, id := range newerThanCorpus {
		if status[id] != "" || resolved[id] {
			t.Errorf("%s is in the corpus now (%q); remove it from newerThanCorpus", id, status[id])
		}
	}
	var others []string
	idTags := 0
	for tag, n := range otherTags {
		if otherID.MatchString(tag) {
			idTags += n
			continue
		}
		others = append(others, fmt.Sprintf("%s (%d)", tag, n))
	}
	sort.Strings(others)
	t.Logf("%d software/group/data source tags ignored; other attack.* tags naming nothing in v%s: %s",
		idTags, Version, strings.Join(others, ", "))
}

// otherID matches the tags of ATT&CK software, groups, data sources and the like.
var otherID = regexp.MustCompile(`^attack\.[a-z]{1,2}[0-9]{4}$`)
