package taxii

import (
	"bufio"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Authenticator decides who a request comes from. It returns the name of
// the client (for logs), or an error: ErrForbidden gives 403, any other
// error 401. It must be safe for concurrent use.
type Authenticator interface {
	Authenticate(r *http.Request) (client string, err error)
}

// Challenger is implemented by authenticators that tell a client how to
// authenticate: the value of the WWW-Authenticate header of a 401.
type Challenger interface {
	Challenge() string
}

// Errors of authenticators.
var (
	ErrNoCredentials  = errors.New("no credentials")
	ErrBadCredentials = errors.New("credentials not accepted")
	ErrForbidden      = errors.New("not allowed")
)

// BearerAuth accepts requests that carry one of its tokens as
// "Authorization: Bearer <token>". It keeps only the SHA-256 of each token
// and compares hashes in constant time.
type BearerAuth struct {
	hashes [][sha256.Size]byte
	names  []string
}

var (
	_ Authenticator = (*BearerAuth)(nil)
	_ Challenger    = (*BearerAuth)(nil)
)

// NewBearerAuth returns an authenticator for tokens. Client names in logs
// are "token 1", "token 2", … in the order given.
func NewBearerAuth(tokens ...string) (*BearerAuth, error) {
	a := &BearerAuth{}
	for _, t := range tokens {
		if err := a.add(sha256.Sum256([]byte(t)), len(t)); err != nil {
			return nil, err
		}
	}
	if len(a.hashes) == 0 {
		return nil, errors.New("bearer authentication: no tokens")
	}
	return a, nil
}

func (a *BearerAuth) add(h [sha256.Size]byte, n int) error {
	if n >= 0 && n < 16 {
		return fmt.Errorf("bearer token %d: %d characters is too short to resist guessing (use at least 16, e.g. openssl rand -hex 32)", len(a.hashes)+1, n)
	}
	a.hashes = append(a.hashes, h)
	a.names = append(a.names, fmt.Sprintf("token %d", len(a.hashes)))
	return nil
}

// ReadTokens reads a token file: one token a line, or "sha256:<hex>" for
// the SHA-256 of a token (so the file need not hold the token itself);
// blank lines and lines starting with '#' are ignored.
func ReadTokens(r io.Reader) (*BearerAuth, error) {
	a := &BearerAuth{}
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" || s[0] == '#' {
			continue
		}
		if h, ok := strings.CutPrefix(s, "sha256:"); ok {
			b, err := hex.DecodeString(h)
			if err != nil || len(b) != sha256.Size {
				return nil, fmt.Errorf("token file line %d: sha256: wants 64 hex digits", line)
			}
			_ = a.add([sha256.Size]byte(b), -1)
			continue
		}
		if err := a.add(sha256.Sum256([]byte(s)), len(s)); err != nil {
			return nil, fmt.Errorf("token file line %d: %w", line, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("token file: %w", err)
	}
	if len(a.hashes) == 0 {
		return nil, errors.New("token file: no tokens")
	}
	return a, nil
}

// Authenticate implements Authenticator.
func (a *BearerAuth) Authenticate(r *http.Request) (string, error) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if h == "" || !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", ErrNoCredentials
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	found := -1
	for i := range a.hashes { // no early exit: the time does not say which token is near
		if subtle.ConstantTimeCompare(sum[:], a.hashes[i][:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return "", ErrBadCredentials
	}
	return a.names[found], nil
}

// Challenge implements Challenger.
func (a *BearerAuth) Challenge() string { return `Bearer realm="taxii"` }

// BasicAuth accepts HTTP basic authentication with one of its users'
// passwords. It keeps only the SHA-256 of each password and compares in
// constant time. (Passwords here are shared secrets handed to TAXII
// clients, not human passwords: a slow password hash would only slow every
// request.)
type BasicAuth struct {
	users map[string][sha256.Size]byte
}

var (
	_ Authenticator = (*BasicAuth)(nil)
	_ Challenger    = (*BasicAuth)(nil)
)

// NewBasicAuth returns an authenticator for users and their passwords.
func NewBasicAuth(passwords map[string]string) (*BasicAuth, error) {
	a := &BasicAuth{users: map[string][sha256.Size]byte{}}
	for u, p := range passwords {
		if u == "" || strings.Contains(u, ":") {
			return nil, fmt.Errorf("basic authentication: user name %q: must be non-empty, without ':'", u)
		}
		if len(p) < 12 {
			return nil, fmt.Errorf("basic authentication: user %q: password shorter than 12 characters", u)
		}
		a.users[u] = sha256.Sum256([]byte(p))
	}
	if len(a.users) == 0 {
		return nil, errors.New("basic authentication: no users")
	}
	return a, nil
}

// Authenticate implements Authenticator.
func (a *BasicAuth) Authenticate(r *http.Request) (string, error) {
	u, p, ok := r.BasicAuth()
	if !ok {
		return "", ErrNoCredentials
	}
	want, known := a.users[u]
	sum := sha256.Sum256([]byte(p))
	if subtle.ConstantTimeCompare(sum[:], want[:]) != 1 || !known {
		return "", ErrBadCredentials
	}
	return "user " + u, nil
}

// Challenge implements Challenger.
func (a *BasicAuth) Challenge() string { return `Basic realm="taxii", charset="UTF-8"` }

// AnyOf accepts a request that any of auths accepts, tried in order. Its
// challenge is that of the first authenticator with one.
func AnyOf(auths ...Authenticator) Authenticator { return anyOf(auths) }

type anyOf []Authenticator

func (as anyOf) Authenticate(r *http.Request) (string, error) {
	err := ErrNoCredentials
	for _, a := range as {
		c, e := a.Authenticate(r)
		if e == nil {
			return c, nil
		}
		if !errors.Is(e, ErrNoCredentials) {
			err = e
		}
	}
	return "", err
}

func (as anyOf) Challenge() string {
	var cs []string
	for _, a := range as {
		if c, ok := a.(Challenger); ok {
			cs = append(cs, c.Challenge())
		}
	}
	return strings.Join(cs, ", ")
}
