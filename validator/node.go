package validator

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"

	"github.com/certchain/certchain/certchain"
)

// validNodeID: a Raft server ID that is also safe in file names and URLs.
var validNodeID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

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
	d.nodes = []*certchain.NodeRecord{{ID: t.Node, Address: t.Address, API: t.API, Replica: t.Replica, Height: d.height, By: t.Submitter}}
	return nil, nil
}

// nodeRemove decides a node-remove: only an admin ("role"). A node the
// ledger never recorded (the one that founded the cluster) can be removed
// too; removing a removed node is Unchanged.
func (d *decision) nodeRemove() ([]*certchain.Record, error) {
	if _, err := d.admin(); err != nil {
		return nil, err
	}
	if !validNodeID.MatchString(d.tx.Node) {
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
		rec.Address, rec.API, rec.Replica = cur.Address, cur.API, cur.Replica
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
	if !validNodeID.MatchString(t.Node) {
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
