package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"
)

// procCluster is three `certchain node` processes sharing one development
// network: node1 founds the cluster, node2 and node3 join it over mutual
// TLS as the admin.
type procCluster struct {
	t       testing.TB
	bin     string
	dirs    []string
	procs   []*exec.Cmd
	started []bool
	extra   []string // flags every node starts (and restarts) with
}

func startProcCluster(t testing.TB) *procCluster { return startProcClusterWith(t) }

// startProcClusterWith starts the cluster with extra flags on every node.
func startProcClusterWith(t testing.TB, extra ...string) *procCluster {
	c := &procCluster{t: t, bin: buildBinary(t), extra: extra}
	for range 3 {
		c.dirs = append(c.dirs, t.TempDir())
	}
	c.procs, c.started = make([]*exec.Cmd, 3), make([]bool, 3)
	c.start(0)
	c.start(1)
	c.start(2)
	return c
}

func (c *procCluster) start(i int) {
	args := append([]string{"--id", "node" + string(rune('1'+i))}, c.extra...)
	if i > 0 || c.started[0] { // everyone but the founder's first start joins
		args = append(args, "--network", filepath.Join(c.dirs[0], "network"), "--join", c.url(c.anyRunning(i)))
	}
	c.procs[i] = startProcess(c.t, c.bin, c.dirs[i], args...)
	c.started[i] = true
}

func (c *procCluster) anyRunning(except int) int {
	for i, p := range c.procs {
		if i != except && p != nil {
			return i
		}
	}
	c.t.Fatal("no running node to join")
	return -1
}

func (c *procCluster) url(i int) string { return readProfileURL(c.t, c.dirs[i]) }

// readURL is node i's plain-HTTP listener (reads, OCSP).
func (c *procCluster) readURL(i int) string { return readProfileReadURL(c.t, c.dirs[i]) }

// readProfileReadURL is the plain-HTTP URL in dir's client profile.
func readProfileReadURL(t testing.TB, dir string) string {
	b, err := os.ReadFile(clientFile(dir))
	if err != nil {
		t.Fatal(err)
	}
	var p clientProfile
	if err := json.Unmarshal(b, &p); err != nil || p.ReadURL == "" {
		t.Fatalf("read URL of %s: %v", dir, err)
	}
	return p.ReadURL
}

// eventually polls ok for up to 10 s.
func (c *procCluster) eventually(ok func() bool, format string, args ...any) {
	c.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !ok(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			c.t.Fatalf("timed out: "+format, args...)
		}
	}
}

func (c *procCluster) kill(i int) {
	_ = c.procs[i].Process.Signal(syscall.SIGKILL)
	_ = c.procs[i].Wait()
	c.procs[i] = nil
}

// leader asks node i which node leads, until it names one (an election
// may be under way on a loaded machine).
func (c *procCluster) leader(i int) int {
	c.t.Helper()
	leader, last := -1, &strings.Builder{}
	c.eventually(func() bool {
		_, out := cli(c.t, c.dirs[i], "cluster", "status")
		last.Reset()
		last.WriteString(out)
		for _, line := range strings.Split(out, "\n") {
			if f := strings.Fields(line); len(f) > 1 && f[1] == "leader" && strings.HasPrefix(f[0], "node") {
				leader = int(f[0][len("node")] - '1')
				return true
			}
		}
		return false
	}, "node%d names no leader; last answer:\n%s", i+1, last)
	return leader
}

// statusRow is one server's line of `certchain cluster status`.
type statusRow struct{ role, reachable, contact, height string }

// status runs `cluster status` on node i and returns its rows by node ID.
// It exits 0 when every node is reachable and 2 when one is not.
func (c *procCluster) status(i int) (map[string]statusRow, string) {
	c.t.Helper()
	code, out := cli(c.t, c.dirs[i], "cluster", "status")
	if down := strings.Contains(out, "unreachable:"); code != map[bool]int{false: 0, true: 2}[down] {
		c.t.Fatalf("cluster status on node%d: exit %d with unreachable nodes %v:\n%s", i+1, code, down, out)
	}
	rows := map[string]statusRow{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 6 || !strings.HasPrefix(f[0], "node") {
			continue
		}
		r := statusRow{role: f[1], reachable: f[2], contact: f[3], height: f[4]}
		if f[4] == "ago" {
			r.contact, r.height = f[3]+" ago", f[5]
		}
		rows[f[0]] = r
	}
	return rows, out
}

func (c *procCluster) compare(nodes ...int) string {
	args := []string{"ledger", "compare"}
	for _, i := range nodes {
		args = append(args, c.url(i))
	}
	return mustCLI(c.t, c.dirs[nodes[0]], args...)
}

func TestProcessClusterJoinForwardFailover(t *testing.T) {
	c := startProcCluster(t)
	seen := &strings.Builder{} // the last status seen, for the failure message
	for i := range 3 {
		c.eventually(func() bool { // every node answers node i's probe, at the same height
			rows, out := c.status(i)
			seen.Reset()
			seen.WriteString(out)
			h := rows["node1"].height
			for k, id := range []string{"node1", "node2", "node3"} {
				if r := rows[id]; r.reachable != "yes" || r.height != h || (k != i && r.contact != "now") {
					return false
				}
			}
			return strings.Contains(out, "3 of 3 nodes reachable")
		}, "cluster status on node%d with three reachable nodes; last:\n%s", i+1, seen)
	}
	leader := c.leader(0)
	follower := (leader + 1) % 3
	devs := filepath.Join(t.TempDir(), "devs")
	mustCLI(t, c.dirs[follower], "device", "new", "--count", "20", "--out", devs)
	if out := mustCLI(t, c.dirs[follower], "publish", "--quiet", "--retry-for", "60s", devs); !strings.Contains(out, "published 20 new") {
		t.Fatalf("publish through a follower: %s", out)
	}
	if out := c.compare(0, 1, 2); !strings.Contains(out, "agree") {
		t.Fatalf("compare:\n%s", out)
	}
	// Every validator gives the relying party the same OCSP answer.
	dev := filepath.Join(devs, "DEV-0000007.pem")
	mustCLI(t, c.dirs[follower], "suspend", dev)
	for i := range 3 {
		c.eventually(func() bool {
			r := ocspAnswer(t, c.readURL(i)+"/ocsp", dev, filepath.Join(c.dirs[0], "network", "ca.pem"))
			return r.Status == ocsp.Revoked && r.RevocationReason == ocsp.CertificateHold
		}, "node%d: OCSP revoked/certificateHold", i+1)
	}
	c.kill(leader)
	survivor := (leader + 2) % 3
	dead := fmt.Sprintf("node%d", leader+1)
	c.eventually(func() bool { // the dead voter is not shown as healthy
		rows, out := c.status(survivor)
		seen.Reset()
		seen.WriteString(out)
		r := rows[dead]
		return r.reachable == "NO" && strings.HasSuffix(r.contact, " ago") && r.role != "leader" &&
			strings.Contains(out, "2 of 3 nodes reachable; unreachable: "+dead)
	}, "cluster status on node%d showing %s unreachable; last:\n%s", survivor+1, dead, seen)
	more := filepath.Join(t.TempDir(), "more")
	mustCLI(t, c.dirs[survivor], "device", "new", "--count", "10", "--prefix", "AFTER-", "--out", more)
	if out := mustCLI(t, c.dirs[survivor], "publish", "--quiet", "--retry-for", "60s", more); !strings.Contains(out, "published 10 new") {
		t.Fatalf("publish after killing the leader: %s", out)
	}
	if out := c.compare(follower, survivor); !strings.Contains(out, "agree") {
		t.Fatalf("survivors:\n%s", out)
	}
	head := strings.Fields(mustCLI(t, c.dirs[survivor], "ledger", "head"))[0]
	c.start(leader) // restarts on its data directory and re-joins with its new addresses
	last := filepath.Join(more, "AFTER-0000010.pem")
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, out := cli(t, c.dirs[leader], "status", "--min-height", head, last)
		if code == 0 && strings.Contains(out, " good") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("restarted node did not catch up to height %s: %s", head, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if out := c.compare(0, 1, 2); !strings.Contains(out, "agree") {
		t.Fatalf("after restart:\n%s", out)
	}
}
