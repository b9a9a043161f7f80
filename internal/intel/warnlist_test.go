package intel

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestSubstrIndex checks substrIndex against comparing every entry with
// strings.Contains, on random entries and values over a small alphabet (so
// that entries overlap, repeat, share their first four bytes and occur
// several times in a value), entries of one to nine bytes, each its own
// list.
func TestSubstrIndex(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	word := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = "ab.-c"[r.IntN(5)]
		}
		return string(b)
	}
	var x substrIndex
	var entries []warnEntry
	for i := range 3000 {
		e := warnEntry{word(1 + r.IntN(9)), uint16(i)} // one list an entry
		entries = append(entries, e)
		x.add(e.s, e.list)
	}
	x.add("", 0) // ignored
	if x.n != len(entries) {
		t.Fatalf("n = %d, want %d", x.n, len(entries))
	}
	hits := 0
	for range 3000 {
		v := word(r.IntN(40))
		var want, got []uint16
		for _, e := range entries {
			if strings.Contains(v, e.s) && !slices.Contains(want, e.list) {
				want = append(want, e.list)
			}
		}
		x.each(v, func(l uint16) {
			if !slices.Contains(got, l) {
				got = append(got, l)
			}
		})
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			var missing, extra []string
			for _, l := range want {
				if !slices.Contains(got, l) {
					missing = append(missing, entries[l].s)
				}
			}
			for _, l := range got {
				if !slices.Contains(want, l) {
					extra = append(extra, entries[l].s)
				}
			}
			t.Fatalf("each(%q): entries missed %q, entries it does not contain %q", v, missing, extra)
		}
		hits += len(got)
	}
	if hits == 0 {
		t.Fatal("no value contained any entry: the test compares nothing")
	}
}

// TestWarninglistAttributes checks that a warninglist applies only to the
// types of value its MISP matching_attributes name, that a list naming none
// applies to all, and that substring entries compare without regard to
// case.
func TestWarninglistAttributes(t *testing.T) {
	b := NewBuilder()
	for _, w := range []Warninglist{
		{Name: "emails", Type: "substring", Entries: []string{"0-mail.com"}, Attributes: []string{"email-src", "email-dst"}},
		{Name: "mixed", Type: "substring", Entries: []string{"0-mail.com", "52.168.52.134"}, Attributes: []string{"ip-src", "domain|ip"}},
		{Name: "any", Type: "substring", Entries: []string{"0-mail.com"}},
		{Name: "phones", Type: "regex", Entries: []string{`/55501/`}, Attributes: []string{"phone-number"}},
		{Name: "empty files", Type: "string", Entries: []string{"3::", "d41d8cd98f00b204e9800998ecf8427e"}, Attributes: []string{"md5", "ssdeep"}},
		{Name: "hosts", Type: "hostname", Entries: []string{"example.com"}, Attributes: []string{"hostname"}},
	} {
		if errs := b.AddWarninglist(w); errs != nil {
			t.Fatal(errs)
		}
	}
	x, errs := b.Build()
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	for _, c := range []struct{ value, lists string }{
		{"someone@0-mail.com", "emails,any"},
		{"Someone@0-MAIL.com", "emails,any"},
		{"www.0-mail.com", "mixed,any"},
		{"52.168.52.134", "mixed"},
		{"10.55.50.155501", ""}, // not an address, and no list for phone numbers
		{"192.168.55.501", ""},
		{"3::", ""}, // an ssdeep hash to the list, an IPv6 address here
		{"D41D8CD98F00B204E9800998ECF8427E", "empty files"},
		{"mail.example.com", "hosts"},
		{"https://mail.example.com/x", "hosts"}, // the host of a URL, checked as a domain
	} {
		if got := strings.Join(x.Warninglists(c.value), ","); got != c.lists {
			t.Errorf("Warninglists(%q) = %q, want %q", c.value, got, c.lists)
		}
	}
	// A value as an event writes it (MatchEvent does not normalise it).
	if got := strings.Join(x.warn.names4(TypeDomain, "WWW.0-MAIL.COM", nil), ","); got != "mixed,any" {
		t.Errorf("names4(WWW.0-MAIL.COM) = %q, want mixed,any", got)
	}
}

func TestAttributeTypes(t *testing.T) {
	for _, c := range []struct {
		attrs []string
		has   []Type
		not   []Type
	}{
		{nil, []Type{TypeIPv4, TypeDomain, TypeSHA256, TypeCVE}, nil},
		{[]string{"ip-src", "ip-dst|port"}, []Type{TypeIPv4, TypeIPv6, TypeCIDR}, []Type{TypeDomain, TypeURL}},
		{[]string{"domain|ip"}, []Type{TypeIPv4, TypeDomain}, []Type{TypeURL, TypeEmail}},
		{[]string{"filename|sha256"}, []Type{TypeSHA256, TypeFileName}, []Type{TypeMD5}},
		{[]string{"phone-number", "whois-registrant-phone"}, nil, []Type{TypeIPv4, TypeDomain, TypeURL, TypeEmail, TypeMD5}},
		{[]string{" URL "}, []Type{TypeURL}, []Type{TypeDomain}},
	} {
		s := attributeTypes(c.attrs)
		for _, ty := range c.has {
			if !s.has(ty) {
				t.Errorf("attributeTypes(%q) lacks %s", c.attrs, ty)
			}
		}
		for _, ty := range c.not {
			if s.has(ty) {
				t.Errorf("attributeTypes(%q) has %s", c.attrs, ty)
			}
		}
	}
}

// FuzzWarninglistSubstr checks a substring warninglist against comparing
// each entry: a value is on the list exactly when, in lower case (ASCII),
// it contains one of the list's entries (trimmed, not empty).
func FuzzWarninglistSubstr(f *testing.F) {
	f.Add("0-mail.com\nmailinator\n.ru", "Someone@0-MAIL.com")
	f.Add("ab\na\nabcd\nbcde", "xxABCDExx")
	f.Add(" sinkhole \n\n", "SINKHOLE.evil.net")
	f.Add("é\nÉVIL", "ÉVIL.example")
	f.Fuzz(func(t *testing.T, entries, value string) {
		b := NewBuilder()
		if errs := b.AddWarninglist(Warninglist{Name: "sub", Type: "substring", Entries: strings.Split(entries, "\n")}); errs != nil {
			t.Fatal(errs)
		}
		x, _ := b.Build()
		lower := string(appendLower(nil, value))
		want := false
		for _, e := range strings.Split(entries, "\n") {
			if e = strings.TrimSpace(e); e != "" && strings.Contains(lower, string(appendLower(nil, e))) {
				want = true
			}
		}
		got := slices.Contains(x.warn.names4(TypeDomain, value, nil), "sub")
		if got != want {
			t.Fatalf("names4(%q) on list %q: %v, want %v", value, entries, got, want)
		}
	})
}
