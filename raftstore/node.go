package raftstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/certchain/certchain/certchain"
	"github.com/dgraph-io/badger/v4"
	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"
)

// Config configures a Node. The zero value of each optional field is
// documented beside it.
type Config struct {
	// ID names the node: its Raft server ID and the proposer of its blocks.
	ID string
	// Dir is the data directory (ledger/, raft/, snapshots/ below it).
	Dir string
	// RaftAddr is the Raft bind address (host:port; port 0 picks one).
	RaftAddr string
	// RaftAdvertise is the Raft address other nodes dial. Empty: the
	// address the listener got.
	RaftAdvertise string
	// API is the base URL of this node's API (https://host:port), which
	// other nodes forward writes to. Empty: this node cannot be a leader
	// that followers forward to.
	API string
	// RaftTLS secures Raft traffic with mutual TLS between node
	// certificates. Nil: plain TCP, for explicit development mode only.
	RaftTLS *RaftTLS
	// Forwarder sends writes a follower receives to the leader. Nil: a
	// follower answers certchain.ErrNotLeader.
	Forwarder Forwarder
	// WrapStream, if set, wraps the Raft stream layer (fault injection in
	// tests: dropping a node's traffic to partition it).
	WrapStream func(raft.StreamLayer) raft.StreamLayer
	// Genesis is the network's founding document.
	Genesis *certchain.Genesis
	// Bootstrap makes a node with no Raft state found a single-voter
	// cluster of itself.
	Bootstrap bool
	// SmallMemory shrinks Badger's caches (tests, many nodes per process).
	SmallMemory bool
	// MaxPending bounds transactions waiting for a block; beyond it Submit
	// answers certchain.ErrBusy. Zero: 50,000.
	MaxPending int
	// MaxInflight bounds proposals replicated but not yet applied. Zero: 4.
	MaxInflight int
	// BlockMaxBytes bounds the transaction bytes in one block. Zero: 8 MiB.
	BlockMaxBytes int
	// SnapshotThreshold and TrailingLogs tune log compaction (zero: Raft's
	// defaults, 8192 and 10240).
	SnapshotThreshold, TrailingLogs uint64
	// Timeouts are Raft's timers; zero fields take DefaultRaftTimeouts
	// (suited to a LAN).
	Timeouts RaftTimeouts
	// ApplyTimeout bounds how long a proposal may wait to enter Raft. Zero: 10s.
	ApplyTimeout time.Duration
	// OnApply, if set, is called after each block is applied (on every
	// node, in order), e.g. to refresh caches.
	OnApply func(*Applied)
	// Logger receives the node's logs. Nil: slog.Default().
	Logger *slog.Logger
	// Registerer receives the node's metrics. Nil: none are registered.
	Registerer prometheus.Registerer
}

func (c *Config) fillDefaults() {
	if c.MaxPending == 0 {
		c.MaxPending = 50_000
	}
	if c.MaxInflight == 0 {
		c.MaxInflight = 4
	}
	if c.BlockMaxBytes == 0 {
		c.BlockMaxBytes = 8 << 20
	}
	if c.ApplyTimeout == 0 {
		c.ApplyTimeout = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Node is a validator: Raft, the Raft log in Badger, the ledger state in
// Badger and the batcher that turns submitted transactions into blocks.
type Node struct {
	cfg      Config
	state    *State
	raft     *raft.Raft
	trans    *raft.NetworkTransport
	layer    *streamLayer
	ledger   *badger.DB
	logDB    *badger.DB
	batch    *batcher
	metrics  *metrics
	stop     context.CancelFunc
	kick     chan struct{} // wakes the membership reconciler
	observer *observer
	marker   restoreMarker // of snapshot restores (fsm.go)
	// hadState: the node found Raft state on disk when it opened (it was
	// part of a cluster before).
	hadState bool
}

// Open starts a node on cfg.Dir, creating what is missing.
func Open(cfg Config) (*Node, error) {
	cfg.fillDefaults()
	if cfg.ID == "" || cfg.Dir == "" || cfg.Genesis == nil {
		return nil, fmt.Errorf("%w: node needs an ID, a data directory and a genesis", certchain.ErrInvalid)
	}
	if err := cfg.Timeouts.Validate(); err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg, kick: make(chan struct{}, 1)}
	if err := n.open(); err != nil {
		n.Close()
		return nil, err
	}
	return n, nil
}

func (n *Node) open() (err error) {
	bo := BadgerOptions{SyncWrites: true, Small: n.cfg.SmallMemory, Logger: n.cfg.Logger}
	if n.ledger, err = OpenBadger(filepath.Join(n.cfg.Dir, "ledger"), bo); err != nil {
		return fmt.Errorf("open ledger: %w", err)
	}
	if n.logDB, err = OpenBadger(filepath.Join(n.cfg.Dir, "raft"), bo); err != nil {
		return fmt.Errorf("open raft log: %w", err)
	}
	cutOff, err := n.discardCutOffRestore()
	if err != nil {
		return err
	}
	if n.state, err = OpenState(n.ledger, n.cfg.Genesis); err != nil {
		return err
	}
	n.metrics = newMetrics(n.cfg.Registerer, n)
	ctx, cancel := context.WithCancel(context.Background())
	n.stop = cancel
	go RunValueLogGC(ctx, n.ledger, 10*time.Minute)
	go RunValueLogGC(ctx, n.logDB, 10*time.Minute)
	if err := n.startRaft(cutOff); err != nil {
		return err
	}
	n.batch = newBatcher(n)
	go n.batch.run(ctx)
	go n.observer.run(ctx)
	go n.reconcile(ctx, n.kick)
	return nil
}

// discardCutOffRestore empties the ledger if a snapshot restore was cut
// off (its marker is there): what the restore left is not trusted, not
// even read, and Raft restores the latest snapshot again as it starts.
func (n *Node) discardCutOffRestore() (bool, error) {
	n.marker = restoreMarker{path: filepath.Join(n.cfg.Dir, "restoring"), fs: osFS{}}
	cutOff, err := n.marker.isSet()
	if err != nil || !cutOff {
		return false, err
	}
	n.cfg.Logger.Warn("a snapshot restore was cut off; restoring the ledger again from the latest snapshot")
	if err := n.ledger.DropAll(); err != nil {
		return false, fmt.Errorf("discard the ledger of a cut-off restore: %w", err)
	}
	return true, nil
}

// startRaft starts Raft; restore makes it restore the latest snapshot
// first (a restore was cut off).
func (n *Node) startRaft(restore bool) error {
	hl := newRaftLogger(n.cfg.Logger)
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(n.cfg.ID)
	rc.Logger = hl
	// The state is persistent (see fsm.go), so Raft need not restore a
	// snapshot on start, unless a restore was cut off half way.
	rc.NoSnapshotRestoreOnStart = !restore
	n.cfg.Timeouts.apply(rc)
	if n.cfg.SnapshotThreshold > 0 {
		rc.SnapshotThreshold = n.cfg.SnapshotThreshold
	}
	if n.cfg.TrailingLogs > 0 {
		rc.TrailingLogs = n.cfg.TrailingLogs
	}
	snapDir := filepath.Join(n.cfg.Dir, "snapshots")
	if err := os.MkdirAll(snapDir, 0o700); err != nil {
		return err
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(snapDir, 2, hl)
	if err != nil {
		return fmt.Errorf("snapshot store: %w", err)
	}
	if n.layer, err = newStreamLayer(n.cfg.RaftAddr, n.cfg.RaftAdvertise, n.cfg.API, n.cfg.RaftTLS); err != nil {
		return err
	}
	var layer raft.StreamLayer = n.layer
	if n.cfg.WrapStream != nil {
		layer = n.cfg.WrapStream(layer)
	}
	n.trans = raft.NewNetworkTransportWithLogger(layer, 3, 10*time.Second, hl)
	logs := NewLogStore(n.logDB)
	f := &fsm{state: n.state, onDone: n.applied, marker: n.marker, onRestore: n.metrics.restores.Inc}
	if n.raft, err = raft.NewRaft(rc, f, logs, logs, snaps, n.trans); err != nil {
		return fmt.Errorf("start raft: %w", err)
	}
	n.observer = newObserver(n)
	return n.bootstrap(logs, snaps)
}

func (n *Node) bootstrap(logs raft.LogStore, snaps raft.SnapshotStore) error {
	has, err := raft.HasExistingState(logs, logs.(raft.StableStore), snaps)
	n.hadState = has
	if err != nil || has || !n.cfg.Bootstrap {
		return err
	}
	cfg := raft.Configuration{Servers: []raft.Server{{ID: raft.ServerID(n.cfg.ID), Address: n.trans.LocalAddr()}}}
	if err := n.raft.BootstrapCluster(cfg).Error(); err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
		return fmt.Errorf("bootstrap: %w", err)
	}
	return nil
}

func (n *Node) applied(a *Applied) {
	if a == nil {
		return
	}
	n.metrics.observeBlock(a)
	if len(a.Nodes) > 0 {
		n.kickReconcile()
	}
	if n.cfg.OnApply != nil {
		n.cfg.OnApply(a)
	}
}

// HadState reports whether the node found Raft state when it opened: it
// was a member of a cluster before this start.
func (n *Node) HadState() bool { return n.hadState }

// State returns the node's ledger state (for reads).
func (n *Node) State() *State { return n.state }

// ID returns the node's ID.
func (n *Node) ID() string { return n.cfg.ID }

// RaftAddr returns the Raft address other nodes dial.
func (n *Node) RaftAddr() string {
	a, _ := SplitAddress(n.trans.LocalAddr())
	return a
}

// IsLeader reports whether this node currently orders writes.
func (n *Node) IsLeader() bool { return n.raft.State() == raft.Leader }

// Ready reports whether the node knows a leader and has applied every
// entry the leader had committed when it last heard of it.
func (n *Node) Ready() bool {
	addr, _ := n.raft.LeaderWithID()
	return addr != "" && n.raft.AppliedIndex() >= n.raft.CommitIndex()
}

// WaitLeader waits until the cluster has a leader.
func (n *Node) WaitLeader(ctx context.Context) error {
	for {
		if addr, _ := n.raft.LeaderWithID(); addr != "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no leader: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Snapshot forces a Raft snapshot (and log compaction).
func (n *Node) Snapshot() error { return n.raft.Snapshot().Error() }

// Close stops the node: batcher, Raft, transport and databases, in that
// order. Pending submissions fail with an error.
func (n *Node) Close() error {
	var errs []error
	if n.stop != nil {
		n.stop()
	}
	if n.raft != nil {
		errs = append(errs, n.raft.Shutdown().Error())
	}
	if n.trans != nil {
		errs = append(errs, n.trans.Close())
	}
	for _, db := range []*badger.DB{n.ledger, n.logDB} {
		if db != nil {
			errs = append(errs, db.Close())
		}
	}
	return errors.Join(errs...)
}
