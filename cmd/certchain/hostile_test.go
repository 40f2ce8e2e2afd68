package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certchain/certchain/certchain"
	"github.com/certchain/certchain/internal/pki"
)

// TestConsortiumHostile: one attempt per case, each answered with its
// exact problem (and, for a transaction the ledger decided, its rule) and
// none of them moving the ledger head.
func TestConsortiumHostile(t *testing.T) {
	dir := t.TempDir()
	a := startApp(t, dir)
	nid := a.Network.Genesis.NetworkID
	device := func(org, cn string) (der []byte, keyFile string) {
		der, key, err := pki.NewDevice(pki.DeviceOptions{NetworkID: nid, Organization: org, CommonName: cn})
		if err != nil {
			t.Fatal(err)
		}
		keyPEM, err := pki.EncodeKeyPEM(key)
		if err != nil {
			t.Fatal(err)
		}
		keyFile = filepath.Join(t.TempDir(), cn+".key")
		writeFile(t, keyFile, keyPEM)
		return der, keyFile
	}
	post := func(c *http.Client, path, ct string, body []byte) (int, map[string]any) {
		t.Helper()
		resp, err := c.Post(a.HTTPSURL+path, ct, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		return resp.StatusCode, m
	}
	publishAs := func(member string, der []byte) {
		t.Helper()
		if code, m := post(httpsClient(t, a, member), "/v1/certificates", "application/x-pem-file", pki.EncodeCertPEM(der)); code != 200 || m["published"] != float64(1) {
			t.Fatalf("setup publish as %s: %d %v", member, code, m)
		}
	}
	ownerRequest := func(action, id, keyFile string) []byte {
		t.Helper()
		co := clientOptions{data: dir}
		proof, err := ownerProof(context.Background(), &co, action, id, "keyCompromise", "", keyFile)
		if err != nil {
			t.Fatal(err)
		}
		return []byte(proof)
	}

	mine, mineKey := device("vendor", "SC-1")
	theirs, _ := device("vendor-b", "SC-2") // another vendor's device (an admin publishes it here)
	publishAs("vendor", mine)
	publishAs("admin", theirs)
	mineID, theirsID := certchain.Sum(mine).String(), certchain.Sum(theirs).String()
	suspendMine := ownerRequest("suspend", mineID, mineKey)

	foreignNet, _, err := pki.NewDevice(pki.DeviceOptions{NetworkID: "another-consortium", Organization: "vendor", CommonName: "SC-3"})
	if err != nil {
		t.Fatal(err)
	}
	intoOther, _ := device("vendor-b", "SC-4")
	vendor := httpsClient(t, a, "vendor")
	jose := "application/jose+json"
	for _, tc := range []struct {
		name       string
		c          *http.Client
		path, ct   string
		body       []byte
		wantStatus int
		wantType   string // problem slug, or "rejected:<rule>" for a publish result
	}{
		{"non-member client certificate", httpsClientWithCert(t, a, foreignCert(t)), "/v1/certificates", "application/x-pem-file", pki.EncodeCertPEM(mine), 403, "unauthorized"},
		{"vendor publishing into another vendor's namespace", vendor, "/v1/certificates", "application/x-pem-file", pki.EncodeCertPEM(intoOther), 200, "rejected:namespace"},
		{"vendor revoking another vendor's device", vendor, "/v1/certificates/" + theirsID + "/revoke", "application/json", []byte(`{"reason":"keyCompromise"}`), 403, "unauthorized"},
		{"operator suspending a device outside its network", httpsClient(t, a, "operator"), "/v1/certificates/" + theirsID + "/suspend", "", nil, 403, "unauthorized"},
		{"device revoking another device's certificate", http.DefaultClient, "/v1/certificates/" + theirsID + "/revoke", jose, ownerRequest("revoke", theirsID, mineKey), 403, "unauthorized"},
		{"certificate made for another network", vendor, "/v1/certificates", "application/x-pem-file", pki.EncodeCertPEM(foreignNet), 200, "rejected:network-id"},
		{"CA member publishing another CA's certificate", httpsClient(t, a, "ca"), "/v1/certificates", "application/x-pem-file", pki.EncodeCertPEM(outsiderLeaf(t)), 200, "rejected:chain"},
		{"non-admin adding a member", vendor, "/v1/members", "application/json", memberJSON(t, "mallory", "admin"), 403, "unauthorized"},
		{"non-admin adding a validator", vendor, "/v1/cluster/nodes", "application/json", []byte(`{"id":"evil","raft_address":"127.0.0.1:1","api":"https://127.0.0.1:2"}`), 403, "unauthorized"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			head := a.Node.State().Head()
			c := tc.c
			if c == http.DefaultClient {
				c = httpsClient(t, a, "")
			}
			code, m := post(c, tc.path, tc.ct, tc.body)
			got := ""
			if typ, _ := m["type"].(string); typ != "" {
				got = typ[strings.LastIndex(typ, ":")+1:]
			}
			if rs, _ := m["results"].([]any); len(rs) == 1 {
				r := rs[0].(map[string]any)
				reason, _ := r["reason"].(string)
				got = r["state"].(string) + ":" + strings.SplitN(reason, ":", 2)[0]
			}
			if code != tc.wantStatus || got != tc.wantType {
				t.Fatalf("got %d %q (%v), want %d %q", code, got, m, tc.wantStatus, tc.wantType)
			}
			if h := a.Node.State().Head(); h.Height != head.Height {
				t.Fatalf("the ledger moved from %d to %d", head.Height, h.Height)
			}
		})
	}

	// A replayed owner-signed request: good once, then refused.
	if code, m := post(httpsClient(t, a, ""), "/v1/certificates/"+mineID+"/suspend", jose, suspendMine); code != 200 || m["status"] != "suspended" {
		t.Fatalf("the owner suspends its certificate: %d %v", code, m)
	}
	if code, m := post(httpsClient(t, a, ""), "/v1/certificates/"+mineID+"/resume", jose, ownerRequest("resume", mineID, mineKey)); code != 200 || m["status"] != "good" {
		t.Fatalf("the owner resumes it: %d %v", code, m)
	}
	head := a.Node.State().Head()
	if code, m := post(httpsClient(t, a, ""), "/v1/certificates/"+mineID+"/suspend", jose, suspendMine); code != 409 || !strings.HasPrefix(m["detail"].(string), "replay") {
		t.Fatalf("a replayed owner-signed suspension: %d %v", code, m)
	}
	if h := a.Node.State().Head(); h.Height != head.Height {
		t.Fatalf("the replay moved the ledger from %d to %d", head.Height, h.Height)
	}

	// The owner renews its certificate with its key (a new key for the
	// same device), then revokes the successor; the revocation replayed is
	// refused.
	mineFile := filepath.Join(t.TempDir(), "SC-1.pem")
	writeFile(t, mineFile, pki.EncodeCertPEM(mine))
	next, nextKey := device("vendor", "SC-1")
	nextFile := filepath.Join(t.TempDir(), "SC-1-next.pem")
	writeFile(t, nextFile, pki.EncodeCertPEM(next))
	if out := mustCLI(t, dir, "renew", "--owner-key", mineKey, mineFile, nextFile); !strings.Contains(out, "successor") {
		t.Fatalf("the owner renews: %s", out)
	}
	nextID := certchain.Sum(next).String()
	revokeNext := ownerRequest("revoke", nextID, nextKey)
	if code, m := post(httpsClient(t, a, ""), "/v1/certificates/"+nextID+"/revoke", jose, revokeNext); code != 200 || m["status"] != "revoked" {
		t.Fatalf("the owner revokes the successor: %d %v", code, m)
	}
	head = a.Node.State().Head()
	if code, m := post(httpsClient(t, a, ""), "/v1/certificates/"+nextID+"/revoke", jose, revokeNext); code != 409 || !strings.HasPrefix(m["detail"].(string), "replay") {
		t.Fatalf("a replayed owner-signed revocation: %d %v", code, m)
	}
	if h := a.Node.State().Head(); h.Height != head.Height {
		t.Fatalf("the replayed revocation moved the ledger from %d to %d", head.Height, h.Height)
	}

	// A publish with a key that was revoked.
	key, err := pki.GenerateKey(pki.KeyP256)
	if err != nil {
		t.Fatal(err)
	}
	leaked, err := pki.SelfSign(pki.DeviceOptions{NetworkID: nid, Organization: "vendor", CommonName: "SC-9"}, key)
	if err != nil {
		t.Fatal(err)
	}
	again, err := pki.SelfSign(pki.DeviceOptions{NetworkID: nid, Organization: "vendor", CommonName: "SC-10"}, key)
	if err != nil {
		t.Fatal(err)
	}
	publishAs("vendor", leaked)
	leakedFile := filepath.Join(t.TempDir(), "SC-9.pem")
	writeFile(t, leakedFile, pki.EncodeCertPEM(leaked))
	mustCLI(t, dir, "revoke-key", "--as", "vendor", leakedFile)
	head = a.Node.State().Head()
	if code, m := post(vendor, "/v1/certificates", "application/x-pem-file", pki.EncodeCertPEM(again)); code != 200 || m["rejected"] != float64(1) ||
		!strings.HasPrefix(m["results"].([]any)[0].(map[string]any)["reason"].(string), "key-blocked") {
		t.Fatalf("a publish with a revoked key: %d %v", code, m)
	}
	if h := a.Node.State().Head(); h.Height != head.Height {
		t.Fatalf("the refused publish moved the ledger from %d to %d", head.Height, h.Height)
	}
}

// memberJSON is the body of POST /v1/members for a new member with a
// fresh identity certificate.
func memberJSON(t *testing.T, name, role string) []byte {
	certFile, _ := identity(t, name)
	b, err := json.Marshal(certchain.Member{Name: name, Role: certchain.Role(role), Cert: string(readFile(t, certFile))})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// outsiderLeaf is a TLS leaf signed by a CA that is no member's.
func outsiderLeaf(t *testing.T) []byte {
	t.Helper()
	caKey, err := pki.GenerateKey(pki.KeyP256)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "outsider CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leafKey, _ := pki.GenerateKey(pki.KeyP256)
	leafTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "gw.outsider.example"},
		DNSNames: []string{"gw.outsider.example"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(12 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, leafKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	return der
}
