package api

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certchain/certchain/validator"
	"github.com/certchain/certchain/validator/validatortest"
)

// requireTool returns the path of a command the test needs; a missing one
// fails the test (`make tools` installs it), never skips it.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is needed (make tools installs it): %v", name, err)
	}
	return p
}

// curlAnswer is what curl saw of one exchange.
type curlAnswer struct {
	status      string // final status code
	body        []byte
	trace       string // curl -v's stderr
	continue100 bool   // the node sent "100 Continue"
}

// curl runs curl against the node as member with args (the body and
// headers), and returns what it saw.
func (tn *testNode) curl(t *testing.T, member, path string, args ...string) curlAnswer {
	t.Helper()
	ca, cert, key := tn.files(t, member)
	out := filepath.Join(t.TempDir(), "answer")
	base := []string{"-sS", "-v", "--cacert", ca, "--cert", cert, "--key", key, "-o", out, "-w", "%{http_code}",
		"--expect100-timeout", "30"} // a missing 100 Continue would stall the test, not pass it after 1 s
	cmd := exec.Command(requireTool(t, "curl"), append(append(base, args...), tn.ts.URL+path)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("curl %v: %v\n%s", args, err, stderr.String())
	}
	body, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return curlAnswer{status: stdout.String(), body: body, trace: stderr.String(),
		continue100: strings.Contains(stderr.String(), "< HTTP/1.1 100 Continue")}
}

// writeTemp writes b to a file and returns its path.
func writeTemp(t *testing.T, b []byte) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "body")
	if err := os.WriteFile(f, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestCurlEdges drives the node with real curl, with and without
// "Expect: 100-continue", fixed-length and chunked: a stream gets its
// 100 Continue at once; an oversized first entry of a stream is an answer
// the client reads (a rejected result line, or a 413 problem before any
// 200); a body over the limit of a single-transaction endpoint is a 413
// problem, sent before 100 Continue when its Content-Length says so.
func TestCurlEdges(t *testing.T) {
	tn := startNode(t, func(s *Server) { s.Limits.PublishBody = 256 << 10 })
	net := tn.net
	pemOf := func(n int) []byte {
		var b []byte
		for range n {
			b = append(b, net.SelfSigned(t).PEM()...)
		}
		return b
	}
	line := func(pem []byte) string {
		b, _ := json.Marshal(StreamItem{Certificate: string(pem)})
		return string(b) + "\n"
	}
	hugeLine := `{"certificate":"` + strings.Repeat("A", 3*maxStreamLine) + `"}` + "\n"
	// Blank lines pad a valid stream past curl's 1 MiB threshold for Expect.
	padded := append(append(pemOf(1), bytes.Repeat([]byte("\n"), 1<<20)...), pemOf(1)...)
	over := append(pemOf(1), bytes.Repeat([]byte(" "), 300<<10)...) // over PublishBody (256 KiB)
	expect, noExpect, chunked := []string{"-H", "Expect: 100-continue"}, []string{"-H", "Expect:"}, []string{"-H", "Transfer-Encoding: chunked"}
	pemType, ndjsonType := []string{"-H", "Content-Type: application/x-pem-file"}, []string{"-H", "Content-Type: application/x-ndjson"}
	type want struct {
		status      string
		continue100 bool
		problem     string // problem type of a non-200
		results     string // states of a stream's result lines, in order
	}
	for _, tc := range []struct {
		name string
		path string
		args [][]string
		body []byte
		want want
	}{
		{"stream/expect-valid", "/v1/certificates/stream", [][]string{pemType, expect}, pemOf(2), want{"200", true, "", "published published"}},
		{"stream/expect-default-over-1MiB", "/v1/certificates/stream", [][]string{pemType}, padded, want{"200", true, "", "published published"}},
		{"stream/expect-chunked", "/v1/certificates/stream", [][]string{pemType, expect, chunked}, pemOf(1), want{"200", true, "", "published"}},
		{"stream/no-expect", "/v1/certificates/stream", [][]string{pemType, noExpect}, pemOf(1), want{"200", false, "", "published"}},
		{"stream/oversized-first-line-is-a-result", "/v1/certificates/stream", [][]string{ndjsonType, expect},
			[]byte(hugeLine + line(net.SelfSigned(t).PEM())), want{"200", true, "", "rejected published"}},
		{"stream/oversized-first-text-is-413", "/v1/certificates/stream", [][]string{pemType, expect},
			[]byte(strings.Repeat("x", 3*maxStreamLine) + "\n"), want{"413", true, problemBase + "too-large", ""}},
		{"publish/over-limit-expect-413-before-100", "/v1/certificates", [][]string{pemType, expect}, over, want{"413", false, problemBase + "too-large", ""}},
		{"publish/over-limit-no-expect-413", "/v1/certificates", [][]string{pemType, noExpect}, over, want{"413", false, problemBase + "too-large", ""}},
		{"publish/over-limit-chunked-413", "/v1/certificates", [][]string{pemType, expect, chunked}, over, want{"413", true, problemBase + "too-large", ""}},
		{"publish/under-limit-expect", "/v1/certificates", [][]string{pemType, expect}, pemOf(1), want{"200", true, "", ""}},
		{"revoke/over-limit-expect-413-before-100", "/v1/certificates/" + strings.Repeat("ab", 32) + "/revoke",
			[][]string{{"-H", "Content-Type: application/json"}, expect}, bytes.Repeat([]byte(" "), 100<<10), want{"413", false, problemBase + "too-large", ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"--data-binary", "@" + writeTemp(t, tc.body)}
			for _, a := range tc.args {
				args = append(args, a...)
			}
			got := tn.curl(t, validatortest.Vendor, tc.path, args...)
			if got.status != tc.want.status || got.continue100 != tc.want.continue100 {
				t.Fatalf("status %s, 100 Continue %v; want %s, %v\n%s\n%s", got.status, got.continue100, tc.want.status, tc.want.continue100, got.trace, got.body)
			}
			if strings.Contains(got.trace, "Done waiting for 100-continue") {
				t.Fatalf("curl waited for a 100 Continue that never came:\n%s", got.trace)
			}
			if tc.want.problem != "" {
				if p := decodeProblem(t, got.body); p.Type != tc.want.problem {
					t.Fatalf("problem %s, want %s", p.Type, tc.want.problem)
				}
			}
			if tc.want.results != "" {
				if states := streamStates(t, got.body); states != tc.want.results {
					t.Fatalf("result states %q, want %q:\n%s", states, tc.want.results, got.body)
				}
			}
		})
	}
}

// streamStates returns the states of a stream answer's result lines,
// checking that it ends with its summary and that rejections name a rule.
func streamStates(t *testing.T, body []byte) string {
	t.Helper()
	var states []string
	sc := bufio.NewScanner(bytes.NewReader(body))
	var last StreamLine
	for sc.Scan() {
		if err := DecodeStreamLine(sc.Bytes(), &last); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		if last.Summary == nil && last.Error == nil {
			states = append(states, last.State)
			if last.State == StateRejected && !strings.HasPrefix(last.Reason, validator.RuleDER+": ") {
				t.Fatalf("rejection %q", last.Reason)
			}
		}
	}
	if last.Summary == nil {
		t.Fatalf("no summary line:\n%s", body)
	}
	return strings.Join(states, " ")
}
