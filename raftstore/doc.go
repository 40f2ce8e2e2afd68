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
//   - A snapshot restore (a follower that fell behind the compacted log)
//     drops the ledger and loads the snapshot. A marker file, restoring/,
//     is written before the drop (to a temporary name, synced, renamed,
//     directory synced: marker.go) and removed, durably, only after the
//     loaded state is synced. A node that starts and finds it discards its
//     ledger unread and restores the latest snapshot again, so a crash or
//     power cut in the middle never leaves a partial ledger it trusts.
//   - A transaction that is already on the ledger, or earlier in the same
//     block, is decided "duplicate-tx" (Unchanged) and has no effect, or,
//     when the first copy was refused, refused again with its verdict (a
//     publish sent twice in one request by a member that may not publish
//     it is two rejections, never "already published"); the transaction
//     index keeps the first copy's place. A client that lost
//     track of a write (leadership changed, a timeout) therefore sends the
//     same transaction again, and reads the outcome from the ledger.
//
// # Raft timeouts
//
// RaftTimeouts sets Raft's heartbeat, election, leader-lease and commit
// timers. The defaults (500 ms, 500 ms, 500 ms, 50 ms) are for validators
// on one LAN. A follower that hears nothing from the leader for a
// heartbeat timeout starts an election; it looks at random intervals of
// one to two heartbeat timeouts, so after a leader dies the first of two
// followers moves after about 0.5 to 1 s, and a write commits on the new
// leader a few round trips later (BENCHMARKS.md: kill -9 of the leader
// process to the first write committed). hashicorp/raft's defaults (1 s,
// 1 s, 500 ms) took twice as long. Going lower buys little and risks
// spurious elections: heartbeats go every tenth of the heartbeat timeout
// on their own connection and are handled off Raft's main loop, so they
// survive a busy disk, but not a process that is not scheduled for half a
// second. The lease equals the heartbeat timeout (Raft's default is half):
// a leader that cannot reach a majority steps down after it, and a longer
// lease makes a starved leader less likely to step down needlessly; reads
// here never rely on the lease. Across a WAN, raise heartbeat and election
// to several times the worst round trip (docs/operator.md, "Running a node").
//
// # Logs
//
// Raft logs through an hclog sink (raftlog.go) into the node's slog
// logger. Raft's Info messages are Debug here; the node logs each new
// leader at Info itself (observe.go, which also counts elections and
// leader changes: certchain_raft_elections_total,
// certchain_raft_leader_changes_total). Two of Raft's warnings describe
// every start and are Debug: "heartbeat timeout reached, starting
// election" from a node that has known no leader since it started (a
// single node elects itself this way at each start; a node that loses a
// leader it knew still warns), and "no known peers, aborting election"
// from a node without a configuration yet (one waiting to be added). A
// single-node start therefore logs no warning (TestSingleNodeStartLogsNoWarnings).
package raftstore
