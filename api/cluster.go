package api

import (
	"context"
	"net/http"
	"time"

	"github.com/certchain/certchain/certchain"
	"github.com/certchain/certchain/raftstore"
	"github.com/go-chi/chi/v5"
)

// Cluster is the node's side of the Raft cluster (raftstore.Node).
type Cluster interface {
	Servers() ([]raftstore.Server, error)
	// Status is what the node says about itself.
	Status() raftstore.Status
	// SubmitLocal submits on this node without forwarding (the leader's
	// end of a forwarded write).
	SubmitLocal(ctx context.Context, txs []certchain.Tx) ([]raftstore.Result, error)
	// WriteObjectsLocal writes forwarded replicated objects on this node
	// (the leader's end of raftstore.Node.WriteObjects).
	WriteObjectsLocal(ctx context.Context, encoded []byte) (uint64, error)
}

// NodeJoin is the body of POST /v1/cluster/nodes.
type NodeJoin struct {
	ID      string `json:"id"`
	Raft    string `json:"raft_address"`
	API     string `json:"api"`
	Replica bool   `json:"replica,omitempty"`
}

// ClusterView is GET /v1/cluster: Raft's configuration as this node sees
// it, how each server answered this node's probe, and the validator set
// the ledger records.
type ClusterView struct {
	Node   string `json:"node"`
	Height uint64 `json:"height"`
	// Time is the asked node's clock when it answered (last contacts are
	// relative to it).
	Time    time.Time               `json:"time"`
	Servers []ServerStatus          `json:"servers"`
	Ledger  []*certchain.NodeRecord `json:"ledger_nodes"`
}

// ForwardResult is one transaction's outcome as the internal submit
// endpoint returns it to a forwarding follower.
// Exactly one of Verdict and Error is set (see doc.go, Forwarding).
type ForwardResult struct {
	Tx      string             `json:"tx"`
	Height  uint64             `json:"height,omitempty"`
	Verdict *certchain.Verdict `json:"verdict,omitempty"`
	// Error and Kind are set when there is no verdict; Kind is the problem
	// slug of the error (busy, not-leader, outcome-unknown, ...), which the
	// follower turns back into the error kind.
	Error string `json:"error,omitempty"`
	Kind  string `json:"kind,omitempty"`
}

func (s *Server) clusterView(w http.ResponseWriter, r *http.Request) {
	servers, err := s.Cluster.Servers()
	if err != nil {
		writeError(w, err)
		return
	}
	nodes, err := s.Reader.Nodes()
	if err != nil {
		writeError(w, err)
		return
	}
	peers := s.Peers
	if peers == nil {
		peers = &Peers{} // probes nothing: the others show as not probed
	}
	statuses := peers.Probe(r.Context(), s.Cluster.Status(), servers)
	writeJSON(w, http.StatusOK, ClusterView{Node: s.NodeID, Height: s.Reader.Head().Height, Time: s.Now(), Servers: statuses, Ledger: nodes})
}

// clusterSelf is GET /v1/cluster/self: what this node says about itself.
func (s *Server) clusterSelf(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.Cluster.Status())
}

func (s *Server) nodeAdd(w http.ResponseWriter, r *http.Request) {
	body, err := s.readBody(w, r, s.Limits.OtherBody)
	var req NodeJoin
	if err == nil {
		err = decodeJSON(body, &req)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	s.writeNodeTx(w, r, certchain.Tx{Type: certchain.TxNodeAdd, Node: req.ID, Address: req.Raft, API: req.API, Replica: req.Replica})
}

func (s *Server) nodeRemove(w http.ResponseWriter, r *http.Request) {
	s.writeNodeTx(w, r, certchain.Tx{Type: certchain.TxNodeRemove, Node: chi.URLParam(r, "id")})
}

// writeNodeTx submits a membership change as the authenticated member
// (the ledger accepts it from admins only).
func (s *Server) writeNodeTx(w http.ResponseWriter, r *http.Request, tx certchain.Tx) {
	res, err := s.submitOne(r, &tx)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"height": res.Height, "tx": res.TxID.String(),
		"verdict": res.Verdict.Code, "detail": res.Verdict.Reason})
}

// internalSubmit takes writes a follower forwards: the body is a proposal
// encoding of the transactions (certchain.Proposal), the caller a node
// certificate of the network. It never forwards again.
func (s *Server) internalSubmit(w http.ResponseWriter, r *http.Request) {
	if err := s.node(r); err != nil {
		writeError(w, err)
		return
	}
	body, err := s.readBody(w, r, s.Limits.PublishBody)
	if err != nil {
		writeError(w, err)
		return
	}
	p, _, err := certchain.DecodeProposal(body)
	if err != nil {
		writeError(w, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.Limits.Write)
	defer cancel()
	results, err := s.Cluster.SubmitLocal(ctx, p.Txs)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, forwardResults(results))
}

// internalObjects takes replicated object writes a follower forwards
// (raftstore.EncodeObjects), from a node certificate of the network.
func (s *Server) internalObjects(w http.ResponseWriter, r *http.Request) {
	if err := s.node(r); err != nil {
		writeError(w, err)
		return
	}
	body, err := s.readBody(w, r, raftstore.MaxObjectsEntry)
	if err != nil {
		writeError(w, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.Limits.Write)
	defer cancel()
	index, err := s.Cluster.WriteObjectsLocal(ctx, body)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]uint64{"index": index})
}

func forwardResults(results []raftstore.Result) []ForwardResult {
	out := make([]ForwardResult, len(results))
	for i, r := range results {
		out[i] = ForwardResult{Tx: r.TxID.String(), Height: r.Height}
		if r.Err != nil {
			p := problemFor(r.Err)
			out[i].Error, out[i].Kind = r.Err.Error(), p.Type[len(problemBase):]
		} else {
			out[i].Verdict = &r.Verdict
		}
	}
	return out
}

func kindOfSlug(slug string) error {
	for _, k := range kinds {
		if k.slug == slug {
			return k.err
		}
	}
	return raftstore.ErrOutcomeUnknown
}

// node checks that the client presented a node certificate of the
// network (not a member's).
func (s *Server) node(r *http.Request) error {
	if s.NodeCA == nil {
		return &reasonError{kind: certchain.ErrUnauthorized, reason: "this node takes no forwarded writes (no node CA configured)"}
	}
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return &reasonError{kind: errNoClientCert, reason: "forwarded writes need a node certificate over mutual TLS"}
	}
	if err := raftstore.VerifyNodeCert(r.TLS.PeerCertificates, s.NodeCA); err != nil {
		return &reasonError{kind: certchain.ErrUnauthorized, reason: err.Error()}
	}
	return nil
}
