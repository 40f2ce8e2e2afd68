package api

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"

	"github.com/certchain/certchain/certchain"
	"github.com/certchain/certchain/validator"
	"github.com/certchain/certchain/validator/validatortest"
)

// An input kind of a generated publish input.
type inputKind byte

const (
	kindGood      inputKind = iota // a self-signed device certificate of the network
	kindCASelf                     // self-signed with CA:TRUE (`openssl req -x509`)
	kindMalformed                  // not a certificate (the form depends on the path)
	kindDupIn                      // a copy of a good certificate sent earlier in the same input
	kindOnLedger                   // a certificate published before
	kindForeign                    // self-signed with another network's ID
	kindCASigned                   // signed by the CA member's intermediate, sent with it as chain
	numKinds
)

// A publish path of the REST API.
type publishPath byte

const (
	pathPEM publishPath = iota
	pathJSON
	pathDER
	pathStreamNDJSON
	pathStreamPEM
	numPaths
)

var pathNames = [numPaths]string{"pem", "json", "der", "stream-ndjson", "stream-pem"}

// accounting is a node and the certificates generated inputs share.
type accounting struct {
	tn       *testNode
	inter    *validatortest.Issuer
	onLedger []byte
}

func newAccounting(t testing.TB) *accounting {
	tn := startNode(t, nil)
	a := &accounting{tn: tn, inter: tn.net.Intermediate(t, tn.net.CA), onLedger: tn.net.SelfSigned(t).DER}
	code, b := post(t, tn.client(t, validatortest.Vendor), tn.ts.URL+"/v1/certificates", "application/pkix-cert", a.onLedger)
	if code != 200 || !strings.Contains(string(b), `"published": 1`) {
		t.Fatalf("setup publish: %d %s", code, b)
	}
	return a
}

// entry is one certificate of a rendered input and what must become of it.
type entry struct {
	kind    inputKind
	der     []byte // nil: malformed
	bad     int    // which malformed form
	chain   bool   // the intermediate, sent as chain
	state   string // expected state
	rule    string // expected rule of a rejection
	already bool   // expected already_published
}

// generate makes the entries of an input of kinds, sent by member on path.
func (a *accounting) generate(t testing.TB, kinds []inputKind, member string, path publishPath) []entry {
	var out []entry
	var sent [][]byte
	for i, k := range kinds {
		e := entry{kind: k, bad: i}
		switch k {
		case kindGood:
			e.der = a.tn.net.SelfSigned(t).DER
		case kindCASelf:
			e.der = a.tn.net.SelfSigned(t, validatortest.WithCA()).DER
		case kindDupIn:
			if len(sent) == 0 {
				e.kind, e.der = kindGood, a.tn.net.SelfSigned(t).DER
			} else {
				e.der = sent[i%len(sent)]
			}
		case kindOnLedger:
			e.der = a.onLedger
		case kindForeign:
			e.der = a.tn.net.SelfSigned(t, validatortest.WithNetworkID("another-consortium")).DER
		case kindCASigned:
			e.der = a.tn.net.Leaf(t, a.inter).DER
			if path == pathPEM || path == pathStreamPEM { // the chain is a block of its own, right before
				out = append(out, entry{kind: k, der: a.inter.Cert.Raw, chain: true, state: StateChain})
			}
		}
		if e.kind == kindGood {
			sent = append(sent, e.der)
		}
		e.state, e.rule, e.already = expect(e.kind, member, path)
		out = append(out, e)
	}
	return out
}

// expect is what must become of a certificate of kind sent by member on
// path: its state, the rule of a rejection, and whether it was on the
// ledger before.
func expect(k inputKind, member string, path publishPath) (state, rule string, already bool) {
	switch {
	case k == kindMalformed:
		return StateRejected, validator.RuleDER, false
	case k == kindCASelf:
		return StateRejected, validator.RuleCACert, false
	case k == kindForeign:
		return StateRejected, validator.RuleNetworkID, false
	case k == kindOnLedger:
		return StatePublished, "", true
	case k == kindCASigned && path == pathDER: // one DER carries no chain
		return StateRejected, validator.RuleChain, false
	case k == kindCASigned && member == validatortest.CA, k != kindCASigned && member == validatortest.Vendor:
		return StatePublished, "", false
	}
	return StateRejected, validator.RuleRole, false
}

// malformed forms, by entry.bad.
var (
	badPEM = []string{
		"-----BEGIN CERTIFICATE-----\n!!not base64!!\n-----END CERTIFICATE-----\n",
		string(validatortest.PEM([]byte{0x30, 0x03, 0x02, 0x01, 0x05})),
		"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
		"-----BEGIN CERTIFICATE-----\nAAAA\n", // not ended: the next BEGIN line (or the end) ends it
	}
	badLines = []string{"{not json", `{"certificate":"not PEM"}`, `{"certificate":"-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----\n"}`, `{"certificate":1}`}
	badDER   = [][]byte{nil, []byte("hello"), {0x30, 0x03, 0x02, 0x01, 0x05}}
)

// publish sends entries on path as member and returns one result per
// entry, in order.
func (a *accounting) publish(t testing.TB, entries []entry, member string, path publishPath) []PublishResult {
	t.Helper()
	c, url := a.tn.client(t, member), a.tn.ts.URL
	switch path {
	case pathDER:
		var out []PublishResult
		for _, e := range entries {
			der := e.der
			if der == nil {
				der = badDER[e.bad%len(badDER)]
			}
			out = append(out, a.batch(t, c, url, "application/pkix-cert", der)...)
		}
		return out
	case pathPEM:
		return a.batch(t, c, url, "application/x-pem-file", renderPEM(entries))
	case pathJSON:
		return a.batch(t, c, url, "application/json", a.renderJSON(t, entries))
	case pathStreamPEM:
		return a.stream(t, c, url, "application/x-pem-file", renderPEM(entries))
	default:
		return a.stream(t, c, url, "application/x-ndjson", a.renderNDJSON(t, entries))
	}
}

func renderPEM(entries []entry) []byte {
	var b bytes.Buffer
	for _, e := range entries {
		if e.der == nil {
			b.WriteString(badPEM[e.bad%len(badPEM)])
		} else {
			b.Write(validatortest.PEM(e.der))
		}
	}
	return b.Bytes()
}

func (a *accounting) renderJSON(t testing.TB, entries []entry) []byte {
	req := publishJSON{Certificates: []string{}}
	for _, e := range entries {
		switch {
		case e.der == nil:
			req.Certificates = append(req.Certificates, badPEM[e.bad%len(badPEM)])
		default:
			req.Certificates = append(req.Certificates, string(validatortest.PEM(e.der)))
		}
		if e.kind == kindCASigned && len(req.Chain) == 0 {
			req.Chain = []string{string(validatortest.PEM(a.inter.Cert.Raw))}
		}
	}
	b, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (a *accounting) renderNDJSON(t testing.TB, entries []entry) []byte {
	var b bytes.Buffer
	for _, e := range entries {
		if e.der == nil {
			b.WriteString(badLines[e.bad%len(badLines)] + "\n")
			continue
		}
		it := StreamItem{Certificate: string(validatortest.PEM(e.der))}
		if e.kind == kindCASigned {
			it.Chain = []string{string(validatortest.PEM(a.inter.Cert.Raw))}
		}
		line, err := json.Marshal(it)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(append(line, '\n'))
	}
	return b.Bytes()
}

// batch sends one POST /v1/certificates and returns its results, checking
// that its totals add up.
func (a *accounting) batch(t testing.TB, c *http.Client, url, ct string, body []byte) []PublishResult {
	t.Helper()
	code, b := post(t, c, url+"/v1/certificates", ct, body)
	if code != http.StatusOK {
		t.Fatalf("publish %s: %d %s", ct, code, b)
	}
	var resp PublishResponse
	if err := json.Unmarshal(b, &resp); err != nil {
		t.Fatalf("publish answer %s: %v", b, err)
	}
	var sum StreamSummary
	for _, r := range resp.Results {
		count(&sum, r)
	}
	if resp.Published != sum.Published+sum.AlreadyPublished || resp.Rejected != sum.Rejected || resp.Retry != sum.Retry || resp.Chain != sum.Chain {
		t.Fatalf("totals %+v do not add up the results %+v", resp, sum)
	}
	return resp.Results
}

// stream sends one publish stream and returns its results in index
// order, checking that each index is answered once and the summary adds
// up.
func (a *accounting) stream(t testing.TB, c *http.Client, url, ct string, body []byte) []PublishResult {
	t.Helper()
	resp, err := c.Post(url+"/v1/certificates/stream", ct, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("stream %s: status %d", ct, resp.StatusCode)
	}
	var out []PublishResult
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		var line StreamLine
		if err := DecodeStreamLine(sc.Bytes(), &line); err != nil {
			t.Fatalf("answer line %q: %v", sc.Text(), err)
		}
		switch {
		case line.Error != nil:
			t.Fatalf("stream broken: %+v", line.Error)
		case line.Summary != nil:
			var sum StreamSummary
			for _, r := range out {
				count(&sum, r)
			}
			if sum.Height = line.Summary.Height; sum != *line.Summary {
				t.Fatalf("summary %+v, results add up to %+v", *line.Summary, sum)
			}
			return out
		case line.Index != len(out):
			t.Fatalf("result %d answers index %d", len(out), line.Index)
		}
		out = append(out, line.PublishResult)
	}
	t.Fatalf("stream answer ended without a summary (%v)", sc.Err())
	return nil
}

// check runs one input through path and checks that every certificate of
// it is accounted for: one result each, the state expected, every
// rejection naming its rule, and the ledger agreeing.
func (a *accounting) check(t testing.TB, kinds []inputKind, member string, path publishPath) {
	t.Helper()
	entries := a.generate(t, kinds, member, path)
	results := a.publish(t, entries, member, path)
	if len(results) != len(entries) {
		t.Fatalf("%s: %d results for %d certificates", pathNames[path], len(results), len(entries))
	}
	var published, rejected, chain int
	for i, r := range results {
		e := entries[i]
		if err := e.matches(r); err != nil {
			t.Fatalf("%s as %s, certificate %d (kind %d): %v; result %+v", pathNames[path], member, i, e.kind, err, r)
		}
		switch r.State {
		case StatePublished:
			published++
		case StateRejected:
			rejected++
		case StateChain:
			chain++
		}
		if err := a.onLedgerAgrees(e, r); err != nil {
			t.Fatalf("%s, certificate %d: %v", pathNames[path], i, err)
		}
	}
	if published+rejected+chain != len(entries) {
		t.Fatalf("%s: %d published + %d rejected + %d chain != %d certificates", pathNames[path], published, rejected, chain, len(entries))
	}
}

func (e *entry) matches(r PublishResult) error {
	switch {
	case r.State != e.state:
		return fmt.Errorf("state %q, want %q", r.State, e.state)
	case r.State == StateRejected && !ruleNamed(r.Reason):
		return fmt.Errorf("reason %q names no rule", r.Reason)
	case r.State == StateRejected && !strings.HasPrefix(r.Reason, e.rule+": "):
		return fmt.Errorf("reason %q, want rule %q", r.Reason, e.rule)
	case e.already && !r.AlreadyPublished:
		return errors.New("not answered as already published")
	case e.der != nil && r.ID != certchain.Sum(e.der).String():
		return fmt.Errorf("id %s, want %s", r.ID, certchain.Sum(e.der))
	}
	return nil
}

// onLedgerAgrees checks the ledger: a published certificate is on it, a
// refused one (that no other entry published) is not.
func (a *accounting) onLedgerAgrees(e entry, r PublishResult) error {
	if e.der == nil || e.chain {
		return nil
	}
	_, err := a.tn.node.State().Record(certchain.Sum(e.der))
	switch {
	case r.State == StatePublished && err != nil:
		return fmt.Errorf("answered published, but the ledger says %v", err)
	case (e.kind == kindCASelf || e.kind == kindForeign) && !errors.Is(err, certchain.ErrNotFound):
		return fmt.Errorf("answered %s, but the ledger has it (%v)", r.State, err)
	}
	return nil
}

// TestPublishAccounting: on every publish path, for generated inputs
// mixing good, CA:TRUE, malformed, duplicate, already published, foreign
// and CA-signed (with chain) certificates, sent by a vendor or a CA
// member, every certificate of the input gets exactly one result:
// published + rejected + chain equals the number of certificates sent,
// every rejection names its rule, and the ledger agrees.
func TestPublishAccounting(t *testing.T) {
	a := newAccounting(t)
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 13))
	for round := range 3 {
		for path := range numPaths {
			member := []string{validatortest.Vendor, validatortest.CA}[rng.IntN(2)]
			kinds := make([]inputKind, 3+rng.IntN(10))
			for i := range kinds {
				kinds[i] = inputKind(rng.IntN(int(numKinds)))
			}
			t.Run(fmt.Sprintf("%s/%d", pathNames[path], round), func(t *testing.T) { a.check(t, kinds, member, path) })
		}
	}
	// Every kind on every path at least once, in both members' hands.
	all := []inputKind{kindGood, kindCASelf, kindMalformed, kindDupIn, kindOnLedger, kindForeign, kindCASigned, kindMalformed, kindMalformed, kindMalformed}
	for path := range numPaths {
		for _, member := range []string{validatortest.Vendor, validatortest.CA} {
			t.Run(fmt.Sprintf("%s/all-kinds-%s", pathNames[path], member), func(t *testing.T) { a.check(t, all, member, path) })
		}
	}
}

// FuzzPublishAccounting is TestPublishAccounting's property over inputs
// the fuzzer mixes: data[0] picks the path, data[1] the member, each
// further byte the kind of one certificate (at most 16).
//
//	go test -run '^$' -fuzz FuzzPublishAccounting ./api
func FuzzPublishAccounting(f *testing.F) {
	a := newAccounting(f)
	f.Add([]byte{byte(pathPEM), 0, byte(kindCASelf)})
	f.Add([]byte{byte(pathStreamPEM), 1, byte(kindCASigned), byte(kindMalformed), byte(kindCASigned)})
	f.Add([]byte{byte(pathJSON), 0, byte(kindGood), byte(kindDupIn), byte(kindForeign), byte(kindOnLedger)})
	f.Add([]byte{byte(pathStreamNDJSON), 0, byte(kindMalformed), byte(kindGood)})
	f.Add([]byte{byte(pathDER), 1, byte(kindCASigned), byte(kindMalformed)})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 3 {
			return
		}
		kinds := make([]inputKind, 0, 16)
		for _, b := range data[2:min(len(data), 18)] {
			kinds = append(kinds, inputKind(b%byte(numKinds)))
		}
		member := []string{validatortest.Vendor, validatortest.CA}[data[1]%2]
		a.check(t, kinds, member, publishPath(data[0]%byte(numPaths)))
	})
}
