package raftstore

import (
	"github.com/certchain/certchain/certchain"
	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the node's Prometheus metrics. With a nil Registerer they
// are kept but not exported.
type metrics struct {
	txs       *prometheus.CounterVec
	refused   *prometheus.CounterVec
	applySec  prometheus.Histogram
	blockSize prometheus.Histogram
	restores  prometheus.Counter
	checks    *prometheus.CounterVec
	sigChecks *prometheus.CounterVec
	// elections and leaderChanges are counted by the observer.
	elections, leaderChanges prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, n *Node) *metrics {
	m := &metrics{
		txs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "certchain_transactions_total",
			Help: "Transactions applied to the ledger, by type and verdict (counted on every node).",
		}, []string{"type", "verdict"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "certchain_transactions_refused_total",
			Help: "Transactions refused by this node before reaching the ledger, by type and verdict.",
		}, []string{"type", "verdict"}),
		applySec: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "certchain_block_apply_seconds",
			Help:    "Time to verify and write one block on this node.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		blockSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "certchain_block_transactions",
			Help:    "Transactions per applied block.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 8),
		}),
		checks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "certchain_certificate_checks_total",
			Help: "Certificates this node verified (signature or chain), by stage: edge (before Raft) or apply (a block this node did not precheck).",
		}, []string{"stage"}),
		sigChecks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "certchain_signature_checks_total",
			Help: "Member signatures of transactions this node verified, by stage: edge (before Raft) or apply (not verified at this node's edge).",
		}, []string{"stage"}),
		elections: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "certchain_raft_elections_total",
			Help: "Elections this node started (it became a Raft candidate); one at a single node's start, none in a healthy steady cluster.",
		}),
		leaderChanges: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "certchain_raft_leader_changes_total",
			Help: "Times this node learned of a new Raft leader (the first leader it knows counts).",
		}),
		restores: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "certchain_snapshot_restores_total",
			Help: "Raft snapshots this node installed (it had fallen behind the compacted log).",
		}),
	}
	if reg == nil {
		return m
	}
	reg.MustRegister(m.txs, m.refused, m.applySec, m.blockSize, m.restores, m.checks, m.sigChecks, m.elections, m.leaderChanges,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "certchain_ledger_height",
			Help: "Height of the newest applied block.",
		}, func() float64 { return float64(n.state.Head().Height) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "certchain_raft_state",
			Help: "Raft state of this node: 0 follower, 1 candidate, 2 leader, 3 shutdown.",
		}, func() float64 { return float64(n.raftState()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "certchain_pending_transactions",
			Help: "Transactions queued for the next block on this node.",
		}, func() float64 { return float64(n.pending()) }),
	)
	return m
}

func (m *metrics) observeBlock(a *Applied) {
	m.blockSize.Observe(float64(len(a.Verdicts)))
	m.applySec.Observe(a.Elapsed.Seconds())
	m.checks.WithLabelValues("apply").Add(float64(a.Checked))
	m.sigChecks.WithLabelValues("apply").Add(float64(a.SigChecked))
	for i, v := range a.Verdicts {
		m.txs.WithLabelValues(a.Types[i].String(), v.Code.String()).Inc()
	}
}

func (m *metrics) edgeRefused(t certchain.TxType, c certchain.VerdictCode) {
	m.refused.WithLabelValues(t.String(), c.String()).Inc()
}

func (n *Node) raftState() raft.RaftState {
	if n.raft == nil {
		return raft.Shutdown
	}
	return n.raft.State()
}

func (n *Node) pending() int {
	if n.batch == nil {
		return 0
	}
	return len(n.batch.queue)
}
