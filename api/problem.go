package api

import (
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/certchain/certchain/certchain"
	"github.com/certchain/certchain/raftstore"
	"github.com/certchain/certchain/validator"
)

// Problem is an RFC 9457 problem document.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	// Results carries per-certificate results when a batch could not be
	// finished (e.g. the node was busy part-way).
	Results []PublishResult `json:"results,omitempty"`
}

// problemBase prefixes every problem type URI.
const problemBase = "urn:certchain:problem:"

// kinds maps error kinds to HTTP status and problem slug: the one table
// through which every REST error passes.
var kinds = []struct {
	err    error
	status int
	slug   string
}{
	{certchain.ErrNotFound, http.StatusNotFound, "not-found"},
	{certchain.ErrUnauthorized, http.StatusForbidden, "unauthorized"},
	{certchain.ErrConflict, http.StatusConflict, "conflict"},
	{certchain.ErrInvalid, http.StatusUnprocessableEntity, "invalid"},
	{certchain.ErrBusy, http.StatusServiceUnavailable, "busy"},
	{raftstore.ErrNotApplied, http.StatusServiceUnavailable, "not-applied"}, // before not-leader, which it also matches
	{certchain.ErrNotLeader, http.StatusServiceUnavailable, "not-leader"},
	{raftstore.ErrOutcomeUnknown, http.StatusServiceUnavailable, "outcome-unknown"},
	{errTooLarge, http.StatusRequestEntityTooLarge, "too-large"},
	{errNoClientCert, http.StatusUnauthorized, "client-certificate-required"},
	{errMediaType, http.StatusUnsupportedMediaType, "unsupported-media-type"},
	{errTimeout, http.StatusGatewayTimeout, "timeout"},
	{errBodyTimeout, http.StatusRequestTimeout, "body-timeout"},
	{errTooMany, http.StatusTooManyRequests, "too-many-requests"},
}

var (
	errTooLarge     = errors.New("request body too large")
	errNoClientCert = errors.New("client certificate required")
	errMediaType    = errors.New("unsupported media type")
	errTimeout      = errors.New("timed out")
	errBodyTimeout  = errors.New("request body too slow")
	errTooMany      = errors.New("too many requests")
)

// verdictError turns a rejected verdict into an error of the right kind.
func verdictError(v certchain.Verdict) error {
	return &reasonError{kind: validator.KindOf(v.Reason), reason: v.Reason}
}

type reasonError struct {
	kind   error
	reason string
	after  time.Duration // Retry-After of a 429 or 503; zero: 1 s
}

func (e *reasonError) Error() string { return e.reason }
func (e *reasonError) Unwrap() error { return e.kind }

// writeError answers err as a problem document.
func writeError(w http.ResponseWriter, err error) {
	p := problemFor(err)
	if p.Status == http.StatusServiceUnavailable || p.Status == http.StatusTooManyRequests {
		secs := 1
		if re, ok := errors.AsType[*reasonError](err); ok && re.after > 0 {
			secs = int(math.Ceil(re.after.Seconds()))
		}
		w.Header().Set("Retry-After", strconv.Itoa(secs))
	}
	writeProblem(w, p)
}

func problemFor(err error) Problem {
	p := Problem{Type: problemBase + "internal", Title: http.StatusText(500), Status: 500, Detail: err.Error()}
	for _, k := range kinds {
		if errors.Is(err, k.err) {
			p = Problem{Type: problemBase + k.slug, Title: http.StatusText(k.status), Status: k.status, Detail: err.Error()}
			break
		}
	}
	if pe, ok := errors.AsType[*partialError](err); ok {
		p.Results = pe.results
	}
	return p
}

// partialError is the error of a publish request none of whose
// certificates could be processed, with the result of every certificate
// (Problem.Results).
type partialError struct {
	err     error
	results []PublishResult
}

func (e *partialError) Error() string { return e.err.Error() }
func (e *partialError) Unwrap() error { return e.err }

func writeProblem(w http.ResponseWriter, p Problem) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
