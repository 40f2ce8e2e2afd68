package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/certchain/certchain/raftstore"
)

// ServerStatus is one server of the Raft configuration in GET /v1/cluster:
// as Raft lists it, and as it answered the asked node's probe.
type ServerStatus struct {
	raftstore.Server
	// Reachable: its API answered the probe just made, as the node Raft
	// names (the asked node itself always is).
	Reachable bool `json:"reachable"`
	// LastContact is when it last answered a probe of the asked node (its
	// background probes or a status request); nil: never since the asked
	// node started.
	LastContact *time.Time `json:"last_contact,omitempty"`
	// Height is its applied ledger height as it last reported it, and
	// RaftState its Raft state then (empty: never reached).
	Height    uint64 `json:"height"`
	RaftState string `json:"raft_state,omitempty"`
	// Error says why the probe failed.
	Error string `json:"error,omitempty"`
}

// Peers learns how the other servers of the Raft configuration are doing
// by asking each one's API for GET /v1/cluster/self, over the node's
// mutual-TLS client, and remembers when each last answered. Raft's own
// replication state would only tell the leader, and not a node's applied
// height or whether its API answers (doc.go, "Cluster status").
type Peers struct {
	// Client is the node's client towards other nodes (node certificate,
	// trusting the node CA).
	Client *http.Client
	// Timeout bounds one probe. Zero: 1 s.
	Timeout time.Duration
	// Now is the clock. Nil: time.Now.
	Now func() time.Time

	mu   sync.Mutex
	seen map[string]raftstore.Status // last answer of each node ID
	when map[string]time.Time
}

// Probe asks every server but self at once and returns their statuses in
// the order of servers; self is filled from the node's own status.
func (p *Peers) Probe(ctx context.Context, self raftstore.Status, servers []raftstore.Server) []ServerStatus {
	out := make([]ServerStatus, len(servers))
	var wg sync.WaitGroup
	for i, s := range servers {
		if s.ID == self.ID {
			now := p.now()
			out[i] = ServerStatus{Server: s, Reachable: true, LastContact: &now, Height: self.Height, RaftState: self.State}
			continue
		}
		wg.Go(func() { out[i] = p.probe(ctx, s) })
	}
	wg.Wait()
	return out
}

// Watch probes the servers every interval until ctx ends, so that last
// contact stays current between status requests.
func (p *Peers) Watch(ctx context.Context, every time.Duration, servers func() ([]raftstore.Server, error), self func() raftstore.Status) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if s, err := servers(); err == nil {
			p.Probe(ctx, self(), s)
		}
	}
}

func (p *Peers) probe(ctx context.Context, s raftstore.Server) ServerStatus {
	st := ServerStatus{Server: s}
	got, err := p.ask(ctx, s)
	if err != nil {
		st.Error = err.Error()
		return p.lastKnown(st)
	}
	now := p.now()
	p.mu.Lock()
	if p.seen == nil {
		p.seen, p.when = map[string]raftstore.Status{}, map[string]time.Time{}
	}
	p.seen[s.ID], p.when[s.ID] = got, now
	p.mu.Unlock()
	st.Reachable, st.LastContact, st.Height, st.RaftState = true, &now, got.Height, got.State
	return st
}

// ask fetches the status of server s from its API.
func (p *Peers) ask(ctx context.Context, s raftstore.Server) (raftstore.Status, error) {
	var got raftstore.Status
	if s.API == "" {
		return got, fmt.Errorf("%s advertises no API", s.ID)
	}
	if p.Client == nil {
		return got, fmt.Errorf("not probed: this node has no client for other nodes")
	}
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(s.API, "/")+"/v1/cluster/self", nil)
	if err != nil {
		return got, err
	}
	resp, err := p.Client.Do(req)
	if err != nil {
		return got, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return got, fmt.Errorf("%s answered %s", s.API, resp.Status)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&got); err != nil {
		return got, fmt.Errorf("%s: %w", s.API, err)
	}
	if got.ID != s.ID {
		return got, fmt.Errorf("%s answers as node %q, not %q", s.API, got.ID, s.ID)
	}
	return got, nil
}

// lastKnown fills an unreachable server's last contact, height and state
// from its last answer.
func (p *Peers) lastKnown(st ServerStatus) ServerStatus {
	p.mu.Lock()
	defer p.mu.Unlock()
	if when, ok := p.when[st.ID]; ok {
		st.LastContact, st.Height, st.RaftState = &when, p.seen[st.ID].Height, p.seen[st.ID].State
	}
	return st
}

func (p *Peers) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}
