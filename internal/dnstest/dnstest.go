// Package dnstest runs a real DNS server on loopback for tests: ACME
// validations (dns-01 TXT lookups, A/AAAA for http-01 and tls-alpn-01)
// are pointed at it through their configurable resolver address.
package dnstest

import (
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
)

// Server is a real DNS server on 127.0.0.1 (UDP and TCP on one port)
// answering from a zone the test sets. Unknown names are NXDOMAIN; known
// names without records of the asked type answer NOERROR with no data.
type Server struct {
	// Addr is the "host:port" to use as the resolver.
	Addr string
	mu   sync.Mutex
	zone map[string][]dns.RR // by lower-case FQDN
	fail map[string]int      // forced rcode by FQDN
}

// New starts a server for the rest of the test.
func New(t testing.TB) *Server {
	t.Helper()
	pc, l := listenUDPAndTCP(t)
	d := &Server{Addr: pc.LocalAddr().String(), zone: map[string][]dns.RR{}, fail: map[string]int{}}
	for _, srv := range []*dns.Server{
		{PacketConn: pc, Handler: dns.HandlerFunc(d.serve)},
		{Listener: l, Handler: dns.HandlerFunc(d.serve)},
	} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go func() { _ = srv.ActivateAndServe() }()
		<-started
		t.Cleanup(func() { _ = srv.Shutdown() })
	}
	return d
}

// listenUDPAndTCP listens on one loopback port for both UDP and TCP (Go's
// resolver switches to TCP when resolv.conf says use-vc).
func listenUDPAndTCP(t testing.TB) (net.PacketConn, net.Listener) {
	t.Helper()
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("dns listen: %v", err)
		}
		l, err := net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, l
		}
		pc.Close()
	}
	t.Fatal("no loopback port free for both UDP and TCP")
	return nil, nil
}

// Add adds records in zone-file syntax ("svc.example.test. 60 IN A 127.0.0.1").
func (d *Server) Add(t testing.TB, records ...string) {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, s := range records {
		rr, err := dns.NewRR(s)
		if err != nil {
			t.Fatalf("record %q: %v", s, err)
		}
		name := strings.ToLower(rr.Header().Name)
		d.zone[name] = append(d.zone[name], rr)
	}
}

// FailWith makes queries for name answer rcode (e.g. dns.RcodeServerFailure).
func (d *Server) FailWith(name string, rcode int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.fail[strings.ToLower(dns.Fqdn(name))] = rcode
}

func (d *Server) serve(w dns.ResponseWriter, r *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(r)
	m.Authoritative = true
	if len(r.Question) == 1 {
		q := r.Question[0]
		name := strings.ToLower(q.Name)
		d.mu.Lock()
		_, known := d.zone[name]
		rcode, failing := d.fail[name]
		d.mu.Unlock()
		switch {
		case failing:
			m.Rcode = rcode
		case !known:
			m.Rcode = dns.RcodeNameError
		}
		m.Answer = d.answer(name, q.Qtype, 8)
	}
	_ = w.WriteMsg(m)
}

// answer returns the records of type qtype at name, following CNAMEs (at
// most depth of them) as a recursive resolver would.
func (d *Server) answer(name string, qtype uint16, depth int) []dns.RR {
	d.mu.Lock()
	rrs := d.zone[name]
	d.mu.Unlock()
	var out []dns.RR
	for _, rr := range rrs {
		if rr.Header().Rrtype == qtype {
			out = append(out, rr)
		}
	}
	if len(out) > 0 || depth == 0 {
		return out
	}
	for _, rr := range rrs {
		if c, ok := rr.(*dns.CNAME); ok {
			return append([]dns.RR{c}, d.answer(strings.ToLower(c.Target), qtype, depth-1)...)
		}
	}
	return nil
}
