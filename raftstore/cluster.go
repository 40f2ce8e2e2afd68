package raftstore

import (
	"context"
	"errors"
	"time"

	"github.com/certchain/certchain/certchain"
	"github.com/hashicorp/raft"
)

// Server is one member of the Raft configuration, as seen by this node.
type Server struct {
	ID       string `json:"id"`
	Raft     string `json:"raft_address"`
	API      string `json:"api,omitempty"`
	Voter    bool   `json:"voter"`
	Leader   bool   `json:"leader"`
	Removing bool   `json:"removing,omitempty"` // removed on the ledger, still in Raft
}

// Servers returns the current Raft configuration.
func (n *Node) Servers() ([]Server, error) {
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, err
	}
	_, leader := n.raft.LeaderWithID()
	var out []Server
	for _, s := range f.Configuration().Servers {
		r, api := SplitAddress(s.Address)
		out = append(out, Server{ID: string(s.ID), Raft: r, API: api, Voter: s.Suffrage == raft.Voter, Leader: s.ID == leader})
	}
	return out, nil
}

// Status is what a node says about itself (GET /v1/cluster/self, which
// other nodes probe for `certchain cluster status`).
type Status struct {
	ID string `json:"id"`
	// State is the node's Raft state: Follower, Candidate, Leader or
	// Shutdown.
	State string `json:"raft_state"`
	// Leader is the ID of the leader the node knows (empty: none).
	Leader string `json:"leader,omitempty"`
	// Height is the height of the newest block the node has applied.
	Height uint64 `json:"height"`
}

// Status reports this node's Raft state, the leader it knows and its
// applied height.
func (n *Node) Status() Status {
	_, leader := n.raft.LeaderWithID()
	return Status{ID: n.cfg.ID, State: n.raftState().String(), Leader: string(leader), Height: n.state.Head().Height}
}

// reconcileEvery is how often the leader re-checks that Raft's
// configuration matches the validator set on the ledger (it also does so
// at once when it becomes leader and after a block that changes the set).
const reconcileEvery = 5 * time.Second

// reconcile keeps Raft's configuration in step with the ledger: the leader
// adds recorded nodes that are missing (or moved, or changed suffrage) and
// removes nodes the ledger marks removed. Nodes the ledger never recorded
// (the founder) are left alone. A leader that crashed between a node-add
// block and the Raft change therefore heals on the next leader.
func (n *Node) reconcile(ctx context.Context, kick <-chan struct{}) {
	t := time.NewTicker(reconcileEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-kick:
		case <-t.C:
		case <-n.raft.LeaderCh():
		}
		if n.IsLeader() {
			if err := n.reconcileOnce(); err != nil && !errors.Is(err, raft.ErrNotLeader) {
				n.cfg.Logger.Warn("reconcile cluster membership", "err", err)
			}
		}
	}
}

func (n *Node) reconcileOnce() error {
	nodes, err := n.state.Nodes()
	if err != nil {
		return err
	}
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return err
	}
	current := map[raft.ServerID]raft.Server{}
	for _, s := range f.Configuration().Servers {
		current[s.ID] = s
	}
	for _, rec := range nodes {
		if err := n.reconcileNode(rec, current); err != nil {
			return err
		}
	}
	return nil
}

func (n *Node) reconcileNode(rec *certchain.NodeRecord, current map[raft.ServerID]raft.Server) error {
	id := raft.ServerID(rec.ID)
	cur, present := current[id]
	if rec.Removed {
		if !present {
			return nil
		}
		n.cfg.Logger.Info("removing node from raft", "node", rec.ID)
		return n.raft.RemoveServer(id, 0, 0).Error()
	}
	want := JoinAddress(rec.Address, rec.API)
	wantVoter := !rec.Replica
	if present && cur.Address == want && (cur.Suffrage == raft.Voter) == wantVoter {
		return nil
	}
	n.cfg.Logger.Info("adding node to raft", "node", rec.ID, "address", want, "voter", wantVoter)
	if wantVoter {
		return n.raft.AddVoter(id, want, 0, 0).Error()
	}
	return n.raft.AddNonvoter(id, want, 0, 0).Error()
}

// kickReconcile asks the reconciler to run now (never blocks).
func (n *Node) kickReconcile() {
	select {
	case n.kick <- struct{}{}:
	default:
	}
}
