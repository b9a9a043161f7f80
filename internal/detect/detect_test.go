package detect

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vigil-defense/vigil/internal/event"
	"github.com/vigil-defense/vigil/internal/normalize"
	"github.com/vigil-defense/vigil/rules"
	"github.com/vigil-defense/vigil/sigma"
)

// compileOne compiles a rule from YAML text for tests.
func compileOne(t *testing.T, yml string, opts Options) (*Engine, *Program) {
	t.Helper()
	f, err := sigma.ParseFile("test.yml", []byte(yml))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	e, refused := Compile([]*sigma.File{f}, nil, opts)
	if len(refused) > 0 {
		t.Fatalf("compile: %v", refused[0])
	}
	return e, e.programs[0]
}

// evalDirect evaluates p on ev without logsource routing.
func evalDirect(e *Engine, p *Program, ev *event.Event) bool {
	m := e.NewMatcher()
	ci := &classInfo{programs: []*Program{p}, aliases: map[string]int32{}, nameSlots: map[string][2]int32{}}
	ci.indexSlots()
	m.load(ev, ci)
	m.hashGrams(ev, ci)
	defer m.unload()
	if p.pf != nil && !p.pf.pass(&m.grams) {
		return false
	}
	return p.cond.eval(m)
}

func ev(kv ...string) *event.Event {
	var e event.Event
	e.Reset()
	for i := 0; i+1 < len(kv); i += 2 {
		e.AddString(kv[i], kv[i+1])
	}
	return &e
}

const ruleHead = "title: t\nid: 11111111-1111-1111-1111-111111111111\nlogsource: {product: windows}\n"

func TestModifiers(t *testing.T) {
	cases := []struct {
		name   string
		detect string // the detection section, indented by 4
		event  *event.Event
		want   bool
	}{
		{"equal is case-insensitive", "sel: {Image: 'C:\\Windows\\cmd.exe'}", ev("Image", `c:\windows\CMD.EXE`), true},
		{"equal is whole value", "sel: {Image: 'cmd.exe'}", ev("Image", `C:\Windows\cmd.exe`), false},
		{"contains", "sel: {CommandLine|contains: 'vssadmin'}", ev("CommandLine", "cmd /c VSSADMIN delete shadows"), true},
		{"startswith", "sel: {CommandLine|startswith: 'cmd'}", ev("CommandLine", "CMD /c x"), true},
		{"endswith", "sel: {Image|endswith: '\\\\rundll32.exe'}", ev("Image", `C:\Windows\System32\RUNDLL32.exe`), true},
		{"endswith no", "sel: {Image|endswith: '\\\\rundll32.exe'}", ev("Image", `C:\Windows\System32\xrundll32.exe`), false},
		{"wildcard star", "sel: {Image: 'C:\\Windows\\\\*\\cmd.exe'}", ev("Image", `C:\Windows\System32\cmd.exe`), true},
		{"escaped star after backslash path", "sel: {Image: 'C:\\Windows\\*\\cmd.exe'}", ev("Image", `C:\Windows\System32\cmd.exe`), false},
		{"wildcard question", "sel: {Image: 'cm?.exe'}", ev("Image", `cmd.exe`), true},
		{"wildcard question needs one", "sel: {Image: 'cm?.exe'}", ev("Image", `cm.exe`), false},
		{"escaped star is literal", "sel: {Name: 'a\\*b'}", ev("Name", "a*b"), true},
		{"escaped star no", "sel: {Name: 'a\\*b'}", ev("Name", "axxb"), false},
		{"list is OR", "sel: {Image|endswith: ['\\\\a.exe', '\\\\b.exe']}", ev("Image", `C:\b.exe`), true},
		{"all", "sel: {CommandLine|contains|all: ['-enc', 'hidden']}", ev("CommandLine", "powershell -w hidden -enc AAA"), true},
		{"all needs every value", "sel: {CommandLine|contains|all: ['-enc', 'hidden']}", ev("CommandLine", "powershell -enc AAA"), false},
		{"map is AND", "sel: {Image|endswith: '\\\\net.exe', CommandLine|contains: 'user'}", ev("Image", `C:\net.exe`, "CommandLine", "net group"), false},
		{"cased", "sel: {Name|cased: 'Admin'}", ev("Name", "admin"), false},
		{"cased yes", "sel: {Name|cased: 'Admin'}", ev("Name", "Admin"), true},
		{"re", "sel: {CommandLine|re: '\\s-e(nc)?\\s'}", ev("CommandLine", "powershell -enc x"), true},
		{"re is case-sensitive", "sel: {CommandLine|re: 'POWERSHELL'}", ev("CommandLine", "powershell"), false},
		{"re i", "sel: {CommandLine|re|i: 'POWERSHELL'}", ev("CommandLine", "powershell"), true},
		{"number", "sel: {EventID: 4624}", ev("EventID", "4624"), true},
		{"number list", "sel: {EventID: [4624, 4625]}", ev("EventID", "4625"), true},
		{"null absent", "sel: {ParentImage: null}", ev("Image", "x"), true},
		{"null empty", "sel: {ParentImage: null}", ev("ParentImage", ""), true},
		{"null present", "sel: {ParentImage: null}", ev("ParentImage", "x"), false},
		{"empty string", "sel: {ParentImage: ''}", ev("ParentImage", ""), true},
		{"missing field", "sel: {ParentImage: 'x'}", ev("Image", "x"), false},
		{"exists true", "sel: {ParentImage|exists: true}", ev("ParentImage", ""), true},
		{"exists false", "sel: {ParentImage|exists: false}", ev("ParentImage", ""), false},
		{"exists false absent", "sel: {ParentImage|exists: false}", ev("Image", "x"), true},
		{"lt", "sel: {LogonType|lt: 5}", ev("LogonType", "3"), true},
		{"gte", "sel: {LogonType|gte: 10}", ev("LogonType", "10"), true},
		{"gt no", "sel: {LogonType|gt: 10}", ev("LogonType", "10"), false},
		{"gt hex value", "sel: {Size|gt: 15}", ev("Size", "0x10"), true},
		{"cidr v4", "sel: {DestinationIp|cidr: '10.0.0.0/8'}", ev("DestinationIp", "10.1.2.3"), true},
		{"cidr v4 no", "sel: {DestinationIp|cidr: '10.0.0.0/8'}", ev("DestinationIp", "11.1.2.3"), false},
		{"cidr v6", "sel: {DestinationIp|cidr: 'fe80::/10'}", ev("DestinationIp", "fe80::1"), true},
		{"cidr mapped v4", "sel: {DestinationIp|cidr: '192.168.0.0/16'}", ev("DestinationIp", "::ffff:192.168.1.1"), true},
		{"windash", "sel: {CommandLine|windash|contains: ' -exec '}", ev("CommandLine", "tool /exec x"), true},
		{"windash en dash", "sel: {CommandLine|windash|contains: ' -exec '}", ev("CommandLine", "tool \u2013exec x"), true},
		{"base64offset", "sel: {CommandLine|base64offset|contains: 'http://'}", ev("CommandLine", "powershell -e "+b64("xxhttp://evil")), true},
		{"base64offset 1", "sel: {CommandLine|base64offset|contains: 'http://'}", ev("CommandLine", "powershell -e "+b64("xhttp://evil")), true},
		{"base64offset 0", "sel: {CommandLine|base64offset|contains: 'http://'}", ev("CommandLine", "powershell -e "+b64("http://evil")), true},
		{"base64", "sel: {Data|base64: 'cmd'}", ev("Data", "Y21k"), true},
		{"wide base64offset", "sel: {CommandLine|wide|base64offset|contains: 'IEX'}", ev("CommandLine", "-enc "+b64(string(sigma.UTF16LE("x IEX (new")))), true},
		{"fieldref", "sel: {SourceUser|fieldref: TargetUser}", ev("SourceUser", "Bob", "TargetUser", "bob"), true},
		{"fieldref no", "sel: {SourceUser|fieldref: TargetUser}", ev("SourceUser", "Bob", "TargetUser", "alice"), false},
		{"fieldref endswith", "sel: {Image|fieldref|endswith: Name}", ev("Image", `C:\x\evil.exe`, "Name", "EVIL.exe"), true},
		{"neq", "sel: {User|neq: 'SYSTEM'}", ev("User", "bob"), true},
		{"neq no", "sel: {User|neq: 'SYSTEM'}", ev("User", "system"), false},
		{"keywords", "keywords: ['mimikatz', 'sekurlsa']", ev("A", "x", "CommandLine", "run SEKURLSA::logonpasswords"), true},
		{"keywords no", "keywords: ['mimikatz']", ev("A", "x"), false},
		{"repeated field any occurrence", "sel: {Data: 'two'}", ev("Data", "one", "Data", "two"), true},
		{"field names case-insensitive", "sel: {commandline|contains: 'x'}", ev("CommandLine", "x"), true},
		{"hour", "sel: {UtcTime|hour: 3}", ev("UtcTime", "2025-11-26 03:11:27.908"), true},
		{"unicode fold", "sel: {Name: 'ÄBC'}", ev("Name", "äbc"), true},
		{"re i with long s", "sel: {CommandLine|re|i: 'mimikatz\\.exe'}", ev("CommandLine", "C:\\x\\MIMIKATZ.EXE"), true},
		{"re i final sigma", "sel: {Name|re|i: 'xσy'}", ev("Name", "XςY"), true},
		{"re i long s is s", "sel: {CommandLine|re|i: 'sekurlsa'}", ev("CommandLine", "run ſekurlſa::x"), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cond := "sel"
			if strings.HasPrefix(c.detect, "keywords") {
				cond = "keywords"
			}
			yml := ruleHead + "detection:\n    " + c.detect + "\n    condition: " + cond + "\n"
			e, p := compileOne(t, yml, Options{})
			if got := evalDirect(e, p, c.event); got != c.want {
				t.Errorf("%s on %v: got %v, want %v", c.detect, c.event.Fields(), got, c.want)
			}
		})
	}
}

func b64(s string) string { return sigma.Base64([]byte(s)) }

func TestConditions(t *testing.T) {
	det := `    a: {A: '1'}
    b: {B: '1'}
    c_1: {C: '1'}
    c_2: {C: '2'}
`
	cases := []struct {
		cond  string
		event *event.Event
		want  bool
	}{
		{"a and b", ev("A", "1", "B", "1"), true},
		{"a and b", ev("A", "1"), false},
		{"a or b", ev("B", "1"), true},
		{"a and not b", ev("A", "1", "B", "1"), false},
		{"a and not b", ev("A", "1"), true},
		{"not (a or b)", ev("C", "1"), true},
		{"1 of c_*", ev("C", "2"), true},
		{"all of c_*", ev("C", "2"), false},
		{"all of c_*", ev("C", "1", "C", "2"), true},
		{"1 of them", ev("B", "1"), true},
		{"all of them", ev("A", "1", "B", "1", "C", "1", "C", "2"), true},
		{"a or b and c_1", ev("A", "1"), true}, // and binds tighter
		{"(a or b) and c_1", ev("A", "1"), false},
	}
	for _, c := range cases {
		yml := ruleHead + "detection:\n" + det + "    condition: " + c.cond + "\n"
		e, p := compileOne(t, yml, Options{})
		if got := evalDirect(e, p, c.event); got != c.want {
			t.Errorf("%q on %v: got %v, want %v", c.cond, c.event.Fields(), got, c.want)
		}
	}
}

func TestExpandPlaceholders(t *testing.T) {
	yml := ruleHead + "detection:\n    sel: {User|expand: '%admins%'}\n    condition: sel\n"
	f, err := sigma.ParseFile("t.yml", []byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	e0, refused := Compile([]*sigma.File{f}, nil, Options{})
	if len(refused) != 0 || len(e0.programs[0].Warnings) != 1 || !strings.Contains(e0.programs[0].Warnings[0], "placeholder %admins% has no value") {
		t.Fatalf("want a warning naming the placeholder, got %v %v", refused, e0.programs[0].Warnings)
	}
	if evalDirect(e0, e0.programs[0], ev("User", "%admins%")) {
		t.Error("an unset placeholder matched")
	}
	e, p := compileOne(t, yml, Options{Placeholders: map[string][]string{"admins": {"root", "Administrator"}}})
	if !evalDirect(e, p, ev("User", "administrator")) {
		t.Error("expanded placeholder did not match")
	}
	if evalDirect(e, p, ev("User", "bob")) {
		t.Error("expanded placeholder matched another value")
	}
}

func TestRefusals(t *testing.T) {
	yml := ruleHead + "detection:\n    sel: {A: 1}\n    condition: sel | count() by B > 3\n"
	f, err := sigma.ParseFile("t.yml", []byte(yml))
	if err != nil {
		t.Skipf("the parser refuses the v1 aggregation itself: %v", err)
	}
	_, refused := Compile([]*sigma.File{f}, nil, Options{})
	if len(refused) != 1 || !strings.Contains(refused[0].Error(), "correlation rule") {
		t.Fatalf("want a refusal pointing to correlation rules, got %v", refused)
	}
}

func TestGlob(t *testing.T) {
	cases := []struct {
		pat, s string
		want   bool
	}{
		{"a*b*c", "axxbyyc", true},
		{"a*b*c", "axxbyy", false},
		{"*a?c*", "zzabczz", true},
		{"a*a*a", "aaa", true},
		{"a*a*a", "aa", false},
		{"?*", "", false},
		{"?*", "x", true},
		{"*.exe*-p*", "x.exe -p", true},
	}
	for _, c := range cases {
		m := compilePattern(sigma.ParsePattern(c.pat, false), 0, false)
		if got := m.match("", c.s); got != c.want {
			t.Errorf("%q ~ %q = %v, want %v", c.pat, c.s, got, c.want)
		}
	}
}

func TestDetectionJSON(t *testing.T) {
	ts := time.Date(2024, 1, 2, 3, 4, 5, 600000000, time.UTC)
	d := Detection{Time: ts, RuleID: "r1", RuleTitle: "T \"q\"", Level: "high", Tags: []string{"attack.t1003"}, Author: "a",
		Computer: "PC", EventID: "4625", RecordID: 7, Source: "x.evtx",
		Fields: []event.Field{{Name: "Data", Value: "1"}, {Name: "User", Value: "bob"}, {Name: "Data", Value: "2"}},
		Count:  3, FirstTime: ts, LastTime: ts.Add(time.Minute),
		Correlation: &CorrelationInfo{Type: "event_count", Group: map[string]string{"TargetUserName": "bob"}, WindowStart: ts, WindowEnd: ts.Add(5 * time.Minute), Value: 3,
			Events: []EventRef{{Time: ts, Source: "x.evtx", RecordID: 7, RuleID: "base"}}}}
	var v map[string]any
	b := d.AppendJSON(nil)
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("invalid JSON %v: %s", err, b)
	}
	f := v["fields"].(map[string]any)
	if data, ok := f["Data"].([]any); !ok || len(data) != 2 || data[1] != "2" {
		t.Errorf("repeated field not an array: %v", f)
	}
	if v["count"] != 3.0 || v["first_time"] != "2024-01-02T03:04:05.6Z" || v["rule_title"] != `T "q"` {
		t.Errorf("bad keys: %s", b)
	}
	c := v["correlation"].(map[string]any)
	if c["type"] != "event_count" || c["group"].(map[string]any)["TargetUserName"] != "bob" || len(c["events"].([]any)) != 1 {
		t.Errorf("bad correlation: %s", b)
	}
}

func TestFilterRules(t *testing.T) {
	yml := `title: Rar compression
id: 6f3e2987-db24-4c78-a860-b4f4095a7095
name: rar_compression
logsource: {category: process_creation, product: windows}
detection:
    sel: {Image|endswith: '\rar.exe'}
    condition: sel
---
title: Other
id: 22222222-2222-2222-2222-222222222222
logsource: {category: process_creation, product: windows}
detection:
    sel: {Image|endswith: '\rar.exe'}
    condition: sel
---
title: Admins are expected to compress
logsource: {category: process_creation, product: windows}
filter:
    rules:
        - 6f3e2987-db24-4c78-a860-b4f4095a7095
    selection:
        User|startswith: 'adm_'
    condition: selection
---
title: Wrong logsource
logsource: {category: network_connection, product: windows}
filter:
    rules: [rar_compression]
    selection: {User: x}
    condition: selection
`
	f, err := sigma.ParseFile("f.yml", []byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	e, refused := Compile([]*sigma.File{f}, nil, Options{})
	if len(refused) != 1 || !strings.Contains(refused[0].Error(), "logsource differs") {
		t.Errorf("want the mismatched filter reported, got %v", refused)
	}
	filtered, other := e.programs[0], e.programs[1]
	if len(filtered.Filters) != 1 || len(filtered.Warnings) != 1 {
		t.Errorf("filters %v warnings %v", filtered.Filters, filtered.Warnings)
	}
	admin := ev("Image", `C:\rar.exe`, "User", "ADM_bob")
	user := ev("Image", `C:\rar.exe`, "User", "bob")
	if evalDirect(e, filtered, admin) {
		t.Error("the filter did not remove the admin's match")
	}
	if !evalDirect(e, filtered, user) {
		t.Error("the filter removed a match it does not name")
	}
	if !evalDirect(e, other, admin) {
		t.Error("the filter applied to a rule it does not name")
	}
}

func TestRegexpLiteral(t *testing.T) {
	cases := map[string]string{
		`\s-enc(oded)?\s`:             "-enc",
		`(?i)invoke-(mimikatz|kerb)`:  "invoke-",
		`^C:\\Windows\\Temp\\[a-z]+$`: `c:\windows\temp\`,
		`(abc|defg)`:                  "",
		`a.b`:                         "a",
		`(powershell)+\.exe`:          "powershell",
	}
	for re, want := range cases {
		if got := regexpLiteral(re); got != want {
			t.Errorf("regexpLiteral(%q) = %q, want %q", re, got, want)
		}
	}
}

// TestClassCachesAreBounded feeds events whose class key values never
// repeat (as a hostile sender could): the caches stay bounded and matching
// stays right.
func TestClassCachesAreBounded(t *testing.T) {
	set, err := sigma.LoadFS(rules.FS, ".", "builtin")
	if err != nil {
		t.Fatal(err)
	}
	e, _ := Compile(set.Files, normalize.Default(), Options{})
	m := e.NewMatcher()
	var ev event.Event
	for i := range maxClassKeys + 100 {
		ev.Reset()
		ev.AddString("Channel", fmt.Sprintf("Custom/%d", i))
		ev.AddString("EventID", "1")
		m.Match(&ev, func(*Program) {})
	}
	if n := len(m.classes); n > maxClassKeys {
		t.Errorf("matcher caches %d classes", n)
	}
	if n := len(e.cache.byKey); n > maxClassKeys {
		t.Errorf("engine caches %d classes", n)
	}
	// Still matching: a Security log clear fires the built-in rule.
	ev.Reset()
	ev.AddString("Channel", "Security")
	ev.AddString("EventID", "1102")
	ev.AddString("Provider_Name", "Microsoft-Windows-Eventlog")
	hits := 0
	m.Match(&ev, func(p *Program) { hits++ })
	if hits == 0 {
		t.Error("no rule fired on a Security 1102 after the caches were reset")
	}
}
