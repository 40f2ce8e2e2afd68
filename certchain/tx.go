package certchain

import (
	"fmt"
)

// TxType names what a transaction does.
type TxType uint8

// Transaction types. The numbers are part of the wire format.
const (
	// TxPublish puts one certificate on the ledger.
	TxPublish TxType = 1
	// TxRenew publishes Cert as the successor of Target, which becomes superseded.
	TxRenew TxType = 2
	// TxRevoke revokes Target for good with Reason.
	TxRevoke TxType = 3
	// TxSuspend puts Target on hold (OCSP: revoked, certificateHold).
	TxSuspend TxType = 4
	// TxResume takes Target off hold.
	TxResume TxType = 5
	// TxNodeAdd records that validator Node (Raft address Address, API
	// URL API, a voter unless Replica) is part of the cluster.
	TxNodeAdd TxType = 6
	// TxNodeRemove records that validator Node leaves the cluster.
	TxNodeRemove TxType = 7
	// TxRevokeKey revokes every certificate whose public key hashes to
	// Target (SHA-256 of the SubjectPublicKeyInfo) with Reason, and blocks
	// the key for later publishes and renewals.
	TxRevokeKey TxType = 8
	// TxMemberSet adds member Member (its JSON) or replaces the member of
	// that name (admins only).
	TxMemberSet TxType = 9
	// TxMemberRemove removes the member named in Member ({"name":...}).
	TxMemberRemove TxType = 10
	// TxOCSPDelegate registers Cert, a delegated OCSP signer certificate
	// one of the submitting CA member's CA certificates issued to a
	// node's delegate key (see OCSPDelegate).
	TxOCSPDelegate TxType = 11
)

var txTypeNames = map[TxType]string{
	TxPublish: "publish", TxRenew: "renew", TxRevoke: "revoke",
	TxSuspend: "suspend", TxResume: "resume", TxNodeAdd: "node-add", TxNodeRemove: "node-remove",
	TxRevokeKey: "revoke-key", TxMemberSet: "member-set", TxMemberRemove: "member-remove",
	TxOCSPDelegate: "ocsp-delegate",
}

// String returns the lowercase name used in the API and in metrics.
func (t TxType) String() string {
	if n, ok := txTypeNames[t]; ok {
		return n
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// MarshalText implements encoding.TextMarshaler.
func (t TxType) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// Tx is one ledger transaction. Which fields matter depends on Type:
//
//	publish  Cert (+ Chain for CA-signed certificates)
//	renew    Target (old), Cert (new) (+ Chain)
//	revoke   Target, Reason
//	suspend  Target
//	resume   Target
//	node-add     Node, Address, API, Replica (+ Org)
//	node-remove  Node
//	revoke-key   Target (the key's SPKI SHA-256), Reason
//	member-set   Member (JSON of a Member)
//	member-remove  Member ({"name": …})
//	ocsp-delegate  Cert (the delegate certificate)
//
// Submitter is the name of the member on whose behalf the transaction was
// submitted. Time is the entry node's clock when it accepted the request;
// it only makes repeated identical requests distinct transactions and is
// never used to verify anything (the block's time is).
type Tx struct {
	Type      TxType
	Submitter string
	Cert      []byte   // DER
	Chain     [][]byte // DER intermediates, leaf's issuer first
	Target    Hash     // certificate ID the transaction acts on (revoke-key: key hash)
	Reason    Reason
	Time      int64  // unix nanoseconds
	Node      string // validator node ID (node-add, node-remove)
	Address   string // the node's Raft address (node-add)
	API       string // the node's API base URL (node-add)
	Replica   bool   // a non-voting read replica (node-add)
	// Proof is the certificate owner's signed request (revoke, suspend,
	// resume with Submitter OwnerSubmitter): a JWS the certificate's own
	// key signed (see validator's owner proof).
	Proof []byte
	// Member is the JSON of a Member (member-set, member-remove).
	Member []byte
	// Seen is, in a signed transaction, the version of what it acts on as
	// the signer last read it: the target certificate's status height
	// (revoke, suspend, resume, renew), the member's or the node's record
	// height (0 if it has none). It makes a signed change good once.
	Seen uint64
	// Sig is the submitter member's signature of SigningInput, by the
	// private key of its identity certificate.
	Sig []byte
	// Org is the organisation that runs Node (node-add in a network with
	// organisations): the node's certificate must chain to its CA.
	Org string
}

// SigningInput is what a member signs for t on network: a domain
// separator, the network ID and the canonical encoding of t without its
// Time (the entry node's, which only makes requests distinct) and Sig.
func (t *Tx) SigningInput(network string) []byte {
	u := *t
	u.Time, u.Sig = 0, nil
	return append([]byte("certchain-tx-v1\x00"+network+"\x00"), u.Encode()...)
}

// OwnerSubmitter is the Submitter of a transaction the owner of the target
// certificate authorizes with a Proof signed by the certificate's key,
// rather than a member. No member may be named so.
const OwnerSubmitter = "@owner"

// Field tags of the Tx encoding (part of the wire format).
const (
	txTagType      = 1
	txTagSubmitter = 2
	txTagCert      = 3
	txTagChain     = 4
	txTagTarget    = 5
	txTagReason    = 6
	txTagTime      = 7
	txTagNode      = 8
	txTagAddress   = 9
	txTagAPI       = 10
	txTagReplica   = 11
	txTagProof     = 12
	txTagMember    = 13
	txTagSeen      = 14
	txTagSig       = 15
	txTagOrg       = 16
)

// Encode returns the canonical encoding of t.
func (t *Tx) Encode() []byte {
	w := tlvWriter{buf: make([]byte, 0, 64+len(t.Cert))}
	w.u8(txTagType, uint8(t.Type))
	w.str(txTagSubmitter, t.Submitter)
	w.bytes(txTagCert, t.Cert)
	for _, c := range t.Chain {
		w.repeated(txTagChain, c)
	}
	w.hash(txTagTarget, t.Target)
	w.u8(txTagReason, uint8(t.Reason))
	w.u64(txTagTime, uint64(t.Time))
	w.str(txTagNode, t.Node)
	w.str(txTagAddress, t.Address)
	w.str(txTagAPI, t.API)
	if t.Replica {
		w.u8(txTagReplica, 1)
	}
	w.bytes(txTagProof, t.Proof)
	w.bytes(txTagMember, t.Member)
	w.u64(txTagSeen, t.Seen)
	w.bytes(txTagSig, t.Sig)
	w.str(txTagOrg, t.Org)
	return w.buf
}

// ID returns the transaction ID: SHA-256 of its canonical encoding.
func (t *Tx) ID() Hash { return Sum(t.Encode()) }

// DecodeTx parses a canonical Tx encoding. Byte slices in the result alias b.
func DecodeTx(b []byte) (Tx, error) {
	var t Tx
	r := tlvReader{buf: b}
	for {
		tag, v, ok, err := r.next()
		if err != nil || !ok {
			if err == nil && t.Type == 0 {
				err = fmt.Errorf("%w: transaction without type", ErrInvalid)
			}
			return t, err
		}
		if tag != txTagChain {
			if err := r.single(tag); err != nil {
				return t, err
			}
		}
		if err := t.setField(tag, v); err != nil {
			return t, fmt.Errorf("transaction: %w", err)
		}
	}
}

func (t *Tx) setField(tag uint64, v []byte) (err error) {
	switch tag {
	case txTagType:
		var x uint8
		x, err = decodeU8(tag, v)
		t.Type = TxType(x)
		if _, known := txTypeNames[t.Type]; err == nil && !known {
			err = fmt.Errorf("%w: unknown transaction type %d", ErrInvalid, x)
		}
	case txTagSubmitter:
		t.Submitter, err = decodeStr(tag, v)
	case txTagCert:
		if len(v) == 0 {
			err = fmt.Errorf("%w: field %d: empty value must be omitted", ErrInvalid, tag)
		}
		t.Cert = v
	case txTagChain:
		t.Chain = append(t.Chain, v)
	case txTagTarget:
		t.Target, err = decodeHash(tag, v)
	case txTagReason:
		var x uint8
		x, err = decodeU8(tag, v)
		t.Reason = Reason(x)
	case txTagTime:
		var x uint64
		x, err = decodeU64(tag, v)
		t.Time = int64(x)
	case txTagNode:
		t.Node, err = decodeStr(tag, v)
	case txTagAddress:
		t.Address, err = decodeStr(tag, v)
	case txTagAPI:
		t.API, err = decodeStr(tag, v)
	case txTagReplica:
		var x uint8
		if x, err = decodeU8(tag, v); err == nil && x != 1 {
			err = fmt.Errorf("%w: field %d must be 1", ErrInvalid, tag)
		}
		t.Replica = true
	case txTagProof:
		t.Proof, err = decodeBytes(tag, v)
	case txTagMember:
		t.Member, err = decodeBytes(tag, v)
	case txTagSeen:
		t.Seen, err = decodeU64(tag, v)
	case txTagSig:
		t.Sig, err = decodeBytes(tag, v)
	case txTagOrg:
		t.Org, err = decodeStr(tag, v)
	default:
		err = fmt.Errorf("%w: unknown field %d", ErrInvalid, tag)
	}
	return err
}
