package certchain

import (
	"fmt"
	"regexp"
	"strings"
)

// Organization is a founding organisation of a network with no central
// key: it runs its own CA, which issues the identity certificates of its
// members and the node certificates of its validators. A node or member
// is trusted because its certificate chains to its own organisation's CA
// as the genesis records it, never because one network CA signed it.
type Organization struct {
	Name string `json:"name"`
	// CACerts are the organisation's CA certificates (PEM).
	CACerts []string `json:"ca_certs"`
}

// Validator is a founding validator node. The founding validators
// bootstrap the Raft cluster together (every one starts with the same
// configuration, read from the genesis); validators added later come by
// node-add transactions.
type Validator struct {
	ID  string `json:"id"`
	Org string `json:"org"`
	// RaftAddress is the host:port other validators dial for Raft.
	RaftAddress string `json:"raft_address"`
	// API is the https base URL other validators forward writes to.
	API string `json:"api"`
}

// NodeURIPrefix starts the URI subject alternative name by which a node
// certificate names its validator ID (urn:certchain:node:ID) in a network
// with organisations: Raft and the API accept a node certificate only for
// the ID it names, and only from the CA of the organisation that ID
// belongs to.
const NodeURIPrefix = "urn:certchain:node:"

// NodeURI returns the URI SAN of node id's certificate.
func NodeURI(id string) string { return NodeURIPrefix + id }

// validNodeID is a Raft server ID that is also safe in file names and URLs.
var validNodeID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// ValidNodeID reports whether id may name a validator node.
func ValidNodeID(id string) bool { return validNodeID.MatchString(id) }

// HasOrgs reports whether g is a network with organisations (made by the
// founding ceremony, `certchain init genesis`); without them (the
// development network) every node certificate chains to one network CA.
func (g *Genesis) HasOrgs() bool { return len(g.Organizations) > 0 }

// Org returns the organisation named name.
func (g *Genesis) Org(name string) (*Organization, bool) {
	for i := range g.Organizations {
		if g.Organizations[i].Name == name {
			return &g.Organizations[i], true
		}
	}
	return nil, false
}

// Validator returns the founding validator id.
func (g *Genesis) Validator(id string) (*Validator, bool) {
	for i := range g.Validators {
		if g.Validators[i].ID == id {
			return &g.Validators[i], true
		}
	}
	return nil, false
}

// validateOrgs checks organisations, founding validators and the members'
// organisations for structure; certificate contents (that member and
// node certificates chain to their organisation's CA, that no two
// organisations share a key) are the validator package's to check.
func (g *Genesis) validateOrgs() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: genesis: %s", ErrInvalid, fmt.Sprintf(format, a...))
	}
	if !g.HasOrgs() {
		if len(g.Validators) > 0 {
			return bad("validators need organizations")
		}
		for _, m := range g.Members {
			if m.Org != "" {
				return bad("member %q names organization %q, but the genesis has none", m.Name, m.Org)
			}
		}
		return nil
	}
	seen := map[string]bool{}
	for i, o := range g.Organizations {
		if err := validName(o.Name); err != nil {
			return bad("organization %d: %v", i, err)
		}
		if seen[o.Name] {
			return bad("organization %q appears twice", o.Name)
		}
		seen[o.Name] = true
		if len(o.CACerts) == 0 {
			return bad("organization %q has no CA certificate", o.Name)
		}
		for _, c := range o.CACerts {
			if _, err := CertPEM(c); err != nil {
				return bad("organization %q: ca_certs: %v", o.Name, err)
			}
		}
	}
	for _, m := range g.Members {
		if !seen[m.Org] {
			return bad("member %q: organization %q is not in the genesis", m.Name, m.Org)
		}
	}
	ids := map[string]bool{}
	for i, v := range g.Validators {
		switch {
		case !ValidNodeID(v.ID):
			return bad("validator %d: ID %q is not valid", i, v.ID)
		case ids[v.ID]:
			return bad("validator %q appears twice", v.ID)
		case !seen[v.Org]:
			return bad("validator %q: organization %q is not in the genesis", v.ID, v.Org)
		case v.RaftAddress == "" || !strings.HasPrefix(v.API, "https://"):
			return bad("validator %q needs a raft_address and an https api URL", v.ID)
		}
		ids[v.ID] = true
	}
	return nil
}

// validName checks a member or organisation name.
func validName(name string) error {
	if name == "" || strings.HasPrefix(name, "@") || strings.ContainsAny(name, "/\x00") || len(name) > 128 {
		return fmt.Errorf("name %q empty, too long, starting with @ (reserved) or holding / or NUL", name)
	}
	return nil
}
