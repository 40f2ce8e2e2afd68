package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/certchain/certchain/api"
	"github.com/certchain/certchain/certchain"
	"github.com/certchain/certchain/internal/pki"
	"github.com/certchain/certchain/validator"
)

// answerFunc answers one publish stream of a misbehaving node: given the
// certificates sent (in order) and the number of the stream (0, 1, ...),
// the lines to answer, and whether to end with the summary.
type answerFunc func(sent []string, stream int) (lines []api.StreamLine, complete bool)

// fakeStreamNode is a node whose publish stream answers as told. It
// stands in for a node with a bug (no real node skips or repeats
// answers), to prove that the CLI accounts for every entry whatever the
// answer.
func fakeStreamNode(t *testing.T, answer answerFunc) (url string, streams func() int) {
	t.Helper()
	var mu sync.Mutex
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			return
		}
		var sent []string
		sc := bufio.NewScanner(r.Body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var it api.StreamItem
			if err := json.Unmarshal(sc.Bytes(), &it); err != nil {
				t.Errorf("fake node: %v", err)
			}
			sent = append(sent, it.Certificate)
		}
		mu.Lock()
		lines, complete := answer(sent, n)
		n++
		mu.Unlock()
		enc := json.NewEncoder(w)
		for _, l := range lines {
			_ = enc.Encode(l)
		}
		if complete {
			_ = enc.Encode(api.StreamLine{Summary: &api.StreamSummary{}})
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL, func() int { mu.Lock(); defer mu.Unlock(); return n }
}

func published(i int, certPEM string) api.StreamLine {
	der, _ := validator.DecodePEM([]byte(certPEM))
	return api.StreamLine{StreamResult: api.StreamResult{Index: i, PublishResult: api.PublishResult{ID: certchain.Sum(der).String(), State: api.StatePublished}}}
}

func answerAll(sent []string) []api.StreamLine {
	var out []api.StreamLine
	for i, p := range sent {
		out = append(out, published(i, p))
	}
	return out
}

// TestPublishWhateverTheNodeAnswers: answers are matched to what was sent
// by index; what gets no answer is sent again and, if it never gets one,
// reported as an error; answers that match nothing are ignored.
func TestPublishWhateverTheNodeAnswers(t *testing.T) {
	devs := t.TempDir()
	var pems []string
	for i := range 6 {
		der, _, err := pki.NewDevice(pki.DeviceOptions{NetworkID: "n", CommonName: fmt.Sprintf("F-%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		pems = append(pems, string(pki.EncodeCertPEM(der)))
		writeFile(t, filepath.Join(devs, fmt.Sprintf("F-%d.pem", i)), pki.EncodeCertPEM(der))
	}
	skipped := pems[3]
	tests := []struct {
		name     string
		answer   answerFunc
		wantCode int
		want     string // the summary's counts
		streams  int    // at least this many streams
		also     string // in the report (failures) or the output, when set
	}{
		{"ok/in-order", func(sent []string, _ int) ([]api.StreamLine, bool) { return answerAll(sent), true },
			0, "published 6 new, 0 already on the ledger, 0 rejected (6 entries", 1, ""},
		{"ok/reversed-repeated-and-stray-answers", func(sent []string, _ int) ([]api.StreamLine, bool) {
			lines := answerAll(sent)
			slices.Reverse(lines)
			return append(lines, lines[0], published(99, sent[0]), published(-1, sent[0])), true
		}, 0, "published 6 new, 0 already on the ledger, 0 rejected (6 entries", 1, "warning: the node answered 3 results that match nothing sent"},
		{"ok/cut-off-then-resent", func(sent []string, stream int) ([]api.StreamLine, bool) {
			if stream == 0 {
				return answerAll(sent)[:2], false // the connection ends without a summary
			}
			return answerAll(sent), true
		}, 0, "published 6 new, 0 already on the ledger, 0 rejected (6 entries", 2, ""},
		{"ok/retry-then-published", func(sent []string, stream int) ([]api.StreamLine, bool) {
			lines := answerAll(sent)
			if stream == 0 {
				for i := range lines {
					lines[i].State = api.StateRetry
				}
			}
			return lines, true
		}, 0, "published 6 new, 0 already on the ledger, 0 rejected (6 entries", 2, ""},
		{"fail/one-never-answered", func(sent []string, _ int) ([]api.StreamLine, bool) {
			var lines []api.StreamLine
			for i, p := range sent {
				if p != skipped {
					lines = append(lines, published(i, p))
				}
			}
			return lines, true // a "complete" answer that skipped one
		}, 1, "published 5 new, 0 already on the ledger, 0 rejected, 1 without an answer (6 entries", maxSilent, "F-3.pem\t"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url, streams := fakeStreamNode(t, tt.answer)
			report := filepath.Join(t.TempDir(), "r.tsv")
			code, out := cli(t, t.TempDir(), "publish", devs, "--quiet", "--url", url, "--report", report)
			if code != tt.wantCode || !strings.Contains(out, tt.want) || streams() < tt.streams {
				t.Fatalf("exit %d (want %d) after %d streams:\n%s", code, tt.wantCode, streams(), out)
			}
			if tt.also == "" {
				return
			}
			if b, _ := os.ReadFile(report); tt.wantCode == 0 && !strings.Contains(out, tt.also) || tt.wantCode != 0 && (!strings.Contains(string(b), tt.also) || !strings.Contains(string(b), "no-answer: ")) {
				t.Fatalf("want %q in the output or report:\n%s\n%s", tt.also, out, b)
			}
		})
	}
	t.Run("ok/old-report-removed-foreign-file-kept", func(t *testing.T) {
		url, _ := fakeStreamNode(t, func(sent []string, _ int) ([]api.StreamLine, bool) { return answerAll(sent), true })
		old, mine := filepath.Join(t.TempDir(), "r.tsv"), filepath.Join(t.TempDir(), "notes.tsv")
		writeFile(t, old, []byte(reportHeader+"devs/x.pem\t-\tder: empty file\n"))
		writeFile(t, mine, []byte("my own notes\n"))
		for _, report := range []string{old, mine} {
			if code, out := cli(t, t.TempDir(), "publish", "--quiet", "--url", url, "--report", report, devs); code != 0 {
				t.Fatalf("exit %d\n%s", code, out)
			}
		}
		if _, err := os.Stat(old); !os.IsNotExist(err) {
			t.Fatalf("an earlier run's report is still there: %v", err)
		}
		if b, _ := os.ReadFile(mine); string(b) != "my own notes\n" {
			t.Fatalf("a file that is no report was changed: %q", b)
		}
	})
	t.Run("fail/refused", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/healthz" {
				w.Header().Set("Content-Type", "application/problem+json")
				w.WriteHeader(http.StatusForbidden)
				_ = json.NewEncoder(w).Encode(api.Problem{Type: "urn:certchain:problem:unauthorized", Status: 403, Detail: "not a member"})
			}
		}))
		defer srv.Close()
		report := filepath.Join(t.TempDir(), "r.tsv")
		code, out := cli(t, t.TempDir(), "publish", "--quiet", "--url", srv.URL, "--report", report, devs)
		b, _ := os.ReadFile(report)
		if code != 1 || !strings.Contains(out, "6 without an answer (6 entries") || !strings.Contains(out, "unauthorized (403): not a member") || strings.Count(string(b), "no-answer: ") != 6 {
			t.Fatalf("exit %d\n%s\n%s", code, out, b)
		}
	})
}
