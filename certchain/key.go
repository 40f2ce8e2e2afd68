package certchain

import (
	"fmt"
	"time"
)

// BlockedKey is a public key an admin (or the member that owns its
// devices) revoked because its private key leaked: every certificate that
// carried it was revoked in the same transaction, and no later publish or
// renewal with it is accepted.
type BlockedKey struct {
	// KeyHash is SHA-256 of the SubjectPublicKeyInfo.
	KeyHash Hash   `json:"key_sha256"`
	Reason  Reason `json:"reason"`
	By      string `json:"by"` // the member that revoked it
	// Time and Height are the block that blocked the key; TxID its
	// transaction.
	Time   time.Time `json:"time"`
	Height uint64    `json:"height"`
	TxID   Hash      `json:"tx"`
	// Revoked counts the certificates the transaction revoked.
	Revoked uint64 `json:"revoked"`
}

// Field tags of the BlockedKey encoding (part of the disk format).
const (
	keyTagHash    = 1
	keyTagReason  = 2
	keyTagBy      = 3
	keyTagTime    = 4
	keyTagHeight  = 5
	keyTagTx      = 6
	keyTagRevoked = 7
)

// Encode returns the canonical encoding of k (TLV, see the package doc).
func (k *BlockedKey) Encode() []byte {
	var w tlvWriter
	w.hash(keyTagHash, k.KeyHash)
	w.u8(keyTagReason, uint8(k.Reason))
	w.str(keyTagBy, k.By)
	w.time(keyTagTime, k.Time)
	w.u64(keyTagHeight, k.Height)
	w.hash(keyTagTx, k.TxID)
	w.u64(keyTagRevoked, k.Revoked)
	return w.buf
}

// DecodeBlockedKey parses a canonical blocked key encoding.
func DecodeBlockedKey(b []byte) (*BlockedKey, error) {
	var k BlockedKey
	err := decodeFields(b, k.setField)
	if err == nil && k.KeyHash.IsZero() {
		err = fmt.Errorf("%w: blocked key needs its hash", ErrInvalid)
	}
	if err != nil {
		return nil, fmt.Errorf("blocked key: %w", err)
	}
	return &k, nil
}

func (k *BlockedKey) setField(tag uint64, v []byte) (err error) {
	switch tag {
	case keyTagHash:
		k.KeyHash, err = decodeHash(tag, v)
	case keyTagReason:
		var x uint8
		x, err = decodeU8(tag, v)
		k.Reason = Reason(x)
	case keyTagBy:
		k.By, err = decodeStr(tag, v)
	case keyTagTime:
		k.Time, err = decodeTime(tag, v)
	case keyTagHeight:
		k.Height, err = decodeU64(tag, v)
	case keyTagTx:
		k.TxID, err = decodeHash(tag, v)
	case keyTagRevoked:
		k.Revoked, err = decodeU64(tag, v)
	default:
		err = fmt.Errorf("%w: unknown field %d", ErrInvalid, tag)
	}
	return err
}
