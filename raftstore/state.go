package raftstore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"time"

	"github.com/certchain/certchain/certchain"
	"github.com/certchain/certchain/validator"
	"github.com/dgraph-io/badger/v4"
)

// State is the ledger state over Badger: blocks, records, indexes, the chain
// head and the last applied Raft index. Apply is called by one goroutine at
// a time (the FSM); every read method is safe for concurrent use.
type State struct {
	db *badger.DB
	// origin is the founding genesis (its hash is block 0's); members
	// are its founders with the ledger's member records applied, and
	// verify holds that set's CA anchors. Both change only between blocks
	// (see setMembers), under mu.
	origin  *certchain.Genesis
	members *certchain.Genesis
	verify  *verifier

	// checked holds certificates the edge verified for transactions now
	// on their way through Raft, by transaction ID, so that applying the
	// block on this node does not verify them again (see Prechecked).
	checked checkedCerts
	// blocked holds every key that may be blocked (see blockedSet).
	blocked blockedSet
	// filter says which records, identities and transactions may be
	// stored (see keyFilter).
	filter keyFilter
	// proposed holds the transaction IDs of this node's own proposals on
	// their way through Raft (see proposedIDs).
	proposed proposedIDs

	mu      sync.RWMutex
	head    certchain.Header
	applied uint64
	changed chan struct{} // closed and replaced on every applied block
}

// Applied is the outcome of applying one proposal.
type Applied struct {
	Header   certchain.Header
	Hash     certchain.Hash
	TxIDs    []certchain.Hash
	Verdicts []certchain.Verdict
	// Types are the transaction types, in block order.
	Types []certchain.TxType
	// Records are the records the block created or changed (accepted
	// transactions only), for caches that must refresh (OCSP).
	Records []*certchain.Record
	// Nodes are the validator node records the block changed.
	Nodes []*certchain.NodeRecord
	// Delegates are the delegated OCSP signers the block registered (the
	// node holding a delegate's key starts signing with it).
	Delegates []*certchain.OCSPDelegate
	// Checked is how many certificates this node verified while applying
	// the block: those it had not prechecked at its edge.
	Checked int
	// SigChecked is how many member signatures it verified while
	// applying: those its edge had not.
	SigChecked int
	// Elapsed is how long verifying and writing the block took here.
	Elapsed time.Duration
}

// OpenState opens the ledger state in db. An empty database is initialised
// with block 0 of g; a database made for another genesis is refused.
func OpenState(db *badger.DB, g *certchain.Genesis) (*State, error) {
	if err := validator.CheckGenesis(g); err != nil {
		return nil, err
	}
	v, err := newVerifier(g)
	if err != nil {
		return nil, err
	}
	s := &State{db: db, origin: g, members: g, verify: v, changed: make(chan struct{})}
	if err := s.init(); err != nil {
		return nil, err
	}
	s.filter.build(db)
	return s, s.load()
}

func (s *State) init() error {
	return s.db.Update(func(txn *badger.Txn) error {
		if _, err := txn.Get(keyHead); err == nil {
			return nil
		} else if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		h := s.origin.Header()
		blk := certchain.Block{Header: h}
		if err := txn.Set(blockKey(0), blk.Encode()); err != nil {
			return err
		}
		return txn.Set(keyHead, h.Encode())
	})
}

// load reads head and applied index and checks the genesis.
func (s *State) load() error {
	return s.db.View(func(txn *badger.Txn) error {
		g, err := getBlock(txn, 0)
		if err != nil {
			return fmt.Errorf("read genesis block: %w", err)
		}
		if want := s.origin.Hash(); g.Header.TxRoot != want {
			return fmt.Errorf("%w: data directory belongs to another network (genesis %s, configured %s)",
				certchain.ErrConflict, g.Header.TxRoot, want)
		}
		hb, err := getValue(txn, keyHead)
		if err != nil {
			return fmt.Errorf("read head: %w", err)
		}
		head, err := certchain.DecodeHeader(hb)
		if err != nil {
			return fmt.Errorf("decode head: %w", err)
		}
		applied := uint64(0)
		if ab, err := getValue(txn, keyApplied); err == nil && len(ab) == 8 {
			applied = binary.BigEndian.Uint64(ab)
		}
		if err := s.loadMembers(txn); err != nil {
			return fmt.Errorf("members: %w", err)
		}
		s.blocked.load(txn)
		s.mu.Lock()
		s.head, s.applied = head, applied
		s.mu.Unlock()
		return nil
	})
}

// Genesis returns the network's genesis document with the current member
// set: the founders with the ledger's member changes applied.
func (s *State) Genesis() *certchain.Genesis {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.members
}

// memberSet returns the current members and their verifier.
func (s *State) memberSet() (*certchain.Genesis, *verifier) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.members, s.verify
}

// loadMembers rebuilds the member set from the ledger's member records.
func (s *State) loadMembers(txn *badger.Txn) error {
	var recs []*certchain.MemberRecord
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefixMember, PrefetchValues: true})
	defer it.Close()
	for it.Seek(prefixMember); it.ValidForPrefix(prefixMember); it.Next() {
		b, err := it.Item().ValueCopy(nil)
		if err != nil {
			return err
		}
		r, err := certchain.DecodeMemberRecord(b)
		if err != nil {
			return err
		}
		recs = append(recs, r)
	}
	return s.setMembers(s.origin.WithMembers(recs))
}

// setMembers makes g's members the current set: decisions of later blocks
// (and prechecks) use it.
func (s *State) setMembers(g *certchain.Genesis) error {
	v, err := newVerifier(g)
	if err != nil {
		return fmt.Errorf("member set: %w", err)
	}
	s.mu.Lock()
	s.members, s.verify = g, v
	s.mu.Unlock()
	return nil
}

// AppliedIndex returns the Raft index of the last applied entry.
func (s *State) AppliedIndex() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.applied
}

// Head returns the header of the newest block.
func (s *State) Head() certchain.Header {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.head
}

// Apply applies one Raft entry's proposal: it re-verifies every
// transaction at the block's time, records each verdict, and writes block,
// state and applied index in one Badger transaction. An entry at or below
// the applied index was applied before a restart and is skipped (nil).
func (s *State) Apply(index uint64, p *certchain.Proposal, ids []certchain.Hash) (*Applied, error) {
	if index <= s.AppliedIndex() {
		return nil, nil
	}
	start := time.Now()
	if s.filter.full() { // between two blocks, as grow needs
		s.filter.grow(s.db)
	}
	head := s.Head()
	at := max(p.Time, head.Time)
	txn := s.db.NewTransaction(true)
	defer txn.Discard()
	d, err := s.decide(txn, p.Txs, ids, s.checked.take(ids), head.Height+1, time.Unix(0, at).UTC(), withIndexes)
	if err != nil {
		return nil, err
	}
	blk := certchain.NewBlock(&head, p, ids, d.verdicts)
	if err := writeBlock(txn, &blk, ids, d.repeats, index, &s.filter); err != nil {
		return nil, err
	}
	for _, k := range d.eff.Keys { // before the commit: blockedSet is a superset
		s.blocked.add(k.KeyHash)
	}
	if err := txn.Commit(); err != nil {
		return nil, fmt.Errorf("commit block %d: %w", blk.Header.Height, err)
	}
	if len(d.eff.Members) > 0 {
		// The next block decides with the changed members (rebuilt from
		// every record, so the set is the same after a restart).
		if err := s.db.View(s.loadMembers); err != nil {
			return nil, err
		}
	}
	s.advance(blk.Header, index)
	types := make([]certchain.TxType, len(p.Txs))
	for i := range p.Txs {
		types[i] = p.Txs[i].Type
	}
	return &Applied{Header: blk.Header, Hash: blk.Header.Hash(), TxIDs: ids, Verdicts: d.verdicts,
		Types: types, Records: d.eff.Records, Nodes: d.eff.Nodes, Delegates: d.eff.Delegates, Checked: d.checked, SigChecked: d.sigChecked, Elapsed: time.Since(start)}, nil
}

// Precheck decides txs against the current state at time now, exactly as a
// block would, without writing anything. The edge uses it to refuse bad
// transactions before they reach Raft. It also returns the checked
// certificate of each transaction that carries one and passed (else nil),
// for Prechecked.
func (s *State) Precheck(txs []certchain.Tx, ids []certchain.Hash, now time.Time) ([]certchain.Verdict, []*validator.Cert, error) {
	txn := s.db.NewTransaction(true) // sees its own writes; never committed
	defer txn.Discard()
	pre := make([]*validator.Cert, len(txs))
	d, err := s.decide(txn, txs, ids, pre, s.Head().Height+1, now, withoutIndexes)
	return d.verdicts, pre, err
}

// Prechecked hands the certificate the edge checked for transaction id to
// the apply step of this node: if the block carrying id is applied here
// while c is still valid at the block's time (validator.Cert.ValidAt), it
// is not verified again. Forget drops what will not be applied here.
func (s *State) Prechecked(id certchain.Hash, c *validator.Cert) { s.checked.put(id, c) }

// Forget drops the prechecked certificates of ids (their proposal failed).
func (s *State) Forget(ids []certchain.Hash) { s.checked.take(ids) }

// indexing says whether decide enters new records in the read-side
// indexes (submitter, key hash, OCSP), which no decision reads.
type indexing bool

const (
	withIndexes    indexing = true  // Apply: the state a block leaves
	withoutIndexes indexing = false // Precheck: writes that are discarded
)

// decide verifies certificates in parallel, then decides each transaction
// in order against txn (which sees the effects of earlier ones) and writes
// accepted effects into txn. pre holds certificates checked before (nil
// entries are checked here, and filled in).
func (s *State) decide(txn *badger.Txn, txs []certchain.Tx, ids []certchain.Hash, pre []*validator.Cert, height uint64, at time.Time, ix indexing) (decided, error) {
	g, verify := s.memberSet()
	opts := verify.options(at)
	d := decided{verdicts: make([]certchain.Verdict, len(txs)), checked: verify.checkAll(txs, pre, opts)}
	good, sigChecked := verify.signaturesAll(txs, ids, opts, ix == withIndexes)
	if good != nil {
		opts.SignatureVerified = func(id certchain.Hash) bool { return good[id] }
	}
	d.sigChecked = sigChecked
	view := &txnView{txn: txn, blocked: &s.blocked, filter: &s.filter}
	if ix == withoutIndexes { // Precheck: its writes are thrown away
		view.own = make(map[string]struct{})
	}
	first := make(map[certchain.Hash]int, len(txs))
	for i := range txs {
		if j, again := first[ids[i]]; again {
			d.repeat(i, d.verdicts[j])
			continue
		}
		if v, on, err := view.txVerdict(ids[i]); err != nil {
			return d, err
		} else if on {
			d.repeat(i, v)
			continue
		}
		first[ids[i]] = i
		// A failed check is decided again by Decide (pre = nil), so that
		// its rule order holds: membership and idempotency come first. Only
		// a certificate the edge refused, so never in a healthy block, is
		// verified twice.
		eff, v, err := validator.DecideErr(&txs[i], ids[i], pre[i], opts, g, view, height)
		if err != nil {
			return d, err
		}
		d.verdicts[i] = v
		if v.Code != certchain.Accepted {
			continue
		}
		if err := writeEffect(txn, view, eff, ix); err != nil {
			return d, err
		}
		d.eff.Records = append(d.eff.Records, eff.Records...)
		d.eff.Nodes = append(d.eff.Nodes, eff.Nodes...)
		d.eff.Members = append(d.eff.Members, eff.Members...)
		d.eff.Keys = append(d.eff.Keys, eff.Keys...)
		d.eff.Delegates = append(d.eff.Delegates, eff.Delegates...)
	}
	return d, nil
}

// duplicateTx is the verdict of a transaction already on the ledger, or
// earlier in the same block, whose first copy was not refused: a client
// that sends a transaction again after an unknown outcome gets it, and the
// first copy keeps its effect, its verdict and its place (TxLocation).
var duplicateTx = certchain.Verdict{Code: certchain.Unchanged, Reason: "duplicate-tx: transaction is already on the ledger"}

// decided is the outcome of decide.
type decided struct {
	verdicts []certchain.Verdict
	// repeats marks the transactions already on the ledger or earlier in
	// the block (nil: none); they have no effect and are not indexed.
	repeats    []bool
	eff        validator.Effect // of the accepted transactions
	checked    int              // certificates verified by decide itself
	sigChecked int              // member signatures verified by decide itself
}

// repeat decides transaction i, a copy of one decided v before (on the
// ledger or earlier in the block): a refused transaction is refused again
// for the same reason, any other is duplicate-tx. Either way it changes
// nothing, and the first copy keeps its place in the index.
func (d *decided) repeat(i int, v certchain.Verdict) {
	if v.Code != certchain.Rejected {
		v = duplicateTx
	}
	d.verdicts[i] = v
	if d.repeats == nil {
		d.repeats = make([]bool, len(d.verdicts))
	}
	d.repeats[i] = true
}

func (s *State) advance(h certchain.Header, index uint64) {
	s.mu.Lock()
	s.head, s.applied = h, index
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

// WaitHeight blocks until a block at height h or above is applied, or ctx
// ends.
func (s *State) WaitHeight(ctx context.Context, h uint64) error {
	for {
		s.mu.RLock()
		cur, ch := s.head.Height, s.changed
		s.mu.RUnlock()
		if cur >= h {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("waiting for height %d (at %d): %w", h, cur, ctx.Err())
		}
	}
}

// Block returns the block at height.
func (s *State) Block(height uint64) (*certchain.Block, error) {
	var b certchain.Block
	err := s.db.View(func(txn *badger.Txn) (err error) {
		b, err = getBlock(txn, height)
		return err
	})
	return &b, err
}

// Record returns the record of the certificate with ID id.
func (s *State) Record(id certchain.Hash) (*certchain.Record, error) {
	var r *certchain.Record
	err := s.db.View(func(txn *badger.Txn) (err error) {
		r, err = getRecord(txn, id)
		return err
	})
	return r, err
}

// LookupOCSP returns the record of the certificate with this serial
// number whose issuer's key hashes to issuerKeyHash (SHA-1: 20 bytes,
// SHA-256: 32), as an OCSP CertID names it; certchain.ErrNotFound if the
// ledger has none.
func (s *State) LookupOCSP(issuerKeyHash []byte, serial *big.Int) (*certchain.Record, error) {
	if len(issuerKeyHash) != 20 && len(issuerKeyHash) != 32 {
		return nil, fmt.Errorf("%w: issuer key hash of %d bytes", certchain.ErrInvalid, len(issuerKeyHash))
	}
	var r *certchain.Record
	err := s.db.View(func(txn *badger.Txn) error {
		v, err := getValue(txn, ocspKey(issuerKeyHash, serial.Bytes()))
		if err != nil {
			return err
		}
		var id certchain.Hash
		copy(id[:], v)
		r, err = getRecord(txn, id)
		return err
	})
	return r, err
}

// BlockedKey returns the record of revoked public key h (SPKI SHA-256), or
// certchain.ErrNotFound.
func (s *State) BlockedKey(h certchain.Hash) (k *certchain.BlockedKey, err error) {
	err = s.db.View(func(txn *badger.Txn) error {
		k, err = getBlockedKey(txn, h)
		return err
	})
	return k, err
}

// MemberHeight returns the height of the last ledger change to member
// name, 0 if there was none (what a signed member change names as Seen).
func (s *State) MemberHeight(name string) (h uint64, err error) {
	err = s.db.View(func(txn *badger.Txn) error {
		h, err = (&txnView{txn: txn}).MemberHeight(name)
		return err
	})
	return h, err
}

// OCSPDelegates returns the delegated OCSP signers registered for the key
// whose SPKI SHA-256 is keyHash, one per issuing CA.
func (s *State) OCSPDelegates(keyHash certchain.Hash) ([]*certchain.OCSPDelegate, error) {
	var out []*certchain.OCSPDelegate
	prefix := join(prefixOCSPDelegate, keyHash[:])
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true})
		defer it.Close()
		for it.Seek(prefix); it.ValidForPrefix(prefix); it.Next() {
			b, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			d, err := certchain.DecodeOCSPDelegate(b)
			if err != nil {
				return err
			}
			out = append(out, d)
		}
		return nil
	})
	return out, err
}

// CertsByKey returns the certificates on the ledger that carry public key
// h, at most limit+1 of them.
func (s *State) CertsByKey(h certchain.Hash, limit int) (ids []certchain.Hash, err error) {
	err = s.db.View(func(txn *badger.Txn) error {
		ids, err = certsByKey(txn, h, limit)
		return err
	})
	return ids, err
}

// Nodes returns the validator nodes the ledger records, removed ones
// included, in ID order.
func (s *State) Nodes() ([]*certchain.NodeRecord, error) {
	var out []*certchain.NodeRecord
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefixNode})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			n, err := getNode(txn, string(it.Item().Key()[len(prefixNode):]))
			if err != nil {
				return err
			}
			out = append(out, n)
		}
		return nil
	})
	return out, err
}

// TxLocation returns the height and position of the block that carries the
// transaction with ID id.
func (s *State) TxLocation(id certchain.Hash) (height uint64, pos int, err error) {
	err = s.db.View(func(txn *badger.Txn) error {
		v, err := getValue(txn, txKey(id))
		if err != nil {
			return err
		}
		height, pos = binary.BigEndian.Uint64(v), int(binary.BigEndian.Uint32(v[8:]))
		return nil
	})
	return height, pos, err
}

func writeBlock(txn *badger.Txn, blk *certchain.Block, ids []certchain.Hash, repeats []bool, index uint64, f *keyFilter) error {
	h := blk.Header.Height
	// One buffer for every tx index key and value: keyLen+locLen per tx.
	const keyLen, locLen = 2 + len(certchain.Hash{}), 8 + 4
	buf := make([]byte, 0, len(ids)*(keyLen+locLen))
	for i, id := range ids {
		if repeats != nil && repeats[i] {
			continue // indexed where it first appeared
		}
		buf = append(append(buf, prefixTx...), id[:]...)
		buf = binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint64(buf, h), uint32(i))
		kv := buf[len(buf)-keyLen-locLen:]
		f.add(kv[:keyLen])
		if err := txn.Set(kv[:keyLen:keyLen], kv[keyLen:]); err != nil {
			return fmt.Errorf("block %d: index tx: %w", h, err)
		}
	}
	for _, kv := range [][2][]byte{{blockKey(h), blk.Encode()}, {keyHead, blk.Header.Encode()}, {keyApplied, u64(index)}} {
		if err := txn.Set(kv[0], kv[1]); err != nil {
			return fmt.Errorf("block %d: %w", h, err)
		}
	}
	return nil
}

// writeEffect stores changed records and node records and keeps the
// indexes in step (the read-side ones only when ix is withIndexes).
func writeEffect(txn *badger.Txn, view *txnView, eff validator.Effect, ix indexing) error {
	for _, r := range eff.Records {
		if err := putRecord(txn, view, r, ix); err != nil {
			return fmt.Errorf("record %s: %w", r.ID, err)
		}
	}
	for _, n := range eff.Nodes {
		if err := txn.Set(nodeKey(n.ID), n.Encode()); err != nil {
			return fmt.Errorf("node %s: %w", n.ID, err)
		}
	}
	for _, k := range eff.Keys {
		if err := txn.Set(blockedKey(k.KeyHash), k.Encode()); err != nil {
			return fmt.Errorf("blocked key %s: %w", k.KeyHash, err)
		}
		view.block(k.KeyHash)
	}
	for _, m := range eff.Members {
		if err := txn.Set(memberKey(m.Name), m.Encode()); err != nil {
			return fmt.Errorf("member %s: %w", m.Name, err)
		}
	}
	for _, d := range eff.Delegates {
		if err := txn.Set(ocspDelegateKey(d.KeyHash, d.IssuerHash), d.Encode()); err != nil {
			return fmt.Errorf("OCSP delegate of %s: %w", d.Member, err)
		}
	}
	return nil
}

// putRecord stores r, enters a new record in the read-side indexes (when
// ix is withIndexes) and keeps the identity index in step. Without the
// indexes it still checks what entering r checks (its serial), so that
// Precheck fails where Apply would.
func putRecord(txn *badger.Txn, view *txnView, r *certchain.Record, ix indexing) error {
	isNew, err := view.absent(r.ID)
	if err != nil {
		return err
	}
	if err := view.set(recordKey(r.ID), r.Encode()); err != nil {
		return err
	}
	view.stored(r.ID)
	switch {
	case isNew && ix == withIndexes:
		keys, err := indexKeys(r)
		if err != nil {
			return err
		}
		for i, k := range keys {
			var v []byte // submitter and key indexes: the key says it all
			if i >= 2 {
				v = r.ID[:] // OCSP: the certificate ID
			}
			if err := txn.Set(k, v); err != nil {
				return err
			}
		}
	case isNew:
		if _, ok := serialDigits(r.Serial); !ok {
			return fmt.Errorf("record %s: serial %q is not hex", r.ID, r.Serial)
		}
	}
	return updateIdentity(txn, view, r)
}

// updateIdentity points the identity index at r while r is current and
// drops the entry when r stops being current (only for self-signed
// certificates: their identity is unique).
func updateIdentity(txn *badger.Txn, view *txnView, r *certchain.Record) error {
	if !r.SelfSigned {
		return nil
	}
	if r.Status == certchain.StatusGood || r.Status == certchain.StatusSuspended {
		return view.set(identityKey(r.Identity), r.ID[:])
	}
	cur, ok, err := view.CurrentByIdentity(r.Identity)
	if err != nil || !ok || cur != r.ID {
		return err
	}
	return txn.Delete(identityKey(r.Identity))
}

func getValue(txn *badger.Txn, key []byte) ([]byte, error) {
	item, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, certchain.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return item.ValueCopy(nil)
}

func getBlock(txn *badger.Txn, height uint64) (certchain.Block, error) {
	v, err := getValue(txn, blockKey(height))
	if err != nil {
		return certchain.Block{}, fmt.Errorf("block %d: %w", height, err)
	}
	return certchain.DecodeBlock(v)
}
