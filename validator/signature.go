package validator

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"

	"github.com/certchain/certchain/certchain"
)

// checkSignature is rule "signature": a member's transaction that carries
// a signature (Tx.Sig) must verify with the public key of the submitter's
// identity certificate over Tx.SigningInput; on a network whose policy
// requires signatures, every member transaction must carry one. Owner
// transactions carry the owner's proof instead (see ownerProof). A
// submitter that is not a member is left to the transaction's own rules
// ("not-member").
//
// ECDSA signatures are ASN.1 (as crypto.Signer makes them) over SHA-256
// (P-256) or SHA-384 (P-384); Ed25519 over the input itself; RSA PKCS #1
// v1.5 over SHA-256.
func (d *decision) checkSignature() error {
	if d.tx.Submitter == certchain.OwnerSubmitter {
		return nil
	}
	if len(d.tx.Sig) == 0 {
		if d.g.Policy.RequireSignatures {
			return ruleErr(RuleSignature, "transactions on this network carry their submitter's signature")
		}
		return nil
	}
	if _, ok := d.opts.memberKeys[d.tx.Submitter]; !ok {
		return nil
	}
	verified := d.opts.SignatureVerified != nil && d.opts.SignatureVerified(d.txID)
	if !verified && !VerifyTxSignature(d.tx, d.opts) {
		return ruleErr(RuleSignature, fmt.Sprintf("the signature does not verify with the identity key of member %s", quoteShort(d.tx.Submitter)))
	}
	d.signed = true
	return nil
}

// VerifyTxSignature reports whether tx carries a signature of its
// submitter member that verifies (see rule "signature"); callers verify
// many in parallel ahead of deciding a block (Options.SignatureVerified).
func VerifyTxSignature(tx *certchain.Tx, opts *Options) bool {
	key, ok := opts.memberKeys[tx.Submitter]
	return ok && len(tx.Sig) > 0 && verifySignature(key, tx.SigningInput(opts.NetworkID), tx.Sig)
}

func verifySignature(pub crypto.PublicKey, msg, sig []byte) bool {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			h := sha256.Sum256(msg)
			return ecdsa.VerifyASN1(k, h[:], sig)
		case elliptic.P384():
			h := sha512.Sum384(msg)
			return ecdsa.VerifyASN1(k, h[:], sig)
		}
	case ed25519.PublicKey:
		return ed25519.Verify(k, msg, sig)
	case *rsa.PublicKey:
		h := sha256.Sum256(msg)
		return rsa.VerifyPKCS1v15(k, crypto.SHA256, h[:], sig) == nil
	}
	return false
}

// SignTx signs tx for network with key as its submitter member does (the
// counterpart of rule "signature"), setting tx.Sig. Seen must already be
// set for transactions that use it.
func SignTx(tx *certchain.Tx, network string, key crypto.Signer) error {
	msg := tx.SigningInput(network)
	var digest []byte
	var opts crypto.SignerOpts = crypto.Hash(0)
	switch k := key.Public().(type) {
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P384() {
			h := sha512.Sum384(msg)
			digest, opts = h[:], crypto.SHA384
		} else {
			h := sha256.Sum256(msg)
			digest, opts = h[:], crypto.SHA256
		}
	case ed25519.PublicKey:
		digest = msg
	case *rsa.PublicKey:
		h := sha256.Sum256(msg)
		digest, opts = h[:], crypto.SHA256
	default:
		return errors.New("validator: unsupported member key")
	}
	sig, err := key.Sign(nil, digest, opts)
	if err != nil {
		return fmt.Errorf("validator: sign transaction: %w", err)
	}
	tx.Sig = sig
	return nil
}

// seen is the replay guard of a signed transaction: Seen must be the
// version of what it acts on now ("replay").
func (d *decision) seen(version uint64, what string) error {
	if d.signed && d.tx.Seen != version {
		return ruleErr(RuleReplay, fmt.Sprintf("the transaction was signed when %s was at height %d; it is at %d now (a signed change is good once)", what, d.tx.Seen, version))
	}
	return nil
}
