// Package faultproxy is an HTTP proxy that sits between an AWS SDK client and
// an emulator (kinesis-local, dynalite) and injects the faults real AWS
// services show: throttling and 5xx answers in the service's own error shape,
// latency, connection resets, black holes (the request is accepted and never
// answered) and ambiguous timeouts (the request reaches the service and takes
// effect, but the answer never comes back).
//
// The proxy reads each request whole before it decides, and always reads the
// emulator's answer whole, so the emulator never sees a request cut off
// (dynalite crashes on one); faults are only ever seen by the client.
// Rules match the operation (the X-Amz-Target header's action, e.g.
// "PutRecords", "UpdateItem", "UpdateService", or the query protocol's Action,
// e.g. "PutMetricData") and, optionally, a string in the body. Throttling and
// 5xx answers take each service's shape: Kinesis and DynamoDB
// ProvisionedThroughputExceededException, ECS ThrottlingException /
// ServerException, CloudWatch (query protocol, XML) Throttling /
// InternalServiceError.
package faultproxy

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Fault is what the proxy does to a matching request.
type Fault int

// The faults.
const (
	// Throttle answers 400 with the service's throttling error
	// (ProvisionedThroughputExceededException), without forwarding.
	Throttle Fault = iota + 1
	// ServerError answers 500 InternalFailure (Kinesis) or
	// InternalServerError (DynamoDB), without forwarding.
	ServerError
	// Latency forwards after Rule.Delay.
	Latency
	// Reset closes the client's connection with a TCP reset, without forwarding.
	Reset
	// BlackHole never answers and never forwards; the connection stays open
	// until the client gives up.
	BlackHole
	// Ambiguous forwards (the request takes effect) and then never answers.
	Ambiguous
)

// String names the fault as the fault table does.
func (f Fault) String() string {
	switch f {
	case Throttle:
		return "throttle"
	case ServerError:
		return "5xx"
	case Latency:
		return "latency"
	case Reset:
		return "reset"
	case BlackHole:
		return "black hole"
	case Ambiguous:
		return "ambiguous timeout"
	}
	return "none"
}

// Rule injects Fault into requests of operation Op ("" = any) whose body
// contains BodyContains ("" = any): every Every-th match (0 or 1: each one),
// at most Limit times (0: no limit).
type Rule struct {
	Op           string
	BodyContains string
	Fault        Fault
	Every        int
	Limit        int
	Delay        time.Duration // for Latency
}

// Proxy is a running fault-injecting proxy on 127.0.0.1.
type Proxy struct {
	upstream string
	client   *http.Client
	srv      *http.Server
	ln       net.Listener

	mu       sync.Mutex
	rules    []*ruleState
	injected map[Fault]int
	requests map[string]int         // by operation
	answers  map[string]map[int]int // forwarded requests by operation and the service's status code
	holds    chan struct{}          // closed by Close: ends every black hole
}

type ruleState struct {
	Rule
	matched, applied int
}

// New starts a proxy in front of upstream (e.g. "http://127.0.0.1:4569").
func New(upstream string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen for the fault proxy: %w", err)
	}
	p := &Proxy{
		upstream: strings.TrimRight(upstream, "/"), ln: ln,
		client:   &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}},
		injected: map[Fault]int{}, requests: map[string]int{}, answers: map[string]map[int]int{}, holds: make(chan struct{}),
	}
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go p.srv.Serve(ln)
	return p, nil
}

// URL is the proxy's endpoint, for the SDK's BaseEndpoint.
func (p *Proxy) URL() string { return "http://" + p.ln.Addr().String() }

// Set replaces the rules; the first matching rule that has not reached its
// limit decides (to inject, or, between its every-n-th matches, not to).
func (p *Proxy) Set(rules ...Rule) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules = nil
	for _, r := range rules {
		p.rules = append(p.rules, &ruleState{Rule: r})
	}
}

// Clear removes every rule: requests pass through.
func (p *Proxy) Clear() { p.Set() }

// Injected returns how many times each fault was injected so far.
func (p *Proxy) Injected() map[Fault]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[Fault]int, len(p.injected))
	for f, n := range p.injected {
		out[f] = n
	}
	return out
}

// Requests returns how many requests of op the proxy received.
func (p *Proxy) Requests(op string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.requests[op]
}

// Upstream returns, for the requests of op the proxy forwarded, how many the
// service answered with each status code — whether or not the client got
// the answer (an ambiguous timeout's request counts: it took effect).
func (p *Proxy) Upstream(op string) map[int]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[int]int, len(p.answers[op]))
	for code, n := range p.answers[op] {
		out[code] = n
	}
	return out
}

// Close stops the proxy and ends the black holes.
func (p *Proxy) Close() {
	close(p.holds)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = p.srv.Shutdown(ctx)
	_ = p.srv.Close()
}

// operation is the action of a request: for the JSON protocols (Kinesis,
// DynamoDB, ECS) the part of X-Amz-Target after the dot, for the query
// protocol (CloudWatch) the Action form field.
func operation(r *http.Request, body []byte) string {
	if t := r.Header.Get("X-Amz-Target"); t != "" {
		if i := strings.LastIndexByte(t, '.'); i >= 0 {
			return t[i+1:]
		}
		return t
	}
	if isQuery(r) {
		if v, err := url.ParseQuery(string(body)); err == nil {
			return v.Get("Action")
		}
	}
	return ""
}

func isQuery(r *http.Request) bool {
	return strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded")
}

func (p *Proxy) decide(op string, body []byte) (Rule, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.requests[op]++
	for _, r := range p.rules {
		if (r.Op != "" && r.Op != op) || (r.BodyContains != "" && !bytes.Contains(body, []byte(r.BodyContains))) {
			continue
		}
		if r.Limit > 0 && r.applied >= r.Limit {
			continue // spent: the next rule may apply
		}
		r.matched++
		if r.Every > 1 && r.matched%r.Every != 0 {
			return Rule{}, false
		}
		r.applied++
		p.injected[r.Fault]++
		return r.Rule, true
	}
	return Rule{}, false
}

func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return // the client went away mid-request: nothing reaches upstream
	}
	plain := body                                   // for matching; what is forwarded is body, untouched
	if r.Header.Get("Content-Encoding") == "gzip" { // CloudWatch compresses PutMetricData
		if zr, err := gzip.NewReader(bytes.NewReader(body)); err == nil {
			if b, err := io.ReadAll(zr); err == nil {
				plain = b
			}
		}
	}
	op := operation(r, plain)
	rule, hit := p.decide(op, plain)
	switch {
	case !hit:
	case rule.Fault == Throttle:
		code := "ThrottlingException" // ECS and most JSON services
		switch {
		case isQuery(r):
			code = "Throttling" // CloudWatch
		case isDynamoDB(r) || strings.HasPrefix(r.Header.Get("X-Amz-Target"), "Kinesis"):
			code = "ProvisionedThroughputExceededException"
		}
		p.awsError(w, r, http.StatusBadRequest, code, "Rate exceeded (injected by faultproxy)")
		return
	case rule.Fault == ServerError:
		code := "InternalFailure"
		switch {
		case isDynamoDB(r):
			code = "InternalServerError"
		case strings.HasPrefix(r.Header.Get("X-Amz-Target"), "AmazonEC2ContainerService"):
			code = "ServerException"
		case isQuery(r):
			code = "InternalServiceError" // CloudWatch
		}
		p.awsError(w, r, http.StatusInternalServerError, code, "injected by faultproxy")
		return
	case rule.Fault == Latency:
		select {
		case <-time.After(rule.Delay):
		case <-r.Context().Done():
			return
		}
	case rule.Fault == Reset:
		p.reset(w)
		return
	case rule.Fault == BlackHole:
		p.hold(r)
		return
	}
	resp, err := p.forward(r, body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	p.mu.Lock()
	if p.answers[op] == nil {
		p.answers[op] = map[int]int{}
	}
	p.answers[op][resp.status]++
	p.mu.Unlock()
	if hit && rule.Fault == Ambiguous {
		p.hold(r) // it took effect; the answer is lost
		return
	}
	for k, vs := range resp.header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.WriteHeader(resp.status)
	_, _ = w.Write(resp.body)
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

// forward sends the request upstream and reads the whole answer, whatever the
// client does meanwhile.
func (p *Proxy) forward(r *http.Request, body []byte) (answer, error) {
	req, err := http.NewRequestWithContext(context.WithoutCancel(r.Context()), r.Method, p.upstream+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return answer{}, err
	}
	req.Header = r.Header.Clone()
	req.Host = r.Host
	resp, err := p.client.Do(req)
	if err != nil {
		return answer{}, fmt.Errorf("faultproxy: upstream: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{}, fmt.Errorf("faultproxy: read upstream answer: %w", err)
	}
	return answer{resp.StatusCode, resp.Header, b}, nil
}

func isDynamoDB(r *http.Request) bool {
	return strings.HasPrefix(r.Header.Get("X-Amz-Target"), "DynamoDB")
}

// awsError answers in the protocol's error shape (JSON, or the query
// protocol's XML), which the SDK maps to the service's typed errors.
func (p *Proxy) awsError(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	if isQuery(r) {
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(status)
		fmt.Fprintf(w, `<ErrorResponse><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>faultproxy</RequestId></ErrorResponse>`, code, msg)
		return
	}
	ctype, typ := "application/x-amz-json-1.1", code
	if isDynamoDB(r) {
		ctype, typ = "application/x-amz-json-1.0", "com.amazonaws.dynamodb.v20120810#"+code
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("X-Amzn-ErrorType", code)
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"__type":%q,"message":%q}`, typ, msg)
}

// reset closes the connection with RST instead of FIN.
func (p *Proxy) reset(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// hold keeps the request unanswered until the client gives up or the proxy
// closes.
func (p *Proxy) hold(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-p.holds:
	}
}
