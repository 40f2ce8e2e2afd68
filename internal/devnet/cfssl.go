package devnet

import (
	"fmt"
	"time"

	"github.com/cloudflare/cfssl/config"
	"github.com/cloudflare/cfssl/csr"
	"github.com/cloudflare/cfssl/initca"
	"github.com/cloudflare/cfssl/signer"
	"github.com/cloudflare/cfssl/signer/local"
)

// Validity of what the development network signs.
const (
	// InfraValidity is the lifetime of the node, member and OCSP
	// responder certificates.
	InfraValidity = 10 * 365 * 24 * time.Hour
	// caValidity makes the CAs outlive everything they sign.
	caValidity = InfraValidity + 24*time.Hour
	// DefaultLeafValidity is SignWithMemberCA's validity when given zero.
	DefaultLeafValidity = 365 * 24 * time.Hour
	// backdate is cfssl's customary backdate, applied to Options.Now.
	backdate = 5 * time.Minute
)

// Signing profiles of the network CA.
const (
	profileNode   = "node"
	profileMember = "member"
	profileOCSP   = "ocsp"
)

func newKeyRequest() *csr.KeyRequest { return &csr.KeyRequest{A: "ecdsa", S: 256} }

// newCA makes a self-signed ECDSA P-256 CA with cfssl's initca, valid from
// backdate before now. pathLenZero forbids intermediates below it.
func newCA(cn, org string, now time.Time, pathLenZero bool) (certPEM, keyPEM []byte, err error) {
	req := &csr.CertificateRequest{
		CN:         cn,
		Names:      []csr.Name{{O: org}},
		KeyRequest: newKeyRequest(),
		CA: &csr.CAConfig{
			Expiry:      caValidity.String(),
			Backdate:    caBackdate(now).String(),
			PathLenZero: pathLenZero,
		},
	}
	certPEM, _, keyPEM, err = initca.New(req)
	if err != nil {
		return nil, nil, fmt.Errorf("initca %q: %w", cn, err)
	}
	return certPEM, keyPEM, nil
}

// caBackdate is how far before the wall clock initca must start a CA so
// that it starts backdate before now: initca reads the clock itself and
// takes only a backdate (negative for a future now).
func caBackdate(now time.Time) time.Duration {
	d := time.Since(now) + backdate
	if d == 0 {
		d = time.Nanosecond // zero would mean cfssl's default
	}
	return d
}

// profile is a local signing profile with the given usages (cfssl names).
func profile(validity time.Duration, usages ...string) *config.SigningProfile {
	return &config.SigningProfile{Usage: usages, Expiry: validity, ExpiryString: validity.String()}
}

// infraPolicy is the network CA's signing policy: one profile per use.
func infraPolicy() *config.Signing {
	ocsp := profile(InfraValidity, "digital signature", "ocsp signing")
	ocsp.OCSPNoCheck = true // RFC 6960 §4.2.2.2.1: relying parties don't check the responder's own status
	return &config.Signing{
		Default: profile(InfraValidity, "digital signature", "client auth"),
		Profiles: map[string]*config.SigningProfile{
			profileNode:   profile(InfraValidity, "digital signature", "server auth", "client auth"),
			profileMember: profile(InfraValidity, "digital signature", "client auth"),
			profileOCSP:   ocsp,
		},
	}
}

// leafPolicy is the member CA's policy for TLS leaves; ocspURL may be empty.
func leafPolicy(validity time.Duration, ocspURL string) *config.Signing {
	p := profile(validity, "digital signature", "server auth", "client auth")
	p.OCSP = ocspURL
	return &config.Signing{Default: p}
}

// issue has s sign a fresh P-256 key for req under profile, valid from
// notBefore. It returns the certificate and key PEM.
func issue(s *local.Signer, prof string, req *csr.CertificateRequest, notBefore time.Time) (certPEM, keyPEM []byte, err error) {
	req.KeyRequest = newKeyRequest()
	csrPEM, keyPEM, err := csr.ParseRequest(req)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: key and CSR: %w", req.CN, err)
	}
	certPEM, err = s.Sign(signer.SignRequest{Request: string(csrPEM), Profile: prof, NotBefore: notBefore})
	if err != nil {
		return nil, nil, fmt.Errorf("%s: sign: %w", req.CN, err)
	}
	return certPEM, keyPEM, nil
}
