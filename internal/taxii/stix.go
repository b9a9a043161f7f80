package taxii

import (
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/vigil-defense/vigil/internal/intel"
)

// Media types of TAXII 2.1 resources and of the STIX 2.1 objects in a
// collection.
const (
	MediaTypeTAXII = "application/taxii+json;version=2.1"
	MediaTypeSTIX  = "application/stix+json;version=2.1"
)

// namespace is vigil's UUIDv5 namespace for the ids of the objects it
// publishes. It must never change: ids derived from it are what makes
// re-publishing an indicator update the same object.
var namespace = [16]byte{0xf8, 0x44, 0x10, 0x00, 0xc1, 0x27, 0x4b, 0x5d, 0x98, 0xac, 0xd6, 0x16, 0x62, 0x72, 0xf6, 0x73}

// uuid5 returns the RFC 9562 version 5 UUID of name in namespace ns.
func uuid5(ns [16]byte, name string) string {
	h := sha1.New()
	h.Write(ns[:])
	h.Write([]byte(name))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}

// TLP levels in the order they restrict sharing. "white" (TLP 1.0) is
// read as "clear".
var tlpLevels = []string{"clear", "green", "amber", "amber+strict", "red"}

// TLPRank returns the rank of a TLP level (clear 0 … red 4). ok is false
// for a name that is not a TLP level.
func TLPRank(tlp string) (rank int, ok bool) {
	s := strings.ToLower(strings.TrimSpace(tlp))
	s = strings.TrimPrefix(s, "tlp:")
	if s == "white" {
		s = "clear"
	}
	i := slices.Index(tlpLevels, s)
	return i, i >= 0
}

// tlpMarking holds the ids of the TLP 2.0 marking definitions, published by
// OASIS in cti-stix-common-objects (extension-definition-specifications/tlp-2.0).
var tlpMarking = map[string]string{
	"clear":        "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
	"green":        "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
	"amber":        "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
	"amber+strict": "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
	"red":          "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}

// TLPMarkingID returns the id of the TLP 2.0 marking definition for a level.
func TLPMarkingID(tlp string) (string, bool) {
	r, ok := TLPRank(tlp)
	if !ok {
		return "", false
	}
	return tlpMarking[tlpLevels[r]], true
}

const tlp2Extension = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"

// tlpMarkingObject returns the TLP 2.0 marking-definition object of a level,
// as OASIS publishes it.
func tlpMarkingObject(level string) ([]byte, error) {
	return json.Marshal(map[string]any{
		"type":         "marking-definition",
		"spec_version": "2.1",
		"id":           tlpMarking[level],
		"created":      "2022-10-01T00:00:00.000Z",
		"name":         "TLP:" + strings.ToUpper(level),
		"extensions": map[string]any{
			tlp2Extension: map[string]string{"extension_type": "property-extension", "tlp_2_0": level},
		},
	})
}

// Indicator is what vigil publishes about one value: the minimal shape the
// indicators collection is built from.
type Indicator struct {
	Type       intel.Type
	Value      string // normalised for Type (see intel.Normalize)
	Source     string // the feed that reported it
	Confidence int    // 0–100
	TLP        string // clear, green, amber, amber+strict, red; "" if unstated
	Labels     []string
	ValidFrom  time.Time // zero: from when vigil first published it
	ValidUntil time.Time // zero: no end
}

// FromIntel returns the shape of an intel indicator.
func FromIntel(ind intel.Indicator) Indicator {
	return Indicator{
		Type: ind.Type, Value: ind.Value, Source: ind.Source, Confidence: ind.Confidence,
		TLP: ind.TLP, Labels: ind.Labels, ValidFrom: ind.ValidFrom, ValidUntil: ind.ValidUntil,
	}
}

// IndicatorID returns the STIX id vigil gives the indicator of a value:
// "indicator--" and the UUIDv5 of "<type>:<value>" in vigil's namespace, so
// that publishing the same value again (from any vigil) gives the same id.
func IndicatorID(t intel.Type, value string) string {
	return "indicator--" + uuid5(namespace, t.String()+":"+value)
}

// IdentityID returns the STIX id of the identity of an organisation named
// name.
func IdentityID(name string) string {
	return "identity--" + uuid5(namespace, "identity:"+name)
}

// QuoteString returns s as a STIX pattern string literal: in single quotes,
// with backslashes and single quotes escaped by a backslash.
func QuoteString(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' || s[i] == '\'' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('\'')
	return b.String()
}

// ErrNoPattern is wrapped by Pattern for a type that STIX does not express
// as an indicator pattern on a cyber-observable (a CVE is a vulnerability
// object, not an observable).
var ErrNoPattern = errors.New("no STIX pattern for this indicator type")

// Pattern returns the STIX pattern that matches value, an indicator of type
// t: [ipv4-addr:value = '…'], [ipv4-addr:value ISSUBSET '…/n'] for a
// network, [domain-name:value = '…'], [url:value = '…'],
// [email-addr:value = '…'], [file:hashes.'SHA-256' = '…'] (and MD5, SHA-1,
// SHA-512), [file:extensions.'windows-pebinary-ext'.imphash = '…'] and
// [file:name = '…'].
func Pattern(t intel.Type, value string) (string, error) {
	var path, op = "", "="
	switch t {
	case intel.TypeIPv4:
		path = "ipv4-addr:value"
	case intel.TypeIPv6:
		path = "ipv6-addr:value"
	case intel.TypeCIDR:
		path, op = "ipv4-addr:value", "ISSUBSET"
		if strings.Contains(value, ":") {
			path = "ipv6-addr:value"
		}
	case intel.TypeDomain:
		path = "domain-name:value"
	case intel.TypeURL:
		path = "url:value"
	case intel.TypeEmail:
		path = "email-addr:value"
	case intel.TypeMD5:
		path = "file:hashes.MD5"
	case intel.TypeSHA1:
		path = "file:hashes.'SHA-1'"
	case intel.TypeSHA256:
		path = "file:hashes.'SHA-256'"
	case intel.TypeSHA512:
		path = "file:hashes.'SHA-512'"
	case intel.TypeImphash:
		path = "file:extensions.'windows-pebinary-ext'.imphash"
	case intel.TypeFileName:
		path = "file:name"
	default:
		return "", fmt.Errorf("%s %q: %w", t, value, ErrNoPattern)
	}
	if value == "" {
		return "", fmt.Errorf("%s: empty value", t)
	}
	return "[" + path + " " + op + " " + QuoteString(value) + "]", nil
}

// stixTime formats t as a STIX timestamp: UTC, millisecond precision.
func stixTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

type stixIndicator struct {
	Type              string   `json:"type"`
	SpecVersion       string   `json:"spec_version"`
	ID                string   `json:"id"`
	CreatedByRef      string   `json:"created_by_ref,omitempty"`
	Created           string   `json:"created"`
	Modified          string   `json:"modified"`
	Revoked           bool     `json:"revoked,omitempty"`
	Name              string   `json:"name,omitempty"`
	Description       string   `json:"description,omitempty"`
	IndicatorTypes    []string `json:"indicator_types,omitempty"`
	Pattern           string   `json:"pattern"`
	PatternType       string   `json:"pattern_type"`
	PatternVersion    string   `json:"pattern_version"`
	ValidFrom         string   `json:"valid_from"`
	ValidUntil        string   `json:"valid_until,omitempty"`
	Confidence        int      `json:"confidence"`
	Labels            []string `json:"labels,omitempty"`
	ObjectMarkingRefs []string `json:"object_marking_refs,omitempty"`
}

// StixOptions says who publishes the objects and what they may carry.
type StixOptions struct {
	// IdentityID is the created_by_ref of every object ("" for none).
	IdentityID string
	// PublishSources names the feeds an indicator came from in its
	// description. Off by default: the names of the feeds an organisation
	// receives can say more than the indicators do.
	PublishSources bool
}

// StixIndicator returns the STIX 2.1 indicator object for ind, created and
// last modified at the given times. The TLP of ind must be set (it becomes
// the object's marking); a value without a STIX pattern is an error
// wrapping ErrNoPattern. sources are the feeds that reported the value (one
// indicator may merge several).
func StixIndicator(ind Indicator, sources []string, created, modified time.Time, opts StixOptions) ([]byte, error) {
	pattern, err := Pattern(ind.Type, ind.Value)
	if err != nil {
		return nil, err
	}
	marking, ok := TLPMarkingID(ind.TLP)
	if !ok {
		return nil, fmt.Errorf("%s %q: unknown TLP %q (want clear, green, amber, amber+strict or red)", ind.Type, ind.Value, ind.TLP)
	}
	from := ind.ValidFrom
	if from.IsZero() {
		from = created
	}
	o := stixIndicator{
		Type: "indicator", SpecVersion: "2.1", ID: IndicatorID(ind.Type, ind.Value),
		CreatedByRef: opts.IdentityID,
		Created:      stixTime(created), Modified: stixTime(modified),
		Name:           ind.Type.String() + " " + ind.Value,
		IndicatorTypes: []string{"malicious-activity"},
		Pattern:        pattern, PatternType: "stix", PatternVersion: "2.1",
		ValidFrom:         stixTime(from),
		Confidence:        min(max(ind.Confidence, 0), 100),
		Labels:            ind.Labels,
		ObjectMarkingRefs: []string{marking},
	}
	if slices.Contains(ind.Labels, "observable") {
		// A STIX observable read from a feed: seen, not said to be malicious.
		o.IndicatorTypes = []string{"unknown"}
	}
	if !ind.ValidUntil.IsZero() && ind.ValidUntil.After(from) {
		o.ValidUntil = stixTime(ind.ValidUntil)
	}
	if opts.PublishSources && len(sources) > 0 {
		o.Description = "Reported by " + strings.Join(sources, ", ") + "."
	}
	return json.Marshal(o)
}

// revoke returns a published object with revoked set and modified changed.
func revoke(raw []byte, modified time.Time) ([]byte, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	m["revoked"] = json.RawMessage("true")
	m["modified"], _ = json.Marshal(stixTime(modified))
	return json.Marshal(m)
}

// IdentityObject returns the STIX identity object of the organisation that
// publishes the collections.
func IdentityObject(name string, created time.Time) ([]byte, error) {
	return json.Marshal(map[string]any{
		"type": "identity", "spec_version": "2.1", "id": IdentityID(name),
		"created": stixTime(created), "modified": stixTime(created),
		"name": name, "identity_class": "organization",
	})
}
