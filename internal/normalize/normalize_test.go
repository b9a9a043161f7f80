package normalize

import (
	"slices"
	"strings"
	"testing"

	"github.com/vigil-defense/vigil/internal/event"
	"github.com/vigil-defense/vigil/sigma"
)

// ev builds an event from name, value pairs.
func ev(kv ...string) *event.Event {
	e := &event.Event{}
	for i := 0; i+1 < len(kv); i += 2 {
		e.AddString(kv[i], kv[i+1])
	}
	return e
}

func ls(category, product, service string) Logsource {
	return Logsource{Category: category, Product: product, Service: service}
}

func TestClassify(t *testing.T) {
	const sysmon = "Microsoft-Windows-Sysmon/Operational"
	tests := []struct {
		name    string
		ev      *event.Event
		want    []Logsource // exactly these triples
		aliases []Alias     // at least these aliases
		rules   []sigma.Logsource
		nrules  []sigma.Logsource // rules that must not apply
	}{
		{
			name:   "sysmon 1",
			ev:     ev("Provider_Name", "Microsoft-Windows-Sysmon", "EventID", "1", "Channel", sysmon, "Image", `C:\x.exe`),
			want:   []Logsource{ls("process_creation", "windows", "sysmon")},
			rules:  []sigma.Logsource{{Category: "process_creation", Product: "windows"}, {Product: "windows", Service: "sysmon"}, {Product: "windows"}, {Category: "PROCESS_CREATION", Product: "Windows"}},
			nrules: []sigma.Logsource{{Product: "windows", Service: "security"}, {Category: "process_creation", Product: "linux"}, {Category: "image_load", Product: "windows"}},
		},
		{
			name:    "security 4688",
			ev:      ev("EventID", "4688", "Channel", "Security", "NewProcessName", `C:\x.exe`),
			want:    []Logsource{ls("process_creation", "windows", "security")},
			aliases: []Alias{{"Image", "NewProcessName"}, {"ParentImage", "ParentProcessName"}},
			rules:   []sigma.Logsource{{Category: "process_creation", Product: "windows"}, {Product: "windows", Service: "security"}},
			nrules:  []sigma.Logsource{{Product: "windows", Service: "sysmon"}},
		},
		{
			name:   "security 4624",
			ev:     ev("EventID", "4624", "Channel", "Security"),
			want:   []Logsource{ls("", "windows", "security")},
			rules:  []sigma.Logsource{{Product: "windows", Service: "security"}},
			nrules: []sigma.Logsource{{Category: "process_creation", Product: "windows"}},
		},
		{
			name:  "channel security in lower case",
			ev:    ev("Channel", "security", "EventID", "4624"),
			want:  []Logsource{ls("", "windows", "security")},
			rules: []sigma.Logsource{{Product: "windows", Service: "security"}},
		},
		{
			name: "powershell 4104",
			ev:   ev("Channel", "Microsoft-Windows-PowerShell/Operational", "EventID", "4104", "ScriptBlockText", "iex"),
			want: []Logsource{ls("ps_script", "windows", "powershell")},
		},
		{
			name: "powershell core 4103",
			ev:   ev("Channel", "PowerShellCore/Operational", "EventID", "4103"),
			want: []Logsource{ls("ps_module", "windows", "powershell")},
		},
		{
			name: "powershell classic 400",
			ev:   ev("Channel", "Windows PowerShell", "EventID", "400"),
			want: []Logsource{ls("ps_classic_start", "windows", "powershell-classic")},
		},
		{
			name: "sysmon 13 is registry_event and registry_set",
			ev:   ev("Channel", sysmon, "EventID", "13", "EventType", "SetValue"),
			want: []Logsource{ls("registry_event", "windows", "sysmon"), ls("registry_set", "windows", "sysmon")},
		},
		{
			name: "sysmon 12 CreateKey is registry_add",
			ev:   ev("Channel", sysmon, "EventID", "12", "EventType", "CreateKey"),
			want: []Logsource{ls("registry_event", "windows", "sysmon"), ls("registry_add", "windows", "sysmon")},
		},
		{
			name: "sysmon 12 DeleteValue is registry_delete",
			ev:   ev("Channel", sysmon, "EventID", "12", "EventType", "DeleteValue"),
			want: []Logsource{ls("registry_event", "windows", "sysmon"), ls("registry_delete", "windows", "sysmon")},
		},
		{
			name: "sysmon 4 only status",
			ev:   ev("Channel", sysmon, "EventID", "4"),
			want: []Logsource{ls("sysmon_status", "windows", "sysmon")},
		},
		{
			name: "sysmon unknown id is the service",
			ev:   ev("Channel", sysmon, "EventID", "999"),
			want: []Logsource{ls("", "windows", "sysmon")},
		},
		{
			name:    "defender detection is antivirus",
			ev:      ev("Channel", "Microsoft-Windows-Windows Defender/Operational", "EventID", "1116"),
			want:    []Logsource{ls("antivirus", "windows", "windefend")},
			aliases: []Alias{{"Signature", "ThreatName"}, {"Filename", "Path"}},
			rules:   []sigma.Logsource{{Category: "antivirus"}, {Product: "windows", Service: "windefend"}},
		},
		{
			name:  "system",
			ev:    ev("Channel", "System", "EventID", "7045", "Provider_Name", "Service Control Manager"),
			want:  []Logsource{ls("", "windows", "system")},
			rules: []sigma.Logsource{{Product: "windows", Service: "system"}},
		},
		{
			name:    "otrf json names the provider SourceName",
			ev:      ev("Channel", "System", "EventID", "7045", "SourceName", "Service Control Manager", "Hostname", "h"),
			want:    []Logsource{ls("", "windows", "system")},
			aliases: []Alias{{"Provider_Name", "SourceName"}, {"Computer", "Hostname"}},
		},
		{
			name:   "linux sysmon 1",
			ev:     ev("Channel", "Linux-Sysmon/Operational", "EventID", "1"),
			want:   []Logsource{ls("process_creation", "linux", "sysmon")},
			rules:  []sigma.Logsource{{Category: "process_creation", Product: "linux"}},
			nrules: []sigma.Logsource{{Category: "process_creation", Product: "windows"}},
		},
		{
			name:  "auditd",
			ev:    ev("type", "EXECVE", "msg", "audit(1604996112.394:1234):", "argc", "3"),
			want:  []Logsource{ls("", "linux", "auditd")},
			rules: []sigma.Logsource{{Product: "linux", Service: "auditd"}, {Product: "linux"}},
		},
		{
			name: "not auditd: another type",
			ev:   ev("type", "traffic", "devname", "fw1"),
		},
		{
			name:   "zeek dns",
			ev:     ev("_path", "dns", "ts", "1", "query", "example.org"),
			want:   []Logsource{ls("", "zeek", "dns")},
			rules:  []sigma.Logsource{{Product: "zeek", Service: "dns"}},
			nrules: []sigma.Logsource{{Product: "zeek", Service: "http"}},
		},
		{
			name:  "cloudtrail",
			ev:    ev("eventVersion", "1.05", "eventSource", "s3.amazonaws.com", "eventName", "GetObject", "awsRegion", "us-east-1", "userIdentity.type", "IAMUser"),
			want:  []Logsource{ls("", "aws", "cloudtrail")},
			rules: []sigma.Logsource{{Product: "aws", Service: "cloudtrail"}},
		},
		{
			name: "okta",
			ev:   ev("uuid", "u", "published", "2024-01-01T00:00:00Z", "eventType", "user.session.start", "displayMessage", "User login to Okta"),
			want: []Logsource{ls("", "okta", "okta")},
		},
		{
			name: "github audit",
			ev:   ev("@timestamp", "1", "_document_id", "d", "action", "repo.create", "actor", "x"),
			want: []Logsource{ls("", "github", "audit")},
		},
		{
			name: "bitbucket audit",
			ev:   ev("auditType.action", "Repository created", "auditType.category", "Repositories"),
			want: []Logsource{ls("", "bitbucket", "audit")},
		},
		{
			name:  "kubernetes audit",
			ev:    ev("kind", "Event", "apiVersion", "audit.k8s.io/v1", "verb", "create", "objectRef.resource", "pods"),
			want:  []Logsource{ls("application", "kubernetes", "audit")},
			rules: []sigma.Logsource{{Product: "kubernetes", Service: "audit"}, {Category: "application", Product: "kubernetes", Service: "audit"}},
		},
		{
			name: "opencanary",
			ev:   ev("dst_host", "10.0.0.1", "dst_port", "22", "logtype", "4002", "node_id", "canary-1"),
			want: []Logsource{ls("application", "opencanary", "")},
		},
		{
			name: "cloudtrail eventType is not okta",
			ev:   ev("eventType", "AwsApiCall", "eventSource", "s3.amazonaws.com", "eventName", "GetObject", "awsRegion", "us-east-1"),
			want: []Logsource{ls("", "aws", "cloudtrail")},
		},
		{
			name:   "unknown",
			ev:     ev("message", "hello", "host", "x"),
			nrules: []sigma.Logsource{{Product: "windows"}, {}},
		},
		{
			name:   "empty",
			ev:     ev(),
			nrules: []sigma.Logsource{{Product: "windows"}},
		},
	}
	tab := Default()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := tab.Classify(tc.ev)
			if !slices.Equal(c.Logsources, tc.want) {
				t.Errorf("logsources = %v, want %v", c.Logsources, tc.want)
			}
			for _, a := range tc.aliases {
				if got := c.Alias(a.Sigma); got != a.Event {
					t.Errorf("alias %s = %s, want %s (all: %v)", a.Sigma, got, a.Event, c.Aliases)
				}
			}
			for _, r := range tc.rules {
				if !tab.RuleMatches(r, c) {
					t.Errorf("rule logsource %+v does not match %v", r, c.Logsources)
				}
			}
			for _, r := range tc.nrules {
				if tab.RuleMatches(r, c) {
					t.Errorf("rule logsource %+v matches %v", r, c.Logsources)
				}
			}
			if c.Key != string(tab.Key(tc.ev, nil)) {
				t.Errorf("class key differs from Key")
			}
		})
	}
}

func TestKeyIdentifiesClass(t *testing.T) {
	tab := Default()
	a := ev("Channel", "Security", "EventID", "4688", "CommandLine", "a")
	b := ev("CommandLine", "b", "EventID", "4688", "Channel", "SECURITY", "Other", "x")
	c := ev("Channel", "Security", "EventID", "4689")
	ka, kb, kc := string(tab.Key(a, nil)), string(tab.Key(b, nil)), string(tab.Key(c, nil))
	if ka != kb {
		t.Errorf("same kind of event, different keys: %q %q", ka, kb)
	}
	if ka == kc {
		t.Errorf("4688 and 4689 share a key %q", ka)
	}
	// Values no condition can match do not multiply keys.
	long := ev("Channel", strings.Repeat("x", 300), "EventID", "4688")
	longer := ev("Channel", strings.Repeat("y", 400), "EventID", "4688")
	if string(tab.Key(long, nil)) != string(tab.Key(longer, nil)) {
		t.Errorf("over-long values should share a key")
	}
	// The first field of a name counts.
	dup := ev("Channel", "Security", "Channel", "System", "EventID", "4688")
	if got := tab.Classify(dup).Logsources; !slices.Contains(got, ls("process_creation", "windows", "security")) {
		t.Errorf("duplicate Channel: %v", got)
	}
	// Keys appended to a buffer classify the same.
	buf := tab.Key(a, []byte("prefix"))
	if got := tab.ClassifyKey(buf[len("prefix"):]); !slices.Equal(got.Logsources, tab.Classify(a).Logsources) {
		t.Errorf("ClassifyKey(Key) = %v", got.Logsources)
	}
	// Garbage keys give empty classes, never a panic.
	for _, k := range []string{"", "\x02", "\x02\xff", "\x09\x09\x09", strings.Repeat("\x01", 100)} {
		if c := tab.ClassifyKey([]byte(k)); len(c.Logsources) != 0 {
			t.Errorf("ClassifyKey(%q) = %v", k, c.Logsources)
		}
	}
}

func TestDefaultTables(t *testing.T) {
	tab := Default()
	if tab != Default() {
		t.Error("Default builds a new table each call")
	}
	perProduct := map[string]int{}
	for _, l := range tab.Logsources() {
		perProduct[l.Product]++
	}
	t.Logf("key fields: %v", tab.KeyFields())
	t.Logf("triples per product: %v (%d sources)", perProduct, len(tab.specs))
	// Every name of the embedded tables is unique across files: an
	// accidental override would silently drop a source.
	seen := map[string]bool{}
	total := 0
	for _, n := range []string{"cloud", "linux", "windows", "zeek"} {
		data, err := tablesFS.ReadFile("tables/" + n + ".yml")
		if err != nil {
			t.Fatal(err)
		}
		fs, err := parseFile(n, data)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range fs.Sources {
			if seen[s.Name] {
				t.Errorf("source %q defined twice in the embedded tables", s.Name)
			}
			seen[s.Name] = true
			total++
		}
	}
	if total != len(tab.specs) {
		t.Errorf("embedded tables: %d sources in files, %d in Default", total, len(tab.specs))
	}
}

func TestLoadExtends(t *testing.T) {
	base := Default()
	user := []byte(`
sources:
  - name: acme-edr-process
    when: {vendor: acme, kind: [proc_start, PROC_EXEC]}
    logsources:
      - {category: process_creation, product: windows, service: acme}
    aliases:
      Image: exe_path
      CommandLine: cmdline
  - name: windows-security-process-creation
    when: {Channel: Security, EventID: 4688}
    logsources:
      - {category: process_creation, product: windows, service: security}
    aliases:
      Image: NewProcessName
      User: SubjectUserName
  - name: zeek-dns
    disabled: true
`)
	tab, err := Load(base, user, "user.yml")
	if err != nil {
		t.Fatal(err)
	}
	c := tab.Classify(ev("vendor", "ACME", "kind", "proc_exec"))
	if !tab.RuleMatches(sigma.Logsource{Category: "process_creation", Product: "windows"}, c) || c.Alias("Image") != "exe_path" {
		t.Errorf("user source: %+v", c)
	}
	c = tab.Classify(ev("Channel", "Security", "EventID", "4688"))
	if c.Alias("User") != "SubjectUserName" || c.Alias("ParentImage") != "ParentImage" {
		t.Errorf("replaced source: %+v", c.Aliases)
	}
	if c := tab.Classify(ev("_path", "dns")); len(c.Logsources) != 0 {
		t.Errorf("disabled source still classifies: %v", c.Logsources)
	}
	if tab.Known(sigma.Logsource{Product: "zeek", Service: "dns"}) {
		t.Error("disabled zeek dns still Known")
	}
	// base is unchanged.
	if c := base.Classify(ev("_path", "dns")); len(c.Logsources) != 1 {
		t.Errorf("base changed: %v", c.Logsources)
	}
	if Default().Classify(ev("Channel", "Security", "EventID", "4688")).Alias("User") != "User" {
		t.Error("Load changed the default table")
	}
}

func TestLoadCased(t *testing.T) {
	tab, err := Load(nil, []byte("cased: [kind]\nsources:\n  - name: a\n    when: {kind: Exact}\n    logsources: [{product: p}]\n"), "c.yml")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(tab.Classify(ev("kind", "Exact")).Logsources); n != 1 {
		t.Errorf("exact value: %d triples", n)
	}
	if n := len(tab.Classify(ev("kind", "exact")).Logsources); n != 0 {
		t.Errorf("cased field matched another case")
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"yaml", "sources: [\n", "bad.yml:"},
		{"empty", "", "bad.yml: empty mapping table"},
		{"no sources", "cased: []\n", `bad.yml:1:1: mapping table has no sources (add "sources:"`},
		{"top key typo", "source:\n  - name: a\n", `bad.yml:1:1: unknown key "source" in a mapping table (did you mean "sources"?)`},
		{"source key typo", "sources:\n  - name: a\n    whne: {Channel: x}\n    logsources: [{product: p}]\n", `bad.yml:3:5: unknown key "whne" in a source (did you mean "when"?)`},
		{"no name", "sources:\n  - when: {a: b}\n    logsources: [{product: p}]\n", "bad.yml:2:5: source has no name"},
		{"no when", "sources:\n  - name: a\n    logsources: [{product: p}]\n", `bad.yml:2:5: source "a" has no conditions`},
		{"nothing given", "sources:\n  - name: a\n    when: {x: y}\n", `source "a" neither names logsources nor aliases fields`},
		{"upper-case logsource", "sources:\n  - name: a\n    when: {x: y}\n    logsources: [{product: Windows}]\n", `bad.yml:4:28: logsource values are lower case (write "windows")`},
		{"logsource key typo", "sources:\n  - name: a\n    when: {x: y}\n    logsources: [{categroy: c}]\n", `did you mean "category"?`},
		{"duplicate", "sources:\n  - name: a\n    when: {x: y}\n    logsources: [{product: p}]\n  - name: a\n    when: {x: z}\n    logsources: [{product: p}]\n", `bad.yml:5:5: duplicate source name "a" (first at bad.yml:2:5)`},
		{"disable unknown", "sources:\n  - name: nope\n    disabled: true\n", `source "nope" is disabled but no earlier table defines it`},
		{"star in list", "sources:\n  - name: a\n    when: {x: [y, \"*\"]}\n    logsources: [{product: p}]\n", `"*" (present) cannot be one of several values`},
		{"alias not scalar", "sources:\n  - name: a\n    when: {x: y}\n    aliases: {Image: [a, b]}\n", "the event field of alias Image must be a string, not a list"},
		{"when not a map", "sources:\n  - name: a\n    when: [x]\n    logsources: [{product: p}]\n", "when must be a map, not a list"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(Default(), []byte(tc.src), "bad.yml")
			if err == nil {
				t.Fatalf("no error")
			}
			el, ok := err.(sigma.ErrorList)
			if !ok {
				t.Fatalf("error is %T, want sigma.ErrorList", err)
			}
			if !strings.Contains(el.Details(), tc.want) {
				t.Errorf("error:\n%s\nwant it to contain %q", el.Details(), tc.want)
			}
		})
	}
}

func TestKnown(t *testing.T) {
	tab := Default()
	for _, l := range []sigma.Logsource{
		{Category: "process_creation", Product: "windows"},
		{Product: "windows", Service: "security"},
		{Product: "Windows", Service: "Sysmon"},
		{Category: "antivirus"},
		{Product: "linux", Service: "auditd"},
		{Category: "process_creation", Product: "linux"},
		{Product: "zeek", Service: "smb_files"},
		{Product: "aws", Service: "cloudtrail"},
		{Product: "windows", Service: "ldap"},
		{Product: "windows", Service: "ldap_debug"},
	} {
		if !tab.Known(l) {
			t.Errorf("%+v not Known", l)
		}
	}
	for _, l := range []sigma.Logsource{
		{Category: "proxy"},
		{Product: "macos", Category: "process_creation"},
		{Product: "windows", Service: "nonexistent"},
		{Category: "process_creation", Product: "windows", Service: "auditd"},
	} {
		if tab.Known(l) {
			t.Errorf("%+v Known", l)
		}
	}
}

func BenchmarkKey(b *testing.B) {
	tab := Default()
	e := ev(
		"Provider_Name", "Microsoft-Windows-Sysmon", "Provider_Guid", "{5770385F-C22A-43E0-BF4C-06F5698FFBD9}",
		"EventID", "1", "Version", "5", "Level", "4", "Task", "1", "Opcode", "0", "Keywords", "0x8000000000000000",
		"TimeCreated", "2019-03-02T08:51:00.008Z", "EventRecordID", "12345", "Execution_ProcessID", "2000",
		"Execution_ThreadID", "3000", "Channel", "Microsoft-Windows-Sysmon/Operational", "Computer", "host.example.org",
		"UserID", "S-1-5-18", "RuleName", "-", "UtcTime", "2019-03-02 08:51:00.008",
		"ProcessGuid", "{c1b49677-43f4-5c7a-0000-0010d3dd8044}", "ProcessId", "1028", "Image", `C:\Windows\System32\cmd.exe`,
		"FileVersion", "10.0", "Description", "Windows Command Processor", "Product", "Microsoft Windows", "Company", "Microsoft Corporation",
		"OriginalFileName", "Cmd.Exe", "CommandLine", `cmd.exe /c whoami`, "CurrentDirectory", `C:\`, "User", `NT AUTHORITY\SYSTEM`,
		"LogonGuid", "{c1b49677-3fb9-5c09-0000-0020e7030000}", "LogonId", "0x3e7", "TerminalSessionId", "0", "IntegrityLevel", "System",
		"Hashes", "SHA256=68A15A34C2E28B9B521A240B948634617D72AD619E3950BC6DC769E60A0C3CF2",
		"ParentProcessGuid", "{c1b49677-6b43-5c78-0000-00107fb77544}", "ParentProcessId", "1724", "ParentImage", `C:\Windows\System32\taskeng.exe`,
		"ParentCommandLine", "taskeng.exe", "ParentUser", `NT AUTHORITY\SYSTEM`,
	)
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = tab.Key(e, buf[:0])
	}
}
