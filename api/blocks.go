package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/certchain/certchain/certchain"
	"github.com/go-chi/chi/v5"
)

// BlockView is the JSON form of a block.
type BlockView struct {
	Height       uint64    `json:"height"`
	Hash         string    `json:"hash"`
	PrevHash     string    `json:"prev_hash"`
	Time         time.Time `json:"time"`
	Proposer     string    `json:"proposer"`
	TxRoot       string    `json:"tx_root"`
	ResultRoot   string    `json:"result_root"`
	Transactions []TxView  `json:"transactions"`
}

// TxView is the JSON form of a transaction with its verdict.
type TxView struct {
	ID          string    `json:"id"`
	Type        string    `json:"type"`
	Submitter   string    `json:"submitter"`
	Certificate string    `json:"certificate,omitempty"` // ID of the certificate carried (publish, renew)
	Target      string    `json:"target,omitempty"`
	Reason      string    `json:"reason,omitempty"` // revoke
	Time        time.Time `json:"time"`             // when the entry node accepted it
	Verdict     string    `json:"verdict"`
	Detail      string    `json:"verdict_reason,omitempty"`
}

func (s *Server) head(w http.ResponseWriter, r *http.Request) {
	s.writeBlock(w, s.Reader.Head().Height)
}

func (s *Server) block(w http.ResponseWriter, r *http.Request) {
	h, err := s.height(r)
	if err != nil {
		writeError(w, err)
		return
	}
	s.writeBlock(w, h)
}

// rawBlock serves the canonical block encoding, so that an auditor can
// recompute hashes without trusting this node's JSON.
func (s *Server) rawBlock(w http.ResponseWriter, r *http.Request) {
	h, err := s.height(r)
	var blk *certchain.Block
	if err == nil {
		blk, err = s.Reader.Block(h)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	_, _ = w.Write(blk.Encode())
}

func (s *Server) height(r *http.Request) (uint64, error) {
	h, err := strconv.ParseUint(chi.URLParam(r, "height"), 10, 64)
	if err != nil {
		return 0, &reasonError{kind: certchain.ErrInvalid, reason: "height must be a decimal block number"}
	}
	if head := s.Reader.Head().Height; h > head {
		return 0, &reasonError{kind: certchain.ErrNotFound, reason: "block " + strconv.FormatUint(h, 10) + " is above the head " + strconv.FormatUint(head, 10)}
	}
	return h, nil
}

func (s *Server) writeBlock(w http.ResponseWriter, height uint64) {
	blk, err := s.Reader.Block(height)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, blockView(blk))
}

func blockView(blk *certchain.Block) BlockView {
	h := &blk.Header
	v := BlockView{
		Height: h.Height, Hash: h.Hash().String(), PrevHash: h.PrevHash.String(), Time: h.Timestamp(),
		Proposer: h.Proposer, TxRoot: h.TxRoot.String(), ResultRoot: h.ResultRoot.String(),
		Transactions: make([]TxView, len(blk.Txs)),
	}
	for i := range blk.Txs {
		tx := &blk.Txs[i]
		tv := TxView{ID: tx.ID().String(), Type: tx.Type.String(), Submitter: tx.Submitter,
			Target: hexOrEmpty(tx.Target), Time: time.Unix(0, tx.Time).UTC(),
			Verdict: blk.Verdicts[i].Code.String(), Detail: blk.Verdicts[i].Reason}
		if len(tx.Cert) > 0 {
			tv.Certificate = certchain.Sum(tx.Cert).String()
		}
		if tx.Type == certchain.TxRevoke {
			tv.Reason = tx.Reason.String()
		}
		v.Transactions[i] = tv
	}
	return v
}

// NetworkView describes the network a node belongs to: what a factory line
// needs to make certificates for it and what a relying party needs to
// trust its CA members.
type NetworkView struct {
	NetworkID    string           `json:"network_id"`
	NetworkIDOID string           `json:"network_id_oid"`
	GenesisHash  string           `json:"genesis_hash"`
	OCSPURLs     []string         `json:"ocsp_urls,omitempty"`
	Policy       certchain.Policy `json:"policy"`
	Members      []MemberView     `json:"members"`
}

// MemberView is one member as the network view shows it.
type MemberView struct {
	Name      string               `json:"name"`
	Role      string               `json:"role"`
	CACerts   []string             `json:"ca_certs,omitempty"`
	Namespace *certchain.Namespace `json:"namespace,omitempty"`
}

func (s *Server) network(w http.ResponseWriter, _ *http.Request) {
	g := s.Reader.Genesis() // with the current members
	b0, err := s.Reader.Block(0)
	if err != nil {
		writeError(w, err)
		return
	}
	v := NetworkView{NetworkID: g.NetworkID, NetworkIDOID: g.NetworkIDOID, GenesisHash: b0.Header.TxRoot.String(), Policy: g.Policy, OCSPURLs: s.OCSPURLs}
	for _, m := range g.Members {
		v.Members = append(v.Members, MemberView{Name: m.Name, Role: string(m.Role), CACerts: m.CACerts, Namespace: m.Namespace})
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) responderPEM(w http.ResponseWriter, _ *http.Request) {
	if s.ResponderPEM == nil {
		writeError(w, &reasonError{kind: certchain.ErrNotFound, reason: "this node runs no OCSP responder"})
		return
	}
	w.Header().Set("Content-Type", "application/x-pem-file")
	_, _ = w.Write(s.ResponderPEM())
}
