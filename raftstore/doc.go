// Package raftstore is the replicated ledger: hashicorp/raft for ordering,
// Badger for the Raft log and for the ledger state, and the Node that ties
// them to submitters.
//
// It imports certchain (domain) and validator (rules); the HTTP edges import
// it, never the reverse.
//
// # Data directory
//
//	ledger/     Badger: blocks, records, indexes, head, applied index (keys.go)
//	raft/       Badger: Raft log and stable store (logstore.go)
//	snapshots/  Raft snapshots: Badger backup streams of ledger/
//
// Both Badger databases are opened with SyncWrites: Badger does not fsync
// by default, and an acknowledged write must survive kill -9.
//
// # Invariants
//
//   - A block, the state it produced and the Raft index it came from are
//     written in one Badger transaction (State.Apply). A restart therefore
//     neither applies a block twice (entries at or below the stored applied
//     index are skipped) nor loses one (Raft replays what is missing from
//     its log).
//   - Raft is told not to restore the latest snapshot on start
//     (NoSnapshotRestoreOnStart): the state is already on disk. Snapshots
//     are only for followers that fell behind the compacted log.
//   - Every node decides every transaction itself at the block's time; a
//     rejected transaction is a recorded verdict, not an FSM error. The FSM
//     panics only on an entry it cannot decode, so replicas never silently
//     diverge.
//   - The entry node prechecks each submission against its current state
//     with the same rules (State.Precheck); what fails is answered at once
//     and never reaches Raft, so a rejected request leaves the ledger as it
//     was.
//   - Blocks must fit one Badger transaction: the batcher bounds them by
//     count (genesis policy) and bytes (Config.BlockMaxBytes), and values
//     above a small threshold live in Badger's value log, so a transaction
//     holds only pointers to them.
//   - Lookups that deciding a new certificate makes and mostly misses
//     (its record, its identity, its transaction, its key among the
//     blocked ones) are answered in memory when the answer is "no": a
//     Bloom filter of the record, identity and transaction keys
//     (keyFilter) and the set of blocked keys (blockedSet). Both are
//     supersets of what any snapshot of the ledger holds, by construction
//     (a key goes in before the block that writes it is committed, and
//     never comes out), so a "no" is certain and every node decides as if
//     it had asked Badger; a "maybe" asks Badger. A Badger miss searches
//     every memtable's skiplist, which cost a bulk publish about a tenth
//     of a node's CPU before.
package raftstore
