package api

import (
	"encoding/json"
	"errors"
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
	cases := []struct {
		name     string
		mt, body string
		certs    int
		chain    int
		wantErr  error
	}{
		{"ok/pem-bundle-splits-ca-certs", "application/x-pem-file", string(bundle), 2, 1, nil},
		{"ok/no-content-type", "", string(dev.PEM()), 1, 0, nil},
		{"ok/json", "application/json", pemJSON(dev.DER, leaf.DER), 2, 0, nil},
		{"ok/der", "application/pkix-cert", string(dev.DER), 1, 0, nil},
		{"fail/json-unknown-field", "application/json", `{"certs":[]}`, 0, 0, certchain.ErrInvalid},
		{"fail/json-trailing", "application/json", pemJSON(dev.DER) + `{}`, 0, 0, certchain.ErrInvalid},
		{"fail/json-empty", "application/json", `{"certificates":[]}`, 0, 0, certchain.ErrInvalid},
		{"fail/json-two-in-one-entry", "application/json", pemJSON(append(dev.PEM(), leaf.PEM()...)), 0, 0, certchain.ErrInvalid},
		{"fail/pem-junk", "application/x-pem-file", "hello", 0, 0, certchain.ErrInvalid},
		{"fail/media-type", "application/xml", "<x/>", 0, 0, errMediaType},
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
			if err != nil || len(b.Certs) != tc.certs || len(b.Chain) != tc.chain {
				t.Fatalf("got %v certs/%v chain, err %v", len(b.Certs), len(b.Chain), err)
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
		if err == nil && len(b.Certs)+len(b.Chain) > 8 && mt != "application/pkix-cert" {
			t.Fatalf("bound not kept: %d", len(b.Certs)+len(b.Chain))
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
