package validator

import (
	"errors"
	"fmt"

	"github.com/certchain/certchain/certchain"
)

// MaxKeyCertificates bounds the certificates one revoke-key transaction
// revokes: they are written in one block, and a key shared by more
// certificates than this is a factory fault an admin handles in parts
// (revoking them one by one, then the key).
const MaxKeyCertificates = 10000

// revokeKey decides a revoke-key transaction (DESIGN.md "revoke a key"):
// Target is the SHA-256 of a SubjectPublicKeyInfo whose private key leaked.
//
//   - the submitter is a member ("not-member"): an admin, or the member
//     that owns every certificate on the ledger with the key (published
//     it, or is the CA it chains to), of which there is at least one
//     ("unauthorized");
//   - the reason is a revocation reason ("reason");
//   - a key already blocked is Unchanged;
//   - at most MaxKeyCertificates certificates carry it ("too-many").
//
// Every certificate with the key that is not revoked yet becomes revoked
// with the reason, and the key is blocked: publish and renew refuse it
// ("key-blocked", see keyNotBlocked).
func (d *decision) revokeKey() ([]*certchain.Record, error) {
	m, err := d.member()
	if err != nil {
		return nil, err
	}
	if !d.tx.Reason.ValidForRevoke() {
		return nil, ruleErr(RuleReason, fmt.Sprintf("%s is not a revocation reason", d.tx.Reason))
	}
	key := d.tx.Target
	if _, err := d.view.BlockedKey(key); err == nil {
		return nil, &unchangedError{ruleErr(RuleKeyBlocked, fmt.Sprintf("key %s is already revoked", key))}
	} else if !errors.Is(err, certchain.ErrNotFound) {
		return nil, fmt.Errorf("validator: view: blocked key %s: %w", key, err)
	}
	ids, err := d.view.CertsByKey(key, MaxKeyCertificates)
	if err != nil {
		return nil, fmt.Errorf("validator: view: certificates of key %s: %w", key, err)
	}
	if len(ids) > MaxKeyCertificates {
		return nil, ruleErr(RuleTooMany, fmt.Sprintf("more than %d certificates carry key %s; revoke some of them first", MaxKeyCertificates, key))
	}
	if m.Role != certchain.RoleAdmin && len(ids) == 0 {
		return nil, ruleErr(RuleUnauthorized, fmt.Sprintf("no certificate on the ledger carries key %s; only an admin may block an unused key", key))
	}
	var out []*certchain.Record
	for _, id := range ids {
		r, err := d.lookup(id)
		if err != nil {
			return nil, err
		}
		if r == nil {
			return nil, fmt.Errorf("validator: view: key index names certificate %s, which is not on the ledger", id)
		}
		if m.Role != certchain.RoleAdmin && m.Name != r.Submitter && m.Name != r.CA {
			return nil, ruleErr(RuleUnauthorized, fmt.Sprintf("certificate %s with this key belongs to %s; only its owners or an admin may revoke the key", r.ID, actors(r)))
		}
		if r.Status == certchain.StatusRevoked {
			continue
		}
		if err := r.Revoke(d.tx.Reason, d.at, d.height); err != nil {
			return nil, stateError(d.tx.Type, r.Status)
		}
		out = append(out, r)
	}
	d.keys = []*certchain.BlockedKey{{KeyHash: key, Reason: d.tx.Reason, By: m.Name, Time: d.at, Height: d.height,
		TxID: d.txID, Revoked: uint64(len(out))}}
	return out, nil
}

// keyNotBlocked refuses a certificate whose public key was revoked.
func (d *decision) keyNotBlocked(key certchain.Hash) error {
	k, err := d.view.BlockedKey(key)
	switch {
	case errors.Is(err, certchain.ErrNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("validator: view: blocked key %s: %w", key, err)
	}
	return ruleErr(RuleKeyBlocked, fmt.Sprintf("the certificate's public key %s was revoked by %q at block %d (%s)", key, k.By, k.Height, k.Reason))
}
