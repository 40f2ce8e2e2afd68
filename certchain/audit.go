package certchain

import (
	"errors"
	"fmt"
)

// ChainProblem names the first block of a chain that fails verification.
type ChainProblem struct {
	Height uint64
	Err    error
}

func (p *ChainProblem) Error() string { return fmt.Sprintf("block %d: %v", p.Height, p.Err) }
func (p *ChainProblem) Unwrap() error { return p.Err }

// VerifyChain recomputes a chain from the genesis block to head: each
// block's counts and Merkle roots, each link to the previous block's hash,
// and head against the last block. get returns the block at a height
// (ErrNotFound if there is none). It returns how many blocks verified and,
// if one fails, a *ChainProblem naming the first bad block; other errors
// (from get) are returned as they are.
func VerifyChain(get func(height uint64) (*Block, error), head *Header) (uint64, error) {
	var prev *Header
	for h := uint64(0); h <= head.Height; h++ {
		blk, err := get(h)
		if errors.Is(err, ErrNotFound) {
			return h, &ChainProblem{h, fmt.Errorf("%w: block is missing", ErrInvalid)}
		}
		if errors.Is(err, ErrInvalid) {
			return h, &ChainProblem{h, err}
		}
		if err != nil {
			return h, err
		}
		if err := verifyBlock(blk, prev); err != nil {
			return h, &ChainProblem{h, err}
		}
		prev = &blk.Header
	}
	if prev.Hash() != head.Hash() {
		return head.Height + 1, &ChainProblem{head.Height, fmt.Errorf("%w: stored head does not match the block", ErrInvalid)}
	}
	return head.Height + 1, nil
}

func verifyBlock(blk *Block, prev *Header) error {
	if prev == nil { // genesis: no transactions, no link
		if blk.Header.Height != 0 || len(blk.Txs) != 0 || !blk.Header.PrevHash.IsZero() {
			return fmt.Errorf("%w: block 0 is not a genesis block", ErrInvalid)
		}
		return nil
	}
	if err := blk.Header.CheckLink(prev); err != nil {
		return err
	}
	return blk.CheckContent()
}
