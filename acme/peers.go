package acme

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Peer is another node of the cluster that runs an ACME server.
type Peer struct {
	// Node is the node's name (its nonces' prefix derives from it).
	Node string
	// URL is the node's API base URL ("https://host:port").
	URL string
}

// forwardedHeader marks a request one node forwarded to another, which
// never forwards it again.
const forwardedHeader = "Certchain-Acme-Forwarded"

// forwardTimeout bounds a forwarded request.
const forwardTimeout = 30 * time.Second

// peerFor returns the peer that issued nonce, if it is another node of the
// cluster.
func (s *Server) peerFor(nonce string) (Peer, bool) {
	if s.cfg.Peers == nil || s.cfg.PeerClient == nil || len(nonce) < noncePrefixLen || nonce[:noncePrefixLen] == s.nonces.Prefix() {
		return Peer{}, false
	}
	for _, p := range s.cfg.Peers() {
		if p.Node != s.cfg.Node && noncePrefix(p.Node) == nonce[:noncePrefixLen] {
			return p, true
		}
	}
	return Peer{}, false
}

// forward sends a request signed with a peer's nonce to that peer, which
// alone can redeem it, and relays the answer: a client behind a load
// balancer, or one that moves between nodes, never sees a badNonce for
// that. It reports false when the peer cannot be reached; the request is
// then handled here (and gets a badNonce with a fresh nonce of this node).
func (s *Server) forward(w http.ResponseWriter, r *http.Request, p Peer, body []byte) bool {
	ctx, cancel := context.WithTimeout(r.Context(), forwardTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(p.URL, "/")+r.URL.EscapedPath(), bytes.NewReader(body))
	if err != nil {
		return false
	}
	req.Header.Set("Content-Type", r.Header.Get("Content-Type"))
	req.Header.Set(forwardedHeader, s.cfg.Node)
	resp, err := s.cfg.PeerClient.Do(req)
	if err != nil {
		s.log.Warn("acme: forwarding to the nonce's node failed", "node", p.Node, "err", err)
		return false
	}
	defer resp.Body.Close()
	h := w.Header()
	for _, k := range []string{"Content-Type", "Replay-Nonce", "Location", "Link", "Retry-After", "Cache-Control"} {
		h.Del(k)
		for _, v := range resp.Header.Values(k) {
			h.Add(k, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, io.LimitReader(resp.Body, 16<<20))
	s.metrics.forwarded.Inc()
	return true
}

// checkURL is RFC 8555 §6.4: the JWS "url" must be the URL the request
// was sent to. A request forwarded from a peer was sent to the peer's URL,
// so the same path on a cluster node's base URL is accepted as well: it is
// the same CA, and the path is what says which resource is meant.
func (s *Server) checkURL(jws *JWS, r *http.Request) error {
	err := jws.CheckURL(s.requestURL(r))
	if err == nil || s.cfg.Peers == nil {
		return err
	}
	u, perr := url.Parse(jws.URL)
	if perr != nil || u.EscapedPath() != r.URL.EscapedPath() || u.RawQuery != "" || u.Fragment != "" {
		return err
	}
	for _, p := range s.cfg.Peers() {
		if pu, perr := url.Parse(p.URL); perr == nil && pu.Scheme == u.Scheme && pu.Host == u.Host {
			return nil
		}
	}
	return err
}
