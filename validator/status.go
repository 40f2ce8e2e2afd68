package validator

import (
	"fmt"

	"github.com/certchain/certchain/certchain"
)

// changeStatus decides revoke, suspend and resume (DESIGN.md "revoke",
// "suspend / resume"; RFC 5280 §5.3.1 for reasons):
//
//   - a transaction of the certificate's owner (Submitter
//     certchain.OwnerSubmitter) carries a request signed with the
//     certificate's own key ("owner-proof", "replay": see OwnerRequest);
//     otherwise:
//   - the submitter is a member ("not-member"): the record's submitter,
//     the CA member it chains to, or an admin ("unauthorized"); for
//     suspend and resume also an operator whose namespace holds the
//     certificate ("namespace");
//   - the target is on the ledger ("not-found");
//   - revoke takes a revocation reason: not certificateHold (that is
//     suspend) nor removeFromCRL (that is resume) ("reason");
//   - the transition is allowed by certchain.Record ("state"): good ->
//     suspended -> good; good, suspended or superseded -> revoked, which
//     is terminal.
func (d *decision) changeStatus() ([]*certchain.Record, error) {
	if d.tx.Submitter == certchain.OwnerSubmitter {
		r, err := d.target()
		if err == nil {
			err = d.ownerProof(r)
		}
		if err == nil {
			err = d.transition(r)
		}
		if err != nil {
			return nil, err
		}
		return []*certchain.Record{r}, nil
	}
	m, err := d.member()
	if err != nil {
		return nil, err
	}
	r, err := d.target()
	if err == nil {
		err = d.seen(r.StatusHeight, "certificate "+r.ID.String())
	}
	if err != nil {
		return nil, err
	}
	if err := d.mayChangeStatus(m, r); err != nil {
		return nil, err
	}
	if err := d.transition(r); err != nil {
		return nil, err
	}
	return []*certchain.Record{r}, nil
}

// mayChangeStatus: the record's submitter, its CA and admins may revoke,
// suspend and resume; an operator may suspend and resume certificates
// inside its namespace (the devices of its network), and revoke nothing.
func (d *decision) mayChangeStatus(m *certchain.Member, r *certchain.Record) error {
	if m.Role == certchain.RoleAdmin || m.Name == r.Submitter || m.Name == r.CA {
		return nil
	}
	if m.Role == certchain.RoleOperator && d.tx.Type != certchain.TxRevoke && !m.Namespace.Empty() {
		return recordInNamespace(m, r)
	}
	return ruleErr(RuleUnauthorized, fmt.Sprintf("only %s or an admin may %s certificate %s", actors(r), d.tx.Type, r.ID))
}

// transition applies the transaction's status change to r (a copy).
func (d *decision) transition(r *certchain.Record) error {
	from := r.Status
	var err error
	switch d.tx.Type {
	case certchain.TxRevoke:
		if !d.tx.Reason.ValidForRevoke() {
			return ruleErr(RuleReason, fmt.Sprintf("%s is not a revocation reason (suspend and resume are their own transactions)", d.tx.Reason))
		}
		err = r.Revoke(d.tx.Reason, d.at, d.height)
	case certchain.TxSuspend:
		err = r.Suspend(d.at, d.height)
	default:
		err = r.Resume(d.at, d.height)
	}
	if err != nil {
		return stateError(d.tx.Type, from)
	}
	return nil
}

// stateError words a refused transition in this package's own terms
// (certchain's error text is not part of verdicts).
func stateError(t certchain.TxType, from certchain.Status) *RuleError {
	return ruleErr(RuleState, fmt.Sprintf("cannot %s a %s certificate", t, from))
}

func actors(r *certchain.Record) string {
	if r.CA != "" && r.CA != r.Submitter {
		return fmt.Sprintf("%q (its submitter), %q (its CA)", r.Submitter, r.CA)
	}
	return fmt.Sprintf("%q (its submitter)", r.Submitter)
}
