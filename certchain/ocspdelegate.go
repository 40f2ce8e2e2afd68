package certchain

import (
	"encoding/json"
	"fmt"
	"time"
)

// OCSPDelegate is a delegated OCSP signer certificate (RFC 6960
// §4.2.2.2) that a CA member registered on the ledger for a validator
// node: issued directly by one of the member's CA certificates to a key
// that node holds, so that the node's OCSP answers about that CA's
// certificates verify for relying parties trusting only the CA. Every node
// stores every registration; the node whose key the certificate carries
// signs with it.
type OCSPDelegate struct {
	Member string `json:"member"` // the CA member that registered it
	Cert   []byte `json:"cert"`   // DER of the delegate certificate
	Issuer []byte `json:"issuer"` // DER of the member CA certificate that issued it
	// KeyHash is the SHA-256 of the delegate's SubjectPublicKeyInfo (the
	// node's delegate key); IssuerHash the SHA-256 of the issuer's.
	KeyHash    Hash      `json:"key_hash"`
	IssuerHash Hash      `json:"issuer_hash"`
	NotAfter   time.Time `json:"not_after"`
	Height     uint64    `json:"height"` // block of the registration
}

// Encode returns the stored form of d (JSON: registrations are few).
func (d *OCSPDelegate) Encode() []byte {
	b, err := json.Marshal(d)
	if err != nil {
		panic(fmt.Sprintf("certchain: OCSP delegate cannot be encoded: %v", err)) // plain types only
	}
	return b
}

// DecodeOCSPDelegate parses what Encode wrote.
func DecodeOCSPDelegate(b []byte) (*OCSPDelegate, error) {
	var d OCSPDelegate
	if err := DecodeStrict(b, &d); err != nil {
		return nil, fmt.Errorf("%w: OCSP delegate: %v", ErrInvalid, err)
	}
	return &d, nil
}
