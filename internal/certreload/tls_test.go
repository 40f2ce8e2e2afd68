package certreload

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"testing"
)

// TestTLSKeepAliveSurvivesReload: over real TLS on 127.0.0.1 with mutual
// authentication, a keep-alive connection made before a reload keeps
// working on the old certificates after it, and the next handshake, server
// side and client side, uses the new ones.
func TestTLSKeepAliveSurvivesReload(t *testing.T) {
	cases := []struct {
		name   string
		reload string // which side's pair is replaced
	}{
		{"ok/server-certificate", "server"},
		{"ok/client-certificate", "client"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ca := newTestCA(t)
			pairs := map[string]*harness{
				"server": newHarness(t, NodeTLS, both(ca.issue(t, leaf{}))),
				"client": newHarness(t, NodeTLS, both(ca.issue(t, leaf{}))),
			}
			roots := x509.NewCertPool()
			roots.AddCert(ca.cert)
			url := serveTLS(t, pairs["server"].pair, roots)
			client := clientOf(pairs["client"].pair, roots)
			old := map[string]string{"server": pairs["server"].serial(), "client": pairs["client"].serial()}

			first := get(t, client, url)
			h := pairs[tc.reload]
			next, nextKey := ca.issue(t, leaf{})
			h.f.write(t, next, nextKey)
			if err := h.r.ReloadAll("test"); err != nil {
				t.Fatal(err)
			}
			again := get(t, client, url)
			if !again.reused || again != (exchange{first.server, first.client, true}) {
				t.Fatalf("after the reload: %+v, want the same connection as %+v", again, first)
			}
			if first.server != old["server"] || first.client != old["client"] {
				t.Fatalf("first exchange %+v, want %v", first, old)
			}
			client.CloseIdleConnections()
			fresh := get(t, client, url)
			want := map[string]string{"server": old["server"], "client": old["client"]}
			want[tc.reload] = serialOf(t, next)
			if fresh.reused || fresh.server != want["server"] || fresh.client != want["client"] {
				t.Fatalf("new handshake %+v, want %v", fresh, want)
			}
		})
	}
}

// exchange is what one request saw: the certificate serials each side
// presented on its connection, and whether the connection was reused.
type exchange struct {
	server, client string
	reused         bool
}

// serveTLS serves, with p's certificate and requiring a client certificate
// from roots, the serial of the client's certificate.
func serveTLS(t *testing.T, p *Pair, roots *x509.CertPool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tc := &tls.Config{GetCertificate: p.GetCertificate, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: roots, MinVersion: tls.VersionTLS12}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, r.TLS.PeerCertificates[0].SerialNumber.Text(16))
	})}
	go func() { _ = srv.Serve(tls.NewListener(ln, tc)) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "https://" + ln.Addr().String()
}

func clientOf(p *Pair, roots *x509.CertPool) *http.Client {
	tc := &tls.Config{GetClientCertificate: p.GetClientCertificate, RootCAs: roots, ServerName: "localhost", MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: tc, MaxIdleConnsPerHost: 1}}
}

func get(t *testing.T, c *http.Client, url string) exchange {
	t.Helper()
	var e exchange
	trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { e.reused = i.Reused }}
	req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(t.Context(), trace), http.MethodGet, url, nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	e.server, e.client = resp.TLS.PeerCertificates[0].SerialNumber.Text(16), string(body)
	return e
}
