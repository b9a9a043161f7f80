// Package auth issues and checks the API tokens of vigil serve: roles, token
// secrets, their argon2id hashes, and a Verifier that turns the bearer
// secret of a request into a Token. It sits between the HTTP API (which
// calls Verifier.Authenticate and Role.Allows per request) and
// internal/store (which keeps Token records, hashes only).
//
//	NewToken(name, role) -> secret (shown once) + Token{Hash} -> store.PutToken
//	request "Authorization: Bearer vgl_<id>_<secret>" -> Verifier.Authenticate -> Token -> Role.Allows(route's role)
//
// # Secrets
//
// A secret is "vgl_" + id + "_" + key: id is 12 lower-case base32 characters
// (60 random bits) naming the token record, key is 52 lower-case base32
// characters (32 random bytes from crypto/rand). Both parts use only
// [a-z2-7], so the separators are unambiguous, a secret survives shells,
// URLs and double-click selection, and secret scanners can match the "vgl_"
// prefix. ParseSecret extracts the id without any cryptography.
//
// # Hashes
//
// Only an argon2id hash of the whole secret is stored, as a PHC string
// ("$argon2id$v=19$m=19456,t=2,p=1$salt$hash", salt 16 random bytes, hash 32
// bytes). The parameters are those OWASP recommends as the minimum for
// argon2id (19 MiB, 2 passes, 1 lane): a token key carries 256 random bits,
// so the hash does not need to slow guessing of a weak password; it has to
// make a leaked database useless, which any preimage-resistant hash does,
// and argon2id is what the issue asks for. Lighter parameters keep a
// verification at 19 MiB and about 0.1 s (BenchmarkVerify, measured on a
// loaded 2-core machine), and a burst of requests with wrong secrets cannot
// exhaust memory: the Verifier runs at most MaxConcurrentHashes
// verifications at once (38 MiB). Verify reads the parameters
// from the PHC string, so hashes written with other parameters (stronger
// ones later) still verify.
//
// # Verifier and its cache
//
// Authenticate verifies a secret once and then remembers the success for
// CacheTTL (one minute), keyed by the SHA-256 of the secret (the secret
// itself is never kept), so argon2id is not paid per request. The cache
// holds at most CacheSize entries. Failures are never cached. Consequence:
// a token revoked in the store is still accepted by a Verifier that saw it
// within the last minute, unless the process that revokes it calls
// Verifier.Forget (the API process does; other processes of a scaled-out
// deployment notice within CacheTTL).
//
// A cache miss that verifies calls the OnVerified hook, if set: the place to
// record the token's last use (store.TouchToken) once per CacheTTL instead
// of once per request.
//
// Errors are sentinels a caller branches on: ErrMalformed (not a vigil
// secret), ErrUnknownToken (no record with that id), ErrWrongSecret (record
// exists, key does not match), ErrRevoked (right secret, revoked token).
// Any other error comes from the Lookup (a database outage) and should be
// answered with 503, not 401. Secrets never appear in errors or logs.
package auth
