// Package pki makes the certificates and keys that the certchain command,
// the development network and the tests all need, so that none of them
// carries its own copy of certificate-making code.
//
// It owns:
//
//   - the network-ID extension (NetworkIDExtension): non-critical, value a
//     DER UTF8String naming the ledger network;
//   - device certificates as a factory line makes them (NewDevice,
//     MakeDevices): the device generates its own key and a self-signed
//     certificate carrying the network-ID extension and the consortium's
//     OCSP URLs;
//   - PEM encoding and loading of certificates and keys.
//
// Key generation and PEM parsing go through cfssl (csr.KeyRequest,
// helpers). Device certificates are the one place that calls
// crypto/x509.CreateCertificate directly: cfssl's selfsign package needs a
// CSR round trip (generate, sign, re-parse and re-verify a CSR for every
// device) and cannot add a custom extension without it, which roughly
// halves the throughput of a bulk run. Infrastructure certificates (CAs,
// node, member identities, OCSP responder) are signed with cfssl in
// package devnet.
//
// pki imports the certchain domain package only for its error kinds and
// the default network-ID OID; it must not import raftstore or any HTTP
// edge. Nothing here reads a clock except where a zero time is documented
// to mean "now".
package pki
