package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/certchain/certchain/certchain"
	"github.com/certchain/certchain/internal/pki"
	"golang.org/x/crypto/ocsp"
)

// BenchmarkOCSPLoad loads the ledger of a real node (fsync on) with 10,000
// and 1,000,000 self-signed certificates, then drives OCSP GETs for random
// certificates over loopback with wrk (64 connections) against the node,
// and in the same run against a bare net/http handler that returns the
// same bytes for the same paths (three interleaved rounds each, medians).
// It reports both throughputs and p99 latencies and their ratios, and the
// node's POST and live-signed nonce throughput. Run it once per size: `make bench` uses
// -benchtime 1x. CERTCHAIN_OCSP_SIZES (e.g. "10000") limits the sizes.
func BenchmarkOCSPLoad(b *testing.B) {
	wrk := requireTool(b, "wrk")
	for _, n := range ocspSizes(b) {
		b.Run(fmt.Sprintf("certs=%d", n), func(b *testing.B) { benchOCSP(b, wrk, n) })
	}
}

func ocspSizes(b *testing.B) []int {
	v := os.Getenv("CERTCHAIN_OCSP_SIZES")
	if v == "" {
		return []int{10_000, 1_000_000}
	}
	var out []int
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(f)
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, n)
	}
	return out
}

// sampleSize bounds the certificates wrk picks from: relying parties ask
// about the devices that connect, and wrk's Lua table must fit in memory.
const sampleSize = 200_000

func benchOCSP(b *testing.B, wrk string, n int) {
	for range b.N { // one measurement per iteration; -benchtime 1x
		dir := b.TempDir()
		a := startBenchApp(b, dir, min(n, sampleSize)+1000)
		ders := loadLedger(b, a, n)
		settle(b, 0)
		for _, ws := range workingSets(n) {
			measure(b, wrk, a.HTTPURL, dir, ders, ws)
		}
		_ = a.Close()
	}
}

// settle waits (at most 5 minutes) until the node is nearly idle: after
// a large load Badger compacts what was just written for a while, and that
// work would fall on whichever server wrk measured first. pid is the
// node's process (0: this one, for an in-process node).
func settle(b *testing.B, pid int) {
	start, prev := time.Now(), cpuTime(pid)
	for time.Since(start) < 5*time.Minute {
		time.Sleep(2 * time.Second)
		cur := cpuTime(pid)
		if cur-prev < 200*time.Millisecond { // under 10 % of one core
			break
		}
		prev = cur
	}
	b.Logf("settled after %v", time.Since(start).Round(time.Second))
}

// cpuTime is the CPU time process pid (0: this one) has used.
func cpuTime(pid int) time.Duration {
	if pid == 0 {
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	st, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// Fields after the command name: state is field 3, utime 14, stime 15,
	// in clock ticks (100 per second on Linux).
	f := strings.Fields(string(st[bytes.LastIndexByte(st, ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+stime) * 10 * time.Millisecond
}

// workingSets are the numbers of distinct certificates wrk asks about:
// 10,000 on every ledger (so ledgers of different sizes are compared on
// the same traffic) and, on a larger ledger, sampleSize too.
func workingSets(n int) []int {
	if n > 10_000 {
		return []int{10_000, min(n, sampleSize)}
	}
	return []int{n}
}

// measure drives wrk over ws random certificates of the ledger and
// reports the node against the bare handler, then POST and nonce rates.
func measure(b *testing.B, wrk, nodeURL, dir string, ders [][]byte, ws int) {
	paths, bodies, posts := warm(b, nodeURL, ders, ws)
	runtime.GC()
	bare := bareServer(b, bodies)
	node, base := alternate(b, wrk, wrkScript(b, dir, "get", paths), nodeURL, bare)
	unit := func(s string) string { return fmt.Sprintf("%s@%dk", s, ws/1000) }
	b.ReportMetric(node.rps, unit("node-req/s"))
	b.ReportMetric(base.rps, unit("bare-req/s"))
	b.ReportMetric(node.rps/base.rps, unit("throughput-ratio"))
	b.ReportMetric(node.p99ms, unit("node-p99-ms"))
	b.ReportMetric(base.p99ms, unit("bare-p99-ms"))
	b.ReportMetric(node.p99ms/base.p99ms, unit("p99-ratio"))
	post := runWrk(b, wrk, wrkScript(b, dir, "post", hexAll(posts)), nodeURL)
	b.ReportMetric(post.rps, unit("post-req/s"))
	nonce := runWrk(b, wrk, wrkScript(b, dir, "post", hexAll(withNonces(b, posts[:min(len(posts), 5000)]))), nodeURL)
	b.ReportMetric(nonce.rps, unit("nonce-req/s"))
}

func startBenchApp(b *testing.B, dir string, cache int) *App {
	cfg := DefaultConfig()
	cfg.DataDir, cfg.HTTPAddr, cfg.HTTPSAddr, cfg.RaftAddr = dir, "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.OCSPCache, cfg.LogLevel = cache, "warn"
	cfg.OCSPNonceRate = 1e9 // sign every nonce request: measure live signing, not the budget
	a := &App{Config: cfg, raftTimeout: 200 * time.Millisecond}
	if err := a.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := a.Node.WaitLeader(ctx); err != nil {
		b.Fatal(err)
	}
	return a
}

// loadLedger makes n device certificates on all cores and publishes them
// in batches of 2,000; it returns their DER.
func loadLedger(b *testing.B, a *App, n int) [][]byte {
	start := time.Now()
	ders := makeDERs(b, a.Network.Genesis.NetworkID, "B-", n)
	made := time.Since(start)
	for lo := 0; lo < n; lo += 2000 {
		txs := make([]certchain.Tx, 0, 2000)
		for _, d := range ders[lo:min(lo+2000, n)] {
			txs = append(txs, certchain.Tx{Type: certchain.TxPublish, Submitter: "vendor", Cert: d})
		}
		res, err := a.Node.Submit(context.Background(), txs)
		if err != nil || res[0].Verdict.Code != certchain.Accepted {
			b.Fatalf("publish: %v %+v", err, res[0])
		}
	}
	b.Logf("%d certificates: made in %v, published in %v (height %d)", n, made.Round(time.Second),
		(time.Since(start) - made).Round(time.Second), a.Node.State().Head().Height)
	return ders
}

// makeDERs makes n device certificates of network on all cores, named
// prefix + index.
func makeDERs(b testing.TB, network, prefix string, n int) [][]byte {
	ders := make([][]byte, n)
	var wg sync.WaitGroup
	workers := runtime.NumCPU()
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				der, _, err := pki.NewDevice(pki.DeviceOptions{NetworkID: network, Organization: "vendor", CommonName: fmt.Sprintf("%s%08d", prefix, i)})
				if err != nil {
					b.Error(err)
					return
				}
				ders[i] = der
			}
		})
	}
	wg.Wait()
	return ders
}

// warm builds a GET path for ws random certificates and asks
// the node once for each (signing and caching it, as relying parties
// would); it returns the paths, the bytes the node answered, and the DER
// requests (for POST).
func warm(b *testing.B, nodeURL string, ders [][]byte, ws int) ([]string, map[string][]byte, [][]byte) {
	r := rand.New(rand.NewPCG(1, 2))
	paths, bodies, reqs := []string{}, map[string][]byte{}, [][]byte{}
	for _, i := range r.Perm(len(ders))[:min(len(ders), ws)] {
		c, err := x509.ParseCertificate(ders[i])
		if err != nil {
			b.Fatal(err)
		}
		req, err := ocsp.CreateRequest(c, c, &ocsp.RequestOptions{Hash: crypto.SHA1})
		if err != nil {
			b.Fatal(err)
		}
		p := "/ocsp/" + url.PathEscape(base64.StdEncoding.EncodeToString(req))
		paths, reqs = append(paths, p), append(reqs, req)
		bodies[p] = httpGet(b, nodeURL+p)
	}
	return paths, bodies, reqs
}

// withNonces adds an RFC 8954 nonce extension to each request (x/crypto
// cannot): the node must sign each answer afresh.
func withNonces(b *testing.B, reqs [][]byte) [][]byte {
	type tbs struct {
		Version       int           `asn1:"explicit,tag:0,default:0,optional"`
		RequestorName asn1.RawValue `asn1:"explicit,tag:1,optional"`
		RequestList   []asn1.RawValue
		Extensions    []pkix.Extension `asn1:"explicit,tag:2,optional"`
	}
	var out [][]byte
	for i, der := range reqs {
		var req struct{ TBS tbs }
		if _, err := asn1.Unmarshal(der, &req); err != nil {
			b.Fatal(err)
		}
		nonce, _ := asn1.Marshal([]byte(fmt.Sprintf("nonce-%012d", i)))
		req.TBS.Extensions = []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 2}, Value: nonce}}
		enc, err := asn1.Marshal(req)
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, enc)
	}
	return out
}

func hexAll(bs [][]byte) []string {
	out := make([]string, len(bs))
	for i, x := range bs {
		out[i] = hex.EncodeToString(x)
	}
	return out
}

// bareServer serves the same bytes for the same paths with the same
// content type: the ceiling of any Go HTTP handler on this machine.
func bareServer(b *testing.B, bodies map[string][]byte) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	s := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := bodies[r.URL.RawPath]
		if body == nil {
			body = bodies[r.URL.Path]
		}
		h := w.Header()
		h.Set("Content-Type", "application/ocsp-response")
		h.Set("Cache-Control", "max-age=1800, public, no-transform, must-revalidate")
		h.Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body)
	})}
	go s.Serve(ln)
	b.Cleanup(func() { s.Close() })
	return "http://" + ln.Addr().String()
}

// wrkScript writes a Lua script that sends a random line of lines: a GET
// of the path (kind "get"), or a POST to /ocsp of the hex-encoded request
// (kind "post").
func wrkScript(b *testing.B, dir, kind string, lines []string) string {
	list := filepath.Join(dir, kind+".txt")
	if err := os.WriteFile(list, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	script := filepath.Join(dir, kind+".lua")
	lua := `items = {}
for line in io.lines("` + list + `") do items[#items + 1] = line end
math.randomseed(os.time())
`
	if kind == "get" {
		lua += `request = function() return wrk.format("GET", items[math.random(#items)]) end
`
	} else {
		lua += `for i, h in ipairs(items) do items[i] = h:gsub("..", function(cc) return string.char(tonumber(cc, 16)) end) end
headers = {["Content-Type"] = "application/ocsp-request"}
request = function() return wrk.format("POST", "/ocsp", headers, items[math.random(#items)]) end
`
	}
	if err := os.WriteFile(script, []byte(lua), 0o600); err != nil {
		b.Fatal(err)
	}
	return script
}

type wrkResult struct{ rps, p99ms float64 }

// alternate measures the node and the bare handler three times each,
// interleaved, so that background work of the machine (Badger compacting
// what was just loaded, the other tenant of a shared host) falls on both,
// and returns the medians.
func alternate(b *testing.B, wrk, script, node, bare string) (wrkResult, wrkResult) {
	var n, r []wrkResult
	for range 3 {
		n = append(n, runWrk(b, wrk, script, node))
		r = append(r, runWrk(b, wrk, script, bare))
	}
	return median(n), median(r)
}

func median(rs []wrkResult) wrkResult {
	rps, p99 := make([]float64, len(rs)), make([]float64, len(rs))
	for i, r := range rs {
		rps[i], p99[i] = r.rps, r.p99ms
	}
	slices.Sort(rps)
	slices.Sort(p99)
	return wrkResult{rps: rps[len(rs)/2], p99ms: p99[len(rs)/2]}
}

var (
	reqsRe = regexp.MustCompile(`Requests/sec:\s+([\d.]+)`)
	p99Re  = regexp.MustCompile(`\s99%\s+([\d.]+)(us|ms|s)`)
)

// runWrk drives 64 connections on 2 threads for 10 s and parses wrk's
// throughput and 99th percentile latency.
func runWrk(b *testing.B, wrk, script, base string) wrkResult {
	out, err := exec.Command(wrk, "-t2", "-c64", "-d10s", "--latency", "-s", script, base).CombinedOutput()
	if err != nil {
		b.Fatalf("wrk: %v\n%s", err, out)
	}
	rps, p99 := reqsRe.FindSubmatch(out), p99Re.FindSubmatch(out)
	if rps == nil || p99 == nil || strings.Contains(string(out), "Non-2xx") {
		b.Fatalf("wrk output:\n%s", out)
	}
	r, _ := strconv.ParseFloat(string(rps[1]), 64)
	l, _ := strconv.ParseFloat(string(p99[1]), 64)
	l *= map[string]float64{"us": 0.001, "ms": 1, "s": 1000}[string(p99[2])]
	b.Logf("%s: %.0f req/s, p99 %.2f ms", base, r, l)
	return wrkResult{rps: r, p99ms: l}
}
