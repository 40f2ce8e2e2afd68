package api

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certchain/certchain/raftstore"
	"github.com/certchain/certchain/validator/validatortest"
	"github.com/prometheus/client_golang/prometheus"
)

// testNode is a real single-voter node (Raft, Badger) behind the API on a
// TLS listener on 127.0.0.1, for tests that go through the whole edge.
type testNode struct {
	net  *validatortest.Network
	node *raftstore.Node
	srv  *Server
	ts   *httptest.Server
	reg  *prometheus.Registry
	logs *syncBuffer // the server's log (JSON lines)
}

// startNode starts a node; tune, if set, adjusts the server before its
// handler is built.
func startNode(t testing.TB, tune func(*Server)) *testNode {
	t.Helper()
	return startNodeOn(t, validatortest.NewNetworkAt(t, time.Now().UTC()), true, tune)
}

// startNodeOn starts a node of network net: the leader of its own
// one-voter cluster, or (leader false) a node of no cluster, which never
// learns of a leader.
func startNodeOn(t testing.TB, net *validatortest.Network, leader bool, tune func(*Server)) *testNode {
	t.Helper()
	return startNodeWith(t, net, nodeOptions{notLeader: !leader, server: tune})
}

// nodeOptions adjust startNodeWith's node.
type nodeOptions struct {
	notLeader bool                            // a node of no cluster
	server    func(*Server)                   // adjusts the server before its handler is built
	listener  func(net.Listener) net.Listener // wraps the TCP listener (under TLS)
}

func startNodeWith(t testing.TB, net *validatortest.Network, o nodeOptions) *testNode {
	t.Helper()
	leader, tune := !o.notLeader, o.server
	tn := &testNode{net: net, reg: prometheus.NewRegistry(), logs: &syncBuffer{}}
	n, err := raftstore.Open(raftstore.Config{ID: "n1", Dir: t.TempDir(), RaftAddr: "127.0.0.1:0", Genesis: tn.net.Genesis,
		Bootstrap: leader, SmallMemory: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("open node: %v", err)
	}
	t.Cleanup(func() { n.Close() })
	if leader {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := n.WaitLeader(ctx); err != nil {
			t.Fatalf("node did not become leader: %v", err)
		}
	}
	tn.node = n
	tn.srv = New(n, n.State(), tn.reg)
	tn.srv.Logger = slog.New(slog.NewJSONHandler(tn.logs, nil))
	if tune != nil {
		tune(tn.srv)
	}
	tn.ts = httptest.NewUnstartedServer(tn.srv.Handler())
	if o.listener != nil {
		tn.ts.Listener = o.listener(tn.ts.Listener)
	}
	tn.ts.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
	tn.ts.StartTLS()
	t.Cleanup(tn.ts.Close)
	return tn
}

// client returns an HTTPS client presenting member's identity
// certificate ("" for none).
func (tn *testNode) client(t testing.TB, member string) *http.Client {
	t.Helper()
	c := tn.ts.Client()
	tr := c.Transport.(*http.Transport).Clone()
	if member != "" {
		tr.TLSClientConfig.Certificates = []tls.Certificate{tn.memberCert(t, member)}
	}
	return &http.Client{Transport: tr}
}

func (tn *testNode) memberCert(t testing.TB, member string) tls.Certificate {
	t.Helper()
	for _, m := range tn.net.Genesis.Members {
		if m.Name == member {
			b, _ := pem.Decode([]byte(m.Cert))
			return tls.Certificate{Certificate: [][]byte{b.Bytes}, PrivateKey: tn.net.MemberKeys[member]}
		}
	}
	t.Fatalf("no member %q", member)
	return tls.Certificate{}
}

// files writes the node's CA and member's certificate and key as PEM
// files (for curl) and returns their paths.
func (tn *testNode) files(t testing.TB, member string) (ca, cert, key string) {
	t.Helper()
	dir := t.TempDir()
	ca, cert, key = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "member.pem"), filepath.Join(dir, "member.key")
	mc := tn.memberCert(t, member)
	der, err := x509.MarshalPKCS8PrivateKey(mc.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	for f, b := range map[string][]byte{
		ca:   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tn.ts.Certificate().Raw}),
		cert: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: mc.Certificate[0]}),
		key:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
	} {
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return ca, cert, key
}

// post sends body to path and returns the status and the answer.
func post(t testing.TB, c *http.Client, url, ct string, body []byte) (int, []byte) {
	t.Helper()
	resp, err := c.Post(url, ct, bytes.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("POST %s: reading the answer: %v", url, err)
	}
	return resp.StatusCode, b
}

// decodeProblem decodes a problem document.
func decodeProblem(t testing.TB, b []byte) Problem {
	t.Helper()
	var p Problem
	if err := json.Unmarshal(b, &p); err != nil || p.Type == "" {
		t.Fatalf("not a problem document: %q (%v)", b, err)
	}
	return p
}

// syncBuffer is a bytes.Buffer safe for concurrent writers (a logger).
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// lines returns the log lines containing substr.
func (s *syncBuffer) lines(substr string) []string {
	var out []string
	for _, l := range strings.Split(s.String(), "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return out
}
