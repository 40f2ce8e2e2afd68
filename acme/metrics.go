package acme

import "github.com/prometheus/client_golang/prometheus"

// metrics of the ACME server.
type metrics struct {
	accounts    prometheus.Counter
	orders      *prometheus.CounterVec   // by event: created, valid, invalid
	challenges  *prometheus.CounterVec   // by type and outcome: valid or the problem type
	validation  *prometheus.HistogramVec // seconds per validation, by type
	issuance    prometheus.Histogram     // seconds from finalize to a published certificate
	revocations prometheus.Counter
	problems    *prometheus.CounterVec // error responses by problem type
	forwarded   prometheus.Counter     // requests sent on to the node of their nonce
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		accounts: prometheus.NewCounter(prometheus.CounterOpts{Name: "certchain_acme_accounts_created_total",
			Help: "ACME accounts created on this node."}),
		orders: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "certchain_acme_orders_total",
			Help: "ACME orders by event: created, valid (certificate issued), invalid (issuance failed)."}, []string{"event"}),
		challenges: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "certchain_acme_challenges_total",
			Help: "ACME challenge validations by type and outcome (valid, or the ACME problem type)."}, []string{"type", "outcome"}),
		validation: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "certchain_acme_validation_seconds",
			Help: "Time to validate one ACME challenge.", Buckets: prometheus.ExponentialBuckets(0.001, 4, 9)}, []string{"type"}),
		issuance: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "certchain_acme_issuance_seconds",
			Help:    "Time from an accepted finalize to a certificate signed and committed to the ledger.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 12)}),
		revocations: prometheus.NewCounter(prometheus.CounterOpts{Name: "certchain_acme_revocations_total",
			Help: "Certificates revoked through ACME revokeCert."}),
		problems: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "certchain_acme_problems_total",
			Help: "ACME error responses by problem type."}, []string{"type"}),
		forwarded: prometheus.NewCounter(prometheus.CounterOpts{Name: "certchain_acme_forwarded_total",
			Help: "ACME requests forwarded to the node that issued their nonce."}),
	}
	// Known series start at zero, so dashboards and alerts see them
	// before the first order.
	for _, e := range []string{"created", statusValid, statusInvalid} {
		m.orders.WithLabelValues(e)
	}
	for _, t := range []string{ChallengeHTTP01, ChallengeTLSALPN01, ChallengeDNS01} {
		m.challenges.WithLabelValues(t, statusValid)
	}
	for t := range problemStatus {
		m.problems.WithLabelValues(t.Name())
	}
	if reg != nil {
		reg.MustRegister(m.accounts, m.orders, m.challenges, m.validation, m.issuance, m.revocations, m.problems, m.forwarded)
	}
	return m
}
