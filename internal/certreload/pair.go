package certreload

import (
	"crypto"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Errors of a refused pair, for errors.Is.
var (
	// ErrBadPair: a file is missing, does not parse, or the key is not the
	// certificate's.
	ErrBadPair = errors.New("not a certificate and its private key")
	// ErrNotValidNow: the certificate has expired or is not valid yet.
	ErrNotValidNow = errors.New("certificate not valid now")
	// ErrUsage: the certificate does not allow what the pair is for.
	ErrUsage = errors.New("certificate does not allow this use")
	// ErrIdentity: the certificate names another identity (URI SANs).
	ErrIdentity = errors.New("certificate names another identity")
)

// Kind is what a pair is for.
type Kind struct {
	// What names it in logs and metrics ("node-tls").
	What string
	// Usages are the extended key usages the certificate must allow.
	Usages []x509.ExtKeyUsage
	// ExplicitEKU: each usage must be listed (or anyExtendedKeyUsage).
	// False: a certificate without the extension allows every usage, as
	// crypto/x509 reads it.
	ExplicitEKU bool
}

// The pairs a node holds.
var (
	// NodeTLS is the node certificate: HTTPS server, Raft server and
	// client, node-to-node HTTPS client.
	NodeTLS = Kind{What: "node-tls", Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	// OCSPResponder is the ledger's OCSP responder (RFC 6960 §4.2.2.2:
	// id-kp-OCSPSigning, listed).
	OCSPResponder = Kind{What: "ocsp-responder", Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning}, ExplicitEKU: true}
)

// Cert is one loaded pair; it never changes once made.
type Cert struct {
	TLS  tls.Certificate   // chain and key, Leaf set
	Leaf *x509.Certificate // TLS.Leaf
	Key  crypto.Signer     // TLS.PrivateKey
	sum  [sha256.Size]byte // of the two files' contents
}

// Pair is a certificate and key, read from two files, that Reload
// replaces atomically. Its methods are safe for concurrent use.
type Pair struct {
	kind              Kind
	certFile, keyFile string
	now               func() time.Time
	cur               atomic.Pointer[Cert]
	mu                sync.Mutex // serialises Reload and guards hook
	hook              func(*Cert) error
}

// Load reads the pair of kind from certFile and keyFile and checks it as
// Reload would (the URI check has nothing to compare with yet). now is
// the clock (nil: time.Now).
func Load(kind Kind, certFile, keyFile string, now func() time.Time) (*Pair, error) {
	if now == nil {
		now = time.Now
	}
	p := &Pair{kind: kind, certFile: certFile, keyFile: keyFile, now: now}
	c, err := p.read()
	if err == nil {
		err = p.check(c, nil)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", kind.What, err)
	}
	p.cur.Store(c)
	return p, nil
}

// What names the pair (its Kind's What).
func (p *Pair) What() string { return p.kind.What }

// Files returns the certificate and key file names.
func (p *Pair) Files() (certFile, keyFile string) { return p.certFile, p.keyFile }

// Current returns the pair in use.
func (p *Pair) Current() *Cert { return p.cur.Load() }

// OnReload sets the last check of a candidate pair, run after the built-in
// ones: an error refuses it. It may install the candidate elsewhere (the
// OCSP responder); it runs only when every other check passed, and the
// candidate becomes current as soon as it returns nil.
func (p *Pair) OnReload(hook func(*Cert) error) {
	p.mu.Lock()
	p.hook = hook
	p.mu.Unlock()
}

// Reload reads the files again and, if they hold another pair that passes
// every check, makes it current. changed reports whether it did; an error
// (wrapping one of the Err* or the hook's) means the current pair stays.
func (p *Pair) Reload() (changed bool, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c, err := p.read()
	cur := p.cur.Load()
	if err == nil && c.sum == cur.sum {
		return false, nil
	}
	if err == nil {
		err = p.check(c, cur)
	}
	if err == nil && p.hook != nil {
		err = p.hook(c)
	}
	if err != nil {
		return false, err
	}
	p.cur.Store(c)
	return true, nil
}

// read loads and parses the two files.
func (p *Pair) read() (*Cert, error) {
	certPEM, err1 := os.ReadFile(p.certFile)
	keyPEM, err2 := os.ReadFile(p.keyFile)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadPair, err)
	}
	return parse(certPEM, keyPEM)
}

// parse makes a Cert of PEM files (certificate chain, leaf first; key in
// PKCS#8, PKCS#1 or SEC 1).
func parse(certPEM, keyPEM []byte) (*Cert, error) {
	kp, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadPair, err)
	}
	key, ok := kp.PrivateKey.(crypto.Signer)
	if !ok || kp.Leaf == nil {
		return nil, fmt.Errorf("%w: unsupported key %T", ErrBadPair, kp.PrivateKey)
	}
	h := sha256.New()
	h.Write(certPEM)
	h.Write([]byte{0})
	h.Write(keyPEM)
	c := &Cert{TLS: kp, Leaf: kp.Leaf, Key: key}
	h.Sum(c.sum[:0])
	return c, nil
}

// check applies the built-in checks to c; cur is the pair in use (nil at
// first load).
func (p *Pair) check(c, cur *Cert) error {
	leaf, now := c.Leaf, p.now()
	switch {
	case now.After(leaf.NotAfter):
		return fmt.Errorf("%w: %q expired at %s", ErrNotValidNow, leaf.Subject, leaf.NotAfter.UTC().Format(time.RFC3339))
	case now.Before(leaf.NotBefore):
		return fmt.Errorf("%w: %q is valid only from %s", ErrNotValidNow, leaf.Subject, leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	for _, u := range p.kind.Usages {
		if !allows(leaf, u, p.kind.ExplicitEKU) {
			return fmt.Errorf("%w: %q lacks extended key usage %s", ErrUsage, leaf.Subject, usageName(u))
		}
	}
	if cur != nil && !sameURIs(cur.Leaf, leaf) {
		return fmt.Errorf("%w: %q names %v, the certificate in use %v", ErrIdentity, leaf.Subject, leaf.URIs, cur.Leaf.URIs)
	}
	return nil
}

func allows(c *x509.Certificate, u x509.ExtKeyUsage, explicit bool) bool {
	if len(c.ExtKeyUsage) == 0 && len(c.UnknownExtKeyUsage) == 0 {
		return !explicit
	}
	return slices.Contains(c.ExtKeyUsage, u) || slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageAny)
}

func usageName(u x509.ExtKeyUsage) string {
	switch u {
	case x509.ExtKeyUsageServerAuth:
		return "serverAuth"
	case x509.ExtKeyUsageClientAuth:
		return "clientAuth"
	case x509.ExtKeyUsageOCSPSigning:
		return "OCSPSigning"
	}
	return fmt.Sprint(int(u))
}

func sameURIs(a, b *x509.Certificate) bool {
	return slices.EqualFunc(a.URIs, b.URIs, func(x, y *url.URL) bool { return x.String() == y.String() })
}

// GetCertificate is tls.Config.GetCertificate: every server handshake
// gets the pair current at that moment.
func (p *Pair) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return &p.cur.Load().TLS, nil
}

// GetClientCertificate is tls.Config.GetClientCertificate: every client
// handshake presents the pair current at that moment.
func (p *Pair) GetClientCertificate(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	return &p.cur.Load().TLS, nil
}

// Certificate returns the current pair as a tls.Certificate (the getter
// raftstore.RaftTLS takes).
func (p *Pair) Certificate() (*tls.Certificate, error) { return &p.cur.Load().TLS, nil }
