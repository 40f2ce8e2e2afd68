package raftstore

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strings"

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
	// prefixRecord + certificate ID (32) -> record encoding
	// (certchain.Record.Encode; JSON in ledgers written before it).
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
	// prefixNode + node ID -> NodeRecord encoding (JSON in ledgers
	// written before it): the validator set the ledger records (desired
	// Raft membership).
	prefixNode = []byte("n/")
	// prefixOCSP1 + SHA-1 of the issuer key (20) + serial (big-endian
	// magnitude) -> ID (32): OCSP CertIDs hashed with SHA-1 ...
	prefixOCSP1 = []byte("o1/")
	// prefixOCSP256 + SHA-256 of the issuer key (32) + serial -> ID (32):
	// ... and with SHA-256.
	prefixOCSP256 = []byte("o2/")
	// prefixBlocked + SPKI SHA-256 (32) -> BlockedKey encoding: revoked
	// public keys.
	prefixBlocked = []byte("x/")
	// prefixMember + name -> MemberRecord encoding: the ledger's changes
	// to the genesis member set.
	prefixMember = []byte("mb/")
	// prefixOCSPDelegate + delegate SPKI SHA-256 (32) + issuer SPKI
	// SHA-256 (32) -> OCSPDelegate encoding: delegated OCSP signers CA
	// members registered, found by the node holding the delegate's key.
	prefixOCSPDelegate = []byte("od/")
	// prefixObject + key -> version (8 BE: the Raft index that wrote it)
	// + value: replicated objects (objects.go), outside the ledger proper.
	prefixObject = []byte("a/")
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

func blockKey(height uint64) []byte {
	return binary.BigEndian.AppendUint64(withPrefix(prefixBlock, 8), height)
}
func recordKey(id certchain.Hash) []byte { return append(withPrefix(prefixRecord, len(id)), id[:]...) }
func identityKey(identity string) []byte {
	return append(withPrefix(prefixIdentity, len(identity)), identity...)
}
func blockedKey(h certchain.Hash) []byte {
	return append(withPrefix(prefixBlocked, len(h)), h[:]...)
}
func ocspDelegateKey(keyHash, issuerHash certchain.Hash) []byte {
	return join(prefixOCSPDelegate, keyHash[:], issuerHash[:])
}
func memberKey(name string) []byte   { return append(withPrefix(prefixMember, len(name)), name...) }
func nodeKey(id string) []byte       { return append(withPrefix(prefixNode, len(id)), id...) }
func txKey(id certchain.Hash) []byte { return append(withPrefix(prefixTx, len(id)), id[:]...) }

// withPrefix returns a new key holding prefix, with room for n more bytes.
func withPrefix(prefix []byte, n int) []byte {
	return append(make([]byte, 0, len(prefix)+n), prefix...)
}

// ocspKey is the index key of a certificate for a CertID whose issuer key
// hash (SHA-1 or SHA-256, told apart by length) is keyHash.
func ocspKey(keyHash, serial []byte) []byte {
	if len(keyHash) == sha1.Size {
		return join(prefixOCSP1, keyHash, serial)
	}
	return join(prefixOCSP256, keyHash, serial)
}

// indexKeys are the keys of the indexes a new record r is entered in
// (submitter, key hash, OCSP with SHA-1 and with SHA-256), built in one
// allocation.
func indexKeys(r *certchain.Record) ([4][]byte, error) {
	var keys [4][]byte
	digits, ok := serialDigits(r.Serial)
	if !ok {
		return keys, fmt.Errorf("record %s: serial %q is not hex", r.ID, r.Serial)
	}
	s1, s256 := sha1.Sum(r.IssuerKey), sha256.Sum256(r.IssuerKey)
	serialLen := (len(digits) + 1) / 2
	buf := make([]byte, 0, len(prefixSubmitter)+len(r.Submitter)+1+len(r.ID)+
		len(prefixKey)+len(r.KeyHash)+len(r.ID)+
		len(prefixOCSP1)+len(s1)+serialLen+len(prefixOCSP256)+len(s256)+serialLen)
	buf = append(append(append(append(buf, prefixSubmitter...), r.Submitter...), 0), r.ID[:]...)
	keys[0] = buf[:len(buf):len(buf)]
	start := len(buf)
	buf = append(append(append(buf, prefixKey...), r.KeyHash[:]...), r.ID[:]...)
	keys[1], start = buf[start:len(buf):len(buf)], len(buf)
	buf = appendSerial(append(append(buf, prefixOCSP1...), s1[:]...), digits)
	keys[2], start = buf[start:len(buf):len(buf)], len(buf)
	buf = appendSerial(append(append(buf, prefixOCSP256...), s256[:]...), digits)
	keys[3] = buf[start:len(buf):len(buf)]
	return keys, nil
}

// serialDigits returns the hex digits of serial s without its sign and
// leading zeros; ok is false where big.Int's SetString(s, 16) fails (an
// optional sign, then one or more hex digits of either case).
func serialDigits(s string) (digits string, ok bool) {
	if s != "" && (s[0] == '-' || s[0] == '+') {
		s = s[1:]
	}
	if s == "" {
		return "", false
	}
	for i := range len(s) {
		if _, ok := hexDigit(s[i]); !ok {
			return "", false
		}
	}
	return strings.TrimLeft(s, "0"), true
}

// appendSerial appends the big-endian magnitude of digits (from
// serialDigits), as big.Int's Bytes would: zero appends nothing.
func appendSerial(b []byte, digits string) []byte {
	if len(digits)%2 == 1 {
		lo, _ := hexDigit(digits[0])
		b, digits = append(b, lo), digits[1:]
	}
	for i := 0; i < len(digits); i += 2 {
		hi, _ := hexDigit(digits[i])
		lo, _ := hexDigit(digits[i+1])
		b = append(b, hi<<4|lo)
	}
	return b
}

func hexDigit(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
