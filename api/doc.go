// Package api is the REST edge of a validator node: JSON under /v1, RFC 9457
// problem documents for every error, /healthz, /readyz and /metrics.
//
// Handlers are thin: decode a bounded body, call the ledger through the
// narrow interfaces declared here (Writer, Reader), encode. Errors become
// HTTP statuses in one table (problem.go).
//
// # Identity
//
// Reads need no client certificate and are served on the plain-HTTP
// listener too: relying parties check status before they have any TLS
// trust. Writes require the exact identity certificate of a member (as the
// genesis lists it) presented over mutual TLS; the TLS handshake proves
// possession of its key. Pinning the certificate rather than trusting an
// issuing CA keeps membership a ledger fact: no CA outside the ledger can
// mint a member.
//
// # Publishing: every certificate handed in is accounted for
//
// A publish request either fails as a whole (a problem document: bad JSON,
// text between PEM blocks, too many certificates; nothing changed), or
// answers every certificate of its input exactly once, in input order:
// every PEM block, every entry of "certificates", the one DER body, every
// line of an NDJSON stream. So published + rejected + retry + chain is the
// number of certificates sent, and a client can tell what became of each
// one. A malformed entry (bad base64, another block type, a block not
// ended before the next BEGIN line, bad DER, a bad JSON line) is rejected
// alone with rule "der"; every rejection is worded "rule: detail" with the
// validator's rule slugs, as the ledger words verdicts.
//
// Why results instead of silence: a PEM bundle used to take every CA
// certificate as chain, so a self-signed certificate with CA:TRUE (what
// `openssl req -x509` makes by default) got no result at all, and a
// bundle of only such certificates panicked the handler. Now a CA
// certificate is chain only when it issued another certificate of the
// input (validator.ChainOf: issuer name and key identifiers, the signature
// is checked by rule "chain" for what is published); it is answered with
// state "chain". Any other CA certificate is a certificate handed in, and
// rule "ca-cert" rejects it. A stream cannot see its future, so there a CA
// certificate is chain when the block right after it is a certificate it
// issued; the chain certificates in a row chain the certificates after
// them, up to the next chain. A bundle's chain is attached to the
// certificates that are not self-signed only (rule "chain" refuses a
// self-signed certificate with a chain), so one bundle may mix factory
// devices and CA-signed certificates; api/client signs the same
// transactions (chainFor).
//
// A request is answered when every accepted transaction is committed and
// applied; the answer carries the block height, which a reader passes as
// min_height to see its own write on any node. When none of its
// certificates could be processed (busy, no leader) the answer is that
// 503 problem, with Retry-After, carrying the results of all of them.
//
// # Panics
//
// A panic in any handler (the REST routes, the OCSP and ACME mounts, a
// publish stream's goroutines) is logged at error level with its stack,
// counted in certchain_http_panics_total{route} and answered in the
// handler's protocol: a 500 problem document (an ACME serverInternal
// problem under /acme, an OCSP internalError under /ocsp). A stream that
// already answered 200 ends with an error line, which api/client returns
// as *client.Error; a half-written JSON answer is cut, the only honest end.
// net/http's own recovery cut the connection with an empty reply and
// logged at the node's debug level: the panic went unseen.
//
// # Forwarding: honest answers about what was applied
//
// A follower forwards writes to the leader's /v1/internal/submit. Each
// ForwardResult carries a verdict or an error with its kind (the problem
// slug), never both: the follower turns the kind back into the error
// (not-leader, busy, invalid, unauthorized, …), so the client gets the
// leader's real answer, not outcome-unknown. A forward that provably never
// reached the leader — it got no connection (refused, no such host, TLS
// handshake failed) or its last attempt failed dialling (net/http resends
// on a new connection only what it wrote nothing of) — is
// raftstore.ErrNotApplied, which also matches certchain.ErrNotLeader:
// 503 not-applied with Retry-After, safe to send again. Only a request
// that may have reached the leader and lost its answer is
// outcome-unknown. A publish stream resends, with backoff for up to
// Limits.Write, what was certainly not applied (busy, not-leader,
// not-applied).
//
// # HTTP edges
//
// A body whose Content-Length is over its limit is answered 413 before a
// byte of it is read: net/http sends "100 Continue" only on the first read
// of the body, so a client that waits for it (curl does above 1 MiB) gets
// the 413 and never sends the body, and the connection closes without a
// reset. A chunked body is read up to the limit, then answered 413;
// http.MaxBytesReader makes net/http close the connection cleanly (FIN,
// then a pause before closing) so the client reads the answer. A publish
// stream reads its first entry before it answers 200: that read sends
// "100 Continue" at once, and a stream broken at its first entry (text
// that is not PEM, a line over 128 KiB outside a PEM block) gets a problem
// document instead of an empty 200. An NDJSON line over 128 KiB, or a PEM
// block, is an entry rejected with rule "der"; the stream goes on.
//
// # Memory
//
// A node runs under a 1 GiB GOMEMLIMIT (soft) by default. The API's share
// is bounded by construction, whatever clients send:
//
//   - request bodies in memory: at most Limits.BodyMemory (64 MiB) for all
//     requests together. Each reserves its Content-Length (a chunked body:
//     its limit) before a byte is read, or is answered 429 with
//     Retry-After; it is read once into a buffer of that size (io.ReadAll
//     allocated about twice a body in doubling copies), and must arrive
//     within Limits.BodyTime (1 minute; else 408), so a stalled client
//     cannot keep its share. A decoded publish
//     body adds about as much again (DER, parsed certificates) while it is
//     checked. Before this budget, 16 publish requests of 32 MiB each
//     (Limits.Publishes × Limits.PublishBody) could hold over 512 MiB
//     plus copies: a node was left at 870 MiB resident by rejected
//     bodies.
//   - publish streams: at most Limits.Publishes (16) at once, each holding
//     at most StreamInflight + 2 chunks (4 + 2) of StreamChunk entries
//     (1,000) or StreamChunkBytes of DER (1 MiB), plus 32 entries decoded
//     ahead (each at most a 128 KiB line): under 10 MiB a stream, so
//     under 160 MiB for 16 even with entries of the largest size;
//     typical certificates (0.5 to 1 KiB) take a few MiB a stream.
//   - every other request: its body (64 KiB at most) within the same
//     BodyMemory budget.
//
// So the API holds at most about 64 + 64 + 160 ≈ 290 MiB; the rest of the
// budget belongs to Badger (memtables and caches of the ledger and the
// Raft log, see raftstore), the pending queue (MaxPending) and the OCSP
// cache. TestHostileBodiesStayInBudget holds bodies in the node at the
// worst moment and measures the live heap.
//
// # Cluster status
//
// GET /v1/cluster lists Raft's configuration as the asked node sees it and,
// for each server, whether it is reachable, when it last answered and its
// applied height. The asked node learns these by asking each other node's
// API (GET /v1/cluster/self, over the node's mutual-TLS client, one second
// at most, all at once) and remembers the last answer; it also asks every
// two seconds in the background (Peers.Watch), so last contact stays
// current. hashicorp/raft keeps per-follower contact times only on the
// leader and does not export them, knows nothing of a follower's applied
// height, and cannot tell whether a node's API (what clients and
// forwarding followers use) answers; a probe of the API answers all
// three, from any node. A node that does not answer is never shown as
// reachable, whatever Raft's configuration says.//
// # OpenAPI
//
// openapi.json, embedded and served at GET /v1/openapi.json (on both
// listeners, like every read), is the OpenAPI 3.1 description of every
// route of the router: request and response schemas (the problem document
// of RFC 9457, the JSON views of this package), the mutual-TLS security
// of writes (member certificates; node certificates for /v1/internal),
// Retry-After on 429 and 503. It is written by hand, beside the handlers,
// and kept honest by tests rather than generated: TestOpenAPIRoutes walks
// the chi router and fails on a route the document lacks or a documented
// path the router does not serve; TestOpenAPISchemas compares the
// schemas' properties and required lists with the JSON fields of the Go
// types they describe; TestOpenAPIConformance sends real requests to a
// real node and validates requests and answers against the document with
// kin-openapi.
//
// The protocols the node also speaks are described by their RFCs, not
// re-described here: the OCSP responder (/ocsp, mounted ahead of the
// router; RFC 6960 with the RFC 5019 profile) is listed with its two
// request forms and binary media types, the ACME server (/acme; RFC 8555)
// with its directory only, because ACME clients must take every other URL
// from the directory (RFC 8555 section 7.1.1) and speak JWS to it. Both
// are tagged "protocols" and point at their RFC (externalDocs). The node
// serves nothing under /.well-known: an http-01 challenge is served by the
// ACME client, the node only fetches it.
package api
