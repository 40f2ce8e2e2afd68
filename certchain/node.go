package certchain

// NodeRecord is a validator node as the ledger records it: the desired
// membership of the Raft cluster, which the leader keeps Raft's
// configuration in step with.
type NodeRecord struct {
	ID      string `json:"id"`
	Address string `json:"raft_address"`
	API     string `json:"api"`
	Replica bool   `json:"replica,omitempty"`
	// Removed marks a node an admin removed; it stays on record so a
	// node that was removed is not silently re-added by a stale leader.
	Removed bool   `json:"removed,omitempty"`
	Height  uint64 `json:"height"` // block of the last change
	By      string `json:"by"`     // the admin who made it
}
