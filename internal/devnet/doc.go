// Package devnet creates and loads the development network a node makes
// on its first start: an infrastructure CA, the node's TLS certificate,
// four founding members (admin, vendor, ca, operator) with identity
// certificates, the "ca" member's own issuing CA, an OCSP responder
// certificate, and the genesis document naming them.
//
// All certificates are made with cfssl (initca for the two CAs, the local
// signer with one profile per use for the rest); nothing here builds a
// certificate by hand.
//
// On-disk layout of a network directory (directories 0700, keys 0600):
//
//	genesis.json            certchain.Genesis, indented JSON
//	devnet.json             options that are not in the genesis (hosts, OCSP URLs)
//	ca.pem, ca-key.pem      network infrastructure CA (ECDSA P-256)
//	node.pem, node-key.pem  node TLS certificate: server and client auth
//	ocsp.pem, ocsp-key.pem  OCSP responder: OCSPSigning EKU, id-pkix-ocsp-nocheck
//	members/<name>.pem, members/<name>-key.pem   member identities (client auth)
//	member-ca/ca.pem, member-ca/ca-key.pem       the "ca" member's issuing CA
//
// Invariants: a directory either holds a complete network or does not
// exist (Create builds it in a temporary directory beside it and renames
// it into place); Load refuses a directory whose files disagree with its
// genesis; Ensure never regenerates an existing network.
//
// The development network is for development and tests only: its keys
// sit unencrypted beside each other and its certificates are long-lived.
// devnet may import certchain and internal/pki, never raftstore or an HTTP
// edge.
package devnet
