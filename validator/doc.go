// Package validator holds the rules a certificate and a transaction must
// pass to enter the ledger.
//
// # What it owns
//
//   - Intake parsing: ParseDER (one DER certificate, bounded, strict) and
//     ParsePEM (a PEM bundle, nothing but CERTIFICATE blocks).
//   - The stateless certificate rules, run by Check, one per file with its
//     RFC citation: der.go, key_algorithm.go, signature_algorithm.go,
//     validity.go, critical_extension.go, network_id.go, ca_cert.go,
//     identity.go, self_signature.go, chain.go.
//   - The stateful decision for each transaction type, Decide:
//     publish.go, renew.go, status.go (revoke, suspend, resume),
//     ocsp_delegate.go (a CA member's delegated OCSP signer for a node).
//
// Every refusal is a *RuleError naming its rule by a stable slug (the
// Rule* constants); errors.Is maps it to certchain.ErrInvalid,
// ErrUnauthorized, ErrConflict or ErrNotFound.
//
// It is called twice for every transaction: at the API edge with
// Options.Now = the request time, to refuse bad input before it reaches
// Raft; and on every node while applying a block with Options.Now = the
// block's timestamp, where the verdict becomes part of the block.
//
// # What it must not import or do
//
// It imports the certchain package and the standard library only: no
// storage, no network, no logging, no metrics, no file I/O. It never reads
// a clock (no time.Now): time comes from Options.Now. Ledger state arrives
// through the two-method View.
//
// # Invariants
//
//   - Determinism: Check and Decide depend only on their arguments and the
//     View, so every node reaches the same verdict. Verdict reasons are
//     worded by this package only (RuleError.Reason); crypto/x509's error
//     text, which may change between Go versions, is kept in
//     RuleError.Cause and never enters a verdict.
//   - Decide never modifies a record the View returned; changed records are
//     copies, returned in the Effect.
//   - Check is pure and safe for concurrent use; a self-signed certificate
//     costs one parse and one signature verification (bulk publish runs it
//     on all cores before the block is applied and hands the result to
//     Decide as pre).
//   - A View failure is not a verdict: DecideErr returns it and Decide
//     panics, so a node with broken storage stops instead of recording a
//     block its peers disagree with.
//
// # Design choices
//
// Identity. A self-signed certificate has no CA to vouch for its name, so
// the ledger does: an identity (first URI SAN, else the subject DN) has at
// most one current (good or suspended) self-signed certificate. A second
// certificate for it is refused as "duplicate-identity" and must come as a
// renewal of the first, which only its submitter or an admin may do; so
// publishing a certificate cannot take a device's name from its owner.
// CA-signed identities are not unique: the CA vouches for names, and a host
// often holds several certificates at once.
//
// Self-issued means self-signed. A certificate whose issuer and subject
// names are equal is checked as self-signed, never through a chain: RFC
// 5280's other self-issued certificates are CA rollover certificates,
// which cannot be published anyway, and it keeps a self-signed check at one
// signature verification.
//
// CA certificates are not publishable. Devices are end entities; a CA
// certificate on the ledger would let its key mint certificates that never
// went through the ledger, and member CAs are trust anchors decided by the
// consortium in the genesis, not by a publish transaction.
//
// P-521 is refused. ECDSA is limited to P-256 and P-384, the curves every
// relying party supports (Mozilla root policy; major TLS stacks dropped
// P-521): a certificate on the ledger must be usable by all of them.
//
// Size bound. MaxCertSize (16 KiB) is eight times a large real certificate
// and keeps a full block of certificates under 32 MiB; MaxChain bounds the
// intermediates. Both bound what one transaction costs every node.
//
// Clock skew for chains. A CA-signed leaf whose NotBefore lies within
// Policy.ClockSkew ahead is verified by crypto/x509 at its NotBefore, so
// the skew the validity rule allows is not refused again by the chain
// check.
package validator
