package auth

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Errors of Authenticate. A caller answers all four with 401 and counts
// them; they are distinct so logs and metrics can say why.
var (
	ErrMalformed    = errors.New("not a vigil token: expected vgl_<id>_<key>")
	ErrUnknownToken = errors.New("unknown token")
	ErrWrongSecret  = errors.New("wrong token secret")
	ErrRevoked      = errors.New("token revoked")
)

// Lookup returns the stored token with the given id. When there is none it
// returns an error for which errors.Is(err, ErrUnknownToken) holds
// (store.Store.Token does). Any other error is passed on by Authenticate.
type Lookup func(ctx context.Context, id string) (Token, error)

// Cache and concurrency limits of a Verifier.
const (
	CacheTTL            = time.Minute
	CacheSize           = 4096
	MaxConcurrentHashes = 2
)

// Verifier authenticates token secrets against a Lookup, caching successes;
// see the package documentation. It is safe for concurrent use.
type Verifier struct {
	lookup     Lookup
	onVerified func(context.Context, Token)
	now        func() time.Time
	sem        chan struct{} // bounds concurrent argon2id computations

	mu    sync.Mutex
	cache map[[sha256.Size]byte]cached
}

type cached struct {
	tok     Token
	expires time.Time
}

// NewVerifier returns a Verifier that finds tokens with lookup.
func NewVerifier(lookup Lookup) *Verifier {
	return &Verifier{
		lookup: lookup,
		now:    time.Now,
		sem:    make(chan struct{}, MaxConcurrentHashes),
		cache:  make(map[[sha256.Size]byte]cached),
	}
}

// Authenticate returns the token whose secret is secret. Errors: ErrMalformed,
// ErrUnknownToken, ErrWrongSecret, ErrRevoked, ctx's error while waiting for
// a hashing slot, or the Lookup's own error (wrapped).
func (v *Verifier) Authenticate(ctx context.Context, secret string) (Token, error) {
	id, ok := ParseSecret(secret)
	if !ok {
		return Token{}, ErrMalformed
	}
	key := sha256.Sum256([]byte(secret))
	now := v.now()
	v.mu.Lock()
	c, hit := v.cache[key]
	v.mu.Unlock()
	if hit && now.Before(c.expires) {
		return c.tok, nil
	}

	tok, err := v.lookup(ctx, id)
	if err != nil {
		if errors.Is(err, ErrUnknownToken) {
			return Token{}, ErrUnknownToken
		}
		return Token{}, fmt.Errorf("looking up token %s: %w", id, err)
	}
	if tok.ID != id {
		return Token{}, ErrUnknownToken
	}
	select {
	case v.sem <- struct{}{}:
	case <-ctx.Done():
		return Token{}, ctx.Err()
	}
	good := tok.Verify(secret)
	<-v.sem
	if !good {
		return Token{}, ErrWrongSecret
	}
	if tok.Revoked {
		return Token{}, ErrRevoked
	}
	v.remember(key, tok, now)
	if v.onVerified != nil {
		v.onVerified(ctx, tok)
	}
	return tok, nil
}

// OnVerified sets a function called after each successful verification
// that was not answered from the cache (at most about once per CacheTTL per
// secret), e.g. to record the token's last use. It runs synchronously in
// Authenticate; call OnVerified before the Verifier is used.
func (v *Verifier) OnVerified(f func(ctx context.Context, t Token)) { v.onVerified = f }

func (v *Verifier) remember(key [sha256.Size]byte, tok Token, now time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.cache) >= CacheSize {
		for k, c := range v.cache {
			if !now.Before(c.expires) {
				delete(v.cache, k)
			}
		}
		// Still full of live entries: drop an arbitrary quarter (map order
		// is random). They are re-verified on their next use.
		for k := range v.cache {
			if len(v.cache) < CacheSize*3/4 {
				break
			}
			delete(v.cache, k)
		}
	}
	v.cache[key] = cached{tok: tok, expires: now.Add(CacheTTL)}
}

// Forget drops every cached verification of the token with the given id, so
// that a revocation or role change takes effect at once in this process.
func (v *Verifier) Forget(id string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for k, c := range v.cache {
		if c.tok.ID == id {
			delete(v.cache, k)
		}
	}
}
