package certchain

import "fmt"

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
	// Org is the organisation that runs the node (networks with
	// organisations): the node's certificate chains to that
	// organisation's CA and names ID.
	Org string `json:"org,omitempty"`
}

// Field tags of the NodeRecord encoding (part of the disk format).
const (
	nodeTagID      = 1
	nodeTagAddress = 2
	nodeTagAPI     = 3
	nodeTagReplica = 4
	nodeTagRemoved = 5
	nodeTagHeight  = 6
	nodeTagBy      = 7
	nodeTagOrg     = 8
)

// Encode returns the canonical encoding of n (TLV, see the package doc).
func (n *NodeRecord) Encode() []byte {
	var w tlvWriter
	w.str(nodeTagID, n.ID)
	w.str(nodeTagAddress, n.Address)
	w.str(nodeTagAPI, n.API)
	if n.Replica {
		w.u8(nodeTagReplica, 1)
	}
	if n.Removed {
		w.u8(nodeTagRemoved, 1)
	}
	w.u64(nodeTagHeight, n.Height)
	w.str(nodeTagBy, n.By)
	w.str(nodeTagOrg, n.Org)
	return w.buf
}

// DecodeNodeRecord parses a canonical node record encoding. A node record
// needs an ID.
func DecodeNodeRecord(b []byte) (*NodeRecord, error) {
	var n NodeRecord
	err := decodeFields(b, n.setField)
	if err == nil && n.ID == "" {
		err = fmt.Errorf("%w: node record needs an ID", ErrInvalid)
	}
	if err != nil {
		return nil, fmt.Errorf("node record: %w", err)
	}
	return &n, nil
}

func (n *NodeRecord) setField(tag uint64, v []byte) (err error) {
	switch tag {
	case nodeTagID:
		n.ID, err = decodeStr(tag, v)
	case nodeTagAddress:
		n.Address, err = decodeStr(tag, v)
	case nodeTagAPI:
		n.API, err = decodeStr(tag, v)
	case nodeTagReplica:
		n.Replica, err = decodeTrue(tag, v)
	case nodeTagRemoved:
		n.Removed, err = decodeTrue(tag, v)
	case nodeTagHeight:
		n.Height, err = decodeU64(tag, v)
	case nodeTagBy:
		n.By, err = decodeStr(tag, v)
	case nodeTagOrg:
		n.Org, err = decodeStr(tag, v)
	default:
		err = fmt.Errorf("%w: unknown field %d", ErrInvalid, tag)
	}
	return err
}
