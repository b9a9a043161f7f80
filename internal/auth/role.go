package auth

import (
	"fmt"
	"strings"
)

// Role is what a token may do. Admin includes analyst, analyst includes
// viewer; ingest is a separate, minimal role for senders of events, which
// admin and analyst include too.
type Role string

// The roles.
const (
	RoleAdmin   Role = "admin"   // everything, including tokens and rule state
	RoleAnalyst Role = "analyst" // read detections and stats, enable/disable rules, send events
	RoleViewer  Role = "viewer"  // read detections and stats
	RoleIngest  Role = "ingest"  // send events only
)

var roles = []Role{RoleAdmin, RoleAnalyst, RoleViewer, RoleIngest}

// Roles returns every role, strongest first.
func Roles() []Role { return append([]Role(nil), roles...) }

// ParseRole returns the role named s (case-insensitive, surrounding spaces
// ignored).
func ParseRole(s string) (Role, error) {
	r := Role(strings.ToLower(strings.TrimSpace(s)))
	for _, known := range roles {
		if r == known {
			return r, nil
		}
	}
	return "", fmt.Errorf("unknown role %q: use one of admin, analyst, viewer, ingest", s)
}

// Valid reports whether r is one of the defined roles.
func (r Role) Valid() bool {
	return r == RoleAdmin || r == RoleAnalyst || r == RoleViewer || r == RoleIngest
}

// Allows reports whether a token with role r may do what needs role need.
func (r Role) Allows(need Role) bool {
	switch r {
	case RoleAdmin:
		return need == RoleAdmin || need == RoleAnalyst || need == RoleViewer || need == RoleIngest
	case RoleAnalyst:
		return need == RoleAnalyst || need == RoleViewer || need == RoleIngest
	case RoleViewer:
		return need == RoleViewer
	case RoleIngest:
		return need == RoleIngest
	}
	return false
}

func (r Role) String() string { return string(r) }
