package certreload

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	reloads  *prometheus.CounterVec
	notAfter *prometheus.GaugeVec
}

func newMetrics() *metrics {
	return &metrics{
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "certchain_cert_reload_total",
			Help: "Certificate reloads by pair (node-tls, ocsp-responder) and result (ok, unchanged, error: the current certificate stayed).",
		}, []string{"what", "result"}),
		notAfter: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "certchain_cert_not_after_timestamp_seconds",
			Help: "notAfter of the certificate in use, by pair.",
		}, []string{"what"}),
	}
}

// init exports zeros for p's results and its current expiry.
func (m *metrics) init(p *Pair) {
	for _, r := range []string{ResultOK, ResultUnchanged, ResultError} {
		m.reloads.WithLabelValues(p.What(), r)
	}
	m.setExpiry(p)
}

func (m *metrics) count(p *Pair, result string) {
	m.reloads.WithLabelValues(p.What(), result).Inc()
	m.setExpiry(p)
}

func (m *metrics) setExpiry(p *Pair) {
	m.notAfter.WithLabelValues(p.What()).Set(float64(p.Current().Leaf.NotAfter.Unix()))
}

func (m *metrics) register(reg prometheus.Registerer) error {
	return errors.Join(reg.Register(m.reloads), reg.Register(m.notAfter))
}
