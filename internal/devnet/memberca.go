package devnet

import (
	"crypto"
	"fmt"
	"time"

	"github.com/cloudflare/cfssl/csr"
	"github.com/cloudflare/cfssl/signer"
	"github.com/cloudflare/cfssl/signer/local"
)

// SignWithMemberCA has the "ca" member's CA issue a TLS leaf (server and
// client auth) for key, with subject CN cn and SANs hosts (DNS names or IP
// addresses), valid for validity (zero means DefaultLeafValidity) from
// five minutes ago. It returns the certificate PEM.
//
// It takes the leaf's private key, not its public key, because cfssl signs
// certificate requests: the key signs the CSR, proving possession.
func (n *Network) SignWithMemberCA(key crypto.Signer, cn string, hosts []string, validity time.Duration) ([]byte, error) {
	csrPEM, err := csr.Generate(key, &csr.CertificateRequest{CN: cn, Hosts: hosts})
	if err != nil {
		return nil, fmt.Errorf("devnet: CSR for %q: %w", cn, err)
	}
	return n.SignCSRWithMemberCA(csrPEM, validity)
}

// SignCSRWithMemberCA has the member CA sign a PEM CSR as SignWithMemberCA
// does; subject and SANs come from the CSR. When the network has OCSP URLs
// the first goes into the leaf's AIA.
func (n *Network) SignCSRWithMemberCA(csrPEM []byte, validity time.Duration) ([]byte, error) {
	if validity == 0 {
		validity = DefaultLeafValidity
	}
	ocspURL := ""
	if len(n.OCSPURLs) > 0 {
		ocspURL = n.OCSPURLs[0]
	}
	s, err := local.NewSignerFromFile(n.MemberCAFile, n.MemberCAKeyFile, leafPolicy(validity, ocspURL))
	if err != nil {
		return nil, fmt.Errorf("devnet: member CA: %w", err)
	}
	certPEM, err := s.Sign(signer.SignRequest{Request: string(csrPEM)})
	if err != nil {
		return nil, fmt.Errorf("devnet: member CA sign: %w", err)
	}
	return certPEM, nil
}
