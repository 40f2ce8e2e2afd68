package acme

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/cloudflare/cfssl/config"
	"github.com/cloudflare/cfssl/helpers"
	"github.com/cloudflare/cfssl/signer"
	"github.com/cloudflare/cfssl/signer/local"
)

// maxCommonNameLen is the upper bound of an X.520 commonName
// (ub-common-name, RFC 5280 appendix A).
const maxCommonNameLen = 64

// IssuerConfig configures an Issuer.
type IssuerConfig struct {
	// CertPEM is the issuing CA certificate. It must be a CA (basic
	// constraints cA, keyCertSign) with a subject key identifier, which
	// becomes the authority key identifier of what it issues.
	CertPEM []byte
	// KeyPEM is the CA's private key, EC, RSA (at least 2048 bits) or
	// Ed25519, in any form cfssl's helpers.ParsePrivateKeyPEM reads.
	KeyPEM []byte
	// ChainPEM optionally holds the certificates above the issuer, the
	// issuer's issuer first; downloads serve them after the issuer.
	ChainPEM []byte
	// OCSPURL is required: it goes into every certificate's authority
	// information access (id-ad-ocsp). An absolute http or https URL.
	OCSPURL string
	// IssuerURL optionally goes into the authority information access as
	// id-ad-caIssuers, where the issuer certificate can be fetched.
	IssuerURL string
	// Profiles are the issuance profiles by name; nil means
	// DefaultProfiles().
	Profiles map[string]Profile
	// DefaultProfile names the profile used when an order names none;
	// "" means "tlsserver".
	DefaultProfile string
	// MaxValidity, if positive, is the longest validity a profile may have
	// (the ledger policy's maximum); NewIssuer refuses longer profiles.
	MaxValidity time.Duration
}

// Issuer is the CA of the ACME server: it signs certificates for finalized
// orders under the configured profiles, through cfssl's local signer. It
// is safe for concurrent use.
//
// Each Profile becomes two cfssl signing profiles, one for RSA subject
// keys and one for the others, because cfssl takes the key usage from the
// signing profile alone, while here it depends on the key type too. Every
// cfssl profile has a CSR whitelist admitting only the public key (and the
// CA's own signature algorithm), so nothing else of the CSR reaches the
// certificate. Without it cfssl starts from the whole CSR: it fills every
// subject attribute the request leaves empty (O, OU, L, serialNumber...)
// from the CSR's subject, copies a DelegationUsage extension, and refuses
// a CSR asking for CA basic constraints.
type Issuer struct {
	cert     *x509.Certificate
	chain    []*x509.Certificate // above cert, issuer's issuer first
	signer   *local.Signer
	profiles map[string]Profile
	def      string
}

// cfsslProfile is the name of the cfssl signing profile for profile name
// and subject keys of the given kind.
func cfsslProfile(name string, rsaKey bool) string {
	if rsaKey {
		return "rsa:" + name
	}
	return "other:" + name
}

// NewIssuer checks cfg and returns an Issuer. It refuses a certificate that
// is not a CA or has no subject key identifier, a key that does not match
// it, a chain that does not chain up from it, missing or malformed URLs,
// invalid profiles (see Profile), an unknown default profile and profiles
// longer than cfg.MaxValidity.
func NewIssuer(cfg IssuerConfig) (*Issuer, error) {
	cert, err := helpers.ParseCertificatePEM(cfg.CertPEM)
	if err != nil {
		return nil, fmt.Errorf("acme: issuer certificate: %w", err)
	}
	if !cert.BasicConstraintsValid || !cert.IsCA {
		return nil, errors.New("acme: issuer certificate is not a CA (basic constraints)")
	}
	if cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, errors.New("acme: issuer certificate lacks the keyCertSign key usage")
	}
	if len(cert.SubjectKeyId) == 0 {
		// Go takes a certificate's authority key identifier from its
		// parent's subject key identifier; RFC 5280 §4.2.1.1 requires it.
		return nil, errors.New("acme: issuer certificate has no subject key identifier")
	}
	priv, err := helpers.ParsePrivateKeyPEM(cfg.KeyPEM)
	if err != nil {
		return nil, fmt.Errorf("acme: issuer key: %w", err)
	}
	if !sameKey(priv.Public(), cert.PublicKey) {
		return nil, errors.New("acme: issuer key does not match the issuer certificate")
	}
	sigAlgo := signer.DefaultSigAlgo(priv)
	switch sigAlgo {
	case x509.UnknownSignatureAlgorithm, x509.SHA1WithRSA, x509.ECDSAWithSHA1:
		return nil, fmt.Errorf("acme: issuer key: unsupported or too weak for signing (%v)", sigAlgo)
	}
	chain, err := parseChain(cert, cfg.ChainPEM)
	if err != nil {
		return nil, err
	}
	if err := checkAIAURL("OCSP URL", cfg.OCSPURL, true); err != nil {
		return nil, err
	}
	if err := checkAIAURL("issuer URL", cfg.IssuerURL, false); err != nil {
		return nil, err
	}

	profiles := cfg.Profiles
	if profiles == nil {
		profiles = DefaultProfiles()
	}
	def := cfg.DefaultProfile
	if def == "" {
		def = ProfileTLSServer
	}
	if err := checkProfiles(profiles, def); err != nil {
		return nil, err
	}
	own := make(map[string]Profile, len(profiles))
	policy := &config.Signing{Profiles: make(map[string]*config.SigningProfile, 2*len(profiles))}
	for name, p := range profiles {
		if cfg.MaxValidity > 0 && p.Validity > cfg.MaxValidity {
			return nil, fmt.Errorf("acme: profile %q: validity %v exceeds the maximum %v", name, p.Validity, cfg.MaxValidity)
		}
		own[name] = p.clone()
		for _, rsaKey := range []bool{false, true} {
			sp, err := signingProfile(p, rsaKey, cfg.OCSPURL, cfg.IssuerURL)
			if err != nil {
				return nil, fmt.Errorf("acme: profile %q: %w", name, err)
			}
			policy.Profiles[cfsslProfile(name, rsaKey)] = sp
		}
	}
	// cfssl falls back to the default for a profile name it does not know;
	// Issue never asks for one, but the fallback is at least harmless.
	policy.Default = policy.Profiles[cfsslProfile(def, false)]

	s, err := local.NewSigner(priv, cert, sigAlgo, policy)
	if err != nil {
		return nil, fmt.Errorf("acme: cfssl signer: %w", err)
	}
	return &Issuer{cert: cert, chain: chain, signer: s, profiles: own, def: def}, nil
}

// parseChain parses the certificates above the issuer and checks that each
// signed the one before it.
func parseChain(issuer *x509.Certificate, chainPEM []byte) ([]*x509.Certificate, error) {
	if len(strings.TrimSpace(string(chainPEM))) == 0 {
		return nil, nil
	}
	chain, err := helpers.ParseCertificatesPEM(chainPEM)
	if err != nil {
		return nil, fmt.Errorf("acme: issuer chain: %w", err)
	}
	if len(chain) == 0 {
		return nil, errors.New("acme: issuer chain: no certificates")
	}
	child := issuer
	for n, parent := range chain {
		if err := child.CheckSignatureFrom(parent); err != nil {
			return nil, fmt.Errorf("acme: issuer chain: certificate %d did not sign the one below it: %w", n+1, err)
		}
		child = parent
	}
	return chain, nil
}

// checkAIAURL checks an authority information access URL: absolute http
// or https with a host. An empty s is an error only if required.
func checkAIAURL(what, s string, required bool) error {
	if s == "" {
		if required {
			return fmt.Errorf("acme: %s required", what)
		}
		return nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("acme: %s: %w", what, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.Fragment != "" {
		return fmt.Errorf("acme: %s %q: want an absolute http or https URL", what, s)
	}
	return nil
}

// signingProfile builds the cfssl signing profile of p for subject keys
// that are RSA (rsaKey) or not.
func signingProfile(p Profile, rsaKey bool, ocspURL, issuerURL string) (*config.SigningProfile, error) {
	ekus, err := profileEKUs(p.Usages)
	if err != nil {
		return nil, err
	}
	policies, err := profilePolicies(p.Policies)
	if err != nil {
		return nil, err
	}
	usages := []string{usageDigitalSignature}
	if rsaKey && keyTransport(ekus) {
		usages = append(usages, usageKeyEncipherment)
	}
	sp := &config.SigningProfile{
		Usage:        append(usages, ekus...),
		OCSP:         ocspURL,
		Expiry:       p.Validity,
		ExpiryString: p.Validity.String(),
		Policies:     policies,
		// Only the key comes from the CSR; SignatureAlgorithm is the
		// CA's (cfssl puts its own into the CSR template).
		CSRWhitelist: &config.CSRWhitelist{PublicKey: true, PublicKeyAlgorithm: true, SignatureAlgorithm: true},
	}
	if issuerURL != "" {
		sp.IssuerURL = []string{issuerURL}
	}
	return sp, nil
}

// keyTransport reports whether one of the extended key usages (cfssl
// names) is a purpose RFC 5280 §4.2.1.12 finds keyEncipherment consistent
// with: TLS server authentication (RSA key transport before TLS 1.3) and
// email protection. TLS client authentication only signs.
func keyTransport(ekus []string) bool {
	for _, name := range ekus {
		switch config.ExtKeyUsage[name] {
		case x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageEmailProtection:
			return true
		}
	}
	return false
}

// Profiles returns the issuer's profiles: name to description.
func (i *Issuer) Profiles() map[string]string {
	m := make(map[string]string, len(i.profiles))
	for name, p := range i.profiles {
		m[name] = p.Description
	}
	return m
}

// DefaultProfile returns the name of the profile used when none is asked
// for.
func (i *Issuer) DefaultProfile() string { return i.def }

// Profile returns a copy of the named profile.
func (i *Issuer) Profile(name string) (Profile, bool) {
	p, ok := i.profiles[name]
	if !ok {
		return Profile{}, false
	}
	return p.clone(), true
}

// Certificate returns the issuing CA certificate. It is shared: do not
// modify it.
func (i *Issuer) Certificate() *x509.Certificate { return i.cert }

// Chain returns what follows a certificate in a download, DER encoded:
// the issuer certificate, then the certificates of IssuerConfig.ChainPEM.
func (i *Issuer) Chain() [][]byte {
	out := make([][]byte, 0, 1+len(i.chain))
	out = append(out, slices.Clone(i.cert.Raw))
	for _, c := range i.chain {
		out = append(out, slices.Clone(c.Raw))
	}
	return out
}

// Issue signs a certificate for csr's public key, whose subjectAltNames
// are exactly idents (dns and ip identifiers; a dns identifier may be a
// wildcard), under the named profile ("" is the default). csr must already
// be parsed and its signature checked; nothing but its public key is used.
// The subject is the commonName of the first dns identifier if that fits
// in 64 characters, else empty. notBefore is now minus one minute (clock
// skew), notAfter notBefore plus the profile's validity; the serial number
// is cfssl's (159 random bits). It returns the certificate, DER encoded.
//
// An unknown profile is an error wrapping ErrInvalidProfile. A malformed
// identifier is a malformed or unsupportedIdentifier *Problem, an
// unacceptable key (see CheckAccountKey; also the CA's own key) a badCSR
// one. DNS names go into the certificate in lower case. Issue refuses a
// certificate whose validity would not lie within the issuing CA's.
func (i *Issuer) Issue(csr *x509.CertificateRequest, idents []Identifier, profile string, now time.Time) ([]byte, error) {
	if profile == "" {
		profile = i.def
	}
	p, ok := i.profiles[profile]
	if !ok {
		return nil, fmt.Errorf("acme: issue: profile %q: %w", profile, ErrInvalidProfile)
	}
	if csr == nil || len(csr.Raw) == 0 {
		return nil, ErrBadCSR.Errorf("no CSR")
	}
	if err := CheckAccountKey(csr.PublicKey); err != nil {
		return nil, ErrBadCSR.Errorf("CSR public key: %s", ProblemOf(err).Detail)
	}
	if sameKey(csr.PublicKey, i.cert.PublicKey) {
		return nil, ErrBadCSR.Errorf("CSR public key is the CA's")
	}
	dnsNames, ips, err := sanNames(idents)
	if err != nil {
		return nil, err
	}

	notBefore := now.UTC().Truncate(time.Second).Add(-issueBackdate)
	notAfter := notBefore.Add(p.Validity)
	if notBefore.Before(i.cert.NotBefore) || notAfter.After(i.cert.NotAfter) {
		return nil, fmt.Errorf("acme: issue: validity %v to %v is outside the issuing CA's %v to %v",
			notBefore, notAfter, i.cert.NotBefore.UTC(), i.cert.NotAfter.UTC())
	}

	hosts := make([]string, 0, len(dnsNames)+len(ips))
	hosts = append(hosts, dnsNames...)
	for _, ip := range ips {
		hosts = append(hosts, ip.String())
	}
	_, rsaKey := csr.PublicKey.(*rsa.PublicKey)
	req := signer.SignRequest{
		Hosts:     hosts,
		Request:   string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr.Raw})),
		Profile:   cfsslProfile(profile, rsaKey),
		NotBefore: notBefore,
		NotAfter:  notAfter,
	}
	if len(dnsNames) > 0 && len(dnsNames[0]) <= maxCommonNameLen {
		req.Subject = &signer.Subject{CN: dnsNames[0]}
	}
	certPEM, err := i.signer.Sign(req)
	if err != nil {
		return nil, fmt.Errorf("acme: issue: cfssl sign: %w", err)
	}
	block, _ := pem.Decode(certPEM)
	if block == nil {
		return nil, errors.New("acme: issue: cfssl returned no certificate")
	}
	if err := checkIssued(block.Bytes, csr, dnsNames, ips); err != nil {
		return nil, err
	}
	return block.Bytes, nil
}

// sanNames checks idents and returns the DNS names (lower case) and IP
// addresses they make, in order, refusing duplicates.
func sanNames(idents []Identifier) (dnsNames []string, ips []net.IP, err error) {
	if len(idents) == 0 {
		return nil, nil, ErrMalformed.Errorf("no identifiers")
	}
	seen := make(map[string]bool, len(idents))
	for _, ident := range idents {
		t, err := checkIdentifier(ident, true)
		if err != nil {
			return nil, nil, err
		}
		var name string
		if ident.Type == IdentifierIP {
			name = t.ip.String()
			ips = append(ips, net.IP(t.ip.AsSlice()))
		} else {
			name = strings.ToLower(ident.Value)
			dnsNames = append(dnsNames, name)
		}
		key := ident.Type + ":" + name
		if seen[key] {
			return nil, nil, ErrMalformed.Errorf("duplicate identifier %s", key)
		}
		seen[key] = true
	}
	return dnsNames, ips, nil
}

// checkIssued checks what cfssl signed against what was asked, since
// cfssl sorts its hosts into SAN types by parsing strings: the key is the
// CSR's and the SANs are exactly dnsNames and ips.
func checkIssued(der []byte, csr *x509.CertificateRequest, dnsNames []string, ips []net.IP) error {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return fmt.Errorf("acme: issue: parse issued certificate: %w", err)
	}
	switch {
	case !sameKey(cert.PublicKey, csr.PublicKey):
		return errors.New("acme: issue: issued certificate has the wrong key")
	case !slices.Equal(cert.DNSNames, dnsNames),
		!slices.EqualFunc(cert.IPAddresses, ips, net.IP.Equal),
		len(cert.EmailAddresses) > 0, len(cert.URIs) > 0:
		return errors.New("acme: issue: issued certificate has the wrong subjectAltNames")
	}
	return nil
}
