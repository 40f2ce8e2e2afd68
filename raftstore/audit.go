package raftstore

import (
	"fmt"

	"github.com/certchain/certchain/certchain"
	"github.com/dgraph-io/badger/v4"
)

// AuditReport is the outcome of recomputing the stored hash chain.
type AuditReport struct {
	Blocks      uint64         // blocks that verified, genesis included
	Head        uint64         // height of the stored head
	HeadHash    certchain.Hash // hash of the stored head
	GenesisHash certchain.Hash // tx root of block 0
	// Problem names the first bad block; nil when the chain verifies.
	Problem *certchain.ChainProblem
}

// Audit recomputes the whole chain stored in the ledger database (see
// certchain.VerifyChain) and reports the first block that fails.
func Audit(db *badger.DB) (*AuditReport, error) {
	rep := &AuditReport{}
	err := db.View(func(txn *badger.Txn) error {
		hb, err := getValue(txn, keyHead)
		if err != nil {
			return fmt.Errorf("read head: %w", err)
		}
		head, err := certchain.DecodeHeader(hb)
		if err != nil {
			rep.Problem = &certchain.ChainProblem{Err: fmt.Errorf("stored head: %w", err)}
			return nil
		}
		rep.Head, rep.HeadHash = head.Height, head.Hash()
		get := func(h uint64) (*certchain.Block, error) {
			b, err := getBlock(txn, h)
			if h == 0 && err == nil {
				rep.GenesisHash = b.Header.TxRoot
			}
			return &b, err
		}
		rep.Blocks, err = certchain.VerifyChain(get, &head)
		return asProblem(rep, err)
	})
	return rep, err
}

func asProblem(rep *AuditReport, err error) error {
	if p, ok := err.(*certchain.ChainProblem); ok {
		rep.Problem = p
		return nil
	}
	return err
}
