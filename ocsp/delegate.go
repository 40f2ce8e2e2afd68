package ocsp

import (
	"crypto"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/certchain/certchain/certchain"
)

// oidOCSPNoCheck is id-pkix-ocsp-nocheck (RFC 6960 §4.2.2.2.1), whose
// value is NULL.
var oidOCSPNoCheck = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 5}

// minSignerLife is the least lifetime a delegate must have left to sign:
// a response is valid for at most what is left (see Responder.sign).
const minSignerLife = time.Minute

// Delegate sources, as Signers reports them.
const (
	SourceAuto   = "auto"   // issued by this node with a CA key it holds (Config.IssuingCAs)
	SourceLedger = "ledger" // registered on the ledger by a CA member (certchain ocsp delegate)
	SourceConfig = "config" // configured on this node (Config.Delegates)
)

// Delegate is a delegated OCSP signer (RFC 6960 §4.2.2.2): a certificate
// with id-kp-OCSPSigning that Issuer issued directly, and its key. It
// signs the responses whose every CertID names Issuer's key.
type Delegate struct {
	Cert   *x509.Certificate
	Key    crypto.Signer
	Issuer *x509.Certificate
	// Source says where it came from (SourceLedger, SourceConfig) for
	// operators; "" means SourceConfig.
	Source string
}

// CA is an issuing CA whose key this node holds: the responder issues
// itself short-lived delegates with it (Config.IssuingCAs).
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// DelegateSubject is the subject of the delegate a node signs with: it
// names the node, so that an operator can tell whose answer it was.
func DelegateSubject(nodeID string) pkix.Name {
	return pkix.Name{CommonName: "certchain OCSP " + nodeID}
}

// IssueDelegate has ca issue a delegated OCSP signer certificate for pub:
// an end entity with digitalSignature, id-kp-OCSPSigning and
// id-pkix-ocsp-nocheck (relying parties do not ask about the delegate's
// own revocation, so it must be short-lived), valid from notBefore to
// notAfter within the CA's own validity. It returns the DER.
func IssueDelegate(ca CA, pub crypto.PublicKey, subject pkix.Name, notBefore, notAfter time.Time) ([]byte, error) {
	notBefore, notAfter = maxTime(notBefore, ca.Cert.NotBefore), minTime(notAfter, ca.Cert.NotAfter)
	if !notAfter.After(notBefore) {
		return nil, fmt.Errorf("%w: CA %q is not valid between %s and %s", certchain.ErrInvalid, ca.Cert.Subject, notBefore, notAfter)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial.Add(serial, big.NewInt(1)), Subject: subject,
		NotBefore: notBefore.UTC().Truncate(time.Second), NotAfter: notAfter.UTC().Truncate(time.Second),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning},
		BasicConstraintsValid: true,
		ExtraExtensions:       []pkix.Extension{{Id: oidOCSPNoCheck, Value: []byte{0x05, 0x00}}},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, pub, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("ocsp: issuing a delegate with %q: %w", ca.Cert.Subject, err)
	}
	return der, nil
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// newDelegate checks d and prepares it: the key matches, the certificate
// carries id-kp-OCSPSigning and Issuer signed it.
func newDelegate(d Delegate) (*signer, error) {
	if d.Issuer == nil {
		return nil, fmt.Errorf("%w: delegate without its issuer", certchain.ErrInvalid)
	}
	s, err := newSigner(Signer{Cert: d.Cert, Key: d.Key}, true)
	if err != nil {
		return nil, err
	}
	if err := d.Cert.CheckSignatureFrom(d.Issuer); err != nil {
		return nil, fmt.Errorf("%w: delegate %q was not issued by %q: %v", certchain.ErrInvalid, d.Cert.Subject, d.Issuer.Subject, err)
	}
	bits, err := subjectKeyBits(d.Issuer.RawSubjectPublicKeyInfo)
	if err != nil {
		return nil, err
	}
	h1, h256 := sha1.Sum(bits), sha256.Sum256(bits)
	s.issuerKeys = [2]string{certKey(h1[:], nil), certKey(h256[:], nil)}
	s.issuer, s.source = d.Issuer.Subject.String(), cmpOr(d.Source, SourceConfig)
	return s, nil
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// usable reports whether s may sign at now: it has begun and has at
// least minSignerLife left.
func (s *signer) usable(now time.Time) bool {
	return !now.Before(s.cert.NotBefore) && s.cert.NotAfter.Sub(now) >= minSignerLife
}

// delegates holds the delegated signers by issuer. Readers load an
// immutable map (no lock on the signing path); writers copy it under mu.
type delegates struct {
	mu  sync.Mutex
	set atomic.Pointer[map[string][]*signer] // issuer key prefix (certKey of the key hash) -> signers
}

// best returns the usable signer for the issuer whose key hash is
// keyHash that stays valid longest, or nil.
func (d *delegates) best(keyHash []byte, now time.Time) *signer {
	m := d.set.Load()
	if m == nil || len(keyHash) > 32 {
		return nil
	}
	var buf [33]byte
	key := append(append(buf[:0], byte(len(keyHash))), keyHash...) // certKey(keyHash, nil), without allocating
	var out *signer
	for _, s := range (*m)[string(key)] {
		if s.usable(now) && (out == nil || s.cert.NotAfter.After(out.cert.NotAfter)) {
			out = s
		}
	}
	return out
}

// put adds s for its issuer, replacing replaced (nil: none) and dropping
// signers that can no longer sign. It reports whether s is now the best
// signer of its issuer. A certificate held already changes nothing.
func (d *delegates) put(s, replaced *signer, now time.Time) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	next := map[string][]*signer{}
	if m := d.set.Load(); m != nil {
		for k, v := range *m {
			next[k] = v
		}
	}
	if slices.ContainsFunc(next[s.issuerKeys[0]], func(o *signer) bool { return o.cert.Equal(s.cert) }) {
		return false
	}
	for _, k := range s.issuerKeys {
		list := slices.DeleteFunc(slices.Clone(next[k]), func(o *signer) bool {
			return o == replaced || o.cert.NotAfter.Sub(now) < minSignerLife
		})
		next[k] = append(list, s)
	}
	d.set.Store(&next)
	return d.best([]byte(s.issuerKeys[0][1:]), now) == s
}

// all returns every delegate held, each once.
func (d *delegates) all() []*signer {
	m := d.set.Load()
	if m == nil {
		return nil
	}
	var out []*signer
	for k, list := range *m {
		if len(k) == 1+sha1.Size {
			out = append(out, list...)
		}
	}
	slices.SortFunc(out, func(a, b *signer) int { return a.cert.NotAfter.Compare(b.cert.NotAfter) })
	return out
}

// SetDelegate adds a delegated signer: from now on it signs the responses
// about certificates of its issuer while it is the usable delegate of
// that issuer that stays valid longest (see doc.go, "Signer selection").
// When it becomes that signer, the cached responses about the issuer's
// certificates are dropped and re-signed. Adding the same certificate
// again changes nothing.
func (r *Responder) SetDelegate(d Delegate) error {
	s, err := newDelegate(d)
	if err != nil {
		return fmt.Errorf("ocsp: delegate: %w", err)
	}
	r.addDelegate(s, nil)
	return nil
}

// addDelegate puts s in place of replaced and, if s now signs for its
// issuer, drops the issuer's cached responses for re-signing.
func (r *Responder) addDelegate(s, replaced *signer) {
	now := r.cfg.Now()
	if !r.delegates.put(s, replaced, now) {
		return
	}
	r.cfg.Logger.Info("ocsp: delegated signer in use", "issuer", s.issuer, "source", s.source,
		"subject", s.cert.Subject.String(), "not_after", s.cert.NotAfter)
	r.requeue(r.cache.invalidateIssuer(s.issuerKeys[:]))
}

// SignerInfo describes a certificate this node signs OCSP responses with.
type SignerInfo struct {
	// Role is "responder" (the ledger's responder) or "delegate".
	Role string `json:"role"`
	// Source of a delegate: SourceAuto, SourceLedger or SourceConfig
	// ("" for the responder).
	Source string `json:"source,omitempty"`
	// Issuer is the subject of the CA that issued a delegate, and
	// IssuerKeySHA1 the SHA-1 of its key, as CertIDs name it (hex).
	Issuer        string    `json:"issuer,omitempty"`
	IssuerKeySHA1 string    `json:"issuer_key_sha1,omitempty"`
	Subject       string    `json:"subject"`
	NotBefore     time.Time `json:"not_before"`
	NotAfter      time.Time `json:"not_after"`
	// Active says the delegate signs for its issuer now.
	Active      bool   `json:"active"`
	Certificate string `json:"certificate"` // PEM
}

// Signers returns the ledger responder and the delegates this node holds
// (soonest to expire first), for operators (GET /v1/ocsp/signers).
func (r *Responder) Signers() []SignerInfo {
	now := r.cfg.Now()
	out := []SignerInfo{r.ledger.Load().info("responder", now)}
	out[0].Active = true
	for _, s := range r.delegates.all() {
		i := s.info("delegate", now)
		i.Active = r.delegates.best([]byte(s.issuerKeys[0][1:]), now) == s
		out = append(out, i)
	}
	return out
}

func (s *signer) info(role string, now time.Time) SignerInfo {
	i := SignerInfo{Role: role, Source: s.source, Issuer: s.issuer, Subject: s.cert.Subject.String(),
		NotBefore: s.cert.NotBefore, NotAfter: s.cert.NotAfter,
		Certificate: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.cert.Raw}))}
	if s.issuerKeys[0] != "" {
		i.IssuerKeySHA1 = hex.EncodeToString([]byte(s.issuerKeys[0][1:]))
	}
	return i
}
