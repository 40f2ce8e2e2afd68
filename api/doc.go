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
// # Publishing
//
// A PEM body may mix certificates to publish with the CA certificates that
// chain them: certificates with basicConstraints CA=true are taken as
// intermediates (a CA certificate is never published as a device), the
// others are published, each as its own transaction, with one result each.
// A request is answered when every accepted transaction is committed and
// applied; the answer carries the block height, which a reader passes as
// min_height to see its own write on any node.
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
// reachable, whatever Raft's configuration says.
package api
