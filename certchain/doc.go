// Package certchain is the domain of the certificate ledger: transactions,
// blocks, verdicts, certificate records and their status transitions, the
// genesis document, canonical encodings, hashing and Merkle trees.
//
// It imports only the standard library and does no I/O: no files, no
// network, no clock. Time always arrives as a value (a block's timestamp),
// never from time.Now. A test (deps_test.go) keeps it that way.
//
// # Canonical encodings (wire and disk format)
//
// Transactions, blocks, and the ledger state's certificate and node records
// (Record.Encode, NodeRecord.Encode: disk format only, never hashed) are
// encoded as TLV records: each field is
// (tag uvarint, length uvarint, value bytes), fields in ascending tag order,
// a field with its zero value omitted, a repeated field repeated in order.
// Integers inside a value are big-endian fixed width; strings are UTF-8.
// An unknown tag, a field out of order or trailing bytes are decoding errors,
// so one logical value has exactly one encoding and its hash is stable.
// Golden files under testdata/ pin these bytes; regenerate them only on a
// deliberate format change with `go test ./certchain -update`.
//
//   - Tx ID = SHA-256 of the transaction's encoding.
//   - Merkle roots follow RFC 6962 §2.1: leaf = SHA-256(0x00 || data),
//     node = SHA-256(0x01 || left || right), empty tree = SHA-256("").
//   - TxRoot is the Merkle root over the transaction IDs of a block;
//     ResultRoot over each transaction's verdict (ID, code, reason), so a
//     verdict edited on disk is detected like an edited transaction.
//   - Block hash = SHA-256 of the header's encoding (which carries both roots
//     and the previous block's hash), so the chain is tamper-evident.
//
// # Why the leader proposes blocks without height or previous hash
//
// The Raft entry carries a Proposal: timestamp, proposer and transactions.
// Height and previous hash are derived when the proposal is applied, from the
// node's own chain head. Every node applies the same entries in the same
// order, so every node derives the same header; and the leader can pipeline
// proposals without waiting for the previous block to be applied.
// Timestamps are clamped to be non-decreasing at apply time for the same
// reason.
package certchain
