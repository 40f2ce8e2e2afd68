package raftstore

import (
	"net"
	"time"

	"github.com/hashicorp/raft"
)

// tcpLayer is a raft.StreamLayer over a plain TCP listener. Mutual TLS for
// Raft traffic between validators is the cluster's concern: it wraps this
// layer.
type tcpLayer struct{ ln net.Listener }

// Accept implements net.Listener.
func (l *tcpLayer) Accept() (net.Conn, error) { return l.ln.Accept() }

// Close implements net.Listener.
func (l *tcpLayer) Close() error { return l.ln.Close() }

// Addr implements net.Listener.
func (l *tcpLayer) Addr() net.Addr { return l.ln.Addr() }

// Dial implements raft.StreamLayer.
func (l *tcpLayer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return net.DialTimeout("tcp", string(addr), timeout)
}
