package certchain

import "crypto/sha256"

// MerkleRoot returns the RFC 6962 §2.1 Merkle tree hash of leaves (each leaf
// is hashed as SHA-256(0x00 || leaf)). The root of no leaves is SHA-256("").
func MerkleRoot(leaves []Hash) Hash {
	if len(leaves) == 0 {
		return sha256.Sum256(nil)
	}
	level := make([]Hash, len(leaves))
	var buf [1 + 2*len(Hash{})]byte
	for i, l := range leaves {
		buf[0] = 0x00
		copy(buf[1:], l[:])
		level[i] = sha256.Sum256(buf[:1+len(l)])
	}
	return merkleLevel(level)
}

// merkleLevel folds already-hashed nodes up to the root. RFC 6962 splits at
// the largest power of two below n; pairing left to right and carrying an odd
// node up unchanged produces the same tree.
func merkleLevel(level []Hash) Hash {
	var buf [1 + 2*len(Hash{})]byte
	buf[0] = 0x01
	for len(level) > 1 {
		next := level[:0:0]
		for i := 0; i+1 < len(level); i += 2 {
			copy(buf[1:], level[i][:])
			copy(buf[33:], level[i+1][:])
			next = append(next, sha256.Sum256(buf[:]))
		}
		if len(level)%2 == 1 {
			next = append(next, level[len(level)-1])
		}
		level = next
	}
	return level[0]
}
