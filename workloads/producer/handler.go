package producer

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Limits of the HTTP contract.
const (
	// MaxPartitionKeyLen is Kinesis's limit on a partition key, in Unicode characters.
	MaxPartitionKeyLen = 256
	// MaxRecordsPerRequest bounds the records of one POST /records.
	MaxRecordsPerRequest = 10000
)

// Handler serves the producer's HTTP contract (docs/producer.md):
//
//	POST /          one record {"data": ..., "partitionKey": ...}
//	POST /records   a JSON array or NDJSON of such records, a result per record
//	GET  /healthcheck, /healthz   liveness (always 200 while the process serves)
//	GET  /readyz    200 when the shard map is loaded and not draining, else 503
//	GET  /metrics   Prometheus metrics
//
// A record is acknowledged with 200 only after Kinesis accepted it (durable
// mode), or with 202 once buffered when the request asks for ?ack=async (or the
// header X-Ack: async). Client mistakes get 4xx, never 500.
type Handler struct {
	cfg      Config
	pipe     *Pipeline
	metrics  *Metrics
	promh    http.Handler
	inflight atomic.Int64 // ingest requests being served (MAX_INFLIGHT_REQUESTS)
	draining atomic.Bool
	bufs     sync.Pool   // bodies of unknown length (chunked)
	answers  sync.Pool   // *[]byte: answer bodies
	bodies   *byteBudget // request body bytes being read and decoded
	timers   sync.Pool   // *time.Timer for ACK_TIMEOUT, stopped
}

// NewHandler returns the HTTP handler over pipe.
func NewHandler(cfg Config, pipe *Pipeline, m *Metrics) *Handler {
	limit := InflightBytesFor(cfg, 0)
	m.inflightBodyLimit.Set(float64(limit))
	return &Handler{
		cfg: cfg, pipe: pipe, metrics: m,
		promh:   promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}),
		bufs:    sync.Pool{New: func() any { return new(bytes.Buffer) }},
		answers: sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }},
		bodies:  &byteBudget{limit: limit, used: &m.inflightBody},
	}
}

// SetDraining makes readiness fail and new ingest requests get 503.
func (h *Handler) SetDraining() { h.draining.Store(true) }

// ServeHTTP routes by exact path; unknown paths get 404, wrong methods 405.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/":
		h.ingest(w, r, "/", false)
	case "/records":
		h.ingest(w, r, "/records", true)
	case "/healthcheck", "/healthz":
		if h.allow(w, r, http.MethodGet, http.MethodHead) {
			h.reply(w, r.URL.Path, http.StatusOK, okBody)
		}
	case "/readyz":
		if !h.allow(w, r, http.MethodGet, http.MethodHead) {
			return
		}
		if h.draining.Load() || !h.pipe.Ready() {
			h.reply(w, "/readyz", http.StatusServiceUnavailable, []byte(`{"status":"not ready"}`))
			return
		}
		h.reply(w, "/readyz", http.StatusOK, okBody)
	case "/metrics":
		if !h.allow(w, r, http.MethodGet) || !h.authorized(w, r, "/metrics") {
			return
		}
		h.metrics.requests.WithLabelValues("/metrics", "200").Inc()
		h.promh.ServeHTTP(w, r)
	default:
		h.fail(w, "other", http.StatusNotFound, "not_found", "no such path; use POST / or POST /records")
	}
}

var okBody = []byte(`{"status":"ok"}`)

func (h *Handler) allow(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	for _, m := range methods {
		if r.Method == m {
			return true
		}
	}
	allow := methods[0]
	for _, m := range methods[1:] {
		allow += ", " + m
	}
	w.Header().Set("Allow", allow)
	h.fail(w, r.URL.Path, http.StatusMethodNotAllowed, "method_not_allowed", "method "+r.Method+" not allowed; use "+allow)
	return false
}

func (h *Handler) authorized(w http.ResponseWriter, r *http.Request, path string) bool {
	if h.cfg.AuthToken == "" {
		return true
	}
	got := r.Header.Get("Authorization")
	want := "Bearer " + h.cfg.AuthToken
	if subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1 {
		return true
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="producer"`)
	h.fail(w, path, http.StatusUnauthorized, "unauthorized", "missing or wrong bearer token")
	return false
}

func (h *Handler) reply(w http.ResponseWriter, path string, code int, body []byte) {
	hdr := w.Header()
	// Shared, never modified value slices instead of Header.Set (which
	// allocates one per call), and the Date that net/http would otherwise
	// format per response. A short answer written before the handler returns
	// gets its Content-Length from net/http; a long one is declared, or
	// net/http would chunk it.
	hdr["Content-Type"] = jsonContentType
	hdr["Date"] = httpDate()
	if len(body) > 1024 {
		hdr["Content-Length"] = []string{strconv.Itoa(len(body))}
	}
	w.WriteHeader(code)
	w.Write(body)
	h.metrics.request(path, code).Inc()
}

var jsonContentType = []string{"application/json"}

// dateCache holds the Date header of the current second.
var dateCache atomic.Pointer[cachedDate]

type cachedDate struct {
	unix  int64
	value []string
}

// httpDate returns the Date header value (RFC 9110 IMF-fixdate) of now,
// formatted once per second.
func httpDate() []string {
	now := time.Now()
	if d := dateCache.Load(); d != nil && d.unix == now.Unix() {
		return d.value
	}
	d := &cachedDate{unix: now.Unix(), value: []string{now.UTC().Format(http.TimeFormat)}}
	dateCache.Store(d)
	return d.value
}

type errorBody struct {
	Status string `json:"status"`
	Reason string `json:"reason"`
	Error  string `json:"error"`
}

// fail answers an error and counts the rejection under reason.
func (h *Handler) fail(w http.ResponseWriter, path string, code int, reason, msg string) {
	h.metrics.rejected.WithLabelValues(reason).Inc()
	switch code {
	case http.StatusTooManyRequests:
		w.Header().Set("Retry-After", "1")
	case http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", "5")
	}
	b, _ := json.Marshal(errorBody{Status: "rejected", Reason: reason, Error: msg})
	h.reply(w, path, code, b)
}

// refuse answers fail's 429 or 503 for records the producer could not take
// (demand it did not serve) and counts them in records_refused_total, which
// is published as RefusedRecords. Before the body is read the count is not
// known: the caller passes 1, a lower bound (exact for POST /).
func (h *Handler) refuse(w http.ResponseWriter, path string, code int, reason, msg string, records int) {
	h.metrics.refused.Add(float64(records))
	h.fail(w, path, code, reason, msg)
}

// ingest handles POST / (batch false) and POST /records (batch true).
func (h *Handler) ingest(w http.ResponseWriter, r *http.Request, path string, batch bool) {
	if !h.allow(w, r, http.MethodPost) || !h.authorized(w, r, path) {
		return
	}
	if h.draining.Load() {
		w.Header().Set("Connection", "close")
		h.refuse(w, path, http.StatusServiceUnavailable, "draining", "producer is shutting down; retry on another instance", 1)
		return
	}
	ndjson, ok := parseContentType(r.Header.Get("Content-Type"), batch)
	if !ok {
		want := "application/json"
		if batch {
			want += " or application/x-ndjson"
		}
		h.fail(w, path, http.StatusUnsupportedMediaType, "unsupported_media_type", "Content-Type must be "+want)
		return
	}
	async, err := ackMode(r)
	if err != nil {
		h.fail(w, path, http.StatusBadRequest, "invalid", err.Error())
		return
	}
	if r.ContentLength > h.cfg.MaxRequestBytes {
		h.fail(w, path, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("body of %d bytes exceeds the limit of %d", r.ContentLength, h.cfg.MaxRequestBytes))
		return
	}
	if h.inflight.Add(1) > int64(h.cfg.MaxInflightRequests) {
		h.inflight.Add(-1)
		h.refuse(w, path, http.StatusTooManyRequests, "overloaded", "too many concurrent requests", 1)
		return
	}
	defer h.inflight.Add(-1)
	// A body of unknown length (chunked) may grow to the limit: admit it as such.
	size := r.ContentLength
	if size < 0 {
		size = h.cfg.MaxRequestBytes
	}
	if !h.bodies.acquire(size) {
		h.refuse(w, path, http.StatusTooManyRequests, "overloaded", "too many request bytes in flight; retry later", 1)
		return
	}
	adm := admission{budget: h.bodies, n: size}
	defer adm.release()
	// The deadline follows the size, so a slow client cannot hold its
	// admission for long; the server has no whole-request ReadTimeout.
	setReadDeadline(w, time.Now().Add(h.cfg.BodyReadTimeout+time.Duration(size)*time.Second/time.Duration(h.cfg.MinBodyRate)))
	if batch {
		body := http.MaxBytesReader(w, r.Body, h.cfg.MaxRequestBytes)
		h.ingestBatch(w, r, body, ndjson, async, adm.release)
		return
	}
	var raw []byte
	if r.ContentLength >= 0 {
		// Known length, within the limit (checked above): net/http's body
		// reader stops at it. One allocation of exactly the body, which the
		// record's data may then alias (parseRecordOwned) instead of copying.
		raw = make([]byte, r.ContentLength)
		if _, err := io.ReadFull(r.Body, raw); err != nil {
			h.bodyError(w, path, err)
			return
		}
		rec, reason, msg := parseRecordOwned(raw)
		h.ingestOne(w, r, rec, reason, msg, async, &adm)
		return
	}
	buf := h.bufs.Get().(*bytes.Buffer)
	buf.Reset()
	_, err = buf.ReadFrom(http.MaxBytesReader(w, r.Body, h.cfg.MaxRequestBytes))
	if err != nil {
		h.putBuf(buf)
		h.bodyError(w, path, err)
		return
	}
	// rec.Data never aliases buf: the fast path clones, json.Unmarshal copies.
	rec, reason, msg := parseRecord(buf.Bytes())
	h.putBuf(buf)
	h.ingestOne(w, r, rec, reason, msg, async, &adm)
}

// setReadDeadline sets the connection's read deadline: directly when w has
// the method (net/http's own writer does; no ResponseController allocated),
// else through http.ResponseController, which also unwraps wrappers.
func setReadDeadline(w http.ResponseWriter, t time.Time) {
	if d, ok := w.(interface{ SetReadDeadline(time.Time) error }); ok {
		_ = d.SetReadDeadline(t)
		return
	}
	_ = http.NewResponseController(w).SetReadDeadline(t)
}

// admission is a request's share of the body budget, released once.
type admission struct {
	budget *byteBudget
	n      int64
	done   bool
}

// release returns the bytes to the budget; later calls do nothing. Only the
// request's own goroutine calls it.
func (a *admission) release() {
	if !a.done {
		a.done = true
		a.budget.release(a.n)
	}
}

// putBuf returns a body buffer to the pool unless it grew large: the pool
// must not keep memory the admission no longer counts.
func (h *Handler) putBuf(b *bytes.Buffer) {
	if b.Cap() <= 64<<10 {
		h.bufs.Put(b)
	}
}

// bodyError answers a failed body read: 413 over the limit, 408 past the
// read deadline, 400 otherwise.
func (h *Handler) bodyError(w http.ResponseWriter, path string, err error) {
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		h.fail(w, path, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("body exceeds the limit of %d bytes", h.cfg.MaxRequestBytes))
	case errors.Is(err, os.ErrDeadlineExceeded):
		w.Header().Set("Connection", "close")
		h.fail(w, path, http.StatusRequestTimeout, "timeout", "request body not received in time")
	default:
		h.fail(w, path, http.StatusBadRequest, "invalid", "read body: "+err.Error())
	}
}

// parseContentType accepts application/json (any parameters), and for batches
// also the NDJSON media types.
func parseContentType(ct string, batch bool) (ndjson, ok bool) {
	if ct == "application/json" {
		return false, true
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false, false
	}
	switch mt {
	case "application/json":
		return false, true
	case "application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines":
		return true, batch
	}
	return false, false
}

// ackMode reads ?ack= or the X-Ack header: "durable" (default) or "async".
func ackMode(r *http.Request) (async bool, err error) {
	v := r.Header.Get("X-Ack")
	switch q := r.URL.RawQuery; q {
	case "":
	case "ack=async":
		v = "async"
	default:
		if a := r.URL.Query().Get("ack"); a != "" {
			v = a
		}
	}
	switch v {
	case "", "durable":
		return false, nil
	case "async":
		return true, nil
	}
	return false, fmt.Errorf("ack must be durable or async, not %q", v)
}

type oneResult struct {
	Status         string `json:"status"`
	PartitionKey   string `json:"partitionKey"`
	ShardID        string `json:"shardId,omitempty"`
	SequenceNumber string `json:"sequenceNumber,omitempty"`
}

// ingestOne answers POST / for a parsed record (or its rejection); release
// ends the request's body admission once the record is buffered.
func (h *Handler) ingestOne(w http.ResponseWriter, r *http.Request, rec Record, reason, msg string, async bool, adm *admission) {
	h.metrics.received.Inc()
	if reason != "" {
		code := http.StatusBadRequest
		if reason == "too_large" {
			code = http.StatusRequestEntityTooLarge
		}
		h.fail(w, "/", code, reason, msg)
		return
	}
	var t *Ticket
	if !async {
		t = NewTicket(1)
	}
	recs := [1]Record{rec}
	if !h.enqueue(w, "/", recs[:], t) {
		return
	}
	adm.release()
	bp := h.answers.Get().(*[]byte)
	defer h.answers.Put(bp)
	b := (*bp)[:0]
	if async {
		b = append(b, `{"status":"accepted","partitionKey":`...)
		b = appendJSONString(b, rec.PartitionKey)
		b = append(b, '}')
		*bp = b
		h.reply(w, "/", http.StatusAccepted, b)
		return
	}
	if !h.await(w, r, "/", t) {
		return
	}
	a := t.Acks()[0]
	b = append(b, `{"status":"ok","partitionKey":`...)
	b = appendJSONString(b, rec.PartitionKey)
	b = append(b, `,"shardId":`...)
	b = appendJSONString(b, a.ShardID)
	b = append(b, `,"sequenceNumber":`...)
	b = appendJSONString(b, a.SequenceNumber)
	b = append(b, '}')
	*bp = b
	h.reply(w, "/", http.StatusOK, b)
}

// enqueue buffers recs or answers 429/503; it reports whether it buffered.
func (h *Handler) enqueue(w http.ResponseWriter, path string, recs []Record, t *Ticket) bool {
	err := h.pipe.Enqueue(recs, t)
	if err == nil {
		n := 0
		for _, r := range recs {
			n += len(r.Data)
		}
		h.metrics.countAccepted(len(recs), n)
		return true
	}
	switch {
	case errors.Is(err, ErrBufferFull) && h.pipe.Healthy():
		h.refuse(w, path, http.StatusTooManyRequests, "buffer_full", "buffer full; Kinesis is behind, retry later", len(recs))
	case errors.Is(err, ErrBufferFull):
		h.refuse(w, path, http.StatusServiceUnavailable, "kinesis_unavailable", "buffer full and Kinesis is failing; retry later", len(recs))
	case errors.Is(err, ErrClosed):
		h.refuse(w, path, http.StatusServiceUnavailable, "draining", "producer is shutting down; retry on another instance", len(recs))
	default:
		h.refuse(w, path, http.StatusServiceUnavailable, "not_ready", "stream not available yet; retry later", len(recs))
	}
	return false
}

// await waits for a durable acknowledgement; on ACK_TIMEOUT it answers 503
// (the records stay buffered and may still be written: a client retry can
// duplicate them), on a client hang-up it answers nothing.
func (h *Handler) await(w http.ResponseWriter, r *http.Request, path string, t *Ticket) bool {
	select {
	case <-t.Done():
		return true // already acknowledged: no timer
	default:
	}
	// Timers are reused: since Go 1.23 a stopped timer's channel is empty,
	// so Reset after Stop is safe.
	timer, _ := h.timers.Get().(*time.Timer)
	if timer == nil {
		timer = time.NewTimer(h.cfg.AckTimeout)
	} else {
		timer.Reset(h.cfg.AckTimeout)
	}
	defer func() {
		timer.Stop()
		h.timers.Put(timer)
	}()
	select {
	case <-t.Done():
		return true
	case <-timer.C:
		h.fail(w, path, http.StatusServiceUnavailable, "ack_timeout", fmt.Sprintf("Kinesis did not confirm within %s; the records may still be written", h.cfg.AckTimeout))
	case <-r.Context().Done():
		h.metrics.rejected.WithLabelValues("client_gone").Inc()
	}
	return false
}

// byteBudget admits request bodies by their size, so that the bodies read
// and decoded at once fit in memory whatever their number.
// The used bytes are the metrics' inflight_body_bytes, read when scraped.
type byteBudget struct {
	used  *atomic.Int64
	limit int64
}

// acquire reserves n bytes; it reports false (and reserves nothing) when the
// budget has no room for them.
func (b *byteBudget) acquire(n int64) bool {
	for {
		u := b.used.Load()
		if u+n > b.limit {
			return false
		}
		if b.used.CompareAndSwap(u, u+n) {
			return true
		}
	}
}

func (b *byteBudget) release(n int64) { b.used.Add(-n) }
