package api

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/certchain/certchain/validator/validatortest"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// conformance sends requests to a real node and validates each request
// and its answer against the document (kin-openapi's openapi3filter).
type conformance struct {
	tn     *testNode
	doc    *openapi3.T
	router routers.Router
}

func newConformance(t *testing.T) *conformance {
	t.Helper()
	tn := startNode(t, nil)
	doc := loadOpenAPI(t)
	doc.Servers = openapi3.Servers{{URL: tn.ts.URL}}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	pem := func(_ io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
		return "PEM", nil // the schema says string; PEM is read by the handlers' own tests
	}
	for _, ct := range []string{"application/x-pem-file", "application/pem-certificate-chain", "application/pkix-cert", "application/jose+json"} {
		openapi3filter.RegisterBodyDecoder(ct, pem)
	}
	openapi3filter.RegisterBodyDecoder("application/x-ndjson", ndjsonLines)
	return &conformance{tn: tn, doc: doc, router: router}
}

// ndjsonLines decodes an NDJSON request body: every line must match the
// schema (of one line); the first is returned for kin-openapi to check
// again.
func ndjsonLines(body io.Reader, _ http.Header, schema *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
	var first any
	sc := bufio.NewScanner(body)
	for n := 0; sc.Scan(); n++ {
		var v any
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			return nil, fmt.Errorf("line %d: %w", n+1, err)
		}
		if err := schema.Value.VisitJSON(v, openapi3.EnableJSONSchema2020()); err != nil {
			return nil, fmt.Errorf("line %d: %w", n+1, err)
		}
		if n == 0 {
			first = v
		}
	}
	return first, sc.Err()
}

// exchange is one request of the conformance test and what must come
// back.
type exchange struct {
	name, member, method, path, contentType string
	body                                    []byte
	status                                  int
}

// do sends e, validating the request before and the answer after, and
// returns the answer's body.
func (c *conformance) do(t *testing.T, e exchange) []byte {
	t.Helper()
	req, err := http.NewRequest(e.method, c.tn.ts.URL+e.path, bytes.NewReader(e.body))
	if err != nil {
		t.Fatal(err)
	}
	if e.contentType != "" {
		req.Header.Set("Content-Type", e.contentType)
	}
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		t.Fatalf("%s %s: not in the document: %v", e.method, e.path, err)
	}
	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
		t.Fatalf("the request does not conform: %v", err)
	}
	req.Body = io.NopCloser(bytes.NewReader(e.body))
	resp, err := c.tn.client(t, e.member).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != e.status {
		t.Fatalf("%d, want %d: %s", resp.StatusCode, e.status, body)
	}
	c.checkResponse(t, in, resp, body)
	return body
}

// checkResponse validates an answer; an NDJSON answer line by line
// against its schema.
func (c *conformance) checkResponse(t *testing.T, in *openapi3filter.RequestValidationInput, resp *http.Response, body []byte) {
	t.Helper()
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
		Body: io.NopCloser(bytes.NewReader(body)), Options: &openapi3filter.Options{IncludeResponseStatus: true}}
	ndjson := resp.Header.Get("Content-Type") == "application/x-ndjson"
	out.Options.ExcludeResponseBody = ndjson
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		t.Fatalf("the answer does not conform: %v\n%s", err, body)
	}
	if !ndjson {
		return
	}
	schema := in.Route.Operation.Responses.Status(resp.StatusCode).Value.Content.Get("application/x-ndjson").Schema.Value
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		var v any
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		if err := schema.VisitJSON(v, openapi3.EnableJSONSchema2020()); err != nil {
			t.Fatalf("line %q does not conform: %v", sc.Text(), err)
		}
	}
}

// TestOpenAPIConformance walks a real node through the API's main routes
// (publishing in every form, status changes, reads, the cluster, errors)
// and validates every request and every answer against openapi.json:
// what a client generated from the document sends and expects is what
// the node takes and answers.
func TestOpenAPIConformance(t *testing.T) {
	c := newConformance(t)
	net := c.tn.net
	dev, dev2, dev3 := net.SelfSigned(t), net.SelfSigned(t), net.SelfSigned(t)
	id := fmt.Sprintf("%x", sha256.Sum256(dev.DER))
	spki, err := x509.MarshalPKIXPublicKey(dev2.Key.Public())
	if err != nil {
		t.Fatal(err)
	}
	keyHash := fmt.Sprintf("%x", sha256.Sum256(spki))
	publish, _ := json.Marshal(publishJSON{Certificates: []string{string(dev.PEM())}})
	line, _ := json.Marshal(StreamItem{Certificate: string(dev3.PEM())})
	v, none, bad := validatortest.Vendor, "", strings.Repeat("0", 64)
	for _, e := range []exchange{
		{"health", none, "GET", "/healthz", "", nil, 200},
		{"ready", none, "GET", "/readyz", "", nil, 200},
		{"network", none, "GET", "/v1/network", "", nil, 200},
		{"publish/json", v, "POST", "/v1/certificates", "application/json", publish, 200},
		{"publish/pem", v, "POST", "/v1/certificates", "application/x-pem-file", dev2.PEM(), 200},
		{"publish/der-again", v, "POST", "/v1/certificates", "application/pkix-cert", dev.DER, 200},
		{"publish/stream", v, "POST", "/v1/certificates/stream", "application/x-ndjson", append(line, '\n'), 200},
		{"publish/no-client-cert", none, "POST", "/v1/certificates", "application/json", publish, 401},
		{"publish/no-pem-block", v, "POST", "/v1/certificates", "application/x-pem-file", []byte("hello"), 422},
		{"record", none, "GET", "/v1/certificates/" + id + "?min_height=1", "", nil, 200},
		{"record/unknown", none, "GET", "/v1/certificates/" + bad, "", nil, 404},
		{"status", none, "GET", "/v1/certificates/" + id + "/status", "", nil, 200},
		{"status/unknown", none, "GET", "/v1/certificates/" + bad + "/status", "", nil, 200},
		{"suspend", v, "POST", "/v1/certificates/" + id + "/suspend", "", nil, 200},
		{"resume", v, "POST", "/v1/certificates/" + id + "/resume", "", nil, 200},
		{"revoke", v, "POST", "/v1/certificates/" + id + "/revoke", "application/json", []byte(`{"reason":"keyCompromise"}`), 200},
		{"revoke/again-conflict", v, "POST", "/v1/certificates/" + id + "/revoke", "application/json", []byte(`{"reason":1}`), 409},
		{"key", none, "GET", "/v1/keys/" + keyHash, "", nil, 200},
		{"key/revoke", v, "POST", "/v1/keys/" + keyHash + "/revoke", "application/json", []byte(`{"reason":"keyCompromise"}`), 200},
		{"head", none, "GET", "/v1/blocks/head", "", nil, 200},
		{"block", none, "GET", "/v1/blocks/1", "", nil, 200},
		{"block/raw", none, "GET", "/v1/blocks/1/raw", "", nil, 200},
		{"block/above-head", none, "GET", "/v1/blocks/999999", "", nil, 404},
		{"cluster", none, "GET", "/v1/cluster", "", nil, 200},
		{"cluster/self", none, "GET", "/v1/cluster/self", "", nil, 200},
		{"whoami", v, "GET", "/v1/whoami", "", nil, 200},
		{"members", none, "GET", "/v1/members", "", nil, 200},
		{"members/remove-not-admin", v, "DELETE", "/v1/members/" + validatortest.Operator, "", nil, 403},
		{"node-add/not-admin", v, "POST", "/v1/cluster/nodes", "application/json", []byte(`{"id":"n9","raft_address":"127.0.0.1:1","api":"https://127.0.0.1:2"}`), 403},
		{"ocsp/no-responder", none, "GET", "/v1/ocsp/responder.pem", "", nil, 404},
		{"openapi", none, "GET", "/v1/openapi.json", "", nil, 200},
	} {
		if !t.Run(e.name, func(t *testing.T) { c.do(t, e) }) {
			t.FailNow() // later steps build on earlier ones
		}
	}
}
