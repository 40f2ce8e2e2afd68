package main

import (
	"strings"
	"testing"
)

// Relying parties nobody here wrote, configured the ordinary way with the
// issuing CA as their only trust, accept a node's OCSP answers about
// CA-signed certificates and enforce revocation: nginx stapling with
// ssl_stapling_verify, curl --cert-status, gnutls-cli --ocsp, and (in
// relyingparty_strongswan_linux_test.go) strongSwan with revocation =
// strict. Each runs against every rpScenario.

// TestRelyingPartyNginxStapling: nginx with ssl_stapling_verify and the
// issuing CA as ssl_trusted_certificate fetches the node's answer (the
// certificate's AIA) and staples it for a good certificate; curl
// --cert-status and gnutls-cli --ocsp accept the staple. Once the
// certificate is revoked and nginx reloaded, nginx verifies the node's
// answer, logs the revocation and staples nothing: curl finds no status,
// and gnutls-cli, asking the responder itself, sees the revocation.
func TestRelyingPartyNginxStapling(t *testing.T) {
	nginx, curl, gnutls := requireTool(t, "nginx"), requireTool(t, "curl"), requireTool(t, "gnutls-cli")
	for _, sc := range rpScenarios {
		t.Run(sc.name, func(t *testing.T) {
			l := sc.start(t)
			c := l.issue(t, "www.certchain.test")
			n := startNginx(t, nginx, c, l.caFile)
			staple, refusal := n.waitStapling(t, c.name, l.ca, nil)
			if staple == nil {
				t.Fatalf("nginx refused the node's answer for a good certificate:\n%s", refusal)
			}
			out, err := curlCertStatus(curl, n.addr, c.name, l.caFile)
			wantAccepted(t, "curl --cert-status, good", out, err, "ok")
			out, err = gnutlsOCSP(gnutls, n.addr, c.name, l.caFile)
			wantAccepted(t, "gnutls-cli --ocsp, good", out, err, "Status: The certificate is trusted")
			if strings.Contains(out, "Connecting to OCSP server") { // it asks only when the staple did not do
				t.Fatalf("gnutls-cli did not accept nginx's staple:\n%s", out)
			}

			l.revoke(t, c)
			n.reload(t)
			if staple, refusal = n.waitStapling(t, c.name, l.ca, staple); staple != nil {
				t.Fatalf("nginx stapled %d bytes for a revoked certificate: %x", len(staple), staple)
			}
			if !strings.Contains(refusal, `certificate status "revoked"`) {
				t.Fatalf("nginx refused the answer for a revoked certificate for another reason:\n%s", refusal)
			}
			out, err = curlCertStatus(curl, n.addr, c.name, l.caFile)
			wantRefused(t, "curl --cert-status, revoked", out, err, "No OCSP response received")
			out, err = gnutlsOCSP(gnutls, n.addr, c.name, l.caFile)
			wantRefused(t, "gnutls-cli --ocsp, revoked", out, err, "Certificate was revoked")
		})
	}
}

// TestRelyingPartyCurlCertStatus: curl --cert-status with the issuing CA
// as --cacert judges the node's answer stapled by a server that staples
// whatever the responder says: good is accepted, revoked is refused.
func TestRelyingPartyCurlCertStatus(t *testing.T) {
	curl := requireTool(t, "curl")
	for _, sc := range rpScenarios {
		t.Run(sc.name, func(t *testing.T) {
			l := sc.start(t)
			c := l.issue(t, "api.certchain.test")
			addr := serveTLS(t, c, true)
			out, err := curlCertStatus(curl, addr, c.name, l.caFile)
			wantAccepted(t, "curl --cert-status, good", out, err, "ok")
			l.revoke(t, c)
			out, err = curlCertStatus(curl, addr, c.name, l.caFile)
			wantRefused(t, "curl --cert-status, revoked", out, err, "SSL certificate revocation reason: keyCompromise")
		})
	}
}

// TestRelyingPartyGnuTLSOCSP: gnutls-cli --ocsp with the issuing CA as
// --x509cafile, against a server that staples nothing, asks the responder
// in the certificate's AIA itself: good is accepted, revoked refused.
func TestRelyingPartyGnuTLSOCSP(t *testing.T) {
	gnutls := requireTool(t, "gnutls-cli")
	for _, sc := range rpScenarios {
		t.Run(sc.name, func(t *testing.T) {
			l := sc.start(t)
			c := l.issue(t, "mail.certchain.test")
			addr := serveTLS(t, c, false)
			out, err := gnutlsOCSP(gnutls, addr, c.name, l.caFile)
			wantAccepted(t, "gnutls-cli --ocsp, good", out, err, "OCSP server flags certificate not revoked")
			if !strings.Contains(out, "Status: The certificate is trusted") || !strings.Contains(out, "OCSP: verified 1 certificate") {
				t.Fatalf("gnutls-cli --ocsp, good: the chain or the OCSP answer not verified:\n%s", out)
			}
			l.revoke(t, c)
			out, err = gnutlsOCSP(gnutls, addr, c.name, l.caFile)
			wantRefused(t, "gnutls-cli --ocsp, revoked", out, err, "Certificate was revoked")
		})
	}
}
