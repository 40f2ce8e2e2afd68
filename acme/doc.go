// Package acme is certchain's RFC 8555 ACME server: one per node, whose
// issuing CA is a CA member of the ledger. It holds the handlers (Server),
// problem documents, JWS request parsing and verification, anti-replay
// nonces, challenge validation and the issuer (cfssl's signer with
// profiles).
//
// The package imports no other certchain package: the node gives it a
// Store (replicated objects) and a Ledger (publish, revoke, status) and a
// key policy, so it cannot depend on raftstore or the ledger's internals.
//
// # State
//
// Accounts, orders, authorizations and the records of issued certificates
// are JSON objects in the Store, which the node keeps in its Raft log
// (raftstore's replicated objects): every node has them, a follower's
// write is forwarded to the leader, and a pending order survives the loss
// of any node. They are not certificate ledger transactions: they are the
// CA's bookkeeping, not status a relying party reads, and putting them in
// hash-chained blocks would make every node verify and audit them
// forever. Every object carries a version (the Raft index that wrote it),
// and every change names the version it read, so two nodes acting on one
// order at once cannot both win: finalize moves the order to processing
// with such a write before it signs anything, so an order is issued once.
// Order status ready and the expiry of pending objects are worked out when
// read, from the authorizations. The leader prunes hourly what nobody
// needs any more (Prune), so the replicated store does not grow for ever.
//
// # Issuance
//
// Finalize checks the CSR (signature, exactly the order's identifiers,
// the ledger's key policy), signs through cfssl with the order's profile
// (the OCSP URL of the node in the AIA), publishes the certificate to the
// ledger as the CA member, and only then marks the order valid: a client
// can never download a certificate that relying parties see as unknown.
// Revocation is a ledger revoke transaction by the CA member, allowed to
// the account that ordered the certificate or to a request signed by the
// certificate's own key. Challenge validation runs after the challenge
// request is answered (the client polls); a validation lost with its node
// can be started again once it is overdue.
//
// # Identifiers
//
// An order and its authorizations keep each identifier exactly as the
// client sent it ("Svc.Example.TEST" stays so), and validations send that
// spelling as the HTTP Host and the TLS server name. Clients hold the
// server to it: RFC 8555 §7.1.3 makes the identifiers the client's, lego
// refuses an order whose identifiers differ from its request, and lego's
// own http-01 server answers only the Host it was asked for. Everything
// that compares identifiers (the policy, duplicates in one order, the
// CSR) uses a canonical key instead (target.key: names in lower case,
// RFC 4343; addresses in canonical text), and the certificate holds DNS
// names in lower case, as Let's Encrypt's do. Boulder also lowercases the
// order's identifiers; certchain does not, since a client that compares
// them with its request, as lego does, would refuse the order.
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
// a shared cache) on every request. Instead, as Boulder routes redemption
// by prefix, a node that receives a request signed with another node's
// nonce forwards it to that node (Peer, over the nodes' mutual TLS) and
// relays the answer; the JWS "url" may then name the forwarding node,
// which is accepted for the same path on any node of the cluster. A client
// behind a load balancer, or one that moves between nodes, therefore never
// sees a badNonce for a live node's nonce. Only when that node is gone (or
// restarted) is the answer a badNonce with a fresh Replay-Nonce of this
// node, which every client retries with (RFC 8555 §6.5).
//
// # Validation
//
// A Validator checks http-01 (RFC 8555 §8.3), dns-01 (§8.4) and
// tls-alpn-01 (RFC 8737), for dns and, except dns-01, ip identifiers
// (RFC 8738). Ports and the DNS server are configurable (ValidatorConfig)
// so tests validate against servers on loopback and a local DNS server; in
// production they stay 80, 443 and the configured recursive resolver. All
// I/O runs under a context with the configured Timeout and reads are
// bounded, so a validation never hangs.
//
// http-01 and tls-alpn-01 find a name's addresses as the system does:
// the hosts file first (Go's resolver with DNS cut off, so nsswitch.conf
// is honoured and nothing else is asked), then DNS. So localhost, and any
// name an operator pins in /etc/hosts, validates without a DNS server.
// The hosts file is read with the name as it is, because Go's hosts lookup
// matches no rooted name ("localhost."); DNS is always asked for the
// rooted name, so a resolver's search domains never turn a name nobody
// owns into one that resolves. dns-01 asks DNS only (a hosts file has no
// TXT records). Outcomes map to problem types as
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
// Not done in validation yet: an address policy refusing private and
// loopback targets in production (tests need loopback), CAA checking, and
// multi-perspective validation; rate limits per account.
package acme
