package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/certchain/certchain/certchain"
	"github.com/certchain/certchain/raftstore"
)

// Forwarder sends a follower's writes to the leader's internal submit
// endpoint over mutual TLS with the node's certificate. It implements
// raftstore.Forwarder.
type Forwarder struct {
	Client *http.Client // with the node certificate and the node CA
	NodeID string
}

// Forward implements raftstore.Forwarder.
func (f *Forwarder) Forward(ctx context.Context, leaderAPI string, txs []certchain.Tx) ([]raftstore.Result, error) {
	p := certchain.Proposal{Time: time.Now().UnixNano(), Proposer: f.NodeID, Txs: txs}
	b, err := f.post(ctx, leaderAPI, "/v1/internal/submit", p.Encode())
	if err != nil {
		return nil, err
	}
	var out []ForwardResult
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("%w: leader's answer: %v", raftstore.ErrOutcomeUnknown, err)
	}
	return fromForward(txs, out)
}

// ForwardObjects implements raftstore.Forwarder.
func (f *Forwarder) ForwardObjects(ctx context.Context, leaderAPI string, encoded []byte) (uint64, error) {
	b, err := f.post(ctx, leaderAPI, "/v1/internal/objects", encoded)
	if err != nil {
		return 0, err
	}
	var out struct{ Index uint64 }
	if err := json.Unmarshal(b, &out); err != nil || out.Index == 0 {
		return 0, fmt.Errorf("%w: leader's answer %q: %v", raftstore.ErrOutcomeUnknown, b, err)
	}
	return out.Index, nil
}

// post sends body to the leader's internal endpoint path and returns the
// answer of a 200, or the leader's problem as an error of its kind.
func (f *Forwarder) post(ctx context.Context, leaderAPI, path string, body []byte) ([]byte, error) {
	url := strings.TrimRight(leaderAPI, "/") + path
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := f.Client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", raftstore.ErrOutcomeUnknown, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", raftstore.ErrOutcomeUnknown, err)
	}
	if resp.StatusCode != http.StatusOK {
		var p Problem
		_ = json.Unmarshal(b, &p)
		return nil, &reasonError{kind: kindOfSlug(strings.TrimPrefix(p.Type, problemBase)), reason: "leader: " + p.Detail}
	}
	return b, nil
}

// fromForward turns the leader's answer back into results, with errors of
// the kinds the edge maps to statuses.
func fromForward(txs []certchain.Tx, in []ForwardResult) ([]raftstore.Result, error) {
	if len(in) != len(txs) {
		return nil, fmt.Errorf("%w: leader answered %d results for %d transactions", raftstore.ErrOutcomeUnknown, len(in), len(txs))
	}
	out := make([]raftstore.Result, len(in))
	for i, f := range in {
		out[i] = raftstore.Result{TxID: txs[i].ID(), Height: f.Height, Verdict: f.Verdict}
		if f.Error != "" {
			out[i].Err = &reasonError{kind: kindOfSlug(f.Kind), reason: f.Error}
		}
	}
	return out, nil
}
