package validator

import (
	"fmt"

	"github.com/certchain/certchain/certchain"
)

// publish decides a publish transaction (DESIGN.md "publish"):
//
//   - the submitter is a member ("not-member") whose role may publish:
//     vendor and admin publish self-signed certificates, ca publishes
//     certificates that chain to its own CA certificates; operator and
//     validator publish nothing ("role");
//   - the same certificate already on the ledger is Unchanged, whatever its
//     status (publishing is idempotent);
//   - the certificate passes Check, and its key is not revoked
//     ("key-blocked");
//   - it is inside the submitter's namespace, if it has one ("namespace");
//   - a self-signed certificate's identity is not held by another current
//     certificate ("duplicate-identity": that one must be renewed). A
//     CA-signed certificate's identity need not be unique, as in any PKI.
func (d *decision) publish() ([]*certchain.Record, error) {
	m, err := d.member()
	if err != nil {
		return nil, err
	}
	if !publishers[m.Role] {
		return nil, ruleErr(RuleRole, fmt.Sprintf("member %q has role %s, which cannot publish certificates", m.Name, m.Role))
	}
	if err := d.notOnLedger(d.certID()); err != nil {
		return nil, asUnchanged(err)
	}
	c, err := d.cert()
	if err == nil {
		err = mayPublish(m, c)
	}
	if err == nil {
		err = checkNamespace(m, c.X509)
	}
	if err == nil {
		err = d.uniqueIdentity(c, certchain.Hash{})
	}
	if err != nil {
		return nil, err
	}
	return []*certchain.Record{c.Record(d.tx, d.txID, d.height, d.at)}, nil
}

var publishers = map[certchain.Role]bool{certchain.RoleVendor: true, certchain.RoleAdmin: true, certchain.RoleCA: true}

// mayPublish checks that m's role may publish this kind of certificate.
func mayPublish(m *certchain.Member, c *Cert) error {
	switch {
	case c.SelfSigned && m.Role == certchain.RoleCA:
		return ruleErr(RuleRole, fmt.Sprintf("member %q has role ca: it publishes certificates its CA signed, not self-signed ones", m.Name))
	case !c.SelfSigned && m.Role != certchain.RoleCA:
		return ruleErr(RuleRole, fmt.Sprintf("member %q has role %s: only the CA member that signed a certificate publishes it", m.Name, m.Role))
	case !c.SelfSigned && c.CA != m.Name:
		return ruleErr(RuleRole, fmt.Sprintf("member %q may publish only certificates of its own CA; this one chains to %q", m.Name, c.CA))
	}
	return nil
}

// notOnLedger returns an "already-published" RuleError if certificate id
// is on the ledger.
func (d *decision) notOnLedger(id certchain.Hash) error {
	r, err := d.lookup(id)
	switch {
	case err != nil:
		return err
	case r != nil:
		return ruleErr(RuleAlreadyPublished, fmt.Sprintf("certificate %s is on the ledger since block %d (status %s)", id, r.Height, r.Status))
	}
	return nil
}

// asUnchanged turns an "already-published" RuleError into an Unchanged
// verdict; other errors pass.
func asUnchanged(err error) error {
	if re, ok := err.(*RuleError); ok {
		return &unchangedError{re}
	}
	return err
}
