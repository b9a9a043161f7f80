package intel

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// PatternTerm is one value of a STIX pattern that vigil matches inline.
type PatternTerm struct {
	Type  Type
	Value string // normalised
	Path  string // the object path it came from, e.g. file:hashes.'SHA-256'
}

// RefusedPattern is the error for a pattern that parses but that vigil
// cannot match one value at a time. Reason names the construct, without the
// pattern's values, so refusals can be counted by reason.
type RefusedPattern struct{ Reason string }

func (e *RefusedPattern) Error() string { return e.Reason }

// CompilePattern parses a STIX pattern and returns the values vigil indexes
// for it. The rules:
//
//   - A comparison "path = 'value'" (also IN, LIKE without wildcards, LIKE
//     '%.domain' on domain-name:value, MATCHES '^literal$', ISSUBSET on an
//     address path) over ipv4-addr:value, ipv6-addr:value,
//     network-traffic:dst_ref.value / src_ref.value, domain-name:value,
//     url:value, email-addr:value, email-message:from_ref.value /
//     sender_ref.value, file:hashes.MD5 / SHA-1 / SHA-256 / SHA-512 (quoted
//     or not) and file:name gives a term. Every other path, !=, NOT, <, >,
//     EXISTS, ISSUPERSET and regular expressions give none.
//   - OR keeps the terms of both sides (a side with none is left out: vigil
//     may miss what only that side would find, never reports a false one).
//   - AND, inside one observation or between observations, keeps the terms
//     of both sides but a match on one value is then only part of what the
//     pattern requires: partial is true, and the indicator carries a note.
//     vigil sees one value at a time and does not join observables.
//   - FOLLOWEDBY and the qualifiers WITHIN, REPEATS and START/STOP describe
//     sequences over time: such a pattern is refused.
//   - A pattern with no term is refused with the reason of its first
//     comparison.
func CompilePattern(pattern string) (terms []PatternTerm, partial bool, err error) {
	p, err := ParsePattern(pattern)
	if err != nil {
		return nil, false, err
	}
	r, err := obsTerms(p.Root)
	if err != nil {
		return nil, false, err
	}
	if len(r.terms) == 0 {
		return nil, false, &RefusedPattern{r.reason}
	}
	return r.terms, !r.exact, nil
}

type termResult struct {
	terms  []PatternTerm
	exact  bool   // a match on any term satisfies the pattern
	reason string // why a comparison gave no term (the first one)
}

func join(op string, a, b termResult) termResult {
	r := termResult{terms: append(a.terms, b.terms...), reason: a.reason}
	if r.reason == "" {
		r.reason = b.reason
	}
	switch op {
	case "OR":
		switch {
		case len(a.terms) == 0:
			r.exact = b.exact
		case len(b.terms) == 0:
			r.exact = a.exact
		default:
			r.exact = a.exact && b.exact
		}
	default: // AND
		r.exact = false
	}
	return r
}

func obsTerms(e ObservationExpr) (termResult, error) {
	switch e := e.(type) {
	case *Observation:
		return cmpTerms(e.Expr), nil
	case *Qualified:
		return termResult{}, &RefusedPattern{"qualifier " + strings.Fields(e.Qualifier)[0] + ": the pattern describes observations over time, which cannot be matched on one value"}
	case *ObservationBinary:
		if e.Op == "FOLLOWEDBY" {
			return termResult{}, &RefusedPattern{"FOLLOWEDBY: the pattern describes a sequence of observations, which cannot be matched on one value"}
		}
		a, err := obsTerms(e.L)
		if err != nil {
			return a, err
		}
		b, err := obsTerms(e.R)
		if err != nil {
			return b, err
		}
		return join(e.Op, a, b), nil
	}
	return termResult{}, errors.New("unknown observation expression")
}

func cmpTerms(e ComparisonExpr) termResult {
	switch e := e.(type) {
	case *ComparisonBinary:
		return join(e.Op, cmpTerms(e.L), cmpTerms(e.R))
	case *Comparison:
		return comparisonTerms(e)
	}
	return termResult{}
}

var hashPaths = map[string]Type{
	"md5": TypeMD5, "sha-1": TypeSHA1, "sha1": TypeSHA1, "sha-256": TypeSHA256, "sha256": TypeSHA256,
	"sha-512": TypeSHA512, "sha512": TypeSHA512,
}

// pathType returns the indicator type of an object path (TypeUnknown with
// ok for paths whose values are typed by their shape: addresses).
func pathType(p ObjectPath) (t Type, byShape, ok bool) {
	keys := make([]string, 0, len(p.Steps))
	for _, s := range p.Steps {
		if s.IsIndex {
			keys = append(keys, "[]")
			continue
		}
		keys = append(keys, s.Key)
	}
	k := strings.Join(keys, ".")
	switch p.ObjectType + ":" + k {
	case "ipv4-addr:value", "ipv6-addr:value", "network-traffic:dst_ref.value", "network-traffic:src_ref.value":
		return TypeIPv4, true, true
	case "domain-name:value":
		return TypeDomain, false, true
	case "url:value":
		return TypeURL, false, true
	case "email-addr:value", "email-message:from_ref.value", "email-message:sender_ref.value":
		return TypeEmail, false, true
	case "file:name":
		return TypeFileName, false, true
	}
	if p.ObjectType == "file" && len(keys) == 2 && keys[0] == "hashes" {
		if t, ok := hashPaths[strings.ToLower(keys[1])]; ok {
			return t, false, true
		}
	}
	return TypeUnknown, false, false
}

var literalRegexp = regexp.MustCompile(`^\^((?:[^\\.*+?()\[\]{}|^$]|\\[.\-@/])+)\$$`)

func comparisonTerms(c *Comparison) termResult {
	path := c.Path.String()
	t, byShape, ok := pathType(c.Path)
	if !ok {
		return termResult{reason: "object path " + path + " is not matchable inline (vigil matches addresses, domains, URLs, e-mail addresses, file hashes and file names)"}
	}
	if c.Not {
		return termResult{reason: "NOT on " + path + ": a negation matches almost every value"}
	}
	var values []string
	switch c.Op {
	case "=":
		values = []string{c.Value.Text}
	case "IN":
		for _, l := range c.Set {
			values = append(values, l.Text)
		}
	case "LIKE":
		v := c.Value.Text
		switch {
		case !strings.ContainsAny(v, "%_"):
			values = []string{v}
		case t == TypeDomain && strings.HasPrefix(v, "%.") && !strings.ContainsAny(v[2:], "%_"):
			values = []string{v[2:]} // sub-domains (vigil's domain match also takes the domain itself)
		default:
			return termResult{reason: "LIKE with wildcards on " + path + ": only a literal, or '%.domain' on domain-name:value, is indexed"}
		}
	case "MATCHES":
		m := literalRegexp.FindStringSubmatch(c.Value.Text)
		if m == nil {
			return termResult{reason: "MATCHES on " + path + ": regular expressions are not indexed (only '^literal$')"}
		}
		values = []string{strings.NewReplacer(`\.`, ".", `\-`, "-", `\@`, "@", `\/`, "/").Replace(m[1])}
	case "ISSUBSET":
		if !byShape {
			return termResult{reason: "ISSUBSET on " + path + ": only address paths are networks"}
		}
		values = []string{c.Value.Text}
	default:
		return termResult{reason: "operator " + c.Op + " on " + path + " is not matchable inline (vigil looks values up; use = or IN)"}
	}
	var r termResult
	r.exact = true
	for _, v := range values {
		var nt Type
		var nv string
		var err error
		if byShape {
			nt, nv = Detect(v)
			switch nt {
			case TypeIPv4, TypeIPv6, TypeCIDR, TypeDomain:
			default:
				err = fmt.Errorf("%q is not an address, network or domain", v)
			}
		} else {
			nt, nv, err = Normalize(t, v)
		}
		if err != nil {
			if r.reason == "" {
				r.reason = "bad value on " + path + ": " + err.Error()
			}
			continue
		}
		r.terms = append(r.terms, PatternTerm{nt, nv, path})
	}
	return r
}

// Well-known STIX 2.1 TLP marking definitions (TLP 1.0 and 2.0).
var tlpMarkings = map[string]string{
	"marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9": "clear",
	"marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da": "green",
	"marking-definition--f88d31f6-486f-44da-b317-01333bde0b82": "amber",
	"marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed": "red",
	"marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487": "clear",
	"marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb": "green",
	"marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421": "amber",
	"marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003": "amber+strict",
	"marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1": "red",
}

type stixObject struct {
	Type               string            `json:"type"`
	ID                 string            `json:"id"`
	Name               string            `json:"name"`
	Pattern            string            `json:"pattern"`
	PatternType        string            `json:"pattern_type"`
	ValidFrom          string            `json:"valid_from"`
	ValidUntil         string            `json:"valid_until"`
	Confidence         *int              `json:"confidence"`
	Labels             []string          `json:"labels"`
	IndicatorTypes     []string          `json:"indicator_types"`
	ObjectMarkingRefs  []string          `json:"object_marking_refs"`
	CreatedByRef       string            `json:"created_by_ref"`
	Description        string            `json:"description"`
	Value              string            `json:"value"`
	Hashes             map[string]string `json:"hashes"`
	RelationshipType   string            `json:"relationship_type"`
	SourceRef          string            `json:"source_ref"`
	TargetRef          string            `json:"target_ref"`
	DefinitionType     string            `json:"definition_type"`
	Definition         map[string]any    `json:"definition"`
	ExternalReferences []struct {
		SourceName string `json:"source_name"`
		ExternalID string `json:"external_id"`
	} `json:"external_references"`
}

// Confidence of a cyber-observable object found in a bundle: it says a
// value was seen, not that it is malicious.
const observableConfidence = 30

// loadSTIX reads a STIX 2.0 or 2.1 bundle (or one bare object): indicators
// with STIX patterns (see CompilePattern) and cyber-observable objects. TLP
// comes from object markings, ATT&CK ids from "indicates" relationships to
// attack patterns, labels from indicator types, labels and the malware the
// indicator indicates.
func (l *loader) loadSTIX(data []byte) {
	var top struct {
		Type    string            `json:"type"`
		Objects []json.RawMessage `json:"objects"`
	}
	if err := json.Unmarshal(data, &top); err != nil {
		l.jsonError(data, err)
		return
	}
	raws := top.Objects
	if top.Type != "bundle" {
		raws = []json.RawMessage{data}
	}
	objs := make([]stixObject, len(raws))
	byID := map[string]*stixObject{}
	for i, r := range raws {
		if err := json.Unmarshal(r, &objs[i]); err != nil {
			l.errorf(0, "objects["+strconv.Itoa(i)+"]", "invalid STIX object: %v", err)
			continue
		}
		byID[objs[i].ID] = &objs[i]
	}
	attack := map[string][]string{} // indicator id -> technique ids
	related := map[string][]string{}
	for _, o := range objs {
		if o.Type != "relationship" || o.RelationshipType != "indicates" {
			continue
		}
		t := byID[o.TargetRef]
		if t == nil {
			continue
		}
		switch t.Type {
		case "attack-pattern":
			for _, er := range t.ExternalReferences {
				if strings.HasPrefix(er.SourceName, "mitre") && attackID.MatchString(er.ExternalID) {
					attack[o.SourceRef] = append(attack[o.SourceRef], er.ExternalID)
				}
			}
		case "malware", "campaign", "intrusion-set", "threat-actor", "tool":
			if t.Name != "" {
				related[o.SourceRef] = append(related[o.SourceRef], t.Type+":"+t.Name)
			}
		}
	}
	tlpOf := func(o *stixObject) string {
		for _, m := range o.ObjectMarkingRefs {
			if v, ok := tlpMarkings[m]; ok {
				return v
			}
			if d := byID[m]; d != nil && d.Type == "marking-definition" {
				if s, ok := d.Definition["tlp"].(string); ok {
					return normalizeTLP(s)
				}
				if v := normalizeTLP(d.Name); v != "" {
					return v
				}
			}
		}
		return ""
	}
	sourceOf := func(o *stixObject) string {
		if l.opts.Source != "" {
			return l.opts.Source
		}
		if id := byID[o.CreatedByRef]; id != nil && id.Name != "" {
			return id.Name
		}
		return sourceFromPath(l.path)
	}
	for i := range objs {
		o := &objs[i]
		where := "objects[" + strconv.Itoa(i) + "] (" + o.ID + ")"
		base := Indicator{Source: sourceOf(o), ID: o.ID, TLP: tlpOf(o), Confidence: DefaultConfidence, Description: o.Name}
		if o.Confidence != nil {
			base.Confidence = *o.Confidence
		}
		switch o.Type {
		case "indicator":
			if o.PatternType != "" && o.PatternType != "stix" {
				l.skip("STIX indicator with pattern_type " + strconv.Quote(o.PatternType) + " (only stix patterns are read)")
				continue
			}
			terms, partial, err := CompilePattern(o.Pattern)
			if err != nil {
				var rp *RefusedPattern
				if errors.As(err, &rp) {
					l.skip("STIX pattern refused: " + rp.Reason)
					continue
				}
				l.errorf(0, where, "pattern %q: %v", o.Pattern, err)
				continue
			}
			base.Labels = append(append(append([]string{}, o.IndicatorTypes...), o.Labels...), related[o.ID]...)
			base.Attack = attack[o.ID]
			sort.Strings(base.Attack)
			base.Attack = slices.Compact(base.Attack)
			base.ValidFrom = stixTime(o.ValidFrom)
			base.ValidUntil = stixTime(o.ValidUntil)
			if partial {
				base.Note = "partial: the pattern also requires other conditions: " + o.Pattern
			}
			for _, t := range terms {
				ind := base
				ind.Type, ind.Value = t.Type, t.Value
				l.add(0, where, ind)
			}
		case "ipv4-addr", "ipv6-addr", "domain-name", "url", "email-addr", "file":
			base.Confidence = observableConfidence
			if o.Confidence != nil {
				base.Confidence = *o.Confidence
			}
			base.Labels = []string{"observable"}
			base.Note = "STIX observable: the value was seen, which does not say it is malicious"
			switch o.Type {
			case "ipv4-addr", "ipv6-addr":
				base.Type = TypeIPv4
			case "domain-name":
				base.Type = TypeDomain
			case "url":
				base.Type = TypeURL
			case "email-addr":
				base.Type = TypeEmail
			}
			if o.Type != "file" {
				base.Value = o.Value
				l.add(0, where, base)
				continue
			}
			names := make([]string, 0, len(o.Hashes))
			for k := range o.Hashes {
				names = append(names, k)
			}
			sort.Strings(names)
			for _, k := range names {
				t, ok := hashPaths[strings.ToLower(k)]
				if !ok {
					l.skip("STIX file hash " + strconv.Quote(k) + " (not matchable inline)")
					continue
				}
				ind := base
				ind.Type, ind.Value = t, o.Hashes[k]
				l.add(0, where+".hashes."+k, ind)
			}
			if o.Name != "" {
				ind := base
				ind.Type, ind.Value, ind.Description = TypeFileName, o.Name, ""
				l.add(0, where+".name", ind)
			}
		}
	}
}

func stixTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t
}
