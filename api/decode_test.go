package api

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/certchain/certchain/certchain"
	"github.com/certchain/certchain/validator/validatortest"
)

func TestDecodeCerts(t *testing.T) {
	n := validatortest.NewNetwork(t)
	dev := n.SelfSigned(t)
	inter := n.Intermediate(t, n.CA)
	leaf := n.Leaf(t, inter)
	pemJSON := func(certs ...[]byte) string {
		s := `{"certificates":[`
		for i, c := range certs {
			if i > 0 {
				s += ","
			}
			q, _ := json.Marshal(string(validatortest.PEM(c)))
			s += string(q)
		}
		return s + "]}"
	}
	bundle := append(append(append([]byte{}, validatortest.PEM(inter.Cert.Raw)...), leaf.PEM()...), dev.PEM()...)
	caDevice := n.SelfSigned(t, validatortest.WithCA()) // openssl req -x509's default
	broken := "-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n"
	cases := []struct {
		name     string
		mt, body string
		certs    int // items to publish
		chain    int // items taken as chain
		bad      int // items rejected before the ledger
		wantErr  error
	}{
		{"ok/pem-bundle-splits-chain", "application/x-pem-file", string(bundle), 2, 1, 0, nil},
		{"ok/pem-ca-alone-is-handed-in", "application/x-pem-file", string(caDevice.PEM()), 1, 0, 0, nil},
		{"ok/pem-ca-chaining-nothing-is-handed-in", "", string(validatortest.PEM(inter.Cert.Raw)) + string(dev.PEM()), 2, 0, 0, nil},
		{"ok/pem-malformed-block-is-an-item", "", string(dev.PEM()) + broken + string(leaf.PEM()), 2, 0, 1, nil},
		{"ok/pem-unterminated-block-is-an-item", "", "-----BEGIN CERTIFICATE-----\nAAAA\n" + string(dev.PEM()), 1, 0, 1, nil},
		{"ok/pem-key-block-is-an-item", "", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", 0, 0, 1, nil},
		{"ok/no-content-type", "", string(dev.PEM()), 1, 0, 0, nil},
		{"ok/json", "application/json", pemJSON(dev.DER, leaf.DER), 2, 0, 0, nil},
		{"ok/json-two-in-one-entry-is-an-item", "application/json", `{"certificates":[` + jsonString(string(dev.PEM())+string(leaf.PEM())) + `]}`, 0, 0, 1, nil},
		{"ok/der", "application/pkix-cert", string(dev.DER), 1, 0, 0, nil},
		{"fail/json-unknown-field", "application/json", `{"certs":[]}`, 0, 0, 0, certchain.ErrInvalid},
		{"fail/json-trailing", "application/json", pemJSON(dev.DER) + `{}`, 0, 0, 0, certchain.ErrInvalid},
		{"fail/json-empty", "application/json", `{"certificates":[]}`, 0, 0, 0, certchain.ErrInvalid},
		{"fail/pem-junk", "application/x-pem-file", "hello", 0, 0, 0, certchain.ErrInvalid},
		{"fail/pem-text-between-blocks", "", string(dev.PEM()) + "subject=CN=x\n" + string(leaf.PEM()), 0, 0, 0, certchain.ErrInvalid},
		{"fail/media-type", "application/xml", "<x/>", 0, 0, 0, errMediaType},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, err := decodeCerts(tc.mt, []byte(tc.body), 100)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var certs, chain, bad int
			for _, it := range b.Items {
				switch {
				case it.asChain:
					chain++
				case it.err != nil:
					bad++
					if !strings.HasPrefix(it.err.Error(), "der: ") {
						t.Errorf("rejection %q names no rule", it.err)
					}
				default:
					certs++
				}
			}
			if certs != tc.certs || chain != tc.chain || bad != tc.bad || len(b.Chain) != tc.chain {
				t.Fatalf("got %d certs, %d chain, %d bad; want %d, %d, %d", certs, chain, bad, tc.certs, tc.chain, tc.bad)
			}
		})
	}
}

func TestDecodeCertsBoundsBatch(t *testing.T) {
	n := validatortest.NewNetwork(t)
	var body []byte
	for i := 0; i < 3; i++ {
		body = append(body, n.SelfSigned(t).PEM()...)
	}
	if _, err := decodeCerts("application/x-pem-file", body, 2); err == nil {
		t.Fatal("a batch above the bound was accepted")
	}
}

func TestDecodeReason(t *testing.T) {
	cases := map[string]struct {
		body string
		want certchain.Reason
		ok   bool
	}{
		"ok/empty":         {"", certchain.ReasonUnspecified, true},
		"ok/name":          {`{"reason":"keyCompromise"}`, certchain.ReasonKeyCompromise, true},
		"ok/code":          {`{"reason":5}`, certchain.ReasonCessationOfOperation, true},
		"fail/unknown":     {`{"reason":"because"}`, 0, false},
		"fail/extra-field": {`{"reason":"keyCompromise","x":1}`, 0, false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := decodeReason([]byte(tc.body))
			if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
				t.Fatalf("got %v, %v", got, err)
			}
		})
	}
}

func TestProblemTable(t *testing.T) {
	cases := map[string]struct {
		err    error
		status int
	}{
		"not-found":    {verdictError(certchain.Verdict{Code: certchain.Rejected, Reason: "not-found: no such certificate"}), 404},
		"unauthorized": {verdictError(certchain.Verdict{Code: certchain.Rejected, Reason: "unauthorized: not yours"}), 403},
		"conflict":     {verdictError(certchain.Verdict{Code: certchain.Rejected, Reason: "state: already revoked"}), 409},
		"rule":         {verdictError(certchain.Verdict{Code: certchain.Rejected, Reason: "network-id: wrong"}), 422},
		"busy":         {certchain.ErrBusy, 503},
		"internal":     {errors.New("boom"), 500},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if p := problemFor(tc.err); p.Status != tc.status {
				t.Fatalf("status %d, want %d", p.Status, tc.status)
			}
		})
	}
}

// FuzzDecodeCerts feeds arbitrary bodies through every accepted media type:
// decoding must never panic, and what it accepts is bounded.
func FuzzDecodeCerts(f *testing.F) {
	n := validatortest.NewNetwork(f)
	f.Add("application/x-pem-file", n.SelfSigned(f).PEM())
	f.Add("application/json", []byte(`{"certificates":["-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n"]}`))
	f.Add("application/pkix-cert", n.SelfSigned(f).DER)
	f.Fuzz(func(t *testing.T, mt string, body []byte) {
		b, err := decodeCerts(mt, body, 8)
		if err != nil {
			return
		}
		if len(b.Items)+len(b.Chain) > 16 && mt != "application/pkix-cert" {
			t.Fatalf("bound not kept: %d", len(b.Items)+len(b.Chain))
		}
		for i, it := range b.Items {
			if it.err == nil && it.der == nil && mt != "application/pkix-cert" {
				t.Fatalf("item %d has no certificate and no reason", i)
			}
		}
	})
}

// FuzzDecodeReason: the revoke body decoder never panics.
func FuzzDecodeReason(f *testing.F) {
	f.Add([]byte(`{"reason":"keyCompromise"}`))
	f.Add([]byte(`{"reason":1}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		if r, err := decodeReason(body); err == nil && !r.ValidForRevoke() && r != certchain.ReasonCertificateHold && r != certchain.ReasonRemoveFromCRL {
			t.Fatalf("accepted unknown reason %d", r)
		}
	})
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
