package validator

import (
	"fmt"

	"github.com/certchain/certchain/certchain"
)

// memberSet decides a member-set transaction: an admin ("role") adds a
// member or replaces one (role, identity certificate, CA certificates,
// namespace). The member must pass certchain's member checks and its
// certificates must parse ("member"); its identity certificate must not be
// another member's ("member": a client certificate names one member); an
// admin may not take its own admin role away ("member"). The change
// applies from the next block on.
func (d *decision) memberSet() ([]*certchain.Record, error) {
	admin, err := d.admin()
	if err != nil {
		return nil, err
	}
	m, err := certchain.DecodeMember(d.tx.Member)
	if err == nil {
		err = m.Validate()
	}
	if err == nil {
		err = (&Options{}).addMember(m)
	}
	if err == nil {
		_, err = memberOrgCheck(d.g, m, d.opts.Now)
	}
	if err != nil {
		return nil, ruleErr(RuleMember, err.Error())
	}
	if err := d.memberSeen(m.Name); err != nil {
		return nil, err
	}
	if m.Name == admin.Name && m.Role != certchain.RoleAdmin {
		return nil, ruleErr(RuleMember, "an admin cannot take its own admin role away")
	}
	cert, _ := certchain.CertPEM(m.Cert)
	for _, o := range d.g.Members {
		if other, _ := certchain.CertPEM(o.Cert); o.Name != m.Name && string(other) == string(cert) {
			return nil, ruleErr(RuleMember, fmt.Sprintf("the identity certificate is member %q's", o.Name))
		}
	}
	d.members = []*certchain.MemberRecord{{Member: *m, Height: d.height, By: admin.Name}}
	return nil, nil
}

// memberRemove decides a member-remove: an admin ("role") removes a
// current member ("not-found" otherwise), not itself ("member").
func (d *decision) memberRemove() ([]*certchain.Record, error) {
	admin, err := d.admin()
	if err != nil {
		return nil, err
	}
	m, err := certchain.DecodeMember(d.tx.Member)
	if err != nil {
		return nil, ruleErr(RuleMember, err.Error())
	}
	if err := d.memberSeen(m.Name); err != nil {
		return nil, err
	}
	cur, ok := d.g.Member(m.Name)
	switch {
	case !ok:
		return nil, ruleErr(RuleNotFound, fmt.Sprintf("%s is not a member", quoteShort(m.Name)))
	case cur.Name == admin.Name:
		return nil, ruleErr(RuleMember, "an admin cannot remove itself")
	}
	d.members = []*certchain.MemberRecord{{Member: *cur, Removed: true, Height: d.height, By: admin.Name}}
	return nil, nil
}

// memberSeen is the replay guard of a signed member change: Seen is the
// height of the member's last change (0 for a founder never changed or a
// new name).
func (d *decision) memberSeen(name string) error {
	h, err := d.view.MemberHeight(name)
	if err != nil {
		return fmt.Errorf("validator: view: member %q: %w", name, err)
	}
	return d.seen(h, "member "+quoteShort(name))
}
