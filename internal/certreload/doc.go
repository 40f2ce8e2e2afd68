// Package certreload holds a node's certificate and key pairs (its TLS
// certificate, its OCSP responder) so that they can be replaced while the
// node runs: on SIGHUP, and when the files change.
//
// It owns: reading and checking a pair (Load, Pair.Reload), the swap, the
// tls.Config callbacks that hand the current pair to each new handshake,
// the triggers (Reloader.Run: a signal channel and a file poll), and the
// reload logs and metrics. It imports the standard library and the
// Prometheus client only; raftstore, ocsp and api never import it: they
// take a callback (raftstore.RaftTLS.GetCertificate, tls.Config) or a
// setter (ocsp.Responder.SetResponder), which the node wires.
//
// # Why a swap and not a restart
//
// A restart drops every connection: Raft replication, members' HTTPS
// keep-alive connections, relying parties waiting for OCSP. TLS checks
// certificates at the handshake only, so a connection set up with the old
// certificate stays valid after the swap, and the callbacks
// (GetCertificate, GetClientCertificate, Certificate) make every later
// handshake, server side and client side, use the new one. Nothing is
// closed.
//
// # Invariants
//
//   - A pair is one immutable value (*Cert) behind an atomic pointer: a
//     handshake or a signature uses the old pair or the new one, never the
//     certificate of one with the key of the other.
//   - A candidate becomes current only after every check passed: the
//     files parse, the key is the certificate's, the certificate is valid
//     now (not expired, not before its notBefore), it allows the Kind's
//     extended key usages, its URI SANs (the node identity,
//     urn:certchain:node:ID) are those of the current one, and the hook
//     (Pair.OnReload: the checks peers apply, or the OCSP responder's
//     own) accepts it. Otherwise the current pair stays, the reason is
//     logged at error level and counted.
//   - Reloading identical files changes nothing (result "unchanged").
//
// # Triggers
//
// SIGHUP reloads every pair at once (the operator says "now"; a refused
// pair is reported at once). The poll looks at the files every
// PollInterval: when a file's size, modification time or identity (a
// symlink retargeted, as Kubernetes updates a mounted Secret) changed, it
// waits until they stayed the same for a whole interval, then compares
// the content's SHA-256 with the loaded pair's and reloads if it differs.
// Waiting for the files to settle means that an operator who copies the
// certificate and then the key is not told, between the two copies, that
// the key does not match.
//
// Polling rather than inotify (fsnotify): fsnotify is not a dependency of
// this module, and a watch is the wrong tool here anyway. Editors and
// configuration tools replace files by renaming over them, which ends a
// watch on the file; Kubernetes and Vault agents swap a symlink in the
// parent directory; network and FUSE file systems send no events. A stat
// of two files every few seconds costs nothing and sees all of these.
//
// # Metrics
//
//	certchain_cert_reload_total{what,result}
//	    what node-tls | ocsp-responder; result ok | unchanged | error
//	certchain_cert_not_after_timestamp_seconds{what}
//	    notAfter of the pair in use
package certreload
