package api

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/certchain/certchain/certchain"
	"github.com/certchain/certchain/raftstore"
	"github.com/certchain/certchain/validator"
	"github.com/certchain/certchain/validator/validatortest"
)

// forwarding is a network with a CA of node certificates, and a
// follower's Forwarder towards a node's internal endpoints.
type forwarding struct {
	net    *validatortest.Network
	nodeCA *validatortest.Issuer
}

func newForwarding(t *testing.T) *forwarding {
	net := validatortest.NewNetworkAt(t, time.Now().UTC())
	return &forwarding{net: net, nodeCA: net.Root(t, "nodes", validatortest.KeyP256)}
}

// node starts a node that takes forwarded writes from node certificates
// of the network.
func (f *forwarding) node(t *testing.T, leader bool, tune func(*Server)) *testNode {
	return startNodeOn(t, f.net, leader, func(s *Server) {
		s.NodeCA = x509.NewCertPool()
		s.NodeCA.AddCert(f.nodeCA.Cert)
		if tune != nil {
			tune(s)
		}
	})
}

// forwarder returns a follower's Forwarder to tn presenting cert (nil:
// none), trusting tn's TLS certificate when trust is set.
func (f *forwarding) forwarder(t *testing.T, tn *testNode, cert *tls.Certificate, trust bool) *Forwarder {
	tc := &tls.Config{}
	if trust {
		tc.RootCAs = x509.NewCertPool()
		tc.RootCAs.AddCert(tn.ts.Certificate())
	}
	if cert != nil {
		tc.Certificates = []tls.Certificate{*cert}
	}
	return &Forwarder{Client: &http.Client{Transport: &http.Transport{TLSClientConfig: tc}}, NodeID: "n2"}
}

// nodeCert makes a node certificate issued by iss.
func nodeCert(t *testing.T, net *validatortest.Network, iss *validatortest.Issuer) *tls.Certificate {
	d := net.Leaf(t, iss, validatortest.WithCN("n2"))
	return &tls.Certificate{Certificate: [][]byte{d.DER}, PrivateKey: d.Key}
}

func publishTxs(t *testing.T, net *validatortest.Network, opts ...[]validatortest.Option) []certchain.Tx {
	var txs []certchain.Tx
	for _, o := range opts {
		txs = append(txs, certchain.Tx{Type: certchain.TxPublish, Submitter: validatortest.Vendor, Cert: net.SelfSigned(t, o...).DER, Time: time.Now().UnixNano()})
	}
	return txs
}

// TestForwardKeepsLeaderErrors: what a real node answers a forwarded
// write reaches the follower with its kind, per transaction (a node that
// is not the leader answers not-leader beside a rejection verdict) and
// for the whole request (the node's problem documents), never as
// outcome-unknown.
func TestForwardKeepsLeaderErrors(t *testing.T) {
	f := newForwarding(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	t.Run("per-transaction/not-leader-beside-a-verdict", func(t *testing.T) {
		tn := f.node(t, false, nil)
		txs := publishTxs(t, f.net, nil, []validatortest.Option{validatortest.WithCA()})
		res, err := f.forwarder(t, tn, nodeCert(t, f.net, f.nodeCA), true).Forward(ctx, tn.ts.URL, txs)
		if err != nil {
			t.Fatalf("forward: %v", err)
		}
		if !errors.Is(res[0].Err, certchain.ErrNotLeader) || errors.Is(res[0].Err, raftstore.ErrOutcomeUnknown) {
			t.Fatalf("result 0: %+v, want not-leader", res[0])
		}
		if p := problemFor(res[0].Err); p.Type != problemBase+"not-leader" || p.Status != 503 {
			t.Fatalf("answered as %s %d", p.Type, p.Status)
		}
		if res[1].Err != nil || res[1].Verdict.Code != certchain.Rejected || !strings.HasPrefix(res[1].Verdict.Reason, validator.RuleCACert+": ") {
			t.Fatalf("result 1: %+v, want rejected ca-cert", res[1])
		}
	})

	leader := f.node(t, true, func(s *Server) { s.Limits.PublishBody = 4 << 10 })
	t.Run("per-transaction/leader-verdicts", func(t *testing.T) {
		txs := publishTxs(t, f.net, nil, []validatortest.Option{validatortest.WithNetworkID("other")})
		res, err := f.forwarder(t, leader, nodeCert(t, f.net, f.nodeCA), true).Forward(ctx, leader.ts.URL, txs)
		if err != nil {
			t.Fatalf("forward: %v", err)
		}
		if res[0].Err != nil || res[0].Verdict.Code != certchain.Accepted || res[0].Height == 0 {
			t.Fatalf("result 0: %+v, want accepted", res[0])
		}
		if res[1].Err != nil || !strings.HasPrefix(res[1].Verdict.Reason, validator.RuleNetworkID+": ") {
			t.Fatalf("result 1: %+v, want rejected network-id", res[1])
		}
	})
	otherCA := f.net.Root(t, "other nodes", validatortest.KeyP256)
	for _, tc := range []struct {
		name string
		cert *tls.Certificate
		txs  int
		kind error
		slug string
	}{
		{"whole/too-large", nodeCert(t, f.net, f.nodeCA), 20, errTooLarge, "too-large"},
		{"whole/not-a-node-of-the-network", nodeCert(t, f.net, otherCA), 1, certchain.ErrUnauthorized, "unauthorized"},
		{"whole/no-node-certificate", nil, 1, errNoClientCert, "client-certificate-required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := make([][]validatortest.Option, tc.txs)
			_, err := f.forwarder(t, leader, tc.cert, true).Forward(ctx, leader.ts.URL, publishTxs(t, f.net, opts...))
			if !errors.Is(err, tc.kind) || errors.Is(err, raftstore.ErrOutcomeUnknown) || problemFor(err).Type != problemBase+tc.slug {
				t.Fatalf("forward: %v (%s), want kind %v", err, problemFor(err).Type, tc.kind)
			}
		})
	}
}

// TestForwardNotApplied: a forward that provably never reached the leader
// (nothing listens, no such host, the TLS handshake fails) is a definite
// "not applied" (503 not-applied with Retry-After, matching
// certchain.ErrNotLeader); one that reached it and lost its answer stays
// outcome-unknown.
func TestForwardNotApplied(t *testing.T) {
	f := newForwarding(t)
	leader := f.node(t, true, nil)
	cert := nodeCert(t, f.net, f.nodeCA)
	closed := closedPort(t)
	cut := cuttingServer(t)
	garbage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("<html>")) }))
	defer garbage.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, tc := range []struct {
		name       string
		url        string
		trust      bool
		notApplied bool
	}{
		{"not-applied/connection-refused", "https://" + closed, true, true},
		{"not-applied/no-such-host", "https://no-such-host.invalid", true, true},
		{"not-applied/tls-handshake", leader.ts.URL, false, true},
		{"outcome-unknown/cut-after-the-request", "http://" + cut, true, false},
		{"outcome-unknown/answer-not-json", garbage.URL, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.forwarder(t, leader, cert, tc.trust).Forward(ctx, tc.url, publishTxs(t, f.net, nil))
			if errors.Is(err, raftstore.ErrNotApplied) != tc.notApplied || errors.Is(err, raftstore.ErrOutcomeUnknown) == tc.notApplied {
				t.Fatalf("forward: %v; want not applied %v", err, tc.notApplied)
			}
			rec := httptest.NewRecorder()
			writeError(rec, err)
			want := problemBase + "outcome-unknown"
			if tc.notApplied {
				want = problemBase + "not-applied"
				if !errors.Is(err, certchain.ErrNotLeader) {
					t.Fatalf("%v does not match certchain.ErrNotLeader", err)
				}
			}
			if p := decodeProblem(t, rec.Body.Bytes()); rec.Code != 503 || p.Type != want || rec.Header().Get("Retry-After") == "" {
				t.Fatalf("answered %d %s (Retry-After %q), want 503 %s", rec.Code, p.Type, rec.Header().Get("Retry-After"), want)
			}
		})
	}
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// cuttingServer reads a request's head and closes the connection without
// answering: the request reached it, its outcome is unknown.
func cuttingServer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if _, err := http.ReadRequest(bufio.NewReader(c)); err == nil {
				c.Close()
			}
		}
	}()
	return ln.Addr().String()
}
