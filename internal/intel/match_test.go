package intel

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vigil-defense/vigil/internal/event"
)

func matchIndex(t testing.TB) *Index {
	b := NewBuilder()
	for _, ind := range []Indicator{
		{Type: TypeSHA256, Value: "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855", Source: "feed-a", ID: "sha", Confidence: 90, TLP: "amber", Labels: []string{"emotet"}, Attack: []string{"T1204.002"}},
		{Type: TypeImphash, Value: "f34d5f2d4577ed6d9ceec516c1f5a744", Source: "feed-a", ID: "imp", Confidence: 60},
		{Type: TypeDomain, Value: "evil.com", Source: "feed-b", ID: "dom", Confidence: 40},
		{Type: TypeIPv4, Value: "198.51.100.23", Source: "feed-c", ID: "ip", Confidence: 80},
		{Type: TypeCIDR, Value: "203.0.113.0/24", Source: "feed-c", ID: "net", Confidence: 70},
		{Type: TypeURL, Value: "http://bad.example/gate.php", Source: "feed-d", ID: "url", Confidence: 85},
		{Type: TypeFileName, Value: "mimikatz.exe", Source: "feed-e", ID: "file", Confidence: 50},
		{Type: TypeEmail, Value: "phish@mail.example", Source: "feed-f", ID: "mail", Confidence: 50},
		{Type: TypeIPv4, Value: "8.8.8.8", Source: "feed-g", ID: "dns", Confidence: 90},
		{Type: TypeIPv4, Value: "192.0.2.1", Source: "feed-h", ID: "expired", Confidence: 90, ValidUntil: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		if err := b.Add(ind); err != nil {
			t.Fatal(err)
		}
	}
	b.AddWarninglist(Warninglist{Name: "List of known IPv4 public DNS resolvers", Type: "cidr", Entries: []string{"8.8.8.8"}})
	x, errs := b.Build()
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	return x
}

type hit struct{ field, value, id string }

func matches(x *Index, ev *event.Event) []hit {
	var out []hit
	x.MatchEvent(ev, func(field, value string, m Match) {
		out = append(out, hit{field, value, m.Indicator.ID})
	})
	return out
}

func TestMatchEvent(t *testing.T) {
	x := matchIndex(t)
	when := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name   string
		fields [][2]string
		want   string // field=value>id;…
	}{
		{"sysmon process creation", [][2]string{
			{"Channel", "Microsoft-Windows-Sysmon/Operational"}, {"EventID", "1"},
			{"Image", `C:\Users\bob\AppData\Local\Temp\Mimikatz.exe`},
			{"Hashes", "SHA1=DA39A3EE5E6B4B0D3255BFEF95601890AFD80709,MD5=D41D8CD98F00B204E9800998ECF8427E,SHA256=E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855,IMPHASH=F34D5F2D4577ED6D9CEEC516C1F5A744"},
		}, "Image=Mimikatz.exe>file;Hashes=E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855>sha;Hashes=F34D5F2D4577ED6D9CEEC516C1F5A744>imp"},
		{"sysmon dns query", [][2]string{{"EventID", "22"}, {"QueryName", "cdn.EVIL.com"}, {"QueryResults", "::ffff:203.0.113.5;"}},
			"QueryName=cdn.EVIL.com>dom"},
		{"zeek dns", [][2]string{{"id.orig_h", "10.0.0.5"}, {"id.resp_h", "203.0.113.53"}, {"query", "evil.com"}},
			"id.resp_h=203.0.113.53>net;query=evil.com>dom"},
		{"cloudtrail", [][2]string{{"eventName", "ConsoleLogin"}, {"sourceIPAddress", "198.51.100.23"}, {"userAgent", "aws-cli/2.0"}},
			"sourceIPAddress=198.51.100.23>ip"},
		{"sysmon network", [][2]string{{"SourceIp", "10.0.0.5"}, {"DestinationIp", "198.51.100.23"}, {"DestinationHostname", "x.evil.com"}},
			"DestinationIp=198.51.100.23>ip;DestinationHostname=x.evil.com>dom"},
		{"proxy url", [][2]string{{"url", "HTTP://Bad.Example:80/gate.php#x"}, {"c-uri", "https://x.evil.com/a"}},
			"url=HTTP://Bad.Example:80/gate.php#x>url;c-uri=https://x.evil.com/a>dom"},
		{"mail", [][2]string{{"sender", "Phish@Mail.Example"}}, "sender=Phish@Mail.Example>mail"},
		{"warninglisted", [][2]string{{"DestinationIp", "8.8.8.8"}}, "DestinationIp=8.8.8.8>dns"},
		{"expired indicator", [][2]string{{"DestinationIp", "192.0.2.1"}}, ""},
		{"nothing", [][2]string{{"Image", `C:\Windows\System32\svchost.exe`}, {"CommandLine", "svchost.exe -k netsvcs"}, {"DestinationIp", "10.1.2.3"}, {"QueryName", "www.example.org"}}, ""},
	} {
		ev := &event.Event{Time: when}
		for _, f := range c.fields {
			ev.AddString(f[0], f[1])
		}
		var got []string
		for _, h := range matches(x, ev) {
			got = append(got, h.field+"="+h.value+">"+h.id)
		}
		if strings.Join(got, ";") != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, strings.Join(got, ";"), c.want)
		}
	}
}

func TestNewDetection(t *testing.T) {
	x := matchIndex(t)
	ev := &event.Event{Time: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC), Source: "sysmon.evtx", Record: 42}
	ev.AddString("Computer", "host1")
	ev.AddString("Channel", "Microsoft-Windows-Sysmon/Operational")
	ev.AddString("EventID", "1")
	ev.AddString("Hashes", "SHA256=E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855")
	ev.AddString("DestinationIp", "8.8.8.8")
	var ds []string
	x.MatchEvent(ev, func(field, value string, m Match) {
		d := NewDetection(ev, field, value, m)
		ds = append(ds, string(d.AppendJSON(nil)))
		// An indicator not from an index (without the text its
		// detections share) gives the same detection.
		bare := *m.Indicator
		bare.text = nil
		if m.Indicator.text == nil {
			t.Errorf("%s: indexed indicator without its shared text", m.Indicator.Value)
		}
		if got := NewDetection(ev, field, value, Match{Indicator: &bare, Warninglists: m.Warninglists}); string(got.AppendJSON(nil)) != ds[len(ds)-1] {
			t.Errorf("without shared text:\n got %s\nwant %s", got.AppendJSON(nil), ds[len(ds)-1])
		}
		// The tags are shared between detections: appending to one
		// must copy them.
		if cap(d.Tags) != len(d.Tags) {
			t.Errorf("tags %q have room (%d) that an append would write into another detection's", d.Tags, cap(d.Tags))
		}
	})
	ev.Reset() // the detections own their data
	if len(ds) != 2 {
		t.Fatalf("%d detections", len(ds))
	}
	for _, want := range []string{
		`"rule_id":"intel:feed-a"`, `"rule_title":"Threat intelligence match: sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"`,
		`"level":"high"`, `"tags":["attack.t1204.002"]`, `"author":"feed-a"`, `"computer":"host1"`, `"event_id":"1"`, `"record_id":42`,
		`"intel.indicator":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"`, `"intel.source":"feed-a"`,
		`"intel.confidence":"90"`, `"intel.tlp":"amber"`, `"intel.labels":"emotet"`, `"intel.warninglist":""`, `"intel.field":"Hashes"`,
	} {
		if !strings.Contains(ds[0], want) {
			t.Errorf("detection lacks %s:\n%s", want, ds[0])
		}
	}
	for _, want := range []string{`"level":"informational"`, `"intel.warninglist":"List of known IPv4 public DNS resolvers"`} {
		if !strings.Contains(ds[1], want) {
			t.Errorf("detection lacks %s:\n%s", want, ds[1])
		}
	}
}

func TestMatchEventAllocs(t *testing.T) {
	x := matchIndex(t)
	ev := sampleEvents()[0]
	n := testing.AllocsPerRun(100, func() {
		x.MatchEvent(ev, func(string, string, Match) { t.Fatal("matched") })
	})
	if n != 0 {
		t.Errorf("%v allocations per non-matching event", n)
	}
}

// sampleEvents are events that match nothing in the benchmarks' indexes.
func sampleEvents() []*event.Event {
	var evs []*event.Event
	for _, fields := range [][][2]string{
		{{"Channel", "Microsoft-Windows-Sysmon/Operational"}, {"EventID", "1"}, {"Computer", "WS01.corp.example"},
			{"Image", `C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe`}, {"CommandLine", "powershell.exe -nop -w hidden -c IEX"},
			{"User", `CORP\bob`}, {"ParentImage", `C:\Windows\explorer.exe`},
			{"Hashes", "SHA1=0B3E9A3C5F0E6F5B1E1E2F9C1D2A3B4C5D6E7F80,MD5=1A2B3C4D5E6F708192A3B4C5D6E7F801,SHA256=AB0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B8551,IMPHASH=0A1B2C3D4E5F60718293A4B5C6D7E8F9"}},
		{{"Channel", "Microsoft-Windows-Sysmon/Operational"}, {"EventID", "3"}, {"SourceIp", "10.0.0.5"}, {"SourcePort", "50123"},
			{"DestinationIp", "93.184.216.34"}, {"DestinationPort", "443"}, {"DestinationHostname", "www.Example.org"}},
		{{"EventID", "22"}, {"QueryName", "login.microsoftonline.com"}, {"QueryResults", "type: 5 login.mso.msidentity.com;::ffff:20.190.151.7;"}},
		{{"eventName", "ConsoleLogin"}, {"sourceIPAddress", "52.95.110.1"}, {"userAgent", "Mozilla/5.0"}, {"recipientAccountId", "123456789012"}},
		{{"id.orig_h", "10.0.0.7"}, {"id.resp_h", "172.217.16.14"}, {"query", "www.google.com"}, {"uri", "https://www.google.com/search?q=x"}},
	} {
		ev := &event.Event{}
		for _, f := range fields {
			ev.AddString(f[0], f[1])
		}
		evs = append(evs, ev)
	}
	return evs
}

// isTimestamp takes the times logs write (Zeek ts, EVTX TimeCreated,
// Sysmon UtcTime, ECS @timestamp) and nothing that could name an
// indicator.
func TestIsTimestamp(t *testing.T) {
	for _, v := range []string{
		"2018-03-24T17:15:20.865716Z", "2021-10-20T13:39:12.731904Z", "2019-05-12 15:46:11.725",
		"2020-09-22T19:23:34.123+00:00", "2020-09-22T19:23:34-0500", "2020-09-22T19:23:34", "2020-09-22 19:23:34Z",
	} {
		if !isTimestamp(v) {
			t.Errorf("%q: not taken for a time", v)
		}
	}
	for _, v := range []string{
		"2018-03-24T17:15:20.865716Zx", "2018-03-24T17:15:20.", "2018-03-24T17:15:20/evil.com", "2018-03-24T17:15:20.example.com",
		"2018-03-2aT17:15:20", "2018-03-24T17:15:20+00:0", "2018-03-24T17:15:20+0000x", "2018-03-24X17:15:20",
		"http://a.example/2018-03-24", "2018-03-24", "2018-03-24T17:15:2", "2018-03-24T17:15:20 evil.com", "2018-03-24T17:15:20.12:34",
	} {
		if isTimestamp(v) {
			t.Errorf("%q: taken for a time", v)
		}
	}
}

// isTimestamp agrees with a regular expression of the same shape on every
// one-byte change of real times, at every position, to every byte value.
func TestIsTimestampMutations(t *testing.T) {
	re := regexp.MustCompile(`^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?$`)
	for _, base := range []string{"2018-03-24T17:15:20.865716Z", "2019-05-12 15:46:11.725", "2020-09-22T19:23:34+00:00", "2020-09-22T19:23:34"} {
		for i := 0; i < len(base); i++ {
			for c := 0; c < 256; c++ {
				v := []byte(base)
				v[i] = byte(c)
				want := len(v) <= 35 && re.Match(v)
				if got := isTimestamp(string(v)); got != want {
					t.Fatalf("%q: isTimestamp %v, want %v", v, got, want)
				}
			}
		}
	}
}

// isTimestamp agrees with the regular expression on every value of the
// shared corpus's events (Zeek ts and _write_ts, Sysmon UtcTime, ECS
// @timestamp, CloudTrail eventTime, and every value that is not a time).
func TestIsTimestampCorpus(t *testing.T) {
	evs, err := corpusEventsOnce()
	if err != nil {
		t.Skipf("corpus absent (%v): the logs live in ../shared/corpus next to the repository", err)
	}
	re := regexp.MustCompile(`^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?$`)
	times := 0
	for _, ev := range evs {
		for i := 0; i < ev.Len(); i++ {
			v := ev.Value(i)
			want := len(v) <= 35 && re.MatchString(v)
			if got := isTimestamp(v); got != want {
				t.Fatalf("%s:%d: %s = %q: isTimestamp %v, want %v", ev.Source, ev.Record, ev.Name(i), v, got, want)
			}
			if want {
				times++
			}
		}
	}
	if times < 1000 {
		t.Fatalf("only %d times in %d events", times, len(evs))
	}
	t.Logf("%d times among the values of %d events", times, len(evs))
}

// A time is passed by unless a file name shaped like one is indexed: then
// a field holding that time still finds it, as any file name would.
func TestTimeShapedFileName(t *testing.T) {
	build := func(name string) *Index {
		b := NewBuilder()
		if err := b.Add(Indicator{Type: TypeFileName, Value: name, Source: "feed", ID: "f", Confidence: 50}); err != nil {
			t.Fatal(err)
		}
		x, errs := b.Build()
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		return x
	}
	ev := &event.Event{}
	ev.AddString("_write_ts", "2018-03-24T17:15:05.432129Z")
	ev.AddString("UtcTime", "2019-05-12 15:46:11.725")
	ev.AddString("TargetFilename", `C:\Temp\2018-03-24T17:15:05.432129Z`)
	for _, c := range []struct {
		file  string
		times bool
		want  int
	}{
		{"mimikatz.exe", true, 0},
		{"2018-03-24t17:15:05.432129z", false, 2}, // the time itself, and the path's last element
		{"2019-05-12 15:46:11.725", false, 1},
	} {
		x := build(c.file)
		if got := x.NewMatcher().times; got != c.times {
			t.Errorf("%s indexed: times %v, want %v", c.file, got, c.times)
		}
		if got := len(matches(x, ev)); got != c.want {
			t.Errorf("%s indexed: %d matches, want %d", c.file, got, c.want)
		}
	}
}

// A Hashes field is matched even when the previous event had its value at
// the same position in a field of another name (where ALG=hex names
// nothing, so the value was remembered as finding nothing).
func TestHashesAfterSameValue(t *testing.T) {
	x := matchIndex(t)
	v := "SHA256=E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"
	for _, short := range []bool{false, true} {
		val := v
		if short {
			val = v[:40] // shorter than a pair can be: nothing either way
		}
		m := x.NewMatcher()
		n := 0
		for _, name := range []string{"Description", "Hashes", "Hashes"} {
			ev := &event.Event{}
			ev.AddString("Image", `C:\Windows\notepad.exe`)
			ev.AddString(name, val)
			m.Match(ev, func(field, value string, _ Match) {
				if field == "Hashes" {
					n++
				}
			})
		}
		if want := map[bool]int{false: 2, true: 0}[short]; n != want {
			t.Errorf("value of %d bytes: %d matches in the Hashes fields, want %d", len(val), n, want)
		}
	}
}

// hasScheme agrees with strings.Contains(v, "://") on every value of the
// corpus's events and on edge cases.
func TestHasScheme(t *testing.T) {
	for _, v := range []string{"", "/", "//", ":/", "://", "a://", "://b", ":/ /", "a:/x//", "a:///", "x/y://z", "/:/"} {
		if got, want := hasScheme(v), strings.Contains(v, "://"); got != want {
			t.Errorf("%q: hasScheme %v, want %v", v, got, want)
		}
	}
	evs, err := corpusEventsOnce()
	if err != nil {
		t.Skipf("corpus absent (%v): the logs live in ../shared/corpus next to the repository", err)
	}
	n := 0
	for _, ev := range evs {
		for i := 0; i < ev.Len(); i++ {
			v := ev.Value(i)
			if got, want := hasScheme(v), strings.Contains(v, "://"); got != want {
				t.Fatalf("%q: hasScheme %v, want %v", v, got, want)
			}
			if strings.Contains(v, "://") {
				n++
			}
		}
	}
	t.Logf("%d values with a scheme", n)
}

// TestLastSlash compares lastSlash with strings.LastIndexAny for strings of
// 0 to 24 bytes with every byte value at every position, a slash before it
// or not (slashMask must tell each byte of a word exactly).
func TestLastSlash(t *testing.T) {
	for n := 0; n <= 24; n++ {
		for pos := 0; pos < n; pos++ {
			for c := 0; c < 256; c++ {
				for _, before := range []byte{'a', '/', '\\', 0x00, 0xff, '/' + 0x80, '\\' - 1} {
					b := []byte(strings.Repeat("x", n))
					for k := 0; k < pos; k += 3 {
						b[k] = before
					}
					b[pos] = byte(c)
					v := string(b)
					if got, want := lastSlash(v), strings.LastIndexAny(v, `/\`); got != want {
						t.Fatalf("lastSlash(%q) = %d, want %d", v, got, want)
					}
				}
			}
		}
	}
}

// TestFileTail checks fileTail against the last path element found by
// scanning the whole value: it must give that element when it is no longer
// than maxFile and every byte of it is one an indexed name has (in either
// case), and refuse it otherwise. On hand-picked values, then on every
// field of every 20th corpus event (Windows messages, command lines,
// paths), for limits around each element's length and the bytes of a few
// file names or of all.
func TestFileTail(t *testing.T) {
	var some, all [4]uint64
	for _, name := range []string{"svchost.exe", "app.exe", "y.dll", "conf.ini", "my file_2.txt"} {
		for _, c := range []byte(name) {
			some[c>>6] |= 1 << (c & 63)
			if c >= 'a' && c <= 'z' {
				c -= 'a' - 'A'
				some[c>>6] |= 1 << (c & 63)
			}
		}
	}
	all = [4]uint64{^uint64(0), ^uint64(0), ^uint64(0), ^uint64(0)}
	check := func(v string, limit int, bytes [4]uint64) {
		want := v[strings.LastIndexAny(v, `/\`)+1:]
		wantOK := len(want) <= limit
		for _, c := range []byte(want) {
			wantOK = wantOK && bytes[c>>6]&(1<<(c&63)) != 0
		}
		m := &Matcher{maxFile: limit, fileBytes: bytes}
		if base, ok := m.fileTail(v); ok != wantOK || ok && base != want {
			t.Fatalf("fileTail(%q), maxFile %d = %q, %v; want %q, %v", v, limit, base, ok, want, wantOK)
		}
	}
	for _, v := range []string{"", "a", "evil.exe", `C:\Windows\System32\svchost.exe`, `C:\WINDOWS\SVCHOST.EXE`, "/usr/bin/", "dir/x",
		`"C:\Program Files\App\app.exe" --config C:\ProgramData\App\conf.ini now`, `D:\docs\My File_2.txt`,
		strings.Repeat("x", 300) + `\y.dll`, "line\r\n", "caf\u00e9.exe"} {
		for limit := 0; limit <= len(v)+2; limit++ {
			check(v, limit, some)
			check(v, limit, all)
		}
	}
	evs, err := readCorpusEvents(20)
	if err != nil {
		t.Skipf("corpus absent (%v): the logs live in ../shared/corpus next to the repository", err)
	}
	n := 0
	for _, ev := range evs {
		for i := range ev.Len() {
			for _, limit := range []int{12, 40, 256} {
				check(ev.Value(i), limit, some)
				check(ev.Value(i), limit, all)
			}
			n++
		}
	}
	t.Logf("%d corpus values", n)
}

// TestHashesPairs checks how a Hashes field's pairs are read: algorithm
// names in any case, white space around a pair (also a tab or a non-ASCII
// space), names of other lengths and algorithms that are not indexed.
func TestHashesPairs(t *testing.T) {
	x := matchIndex(t)
	const sha = "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"
	for _, c := range []struct {
		v    string
		want int
	}{
		{"SHA256=" + sha, 1},
		{"sha256=" + strings.ToLower(sha), 1},
		{"Sha256=" + sha + ",MD5=D41D8CD98F00B204E9800998ECF8427E", 1},
		{" SHA256=" + sha + " ", 1},
		{"\tSHA256=" + sha, 1},
		{"\u00a0SHA256=" + sha + "\u3000", 1},
		{"MD5=0,SHA256=" + sha, 1},
		{"SHA384=" + sha, 0},
		{"SHA2567=" + sha, 0},
		{"SHA25=" + sha, 0},
		{"SHA256 =" + sha, 0},
		{"SHA256=" + sha[:63], 0},
		{"SHA256=" + sha[:63] + "g", 0},
	} {
		ev := &event.Event{}
		ev.AddString("Hashes", c.v)
		n := 0
		x.MatchEvent(ev, func(field, value string, _ Match) { n++ })
		if n != c.want {
			t.Errorf("Hashes=%q: %d matches, want %d", c.v, n, c.want)
		}
	}
}

// TestFileInCommandLine matches an indexed file name at the end of a value
// with spaces (a command line, a message), in any case, and not when other
// text follows it.
func TestFileInCommandLine(t *testing.T) {
	x := matchIndex(t)
	for _, c := range []struct {
		v    string
		want int
	}{
		{`cmd.exe /c C:\Temp\mimikatz.exe`, 1},
		{`cmd.exe /c C:\Temp\MIMIKATZ.EXE`, 1},
		{`run it from /tmp/x y/Mimikatz.Exe`, 1},
		{`cmd.exe /c C:\Temp\MIMIKATZ.EXE -x`, 0},
		{`cmd.exe /c "C:\Temp\mimikatz.exe"`, 0},
		{`cmd.exe /c C:\Temp\mimikatz.exe2`, 0},
	} {
		ev := &event.Event{}
		ev.AddString("CommandLine", c.v)
		n := 0
		x.MatchEvent(ev, func(field, value string, m Match) {
			if value != "mimikatz.exe" && !strings.EqualFold(value, "mimikatz.exe") {
				t.Errorf("%q: matched %q", c.v, value)
			}
			n++
		})
		if n != c.want {
			t.Errorf("%q: %d matches, want %d", c.v, n, c.want)
		}
	}
}
