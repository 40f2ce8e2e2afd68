package certchain

import (
	"fmt"
	"time"
)

// VerdictCode is the outcome of applying one transaction.
type VerdictCode uint8

// Verdict codes (part of the wire format).
const (
	// Accepted: the transaction changed the state.
	Accepted VerdictCode = 1
	// Rejected: a rule refused it; the state is unchanged.
	Rejected VerdictCode = 2
	// Unchanged: it was already in effect (the same certificate published
	// again); the state is unchanged and the existing record stands.
	Unchanged VerdictCode = 3
)

var verdictNames = map[VerdictCode]string{Accepted: "accepted", Rejected: "rejected", Unchanged: "unchanged"}

// String returns the lowercase name.
func (c VerdictCode) String() string {
	if n, ok := verdictNames[c]; ok {
		return n
	}
	return fmt.Sprintf("verdict(%d)", uint8(c))
}

// MarshalText implements encoding.TextMarshaler.
func (c VerdictCode) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (c *VerdictCode) UnmarshalText(b []byte) error {
	for k, n := range verdictNames {
		if n == string(b) {
			*c = k
			return nil
		}
	}
	return fmt.Errorf("%w: unknown verdict %q", ErrInvalid, b)
}

// Verdict is what every node decided for one transaction of a block.
// Reason is empty when accepted and "rule: detail" otherwise.
type Verdict struct {
	Code   VerdictCode `json:"verdict"`
	Reason string      `json:"reason,omitempty"`
}

// leaf is the verdict's Merkle leaf: the transaction ID, code and reason.
func (v Verdict) leaf(txID Hash) Hash {
	b := make([]byte, 0, len(txID)+1+len(v.Reason))
	b = append(append(append(b, txID[:]...), byte(v.Code)), v.Reason...)
	return Sum(b)
}

// Proposal is what the leader replicates as one Raft entry: a batch of
// transactions with the leader's timestamp. Height and previous hash are
// derived when it is applied (see the package doc).
type Proposal struct {
	Time     int64 // unix nanoseconds, leader's clock
	Proposer string
	Txs      []Tx
}

// Header is the hash-chained part of a block.
type Header struct {
	Height     uint64
	PrevHash   Hash
	Time       int64 // unix nanoseconds; never decreases along the chain
	Proposer   string
	TxCount    uint64
	TxRoot     Hash // Merkle root of the transaction IDs (genesis: genesis hash)
	ResultRoot Hash // Merkle root of the verdicts
}

// Block is a header with its transactions and their verdicts, in order.
type Block struct {
	Header   Header
	Txs      []Tx
	Verdicts []Verdict
}

// Header, block and proposal field tags (part of the wire format).
const (
	hdrTagHeight     = 1
	hdrTagPrevHash   = 2
	hdrTagTime       = 3
	hdrTagProposer   = 4
	hdrTagTxCount    = 5
	hdrTagTxRoot     = 6
	hdrTagResultRoot = 7

	blkTagHeader  = 1
	blkTagTx      = 2
	blkTagVerdict = 3

	vrdTagCode   = 1
	vrdTagReason = 2

	prpTagTime     = 1
	prpTagProposer = 2
	prpTagTx       = 3
)

// Timestamp returns the header time as a time.Time in UTC.
func (h *Header) Timestamp() time.Time { return time.Unix(0, h.Time).UTC() }

// Encode returns the canonical encoding of h.
func (h *Header) Encode() []byte {
	var w tlvWriter
	w.u64(hdrTagHeight, h.Height)
	w.hash(hdrTagPrevHash, h.PrevHash)
	w.u64(hdrTagTime, uint64(h.Time))
	w.str(hdrTagProposer, h.Proposer)
	w.u64(hdrTagTxCount, h.TxCount)
	w.hash(hdrTagTxRoot, h.TxRoot)
	w.hash(hdrTagResultRoot, h.ResultRoot)
	return w.buf
}

// Hash returns the block hash: SHA-256 of the header encoding.
func (h *Header) Hash() Hash { return Sum(h.Encode()) }

// DecodeHeader parses a canonical header encoding.
func DecodeHeader(b []byte) (Header, error) {
	var h Header
	r := tlvReader{buf: b}
	for {
		tag, v, ok, err := r.next()
		if err == nil && ok {
			err = r.single(tag)
		}
		if err != nil || !ok {
			return h, err
		}
		var x uint64
		switch tag {
		case hdrTagHeight:
			h.Height, err = decodeU64(tag, v)
		case hdrTagPrevHash:
			h.PrevHash, err = decodeHash(tag, v)
		case hdrTagTime:
			x, err = decodeU64(tag, v)
			h.Time = int64(x)
		case hdrTagProposer:
			h.Proposer, err = decodeStr(tag, v)
		case hdrTagTxCount:
			h.TxCount, err = decodeU64(tag, v)
		case hdrTagTxRoot:
			h.TxRoot, err = decodeHash(tag, v)
		case hdrTagResultRoot:
			h.ResultRoot, err = decodeHash(tag, v)
		default:
			err = fmt.Errorf("%w: header: unknown field %d", ErrInvalid, tag)
		}
		if err != nil {
			return h, fmt.Errorf("header: %w", err)
		}
	}
}

// NewBlock builds the block that applying p on top of prev produces, given
// the verdicts (one per transaction, in order). txIDs may be nil, or the
// already computed IDs of p.Txs.
func NewBlock(prev *Header, p *Proposal, txIDs []Hash, verdicts []Verdict) Block {
	if txIDs == nil {
		txIDs = TxIDs(p.Txs)
	}
	t := p.Time
	if t < prev.Time {
		t = prev.Time // never let the chain's clock run backwards
	}
	h := Header{
		Height:     prev.Height + 1,
		PrevHash:   prev.Hash(),
		Time:       t,
		Proposer:   p.Proposer,
		TxCount:    uint64(len(p.Txs)),
		TxRoot:     MerkleRoot(txIDs),
		ResultRoot: resultRoot(txIDs, verdicts),
	}
	return Block{Header: h, Txs: p.Txs, Verdicts: verdicts}
}

// TxIDs returns the ID of each transaction.
func TxIDs(txs []Tx) []Hash {
	ids := make([]Hash, len(txs))
	for i := range txs {
		ids[i] = txs[i].ID()
	}
	return ids
}

func resultRoot(ids []Hash, vs []Verdict) Hash {
	leaves := make([]Hash, len(vs))
	for i := range vs {
		var id Hash
		if i < len(ids) {
			id = ids[i]
		}
		leaves[i] = vs[i].leaf(id)
	}
	return MerkleRoot(leaves)
}

// CheckContent verifies that the block's transactions and verdicts match
// the counts and Merkle roots in its header. It does not check the link to
// the previous block (see CheckLink).
func (b *Block) CheckContent() error {
	h := &b.Header
	if uint64(len(b.Txs)) != h.TxCount || len(b.Verdicts) != len(b.Txs) {
		return fmt.Errorf("%w: block %d: header says %d transactions, body has %d transactions and %d verdicts",
			ErrInvalid, h.Height, h.TxCount, len(b.Txs), len(b.Verdicts))
	}
	ids := TxIDs(b.Txs)
	if MerkleRoot(ids) != h.TxRoot {
		return fmt.Errorf("%w: block %d: transactions do not match the header's tx root", ErrInvalid, h.Height)
	}
	if resultRoot(ids, b.Verdicts) != h.ResultRoot {
		return fmt.Errorf("%w: block %d: verdicts do not match the header's result root", ErrInvalid, h.Height)
	}
	return nil
}

// CheckLink verifies that h directly follows prev.
func (h *Header) CheckLink(prev *Header) error {
	switch {
	case h.Height != prev.Height+1:
		return fmt.Errorf("%w: block %d follows block %d", ErrInvalid, h.Height, prev.Height)
	case h.PrevHash != prev.Hash():
		return fmt.Errorf("%w: block %d: previous hash %s does not match block %d's hash %s",
			ErrInvalid, h.Height, h.PrevHash, prev.Height, prev.Hash())
	case h.Time < prev.Time:
		return fmt.Errorf("%w: block %d: time runs backwards", ErrInvalid, h.Height)
	}
	return nil
}

// Encode returns the canonical encoding of b.
func (b *Block) Encode() []byte {
	var w tlvWriter
	w.repeated(blkTagHeader, b.Header.Encode())
	for i := range b.Txs {
		w.repeated(blkTagTx, b.Txs[i].Encode())
	}
	for _, v := range b.Verdicts {
		w.repeated(blkTagVerdict, v.encode())
	}
	return w.buf
}

// DecodeBlock parses a canonical block encoding.
func DecodeBlock(b []byte) (Block, error) {
	var blk Block
	r := tlvReader{buf: b}
	sawHeader := false
	for {
		tag, v, ok, err := r.next()
		if err != nil {
			return blk, fmt.Errorf("block: %w", err)
		}
		if !ok {
			if !sawHeader {
				return blk, fmt.Errorf("%w: block without header", ErrInvalid)
			}
			return blk, nil
		}
		switch tag {
		case blkTagHeader:
			if err = r.single(tag); err == nil {
				blk.Header, err = DecodeHeader(v)
				sawHeader = true
			}
		case blkTagTx:
			var t Tx
			t, err = DecodeTx(v)
			blk.Txs = append(blk.Txs, t)
		case blkTagVerdict:
			var vd Verdict
			vd, err = decodeVerdict(v)
			blk.Verdicts = append(blk.Verdicts, vd)
		default:
			err = fmt.Errorf("%w: unknown field %d", ErrInvalid, tag)
		}
		if err != nil {
			return blk, fmt.Errorf("block: %w", err)
		}
	}
}

func (v Verdict) encode() []byte {
	var w tlvWriter
	w.u8(vrdTagCode, uint8(v.Code))
	w.str(vrdTagReason, v.Reason)
	return w.buf
}

func decodeVerdict(b []byte) (Verdict, error) {
	var v Verdict
	r := tlvReader{buf: b}
	for {
		tag, val, ok, err := r.next()
		if err == nil && ok {
			err = r.single(tag)
		}
		if err != nil || !ok {
			if err == nil && verdictNames[v.Code] == "" {
				err = fmt.Errorf("%w: verdict without a known code", ErrInvalid)
			}
			return v, err
		}
		switch tag {
		case vrdTagCode:
			var x uint8
			x, err = decodeU8(tag, val)
			v.Code = VerdictCode(x)
		case vrdTagReason:
			v.Reason, err = decodeStr(tag, val)
		default:
			err = fmt.Errorf("%w: verdict: unknown field %d", ErrInvalid, tag)
		}
		if err != nil {
			return v, err
		}
	}
}

// Encode returns the canonical encoding of p.
func (p *Proposal) Encode() []byte {
	size := 32
	for i := range p.Txs {
		size += len(p.Txs[i].Cert) + 128
	}
	w := tlvWriter{buf: make([]byte, 0, size)}
	w.u64(prpTagTime, uint64(p.Time))
	w.str(prpTagProposer, p.Proposer)
	for i := range p.Txs {
		w.repeated(prpTagTx, p.Txs[i].Encode())
	}
	return w.buf
}

// DecodeProposal parses a canonical proposal encoding. It also returns the
// ID of each transaction, computed from the exact bytes received.
func DecodeProposal(b []byte) (Proposal, []Hash, error) { return decodeProposal(b, true) }

// DecodeProposalTxs is DecodeProposal for a caller that already knows the
// transaction IDs (the node that encoded the proposal): it does not hash
// every transaction again.
func DecodeProposalTxs(b []byte) (Proposal, error) {
	p, _, err := decodeProposal(b, false)
	return p, err
}

func decodeProposal(b []byte, withIDs bool) (Proposal, []Hash, error) {
	var p Proposal
	var ids []Hash
	r := tlvReader{buf: b}
	for {
		tag, v, ok, err := r.next()
		if err == nil && ok && tag != prpTagTx {
			err = r.single(tag)
		}
		if err == nil && !ok && (p.Time == 0 || p.Proposer == "" || len(p.Txs) == 0) {
			err = fmt.Errorf("%w: proposal needs a time, a proposer and transactions", ErrInvalid)
		}
		if err != nil || !ok {
			return p, ids, err
		}
		var x uint64
		switch tag {
		case prpTagTime:
			x, err = decodeU64(tag, v)
			p.Time = int64(x)
		case prpTagProposer:
			p.Proposer, err = decodeStr(tag, v)
		case prpTagTx:
			var t Tx
			if t, err = DecodeTx(v); err == nil {
				p.Txs = append(p.Txs, t)
				if withIDs {
					ids = append(ids, Sum(v))
				}
			}
		default:
			err = fmt.Errorf("%w: unknown field %d", ErrInvalid, tag)
		}
		if err != nil {
			return p, ids, fmt.Errorf("proposal: %w", err)
		}
	}
}
