package intel

import (
	"strings"
	"testing"
	"time"
)

func testIndex(t testing.TB, inds ...Indicator) *Index {
	t.Helper()
	b := NewBuilder()
	for _, ind := range inds {
		if ind.Source == "" {
			ind.Source = "test"
		}
		if err := b.Add(ind); err != nil {
			t.Fatal(err)
		}
	}
	x, errs := b.Build()
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	return x
}

func TestLookup(t *testing.T) {
	x := testIndex(t,
		Indicator{Type: TypeDomain, Value: "evil.com", ID: "d1"},
		Indicator{Type: TypeDomain, Value: "b.evil.com", ID: "d2"},
		Indicator{Type: TypeCIDR, Value: "203.0.113.0/24", ID: "c1"},
		Indicator{Type: TypeCIDR, Value: "203.0.0.0/16", ID: "c2"},
		Indicator{Type: TypeIPv4, Value: "203.0.113.7", ID: "i1"},
		Indicator{Type: TypeCIDR, Value: "2001:db8::/32", ID: "c6"},
		Indicator{Type: TypeURL, Value: "HTTP://Bad.example:80/Gate.php?id=1#x", ID: "u1"},
		Indicator{Type: TypeEmail, Value: "Phish@Mail.example", ID: "e1"},
		Indicator{Type: TypeSHA256, Value: strings.ToUpper("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"), ID: "h1"},
		Indicator{Type: TypeImphash, Value: "f34d5f2d4577ed6d9ceec516c1f5a744", ID: "imp"},
		Indicator{Type: TypeFileName, Value: "mimikatz.exe", ID: "f1"},
		Indicator{Type: TypeCVE, Value: "CVE-2021-44228", ID: "cve"},
		// the same value twice from one feed is one indicator
		Indicator{Type: TypeDomain, Value: "EVIL.com", ID: "d1-again"},
	)
	if x.Len() != 12 {
		t.Errorf("Len %d, want 12 (the duplicate dropped)", x.Len())
	}
	for _, c := range []struct {
		value string
		typ   Type
		ids   string
	}{
		{"evil.com", TypeDomain, "d1"},
		{"A.B.Evil.Com", TypeDomain, "d2,d1"},
		{"notevil.com", TypeDomain, ""},
		{"evil.com.au", TypeDomain, ""},
		{"203.0.113.7", TypeIPv4, "i1,c1,c2"},
		{"203.0.113.8", TypeIPv4, "c1,c2"},
		{"203.0.114.1", TypeIPv4, "c2"},
		{"203.1.0.1", TypeIPv4, ""},
		{"203.0.113.128/25", TypeCIDR, "c1,c2"},
		{"2001:db8:1::5", TypeIPv6, "c6"},
		{"::ffff:203.0.113.9", TypeIPv4, "c1,c2"},
		{"http://bad.example/Gate.php?id=1", TypeURL, "u1"},
		{"https://BAD.example:443/Gate.php?id=1#frag", TypeURL, "u1"},
		{"bad.example/Gate.php?id=1", TypeURL, "u1"},
		{"http://bad.example/gate.php?id=1", TypeURL, ""}, // paths are case-sensitive
		{"phish@mail.example", TypeEmail, "e1"},
		{"E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855", TypeSHA256, "h1"},
		{"F34D5F2D4577ED6D9CEEC516C1F5A744", TypeMD5, "imp"},
		{"Mimikatz.EXE", TypeFileName, "f1"},
		{"cve-2021-44228", TypeCVE, "cve"},
		{"nonsense value", TypeUnknown, ""},
	} {
		typ, ms := x.Lookup(c.value)
		var ids []string
		for _, m := range ms {
			ids = append(ids, m.Indicator.ID)
		}
		if typ != c.typ || strings.Join(ids, ",") != c.ids {
			t.Errorf("Lookup(%q) = %s [%s], want %s [%s]", c.value, typ, strings.Join(ids, ","), c.typ, c.ids)
		}
	}
}

func TestWarninglistUnit(t *testing.T) {
	b := NewBuilder()
	for _, w := range []Warninglist{
		{Name: "dns", Type: "cidr", Entries: []string{"8.8.8.8", "1.1.1.0/24", "2606:4700:4700::1111"}},
		{Name: "top", Type: "hostname", Entries: []string{"google.com", "com"}},
		{Name: "exact", Type: "string", Entries: []string{"Example.ORG"}},
		{Name: "sub", Type: "substring", Entries: []string{"sinkhole"}},
		{Name: "re", Type: "regex", Entries: []string{`/^(security|abuse)\@.*$/i`}},
	} {
		if errs := b.AddWarninglist(w); errs != nil {
			t.Fatal(errs)
		}
	}
	if errs := b.AddWarninglist(Warninglist{Name: "bad", Type: "fuzzy"}); len(errs) != 1 {
		t.Errorf("unknown type accepted")
	}
	b.Add(Indicator{Type: TypeDomain, Value: "google.com", Source: "feed", Confidence: 90})
	x, errs := b.Build()
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	for _, c := range []struct{ value, lists string }{
		{"8.8.8.8", "dns"},
		{"1.1.1.200", "dns"},
		{"2606:4700:4700::1111", "dns"},
		{"mail.google.com", "top"},
		{"example.org", "exact"},
		{"www.example.org", ""},
		{"sinkhole.evil.net", "sub"},
		{"ABUSE@corp.example", "re"},
		{"https://www.google.com/x", "top"},
		{"9.9.9.9", ""},
	} {
		if got := strings.Join(x.Warninglists(c.value), ","); got != c.lists {
			t.Errorf("Warninglists(%q) = %q, want %q", c.value, got, c.lists)
		}
	}
	_, ms := x.Lookup("mail.google.com")
	if len(ms) != 1 || !ms[0].ProbablyBenign() || ms[0].Level() != "informational" {
		t.Errorf("mail.google.com: %+v", ms)
	}
}

func TestValidity(t *testing.T) {
	ind := Indicator{ValidFrom: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), ValidUntil: time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC)}
	for _, c := range []struct {
		t    time.Time
		want bool
	}{
		{time.Time{}, true},
		{time.Date(2023, 12, 31, 0, 0, 0, 0, time.UTC), false},
		{time.Date(2024, 1, 15, 0, 0, 0, 0, time.UTC), true},
		{time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC), false},
	} {
		if got := ind.ValidAt(c.t); got != c.want {
			t.Errorf("ValidAt(%v) = %v", c.t, got)
		}
	}
}

func TestLoadText(t *testing.T) {
	data := "\ufeff# a list\r\n1.2.3.4\t7\r\nevil.com # comment\r\n/wp-admin/x.php\r\nnot-an-ioc\r\n66.210.228.178:443\r\n"
	b := NewBuilder()
	b.LoadBytes("list.txt", []byte(data), LoadOptions{})
	x, _ := b.Build()
	st := b.Stats()[0]
	if st.Format != FormatText || st.Indicators != 3 || st.SkippedTotal() != 1 || st.Errors != 1 {
		t.Errorf("stats %+v", st)
	}
	errs := b.Errors()
	if len(errs) != 1 || errs[0].Error() != `list.txt:5: "not-an-ioc": cannot tell the indicator type from its shape (give the type, e.g. --type domain)` {
		t.Errorf("errors %v", errs)
	}
	if _, ms := x.Lookup("66.210.228.178"); len(ms) != 1 || ms[0].Indicator.Source != "list" || ms[0].Indicator.ID != "list.txt:6" {
		t.Errorf("ip:port entry: %+v", ms)
	}
}

func TestLoadCSV(t *testing.T) {
	data := "DateAdded,IoC,Type,TLP\n1/1/2022,evil.com ,domainname,White\n1/1/2022,C:\\x.exe,filepath,White\n1/1/2022,1.2.3,ip,Amber\n"
	b := NewBuilder()
	b.LoadBytes("feed.csv", []byte(data), LoadOptions{})
	x, _ := b.Build()
	st := b.Stats()[0]
	if st.Format != FormatCSV || st.Indicators != 1 || st.SkippedTotal() != 1 || st.Errors != 1 {
		t.Errorf("stats %+v", st)
	}
	if errs := b.Errors(); len(errs) != 1 || errs[0].Error() != `feed.csv:4: "1.2.3" is not an IP address or network` {
		t.Errorf("errors %v", errs)
	}
	if _, ms := x.Lookup("evil.com"); len(ms) != 1 || ms[0].Indicator.TLP != "clear" {
		t.Errorf("evil.com: %+v", ms)
	}
}

func TestDetectFormat(t *testing.T) {
	for _, c := range []struct {
		data string
		want Format
	}{
		{`{"type":"bundle","id":"bundle--1","objects":[]}`, FormatSTIX},
		{`{"Event":{"info":"x"}}`, FormatMISPEvent},
		{`{"response":[{"Event":{}}]}`, FormatMISPEvent},
		{`{"title":"CISA Catalog","catalogVersion":"1","vulnerabilities":[]}`, FormatKEV},
		{"cveID,vendorProject,product\n", FormatKEV},
		{`{"name":"x","type":"cidr","list":[],"description":"","version":1}`, FormatWarninglist},
		{`[{"ip_address":"1.2.3.4"}]`, FormatJSONList},
		{`{"621f4e53-cd54-4194-8d8f-4a6e0abe1822":{"info":"x","Orgc":{}}}`, FormatMISPFeed},
		{"a,b,c\n1,2,3\n", FormatCSV},
		{"1.2.3.4\nevil.com\n", FormatText},
		{`{"Event": {"info": "x",]}}`, FormatMISPEvent},
		{`{"foo":1}`, "json"},
	} {
		if got := DetectFormat([]byte(c.data)); got != c.want {
			t.Errorf("DetectFormat(%q) = %q, want %q", c.data, got, c.want)
		}
	}
}

func FuzzLoadText(f *testing.F) {
	for _, s := range []string{
		"1.2.3.4\nevil.com\n# c\n/path\n",
		"\ufeffDateAdded,IoC,Type\r\n1/1/2022,evil.com ,domainname\r\n",
		"68.232.171.0/24\n118.0/24\n",
		"9/29/2020 8:01:39 AM,56ff731ac45bd95082663da70fc6cdb4560e5f84fc2ba36317cb7836a1534b3a,sha256,white\n",
		"IPAddress\n1.34.18.93\n",
		"\"a,b\nc\",d\n",
		"http://x.example:8080/a?b#c\nhxxp://evil[.]com\n[2001:db8::1]:80\n",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, data string, csv bool) {
		format := FormatText
		if csv {
			format = FormatCSV
		}
		b := NewBuilder()
		b.LoadBytes("fuzz", []byte(data), LoadOptions{Format: format})
		checkLoaded(t, b, "fuzz")
	})
}

// checkLoaded builds b and checks what every loader promises whatever its
// input (the fuzz targets' properties): every indexed value is found again
// by its own lookup (file names excepted: a bare name is not recognised
// by its shape), and every error names the file it came from.
func checkLoaded(t *testing.T, b *Builder, file string) {
	t.Helper()
	x, _ := b.Build()
	for _, ind := range x.Indicators() {
		typ, ms := x.Lookup(ind.Value)
		if typ == TypeUnknown && ind.Type != TypeFileName {
			t.Fatalf("indexed %s %q is not recognised again", ind.Type, ind.Value)
		}
		if typ != TypeUnknown && len(ms) == 0 && ind.Type != TypeFileName {
			t.Fatalf("indexed %s %q is not found again (as %s)", ind.Type, ind.Value, typ)
		}
	}
	for _, err := range b.Errors() {
		if !strings.HasPrefix(err.Error(), file) {
			t.Fatalf("error without the file: %v", err)
		}
	}
}
