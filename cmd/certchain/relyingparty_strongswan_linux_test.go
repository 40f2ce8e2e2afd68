package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// charonBin is where Debian's strongswan-charon installs the IKE daemon.
const charonBin = "/usr/lib/ipsec/charon"

// strongswanPlugins are the plugins charon loads: X.509 and crypto, the
// revocation checker with the curl fetcher (OCSP over HTTP), the vici
// control socket, and kernel-libipsec (ESP in user space over a TUN
// device, carried in UDP) with kernel-netlink for addresses and routes.
// x509 comes before openssl, as in strongSwan's default order: when
// openssl parses the certificates, strongSwan 5.9.8 puts a serial number
// with its high bit set into the OCSP request without its leading zero, a
// negative number no responder knows (strongswan/strongswan#1415).
const strongswanPlugins = "random nonce x509 openssl pem pkcs1 pkcs8 revocation constraints pubkey curl kdf " +
	"kernel-libipsec kernel-netlink socket-default vici"

// strongswanConf is a charon's private strongswan.conf. Argument: its
// directory.
const strongswanConf = `charon {
    load = ` + strongswanPlugins + `
    filelog {
        charon {
            path = %[1]s/charon.log
            time_format = %%T
            flush_line = yes
            default = 1
            cfg = 2
            ike = 2
        }
    }
    plugins {
        vici {
            socket = unix://%[1]s/charon.vici
        }
    }
}
`

// swanctlConf is an IKEv2 connection between two hosts authenticating
// with certificates, each trusting only the issuing CA and requiring the
// peer certificate's status (strict revocation), with one child SA
// between two inner addresses. Arguments: the local and remote (outer)
// addresses, the local certificate file, the local and remote IDs, the
// local and remote inner addresses.
const swanctlConf = `connections {
    gw {
        local_addrs  = %[1]s
        remote_addrs = %[2]s
        encap = yes  # kernel-libipsec carries ESP in UDP
        local {
            auth = pubkey
            certs = %[3]s
            id = %[4]s
        }
        remote {
            auth = pubkey
            id = %[5]s
            cacerts = ca.pem  # the issuing CA: the only trust
            revocation = strict
        }
        children {
            net {
                local_ts  = %[6]s/32
                remote_ts = %[7]s/32
            }
        }
    }
}
`

// ikePeer is a charon running inside a network namespace with its own
// configuration directory, controlled with swanctl over its vici socket.
type ikePeer struct {
	name, dir string
	ns        *netns
	cmd       *exec.Cmd
	exited    chan struct{}
	logFrom   int64 // where the log of the current attempt starts
	env       []string
}

// ikeEnd is one side of the tunnel: its certificate, outer and inner
// addresses.
type ikeEnd struct {
	cert         *rpCert
	outer, inner string
}

// startCharon runs charon for local in ns, with the connection to remote
// loaded, and waits until it answers on vici. charon keeps its PID file
// in /run, so each one gets a private /run (a bind mount inside the mount
// namespace ip netns exec makes).
func startCharon(t *testing.T, swanctl string, ns *netns, caFile string, local, remote ikeEnd) *ikePeer {
	t.Helper()
	p := &ikePeer{name: local.cert.name, dir: t.TempDir(), ns: ns, exited: make(chan struct{})}
	sw := filepath.Join(p.dir, "swanctl")
	for _, d := range []string{"run", "swanctl/x509", "swanctl/x509ca", "swanctl/private"} {
		if err := os.MkdirAll(filepath.Join(p.dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(sw, "x509", "peer.pem"), mustRead(t, local.cert.certFile))
	writeFile(t, filepath.Join(sw, "private", "peer.key"), mustRead(t, local.cert.keyFile))
	writeFile(t, filepath.Join(sw, "x509ca", "ca.pem"), mustRead(t, caFile))
	writeFile(t, filepath.Join(sw, "swanctl.conf"), fmt.Appendf(nil, swanctlConf, local.outer, remote.outer, "peer.pem",
		local.cert.name, remote.cert.name, local.inner, remote.inner))
	writeFile(t, filepath.Join(p.dir, "strongswan.conf"), fmt.Appendf(nil, strongswanConf, p.dir))
	p.env = append(os.Environ(), "STRONGSWAN_CONF="+filepath.Join(p.dir, "strongswan.conf"), "SWANCTL_DIR="+sw,
		"NO_PROXY=*", "no_proxy=*")
	out, err := os.Create(filepath.Join(p.dir, "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command("ip", "netns", "exec", ns.name, "sh", "-c", `mount --bind "$0" /run && exec "$1"`,
		filepath.Join(p.dir, "run"), charonBin)
	p.cmd.Env, p.cmd.Stdout, p.cmd.Stderr = p.env, out, out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); out.Close(); close(p.exited) }()
	t.Cleanup(func() { p.stop(t) })
	pollFor(t, time.Minute, "charon of "+p.name+" answering on vici", func() error {
		p.alive(t)
		_, err := p.swanctl(swanctl, "--stats")
		return err
	})
	if out, err := p.swanctl(swanctl, "--load-all", "--noprompt"); err != nil || !strings.Contains(out, "successfully loaded 1 connections") {
		t.Fatalf("swanctl --load-all for %s: %v\n%s", p.name, err, out)
	}
	return p
}

func mustRead(t *testing.T, file string) []byte {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// swanctl runs swanctl against this charon's vici socket.
func (p *ikePeer) swanctl(bin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append(args, "--uri", "unix://"+filepath.Join(p.dir, "charon.vici"))...)
	cmd.Env, cmd.WaitDelay = p.env, 5*time.Second
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// stop ends charon (SIGTERM: it removes its SAs, routes and TUN device).
func (p *ikePeer) stop(t *testing.T) {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(time.Minute):
		t.Errorf("charon of %s did not stop on SIGTERM; killing it", p.name)
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// alive fails the test with charon's output if it has exited.
func (p *ikePeer) alive(t *testing.T) {
	t.Helper()
	select {
	case <-p.exited:
		stderr, _ := os.ReadFile(filepath.Join(p.dir, "stderr"))
		t.Fatalf("charon of %s exited: %v\n%s\n--- charon.log ---\n%s", p.name, p.cmd.ProcessState, stderr, p.log(t))
	default:
	}
}

// mark starts a new attempt: log returns what charon logs from here on.
func (p *ikePeer) mark(t *testing.T) {
	st, err := os.Stat(filepath.Join(p.dir, "charon.log"))
	if err != nil {
		t.Fatal(err)
	}
	p.logFrom = st.Size()
}

// log is what charon logged since mark.
func (p *ikePeer) log(t *testing.T) string {
	b, err := os.ReadFile(filepath.Join(p.dir, "charon.log"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b[min(p.logFrom, int64(len(b))):])
}

// checks are the lines charon logged since mark about certificates and
// their status.
func (p *ikePeer) checks(t *testing.T) string {
	var out []string
	for _, line := range strings.Split(p.log(t), "\n") {
		if strings.Contains(line, "[CFG]") && (strings.Contains(line, "ocsp") || strings.Contains(line, "status") ||
			strings.Contains(line, "constraint") || strings.Contains(line, "revoked")) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// wantLogged fails unless charon logged each of want since mark.
func (p *ikePeer) wantLogged(t *testing.T, what string, want ...string) {
	t.Helper()
	log := p.log(t)
	for _, w := range want {
		if !strings.Contains(log, w) {
			t.Fatalf("%s: charon of %s did not log %q:\n%s", what, p.name, w, log)
		}
	}
}

// TestRelyingPartyStrongSwan: two strongSwan charons in network
// namespaces of their own (joined by a veth pair), each trusting only the
// issuing CA and requiring its peer certificate's status (revocation =
// strict), ask the node's OCSP responder named in the certificates' AIA
// (forwarded into each namespace at the same address). With good
// certificates the IKE_SA and the child SA come up and traffic crosses the
// tunnel (ESP in user space, kernel-libipsec); with the responder
// unreachable from the gateway, strict refuses the initiator; once the
// initiator's certificate is revoked on the ledger the gateway refuses it
// as revoked. The gateway flushes its cached OCSP answers (swanctl
// --flush-certs) before each new attempt, as an operator would.
func TestRelyingPartyStrongSwan(t *testing.T) {
	swanctl := requireTool(t, "swanctl")
	requireTool(t, "ip")
	for _, f := range []string{charonBin, "/usr/lib/ipsec/plugins/libstrongswan-curl.so", "/usr/lib/ipsec/plugins/libstrongswan-kernel-libipsec.so"} {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("%s is required (make tools installs it): %v", f, err)
		}
	}
	for _, sc := range rpScenarios {
		t.Run(sc.name, func(t *testing.T) {
			l := sc.start(t)
			b := newIKETestbed(t, swanctl, l)
			asked := "requesting ocsp status from '" + b.sun.cert.leaf.OCSPServer[0] + "'"

			out, err := b.attempt(t)
			if err != nil {
				t.Logf("the gateway's certificate checks:\n%s", b.gw.checks(t))
			}
			wantAccepted(t, "IKE_SA with good certificates", out, err, "initiate completed successfully")
			b.gw.wantLogged(t, "good", asked, "ocsp response correctly signed by", "certificate status is good")
			b.initiator.wantLogged(t, "good", asked, "ocsp response correctly signed by", "certificate status is good")
			b.throughTunnel(t)

			b.gwOCSP.stop()
			out, err = b.attempt(t)
			wantRefused(t, "IKE_SA with the responder unreachable", out, err, "AUTHENTICATION_FAILED")
			b.gw.wantLogged(t, "unreachable", "ocsp request to "+b.sun.cert.leaf.OCSPServer[0]+" failed",
				"certificate status is not available", "constraint check failed")
			b.gwOCSP.start(t)

			l.revoke(t, b.sun.cert)
			out, err = b.attempt(t)
			wantRefused(t, "IKE_SA with a revoked certificate", out, err, "AUTHENTICATION_FAILED")
			b.gw.wantLogged(t, "revoked", asked, "ocsp response correctly signed by", "certificate was revoked on",
				"reason: key compromise")
		})
	}
}

// ikeTestbed is an initiator (sun) and a gateway (moon), each in its
// namespace with a certificate from l, the node's OCSP responder
// forwarded to both, and an echo service on the gateway's inner address.
type ikeTestbed struct {
	sun, moon        ikeEnd
	sunNS, moonNS    *netns
	gw, initiator    *ikePeer
	gwOCSP           *forwarder
	echo, swanctlBin string
}

func newIKETestbed(t *testing.T, swanctl string, l *rpLedger) *ikeTestbed {
	t.Helper()
	b := &ikeTestbed{swanctlBin: swanctl,
		sun:  ikeEnd{cert: l.issue(t, "sun.certchain.test"), outer: "192.0.2.1", inner: "198.51.100.1"},
		moon: ikeEnd{cert: l.issue(t, "moon.certchain.test"), outer: "192.0.2.2", inner: "203.0.113.1"},
	}
	b.sunNS, b.moonNS = newNetns(t, "sun"), newNetns(t, "moon")
	link(t, b.sunNS, b.moonNS, b.sun.outer, b.moon.outer)
	b.sunNS.addAddress(t, b.sun.inner)
	b.moonNS.addAddress(t, b.moon.inner)
	responder, err := url.Parse(b.sun.cert.leaf.OCSPServer[0])
	if err != nil {
		t.Fatal(err)
	}
	forwardInto(t, b.sunNS, responder.Host)
	b.gwOCSP = forwardInto(t, b.moonNS, responder.Host)
	b.gw = startCharon(t, swanctl, b.moonNS, l.caFile, b.moon, b.sun)
	b.initiator = startCharon(t, swanctl, b.sunNS, l.caFile, b.sun, b.moon)
	// The gateway's inner address answers the initiator's only through
	// the tunnel: there is no route to it otherwise.
	b.echo = serveEcho(t, b.moonNS, b.moon.inner)
	if err := exchange(b.sunNS, b.sun.inner, b.echo); err == nil {
		t.Fatalf("%s reached %s without a tunnel", b.sun.inner, b.echo)
	}
	return b
}

// attempt has the gateway forget cached OCSP answers and the initiator
// bring up the IKE_SA and its child SA; it returns swanctl's output.
func (b *ikeTestbed) attempt(t *testing.T) (string, error) {
	t.Helper()
	b.gw.mark(t)
	b.initiator.mark(t)
	if out, err := b.gw.swanctl(b.swanctlBin, "--flush-certs"); err != nil {
		t.Fatalf("swanctl --flush-certs: %v\n%s", err, out)
	}
	return b.initiator.swanctl(b.swanctlBin, "--initiate", "--ike", "gw", "--child", "net", "--timeout", "90")
}

// throughTunnel checks that the inner addresses reach each other through
// the child SA, then takes the IKE_SA down.
func (b *ikeTestbed) throughTunnel(t *testing.T) {
	t.Helper()
	pollFor(t, time.Minute, "an exchange through the tunnel", func() error { return exchange(b.sunNS, b.sun.inner, b.echo) })
	if out, _ := b.gw.swanctl(b.swanctlBin, "--list-sas"); !carried.MatchString(out) {
		t.Fatalf("the gateway's child SA carried no packets:\n%s", out)
	}
	if out, err := b.initiator.swanctl(b.swanctlBin, "--terminate", "--ike", "gw", "--timeout", "60"); err != nil {
		t.Fatalf("swanctl --terminate: %v\n%s", err, out)
	}
}

// carried matches a child SA's inbound counters in swanctl --list-sas
// once it has received packets.
var carried = regexp.MustCompile(`in +[0-9a-f]+[^,]*, +[1-9][0-9]* bytes, +[1-9][0-9]* packets`)

// serveEcho runs a TCP echo service on addr inside ns and returns its
// address.
func serveEcho(t *testing.T, ns *netns, addr string) string {
	t.Helper()
	ln, err := ns.listen(net.JoinHostPort(addr, "0"))
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
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(time.Minute))
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

// exchange connects from local inside ns to an echo service and checks
// that a line comes back.
func exchange(ns *netns, local, echo string) error {
	c, err := ns.dial(local, echo)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	const line = "through the tunnel\n"
	if _, err := io.WriteString(c, line); err != nil {
		return err
	}
	got, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || got != line {
		return fmt.Errorf("echo from %s: %q %v", echo, got, err)
	}
	return nil
}
