package raftstore

import (
	"context"

	"github.com/hashicorp/raft"
)

// observer follows Raft's state and leader changes: it counts elections
// and leader changes (metrics) and logs each new leader at Info.
type observer struct {
	n      *Node
	ch     chan raft.Observation
	obs    *raft.Observer
	leader raft.ServerID // the last leader seen
}

// newObserver registers with Raft at once (before bootstrap, so the first
// election is counted); run consumes what it sees.
func newObserver(n *Node) *observer {
	o := &observer{n: n, ch: make(chan raft.Observation, 64)}
	o.obs = raft.NewObserver(o.ch, false, func(ob *raft.Observation) bool {
		switch ob.Data.(type) {
		case raft.RaftState, raft.LeaderObservation:
			return true
		}
		return false
	})
	n.raft.RegisterObserver(o.obs)
	return o
}

func (o *observer) run(ctx context.Context) {
	defer o.n.raft.DeregisterObserver(o.obs)
	for {
		select {
		case <-ctx.Done():
			return
		case ob := <-o.ch:
			o.see(ob.Data)
		}
	}
}

func (o *observer) see(data any) {
	switch d := data.(type) {
	case raft.RaftState:
		if d == raft.Candidate {
			o.n.metrics.elections.Inc()
		}
	case raft.LeaderObservation:
		if d.LeaderID == "" || d.LeaderID == o.leader {
			return
		}
		o.leader = d.LeaderID
		o.n.metrics.leaderChanges.Inc()
		o.n.cfg.Logger.Info("raft leader", "leader", string(d.LeaderID), "this_node", d.LeaderID == raft.ServerID(o.n.cfg.ID))
	}
}
