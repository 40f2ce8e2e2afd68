package main

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certchain/certchain/api"
	"github.com/certchain/certchain/certchain"
	"github.com/certchain/certchain/internal/pki"
	xacme "golang.org/x/crypto/acme"
	"golang.org/x/crypto/ocsp"
)

// TestRevokeKey: a leaked key is revoked with `certchain revoke-key`: every
// certificate carrying it is revoked in one transaction, GET /v1/keys
// shows who blocked it and why, and the key is refused from then on by
// publish and by ACME finalize. A member that does not own the key's
// certificates cannot revoke it, and its attempt changes nothing.
func TestRevokeKey(t *testing.T) {
	ch := newChallengeServers(t)
	a := startACMEApp(t, ch)
	dir := a.Config.DataDir
	key, err := pki.GenerateKey(pki.KeyP256)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, name := range []string{"gw1.certchain.test", "gw2.certchain.test", "gw3.certchain.test"} {
		pemBytes, err := a.Network.SignWithMemberCA(key, name, []string{name}, 90*24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(t.TempDir(), name+".pem")
		writeFile(t, f, pemBytes)
		files = append(files, f)
	}
	for _, f := range files[:2] {
		mustCLI(t, dir, "publish", "--quiet", "--as", "ca", f)
	}
	leaf, err := x509.ParseCertificate(mustPEM(t, files[0]))
	if err != nil {
		t.Fatal(err)
	}
	hash := certchain.Sum(leaf.RawSubjectPublicKeyInfo).String()

	head := a.Node.State().Head()
	if code, out := cli(t, dir, "revoke-key", "--as", "vendor", files[0]); code == 0 || !strings.Contains(out, "unauthorized") {
		t.Fatalf("revoke-key by a member that owns none of the certificates: exit %d\n%s", code, out)
	}
	if h := a.Node.State().Head(); h.Height != head.Height {
		t.Fatalf("a refused revoke-key moved the ledger from %d to %d", head.Height, h.Height)
	}

	out := mustCLI(t, dir, "revoke-key", "--as", "ca", "--reason", "keyCompromise", files[0])
	if !strings.Contains(out, "2 certificates revoked") {
		t.Fatalf("revoke-key:\n%s", out)
	}
	for _, f := range files[:2] {
		c, _ := x509.ParseCertificate(mustPEM(t, f))
		r, err := ocspAt(a.ocspURLs()[0], c, a.Network.MemberCA)
		if err != nil || r.Status != ocsp.Revoked || r.RevocationReason != ocsp.KeyCompromise {
			t.Fatalf("%s: OCSP %+v %v", f, r, err)
		}
	}
	var view api.KeyView
	if err := json.Unmarshal(httpGet(t, a.HTTPURL+"/v1/keys/"+hash), &view); err != nil {
		t.Fatal(err)
	}
	if !view.Blocked || view.By != "ca" || view.Reason != "keyCompromise" || view.Revoked != 2 || len(view.Certificates) != 2 {
		t.Fatalf("GET /v1/keys: %+v", view)
	}
	for _, c := range view.Certificates {
		if c.Status != "revoked" {
			t.Fatalf("certificate %s is %s", c.ID, c.Status)
		}
	}

	// The key is refused from now on: publish, and an ACME order's CSR.
	report := filepath.Join(t.TempDir(), "r.tsv")
	if code, out := cli(t, dir, "publish", "--quiet", "--as", "ca", "--report", report, files[2]); code != 2 || !strings.Contains(out, "1 rejected") {
		t.Fatalf("publish with the revoked key: exit %d\n%s", code, out)
	}
	if rep := string(readFile(t, report)); !strings.Contains(rep, "key-blocked") {
		t.Fatalf("report: %s", rep)
	}
	ch.host(t, "gw3.certchain.test")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := acmeAccount(t, ctx, a, newKey(t, "p256"))
	o := ch.readyOrder(t, ctx, c, "gw3.certchain.test")
	_, _, err = c.CreateOrderCert(ctx, o.FinalizeURL, csrFor(t, key, "gw3.certchain.test"), true)
	if ae, ok := err.(*xacme.Error); !ok || ae.ProblemType != "urn:ietf:params:acme:error:badCSR" || !strings.Contains(ae.Detail, "revoked") {
		t.Fatalf("ACME finalize with the revoked key: %v", err)
	}
}
