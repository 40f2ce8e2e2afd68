package raftstore

import (
	"fmt"
	"time"

	"github.com/certchain/certchain/certchain"
	"github.com/hashicorp/raft"
)

// RaftTimeouts are Raft's timers. A zero field takes its value from
// DefaultRaftTimeouts.
type RaftTimeouts struct {
	// Heartbeat is how long a follower goes without hearing from the
	// leader before it starts an election (it checks at random intervals
	// between one and two Heartbeats, so a dead leader is noticed after
	// one to three). The leader sends a heartbeat every tenth of it.
	Heartbeat time.Duration
	// Election is how long a candidate waits for votes (a random time
	// between one and two Elections) before it tries again. At least
	// Heartbeat.
	Election time.Duration
	// LeaderLease is how long a leader keeps leading without hearing from
	// a majority; then it steps down. At most Heartbeat.
	LeaderLease time.Duration
	// Commit is the longest a follower waits to learn that an entry was
	// committed when no new entries or heartbeats bring the news.
	Commit time.Duration
}

// DefaultRaftTimeouts suit validators on one LAN or in one data centre
// (round trips under a few milliseconds). hashicorp/raft's own defaults
// (1 s, 1 s, 500 ms, 50 ms) are for networks with slower, more variable
// round trips; on a LAN they make failover take two seconds and more. See
// doc.go for how these were chosen and docs/operator.md "Running a node" for WANs.
func DefaultRaftTimeouts() RaftTimeouts {
	return RaftTimeouts{Heartbeat: 500 * time.Millisecond, Election: 500 * time.Millisecond,
		LeaderLease: 500 * time.Millisecond, Commit: 50 * time.Millisecond}
}

// WithDefaults returns t with zero fields taken from DefaultRaftTimeouts.
func (t RaftTimeouts) WithDefaults() RaftTimeouts {
	d := DefaultRaftTimeouts()
	for _, f := range []struct{ v, d *time.Duration }{{&t.Heartbeat, &d.Heartbeat}, {&t.Election, &d.Election},
		{&t.LeaderLease, &d.LeaderLease}, {&t.Commit, &d.Commit}} {
		if *f.v == 0 {
			*f.v = *f.d
		}
	}
	return t
}

// minRaftTimeout is the smallest timer Raft accepts.
const minRaftTimeout = 5 * time.Millisecond

// Validate checks the timeouts after defaults are applied, as Raft would,
// with errors that name the settings: each at least 5 ms (Commit 1 ms),
// LeaderLease ≤ Heartbeat ≤ Election.
func (t RaftTimeouts) Validate() error {
	t = t.WithDefaults()
	switch {
	case t.Heartbeat < minRaftTimeout || t.Election < minRaftTimeout || t.LeaderLease < minRaftTimeout:
		return fmt.Errorf("%w: Raft heartbeat, election and lease timeouts must be at least %v", certchain.ErrInvalid, minRaftTimeout)
	case t.Commit < time.Millisecond:
		return fmt.Errorf("%w: Raft commit timeout must be at least 1ms", certchain.ErrInvalid)
	case t.LeaderLease > t.Heartbeat:
		return fmt.Errorf("%w: Raft lease (%v) cannot be longer than the heartbeat timeout (%v)", certchain.ErrInvalid, t.LeaderLease, t.Heartbeat)
	case t.Election < t.Heartbeat:
		return fmt.Errorf("%w: Raft election timeout (%v) cannot be shorter than the heartbeat timeout (%v)", certchain.ErrInvalid, t.Election, t.Heartbeat)
	}
	return nil
}

// apply sets the timeouts (defaults filled in) on a Raft configuration.
func (t RaftTimeouts) apply(rc *raft.Config) {
	t = t.WithDefaults()
	rc.HeartbeatTimeout, rc.ElectionTimeout, rc.LeaderLeaseTimeout, rc.CommitTimeout = t.Heartbeat, t.Election, t.LeaderLease, t.Commit
}
