package api

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/certchain/certchain/certchain"
	"github.com/certchain/certchain/ocsp"
	"github.com/certchain/certchain/raftstore"
	"github.com/certchain/certchain/validator"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
)

// loadOpenAPI parses the embedded document and validates it as OpenAPI.
func loadOpenAPI(t testing.TB) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(OpenAPI)
	if err != nil {
		t.Fatalf("openapi.json does not load: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.json is not valid OpenAPI: %v", err)
	}
	return doc
}

// TestOpenAPIDocument checks that the embedded document is JSON and valid
// OpenAPI 3.1 (kin-openapi's validator: structure, references, path
// templates against their parameters, schemas).
func TestOpenAPIDocument(t *testing.T) {
	if !json.Valid(OpenAPI) {
		t.Fatal("openapi.json is not JSON")
	}
	doc := loadOpenAPI(t)
	if !doc.IsOpenAPI31OrLater() {
		t.Fatalf("openapi %q, want 3.1", doc.OpenAPI)
	}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if op.OperationID == "" || op.Summary == "" || len(op.Tags) == 0 {
				t.Errorf("%s %s: needs an operationId, a summary and a tag", method, path)
			}
		}
	}
}

// anyMethod marks a route the router serves for every method (Handle,
// Mount): the document lists the methods that mean something there.
const anyMethod = "ANY"

// routeParam matches a chi path parameter, with its regular expression.
var routeParam = regexp.MustCompile(`\{([^{}:]+)(?::([^{}]*))?\}`)

// literalAlternation matches a parameter regexp that only lists words.
var literalAlternation = regexp.MustCompile(`^[A-Za-z0-9._-]+(\|[A-Za-z0-9._-]+)*$`)

// normalizePath expands a parameter whose pattern lists literal words
// (chi's {action:revoke|suspend|resume}) into one path per word, as the
// document has them, and makes every other parameter {} (names are the
// document's business, not the router's).
func normalizePath(p string) []string {
	m := routeParam.FindStringSubmatchIndex(p)
	if m == nil {
		return []string{p}
	}
	head, tail := p[:m[0]], p[m[1]:]
	var words []string
	if m[4] >= 0 && literalAlternation.MatchString(p[m[4]:m[5]]) {
		words = strings.Split(p[m[4]:m[5]], "|")
	} else {
		words = []string{"{}"}
	}
	var out []string
	for _, w := range words {
		for _, rest := range normalizePath(tail) {
			out = append(out, head+w+rest)
		}
	}
	return out
}

// routerOps lists the router's routes as "METHOD path" (normalized); a
// route served for every method is "ANY path".
func routerOps(t testing.TB, r chi.Routes) map[string]bool {
	t.Helper()
	methods := map[string][]string{}
	err := chi.Walk(r, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		methods[route] = append(methods[route], method)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ops := map[string]bool{}
	for route, ms := range methods {
		if len(ms) > 1 && slices.Contains(ms, http.MethodTrace) && slices.Contains(ms, http.MethodConnect) {
			ms = []string{anyMethod}
		}
		for _, p := range normalizePath(route) {
			for _, m := range ms {
				ops[m+" "+p] = true
			}
		}
	}
	return ops
}

// docOps lists the document's operations as "METHOD path" (normalized).
func docOps(doc *openapi3.T) map[string]bool {
	ops := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			ops[method+" "+normalizePath(path)[0]] = true
		}
	}
	return ops
}

// compareOps says what the router serves that the document does not
// describe, and what the document describes that neither the router
// serves nor the handlers mounted ahead of it (ahead: path prefixes the
// server answers before the router, as /ocsp).
func compareOps(router, doc map[string]bool, ahead []string) []string {
	var problems []string
	for op := range router {
		method, path, _ := strings.Cut(op, " ")
		if !documented(doc, method, path) {
			problems = append(problems, "undocumented route: "+op)
		}
	}
	for op := range doc {
		method, path, _ := strings.Cut(op, " ")
		if !served(router, method, path) && !underAny(path, ahead) {
			problems = append(problems, "documented but not served: "+op)
		}
	}
	sort.Strings(problems)
	return problems
}

// documented: the document has this operation; for a route of every
// method, some operation on its path (under it, for a mount "/x/*").
func documented(doc map[string]bool, method, path string) bool {
	if method != anyMethod {
		return doc[method+" "+path]
	}
	for op := range doc {
		_, p, _ := strings.Cut(op, " ")
		if p == path || (strings.HasSuffix(path, "/*") && strings.HasPrefix(p, strings.TrimSuffix(path, "*"))) {
			return true
		}
	}
	return false
}

// served: the router has this operation, or a route of every method on
// the path or a mount above it.
func served(router map[string]bool, method, path string) bool {
	if router[method+" "+path] || router[anyMethod+" "+path] {
		return true
	}
	for op := range router {
		m, p, _ := strings.Cut(op, " ")
		if m == anyMethod && strings.HasSuffix(p, "/*") && strings.HasPrefix(path, strings.TrimSuffix(p, "*")) {
			return true
		}
	}
	return false
}

func underAny(path string, prefixes []string) bool {
	for _, p := range prefixes {
		if path == p || strings.HasPrefix(path, p+"/") {
			return true
		}
	}
	return false
}

// TestOpenAPICompareOps checks that the comparison finds what it must, so
// that TestOpenAPIRoutes can fail.
func TestOpenAPICompareOps(t *testing.T) {
	set := func(ops ...string) map[string]bool {
		m := map[string]bool{}
		for _, op := range ops {
			m[op] = true
		}
		return m
	}
	router := set("GET /v1/a/{}", "POST /v1/a/{}/revoke", "ANY /metrics", "ANY /acme/*")
	doc := set("GET /v1/a/{}", "POST /v1/a/{}/revoke", "GET /metrics", "GET /acme/directory", "POST /ocsp")
	for _, tc := range []struct {
		name         string
		router, doc  map[string]bool
		wantProblems int
	}{
		{"ok/same", router, doc, 0},
		{"fail/undocumented-route", set(append(slices.Collect(mapKeys(router)), "POST /v1/backup")...), doc, 1},
		{"fail/documented-route-missing", router, set(append(slices.Collect(mapKeys(doc)), "GET /v1/gone")...), 1},
		{"fail/wrong-method", set("DELETE /v1/a/{}", "POST /v1/a/{}/revoke", "ANY /metrics", "ANY /acme/*"), doc, 2},
		{"fail/mount-undocumented", router, set("GET /v1/a/{}", "POST /v1/a/{}/revoke", "GET /metrics", "POST /ocsp"), 1},
		{"fail/ahead-path-unknown", router, set(append(slices.Collect(mapKeys(doc)), "GET /ocspx")...), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := compareOps(tc.router, tc.doc, []string{"/ocsp"}); len(got) != tc.wantProblems {
				t.Fatalf("problems %q, want %d", got, tc.wantProblems)
			}
		})
	}
	if got := normalizePath("/v1/c/{id}/{action:revoke|suspend}"); !slices.Equal(got, []string{"/v1/c/{}/revoke", "/v1/c/{}/suspend"}) {
		t.Fatalf("normalizePath: %q", got)
	}
	if got := normalizePath("/v1/b/{height:[0-9]+}"); !slices.Equal(got, []string{"/v1/b/{}"}) {
		t.Fatalf("normalizePath: %q", got)
	}
}

func mapKeys(m map[string]bool) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// stubHandler answers 299 with its name, to show that a request reached it.
func stubHandler(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("X-Stub", name)
		w.WriteHeader(299)
	})
}

// routesServer is a server with every optional handler set (metrics,
// OCSP, ACME as stubs) and no node behind it: enough to build and walk the
// router, never to answer a ledger request.
func routesServer() *Server {
	return &Server{Metrics: stubHandler("metrics"), OCSP: stubHandler("ocsp"), ACME: stubHandler("acme"),
		reqs:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: "requests"}, []string{"route", "method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "seconds"}, []string{"route"}),
		panics:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "panics"}, []string{"route"})}
}

// TestOpenAPIRoutes compares the router with the document both ways:
// every route (every method of it) is documented, and every documented
// operation is served, by the router or by the OCSP handler mounted ahead
// of it. The protocol entry points (OCSP, the ACME directory) are also
// requested through the whole handler, to show they reach their handler.
func TestOpenAPIRoutes(t *testing.T) {
	doc := loadOpenAPI(t)
	s := routesServer()
	router := routerOps(t, s.router().(chi.Routes))
	if problems := compareOps(router, docOps(doc), []string{"/ocsp"}); len(problems) > 0 {
		t.Fatalf("the router and openapi.json disagree (document the route in api/openapi.json, or drop the path):\n%s", strings.Join(problems, "\n"))
	}
	h := s.Handler()
	for _, tc := range []struct{ name, method, path, stub string }{
		{"ocsp/post", http.MethodPost, "/ocsp", "ocsp"},
		{"ocsp/get", http.MethodGet, "/ocsp/MEIwQDA%2BMDwwOjAJBgUrDgMCGgUA", "ocsp"},
		{"acme/directory", http.MethodGet, "/acme/directory", "acme"},
		{"metrics", http.MethodGet, "/metrics", "metrics"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.path != "/ocsp" && doc.Paths.Find(tc.path) == nil && !strings.HasPrefix(tc.path, "/ocsp/") {
				t.Fatalf("%s is not in the document", tc.path)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
			if rec.Code != 299 || rec.Header().Get("X-Stub") != tc.stub {
				t.Fatalf("%s %s: %d %q, want the %s handler", tc.method, tc.path, rec.Code, rec.Header().Get("X-Stub"), tc.stub)
			}
		})
	}
}

// TestOpenAPIServed fetches the document from a node's plain-HTTP
// listener, as a client generator would.
func TestOpenAPIServed(t *testing.T) {
	tn := startNode(t, nil)
	plain := httptest.NewServer(tn.srv.Handler())
	t.Cleanup(plain.Close)
	resp, err := http.Get(plain.URL + "/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" || string(body) != string(OpenAPI) {
		t.Fatalf("GET /v1/openapi.json: %d %q, %d bytes; want 200 application/json, the embedded document", resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
	}
}

// schemaTypes pairs the document's schemas with the Go types whose JSON
// they describe.
var schemaTypes = map[string]any{
	"Problem": Problem{}, "PublishRequest": publishJSON{}, "PublishResult": PublishResult{},
	"PublishResponse": PublishResponse{}, "StreamItem": StreamItem{}, "StreamResult": StreamResult{},
	"StreamSummary": StreamSummary{}, "ReasonRequest": statusJSON{}, "OwnerRequest": validator.OwnerRequest{},
	"TxResponse": TxResponse{}, "Record": RecordView{}, "CertificateStatus": statusResponse{},
	"KeyCertificate": KeyCertificate{}, "Key": KeyView{}, "Transaction": TxView{}, "Block": BlockView{},
	"Policy": certchain.Policy{}, "Namespace": certchain.Namespace{}, "Member": certchain.Member{},
	"MemberRecord": certchain.MemberRecord{}, "NetworkMember": MemberView{}, "Network": NetworkView{},
	"OCSPSigner": ocsp.SignerInfo{}, "RaftServer": raftstore.Server{}, "ServerStatus": ServerStatus{},
	"NodeRecord": certchain.NodeRecord{}, "Cluster": ClusterView{}, "NodeStatus": raftstore.Status{},
	"NodeJoin": NodeJoin{}, "Verdict": certchain.Verdict{}, "ForwardResult": ForwardResult{},
}

// jsonFields returns the JSON names of a struct's fields (embedded
// structs flattened) and those always present (no omitempty).
func jsonFields(t reflect.Type) (all, always []string) {
	for f := range t.Fields() {
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case name == "-" || !f.IsExported():
		case f.Anonymous && name == "":
			a, w := jsonFields(f.Type)
			all, always = append(all, a...), append(always, w...)
		default:
			if name == "" {
				name = f.Name
			}
			all = append(all, name)
			if !slices.Contains(strings.Split(opts, ","), "omitempty") {
				always = append(always, name)
			}
		}
	}
	return all, always
}

// schemaFields returns a schema's properties and required ones, through
// allOf.
func schemaFields(s *openapi3.Schema) (all, required []string) {
	for name := range s.Properties {
		all = append(all, name)
	}
	required = append(required, s.Required...)
	for _, sub := range s.AllOf {
		a, r := schemaFields(sub.Value)
		all, required = append(all, a...), append(required, r...)
	}
	return all, required
}

// TestOpenAPISchemas checks that each schema names exactly the JSON
// fields of its Go type, and requires exactly those that are always
// present (no omitempty): a field added, renamed or made optional in Go
// fails here until the document says so too.
func TestOpenAPISchemas(t *testing.T) {
	doc := loadOpenAPI(t)
	for name, v := range schemaTypes {
		t.Run(name, func(t *testing.T) {
			ref := doc.Components.Schemas[name]
			if ref == nil {
				t.Fatalf("no schema %s in openapi.json", name)
			}
			props, required := schemaFields(ref.Value)
			fields, always := jsonFields(reflect.TypeOf(v))
			for _, c := range []struct {
				what       string
				doc, goSet []string
			}{{"properties", props, fields}, {"required", required, always}} {
				slices.Sort(c.doc)
				slices.Sort(c.goSet)
				if !slices.Equal(c.doc, c.goSet) {
					t.Errorf("%s: schema %q, Go type %T %q", c.what, c.doc, v, c.goSet)
				}
			}
		})
	}
}
