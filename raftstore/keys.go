package raftstore

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/big"

	"github.com/certchain/certchain/certchain"
)

// Every key of the ledger database, in one place (the Raft log lives in its
// own database, see logstore.go). Values are described beside each prefix.
var (
	// keyApplied -> 8-byte big-endian Raft index of the last applied entry.
	keyApplied = []byte("m/applied")
	// keyHead -> header encoding of the newest block.
	keyHead = []byte("m/head")
	// prefixBlock + height (8 bytes BE) -> block encoding.
	prefixBlock = []byte("b/")
	// prefixRecord + certificate ID (32) -> record JSON.
	prefixRecord = []byte("c/")
	// prefixIdentity + identity -> ID (32) of the self-signed record that
	// currently holds that identity (good or suspended).
	prefixIdentity = []byte("i/")
	// prefixSubmitter + member + 0x00 + ID (32) -> empty.
	prefixSubmitter = []byte("s/")
	// prefixKey + SPKI SHA-256 (32) + ID (32) -> empty.
	prefixKey = []byte("k/")
	// prefixTx + tx ID (32) -> height (8 BE) + position in block (4 BE).
	prefixTx = []byte("t/")
	// prefixNode + node ID -> NodeRecord JSON: the validator set the
	// ledger records (desired Raft membership).
	prefixNode = []byte("n/")
	// prefixOCSP1 + SHA-1 of the issuer key (20) + serial (big-endian
	// magnitude) -> ID (32): OCSP CertIDs hashed with SHA-1 ...
	prefixOCSP1 = []byte("o1/")
	// prefixOCSP256 + SHA-256 of the issuer key (32) + serial -> ID (32):
	// ... and with SHA-256.
	prefixOCSP256 = []byte("o2/")
)

func join(parts ...[]byte) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	out := make([]byte, 0, n)
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func blockKey(height uint64) []byte           { return join(prefixBlock, u64(height)) }
func recordKey(id certchain.Hash) []byte      { return join(prefixRecord, id[:]) }
func identityKey(identity string) []byte      { return join(prefixIdentity, []byte(identity)) }
func nodeKey(id string) []byte                { return join(prefixNode, []byte(id)) }
func txKey(id certchain.Hash) []byte          { return join(prefixTx, id[:]) }
func keyIndexKey(k, id certchain.Hash) []byte { return join(prefixKey, k[:], id[:]) }
func submitterKey(member string, id certchain.Hash) []byte {
	return join(prefixSubmitter, []byte(member), []byte{0}, id[:])
}

// ocspKey is the index key of a certificate for a CertID whose issuer key
// hash (SHA-1 or SHA-256, told apart by length) is keyHash.
func ocspKey(keyHash, serial []byte) []byte {
	if len(keyHash) == sha1.Size {
		return join(prefixOCSP1, keyHash, serial)
	}
	return join(prefixOCSP256, keyHash, serial)
}

// ocspKeys are both index keys of r.
func ocspKeys(r *certchain.Record) ([][]byte, error) {
	serial, ok := new(big.Int).SetString(r.Serial, 16)
	if !ok {
		return nil, fmt.Errorf("record %s: serial %q is not hex", r.ID, r.Serial)
	}
	s1, s256 := sha1.Sum(r.IssuerKey), sha256.Sum256(r.IssuerKey)
	return [][]byte{ocspKey(s1[:], serial.Bytes()), ocspKey(s256[:], serial.Bytes())}, nil
}
