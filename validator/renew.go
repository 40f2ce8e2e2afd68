package validator

import (
	"fmt"

	"github.com/certchain/certchain/certchain"
)

// renew decides a renew transaction (DESIGN.md "renew (update)"): Cert
// replaces Target, which becomes superseded.
//
//   - the submitter is a member ("not-member") and either published the
//     old certificate or is an admin ("unauthorized");
//   - the old certificate is on the ledger ("not-found"), good or
//     suspended ("state");
//   - the new certificate differs from the old one and is not on the ledger
//     ("already-published"), and passes Check;
//   - it chains to the same member CA as the old one, or both are
//     self-signed ("ca-mismatch"); a self-signed one names the same
//     identity ("identity-mismatch"), which no other current certificate
//     holds ("duplicate-identity");
//   - the new certificate is inside the submitter's namespace, if it has
//     one ("namespace"), and its key is not revoked ("key-blocked").
func (d *decision) renew() ([]*certchain.Record, error) {
	if d.tx.Submitter == certchain.OwnerSubmitter {
		return d.ownerRenew()
	}
	m, err := d.member()
	if err != nil {
		return nil, err
	}
	old, err := d.target()
	if err == nil {
		err = d.seen(old.StatusHeight, "certificate "+old.ID.String())
	}
	if err != nil {
		return nil, err
	}
	if m.Role != certchain.RoleAdmin && m.Name != old.Submitter {
		return nil, ruleErr(RuleUnauthorized, fmt.Sprintf("only %q (its submitter), an admin or its owner may renew certificate %s", old.Submitter, old.ID))
	}
	c, err := d.successor(old)
	if err == nil {
		err = checkNamespace(m, c.X509)
	}
	if err != nil {
		return nil, err
	}
	return d.supersede(old, c, d.tx.Submitter)
}

// ownerRenew decides a renewal the owner of the old certificate signed
// with its key (an OwnerRequest naming the successor): the new record
// keeps the old one's submitter, whose namespace, if it is a member with
// one, the new certificate must be inside.
func (d *decision) ownerRenew() ([]*certchain.Record, error) {
	old, err := d.target()
	if err != nil {
		return nil, err
	}
	c, err := d.successor(old)
	if err == nil {
		err = d.ownerProof(old)
	}
	if m, ok := d.g.Member(old.Submitter); err == nil && ok {
		err = checkNamespace(m, c.X509)
	}
	if err != nil {
		return nil, err
	}
	return d.supersede(old, c, old.Submitter)
}

// supersede records c as the successor of old, published on behalf of
// submitter.
func (d *decision) supersede(old *certchain.Record, c *Cert, submitter string) ([]*certchain.Record, error) {
	if err := old.Supersede(c.ID, d.at, d.height); err != nil {
		return nil, stateError(d.tx.Type, old.Status)
	}
	rec := c.Record(d.tx, d.txID, d.height, d.at)
	rec.Submitter = submitter
	return []*certchain.Record{rec, old}, nil
}

// successor checks the new certificate of a renewal of old.
func (d *decision) successor(old *certchain.Record) (*Cert, error) {
	id := d.certID()
	if id == old.ID {
		return nil, ruleErr(RuleAlreadyPublished, "the new certificate is the one being renewed")
	}
	if old.Status != certchain.StatusGood && old.Status != certchain.StatusSuspended {
		return nil, stateError(d.tx.Type, old.Status)
	}
	if err := d.notOnLedger(id); err != nil {
		return nil, err
	}
	c, err := d.cert()
	if err == nil {
		err = sameSubject(old, c)
	}
	if err == nil {
		err = d.uniqueIdentity(c, old.ID)
	}
	return c, err
}

// sameSubject checks that c may succeed old: same CA, and for self-signed
// certificates the same identity.
func sameSubject(old *certchain.Record, c *Cert) error {
	switch {
	case c.CA != old.CA:
		return ruleErr(RuleCAMismatch, fmt.Sprintf("the new certificate %s, the old one %s", issuedBy(c.CA), issuedBy(old.CA)))
	case c.SelfSigned && c.Identity != old.Identity:
		return ruleErr(RuleIdentityMismatch, fmt.Sprintf("the new certificate is for %s, the old one for %s", quoteShort(c.Identity), quoteShort(old.Identity)))
	}
	return nil
}

func issuedBy(ca string) string {
	if ca == "" {
		return "is self-signed"
	}
	return fmt.Sprintf("chains to CA member %q", ca)
}
