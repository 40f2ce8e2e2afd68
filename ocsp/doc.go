// Package ocsp is the ledger's OCSP responder (RFC 6960, RFC 5019 profile,
// RFC 8954 nonces): an http.Handler that every validator node serves at
// /ocsp, answering from a bounded in-memory cache of signed responses.
//
// It owns: parsing OCSP requests (request.go, with cryptobyte: x/crypto's
// ParseRequest takes one CertID only), building and signing
// BasicOCSPResponses for any number of CertIDs (encode.go, build.go), the
// delegated signers and their lifecycle (delegate.go, autodelegate.go),
// the response cache (cache.go), the HTTP edge (http.go, response.go,
// listener.go), the nonce budget (nonce.go) and the metrics (metrics.go).
//
// It imports certchain, the standard library, golang.org/x/crypto and the
// Prometheus client, never raftstore, api or cmd: the ledger comes in
// through the one-method Source interface, which raftstore.State
// satisfies.
//
// # Wiring (done by the node)
//
//   - raftstore.Config.OnApply calls Responder.Refresh(applied.Records) on
//     every node for every applied block, before the block is
//     acknowledged, so that no node serves a status older than a block it
//     has applied.
//   - go Responder.Run(ctx) for the life of the node.
//   - Config.IssuingCAs holds the CAs whose keys the node holds (the ACME
//     CA); the delegates CA members register on the ledger for the node's
//     delegate key reach SetDelegate from the same OnApply hook (and from
//     a scan at start and every minute, for snapshots).
//   - The Responder is mounted for "/ocsp" and "/ocsp/" ahead of any router
//     that cleans or redirects paths (chi, http.ServeMux): the base64 in a
//     GET path may hold "/" and "//". The plain-HTTP listener is wrapped
//     in RepairListener (see "Paths net/http refuses").
//   - GET /v1/ocsp/responder.pem serves ResponderPEM, GET /v1/ocsp/signers
//     Signers.
//
// # Invariants
//
//   - Every answer is an OCSPResponse with Content-Type
//     application/ocsp-response and a Content-Length (HTTP/1.0 clients such
//     as nginx stapling need both), never HTML and never a bare 500.
//   - No request arriving after Refresh returns gets a response signed
//     from a ledger state older than the records it was given: Refresh empties
//     every cached response naming those certificates (by issuer key hash
//     and serial, for both hashes, so an "unknown" cached before a publish
//     goes too), and a signing that began before Refresh is not stored
//     (each slot has a version that Refresh bumps; see cache.finish).
//   - A cached response is never served past three quarters of its
//     validity: with Run re-signing at one half, relying parties get at
//     least a quarter of Validity before nextUpdate, and without Run the
//     next request signs afresh.
//   - The cache never holds more than CacheSize responses.
//   - One response has one signer, and its certs field holds exactly that
//     signer's certificate.
//   - No response outlives its signer: nextUpdate is at most the signer's
//     notAfter, and a delegate with less than a minute left signs nothing.
//   - When the signer of an issuer changes (a delegate renewed, or a
//     longer-lived one added), the cached responses naming that issuer are
//     dropped and re-signed, like those Refresh drops.
//   - The ledger responder (certificate, key and responderID) is one value
//     swapped atomically by SetResponder: no response is signed by one key
//     while naming another, and no request arriving after SetResponder
//     returns is answered by the old responder.
//
// # Decisions
//
// Cache keys. A GET is looked up by its raw escaped path (what follows
// "/ocsp/"), a POST by its body bytes, before any decoding: a hit is a map
// lookup under a read lock, an atomic load and header assignments of
// values formatted when the response was signed; no signing, no ledger
// read, no allocation (BenchmarkGET). Behind these aliases every slot has
// a canonical key, the DER of its CertIDs, so the same question asked in
// another encoding (URL escaping, padding, GET vs POST, another nonce-less
// client) finds the same signed response after one parse. A slot keeps at
// most four aliases; requests with a nonce are never aliases (their bytes
// are unique).
//
// Memory bound. Responses are signed on first request and kept in a CLOCK
// cache of CacheSize slots (a hit only sets a bit; eviction sweeps for a
// slot not hit since the last sweep): 10 million certificates on the
// ledger cost nothing until asked about. A cached response costs about
// 1.2 KiB (BenchmarkCacheMemory): the signer's certificate, half of every
// response's bytes, is stored once per signer and written as a second
// chunk, and Cache-Control values come from one table shared by all
// responses. Run re-signs only the responses asked for since they were
// signed and drops the rest.
//
// Signer selection. RFC 6960 allows one signature per response, and
// §4.2.2.2 lets a relying party accept a signer that is the CA identified
// in the request, a delegate that CA issued directly (id-kp-OCSPSigning),
// or a responder it trusts by local configuration. A CertID identifies its
// CA by issuerKeyHash, so delegates are kept by issuer key (both the SHA-1
// and the SHA-256 hash) and chosen from the request alone: when every
// CertID names the key of one issuer that has a usable delegate, the one
// that stays valid longest signs (whether the ledger knows the
// certificates or answers unknown: the CA's delegate speaks for all its
// serials); any other request (self-signed certificates, CAs without a
// delegate, a mix of issuers) is signed by the ledger responder. Selection
// by issuer key rather than by the member that published a certificate is
// what RFC 6960 checks (a delegate of another CA of the same member would
// be refused), and it needs no ledger read, so unknown certificates of a
// delegated CA get answers the relying party can verify. A relying party
// trusting only one CA and asking about certificates of several issuers in
// one request cannot verify that answer; the clients in use (OpenSSL,
// nginx, curl, gnutls, strongSwan, Go) ask one certificate at a time. A
// self-signed certificate is its own issuer: no one can delegate for it,
// and relying parties must trust the ledger responder itself (OpenSSL:
// -VAfile; trusting the CA that issued the responder is not enough).
//
// Delegate lifecycle. Delegates come from three places: IssuingCAs (CA
// keys this node holds: Responder issues itself one delegate per CA),
// the ledger (a CA member issues one per node with certchain ocsp delegate
// and registers it; the node holding the key calls SetDelegate) and
// configuration (Config.Delegates). Each node has its own: an issued
// delegate's key is generated in this process and never leaves it, and a
// registered one is issued to the node's own delegate key, so a leaked key
// exposes one node, and the subject names the node that answered. They are
// short-lived because they carry id-pkix-ocsp-nocheck: relying parties
// never ask about a delegate's own revocation (they could not: the answer
// would need the delegate), so its lifetime is the only bound on a stolen
// key (RFC 6960 §4.2.2.2.1); the ledger caps registrations at 90 days and
// the node issues 4-day ones. Run renews an issued delegate at half its
// life (maintain), so the previous one still has half its life when it is
// replaced and every response it signed expires before it does; renewal
// needs no restart and no ledger change. A delegate the node cannot renew
// (ledger, configuration) is logged once when a quarter of its life is
// left and once when it lapses, and is reported with its expiry in
// certchain_ocsp_signer_expiry_timestamp_seconds; when it lapses the
// ledger responder signs for its issuer again.
//
// Responder rotation. SetResponder (called by the node when it reloads
// --ocsp-cert/--ocsp-key, see internal/certreload) builds the new signer
// completely (algorithm, responderID key hash, certs field) before it
// replaces the old one with one atomic store, so a signing picks the old
// signer or the new one whole. Every cached response records the signer
// that made it (response.by); after the swap, the slots holding a
// response of the old responder, and every slot being signed at that
// moment (its flight may have picked the old one), are emptied with the
// same version bump Refresh uses, so a signing that began before the swap
// is never stored, and they are queued for re-signing. Keying the cache by
// signer instead would have doubled the memory of a rotation and kept the
// old key alive until eviction; dropping by signer costs one sweep of the
// ring per rotation and leaves delegated responses alone. The new
// certificate must carry id-kp-OCSPSigning and come from the issuer of
// the old one (same issuer name and authority key identifier): relying
// parties that trust the responder through its CA (x/crypto's
// ParseResponseForCert with that CA, OpenSSL with the CA marked
// -addtrust OCSPSigning) accept the new one without a change, and a
// certificate from anywhere else is refused before it signs anything.
// Relying parties that pin the responder certificate itself (OpenSSL
// -VAfile) must be given the new one first (docs/rotation.md). New does
// not require the EKU of the first responder (relying parties may trust
// it directly); SetResponder does. The node requires it at start too (it
// loads the responder as internal/certreload.OCSPResponder), so that it
// never runs with a responder it could not rotate to.
//
// Paths net/http refuses. Go's HTTP server answers a request line whose
// target it cannot parse (a bad percent-escape such as /ocsp/%%, a control
// character) and an HTTP/1.1 request without Host with a plain-text 400
// before any handler runs. RepairListener rewrites, on plaintext
// connections, just those bytes of /ocsp request lines (to %25 or %XX, so
// the base64 still fails and the answer is malformedRequest, or an empty
// Host header), following HTTP/1.x framing and passing everything through
// untouched at the first thing it does not follow exactly (chunked bodies,
// CONNECT, folded headers). TLS connections cannot be repaired this way
// (the bytes are encrypted, and wrapping the *tls.Conn would hide the
// client certificate from net/http), so there such requests still get
// Go's 400; OCSP clients use the plain-HTTP URL of the certificates' AIA.
//
// Unknown. A CertID is answered "unknown" when the ledger has no
// certificate with that issuer key hash and serial, when its issuer name
// hash does not match the certificate's issuer, or when its serial is
// negative.
//
// Statuses. good is good; revoked carries the block time of the change and
// the reason (left out when unspecified); suspended is revoked with
// certificateHold and good again once resumed; superseded (renewed) is
// revoked with superseded. A certificate past its NotAfter keeps its
// ledger status: OCSP reports revocation status (RFC 6960 §2.2: "good"
// does not mean the certificate is within its validity interval), and
// checking the validity period is the relying party's own job.
//
// Unsupported hash algorithms. CertIDs are answered for SHA-1 and SHA-256,
// the hashes the ledger indexes. Any other algorithm makes the request
// malformedRequest (metric status "unsupported"), as x/crypto's
// ParseRequest and Boulder do: the responder cannot interpret that CertID,
// and a clear error beats a signed "unknown" that reads like a statement
// about the certificate.
//
// HTTP status of errors. Errors are unsigned OCSPResponses
// (malformedRequest for garbage, bad base64, oversized requests, more than
// 32 CertIDs and unsupported hashes; tryLater when the ledger cannot be
// read; internalError when signing fails) sent with HTTP 200. RFC 6960
// Appendix A and RFC 5019 §5 define only the body and its content type;
// OpenSSL 3's HTTP client and nginx discard the body of a non-200 answer,
// so only 200 lets them report the OCSP error. Methods other than GET,
// HEAD and POST get 405 with Allow and the same malformedRequest body.
//
// Nonces (RFC 8954). A request carrying a nonce of 1 to 32 octets gets a
// freshly signed response echoing the extension value verbatim
// (Cache-Control: no-store), as long as the node's token bucket allows
// (NonceRate signatures a second, a burst of one second's worth); past
// it, or for a nonce of another size, it gets the cached response without
// a nonce, which RFC 8954 §2.1 allows, and
// certchain_ocsp_nonce_budget_exceeded_total counts it. The budget bounds
// what a flood of nonce requests can cost in signatures.
//
// Ignored request parts. requestorName, optionalSignature (signed requests
// are accepted, unsigned ones never refused), per-CertID extensions and
// request extensions other than the nonce.
//
// Signatures. ECDSA with SHA-256 (P-256), SHA-384 (P-384) or SHA-512
// (P-521), sha256WithRSAEncryption, or Ed25519, through crypto.Signer (an
// HSM-backed key works); responderID byKey; producedAt and thisUpdate are
// the signing time in whole seconds.
//
// # Metrics
//
//	certchain_ocsp_requests_total{method,status,cache}
//	    method GET (HEAD counts as GET) | POST | other;
//	    status good | revoked | unknown | malformed | unsupported | error;
//	    cache hit | miss | nonce | none (errors)
//	certchain_ocsp_sign_seconds                  signing latency
//	certchain_ocsp_cache_entries                 responses in memory
//	certchain_ocsp_nonce_budget_exceeded_total   nonces not echoed
//	certchain_ocsp_signer_expiry_timestamp_seconds{role,source,issuer}
//	    notAfter of the ledger responder (role responder) and of the
//	    delegate in use for each issuer (role delegate; source auto,
//	    ledger or config)
package ocsp
