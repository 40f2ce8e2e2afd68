// Package acme holds the stateless building blocks of certchain's RFC 8555
// ACME server: problem documents, JWS request parsing and verification,
// anti-replay nonces, and challenge validation. The HTTP handlers, order
// and authorization storage (replicated through the ledger so they survive
// a leader change) and issuance come later and build on these.
//
// The package imports no other certchain package and keeps no state beyond
// a NonceSource's window; it must not import raftstore or the ledger.
//
// # Problems
//
// Every error a client can see is a *Problem (RFC 8555 §6.7) whose Type is
// a ProblemType constant. A ProblemType is itself an error, so callers
// branch with errors.Is(err, ErrBadNonce) and reach the document with
// errors.As, through any amount of fmt.Errorf("…: %w") wrapping.
// ProblemType.Errorf keeps the errors it wraps reachable (a nonce reason, a
// context.DeadlineExceeded). The HTTP status of each type is in one table
// (problem.go); WriteProblem writes application/problem+json and turns
// anything that is not a Problem into a serverInternal with a generic
// detail, so internal errors never leak.
//
// # JWS
//
// Requests are parsed and verified with github.com/go-jose/go-jose/v4, the
// maintained successor of square/go-jose, which Boulder uses: signature
// code is not ours to write. Around it, ParseJWS is deliberately
// stricter than go-jose: a bounded body (MaxJWSSize), the flattened JSON
// serialization only (no compact form, no "signatures" array, no
// unprotected "header"), no duplicate JSON members, canonical base64url, no
// "crit" or "b64" (go-jose would honour an unencoded payload), then the
// RFC 8555 §6.2 header rules: "alg" one of ES256, ES384, RS256, EdDSA
// (anything else, "none" and HMAC included, is badSignatureAlgorithm with
// the supported list); "nonce"; "url"; exactly one of "jwk" and "kid". Only
// the checked members are handed to go-jose, re-serialized, so the two
// parsers cannot disagree about what was signed. Keys must pass
// CheckAccountKey (RSA 2048–8192 bits, P-256, P-384, Ed25519) and match
// "alg". The caller drives verification: Verify with a KeyLookup for "kid",
// then CheckURL and NonceSource.Redeem. VerifyKeyChange (RFC 8555 §7.3.5)
// and VerifyEAB (§7.3.4) check the inner JWSs of key roll-over and external
// account binding.
//
// # Nonces
//
// A nonce is bound to the node, and the process, that issued it:
//
//	prefix (8 chars) || base64url(counter (8 bytes) || issued (8) || HMAC-SHA-256 (16))
//
// The prefix is derived from the node name; the MAC key is random per
// process. A node redeems only its own nonces: it checks the MAC, the
// age, and a bitmap of the last Window counters (like Boulder's nonce
// service), so memory is fixed (Window/8 bytes) and each nonce is used at
// most once. A nonce from another node, from before a restart, older than
// the window or MaxAge, tampered with, or replayed is a badNonce.
//
// Why not a cluster-wide nonce store: that would cost a Raft round trip (or
// a shared cache) on every request, for a case RFC 8555 §6.5 already
// handles: a badNonce response carries a fresh Replay-Nonce and clients
// retry. A client that retries with that nonce succeeds at once, since it
// was issued by the node that refused. golang.org/x/crypto/acme instead
// drops it and asks newNonce again, so its retry succeeds at once only if
// newNonce reaches the node the POST reaches (client_test.go runs it so).
// Behind a load balancer this wants session affinity; without it such a
// client sees some retries, or the HTTP layer can forward a request whose
// nonce prefix names another node to that node, as Boulder routes
// redemption by prefix.
//
// # Validation
//
// A Validator checks http-01 (RFC 8555 §8.3), dns-01 (§8.4) and
// tls-alpn-01 (RFC 8737), for dns and, except dns-01, ip identifiers
// (RFC 8738). Ports and the DNS server are configurable (ValidatorConfig)
// so tests validate against servers on loopback and a local DNS server; in
// production they stay 80, 443 and the configured recursive resolver. All
// I/O runs under a context with the configured Timeout and reads are
// bounded, so a validation never hangs. Outcomes map to problem types as
// follows:
//
//	dns                 lookup failed: NXDOMAIN or no records, SERVFAIL, timeout
//	connection          refused, reset, timed out; a redirect not followed
//	tls                 the TLS handshake failed
//	incorrectResponse   not a challenge response: HTTP status not 200, body too
//	                    large, no acme-tls/1, wrong subjectAltName, not
//	                    self-signed, acmeIdentifier missing or not critical
//	unauthorized        a well-formed response for the wrong key authorization
//
// Still to come, outside this package's stateless part: the chi handlers
// (directory, newNonce, accounts, orders, authorizations, finalize,
// certificate, revokeCert, renewal information) with their metrics;
// orders, authorizations and accounts as replicated state; issuance
// through cfssl onto the ledger. Not done in validation yet: an address
// policy refusing private and loopback targets in production (tests need
// loopback), CAA checking, and multi-perspective validation.
package acme
