package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/certchain/certchain/certchain"
	"github.com/certchain/certchain/raftstore"
	"github.com/certchain/certchain/validator"
	"github.com/go-chi/chi/v5"
)

// PublishResult is the outcome for one certificate of a publish request.
type PublishResult struct {
	ID     string `json:"id,omitempty"`     // SHA-256 of the DER, lowercase hex (none for an entry that is not PEM)
	Serial string `json:"serial,omitempty"` // lowercase hex
	// State is StatePublished, StateRejected, StateRetry or StateChain.
	State string `json:"state"`
	// Reason says why a certificate was rejected, as "rule: detail" with
	// the validator's rule slugs, or why it is to be sent again.
	Reason           string `json:"reason,omitempty"`
	AlreadyPublished bool   `json:"already_published,omitempty"`
	Height           uint64 `json:"height,omitempty"`
	Tx               string `json:"tx,omitempty"`
}

// The states of a PublishResult.
const (
	// StatePublished: on the ledger, now or before (AlreadyPublished).
	StatePublished = "published"
	// StateRejected: refused (Reason says why); nothing changed.
	StateRejected = "rejected"
	// StateRetry: not processed (the node was busy or lost its leader);
	// sending it again is safe.
	StateRetry = "retry"
	// StateChain: a CA certificate of a PEM input that issued another
	// certificate of it, taken as their chain (not published).
	StateChain = "chain"
)

// PublishResponse answers a publish request: one result per certificate
// of the input (every PEM block, every entry of "certificates", the one
// DER), in input order, so published + rejected + retry + chain is the
// number of certificates sent.
type PublishResponse struct {
	Height    uint64          `json:"height"`    // highest block carrying the request's writes
	Published int             `json:"published"` // new or already on the ledger
	Rejected  int             `json:"rejected"`
	Retry     int             `json:"retry"`
	Chain     int             `json:"chain"`
	Results   []PublishResult `json:"results"`
}

// TxResponse answers a revoke, suspend, resume or renew.
type TxResponse struct {
	Height      uint64 `json:"height"`
	Tx          string `json:"tx"`
	Certificate string `json:"certificate"` // the certificate acted on
	Status      string `json:"status"`      // its status after the transaction
	New         string `json:"new,omitempty"`
}

func (s *Server) publish(w http.ResponseWriter, r *http.Request) {
	member, release, err := s.admitMember(r)
	if err != nil {
		writeError(w, err)
		return
	}
	defer release()
	batch, err := s.readCerts(w, r)
	if err != nil {
		writeError(w, err)
		return
	}
	results, retry, err := s.publishItems(r.Context(), member, batch.Items, s.submit)
	if err != nil {
		writeError(w, err)
		return
	}
	resp := publishResponse(results)
	if resp.Retry > 0 && resp.Retry == len(batch.published()) {
		// Nothing was processed: say why, with Retry-After, still
		// answering every certificate.
		writeError(w, &partialError{err: retry, results: results})
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// publishItems publishes, with send, the items that are to be published,
// and answers every item in order; retry is the error of the first
// certificate answered StateRetry.
func (s *Server) publishItems(ctx context.Context, member string, items []streamItem, send sender) (out []PublishResult, retry error, err error) {
	out = make([]PublishResult, len(items))
	var txs []certchain.Tx
	var at []int // index in items of each tx
	for i, it := range items {
		switch {
		case it.asChain:
			out[i] = entryResult(it.der, StateChain, "")
		case it.err != nil:
			out[i] = entryResult(it.der, StateRejected, it.err.Error())
		default:
			txs = append(txs, certchain.Tx{Type: certchain.TxPublish, Submitter: member, Cert: it.der, Chain: it.chain, Sig: it.sig})
			at = append(at, i)
		}
	}
	if len(txs) == 0 {
		return out, nil, nil
	}
	res, err := send(ctx, txs)
	if err != nil {
		return nil, nil, err
	}
	for j, r := range res {
		out[at[j]] = s.publishResult(txs[j].Cert, r)
		if r.Err != nil && retry == nil {
			retry = r.Err
		}
	}
	return out, retry, nil
}

// sender submits transactions (Server.submit, or submitRetrying).
type sender func(context.Context, []certchain.Tx) ([]raftstore.Result, error)

// entryResult answers an entry that is not submitted: a chain
// certificate, or one rejected before the ledger.
func entryResult(der []byte, state, reason string) PublishResult {
	pr := PublishResult{State: state, Reason: reason}
	if der != nil {
		pr.ID = certchain.Sum(der).String()
		if serial, ok := validator.SerialOf(der); ok {
			pr.Serial = serial.Text(16)
		}
	}
	return pr
}

func (s *Server) readCerts(w http.ResponseWriter, r *http.Request) (*certBatch, error) {
	mt, err := mediaType(r)
	if err != nil {
		return nil, err
	}
	body, err := s.readBody(w, r, s.Limits.PublishBody)
	if err != nil {
		return nil, err
	}
	return decodeCerts(mt, body, s.Limits.BatchCerts)
}

func (s *Server) submit(ctx context.Context, txs []certchain.Tx) ([]raftstore.Result, error) {
	ctx, cancel := context.WithTimeout(ctx, s.Limits.Write)
	defer cancel()
	res, err := s.Writer.Submit(ctx, txs)
	if errors.Is(err, context.DeadlineExceeded) {
		return nil, fmt.Errorf("%w: %w", errTimeout, err)
	}
	return res, err
}

func publishResponse(results []PublishResult) PublishResponse {
	var sum StreamSummary
	for _, pr := range results {
		count(&sum, pr)
	}
	return PublishResponse{Height: sum.Height, Published: sum.Published + sum.AlreadyPublished, Rejected: sum.Rejected,
		Retry: sum.Retry, Chain: sum.Chain, Results: results}
}

// publishResult words the outcome of publishing der.
func (s *Server) publishResult(der []byte, res raftstore.Result) PublishResult {
	var id certchain.Hash
	var serial *big.Int // nil where der has none
	// The certificate as this node's edge checked it, if it did.
	if c := res.Cert; c != nil && bytes.Equal(c.X509.Raw, der) {
		id, serial = c.ID, c.X509.SerialNumber
	} else {
		id = certchain.Sum(der)
		serial, _ = validator.SerialOf(der)
	}
	pr := PublishResult{ID: id.String(), Tx: res.TxID.String(), Height: res.Height}
	if serial != nil {
		pr.Serial = serial.Text(16)
	}
	switch {
	case res.Err != nil:
		pr.State, pr.Reason, pr.Tx = StateRetry, res.Err.Error(), ""
	case res.Verdict.Code == certchain.Rejected:
		pr.State, pr.Reason, pr.Height, pr.Tx = StateRejected, res.Verdict.Reason, 0, ""
	default:
		pr.State, pr.AlreadyPublished = StatePublished, res.Verdict.Code == certchain.Unchanged
		if pr.AlreadyPublished { // answered without a write: point at the existing record
			if rec, err := s.Reader.Record(id); err == nil {
				pr.Height, pr.Tx = rec.Height, rec.TxID.String()
			}
		}
	}
	return pr
}

func (s *Server) changeStatus(w http.ResponseWriter, r *http.Request) {
	types := map[string]certchain.TxType{"revoke": certchain.TxRevoke, "suspend": certchain.TxSuspend, "resume": certchain.TxResume}
	tx := certchain.Tx{Type: types[chi.URLParam(r, "action")]}
	body, err := s.readBody(w, r, s.Limits.OtherBody)
	var mt string
	if err == nil {
		mt, err = mediaType(r)
	}
	switch {
	case err != nil:
	case mt == "application/jose+json":
		// The certificate's owner, with a request its key signed; no
		// member certificate needed. The ledger checks the signature.
		tx.Submitter, tx.Proof = certchain.OwnerSubmitter, body
		var req *validator.OwnerRequest
		if req, err = validator.ParseOwnerProof(body); err == nil && tx.Type == certchain.TxRevoke && req.Reason != "" {
			tx.Reason, err = certchain.ParseReason(req.Reason)
		}
	case tx.Type == certchain.TxRevoke:
		tx.Reason, err = decodeReason(body)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	s.writeOne(w, r, tx)
}

func (s *Server) renew(w http.ResponseWriter, r *http.Request) {
	batch, err := s.readCerts(w, r)
	var certs []streamItem
	if err == nil {
		certs = slices.DeleteFunc(slices.Clone(batch.Items), func(it streamItem) bool { return it.asChain })
		if len(certs) != 1 {
			err = fmt.Errorf("%w: renew takes exactly one new certificate (and the CA certificates that chain it), got %d", certchain.ErrInvalid, len(certs))
		} else {
			err = certs[0].err
		}
	}
	if err != nil {
		writeError(w, err)
		return
	}
	tx := certchain.Tx{Type: certchain.TxRenew, Cert: certs[0].der, Chain: batch.Chain}
	if proof := r.Header.Get(HeaderOwnerProof); proof != "" {
		// The old certificate's owner renews it with a request its key
		// signed (validator.OwnerRequest, action renew).
		tx.Submitter, tx.Proof = certchain.OwnerSubmitter, []byte(proof)
	}
	s.writeOne(w, r, tx)
}

// writeOne submits one transaction on the certificate named in the path
// and answers with its outcome.
func (s *Server) writeOne(w http.ResponseWriter, r *http.Request, tx certchain.Tx) {
	var err error
	if tx.Target, err = certchain.ParseHash(chi.URLParam(r, "id")); err != nil {
		writeError(w, err)
		return
	}
	res, err := s.submitOne(r, &tx)
	if err != nil {
		writeError(w, err)
		return
	}
	s.writeTxResponse(w, tx, res)
}

// submitOne submits tx as the member the request authenticates, waits for
// its outcome and turns a refusal into an error of the right kind.
func (s *Server) submitOne(r *http.Request, tx *certchain.Tx) (raftstore.Result, error) {
	var err error
	if tx.Submitter != certchain.OwnerSubmitter {
		if tx.Submitter, err = s.member(r); err != nil {
			return raftstore.Result{}, err
		}
		if err := txSignature(r, tx); err != nil {
			return raftstore.Result{}, err
		}
	} else if wait := s.throttle(certchain.OwnerSubmitter); wait > 0 {
		// Owners are anonymous until the ledger checks their signature:
		// they share one budget per node.
		return raftstore.Result{}, &reasonError{kind: errTooMany, after: wait,
			reason: fmt.Sprintf("more than %g owner-signed requests per second reach this node; retry later", s.Limits.MemberRate)}
	}
	results, err := s.submit(r.Context(), []certchain.Tx{*tx})
	if err != nil {
		return raftstore.Result{}, err
	}
	return results[0], resultError(results[0])
}

// Headers of a single-transaction write that the member signed: the
// signature (base64) of the transaction the request makes, and the
// version it saw (certchain.Tx.Seen).
const (
	HeaderSignature = "Certchain-Signature"
	HeaderSeen      = "Certchain-Seen"
	// HeaderOwnerProof carries the owner's signed request (a compact JWS,
	// validator.OwnerRequest) of a renewal, whose body is the new
	// certificate.
	HeaderOwnerProof = "Certchain-Owner-Proof"
)

// txSignature puts the member's signature and Seen from the request
// headers into tx; the ledger verifies them.
func txSignature(r *http.Request, tx *certchain.Tx) error {
	if v := r.Header.Get(HeaderSignature); v != "" {
		sig, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			return fmt.Errorf("%w: %s is not base64", certchain.ErrInvalid, HeaderSignature)
		}
		tx.Sig = sig
	}
	if v := r.Header.Get(HeaderSeen); v != "" {
		seen, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return fmt.Errorf("%w: %s: %v", certchain.ErrInvalid, HeaderSeen, err)
		}
		tx.Seen = seen
	}
	return nil
}

func resultError(res raftstore.Result) error {
	if res.Err != nil {
		return res.Err
	}
	if res.Verdict.Code == certchain.Rejected {
		return verdictError(res.Verdict)
	}
	return nil
}

func (s *Server) writeTxResponse(w http.ResponseWriter, tx certchain.Tx, res raftstore.Result) {
	resp := TxResponse{Height: res.Height, Tx: res.TxID.String(), Certificate: tx.Target.String()}
	if rec, err := s.Reader.Record(tx.Target); err == nil {
		resp.Status = rec.StatusAt(s.Now()).String()
	}
	if tx.Type == certchain.TxRenew {
		resp.New = certchain.Sum(tx.Cert).String()
	}
	writeJSON(w, http.StatusOK, resp)
}

// RecordView is the JSON form of a certificate record.
type RecordView struct {
	ID         string    `json:"id"`
	PEM        string    `json:"pem"`
	Subject    string    `json:"subject"`
	Issuer     string    `json:"issuer"`
	Serial     string    `json:"serial"`
	NotBefore  time.Time `json:"not_before"`
	NotAfter   time.Time `json:"not_after"`
	SelfSigned bool      `json:"self_signed"`
	Identity   string    `json:"identity"`
	KeySHA256  string    `json:"key_sha256"`
	CA         string    `json:"ca,omitempty"`
	Submitter  string    `json:"submitter"`
	Height     uint64    `json:"height"`
	Tx         string    `json:"tx"`
	StatusView
	Replaces     string `json:"replaces,omitempty"`
	SupersededBy string `json:"superseded_by,omitempty"`
}

// StatusView is the status of one certificate.
type StatusView struct {
	Status string `json:"status"` // good|suspended|revoked|superseded|expired|unknown
	// Reason is the RFC 5280 reason while suspended, revoked or superseded.
	Reason       string     `json:"reason,omitempty"`
	StatusTime   *time.Time `json:"status_time,omitempty"`
	StatusHeight uint64     `json:"status_height,omitempty"`
}

// statusResponse is GET /v1/certificates/{id}/status.
type statusResponse struct {
	ID string `json:"id"`
	StatusView
	LedgerHeight uint64 `json:"ledger_height"` // head of the node that answered
}

func (s *Server) record(w http.ResponseWriter, r *http.Request) {
	rec, err := s.lookup(r)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, RecordView{
		ID: rec.ID.String(), PEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rec.DER})),
		Subject: rec.Subject, Issuer: rec.Issuer, Serial: rec.Serial, NotBefore: rec.NotBefore, NotAfter: rec.NotAfter,
		SelfSigned: rec.SelfSigned, Identity: rec.Identity, KeySHA256: rec.KeyHash.String(), CA: rec.CA,
		Submitter: rec.Submitter, Height: rec.Height, Tx: rec.TxID.String(), StatusView: s.statusView(rec),
		Replaces: hexOrEmpty(rec.Replaces), SupersededBy: hexOrEmpty(rec.SupersededBy),
	})
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	rec, err := s.lookup(r)
	resp := statusResponse{ID: chi.URLParam(r, "id"), LedgerHeight: s.Reader.Head().Height}
	switch {
	case errors.Is(err, certchain.ErrNotFound) && !errors.Is(err, errBadID):
		resp.Status = certchain.StatusUnknown.String()
	case err != nil:
		writeError(w, err)
		return
	default:
		resp.ID, resp.StatusView = rec.ID.String(), s.statusView(rec)
	}
	writeJSON(w, http.StatusOK, resp)
}

var errBadID = errors.New("bad certificate id")

// lookup finds the record named by the {id} path parameter, first waiting
// for ?min_height when given.
func (s *Server) lookup(r *http.Request) (*certchain.Record, error) {
	id, err := certchain.ParseHash(chi.URLParam(r, "id"))
	if err != nil {
		return nil, fmt.Errorf("%w: certificate id: %w", errBadID, err)
	}
	if err := s.waitMinHeight(r); err != nil {
		return nil, err
	}
	return s.Reader.Record(id)
}

func (s *Server) waitMinHeight(r *http.Request) error {
	v := r.URL.Query().Get("min_height")
	if v == "" {
		return nil
	}
	h, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: min_height: %v", certchain.ErrInvalid, err)
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.Limits.MinHeight)
	defer cancel()
	if err := s.Reader.WaitHeight(ctx, h); err != nil {
		return fmt.Errorf("%w: this node has not applied height %d yet: %v", errTimeout, h, err)
	}
	return nil
}

func (s *Server) statusView(rec *certchain.Record) StatusView {
	st := rec.StatusAt(s.Now())
	v := StatusView{Status: st.String()}
	if rec.StatusHeight > 0 {
		t := rec.StatusTime
		v.StatusTime, v.StatusHeight = &t, rec.StatusHeight
	}
	if st == certchain.StatusRevoked || st == certchain.StatusSuspended || st == certchain.StatusSuperseded {
		v.Reason = rec.Reason.String()
	}
	return v
}

func hexOrEmpty(h certchain.Hash) string {
	if h.IsZero() {
		return ""
	}
	return h.String()
}
