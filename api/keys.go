package api

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/certchain/certchain/certchain"
	"github.com/certchain/certchain/raftstore"
	"github.com/go-chi/chi/v5"
)

// maxKeyListing bounds the certificates GET /v1/keys/{hash} lists.
const maxKeyListing = 1000

// KeyView is GET /v1/keys/{hash}: a public key's state and the
// certificates on the ledger that carry it.
type KeyView struct {
	Key     string `json:"key_sha256"`
	Blocked bool   `json:"blocked"`
	// Set when blocked: who revoked the key, why, and where.
	Reason  string     `json:"reason,omitempty"`
	By      string     `json:"by,omitempty"`
	Time    *time.Time `json:"time,omitempty"`
	Height  uint64     `json:"height,omitempty"`
	Tx      string     `json:"tx,omitempty"`
	Revoked uint64     `json:"revoked,omitempty"` // certificates the revocation revoked
	// Certificates carry the key (at most 1000; Truncated says there are
	// more).
	Certificates []KeyCertificate `json:"certificates"`
	Truncated    bool             `json:"truncated,omitempty"`
}

// KeyCertificate is one certificate of a key.
type KeyCertificate struct {
	ID        string `json:"id"`
	Subject   string `json:"subject"`
	Submitter string `json:"submitter"`
	StatusView
}

// keyHash parses the {hash} path parameter: the lowercase hex SHA-256 of
// a SubjectPublicKeyInfo.
func keyHash(r *http.Request) (certchain.Hash, error) {
	h, err := certchain.ParseHash(chi.URLParam(r, "hash"))
	if err != nil {
		return h, fmt.Errorf("%w: key hash (hex SHA-256 of the SubjectPublicKeyInfo): %w", certchain.ErrInvalid, err)
	}
	return h, nil
}

// revokeKey is POST /v1/keys/{hash}/revoke: one transaction revokes every
// certificate with the key and blocks it (admins, or the member owning all
// of its certificates). The body names the reason; default keyCompromise.
func (s *Server) revokeKey(w http.ResponseWriter, r *http.Request) {
	h, err := keyHash(r)
	var body []byte
	if err == nil {
		body, err = s.readBody(w, r, s.Limits.OtherBody)
	}
	tx := certchain.Tx{Type: certchain.TxRevokeKey, Target: h, Reason: certchain.ReasonKeyCompromise}
	if err == nil && len(bytes.TrimSpace(body)) > 0 {
		tx.Reason, err = decodeReason(body)
	}
	var res raftstore.Result
	if err == nil {
		res, err = s.submitOne(r, &tx)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	view, err := s.keyView(h)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"height": res.Height, "tx": res.TxID.String(),
		"verdict": res.Verdict.Code, "detail": res.Verdict.Reason, "key": view})
}

// key is GET /v1/keys/{hash}.
func (s *Server) key(w http.ResponseWriter, r *http.Request) {
	h, err := keyHash(r)
	if err == nil {
		err = s.waitMinHeight(r)
	}
	var view *KeyView
	if err == nil {
		view, err = s.keyView(h)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, view)
}

func (s *Server) keyView(h certchain.Hash) (*KeyView, error) {
	v := &KeyView{Key: h.String(), Certificates: []KeyCertificate{}}
	switch k, err := s.Reader.BlockedKey(h); {
	case err == nil:
		t := k.Time
		v.Blocked, v.Reason, v.By, v.Time, v.Height, v.Tx, v.Revoked = true, k.Reason.String(), k.By, &t, k.Height, k.TxID.String(), k.Revoked
	case !errors.Is(err, certchain.ErrNotFound):
		return nil, err
	}
	ids, err := s.Reader.CertsByKey(h, maxKeyListing)
	if err != nil {
		return nil, err
	}
	if len(ids) > maxKeyListing {
		ids, v.Truncated = ids[:maxKeyListing], true
	}
	for _, id := range ids {
		rec, err := s.Reader.Record(id)
		if err != nil {
			return nil, err
		}
		v.Certificates = append(v.Certificates, KeyCertificate{ID: id.String(), Subject: rec.Subject, Submitter: rec.Submitter, StatusView: s.statusView(rec)})
	}
	return v, nil
}
