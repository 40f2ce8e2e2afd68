package validator_test

import (
	"bytes"
	"encoding/pem"
	"slices"
	"strings"
	"testing"

	"github.com/certchain/certchain/validator"
	vt "github.com/certchain/certchain/validator/validatortest"
)

func TestParsePEM(t *testing.T) {
	n := vt.NewNetwork(t)
	a, b := n.SelfSigned(t), n.SelfSigned(t)
	pa, pb := string(a.PEM()), string(b.PEM())
	key := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2, 3}}))
	withHeader := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED"}, Bytes: a.DER}))
	broken := "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n"
	for _, tc := range []struct {
		name   string
		data   string
		max    int
		want   int // certificates returned
		rule   string
		detail string
	}{
		{name: "ok/one", data: pa, max: 1, want: 1},
		{name: "ok/two", data: pa + pb, max: 2, want: 2},
		{name: "ok/whitespace-around", data: "\n \t" + pa + "\r\n\n" + pb + "\n\n", max: 2, want: 2},
		{name: "ok/crlf", data: strings.ReplaceAll(pa, "\n", "\r\n"), max: 1, want: 1},
		{name: "ok/zero-max-means-default", data: strings.Repeat(pa, 1+validator.MaxChain), want: 1 + validator.MaxChain},
		{name: "fail/empty", data: "", max: 1, rule: validator.RuleDER, detail: "no PEM CERTIFICATE block"},
		{name: "fail/only-whitespace", data: " \n", max: 1, rule: validator.RuleDER, detail: "no PEM"},
		{name: "fail/junk-before", data: "hello\n" + pa, max: 1, rule: validator.RuleDER, detail: "PEM block 1: text"},
		{name: "fail/junk-between", data: pa + "junk\n" + pb, max: 2, rule: validator.RuleDER, detail: "PEM block 2: text"},
		{name: "fail/junk-after", data: pa + "x", max: 2, rule: validator.RuleDER, detail: "PEM block 2: text"},
		{name: "fail/private-key", data: pa + key, max: 2, rule: validator.RuleDER, detail: `"PRIVATE KEY"`},
		{name: "fail/headers", data: withHeader, max: 1, rule: validator.RuleDER, detail: "1 headers"},
		{name: "fail/too-many", data: pa + pb, max: 1, rule: validator.RuleDER, detail: "more than 1"},
		{name: "fail/default-max", data: strings.Repeat(pa, 2+validator.MaxChain), rule: validator.RuleDER, detail: "more than 9"},
		{name: "fail/bad-der", data: string(vt.PEM([]byte{0x30, 0x00})), max: 1, rule: validator.RuleDER, detail: "PEM block 1: not a valid DER"},
		{name: "fail/broken-then-valid", data: broken + pa, max: 2, rule: validator.RuleDER, detail: "malformed PEM"},
		{name: "fail/unterminated", data: strings.TrimSuffix(pa, "-----END CERTIFICATE-----\n"), max: 1, rule: validator.RuleDER, detail: "malformed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ders, err := validator.ParsePEM([]byte(tc.data), tc.max)
			wantRule(t, err, tc.rule, tc.detail)
			if err == nil && len(ders) != tc.want {
				t.Fatalf("got %d certificates, want %d", len(ders), tc.want)
			}
			if err == nil && !bytes.Equal(ders[0], a.DER) {
				t.Fatal("first certificate differs")
			}
		})
	}
}

func TestDecodePEM(t *testing.T) {
	n, _ := newNet(t)
	dev := n.SelfSigned(t)
	for _, tc := range []struct {
		name, in string
		ok       bool
	}{
		{"one", string(dev.PEM()), true},
		{"surrounding-whitespace", "\n  " + string(dev.PEM()) + "\n\n", true},
		{"unparsed-der-passes", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", true},
		{"two", string(dev.PEM()) + string(dev.PEM()), false},
		{"text-after", string(dev.PEM()) + "x", false},
		{"key", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", false},
		{"empty", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := validator.DecodePEM([]byte(tc.in))
			if (err == nil) != tc.ok {
				t.Fatalf("DecodePEM: %v, want ok %v", err, tc.ok)
			}
		})
	}
}

func TestSplitChain(t *testing.T) {
	n := vt.NewNetwork(t)
	inter := n.Intermediate(t, n.CA)
	leaf := n.Leaf(t, inter)
	caDevice := n.SelfSigned(t, vt.WithCA()) // `openssl req -x509`: self-signed, CA:TRUE
	sameName := n.Root(t, vt.CA, vt.KeyP256) // n.CA's subject, another key
	sameNameDevice := n.SelfSigned(t, vt.WithCA(), vt.WithSubject(caDevice.Cert.Subject))
	dev := n.SelfSigned(t)
	for _, tc := range []struct {
		name string
		in   [][]byte
		want []bool // chain or not, per certificate
	}{
		{"intermediate-before-leaf", [][]byte{inter.Cert.Raw, leaf.DER}, []bool{true, false}},
		{"intermediate-after-leaf", [][]byte{leaf.DER, inter.Cert.Raw}, []bool{false, true}},
		{"root-intermediate-leaf", [][]byte{n.CA.Cert.Raw, inter.Cert.Raw, leaf.DER}, []bool{true, true, false}},
		{"ca-alone-is-handed-in", [][]byte{caDevice.DER}, []bool{false}},
		{"ca-devices-with-one-name", [][]byte{caDevice.DER, sameNameDevice.DER}, []bool{false, false}},
		{"intermediate-issuing-nothing", [][]byte{inter.Cert.Raw, dev.DER}, []bool{false, false}},
		{"same-name-other-key", [][]byte{sameName.Cert.Raw, inter.Cert.Raw}, []bool{false, false}},
		{"unparsable", [][]byte{{0x30, 0x00}, inter.Cert.Raw}, []bool{false, false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leaves, chain := validator.SplitChain(tc.in)
			var wantLeaves, wantChain int
			for i, isChain := range tc.want {
				got := slices.ContainsFunc(chain, func(d []byte) bool { return bytes.Equal(d, tc.in[i]) })
				if got != isChain {
					t.Errorf("certificate %d: chain %v, want %v", i, got, isChain)
				}
				if isChain {
					wantChain++
				} else {
					wantLeaves++
				}
			}
			if len(leaves) != wantLeaves || len(chain) != wantChain {
				t.Fatalf("%d leaves, %d chain; want %d, %d", len(leaves), len(chain), wantLeaves, wantChain)
			}
		})
	}
}
