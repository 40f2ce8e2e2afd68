package api

import (
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/certchain/certchain/validator"
	"github.com/certchain/certchain/validator/validatortest"
)

// readAll decodes a whole stream: the entries, and the error that ended
// it (nil at a clean end).
func readAll(t testing.TB, mt, body string) ([]streamItem, error) {
	r, err := newItemReader(mt, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	var out []streamItem
	for {
		it, err := r.next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, it)
	}
}

func TestStreamDecode(t *testing.T) {
	n := validatortest.NewNetwork(t)
	dev := string(n.SelfSigned(t).PEM())
	dev2 := string(n.SelfSigned(t).PEM())
	inter := n.Intermediate(t, n.CA)
	interPEM := string(validatortest.PEM(inter.Cert.Raw))
	leaf := string(n.Leaf(t, inter).PEM())
	line := func(cert string, chain ...string) string {
		b, _ := jsonLine(StreamItem{Certificate: cert, Chain: chain})
		return b
	}
	caDevice := string(n.SelfSigned(t, validatortest.WithCA()).PEM())
	for _, tc := range []struct {
		name, mt, body string
		items          int
		bad            []int // entries answered as rejected
		chain          []int // entries taken as chain
		broken         bool  // the stream ends with an error
	}{
		{"pem/two", "application/x-pem-file", dev + "\n" + dev2, 2, nil, nil, false},
		{"pem/intermediate-chains-later-leaf", "", interPEM + leaf, 2, nil, []int{0}, false},
		{"pem/root-intermediate-leaf", "", string(validatortest.PEM(n.CA.Cert.Raw)) + interPEM + leaf + leaf, 4, nil, []int{0, 1}, false},
		{"pem/ca-device-is-handed-in", "", caDevice + dev, 2, nil, nil, false},
		{"pem/ca-last-is-handed-in", "", dev + interPEM, 2, nil, nil, false},
		{"pem/bad-base64-is-one-rejection", "", dev + "-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n" + dev2, 3, []int{1}, nil, false},
		{"pem/key-block-rejected", "", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n" + dev, 2, []int{0}, nil, false},
		{"pem/text-breaks-stream", "", dev + "subject=CN=x\n" + dev2, 1, nil, nil, true},
		{"pem/unterminated-at-end", "", dev + "-----BEGIN CERTIFICATE-----\nAAAA\n", 2, []int{1}, nil, false},
		{"pem/unterminated-before-next", "", "-----BEGIN CERTIFICATE-----\nAAAA\n" + dev, 2, []int{0}, nil, false},
		{"pem/huge-block", "", "-----BEGIN CERTIFICATE-----\n" + strings.Repeat(strings.Repeat("A", 64)+"\n", 3000) + "-----END CERTIFICATE-----\n" + dev, 2, []int{0}, nil, false},
		{"pem/huge-line-outside-block", "", strings.Repeat("x", maxStreamLine+10) + "\n" + dev, 0, nil, nil, true},
		{"ndjson/two-and-blank", "application/x-ndjson", line(dev) + "\n" + line(dev2), 2, nil, nil, false},
		{"ndjson/chain", "application/x-ndjson", line(leaf, interPEM), 1, nil, nil, false},
		{"ndjson/bad-json-one-rejection", "application/x-ndjson", line(dev) + "{not json}\n" + `{"certificate":"x","extra":1}` + "\n" + line(dev2), 4, []int{1, 2}, nil, false},
		{"ndjson/too-long-line-one-rejection", "application/x-ndjson", line(dev) + strings.Repeat("x", 3*maxStreamLine) + "\n" + line(dev2), 3, []int{1}, nil, false},
		{"ndjson/too-many-intermediates", "application/x-ndjson", line(leaf, interPEM, interPEM, interPEM, interPEM, interPEM, interPEM, interPEM, interPEM, interPEM), 1, []int{0}, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			items, err := readAll(t, tc.mt, tc.body)
			if (err != nil) != tc.broken || len(items) != tc.items {
				t.Fatalf("%d entries, error %v; want %d entries, broken %v", len(items), err, tc.items, tc.broken)
			}
			for i, it := range items {
				bad, chain := slices.Contains(tc.bad, i), slices.Contains(tc.chain, i)
				if (it.err != nil) != bad || (it.err == nil && it.der == nil) || it.asChain != chain {
					t.Fatalf("entry %d: err %v, chain %v; want rejected %v, chain %v", i, it.err, it.asChain, bad, chain)
				}
				if bad && !ruleNamed(it.err.Error()) {
					t.Fatalf("entry %d: reason %q names no rule", i, it.err)
				}
			}
		})
	}
	if _, err := newItemReader("application/pdf", strings.NewReader("")); !errors.Is(err, errMediaType) {
		t.Fatalf("pdf stream: %v", err)
	}
}

func jsonLine(it StreamItem) (string, error) {
	b, err := json.Marshal(it)
	return string(b) + "\n", err
}

// FuzzStreamDecode: no stream, however broken, panics the decoders or
// yields an entry with neither a certificate nor a reason.
func FuzzStreamDecode(f *testing.F) {
	n := validatortest.NewNetwork(f)
	dev := string(n.SelfSigned(f).PEM())
	f.Add(true, dev+dev)
	f.Add(true, "-----BEGIN CERTIFICATE-----\n\n-----END CERTIFICATE-----\n")
	f.Add(false, `{"certificate":"`+strings.ReplaceAll(dev, "\n", `\n`)+`"}`+"\n\n{}")
	f.Add(false, "{\"chain\":[\"\"]}\n")
	f.Fuzz(func(t *testing.T, pem bool, body string) {
		mt := "application/x-ndjson"
		if pem {
			mt = "application/x-pem-file"
		}
		items, _ := readAll(t, mt, body)
		for i, it := range items {
			if it.err == nil && it.der == nil {
				t.Fatalf("entry %d has no certificate and no error", i)
			}
		}
	})
}

// TestDecodeItemFast: the usual lines take the fast path; everything else
// falls back to encoding/json (and either way the item is the same).
func TestDecodeItemFast(t *testing.T) {
	pemLine, err := json.Marshal(StreamItem{Certificate: "-----BEGIN CERTIFICATE-----\nMIIB/+\n-----END CERTIFICATE-----\n", Signature: "c2ln+/="})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		line string
		fast bool
	}{
		{string(pemLine), true},
		{`{"certificate":"a"}`, true},
		{` { "signature" : "s" , "certificate" : "a\/b\\\"\r\t" } ` + "\r", true},
		{`{"certificate":"a","chain":["b"]}`, false},
		{`{"Certificate":"a"}`, false},                   // encoding/json matches names case-insensitively
		{`{"certificate":"a","certificate":"b"}`, false}, // the last wins there
		{`{"certificate":"\u0041"}`, false},
		{`{"certificate":"é"}`, false},
		{`{"certificate":null}`, false},
		{`{"signature":"s"}`, false},
		{`{"certificate":"a"} x`, false},
		{`{"certificate":"a",}`, false},
		{`{"certificate":"a"`, false},
		{`{}`, false},
		{`[]`, false},
	} {
		var fast, slow StreamItem
		ok := decodeItemFast([]byte(tc.line), &fast)
		if ok != tc.fast {
			t.Errorf("%s: fast path %v, want %v", tc.line, ok, tc.fast)
		}
		if ok {
			if err := decodeJSON([]byte(tc.line), &slow); err != nil || !reflect.DeepEqual(fast, slow) {
				t.Errorf("%s: fast %+v, encoding/json %+v %v", tc.line, fast, slow, err)
			}
		}
	}
}

// FuzzDecodeItemFast: wherever the fast path decodes a line, encoding/json
// (with the stream's strict settings) decodes it too, to the same item.
func FuzzDecodeItemFast(f *testing.F) {
	f.Add(`{"certificate":"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n","signature":"c2ln"}`)
	f.Add(` {"signature" : "a\/\"\\" ,"certificate":"x\r\t"} `)
	f.Add(`{"certificate":"a","certificate":"b"}`)
	f.Fuzz(func(t *testing.T, line string) {
		var fast, slow StreamItem
		if !decodeItemFast([]byte(line), &fast) {
			return
		}
		if err := decodeJSON([]byte(line), &slow); err != nil {
			t.Fatalf("fast path took %q, encoding/json refuses it: %v", line, err)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%q: fast %+v, encoding/json %+v", line, fast, slow)
		}
	})
}

// TestDecodeStreamLine: result lines as the node writes them take the
// fast path; a summary, an error and unusual lines go to encoding/json;
// either way the line is what encoding/json decodes.
func TestDecodeStreamLine(t *testing.T) {
	written := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for _, tc := range []struct {
		line string
		fast bool
	}{
		{written(StreamLine{StreamResult: StreamResult{Index: 7, PublishResult: PublishResult{ID: "ab", Serial: "1f", State: StatePublished, AlreadyPublished: true, Height: 12, Tx: "cd"}}}), true},
		{written(StreamLine{StreamResult: StreamResult{Index: 8, PublishResult: PublishResult{ID: "ab", State: StateRejected, Reason: `network-id: "x" is not this ledger's`}}}), true},
		{written(StreamLine{Summary: &StreamSummary{Published: 3, Height: 9}}), false},
		{written(StreamLine{Error: &Problem{Type: "about:blank", Title: "t", Status: 400, Detail: "d"}}), false},
		{`{"index":1,"index":2,"state":"published"}`, false},
		{`{"index":-1,"state":"published"}`, false},
		{`{"index":1.5,"state":"published"}`, false},
		{`{"index":01,"state":"published"}`, false},
		{`{"Index":1,"state":"published"}`, false},
		{`{"index":1,"extra":"x"}`, false},
		{`{"index":1,"reason":"caf\u00e9"}`, false},
		{`{"index":1,"already_published":null}`, false},
	} {
		var got, want StreamLine
		errGot, errWant := DecodeStreamLine([]byte(tc.line), &got), json.Unmarshal([]byte(tc.line), &want)
		if (errGot == nil) != (errWant == nil) || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %+v %v, encoding/json %+v %v", tc.line, got, errGot, want, errWant)
		}
		var r StreamResult
		if fast := decodeResultFast([]byte(tc.line), &r); fast != tc.fast {
			t.Errorf("%s: fast path %v, want %v", tc.line, fast, tc.fast)
		}
	}
}

// FuzzDecodeStreamLine: DecodeStreamLine decodes every line as
// encoding/json does, and fails where it fails.
func FuzzDecodeStreamLine(f *testing.F) {
	f.Add(`{"index":7,"id":"ab","serial":"1f","state":"published","already_published":true,"height":12,"tx":"cd"}`)
	f.Add(`{"index":8,"id":"ab","state":"rejected","reason":"der: \"x\"\n"}`)
	f.Add(`{"summary":{"published":3,"already_published":0,"rejected":0,"retry":0,"height":9}}`)
	f.Add(`{"index":1,"index":2}`)
	f.Fuzz(func(t *testing.T, line string) {
		var got, want StreamLine
		errGot := DecodeStreamLine([]byte(line), &got)
		errWant := json.Unmarshal([]byte(line), &want)
		if (errGot == nil) != (errWant == nil) {
			t.Fatalf("%q: error %v, encoding/json %v", line, errGot, errWant)
		}
		if errGot == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: %+v, encoding/json %+v", line, got, want)
		}
	})
}

// ruleNamed reports whether a rejection reason starts with a validator
// rule slug ("rule: detail").
func ruleNamed(reason string) bool {
	rule, _, ok := strings.Cut(reason, ": ")
	return ok && slices.Contains(ruleSlugs, rule)
}

var ruleSlugs = []string{validator.RuleDER, validator.RuleKeyAlgorithm, validator.RuleSignatureAlgorithm, validator.RuleValidity,
	validator.RuleExpired, validator.RuleNotYetValid, validator.RuleValidityTooLong, validator.RuleCriticalExtension,
	validator.RuleNetworkID, validator.RuleCACert, validator.RuleIdentity, validator.RuleSelfSignature, validator.RuleChain,
	validator.RuleTxType, validator.RuleNode, validator.RuleReason, validator.RuleNotMember, validator.RuleRole,
	validator.RuleUnauthorized, validator.RuleNotFound, validator.RuleAlreadyPublished, validator.RuleDuplicateIdentity,
	validator.RuleIdentityMismatch, validator.RuleCAMismatch, validator.RuleState, validator.RuleKeyBlocked,
	validator.RuleNamespace, validator.RuleOwnerProof, validator.RuleReplay, validator.RuleMember, validator.RuleSignature,
	validator.RuleTooMany}
