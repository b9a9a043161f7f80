package intel

import (
	"strings"
	"time"
)

// Type is the kind of value an indicator names.
type Type uint8

// Indicator types.
const (
	TypeUnknown  Type = iota
	TypeIPv4          // an IPv4 address
	TypeIPv6          // an IPv6 address
	TypeCIDR          // an IPv4 or IPv6 network
	TypeDomain        // a domain name; matches its sub-domains too
	TypeURL           // a URL, normalised (see NormalizeURL)
	TypeEmail         // an e-mail address
	TypeMD5           // file hashes, lower-case hex
	TypeSHA1          //
	TypeSHA256        //
	TypeSHA512        //
	TypeImphash       // the MD5 of a PE file's import table
	TypeFileName      // a file name without its folder, compared case-insensitively
	TypeCVE           // a CVE id such as CVE-2021-44228
	numTypes
)

var typeNames = [numTypes]string{
	TypeUnknown:  "unknown",
	TypeIPv4:     "ipv4",
	TypeIPv6:     "ipv6",
	TypeCIDR:     "cidr",
	TypeDomain:   "domain",
	TypeURL:      "url",
	TypeEmail:    "email",
	TypeMD5:      "md5",
	TypeSHA1:     "sha1",
	TypeSHA256:   "sha256",
	TypeSHA512:   "sha512",
	TypeImphash:  "imphash",
	TypeFileName: "filename",
	TypeCVE:      "cve",
}

// String returns the type's name as vigil prints it ("ipv4", "sha256", …).
func (t Type) String() string {
	if t < numTypes {
		return typeNames[t]
	}
	return "unknown"
}

// ParseType returns the type named s. Besides vigil's own names it accepts
// the common spellings of feeds: MISP attribute types (ip-dst, hostname,
// email-src, …), CSV type columns (domainname, IP, IPAddress, …) and STIX
// hash names (SHA-256).
func ParseType(s string) (Type, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "ipv4", "ipv4-addr", "ip", "ip-dst", "ip-src", "ipaddress", "ip_address", "ipv4address", "ip address", "ipv4 address":
		return TypeIPv4, true // refined to ipv6/cidr from the value's shape
	case "ipv6", "ipv6-addr":
		return TypeIPv6, true
	case "cidr", "network", "ip-range", "netblock", "subnet":
		return TypeCIDR, true
	case "domain", "domainname", "domain-name", "domain name", "hostname", "host", "fqdn":
		return TypeDomain, true
	case "url", "uri-full", "link-url":
		return TypeURL, true
	case "email", "email-addr", "email-src", "email-dst", "email-address", "e-mail", "email-reply-to", "emailaddress":
		return TypeEmail, true
	case "md5", "filehash-md5", "hash-md5":
		return TypeMD5, true
	case "sha1", "sha-1", "filehash-sha1", "hash-sha1":
		return TypeSHA1, true
	case "sha256", "sha-256", "filehash-sha256", "hash-sha256":
		return TypeSHA256, true
	case "sha512", "sha-512", "filehash-sha512", "hash-sha512":
		return TypeSHA512, true
	case "imphash":
		return TypeImphash, true
	case "filename", "file-name", "file name", "file":
		return TypeFileName, true
	case "cve", "cve-id", "cveid", "vulnerability":
		return TypeCVE, true
	}
	return TypeUnknown, false
}

// IsHash reports whether t is one of the file hash types.
func (t Type) IsHash() bool {
	return t >= TypeMD5 && t <= TypeImphash
}

// DefaultConfidence is the confidence of an indicator whose feed states none
// (plain lists, CSV files without a confidence column, STIX objects without
// the confidence property): medium.
const DefaultConfidence = 50

// Indicator is one value a feed says is (or may be) malicious, with what the
// feed says about it. Value is normalised for its type (see Normalize).
type Indicator struct {
	Type       Type
	Value      string
	Source     string // the feed: a MISP event's organisation, a list's file name, "cisa-kev", …
	ID         string // the feed's id for the entry: STIX id, MISP attribute uuid, file:line
	Path       string // the file it was read from
	Confidence int    // 0–100
	TLP        string // "clear", "green", "amber", "amber+strict", "red", or "" if unstated
	Labels     []string
	Attack     []string // MITRE ATT&CK technique ids (T1566.001)
	ValidFrom  time.Time
	ValidUntil time.Time
	// Note says when a match on this value alone is weaker than the feed's
	// statement, e.g. a term of a STIX pattern "A AND B".
	Note string
	// Description is free text from the feed (KEV vulnerability name, MISP comment).
	Description string
	// text is what its detections share with those of indicators of the
	// same metadata (set for an index's indicators; nil otherwise).
	text *detText
}

// ValidAt reports whether the indicator is valid at t. A zero t, or zero
// bounds, do not restrict.
func (ind *Indicator) ValidAt(t time.Time) bool {
	if t.IsZero() {
		return true
	}
	if !ind.ValidFrom.IsZero() && t.Before(ind.ValidFrom) {
		return false
	}
	if !ind.ValidUntil.IsZero() && !t.Before(ind.ValidUntil) {
		return false
	}
	return true
}

// Match is one indicator that matched a value.
type Match struct {
	Indicator *Indicator
	// Warninglists names the MISP warninglists the looked-up value (or the
	// indicator's value) is on: the match is probably benign.
	Warninglists []string
}

// ProbablyBenign reports whether the matched value is on a warninglist.
func (m Match) ProbablyBenign() bool { return len(m.Warninglists) > 0 }
