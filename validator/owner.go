package validator

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"

	"github.com/certchain/certchain/certchain"
)

// MaxOwnerProof bounds an owner's signed request.
const MaxOwnerProof = 8 << 10

// OwnerRequest is what the owner of a certificate signs to revoke, suspend,
// resume or renew it without a member: the payload of a JWS in compact
// serialization (RFC 7515 §7.1) signed with the certificate's own private
// key ("alg" ES256 or ES384 for P-256 and P-384 keys, EdDSA for Ed25519,
// RS256 for RSA; no other header is needed).
//
// StatusHeight is the certificate's status_height as the owner last read
// it (GET /v1/certificates/{id}/status): every status change moves it, so
// a signed request can be used once and a replayed one is refused
// ("replay"). Network names the ledger, so a request signed for one
// consortium cannot be replayed into another.
type OwnerRequest struct {
	Network     string `json:"network"`
	Action      string `json:"action"` // revoke, suspend, resume or renew
	Certificate string `json:"certificate"`
	Reason      string `json:"reason,omitempty"` // revoke only; RFC 5280 name
	// New is, for renew, the ID (hex SHA-256 of the DER) of the
	// certificate that succeeds Certificate.
	New          string `json:"new,omitempty"`
	StatusHeight uint64 `json:"status_height"`
}

// ParseOwnerProof splits a compact JWS, checks its form and returns the
// request it carries, without verifying the signature (that needs the
// certificate: see the owner rule). Errors are "owner-proof" RuleErrors.
func ParseOwnerProof(proof []byte) (*OwnerRequest, error) {
	p, err := parseOwnerJWS(proof)
	if err != nil {
		return nil, err
	}
	return p.req, nil
}

// ownerJWS is a parsed owner proof.
type ownerJWS struct {
	alg       string
	signed    []byte // ASCII header "." payload, what the signature covers
	signature []byte
	req       *OwnerRequest
}

func proofErr(format string, a ...any) *RuleError {
	return ruleErr(RuleOwnerProof, fmt.Sprintf(format, a...))
}

func parseOwnerJWS(proof []byte) (*ownerJWS, error) {
	if len(proof) > MaxOwnerProof {
		return nil, proofErr("signed request of %d bytes (at most %d)", len(proof), MaxOwnerProof)
	}
	parts := strings.Split(string(proof), ".")
	if len(parts) != 3 {
		return nil, proofErr("not a JWS in compact serialization")
	}
	var raw [3][]byte
	for i, s := range parts {
		b, err := base64.RawURLEncoding.Strict().DecodeString(s)
		if err != nil {
			return nil, proofErr("JWS part %d is not base64url", i+1)
		}
		raw[i] = b
	}
	var hdr map[string]json.RawMessage
	if err := certchain.DecodeStrict(raw[0], &hdr); err != nil {
		return nil, proofErr("JWS header: %v", err)
	}
	var alg string
	if err := json.Unmarshal(hdr["alg"], &alg); err != nil || alg == "" {
		return nil, proofErr(`JWS header has no "alg"`)
	}
	for name := range hdr {
		if name == "crit" || name == "b64" || name == "zip" {
			return nil, proofErr("JWS header %q is not supported", name)
		}
	}
	var req OwnerRequest
	if err := certchain.DecodeStrict(raw[1], &req); err != nil {
		return nil, proofErr("request: %v", err)
	}
	return &ownerJWS{alg: alg, signed: []byte(parts[0] + "." + parts[1]), signature: raw[2], req: &req}, nil
}

// verify checks the signature with pub, the key of the certificate.
func (j *ownerJWS) verify(pub crypto.PublicKey) error {
	ok := false
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		var digest []byte
		switch {
		case j.alg == "ES256" && k.Curve == elliptic.P256():
			d := sha256.Sum256(j.signed)
			digest = d[:]
		case j.alg == "ES384" && k.Curve == elliptic.P384():
			d := sha512.Sum384(j.signed)
			digest = d[:]
		default:
			return proofErr("alg %s does not fit the certificate's ECDSA %s key", quoteShort(j.alg), k.Curve.Params().Name)
		}
		n := (k.Curve.Params().BitSize + 7) / 8
		if len(j.signature) == 2*n {
			r, s := new(big.Int).SetBytes(j.signature[:n]), new(big.Int).SetBytes(j.signature[n:])
			ok = ecdsa.Verify(k, digest, r, s)
		}
	case ed25519.PublicKey:
		if j.alg != "EdDSA" {
			return proofErr("alg %s does not fit the certificate's Ed25519 key", quoteShort(j.alg))
		}
		ok = ed25519.Verify(k, j.signed, j.signature)
	case *rsa.PublicKey:
		if j.alg != "RS256" {
			return proofErr("alg %s does not fit the certificate's RSA key", quoteShort(j.alg))
		}
		d := sha256.Sum256(j.signed)
		ok = rsa.VerifyPKCS1v15(k, crypto.SHA256, d[:], j.signature) == nil
	default:
		return proofErr("the certificate's key cannot sign requests")
	}
	if !ok {
		return proofErr("the signature does not verify with the certificate's key")
	}
	return nil
}

// ownerProof decides whether the transaction's Proof, signed by the key of
// certificate r, authorizes exactly this transaction on r now: rule
// "owner-proof" for a bad or mismatched request, "replay" for one whose
// status height is not r's (already used, or made before a later change).
func (d *decision) ownerProof(r *certchain.Record) error {
	j, err := parseOwnerJWS(d.tx.Proof)
	if err != nil {
		return err
	}
	c, err := ParseDER(r.DER)
	if err != nil {
		return proofErr("certificate %s cannot be read", r.ID)
	}
	if err := j.verify(c.PublicKey); err != nil {
		return err
	}
	q := j.req
	wantReason, wantNew := "", ""
	switch d.tx.Type {
	case certchain.TxRevoke:
		wantReason = d.tx.Reason.String()
	case certchain.TxRenew:
		wantNew = d.certID().String()
	}
	switch {
	case q.Network != d.g.NetworkID:
		return proofErr("the request is for network %s, not %s", quoteShort(q.Network), quoteShort(d.g.NetworkID))
	case q.Action != d.tx.Type.String():
		return proofErr("the request asks to %s, the transaction is a %s", quoteShort(q.Action), d.tx.Type)
	case q.Certificate != r.ID.String():
		return proofErr("the request names certificate %s, the transaction %s", quoteShort(q.Certificate), r.ID)
	case q.Reason != wantReason && !(wantReason == certchain.ReasonUnspecified.String() && q.Reason == ""):
		return proofErr("the request gives reason %s, the transaction %s", quoteShort(q.Reason), d.tx.Reason)
	case q.New != wantNew:
		return proofErr("the request names successor %s, the transaction %s", quoteShort(q.New), quoteShort(wantNew))
	case q.StatusHeight != r.StatusHeight:
		return ruleErr(RuleReplay, fmt.Sprintf("the request was made at status height %d; certificate %s changed at height %d since (a request is good once)", q.StatusHeight, r.ID, r.StatusHeight))
	}
	return nil
}
