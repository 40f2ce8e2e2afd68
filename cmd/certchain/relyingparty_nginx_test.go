package main

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// nginxStaplingConf is an nginx configuration serving a certificate with
// OCSP stapling verified against the issuing CA alone. Arguments: the
// prefix directory, the listen address, the server name, the leaf and
// chain file, its key file, the CA file. Only the server block matters to
// an operator; the rest keeps nginx in the test's directory.
const nginxStaplingConf = `daemon off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log info;
events { worker_connections 64; }
http {
    access_log %[1]s/access.log;
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;

    server {
        listen %[2]s ssl;
        server_name %[3]s;
        ssl_certificate         %[4]s;  # the leaf, then its chain
        ssl_certificate_key     %[5]s;
        ssl_stapling            on;
        ssl_stapling_verify     on;
        ssl_trusted_certificate %[6]s;  # the issuing CA: the only trust
        location / { return 200 "ok\n"; }
    }
}
`

// nginxServer is an nginx process serving one certificate on loopback.
type nginxServer struct {
	addr, dir, errLog string
	cmd               *exec.Cmd
	exited            chan struct{}
	logFrom           int64 // where the error log of the current configuration starts
}

// startNginx runs nginx with nginxStaplingConf for c (its master in the
// foreground, in a process group of its own with its worker) on a free
// loopback port, and waits until it accepts connections. A port taken
// between choosing and binding it is chosen again.
func startNginx(t *testing.T, bin string, c *rpCert, caFile string) *nginxServer {
	t.Helper()
	for try := 1; ; try++ {
		n := launchNginx(t, bin, c, caFile)
		if !n.portTaken(t) {
			return n
		}
		if try == 3 {
			n.alive(t)
		}
	}
}

// launchNginx starts nginx on a port that was free a moment ago.
func launchNginx(t *testing.T, bin string, c *rpCert, caFile string) *nginxServer {
	t.Helper()
	n := &nginxServer{addr: fmt.Sprintf("127.0.0.1:%d", freePort(t)), dir: t.TempDir(), exited: make(chan struct{})}
	n.errLog = filepath.Join(n.dir, "error.log")
	conf := filepath.Join(n.dir, "nginx.conf")
	writeFile(t, conf, fmt.Appendf(nil, nginxStaplingConf, n.dir, n.addr, c.name, c.chainFile, c.keyFile, caFile))
	out, err := os.Create(filepath.Join(n.dir, "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	n.cmd = exec.Command(bin, "-p", n.dir, "-c", conf, "-e", n.errLog)
	n.cmd.Stdout, n.cmd.Stderr = out, out
	n.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = n.cmd.Wait(); out.Close(); close(n.exited) }()
	t.Cleanup(func() { n.stop(t) })
	return n
}

// portTaken waits until nginx accepts connections (false) or has exited
// because its port was taken (true); any other exit fails the test.
func (n *nginxServer) portTaken(t *testing.T) (taken bool) {
	t.Helper()
	pollFor(t, time.Minute, "nginx listening on "+n.addr, func() error {
		select {
		case <-n.exited:
			if taken = strings.Contains(tail(n.errLog), "Address already in use"); taken {
				return nil
			}
		default:
		}
		n.alive(t)
		conn, err := net.DialTimeout("tcp", n.addr, 5*time.Second)
		if err == nil {
			conn.Close()
		}
		return err
	})
	return taken
}

// stop asks nginx to shut down fast (SIGTERM: the master stops its worker)
// and kills the process group if it has not within a minute.
func (n *nginxServer) stop(t *testing.T) {
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.exited:
	case <-time.After(time.Minute):
		t.Errorf("nginx did not stop on SIGTERM; killing its process group")
		_ = syscall.Kill(-n.cmd.Process.Pid, syscall.SIGKILL)
		<-n.exited
	}
}

// alive fails the test with nginx's logs if it has exited.
func (n *nginxServer) alive(t *testing.T) {
	t.Helper()
	select {
	case <-n.exited:
		stderr, _ := os.ReadFile(filepath.Join(n.dir, "stderr"))
		t.Fatalf("nginx exited: %v\n%s\n--- error.log ---\n%s", n.cmd.ProcessState, stderr, tail(n.errLog))
	default:
	}
}

// reload makes nginx re-read its configuration, as `nginx -s reload`
// does: new TLS contexts with no stapled response yet.
func (n *nginxServer) reload(t *testing.T) {
	t.Helper()
	if st, err := os.Stat(n.errLog); err == nil {
		n.logFrom = st.Size()
	}
	if err := n.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
}

// staplingErrors are the lines nginx logged, since the configuration was
// last loaded, about a certificate status it fetched and refused.
func (n *nginxServer) staplingErrors(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(n.errLog)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(b[min(n.logFrom, int64(len(b))):]), "\n") {
		if strings.Contains(line, "while requesting certificate status") {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// waitStapling handshakes with nginx (asking for certificate status)
// until it either staples a response other than stale (what it stapled
// before a reload took effect), returned, or logs that it refused the
// responder's answer, returned as refusal. nginx fetches lazily: the
// first handshake after a (re)load starts the fetch.
func (n *nginxServer) waitStapling(t *testing.T, name string, ca *x509.Certificate, stale []byte) (staple []byte, refusal string) {
	t.Helper()
	pollFor(t, 2*time.Minute, "nginx to staple or refuse the OCSP answer", func() error {
		n.alive(t)
		s, err := stapleOf(n.addr, name, ca)
		if err != nil {
			return err
		}
		if s != nil && !bytes.Equal(s, stale) {
			staple = s
			return nil
		}
		if refusal = n.staplingErrors(t); refusal != "" {
			return nil
		}
		return errors.New("nothing stapled yet")
	})
	return staple, refusal
}
