package validator

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/certchain/certchain/certchain"
)

// View is the read side of ledger state that Decide needs. The apply step
// implements it over a Badger transaction that sees the writes of earlier
// transactions of the same block. Errors other than certchain.ErrNotFound
// are storage failures, not verdicts (see DecideErr).
type View interface {
	// Record returns the record of certificate id, or certchain.ErrNotFound.
	Record(id certchain.Hash) (*certchain.Record, error)
	// CurrentByIdentity returns the self-signed record currently holding
	// identity (good or suspended), if any.
	CurrentByIdentity(identity string) (certchain.Hash, bool, error)
	// Node returns the ledger's record of validator node id, or
	// certchain.ErrNotFound.
	Node(id string) (*certchain.NodeRecord, error)
	// BlockedKey returns the record of a revoked public key (by SPKI
	// SHA-256), or certchain.ErrNotFound.
	BlockedKey(keyHash certchain.Hash) (*certchain.BlockedKey, error)
	// CertsByKey returns the IDs of the certificates on the ledger that
	// carry the public key, at most limit of them (limit+1 tells the
	// caller there are more).
	CertsByKey(keyHash certchain.Hash, limit int) ([]certchain.Hash, error)
	// MemberHeight returns the height of the last ledger change to member
	// name, 0 if there was none.
	MemberHeight(name string) (uint64, error)
	// OCSPDelegate returns the delegated OCSP signer registered for the
	// key with SPKI SHA-256 keyHash by the CA whose SPKI SHA-256 is
	// issuerHash, or certchain.ErrNotFound.
	OCSPDelegate(keyHash, issuerHash certchain.Hash) (*certchain.OCSPDelegate, error)
}

// Effect is what an accepted transaction changes: the records to store,
// new or modified, as full values (a renewal stores the new record first,
// then the superseded one), and the node records.
type Effect struct {
	Records []*certchain.Record
	Nodes   []*certchain.NodeRecord
	Keys    []*certchain.BlockedKey
	Members []*certchain.MemberRecord
	// Delegates are the delegated OCSP signers an ocsp-delegate registers.
	Delegates []*certchain.OCSPDelegate
}

// Decide verifies tx against state and returns its effect and verdict; see
// DecideErr. A storage failure of view, or invalid opts, cannot be turned
// into a verdict every node would agree on, so Decide panics on it: the
// node must stop rather than record a different block than its peers
// (as a Raft FSM does on an entry it cannot apply).
func Decide(tx *certchain.Tx, txID certchain.Hash, pre *Cert, opts *Options, g *certchain.Genesis, view View, height uint64) (Effect, certchain.Verdict) {
	eff, v, err := DecideErr(tx, txID, pre, opts, g, view, height)
	if err != nil {
		panic(fmt.Sprintf("validator: cannot decide transaction %s: %v", txID, err))
	}
	return eff, v
}

// DecideErr verifies tx against state and returns its effect and verdict.
//
// pre is the result of Check for tx.Cert and tx.Chain with the same opts
// but perhaps another Now, if the caller already ran it (in parallel before
// applying the block, or at the edge before proposing it); Decide uses it
// when its ValidAt(opts), else (or when nil, or made for other bytes) it
// runs Check itself. g is the
// genesis (its member set), height the block being built and opts.Now its
// time. The verdict is deterministic: the same inputs and state give the
// same verdict and effect on every node. Records returned by view are
// never modified; changed ones are copies.
//
// The error is non-nil only when no verdict can be given: view failed
// (other than certchain.ErrNotFound) or opts are invalid.
func DecideErr(tx *certchain.Tx, txID certchain.Hash, pre *Cert, opts *Options, g *certchain.Genesis, view View, height uint64) (Effect, certchain.Verdict, error) {
	if err := opts.validate(); err != nil {
		return Effect{}, certchain.Verdict{}, err
	}
	d := &decision{tx: tx, txID: txID, pre: pre, opts: opts, g: g, view: view, height: height, at: opts.Now}
	handle, ok := handlers[tx.Type]
	if !ok {
		return verdict(nil, ruleErr(RuleTxType, fmt.Sprintf("unknown transaction type %s", tx.Type)))
	}
	if len(tx.Proof) > 0 && (tx.Submitter != certchain.OwnerSubmitter || !ownerActions[tx.Type]) {
		return verdict(nil, ruleErr(RuleOwnerProof, fmt.Sprintf("only an owner's %s transaction carries an owner proof", tx.Type)))
	}
	if err := d.checkSignature(); err != nil {
		return verdict(nil, err)
	}
	eff, v, err := verdict(handle(d))
	if v.Code == certchain.Accepted {
		eff.Nodes, eff.Keys, eff.Members, eff.Delegates = d.nodes, d.keys, d.members, d.delegates
	}
	return eff, v, err
}

var handlers = map[certchain.TxType]func(*decision) ([]*certchain.Record, error){
	certchain.TxPublish:      (*decision).publish,
	certchain.TxRenew:        (*decision).renew,
	certchain.TxRevoke:       (*decision).changeStatus,
	certchain.TxSuspend:      (*decision).changeStatus,
	certchain.TxResume:       (*decision).changeStatus,
	certchain.TxNodeAdd:      (*decision).nodeAdd,
	certchain.TxNodeRemove:   (*decision).nodeRemove,
	certchain.TxRevokeKey:    (*decision).revokeKey,
	certchain.TxMemberSet:    (*decision).memberSet,
	certchain.TxMemberRemove: (*decision).memberRemove,
	certchain.TxOCSPDelegate: (*decision).ocspDelegate,
}

// ownerActions are what a certificate's owner may do with a proof.
var ownerActions = map[certchain.TxType]bool{certchain.TxRevoke: true, certchain.TxSuspend: true, certchain.TxResume: true, certchain.TxRenew: true}

// unchangedError reports a transaction already in effect.
type unchangedError struct{ *RuleError }

// verdict turns a handler's outcome into an effect and a verdict.
func verdict(recs []*certchain.Record, err error) (Effect, certchain.Verdict, error) {
	var (
		unchanged *unchangedError
		rule      *RuleError
	)
	switch {
	case err == nil:
		return Effect{Records: recs}, certchain.Verdict{Code: certchain.Accepted}, nil
	case errors.As(err, &unchanged):
		return Effect{}, certchain.Verdict{Code: certchain.Unchanged, Reason: unchanged.Reason()}, nil
	case errors.As(err, &rule):
		return Effect{}, rule.Verdict(), nil
	}
	return Effect{}, certchain.Verdict{}, err
}

// decision is one transaction being decided.
type decision struct {
	tx      *certchain.Tx
	txID    certchain.Hash
	pre     *Cert
	opts    *Options
	g       *certchain.Genesis
	view    View
	height  uint64
	at      time.Time
	nodes   []*certchain.NodeRecord   // node records an accepted node transaction writes
	keys    []*certchain.BlockedKey   // the key an accepted revoke-key blocks
	members []*certchain.MemberRecord // the member change an accepted member transaction makes
	// delegates is the OCSP delegate an accepted ocsp-delegate registers.
	delegates []*certchain.OCSPDelegate
	signed    bool // the submitter's signature verified (checkSignature)
}

// member returns the submitter's genesis membership.
func (d *decision) member() (*certchain.Member, error) {
	m, ok := d.g.Member(d.tx.Submitter)
	if !ok {
		return nil, ruleErr(RuleNotMember, fmt.Sprintf("submitter %s is not a member of the network", quoteShort(d.tx.Submitter)))
	}
	return m, nil
}

// target returns a copy of the record the transaction acts on.
func (d *decision) target() (*certchain.Record, error) {
	r, err := d.lookup(d.tx.Target)
	if err == nil && r == nil {
		err = ruleErr(RuleNotFound, fmt.Sprintf("certificate %s is not on the ledger", d.tx.Target))
	}
	return r, err
}

// lookup returns a copy of record id, or nil if there is none.
func (d *decision) lookup(id certchain.Hash) (*certchain.Record, error) {
	r, err := d.view.Record(id)
	switch {
	case errors.Is(err, certchain.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("validator: view: record %s: %w", id, err)
	}
	cp := *r
	return &cp, nil
}

// cert returns the checked certificate of the transaction, refusing one
// whose public key was revoked ("key-blocked").
func (d *decision) cert() (*Cert, error) {
	c := d.pre
	if c == nil || !c.ValidAt(d.opts) || !bytes.Equal(c.X509.Raw, d.tx.Cert) {
		var err error
		if c, err = Check(d.tx.Cert, d.tx.Chain, d.opts); err != nil {
			return nil, err
		}
	}
	return c, d.keyNotBlocked(c.KeyHash)
}

// certID returns the ID of the transaction's certificate.
func (d *decision) certID() certchain.Hash {
	if d.pre != nil && bytes.Equal(d.pre.X509.Raw, d.tx.Cert) {
		return d.pre.ID
	}
	return certchain.Sum(d.tx.Cert)
}

// uniqueIdentity refuses a self-signed certificate whose identity is held
// by a current record other than holder.
func (d *decision) uniqueIdentity(c *Cert, holder certchain.Hash) error {
	if !c.SelfSigned {
		return nil
	}
	id, ok, err := d.view.CurrentByIdentity(c.Identity)
	switch {
	case err != nil:
		return fmt.Errorf("validator: view: identity %q: %w", c.Identity, err)
	case ok && id != holder:
		return ruleErr(RuleDuplicateIdentity, fmt.Sprintf("identity %s is held by certificate %s; renew that certificate instead", quoteShort(c.Identity), id))
	}
	return nil
}
