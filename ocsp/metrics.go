package ocsp

import (
	"github.com/prometheus/client_golang/prometheus"
)

// method is the method label of requests_total.
type method uint8

const (
	methodGET method = iota // GET and HEAD
	methodPOST
	methodOther
	numMethods
)

// outcome is the status label of requests_total: the certificate status
// of the response (revoked over unknown over good when a response covers
// several), or why there is no signed response.
type outcome uint8

const (
	outcomeGood outcome = iota
	outcomeRevoked
	outcomeUnknown
	outcomeMalformed
	outcomeUnsupported // CertID hash algorithm other than SHA-1/SHA-256
	outcomeError       // ledger read or signing failed
	numOutcomes
)

// cacheUse is the cache label of requests_total.
type cacheUse uint8

const (
	cacheHit   cacheUse = iota
	cacheMiss           // signed for this request, then cached
	cacheNonce          // signed for this request with its nonce, not cached
	cacheNone           // no signed response (errors)
	numCacheUses
)

var (
	methodNames  = [numMethods]string{"GET", "POST", "other"}
	outcomeNames = [numOutcomes]string{"good", "revoked", "unknown", "malformed", "unsupported", "error"}
	cacheNames   = [numCacheUses]string{"hit", "miss", "nonce", "none"}
)

// metrics are the responder's Prometheus metrics. Every counter is
// resolved once, so counting a request is one atomic add.
type metrics struct {
	requests      [numMethods][numOutcomes][numCacheUses]prometheus.Counter
	sign          prometheus.Histogram
	nonceExceeded prometheus.Counter
	collectors    []prometheus.Collector
}

// newMetrics makes the metrics; entries counts the cached responses and
// expiry reports the signers in use (signerCollector).
func newMetrics(entries func() float64, expiry func() []SignerInfo) *metrics {
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "certchain_ocsp_requests_total",
		Help: "OCSP requests by method, response status (good|revoked|unknown|malformed|unsupported|error) and cache use (hit|miss|nonce|none).",
	}, []string{"method", "status", "cache"})
	m := &metrics{
		sign: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "certchain_ocsp_sign_seconds", Help: "Time to sign one OCSP response.",
			Buckets: prometheus.ExponentialBuckets(25e-6, 2, 14),
		}),
		nonceExceeded: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "certchain_ocsp_nonce_budget_exceeded_total",
			Help: "Requests with a nonce answered from the cache without it: the nonce signing budget was spent.",
		}),
	}
	gauge := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "certchain_ocsp_cache_entries", Help: "Signed OCSP responses held in memory.",
	}, entries)
	m.collectors = []prometheus.Collector{vec, m.sign, m.nonceExceeded, gauge, newSignerCollector(expiry)}
	m.resolve(vec)
	return m
}

// resolve creates the series that can occur: certificate statuses with
// hit, miss or nonce; errors with none.
func (m *metrics) resolve(vec *prometheus.CounterVec) {
	for me := range numMethods {
		for o := range numOutcomes {
			for c := range numCacheUses {
				if (o <= outcomeUnknown) == (c != cacheNone) {
					m.requests[me][o][c] = vec.WithLabelValues(methodNames[me], outcomeNames[o], cacheNames[c])
				}
			}
		}
	}
}

func (m *metrics) register(reg prometheus.Registerer) error {
	if reg == nil {
		return nil
	}
	for _, c := range m.collectors {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

func (m *metrics) count(me method, o outcome, c cacheUse) {
	if ctr := m.requests[me][o][c]; ctr != nil {
		ctr.Inc()
	}
}

// signerCollector exports certchain_ocsp_signer_expiry_timestamp_seconds:
// the notAfter of each certificate signing responses now (the ledger
// responder and, per issuer, the delegate in use), so an alert can fire
// before one lapses. Series come and go with the signers.
type signerCollector struct {
	desc    *prometheus.Desc
	signers func() []SignerInfo
}

func newSignerCollector(signers func() []SignerInfo) *signerCollector {
	return &signerCollector{signers: signers, desc: prometheus.NewDesc("certchain_ocsp_signer_expiry_timestamp_seconds",
		"notAfter (unix seconds) of each certificate signing OCSP responses: the ledger responder (role responder) and the delegate in use per issuing CA (role delegate; source auto, ledger or config).",
		[]string{"role", "source", "issuer"}, nil)}
}

// Describe implements prometheus.Collector.
func (c *signerCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector.
func (c *signerCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.signers() {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(s.NotAfter.Unix()), s.Role, s.Source, s.Issuer)
	}
}
