package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"sync/atomic"
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
// answer of a 200, or the leader's problem as an error of its kind. A
// request that provably never reached the leader (notSent) fails with
// raftstore.ErrNotApplied; one that may have (it was being sent, or its
// answer was lost) with raftstore.ErrOutcomeUnknown.
func (f *Forwarder) post(ctx context.Context, leaderAPI, path string, body []byte) ([]byte, error) {
	url := strings.TrimRight(leaderAPI, "/") + path
	var connected atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) { connected.Store(true) }})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := f.Client.Do(req)
	if err != nil {
		if notSent(err, connected.Load()) {
			return nil, fmt.Errorf("%w (%w): %v", raftstore.ErrNotApplied, certchain.ErrNotLeader, err)
		}
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
		return nil, &reasonError{kind: kindOfSlug(strings.TrimPrefix(p.Type, problemBase)), reason: "leader: " + p.Detail,
			after: retryAfter(resp.Header.Get("Retry-After"))}
	}
	return b, nil
}

// notSent reports whether a failed request provably never reached the
// leader: it never got a connection (dialling, resolving the name or the
// TLS handshake failed), or the last attempt failed dialling (net/http
// sends a request again on a new connection only when nothing of it was
// written on a reused one).
func notSent(err error, connected bool) bool {
	if !connected {
		return true
	}
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// retryAfter reads a Retry-After of delay-seconds (zero when absent).
func retryAfter(v string) time.Duration {
	if s, err := strconv.Atoi(v); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	return 0
}

// fromForward turns the leader's answer back into results, with errors of
// the kinds the edge maps to statuses.
func fromForward(txs []certchain.Tx, in []ForwardResult) ([]raftstore.Result, error) {
	if len(in) != len(txs) {
		return nil, fmt.Errorf("%w: leader answered %d results for %d transactions", raftstore.ErrOutcomeUnknown, len(in), len(txs))
	}
	out := make([]raftstore.Result, len(in))
	for i, f := range in {
		out[i] = raftstore.Result{TxID: txs[i].ID(), Height: f.Height}
		switch {
		case f.Error != "":
			out[i].Err = &reasonError{kind: kindOfSlug(f.Kind), reason: "leader: " + f.Error}
		case f.Verdict == nil:
			return nil, fmt.Errorf("%w: leader answered neither a verdict nor an error for transaction %d", raftstore.ErrOutcomeUnknown, i)
		default:
			out[i].Verdict = *f.Verdict
		}
	}
	return out, nil
}
