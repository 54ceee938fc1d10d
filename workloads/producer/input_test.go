package producer

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kdp-io/streamprocessor-operator/workloads/consumer"
	"github.com/kdp-io/streamprocessor-operator/workloads/kcl"
)

// TestInvalidUTF8IsRejected pins the one rule: a record whose JSON text holds
// invalid UTF-8 is refused, whether or not its string has escapes (before, the
// bytes were kept raw without an escape and replaced by U+FFFD with one).
func TestInvalidUTF8IsRejected(t *testing.T) {
	f := newFakeKinesis(1)
	h, _ := newTestHandler(t, testConfig(), f)
	for name, c := range map[string]struct{ path, ctype, body string }{
		"raw data":            {"/", js, "{\"data\":\"a\xffb\",\"partitionKey\":\"u\"}"},
		"data with an escape": {"/", js, "{\"data\":\"a\\n\xffb\",\"partitionKey\":\"u\"}"},
		"partition key":       {"/", js, "{\"data\":\"a\",\"partitionKey\":\"u\xc3\"}"},
		"object data":         {"/", js, "{\"data\":{\"k\":\"\xfe\"},\"partitionKey\":\"u\"}"},
	} {
		t.Run(name, func(t *testing.T) {
			w := do(h, "POST", c.path, c.ctype, c.body)
			if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "not valid UTF-8") {
				t.Fatalf("status %d body %s, want 400 not valid UTF-8", w.Code, w.Body)
			}
		})
	}
	w := do(h, "POST", "/records", "application/x-ndjson", "{\"data\":\"ok\",\"partitionKey\":\"u\"}\n{\"data\":\"\xff\",\"partitionKey\":\"u\"}\n")
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"rejected":1`) || !strings.Contains(w.Body.String(), "not valid UTF-8") {
		t.Fatalf("batch: status %d body %s, want the invalid record rejected alone", w.Code, w.Body)
	}
	if got := userRecordsWithKey(t, f, "u"); len(got) != 1 || got[0] != "ok" {
		t.Fatalf("stored %q, want only the valid record", got)
	}
}

// TestBase64BinaryRoundTrip: binary data sent as base64 with
// "encoding":"base64" is stored as its bytes, and the consumer's output line
// gives the same bytes back (base64 with "base64":true when not UTF-8, text
// otherwise).
func TestBase64BinaryRoundTrip(t *testing.T) {
	f := newFakeKinesis(1)
	h, _ := newTestHandler(t, testConfig(), f)
	rng := rand.New(rand.NewPCG(1, 2))
	payloads := [][]byte{{0xff, 0x00, 0xfe}, {0xf3, 0x89, 0x9a, 0xc2, 1, 2}, []byte("plain text é"), {}}
	for i := 0; i < 20; i++ {
		p := make([]byte, rng.IntN(2000))
		for j := range p {
			p[j] = byte(rng.Uint32())
		}
		payloads = append(payloads, p)
	}
	for i, p := range payloads {
		key := fmt.Sprintf("bin%d", i)
		body := fmt.Sprintf(`{"data":%q,"encoding":"base64","partitionKey":%q}`, base64.StdEncoding.EncodeToString(p), key)
		if w := do(h, "POST", "/", js, body); w.Code != http.StatusOK {
			t.Fatalf("payload %d: %d %s", i, w.Code, w.Body)
		}
		got := userRecordsWithKey(t, f, key)
		if len(got) != 1 || got[0] != string(p) {
			t.Fatalf("payload %d stored %q, want %q", i, got, p)
		}
		line := consumer.LineOf(consumer.Record{ShardID: "s", Record: kcl.Record{PartitionKey: key, Data: []byte(got[0])}})
		back := []byte(line.Data)
		if line.Base64 {
			var err error
			if back, err = base64.StdEncoding.DecodeString(line.Data); err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(back, p) {
			t.Fatalf("payload %d: consumer line %+v gives %q, want %q", i, line, back, p)
		}
	}
	for body, want := range map[string]string{
		`{"data":"AAA*","encoding":"base64"}`: "not valid base64",
		`{"data":12,"encoding":"base64"}`:     "must be a string",
		`{"data":"AA==","encoding":"hex"}`:    `\"encoding\" must be \"base64\"`,
	} {
		if w := do(h, "POST", "/", js, body); w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), want) {
			t.Errorf("%s: status %d body %s, want 400 %q", body, w.Code, w.Body, want)
		}
	}
}

// TestSlowBodyAttack: a client that sends its headers and part of its body,
// then stalls, holds its admission only until the body deadline (408), while
// health checks are served and other requests get 429 instead of waiting.
func TestSlowBodyAttack(t *testing.T) {
	cfg := testConfig()
	cfg.MaxRequestBytes = 4096
	cfg.MaxInflightBytes = 4096
	cfg.BodyReadTimeout = 3 * time.Second // long enough for the checks below on a loaded machine
	cfg.MinBodyRate = 4096
	f := newFakeKinesis(1)
	h, _ := newTestHandler(t, cfg, f)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: ReadHeaderTimeout}
	go srv.Serve(ln)
	defer srv.Close()
	base := "http://" + ln.Addr().String()

	slow, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	fmt.Fprintf(slow, "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 4096\r\n\r\n{\"data\":\"")
	// Wait until the slow request holds the whole budget.
	for deadline := time.Now().Add(5 * time.Second); ; {
		if gaugeValue(h.metrics.inflightBodyBytes) == 4096 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the slow request was never admitted")
		}
		time.Sleep(5 * time.Millisecond)
	}
	resp, err := http.Get(base + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("health check during the slow body: %v %v", resp, err)
	}
	resp.Body.Close()
	resp, err = http.Post(base+"/", js, strings.NewReader(`{"data":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("request while the budget is held: %d, want 429", resp.StatusCode)
	}
	r, err := http.ReadResponse(bufio.NewReader(slow), nil)
	if err != nil {
		t.Fatalf("the slow request got no answer: %v", err)
	}
	io.Copy(io.Discard, r.Body)
	if r.StatusCode != http.StatusRequestTimeout {
		t.Fatalf("slow request: %d, want 408", r.StatusCode)
	}
	resp, err = http.Post(base+"/", js, strings.NewReader(`{"data":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("request after the slow one ended: %d, want 200", resp.StatusCode)
	}
}
