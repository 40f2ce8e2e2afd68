package api

import (
	_ "embed"
	"net/http"
)

// OpenAPI is the OpenAPI 3.1 description of the REST API, served at
// GET /v1/openapi.json (see doc.go, OpenAPI). openapi_test.go checks it
// against the router both ways and the answers of a real node against its
// schemas.
//
//go:embed openapi.json
var OpenAPI []byte

// openapi is GET /v1/openapi.json.
func (s *Server) openapi(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(OpenAPI)
}
