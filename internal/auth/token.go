package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/argon2"
)

// Token is the stored record of an API token. Hash is the argon2id PHC
// string of the secret; the secret itself is never stored.
type Token struct {
	ID       string
	Name     string
	Role     Role
	Hash     string
	Created  time.Time
	LastUsed time.Time // zero until first use
	Revoked  bool
}

// Secret layout: "vgl_" + 12-char id + "_" + 52-char key, all [a-z2-7].
const (
	secretPrefix = "vgl_"
	idLen        = 12
	keyBytes     = 32
	keyLen       = 52 // base32 of 32 bytes, unpadded
	secretLen    = len(secretPrefix) + idLen + 1 + keyLen
)

// The argon2id parameters of new hashes; see the package documentation.
const (
	argonTime    = 2
	argonMemory  = 19 * 1024 // KiB
	argonThreads = 1
	argonSaltLen = 16
	argonKeyLen  = 32
)

// Limits on parameters read from a stored hash, so a corrupt or hostile
// record cannot make Verify allocate gigabytes or loop for minutes.
const (
	maxArgonTime    = 16
	maxArgonMemory  = 256 * 1024 // KiB
	maxArgonThreads = 16
)

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewToken makes a token with a fresh random id and secret. The secret is
// returned once, to be shown to the user; t holds only its hash.
func NewToken(name string, role Role) (secret string, t Token, err error) {
	if !role.Valid() {
		return "", Token{}, fmt.Errorf("token %q: unknown role %q: use one of admin, analyst, viewer, ingest", name, role)
	}
	var raw [8 + keyBytes]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", Token{}, fmt.Errorf("token %q: reading random bytes: %w", name, err)
	}
	id := strings.ToLower(b32.EncodeToString(raw[:8]))[:idLen]
	key := strings.ToLower(b32.EncodeToString(raw[8:]))
	secret = secretPrefix + id + "_" + key
	hash, err := hashSecret(secret)
	if err != nil {
		return "", Token{}, fmt.Errorf("token %q: %w", name, err)
	}
	return secret, Token{ID: id, Name: name, Role: role, Hash: hash, Created: time.Now().UTC()}, nil
}

// ParseSecret returns the token id inside secret, and whether secret has the
// shape of a vigil token secret at all. It does no cryptography.
func ParseSecret(secret string) (id string, ok bool) {
	if len(secret) != secretLen || !strings.HasPrefix(secret, secretPrefix) {
		return "", false
	}
	rest := secret[len(secretPrefix):]
	if rest[idLen] != '_' {
		return "", false
	}
	id, key := rest[:idLen], rest[idLen+1:]
	if !isB32(id) || !isB32(key) {
		return "", false
	}
	return id, true
}

func isB32(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return false
		}
	}
	return true
}

// Verify reports whether secret is the secret of t, by recomputing the
// argon2id hash with the parameters and salt stored in t.Hash and comparing
// in constant time. A malformed Hash verifies nothing. It does not look at
// Revoked.
func (t Token) Verify(secret string) bool {
	p, err := parsePHC(t.Hash)
	if err != nil {
		return false
	}
	got := argon2.IDKey([]byte(secret), p.salt, p.time, p.memory, p.threads, uint32(len(p.hash)))
	return subtle.ConstantTimeCompare(got, p.hash) == 1
}

func hashSecret(secret string) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("reading random salt: %w", err)
	}
	h := argon2.IDKey([]byte(secret), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(h)), nil
}

type phc struct {
	time, memory uint32
	threads      uint8
	salt, hash   []byte
}

var errBadHash = errors.New("not an argon2id PHC string")

// parsePHC reads "$argon2id$v=19$m=M,t=T,p=P$salt$hash" (unpadded standard
// base64, as the PHC string format specifies).
func parsePHC(s string) (phc, error) {
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return phc{}, errBadHash
	}
	var p phc
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return phc{}, errBadHash
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil || n == 0 {
			return phc{}, errBadHash
		}
		switch k {
		case "m":
			p.memory = uint32(n)
		case "t":
			p.time = uint32(n)
		case "p":
			if n > maxArgonThreads {
				return phc{}, errBadHash
			}
			p.threads = uint8(n)
		default:
			return phc{}, errBadHash
		}
	}
	if p.time == 0 || p.time > maxArgonTime || p.memory == 0 || p.memory > maxArgonMemory || p.threads == 0 || p.memory < 8*uint32(p.threads) {
		return phc{}, errBadHash
	}
	var err error
	if p.salt, err = base64.RawStdEncoding.DecodeString(parts[4]); err != nil || len(p.salt) < 8 {
		return phc{}, errBadHash
	}
	if p.hash, err = base64.RawStdEncoding.DecodeString(parts[5]); err != nil || len(p.hash) < 16 || len(p.hash) > 64 {
		return phc{}, errBadHash
	}
	return p, nil
}
