package raftstore

import (
	"fmt"
	"io"

	"github.com/certchain/certchain/certchain"
	"github.com/dgraph-io/badger/v4"
	"github.com/hashicorp/raft"
)

// Entry types: the first byte of every Raft command entry.
const (
	entryProposal byte = 1
	// entryObjects carries replicated object writes (objects.go).
	entryObjects byte = 2
)

// encodeProposal makes the Raft entry for p.
func encodeProposal(p *certchain.Proposal) []byte {
	return append([]byte{entryProposal}, p.Encode()...)
}

// fsm adapts State to raft.FSM. It only dispatches; the work is in State.
// An entry it cannot decode panics: replicas must never silently diverge.
type fsm struct {
	state  *State
	onDone func(*Applied)
	// marker is a file that exists while a restore is under way; a node
	// that finds it at start restores its latest snapshot again. Empty:
	// none (a state restored outside a node, in tests).
	marker restoreMarker
	// onRestore, if set, is called after each completed restore.
	onRestore func()
}

// Apply implements raft.FSM. The response is *Applied, or nil for an entry
// applied before a restart.
func (f *fsm) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand || len(l.Data) == 0 {
		return nil
	}
	switch l.Data[0] {
	case entryProposal:
		p, ids, err := f.decodeProposal(l.Data)
		if err != nil {
			panic(fmt.Sprintf("raftstore: undecodable proposal at index %d: %v", l.Index, err))
		}
		a, err := f.state.Apply(l.Index, &p, ids)
		if err != nil {
			// Storage failed: carrying on would skip this block here only.
			// Stop; on restart Raft replays from the stored applied index.
			panic(fmt.Sprintf("raftstore: cannot apply index %d: %v", l.Index, err))
		}
		if f.onDone != nil {
			f.onDone(a)
		}
		return a
	case entryObjects:
		writes, err := DecodeObjects(l.Data[1:])
		if err != nil {
			panic(fmt.Sprintf("raftstore: undecodable object writes at index %d: %v", l.Index, err))
		}
		a, err := f.state.applyObjects(l.Index, writes)
		if err != nil {
			panic(fmt.Sprintf("raftstore: cannot apply index %d: %v", l.Index, err))
		}
		return a
	default:
		panic(fmt.Sprintf("raftstore: unknown entry type %d at index %d", l.Data[0], l.Index))
	}
}

// decodeProposal decodes a proposal entry and the IDs of its
// transactions: those the batcher recorded for it, if this node proposed
// it, else hashed from the bytes.
func (f *fsm) decodeProposal(data []byte) (certchain.Proposal, []certchain.Hash, error) {
	if ids := f.state.proposed.take(data); ids != nil {
		p, err := certchain.DecodeProposalTxs(data[1:])
		if err == nil && len(p.Txs) == len(ids) {
			return p, ids, nil
		}
	}
	return certchain.DecodeProposal(data[1:])
}

// Snapshot implements raft.FSM.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) { return &snapshot{db: f.state.db}, nil }

// Restore implements raft.FSM: it discards all state and loads the
// snapshot.
//
// The marker is on disk (file and directory entry synced) before the first
// record is dropped, and removed (durably) only once the loaded state is
// synced: a crash or power cut anywhere in between leaves the marker, and
// the node restores the snapshot again when it starts instead of trusting
// a partial ledger.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	if err := f.marker.set(); err != nil {
		return fmt.Errorf("restore: mark: %w", err)
	}
	if err := f.state.restore(rc); err != nil {
		return err
	}
	if err := f.state.db.Sync(); err != nil {
		return fmt.Errorf("restore: sync state: %w", err)
	}
	if f.onRestore != nil {
		f.onRestore()
	}
	if err := f.marker.clear(); err != nil {
		return fmt.Errorf("restore: unmark: %w", err)
	}
	return nil
}

// snapshot streams the ledger database as a Badger backup. The stream runs
// in Persist, concurrently with Apply, in one read transaction (NumGo = 1),
// so it is a consistent point in time at or after the snapshot's Raft
// index. That is correct because the state carries its own applied index:
// after a restore, replayed entries up to it are skipped.
type snapshot struct{ db *badger.DB }

// Persist implements raft.FSMSnapshot.
func (s *snapshot) Persist(sink raft.SnapshotSink) error {
	stream := s.db.NewStream()
	stream.NumGo = 1
	stream.LogPrefix = "raftstore.snapshot"
	if _, err := stream.Backup(sink, 0); err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("snapshot: %w", err)
	}
	return sink.Close()
}

// Release implements raft.FSMSnapshot.
func (s *snapshot) Release() {}

func (s *State) restore(r io.Reader) error {
	if err := s.db.DropAll(); err != nil {
		return fmt.Errorf("restore: drop state: %w", err)
	}
	if err := s.db.Load(r, 256); err != nil {
		return fmt.Errorf("restore: load snapshot: %w", err)
	}
	s.filter.build(s.db)
	if err := s.load(); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	s.mu.Lock()
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
	return nil
}
