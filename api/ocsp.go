package api

import (
	"net/http"

	"github.com/certchain/certchain/certchain"
	"github.com/certchain/certchain/validator"
)

// ocspSigners is GET /v1/ocsp/signers: the certificates this node signs
// OCSP responses with (the ledger responder and its delegates), for
// operators.
func (s *Server) ocspSigners(w http.ResponseWriter, _ *http.Request) {
	if s.OCSPSigners == nil {
		writeError(w, &reasonError{kind: certchain.ErrNotFound, reason: "this node runs no OCSP responder"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"node": s.NodeID, "signers": s.OCSPSigners()})
}

// ocspDelegateRequest is GET /v1/ocsp/delegate-request.pem: the PEM
// certificate request of this node's delegate key, which a CA member
// signs and registers (certchain ocsp delegate).
func (s *Server) ocspDelegateRequest(w http.ResponseWriter, _ *http.Request) {
	if len(s.OCSPDelegateCSR) == 0 {
		writeError(w, &reasonError{kind: certchain.ErrNotFound, reason: "this node has no OCSP delegate key"})
		return
	}
	w.Header().Set("Content-Type", "application/x-pem-file")
	_, _ = w.Write(s.OCSPDelegateCSR)
}

// ocspDelegate is POST /v1/ocsp/delegates: a CA member registers a
// delegated OCSP signer certificate its CA issued to a node's delegate
// key (one PEM certificate; the ledger checks it, see validator's
// ocsp-delegate rule).
func (s *Server) ocspDelegate(w http.ResponseWriter, r *http.Request) {
	body, err := s.readBody(w, r, s.Limits.OtherBody)
	var ders [][]byte
	if err == nil {
		ders, err = validator.ParsePEM(body, 1)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	s.writeNodeTx(w, r, certchain.Tx{Type: certchain.TxOCSPDelegate, Cert: ders[0]})
}
