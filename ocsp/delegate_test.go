package ocsp

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certchain/certchain/certchain"
	"github.com/certchain/certchain/validator/validatortest"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"golang.org/x/crypto/ocsp"
)

// caFixture is a fixture whose responder holds the key of the "ca"
// member's CA (as a node holds its ACME CA), with a log to read.
type caFixture struct {
	*fixture
	r   *Responder
	reg *prometheus.Registry
	log *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newCAFixture(t *testing.T, tweak func(*Config)) *caFixture {
	t.Helper()
	f := &caFixture{fixture: newFixture(t, nil), reg: prometheus.NewRegistry(), log: &syncBuffer{}}
	cfg := Config{Source: f.src, Responder: f.pki.responder, Now: f.clock.Now, Registerer: f.reg, NodeID: "n1",
		IssuingCAs: []CA{{Cert: f.tn.CA.Cert, Key: f.tn.CA.Key}}, Logger: slog.New(slog.NewTextHandler(f.log, nil))}
	if tweak != nil {
		tweak(&cfg)
	}
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.r = r
	return f
}

// leaf puts a certificate of the "ca" member's CA on the ledger.
func (f *caFixture) leaf(t *testing.T, st certchain.Status) subject {
	d := f.tn.Leaf(t, f.tn.CA)
	if st != certchain.StatusUnknown {
		f.src.put(t, d.Cert, f.tn.CA.Cert, validatortest.CA, st, certchain.ReasonKeyCompromise)
	}
	return subject{name: "ca-signed", cert: d.Cert, issuer: f.tn.CA.Cert}
}

// ask asks about s and verifies the answer trusting only the CA.
func (f *caFixture) ask(t *testing.T, s subject) *ocsp.Response {
	t.Helper()
	got, err := ocsp.ParseResponseForCert(httpRecorder(f.r, newRequest(t, s, crypto.SHA256)), s.cert, s.issuer)
	if err != nil {
		t.Fatalf("verifying with the issuing CA only: %v", err)
	}
	return got
}

// TestAutoDelegate: a responder holding a CA key answers for that CA's
// certificates with a delegate the CA issued (OCSPSigning, nocheck,
// naming the node, DelegateValidity long), which a relying party
// trusting only the CA accepts; self-signed certificates keep the ledger
// responder.
func TestAutoDelegate(t *testing.T) {
	f := newCAFixture(t, nil)
	for _, c := range []struct {
		name string
		st   certchain.Status
		want int
	}{{"good", certchain.StatusGood, ocsp.Good}, {"revoked", certchain.StatusRevoked, ocsp.Revoked}, {"unknown", certchain.StatusUnknown, ocsp.Unknown}} {
		t.Run(c.name, func(t *testing.T) {
			got := f.ask(t, f.leaf(t, c.st))
			d := got.Certificate
			if got.Status != c.want || d == nil || d.Subject.CommonName != "certchain OCSP n1" || d.IsCA ||
				!slices.Equal(d.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning}) || !hasNoCheck(d) ||
				d.CheckSignatureFrom(f.tn.CA.Cert) != nil || !d.NotAfter.Equal(f.clock.Now().Add(DefaultDelegateValidity).Truncate(time.Second)) {
				t.Fatalf("status %d, delegate %+v", got.Status, d)
			}
		})
	}
	self := f.device(t, nil, certchain.StatusGood, 0)
	d := decode(t, httpRecorder(f.r, newRequest(t, self, crypto.SHA1)))
	if !bytes.Equal(d.Basic.Certs[0].FullBytes, f.pki.responder.Cert.Raw) {
		t.Fatal("a self-signed certificate was not answered by the ledger responder")
	}
}

func hasNoCheck(c *x509.Certificate) bool {
	for _, e := range c.Extensions {
		if e.Id.Equal(oidOCSPNoCheck) && bytes.Equal(e.Value, []byte{0x05, 0x00}) {
			return true
		}
	}
	return false
}

// TestDelegateRotation walks the clock through five delegate lifetimes
// in ten-minute steps, running the maintenance Run does on each: the
// delegate is renewed at half its life, every answer verifies against the
// CA alone, its signer is valid at that moment, no response outlives its
// signer, and every answer comes from the current delegate (after a
// renewal, although the old delegate's response was still fresh).
func TestDelegateRotation(t *testing.T) {
	f := newCAFixture(t, func(c *Config) { c.Validity, c.DelegateValidity = time.Hour, 2*time.Hour })
	s := f.leaf(t, certchain.StatusGood)
	signers := map[string]bool{}
	for step := range 60 {
		now := f.clock.Now()
		if err := f.r.maintain(now); err != nil {
			t.Fatal(err)
		}
		got := f.ask(t, s)
		d := got.Certificate
		if now.Before(d.NotBefore) || !now.Before(d.NotAfter) || got.NextUpdate.After(d.NotAfter) {
			t.Fatalf("step %d at %s: signer valid %s..%s, next update %s", step, now, d.NotBefore, d.NotAfter, got.NextUpdate)
		}
		if !d.Equal(f.r.auto[0].cur.cert) {
			t.Fatalf("step %d: answered by %s, not by the current delegate", step, d.NotAfter)
		}
		signers[string(d.Raw)] = true
		f.clock.Advance(10 * time.Minute)
	}
	if len(signers) < 9 { // renewed every hour over ten hours
		t.Fatalf("%d delegates over ten hours, want one an hour", len(signers))
	}
}

// TestDelegateLapses: a delegate the node cannot renew (registered on the
// ledger) signs until shortly before it expires, never for longer than
// it lives; warnings are logged a quarter of its life before the end and
// when it lapses; the expiry metric follows; then the ledger responder
// answers.
func TestDelegateLapses(t *testing.T) {
	f := newCAFixture(t, func(c *Config) { c.IssuingCAs = nil })
	t0 := f.clock.Now().Truncate(time.Second)
	del := ocspSignerAt(t, f.tn, f.tn.CA, t0.Add(-30*time.Minute), t0.Add(90*time.Minute))
	if err := f.r.SetDelegate(Delegate{Cert: del.Cert, Key: del.Key, Issuer: f.tn.CA.Cert, Source: SourceLedger}); err != nil {
		t.Fatal(err)
	}
	s := f.leaf(t, certchain.StatusGood)
	steps := []struct {
		at     time.Duration
		signer *x509.Certificate
		next   time.Time
		log    string
	}{
		{0, del.Cert, t0.Add(time.Hour), ""},
		{50 * time.Minute, del.Cert, del.Cert.NotAfter, ""},
		{70 * time.Minute, del.Cert, del.Cert.NotAfter, "expires soon"},
		{90*time.Minute - 30*time.Second, f.pki.responder.Cert, time.Time{}, "lapsed"},
	}
	for _, st := range steps {
		f.clock.ns.Store(t0.Add(st.at).UnixNano())
		f.r.maintain(f.clock.Now())
		d := decode(t, httpRecorder(f.r, newRequest(t, s, crypto.SHA1)))
		if !bytes.Equal(d.Basic.Certs[0].FullBytes, st.signer.Raw) {
			t.Fatalf("at +%s: signed by the wrong certificate", st.at)
		}
		if !st.next.IsZero() && !d.Data.Responses[0].NextUpdate.Equal(st.next) {
			t.Fatalf("at +%s: next update %s, want %s", st.at, d.Data.Responses[0].NextUpdate, st.next)
		}
		if st.log != "" && !strings.Contains(f.log.String(), st.log) {
			t.Fatalf("at +%s: no %q warning in\n%s", st.at, st.log, f.log.String())
		}
		wantExpiry := map[string]float64{"responder": float64(f.pki.responder.Cert.NotAfter.Unix())}
		if st.signer == del.Cert {
			wantExpiry["delegate/ledger"] = float64(del.Cert.NotAfter.Unix())
		}
		if got := signerExpiries(t, f.reg); !mapsEqual(got, wantExpiry) {
			t.Fatalf("at +%s: expiry metric %v, want %v", st.at, got, wantExpiry)
		}
	}
}

// TestSetDelegateTakesOver: a delegate that stays valid longer than the
// one in use takes over at once: the cached answer it would have replaced
// is dropped; a shorter-lived one, or the same one again, changes nothing.
func TestSetDelegateTakesOver(t *testing.T) {
	f := newCAFixture(t, func(c *Config) { c.IssuingCAs = nil })
	t0 := f.clock.Now()
	first := ocspSignerAt(t, f.tn, f.tn.CA, t0, t0.Add(10*time.Hour))
	longer := ocspSignerAt(t, f.tn, f.tn.CA, t0, t0.Add(20*time.Hour))
	shorter := ocspSignerAt(t, f.tn, f.tn.CA, t0, t0.Add(15*time.Hour))
	s := f.leaf(t, certchain.StatusGood)
	for _, c := range []struct {
		set, want Signer
	}{{first, first}, {longer, longer}, {shorter, longer}} {
		if err := f.r.SetDelegate(Delegate{Cert: c.set.Cert, Key: c.set.Key, Issuer: f.tn.CA.Cert, Source: SourceLedger}); err != nil {
			t.Fatal(err)
		}
		if got := f.ask(t, s).Certificate; !got.Equal(c.want.Cert) {
			t.Fatalf("signed by %s, want the delegate valid until %s", got.NotAfter, c.want.Cert.NotAfter)
		}
	}
	// Adding the one in use again keeps its cached answer.
	before := f.ask(t, s).ThisUpdate
	f.clock.Advance(time.Minute)
	if err := f.r.SetDelegate(Delegate{Cert: longer.Cert, Key: longer.Key, Issuer: f.tn.CA.Cert, Source: SourceLedger}); err != nil {
		t.Fatal(err)
	}
	if got := f.ask(t, s).ThisUpdate; !got.Equal(before) {
		t.Fatalf("re-adding the same delegate dropped the cached answer (%s, was %s)", got, before)
	}
	if err := f.r.SetDelegate(Delegate{Cert: first.Cert, Key: first.Key, Issuer: f.tn.CA2.Cert}); err == nil {
		t.Fatal("a delegate another CA did not issue was accepted")
	}
}

// ocspSignerAt issues a delegated OCSP signer from iss, valid from nb to na.
func ocspSignerAt(t *testing.T, tn *validatortest.Network, iss *validatortest.Issuer, nb, na time.Time) Signer {
	t.Helper()
	key := validatortest.NewKey(t, validatortest.KeyP256)
	der, err := IssueDelegate(CA{Cert: iss.Cert, Key: iss.Key}, key.Public(), DelegateSubject("test"), nb, na)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return Signer{Cert: c, Key: key}
}

// signerExpiries reads certchain_ocsp_signer_expiry_timestamp_seconds as
// "role" or "role/source" -> value.
func signerExpiries(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "certchain_ocsp_signer_expiry_timestamp_seconds" {
			continue
		}
		for _, m := range mf.Metric {
			out[labelKey(m)] = m.GetGauge().GetValue()
		}
	}
	return out
}

func labelKey(m *dto.Metric) string {
	l := map[string]string{}
	for _, p := range m.Label {
		l[p.GetName()] = p.GetValue()
	}
	if l["role"] == "delegate" {
		return "delegate/" + l["source"]
	}
	return l["role"]
}

func mapsEqual(a, b map[string]float64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
