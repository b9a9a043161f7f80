package intel

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

type mispTag struct {
	Name string `json:"name"`
}

type mispAttr struct {
	UUID     string    `json:"uuid"`
	Type     string    `json:"type"`
	Category string    `json:"category"`
	Value    string    `json:"value"`
	Comment  string    `json:"comment"`
	ToIDs    *bool     `json:"to_ids"`
	Tag      []mispTag `json:"Tag"`
}

type mispEvent struct {
	UUID string `json:"uuid"`
	Info string `json:"info"`
	Orgc struct {
		Name string `json:"name"`
	} `json:"Orgc"`
	Tag       []mispTag  `json:"Tag"`
	Attribute []mispAttr `json:"Attribute"`
	Object    []struct {
		Name      string     `json:"name"`
		UUID      string     `json:"uuid"`
		Attribute []mispAttr `json:"Attribute"`
	} `json:"Object"`
	Galaxy []struct {
		Type          string `json:"type"`
		GalaxyCluster []struct {
			Value string `json:"value"`
			Meta  struct {
				ExternalID []string `json:"external_id"`
			} `json:"meta"`
		} `json:"GalaxyCluster"`
	} `json:"Galaxy"`
}

type mispEnvelope struct {
	Event *mispEvent `json:"Event"`
}

// mispTypes maps MISP attribute types vigil matches inline to indicator
// types. Composite types ("filename|sha256") map each part; "" leaves a
// part out (the port of ip-dst|port).
var mispTypes = map[string][]Type{
	"ip-src": {TypeIPv4}, "ip-dst": {TypeIPv4}, "ip-src|port": {TypeIPv4, TypeUnknown}, "ip-dst|port": {TypeIPv4, TypeUnknown},
	"domain": {TypeDomain}, "hostname": {TypeDomain}, "domain|ip": {TypeDomain, TypeIPv4}, "hostname|port": {TypeDomain, TypeUnknown},
	"url": {TypeURL},
	"md5": {TypeMD5}, "sha1": {TypeSHA1}, "sha256": {TypeSHA256}, "sha512": {TypeSHA512}, "imphash": {TypeImphash},
	"filename": {TypeFileName}, "filename|md5": {TypeFileName, TypeMD5}, "filename|sha1": {TypeFileName, TypeSHA1},
	"filename|sha256": {TypeFileName, TypeSHA256}, "filename|sha512": {TypeFileName, TypeSHA512}, "filename|imphash": {TypeFileName, TypeImphash},
	"email": {TypeEmail}, "email-src": {TypeEmail}, "email-dst": {TypeEmail}, "email-reply-to": {TypeEmail},
	"whois-registrant-email": {TypeEmail}, "vulnerability": {TypeCVE},
}

// Confidence of MISP attributes: to_ids says the attribute is meant for
// detection; without it, an attribute is context.
const (
	mispConfidenceIDS     = 80
	mispConfidenceContext = 40
)

// loadMISPEvent reads MISP event JSON: {"Event":…}, {"response":[{"Event":…}]}
// or an array of {"Event":…}.
func (l *loader) loadMISPEvent(data []byte) {
	var events []*mispEvent
	var top struct {
		Event    *mispEvent      `json:"Event"`
		Response json.RawMessage `json:"response"`
	}
	d := bytes.TrimSpace(data)
	if len(d) > 0 && d[0] == '[' {
		var arr []mispEnvelope
		if err := json.Unmarshal(d, &arr); err != nil {
			l.jsonError(data, err)
			return
		}
		for _, e := range arr {
			events = append(events, e.Event)
		}
	} else {
		if err := json.Unmarshal(d, &top); err != nil {
			l.jsonError(data, err)
			return
		}
		if top.Event != nil {
			events = append(events, top.Event)
		}
		if len(top.Response) > 0 {
			var arr []mispEnvelope
			if err := json.Unmarshal(top.Response, &arr); err != nil {
				var one mispEnvelope
				if err2 := json.Unmarshal(top.Response, &one); err2 != nil {
					l.jsonError(data, err)
					return
				}
				arr = []mispEnvelope{one}
			}
			for _, e := range arr {
				events = append(events, e.Event)
			}
		}
	}
	for i, ev := range events {
		if ev == nil {
			l.errorf(0, "response["+strconv.Itoa(i)+"]", "no Event")
			continue
		}
		l.mispEvent(ev)
	}
}

var attackID = regexp.MustCompile(`\bT[0-9]{4}(?:\.[0-9]{3})?\b`)

func (l *loader) mispEvent(ev *mispEvent) {
	source := l.opts.Source
	if source == "" {
		source = ev.Orgc.Name
	}
	if source == "" {
		source = sourceFromPath(l.path)
	}
	evTLP, evLabels, evAttack := mispTags(ev.Tag)
	for _, g := range ev.Galaxy {
		if !strings.Contains(g.Type, "attack-pattern") {
			continue
		}
		for _, c := range g.GalaxyCluster {
			for _, id := range append(c.Meta.ExternalID, attackID.FindAllString(c.Value, -1)...) {
				if attackID.MatchString(id) && !slices.Contains(evAttack, id) {
					evAttack = append(evAttack, id)
				}
			}
		}
	}
	sort.Strings(evAttack)
	do := func(where string, a *mispAttr) {
		types, ok := mispTypes[a.Type]
		if !ok {
			l.skip("MISP type " + strconv.Quote(a.Type) + " (not matchable inline)")
			return
		}
		parts := []string{a.Value}
		if len(types) > 1 {
			parts = strings.SplitN(a.Value, "|", len(types))
			if len(parts) != len(types) {
				l.errorf(0, where, "%s attribute %q has %d parts, want %d separated by '|'", a.Type, a.Value, len(parts), len(types))
				return
			}
		}
		tlp, labels, attack := mispTags(a.Tag)
		if tlp == "" {
			tlp = evTLP
		}
		conf := DefaultConfidence
		if a.ToIDs != nil {
			conf = mispConfidenceContext
			if *a.ToIDs {
				conf = mispConfidenceIDS
			}
		}
		labels = append(append([]string{}, evLabels...), labels...)
		if a.Category != "" {
			labels = append(labels, "category:"+a.Category)
		}
		desc := ev.Info
		if a.Comment != "" {
			desc += ": " + a.Comment
		}
		for i, t := range types {
			if t == TypeUnknown {
				continue
			}
			l.add(0, where+" ("+a.UUID+")", Indicator{
				Type: t, Value: parts[i], Source: source, ID: a.UUID, Confidence: conf, TLP: tlp,
				Labels: labels, Attack: append(append([]string{}, evAttack...), attack...), Description: desc,
			})
		}
	}
	for i := range ev.Attribute {
		do("Event("+ev.UUID+").Attribute["+strconv.Itoa(i)+"]", &ev.Attribute[i])
	}
	for i, o := range ev.Object {
		for j := range o.Attribute {
			do(fmt.Sprintf("Event(%s).Object[%d](%s).Attribute[%d]", ev.UUID, i, o.Name, j), &o.Attribute[j])
		}
	}
}

// mispTags splits MISP tags into the TLP, labels and ATT&CK ids.
func mispTags(tags []mispTag) (tlp string, labels, attack []string) {
	for _, t := range tags {
		n := t.Name
		if strings.HasPrefix(strings.ToLower(n), "tlp:") {
			if v := normalizeTLP(n); v != "" {
				tlp = v
			}
			continue
		}
		if strings.HasPrefix(n, "misp-galaxy:mitre-") {
			attack = append(attack, attackID.FindAllString(n, -1)...)
		}
		labels = append(labels, n)
	}
	return tlp, labels, attack
}

// loadMISPFeed reads a MISP feed folder: manifest.json lists the events,
// each in <uuid>.json; hashes.csv holds md5(value),event-uuid per attribute
// and is checked against the manifest.
func (b *Builder) loadMISPFeed(dir string, opts LoadOptions) {
	mpath := filepath.Join(dir, "manifest.json")
	st := &FileStats{Path: mpath, Format: FormatMISPFeed}
	b.files = append(b.files, st)
	ml := &loader{b: b, opts: opts, stats: st, path: mpath}
	data, err := os.ReadFile(mpath)
	if err != nil {
		ml.fail(0, "", unwrapPathErr(err))
		return
	}
	var manifest map[string]json.RawMessage
	if err := json.Unmarshal(data, &manifest); err != nil {
		ml.jsonError(data, err)
		return
	}
	uuids := make([]string, 0, len(manifest))
	for u := range manifest {
		uuids = append(uuids, u)
	}
	sort.Strings(uuids)
	for _, u := range uuids {
		if strings.ContainsAny(u, `/\`) || u == "" || u[0] == '.' {
			ml.errorf(0, strconv.Quote(u), "manifest key is not an event uuid")
			continue
		}
		p := filepath.Join(dir, u+".json")
		ev, err := os.ReadFile(p)
		if err != nil {
			ml.errorf(0, u, "event listed in the manifest: %v", unwrapPathErr(err))
			continue
		}
		o := opts
		o.Format = FormatMISPEvent
		b.LoadBytes(p, ev, o)
	}
	hpath := filepath.Join(dir, "hashes.csv")
	hdata, err := os.ReadFile(hpath)
	if err != nil {
		return // optional
	}
	ml = &loader{b: b, opts: opts, stats: st, path: hpath}
	lineNo := 0
	for _, line := range strings.Split(string(hdata), "\n") {
		lineNo++
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		h, u, ok := strings.Cut(line, ",")
		if !ok || hexType(h) != TypeMD5 {
			ml.errorf(lineNo, "", "%q is not md5,event-uuid", line)
			continue
		}
		if _, ok := manifest[u]; !ok {
			ml.errorf(lineNo, "", "event %s is not in manifest.json", u)
			continue
		}
		ml.stats.HashRows++
	}
}
