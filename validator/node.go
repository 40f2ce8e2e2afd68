package validator

import (
	"errors"
	"fmt"
	"net"
	"net/url"

	"github.com/certchain/certchain/certchain"
)

// nodeAdd decides a node-add (DESIGN.md "membership"): only an admin
// changes the validator set ("role"); the node ID, its Raft address
// (host:port) and its API URL (https) must be well formed ("node"). The
// same node with the same addresses again is Unchanged, so re-running a
// join is safe; a removed node comes back only by an explicit add.
func (d *decision) nodeAdd() ([]*certchain.Record, error) {
	if _, err := d.admin(); err != nil {
		return nil, err
	}
	t := d.tx
	if err := checkNodeFields(t); err != nil {
		return nil, err
	}
	if err := d.checkNodeOrg(); err != nil {
		return nil, err
	}
	cur, err := d.node()
	if err == nil {
		err = d.seen(nodeVersion(cur), "node "+t.Node)
	}
	if err != nil {
		return nil, err
	}
	if cur != nil && !cur.Removed && cur.Address == t.Address && cur.API == t.API && cur.Replica == t.Replica {
		return nil, &unchangedError{ruleErr(RuleNode, fmt.Sprintf("node %s is already in the cluster with these addresses", t.Node))}
	}
	if cur != nil && cur.Org != t.Org {
		return nil, ruleErr(RuleNode, fmt.Sprintf("node %s is organization %s's, not %s's", t.Node, quoteShort(cur.Org), quoteShort(t.Org)))
	}
	d.nodes = []*certchain.NodeRecord{{ID: t.Node, Address: t.Address, API: t.API, Replica: t.Replica, Height: d.height, By: t.Submitter, Org: t.Org}}
	return nil, nil
}

// checkNodeOrg checks the organisation of a node-add ("node"): in a network
// with organisations it must name one, and a founding validator stays its
// founding organisation's; without organisations it must be empty.
func (d *decision) checkNodeOrg() error {
	t := d.tx
	if !d.g.HasOrgs() {
		if t.Org != "" {
			return ruleErr(RuleNode, "this network has no organizations; node-add names none")
		}
		return nil
	}
	if _, ok := d.g.Org(t.Org); !ok {
		return ruleErr(RuleNode, fmt.Sprintf("organization %s is not in the network (node-add needs the organization that runs the node)", quoteShort(t.Org)))
	}
	if v, ok := d.g.Validator(t.Node); ok && v.Org != t.Org {
		return ruleErr(RuleNode, fmt.Sprintf("node %s is a founding validator of organization %s, not %s", t.Node, quoteShort(v.Org), quoteShort(t.Org)))
	}
	return nil
}

// nodeRemove decides a node-remove: only an admin ("role"). A node the
// ledger never recorded (the one that founded the cluster) can be removed
// too; removing a removed node is Unchanged.
func (d *decision) nodeRemove() ([]*certchain.Record, error) {
	if _, err := d.admin(); err != nil {
		return nil, err
	}
	if !certchain.ValidNodeID(d.tx.Node) {
		return nil, ruleErr(RuleNode, fmt.Sprintf("node ID %s is not valid", quoteShort(d.tx.Node)))
	}
	cur, err := d.node()
	if err == nil {
		err = d.seen(nodeVersion(cur), "node "+d.tx.Node)
	}
	if err != nil {
		return nil, err
	}
	if cur != nil && cur.Removed {
		return nil, &unchangedError{ruleErr(RuleNode, fmt.Sprintf("node %s is already removed", d.tx.Node))}
	}
	rec := &certchain.NodeRecord{ID: d.tx.Node, Removed: true, Height: d.height, By: d.tx.Submitter}
	if cur != nil {
		rec.Address, rec.API, rec.Replica, rec.Org = cur.Address, cur.API, cur.Replica, cur.Org
	} else if v, ok := d.g.Validator(d.tx.Node); ok {
		rec.Address, rec.API, rec.Org = v.RaftAddress, v.API, v.Org
	}
	d.nodes = []*certchain.NodeRecord{rec}
	return nil, nil
}

// admin returns the submitter, who must be an admin ("role"): admins
// govern the validator set and the members.
func (d *decision) admin() (*certchain.Member, error) {
	m, err := d.member()
	if err != nil {
		return nil, err
	}
	if m.Role != certchain.RoleAdmin {
		return nil, ruleErr(RuleRole, fmt.Sprintf("only an admin changes the validator set or the members; %s is %s", m.Name, m.Role))
	}
	return m, nil
}

// nodeVersion is the height of a node record's last change, 0 for none.
func nodeVersion(n *certchain.NodeRecord) uint64 {
	if n == nil {
		return 0
	}
	return n.Height
}

// node returns the ledger's record of the transaction's node, nil if none.
func (d *decision) node() (*certchain.NodeRecord, error) {
	n, err := d.view.Node(d.tx.Node)
	if errors.Is(err, certchain.ErrNotFound) {
		return nil, nil
	}
	return n, err
}

func checkNodeFields(t *certchain.Tx) error {
	if !certchain.ValidNodeID(t.Node) {
		return ruleErr(RuleNode, fmt.Sprintf("node ID %s is not valid (letters, digits, . _ -, at most 64)", quoteShort(t.Node)))
	}
	if _, port, err := net.SplitHostPort(t.Address); err != nil || port == "" {
		return ruleErr(RuleNode, fmt.Sprintf("raft address %s is not host:port", quoteShort(t.Address)))
	}
	if u, err := url.Parse(t.API); err != nil || u.Scheme != "https" || u.Host == "" {
		return ruleErr(RuleNode, fmt.Sprintf("API URL %s is not an https URL", quoteShort(t.API)))
	}
	return nil
}
