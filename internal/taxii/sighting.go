package taxii

import (
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/vigil-defense/vigil/internal/detect"
	"github.com/vigil-defense/vigil/internal/intel"
)

// Sighting says that this organisation saw an indicator's value: how many
// times, first and last.
type Sighting struct {
	IndicatorID string // the STIX id of the indicator sighted (see IndicatorID)
	Type        intel.Type
	Value       string
	// TLP is the least restrictive TLP of the feed entries that matched:
	// the value is known at that level, so saying it was seen discloses no
	// more. "" when no entry stated one.
	TLP       string
	Count     int
	FirstSeen time.Time
	LastSeen  time.Time
}

// SightingsFromDetections groups the threat-intelligence detections of ds
// (those made by intel.NewDetection, which carry intel.type and
// intel.indicator) by indicator. Other detections are ignored. An event
// that matched several feed entries of one value gives a detection per
// entry; the count is the largest count of any one entry, so the event is
// not counted twice. Sightings are sorted by indicator id.
func SightingsFromDetections(ds []detect.Detection) []Sighting {
	type entryKey struct{ indicator, entry string }
	type acc struct {
		s       Sighting
		tlpRank int
		entries map[string]int
	}
	by := map[string]*acc{}
	for i := range ds {
		d := &ds[i]
		value := d.Field("intel.indicator")
		t, ok := intel.ParseType(d.Field("intel.type"))
		if value == "" || !ok {
			continue
		}
		id := IndicatorID(t, value)
		a := by[id]
		if a == nil {
			a = &acc{s: Sighting{IndicatorID: id, Type: t, Value: value}, tlpRank: -1, entries: map[string]int{}}
			by[id] = a
		}
		n := max(d.Count, 1)
		first, last := d.FirstTime, d.LastTime
		if first.IsZero() {
			first = d.Time
		}
		if last.IsZero() {
			last = d.Time
		}
		entry := d.Field("intel.source") + "\x00" + d.Field("intel.id")
		a.entries[entry] += n
		if !first.IsZero() && (a.s.FirstSeen.IsZero() || first.Before(a.s.FirstSeen)) {
			a.s.FirstSeen = first
		}
		if last.After(a.s.LastSeen) {
			a.s.LastSeen = last
		}
		tlp := d.Field("intel.tlp")
		if r, ok := TLPRank(tlp); ok && (a.tlpRank < 0 || r < a.tlpRank) {
			a.tlpRank = r
		}
	}
	out := make([]Sighting, 0, len(by))
	for _, a := range by {
		for _, n := range a.entries {
			a.s.Count = max(a.s.Count, n)
		}
		if a.tlpRank >= 0 {
			a.s.TLP = tlpLevels[a.tlpRank]
		}
		out = append(out, a.s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].IndicatorID < out[j].IndicatorID })
	return out
}

// SightingID returns the STIX id of the sighting of an indicator by an
// organisation: one sighting object per indicator and organisation, whose
// new versions carry the growing count.
func SightingID(indicatorID, identityID string) string {
	return "sighting--" + uuid5(namespace, "sighting:"+indicatorID+"|"+identityID)
}

type stixSighting struct {
	Type              string   `json:"type"`
	SpecVersion       string   `json:"spec_version"`
	ID                string   `json:"id"`
	CreatedByRef      string   `json:"created_by_ref"`
	Created           string   `json:"created"`
	Modified          string   `json:"modified"`
	FirstSeen         string   `json:"first_seen,omitempty"`
	LastSeen          string   `json:"last_seen,omitempty"`
	Count             int      `json:"count"`
	SightingOfRef     string   `json:"sighting_of_ref"`
	WhereSightedRefs  []string `json:"where_sighted_refs"`
	ObjectMarkingRefs []string `json:"object_marking_refs"`
}

// StixSighting returns the STIX 2.1 sighting object of s, made by the
// identity identityID, marked tlp. It has no observed_data_refs: vigil
// shares that it saw the indicator (how often, when), never what it saw it
// in (hosts, users, processes of the organisation).
func StixSighting(s Sighting, identityID, tlp string, created, modified time.Time) ([]byte, error) {
	marking, ok := TLPMarkingID(tlp)
	if !ok {
		return nil, fmt.Errorf("sighting of %s: unknown TLP %q", s.IndicatorID, tlp)
	}
	o := stixSighting{
		Type: "sighting", SpecVersion: "2.1", ID: SightingID(s.IndicatorID, identityID),
		CreatedByRef: identityID,
		Created:      stixTime(created), Modified: stixTime(modified),
		Count:             min(max(s.Count, 0), 999999999),
		SightingOfRef:     s.IndicatorID,
		WhereSightedRefs:  []string{identityID},
		ObjectMarkingRefs: []string{marking},
	}
	if !s.FirstSeen.IsZero() {
		o.FirstSeen = stixTime(s.FirstSeen)
	}
	if !s.LastSeen.IsZero() {
		o.LastSeen = stixTime(s.LastSeen)
	}
	return json.Marshal(o)
}
