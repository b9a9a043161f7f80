package correlate

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vigil-defense/vigil/internal/detect"
	"github.com/vigil-defense/vigil/internal/event"
	"github.com/vigil-defense/vigil/sigma"
)

var ct0 = time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)

// base returns compiled programs for detection rules given as "id name" pairs.
func base(rules ...string) []*detect.Program {
	var ps []*detect.Program
	for i, r := range rules {
		id, name, _ := strings.Cut(r, " ")
		ps = append(ps, &detect.Program{Rule: &sigma.Rule{Meta: sigma.Meta{ID: id, Name: name, Title: "rule " + name}}, Path: "rules.yml", Index: i})
	}
	return ps
}

// corrs parses correlation documents written for these tests.
func corrs(t *testing.T, yml string) []*sigma.Correlation {
	t.Helper()
	f, err := sigma.ParseFile("corr.yml", []byte(yml))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return f.Correlations
}

func compile(t *testing.T, yml string, ps []*detect.Program) *Engine {
	t.Helper()
	e, errs := Compile(corrs(t, yml), ps)
	for _, err := range errs {
		t.Errorf("compile: %v", err)
	}
	return e
}

// det is a detection of rule id at ct0+at, with fields given as name=value.
func det(id string, at time.Duration, kv ...string) detect.Detection {
	d := detect.Detection{RuleID: id, Time: ct0.Add(at), Source: "s.evtx", RecordID: uint64(at / time.Second)}
	for _, f := range kv {
		n, v, _ := strings.Cut(f, "=")
		d.Fields = append(d.Fields, event.Field{Name: n, Value: v})
	}
	return d
}

// summary renders fired detections compactly: rule@offset group value #events.
func csum(out []detect.Detection) string {
	var b []string
	for _, d := range out {
		var g []string
		for _, f := range d.Fields {
			g = append(g, f.Name+"="+f.Value)
		}
		b = append(b, fmt.Sprintf("%s@%v[%s]=%g#%d", d.RuleID, d.Time.Sub(ct0), strings.Join(g, ","), d.Correlation.Value, len(d.Correlation.Events)))
	}
	return strings.Join(b, " ")
}

func run(e *Engine, dets ...detect.Detection) string {
	return csum(e.Run(context.Background(), dets))
}

const m = time.Minute

func check(t *testing.T, name, got, want string) {
	t.Helper()
	if got != want {
		t.Errorf("%s:\n got  %s\n want %s", name, got, want)
	}
}

func TestEventCountWindowEdges(t *testing.T) {
	ps := base("r1 failed")
	e := compile(t, `
title: five failures
id: c1
correlation:
  type: event_count
  rules: [failed]
  group-by: [User]
  timespan: 5m
  condition: {gte: 3}
`, ps)
	// Three events with the third exactly 5m after the first: all in one
	// window, fires at 5m with 3 events.
	check(t, "exactly at timespan", run(e, det("r1", 0, "User=a"), det("r1", 2*m, "User=a"), det("r1", 5*m, "User=a")),
		"c1@5m0s[User=a]=3#3")
	// One nanosecond over: the first falls out of the window, count is 2.
	check(t, "one ns over", run(e, det("r1", 0, "User=a"), det("r1", 2*m, "User=a"), det("r1", 5*m+1, "User=a")), "")
	// Sliding, not fixed boundaries: 0, 4m, 6m, 7m -> at 7m the window
	// [2m,7m] holds 4m, 6m, 7m: fires at 7m; then restarts.
	check(t, "sliding", run(e, det("r1", 0, "User=a"), det("r1", 4*m, "User=a"), det("r1", 6*m, "User=a"), det("r1", 7*m, "User=a")),
		"c1@7m0s[User=a]=3#3")
	// A burst of 7: fires at the 3rd, then stays quiet for one timespan
	// (same story): not at the 6th, nor at every event after.
	var burst []detect.Detection
	for i := range 7 {
		burst = append(burst, det("r1", time.Duration(i)*time.Second, "User=a"))
	}
	check(t, "burst", run(e, burst...), "c1@2s[User=a]=3#3")
	// The attack goes on after the quiet timespan (fired at 2s, quiet
	// until 5m2s): the window [1m10s,6m10s] at 6m10s holds 6m, 6m5s, 6m10s.
	later := append(append([]detect.Detection(nil), burst...),
		det("r1", 6*m, "User=a"), det("r1", 6*m+5*time.Second, "User=a"), det("r1", 6*m+10*time.Second, "User=a"))
	check(t, "burst after quiet", run(e, later...), "c1@2s[User=a]=3#3 c1@6m10s[User=a]=3#3")
	// Out-of-order input in batch mode: sorted first, same answer as in order.
	check(t, "out of order", run(e, det("r1", 5*m, "User=a"), det("r1", 0, "User=a"), det("r1", 2*m, "User=a")),
		"c1@5m0s[User=a]=3#3")
	// Groups are separate; an event without User takes no part.
	check(t, "groups and missing field", run(e,
		det("r1", 0, "User=a"), det("r1", 1*m, "User=b"), det("r1", 2*m, "User=a"), det("r1", 3*m),
		det("r1", 3*m, "User=b"), det("r1", 4*m, "User=a")),
		"c1@4m0s[User=a]=3#3")
	// Other rules' detections are ignored.
	check(t, "other rule", run(e, det("zz", 0, "User=a"), det("zz", 1, "User=a"), det("zz", 2, "User=a")), "")
}

func TestOperators(t *testing.T) {
	ps := base("r1 ev")
	mk := func(cond string) *Engine {
		return compile(t, `
title: op
id: op
correlation:
  type: event_count
  rules: [ev]
  group-by: [Host]
  timespan: 10m
  condition: `+cond+`
`, ps)
	}
	// Host h1: 2 events in [0,10m]; host h2: 4 events. Then at 30m one event
	// of each host (a second window each, count 1), which also closes the
	// first windows.
	dets := []detect.Detection{
		det("r1", 0, "Host=h1"), det("r1", 1*m, "Host=h2"), det("r1", 2*m, "Host=h2"), det("r1", 3*m, "Host=h1"),
		det("r1", 4*m, "Host=h2"), det("r1", 5*m, "Host=h2"), det("r1", 30*m, "Host=h1"), det("r1", 30*m, "Host=h2"),
	}
	for _, c := range []struct{ cond, want string }{
		// Early (sliding) operators fire at the completing event.
		{"{gt: 3}", "op@5m0s[Host=h2]=4#4"},
		{"{gte: 2}", "op@2m0s[Host=h2]=2#2 op@3m0s[Host=h1]=2#2"},
		// Late operators are decided on complete anchored windows:
		// h1 [0,10m]=2, h2 [1m,11m]=4, h1 [30m,40m]=1, h2 [30m,40m]=1.
		{"{lt: 2}", "op@30m0s[Host=h1]=1#1 op@30m0s[Host=h2]=1#1"},
		{"{lte: 2}", "op@3m0s[Host=h1]=2#2 op@30m0s[Host=h1]=1#1 op@30m0s[Host=h2]=1#1"},
		{"{eq: 4}", "op@5m0s[Host=h2]=4#4"},
		{"{neq: 1}", "op@3m0s[Host=h1]=2#2 op@5m0s[Host=h2]=4#4"},
		// A range: the two thresholds are AND'ed.
		{"{gt: 1, lte: 3}", "op@3m0s[Host=h1]=2#2"},
	} {
		check(t, c.cond, run(mk(c.cond), dets...), c.want)
	}
}

func TestMultipleGroupBy(t *testing.T) {
	e := compile(t, `
title: pairs
id: c
correlation:
  type: event_count
  rules: [r1]
  group-by: [Src, Dst]
  timespan: 1h
  condition: {gte: 2}
`, base("r1 x"))
	// (a,b) twice -> fires; (a,c) and (b,b) once each -> no; (a) lacks Dst.
	check(t, "pairs", run(e, det("r1", 0, "Src=a", "Dst=b"), det("r1", m, "Src=a", "Dst=c"), det("r1", 2*m, "Src=b", "Dst=b"),
		det("r1", 3*m, "Src=a"), det("r1", 4*m, "Src=a", "Dst=b")), "c@4m0s[Src=a,Dst=b]=2#2")
}

func TestValueCount(t *testing.T) {
	// Mirrors the specification's value_count example (failed logons with
	// many distinct user accounts per source and destination in a day),
	// scaled down: 3 distinct users per (ComputerName, WorkstationName).
	e := compile(t, `
title: spray
id: spray
correlation:
  type: value_count
  rules: [failed]
  group-by: [ComputerName, WorkstationName]
  timespan: 1d
  condition: {field: User, gte: 3}
`, base("r1 failed"))
	g := []string{"ComputerName=dc", "WorkstationName=ws"}
	w := func(at time.Duration, user ...string) detect.Detection { return det("r1", at, append(g, user...)...) }
	// alice, alice, bob, (no user: skipped), bob, carol -> 3 distinct at carol.
	check(t, "distinct", run(e, w(0, "User=alice"), w(m, "User=alice"), w(2*m, "User=bob"), w(3*m), w(4*m, "User=bob"), w(5*m, "User=carol")),
		"spray@5m0s[ComputerName=dc,WorkstationName=ws]=3#5")
	// Distinct values older than the timespan no longer count: alice at 0,
	// bob at 23h, carol at 24h+1ns -> alice is out, 2 distinct.
	check(t, "stale value", run(e, w(0, "User=alice"), w(23*time.Hour, "User=bob"), w(24*time.Hour+1, "User=carol")), "")
	// ... but a value seen again inside the window counts: alice at 0 and
	// 23h, bob, carol at 24h+1ns -> alice, bob, carol.
	check(t, "refreshed value", run(e, w(0, "User=alice"), w(23*time.Hour, "User=alice"), w(23*time.Hour+m, "User=bob"), w(24*time.Hour+1, "User=carol")),
		"spray@24h0m0.000000001s[ComputerName=dc,WorkstationName=ws]=3#3")
}

func TestValueSumAvgPercentile(t *testing.T) {
	ps := base("r1 web")
	mk := func(typ, cond string) *Engine {
		return compile(t, `
title: v
id: v
correlation:
  type: `+typ+`
  rules: [web]
  group-by: [User]
  timespan: 1h
  condition: `+cond+`
`, ps)
	}
	u := func(at time.Duration, bytes string) detect.Detection {
		if bytes == "" {
			return det("r1", at, "User=u")
		}
		return det("r1", at, "User=u", "Bytes="+bytes)
	}
	dets := []detect.Detection{u(0, "100"), u(m, "abc"), u(2*m, "0x100"), u(3*m, ""), u(4*m, " 300 "), u(5*m, "1e3")}
	// Numbers: 100, 256, 300, 1000 ("abc" not numeric, one lacks Bytes).
	// Sum reaches 100+256+300 = 656 > 600 at 4m (fires, restarts), then 1000
	// alone > 600 at 5m.
	e := mk("value_sum", "{field: Bytes, gt: 600}")
	r := e.NewRunner(NewMemoryState(0), Options{})
	var out []detect.Detection
	for _, d := range dets {
		r.Feed(d, func(d detect.Detection) { out = append(out, d) })
	}
	r.Flush(func(d detect.Detection) { out = append(out, d) })
	check(t, "sum", csum(out), "v@4m0s[User=u]=656#3")
	if s := r.Stats(); s.NonNumeric != 1 || s.MissingValue != 1 {
		t.Errorf("stats = %+v, want 1 non-numeric, 1 missing value", s)
	}
	// Average of the anchored window [0,1h]: (100+256+300+1000)/4 = 414,
	// decided at the end of input.
	check(t, "avg", run(mk("value_avg", "{field: Bytes, gt: 400}"), dets...), "v@5m0s[User=u]=414#4")
	check(t, "avg below", run(mk("value_avg", "{field: Bytes, gt: 415}"), dets...), "")
	// Nearest-rank 95th percentile of {100,256,300,1000}: rank ceil(3.8)=4 -> 1000.
	check(t, "percentile", run(mk("value_percentile", "{field: Bytes, gte: 1000}"), dets...), "v@5m0s[User=u]=1000#4")
	// Mirrors the specification's value_percentile test rule (lte 1 over a
	// field): with no numeric value the window never fires.
	check(t, "percentile of text", run(mk("value_percentile", "{field: Image, lte: 1}"), det("r1", 0, "User=u", "Image=cmd.exe")), "")
}

func TestTemporal(t *testing.T) {
	// Mirrors the specification's temporal example: three reconnaissance
	// rules, any order, within 5 minutes, same ComputerName and User.
	ps := base("ra recon_cmd_a", "rb recon_cmd_b", "rc recon_cmd_c")
	const rules = `
  rules: [recon_cmd_a, recon_cmd_b, recon_cmd_c]
  group-by: [ComputerName, User]
  timespan: 5m
`
	unordered := compile(t, "title: t\nid: t\ncorrelation:\n  type: temporal"+rules, ps)
	ordered := compile(t, "title: o\nid: o\ncorrelation:\n  type: temporal_ordered"+rules, ps)
	g := []string{"ComputerName=pc", "User=u"}
	c, b, a := det("rc", 0, g...), det("rb", m, g...), det("ra", 2*m, g...)
	// c, b, a: all three within 5m -> temporal fires at a; ordered does not.
	check(t, "temporal any order", run(unordered, c, b, a), "t@2m0s[ComputerName=pc,User=u]=3#3")
	check(t, "ordered, wrong order", run(ordered, c, b, a), "")
	// a, b, c in order -> both fire at c.
	a, b, c = det("ra", 0, g...), det("rb", m, g...), det("rc", 2*m, g...)
	check(t, "ordered", run(ordered, a, b, c), "o@2m0s[ComputerName=pc,User=u]=3#3")
	check(t, "temporal in order", run(unordered, a, b, c), "t@2m0s[ComputerName=pc,User=u]=3#3")
	// a at 0, b at 1m, c at 5m+1ns: a is out of the window.
	late := det("rc", 5*m+1, g...)
	check(t, "temporal too slow", run(unordered, a, b, late), "")
	check(t, "ordered too slow", run(ordered, a, b, late), "")
	// a, a, b, then a c at 5m30s: the chain restarting at the second a
	// (1m) is still in the window.
	a2 := det("ra", m, g...)
	b2 := det("rb", 2*m, g...)
	c2 := det("rc", 5*m+30*time.Second, g...)
	check(t, "ordered latest start", run(ordered, a, a2, b2, c2), "o@5m30s[ComputerName=pc,User=u]=3#3")
	// A different user breaks the group.
	check(t, "other group", run(unordered, det("ra", 0, g...), det("rb", m, g...), det("rc", 2*m, "ComputerName=pc", "User=v")), "")

	// Condition expressions (the specification's test rules give
	// "a and b and c"; here an or).
	expr := compile(t, `
title: x
id: x
correlation:
  type: temporal
  rules: [recon_cmd_a, recon_cmd_b, recon_cmd_c]
  group-by: [User]
  timespan: 5m
  condition: recon_cmd_a and (recon_cmd_b or recon_cmd_c)
`, ps)
	check(t, "expr", run(expr, det("rc", 0, "User=u"), det("ra", m, "User=u")), "x@1m0s[User=u]=2#2")
	// A threshold on a temporal: at least 2 of the 3 rules.
	two := compile(t, `
title: two
id: two
correlation:
  type: temporal
  rules: [recon_cmd_a, recon_cmd_b, recon_cmd_c]
  group-by: [User]
  timespan: 5m
  condition: {gte: 2}
`, ps)
	check(t, "two of three", run(two, det("rb", 0, "User=u"), det("rb", m, "User=u"), det("rc", 2*m, "User=u")), "two@2m0s[User=u]=2#3")
}

func TestChainAndGenerate(t *testing.T) {
	// Mirrors the specification's closing example: many failed logins of
	// a user (an event_count) followed by a successful login of the same
	// user (temporal_ordered over the event_count and the base rule),
	// scaled down to 3 failures.
	ps := base("f failed_login", "s successful_login")
	e := compile(t, `
title: brute force then success
id: outer
level: high
correlation:
  type: temporal_ordered
  rules: [multiple_failed_login, successful_login]
  group-by: [User]
  timespan: 10m
---
title: many failures
id: inner
name: multiple_failed_login
correlation:
  type: event_count
  rules: [failed_login]
  group-by: [User]
  timespan: 10m
  condition: {gte: 3}
`, ps)
	dets := []detect.Detection{
		det("s", 0, "User=bob"),                                                       // success before the failures: no order
		det("f", m, "User=bob"), det("f", 2*m, "User=bob"), det("f", 3*m, "User=bob"), // inner fires at 3m
		det("s", 4*m, "User=bob"), // outer fires at 4m with 3 failures + success
		det("s", 5*m, "User=eve"),
	}
	out := e.Run(context.Background(), dets)
	// The inner correlation is consumed without generate: only the outer is output.
	check(t, "chain", csum(out), "outer@4m0s[User=bob]=2#4")
	if len(out) == 1 {
		d := out[0]
		if d.Level != "high" || d.RuleTitle != "brute force then success" || d.Correlation.Type != "temporal_ordered" ||
			d.Correlation.Group["User"] != "bob" || !d.Correlation.WindowStart.Equal(ct0.Add(m)) || !d.Correlation.WindowEnd.Equal(ct0.Add(4*m)) {
			t.Errorf("outer detection = %+v %+v", d, d.Correlation)
		}
		rules := ""
		for _, ev := range d.Correlation.Events {
			rules += ev.RuleID
		}
		if rules != "fffs" {
			t.Errorf("events by rule = %q, want fffs", rules)
		}
	}
	// Base rules read without generate are not standalone; others are.
	for _, c := range []struct {
		id   string
		want bool
	}{{"f", false}, {"s", false}, {"other", true}} {
		d := detect.Detection{RuleID: c.id}
		if got := e.Standalone(&d); got != c.want {
			t.Errorf("Standalone(%s) = %v, want %v", c.id, got, c.want)
		}
	}
	if got := strings.Join(e.Referenced(), ","); got != "f,s" {
		t.Errorf("Referenced = %s", got)
	}

	// With generate on the outer, the inner's detections are output too,
	// and the rules it reads directly (successful_login) stand alone.
	gen := compile(t, `
title: brute force then success
id: outer
correlation:
  type: temporal_ordered
  rules: [multiple_failed_login, successful_login]
  group-by: [User]
  timespan: 10m
  generate: true
---
title: many failures
id: inner
name: multiple_failed_login
correlation:
  type: event_count
  rules: [failed_login]
  group-by: [User]
  timespan: 10m
  condition: {gte: 3}
`, ps)
	check(t, "generate", run(gen, dets...), "inner@3m0s[User=bob]=3#3 outer@4m0s[User=bob]=2#4")
	if s := (detect.Detection{RuleID: "s"}); !gen.Standalone(&s) {
		t.Error("successful_login should stand alone under generate")
	}
	if f := (detect.Detection{RuleID: "f"}); gen.Standalone(&f) {
		t.Error("failed_login is read by a correlation without generate")
	}
}

func TestAliases(t *testing.T) {
	// Mirrors the specification's alias example: an internal error and a
	// network connection with the same address pair, the roles swapped,
	// within 10 seconds.
	ps := base("e internal_error", "n new_network_connection")
	e := compile(t, `
title: alias
id: al
correlation:
  type: temporal
  rules: [internal_error, new_network_connection]
  group-by: [internal_ip, remote_ip]
  timespan: 10s
  aliases:
    internal_ip:
      internal_error: destination.ip
      new_network_connection: source.ip
    remote_ip:
      internal_error: source.ip
      new_network_connection: destination.ip
`, ps)
	errEv := det("e", 0, "source.ip=1.2.3.4", "destination.ip=10.0.0.5")
	check(t, "aliased", run(e, errEv, det("n", 5*time.Second, "source.ip=10.0.0.5", "destination.ip=1.2.3.4")),
		"al@5s[internal_ip=10.0.0.5,remote_ip=1.2.3.4]=2#2")
	// Same fields without swapping the roles: different groups.
	check(t, "not swapped", run(e, errEv, det("n", 5*time.Second, "source.ip=1.2.3.4", "destination.ip=10.0.0.5")), "")
	// 10s plus a nanosecond: too slow.
	check(t, "too slow", run(e, errEv, det("n", 10*time.Second+1, "source.ip=10.0.0.5", "destination.ip=1.2.3.4")), "")
}

func TestCompileErrors(t *testing.T) {
	ps := base("r1 failed_login", "r2 success")
	for _, c := range []struct{ yml, want string }{
		{`
title: a
id: a
correlation:
  type: event_count
  rules: [faild_login]
  group-by: [User]
  timespan: 5m
  condition: {gte: 2}
`, `references unknown rule "faild_login" (did you mean "failed_login"?)`},
		{`
title: a
id: a
name: ca
correlation:
  type: event_count
  rules: [cb]
  timespan: 5m
  condition: {gte: 2}
---
title: b
id: b
name: cb
correlation:
  type: event_count
  rules: [ca]
  timespan: 5m
  condition: {gte: 2}
`, "reference cycle: a -> b -> a"},
		{`
title: a
id: a
correlation:
  type: temporal
  rules: [failed_login, success]
  group-by: [ip]
  timespan: 5m
  aliases:
    ip:
      failed_login: IpAddress
`, `alias "ip" is not defined for referenced rule "success"`},
		{`
title: a
id: a
correlation:
  type: temporal
  rules: [failed_login]
  group-by: [ip]
  timespan: 5m
  aliases:
    ip:
      failed_login: IpAddress
      succes: IpAddress
`, `alias "ip" maps rule "succes", which the correlation does not reference`},
	} {
		_, errs := Compile(corrs(t, c.yml), ps)
		var all []string
		for _, err := range errs {
			all = append(all, err.Error())
		}
		if !strings.Contains(strings.Join(all, "\n"), c.want) {
			t.Errorf("errors %q\nwant one containing %q", all, c.want)
		}
	}
	// A value_* without field is refused by the parser already; Compile
	// refuses one built by hand too.
	c := &sigma.Correlation{Meta: sigma.Meta{ID: "v", Title: "v"}, Type: sigma.ValueSum, Rules: []string{"failed_login"},
		Timespan: time.Minute, Thresholds: []sigma.Threshold{{Op: "gt", Value: 1}}}
	if e, errs := Compile([]*sigma.Correlation{c}, ps); len(errs) == 0 || !strings.Contains(errs[0].Error(), "needs condition.field") || e.Len() != 0 {
		t.Errorf("value_sum without field: %v", errs)
	}
}

func TestMemoryBound(t *testing.T) {
	e := compile(t, `
title: c
id: c
correlation:
  type: event_count
  rules: [r1]
  group-by: [User]
  timespan: 1h
  condition: {gte: 1000}
`, base("r1 x"))
	st := NewMemoryState(100)
	r := e.NewRunner(st, Options{MaxEvents: 8})
	emit := func(detect.Detection) { t.Fatal("nothing should fire") }
	// 10,000 groups in one minute: the state never holds more than 100.
	for i := range 10000 {
		r.Feed(det("r1", time.Duration(i)*time.Millisecond, fmt.Sprintf("User=u%d", i)), emit)
		if st.Len() > 100 {
			t.Fatalf("state holds %d windows", st.Len())
		}
	}
	if st.Evicted != 9900 {
		t.Errorf("evicted %d, want 9900", st.Evicted)
	}
	// Time advancing past the timespan forgets every window.
	r.Feed(det("r1", 3*time.Hour, "User=last"), emit)
	if st.Len() != 1 {
		t.Errorf("after expiry the state holds %d windows, want 1", st.Len())
	}
	// Event references per window are capped; the count goes on (anchored
	// window of an lt condition: 50 events, 8 references kept).
	e2 := compile(t, `
title: c
id: c
correlation:
  type: event_count
  rules: [r1]
  group-by: [User]
  timespan: 1h
  condition: {lt: 100}
`, base("r1 x"))
	r2 := e2.NewRunner(NewMemoryState(0), Options{MaxEvents: 8})
	var out []detect.Detection
	for i := range 50 {
		r2.Feed(det("r1", time.Duration(i)*time.Second, "User=u"), func(d detect.Detection) { out = append(out, d) })
	}
	r2.Flush(func(d detect.Detection) { out = append(out, d) })
	check(t, "capped refs", csum(out), "c@49s[User=u]=50#8")
}

func TestStreamingLateness(t *testing.T) {
	e := compile(t, `
title: c
id: c
correlation:
  type: event_count
  rules: [r1]
  group-by: [User]
  timespan: 1m
  condition: {gte: 3}
`, base("r1 x"))
	// Arrival order 0s, 70s, 80s, 30s. In time order: at 30s {0,30}; at
	// 70s 0s falls out {30,70}; at 80s {30,70,80} -> fires at 80s.
	arrivals := []detect.Detection{det("r1", 0, "User=u"), det("r1", 70*time.Second, "User=u"), det("r1", 80*time.Second, "User=u"), det("r1", 30*time.Second, "User=u")}
	feed := func(lateness time.Duration) (string, Stats) {
		r := e.NewRunner(NewMemoryState(0), Options{Lateness: lateness})
		var out []detect.Detection
		emit := func(d detect.Detection) { out = append(out, d) }
		for _, d := range arrivals {
			r.Feed(d, emit)
		}
		r.Flush(emit)
		return csum(out), r.Stats()
	}
	// With 1 minute of lateness, 30s arrives while 70s and 80s are still
	// held (70s is released only by a detection at 130s or by Flush).
	got, st := feed(time.Minute)
	check(t, "lateness 1m", got, "c@1m20s[User=u]=3#3")
	if st.Late != 0 {
		t.Errorf("late = %d", st.Late)
	}
	// Without lateness, 30s comes after 80s was processed: too late,
	// counted, and the window at 80s holds only 70s and 80s.
	got, st = feed(0)
	check(t, "lateness 0", got, "")
	if st.Late != 1 {
		t.Errorf("late = %d, want 1", st.Late)
	}
	// Batch mode sorts: same answer as lateness 1m.
	check(t, "batch", run(e, arrivals...), "c@1m20s[User=u]=3#3")
}
