package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestParseRole(t *testing.T) {
	for _, r := range Roles() {
		got, err := ParseRole(" " + strings.ToUpper(string(r)) + " ")
		if err != nil || got != r {
			t.Errorf("ParseRole(%q) = %q, %v", r, got, err)
		}
	}
	_, err := ParseRole("root")
	if err == nil || !strings.Contains(err.Error(), `"root"`) || !strings.Contains(err.Error(), "admin, analyst, viewer, ingest") {
		t.Errorf("ParseRole(root) error = %v, want the bad name and the list of roles", err)
	}
}

func TestRoleAllows(t *testing.T) {
	want := map[Role]string{ // the roles each role allows
		RoleAdmin:   "admin analyst viewer ingest",
		RoleAnalyst: "analyst viewer ingest",
		RoleViewer:  "viewer",
		RoleIngest:  "ingest",
		Role("x"):   "",
	}
	for r, allowed := range want {
		for _, need := range Roles() {
			w := strings.Contains(" "+allowed+" ", " "+string(need)+" ")
			if got := r.Allows(need); got != w {
				t.Errorf("%q.Allows(%q) = %v, want %v", r, need, got, w)
			}
		}
	}
}

func TestNewTokenAndVerify(t *testing.T) {
	secret, tok, err := NewToken("ci", RoleViewer)
	if err != nil {
		t.Fatal(err)
	}
	id, ok := ParseSecret(secret)
	if !ok || id != tok.ID || len(id) != 12 {
		t.Fatalf("ParseSecret(%q) = %q, %v; token id %q", secret, id, ok, tok.ID)
	}
	if !strings.HasPrefix(tok.Hash, "$argon2id$v=19$m=19456,t=2,p=1$") || strings.Contains(tok.Hash, secret) {
		t.Fatalf("hash %q: want an argon2id PHC string without the secret", tok.Hash)
	}
	if tok.Role != RoleViewer || tok.Name != "ci" || tok.Created.IsZero() || tok.Revoked {
		t.Fatalf("token %+v", tok)
	}
	if !tok.Verify(secret) {
		t.Fatal("Verify(own secret) = false")
	}
	// Same id, one key character changed.
	last := secret[len(secret)-1]
	other := secret[:len(secret)-1] + string("ab"[btoi(last == 'a')])
	if tok.Verify(other) {
		t.Fatal("Verify(changed secret) = true")
	}
	secret2, tok2, err := NewToken("ci", RoleViewer)
	if err != nil {
		t.Fatal(err)
	}
	if secret2 == secret || tok2.ID == tok.ID || tok2.Hash == tok.Hash {
		t.Fatal("two tokens share a secret, id or hash")
	}
	if _, _, err := NewToken("x", Role("root")); err == nil {
		t.Fatal("NewToken with an unknown role succeeded")
	}
	bad := tok
	for _, h := range []string{"", "$argon2id$v=19$m=19456,t=2,p=1$", "$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=99999999,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "$argon2id$v=19$m=19456,t=0,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"} {
		bad.Hash = h
		if bad.Verify(secret) {
			t.Errorf("Verify with hash %q = true", h)
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestParseSecret(t *testing.T) {
	good := "vgl_abcdefgh2345_" + strings.Repeat("a", 52)
	if id, ok := ParseSecret(good); !ok || id != "abcdefgh2345" {
		t.Fatalf("ParseSecret(good) = %q, %v", id, ok)
	}
	for _, s := range []string{"", "vgl_", good[:len(good)-1], good + "a", "VGL" + good[3:], strings.Replace(good, "_", "-", 2),
		"vgl_abcdefgh2345_" + strings.Repeat("A", 52), "vgl_abcdefgh2341_" + strings.Repeat("a", 52), "Bearer " + good} {
		if _, ok := ParseSecret(s); ok {
			t.Errorf("ParseSecret(%q) ok", s)
		}
	}
}

type fakeStore struct {
	mu      sync.Mutex
	tokens  map[string]Token
	lookups atomic.Int64
	fail    error
}

func (f *fakeStore) lookup(_ context.Context, id string) (Token, error) {
	f.lookups.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return Token{}, f.fail
	}
	t, ok := f.tokens[id]
	if !ok {
		return Token{}, fmt.Errorf("token %s: %w", id, ErrUnknownToken)
	}
	return t, nil
}

func TestVerifier(t *testing.T) {
	ctx := context.Background()
	secret, tok, err := NewToken("admin", RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	fs := &fakeStore{tokens: map[string]Token{tok.ID: tok}}
	v := NewVerifier(fs.lookup)
	var verified int
	v.OnVerified(func(_ context.Context, got Token) {
		if got.ID != tok.ID {
			t.Errorf("OnVerified(%s)", got.ID)
		}
		verified++
	})
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	v.now = func() time.Time { return now }

	got, err := v.Authenticate(ctx, secret)
	if err != nil || got.ID != tok.ID || got.Role != RoleAdmin {
		t.Fatalf("Authenticate = %+v, %v", got, err)
	}
	for range 10 {
		if _, err := v.Authenticate(ctx, secret); err != nil {
			t.Fatal(err)
		}
	}
	if n := fs.lookups.Load(); n != 1 || verified != 1 {
		t.Fatalf("%d lookups, %d OnVerified calls for 11 authentications within the TTL, want 1 (cached)", n, verified)
	}
	// After the TTL the token is looked up (and verified) again.
	now = now.Add(CacheTTL + time.Second)
	if _, err := v.Authenticate(ctx, secret); err != nil || fs.lookups.Load() != 2 {
		t.Fatalf("after TTL: err %v, lookups %d, want nil, 2", err, fs.lookups.Load())
	}

	// Errors.
	wrong := secret[:len(secret)-4] + "aaaa"
	if wrong == secret {
		wrong = secret[:len(secret)-4] + "bbbb"
	}
	unknown := "vgl_222222222222" + secret[16:]
	for _, c := range []struct {
		secret string
		want   error
	}{
		{"", ErrMalformed}, {"Bearer " + secret, ErrMalformed}, {secret[:20], ErrMalformed},
		{wrong, ErrWrongSecret}, {unknown, ErrUnknownToken},
	} {
		if _, err := v.Authenticate(ctx, c.secret); !errors.Is(err, c.want) {
			t.Errorf("Authenticate(%.24q…) = %v, want %v", c.secret, err, c.want)
		}
		if err := fmt.Sprint(err); strings.Contains(err, secret[17:]) {
			t.Errorf("error %q contains the secret", err)
		}
	}
	// Revocation: Forget makes it effective at once.
	tok.Revoked = true
	fs.mu.Lock()
	fs.tokens[tok.ID] = tok
	fs.mu.Unlock()
	if _, err := v.Authenticate(ctx, secret); err != nil {
		t.Fatalf("cached token before Forget: %v", err)
	}
	v.Forget(tok.ID)
	if _, err := v.Authenticate(ctx, secret); !errors.Is(err, ErrRevoked) {
		t.Fatalf("revoked token: %v, want ErrRevoked", err)
	}
	// Lookup failures are not authentication failures.
	v.Forget(tok.ID)
	fs.mu.Lock()
	fs.fail = errors.New("database is down")
	fs.mu.Unlock()
	_, err = v.Authenticate(ctx, secret)
	if err == nil || errors.Is(err, ErrUnknownToken) || !strings.Contains(err.Error(), "database is down") {
		t.Fatalf("lookup failure: %v", err)
	}
}

func TestVerifierConcurrentAndBounded(t *testing.T) {
	ctx := context.Background()
	secret, tok, err := NewToken("a", RoleAnalyst)
	if err != nil {
		t.Fatal(err)
	}
	fs := &fakeStore{tokens: map[string]Token{tok.ID: tok}}
	v := NewVerifier(fs.lookup)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 20 {
				if _, err := v.Authenticate(ctx, secret); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	// The cache never grows beyond CacheSize.
	for i := range CacheSize + 100 {
		var k [32]byte
		k[0], k[1], k[2] = byte(i), byte(i>>8), byte(i>>16)
		v.remember(k, tok, time.Now())
	}
	if n := len(v.cache); n > CacheSize {
		t.Fatalf("cache holds %d entries, limit %d", n, CacheSize)
	}
}

func BenchmarkVerify(b *testing.B) {
	secret, tok, err := NewToken("bench", RoleViewer)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if !tok.Verify(secret) {
			b.Fatal("no match")
		}
	}
}

func BenchmarkAuthenticateCached(b *testing.B) {
	secret, tok, err := NewToken("bench", RoleViewer)
	if err != nil {
		b.Fatal(err)
	}
	v := NewVerifier(func(context.Context, string) (Token, error) { return tok, nil })
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Authenticate(ctx, secret); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzParseSecret(f *testing.F) {
	f.Add("vgl_abcdefgh2345_" + strings.Repeat("a", 52))
	f.Add("vgl_")
	f.Fuzz(func(t *testing.T, s string) {
		id, ok := ParseSecret(s)
		if ok && (len(id) != 12 || !strings.Contains(s, id)) {
			t.Fatalf("ParseSecret(%q) = %q", s, id)
		}
	})
}
