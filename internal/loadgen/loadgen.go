// Package loadgen sends records to a producer over HTTP at a schedule of
// rates — fixed, or shaped like a traffic trace — bounded in records and time,
// and counts every answer. It is what cmd/loadgen, `make demo` and the
// closed-loop end-to-end test drive the local stack with.
//
// Every record's data is unique ("<run>-<seq> " padded to the record size), so
// a test can find each acknowledged record in the consumer's output.
package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Schedule is the target send rate, in records per second, at a time since
// the start of the run. A negative rate ends the run (the schedule is over).
type Schedule func(elapsed time.Duration) float64

// Fixed is a constant rate.
func Fixed(recordsPerSec float64) Schedule {
	return func(time.Duration) float64 { return recordsPerSec }
}

// Options of one run. URL and a Schedule are required.
type Options struct {
	// URL of the producer (the load balancer), without the path.
	URL string
	// Batch is the records per request: 1 posts the seed's `POST /` with
	// {"data": ...}; more posts `POST /records` with a JSON array.
	Batch int
	// RecordBytes is the size of each record's data (default 100, at least
	// the unique id).
	RecordBytes int
	// Schedule gives the rate over time.
	Schedule Schedule
	// Duration and MaxRecords bound the run (0: unbounded; at least one of
	// them, or a Schedule that ends, must be set).
	Duration   time.Duration
	MaxRecords int64
	// Concurrency is the most requests in flight (default 64). When all are
	// busy the run falls behind its schedule; the lag is reported.
	Concurrency int
	// Async asks for 202 acknowledgements (?ack=async) instead of durable 200s.
	Async bool
	// AuthToken, when set, is sent as a bearer token.
	AuthToken string
	// RunID prefixes every record's data (default: the start time in ms).
	RunID string
	// Progress receives one line per ProgressEvery (default 1 s) when non-nil.
	Progress      io.Writer
	ProgressEvery time.Duration
	// OnResult, when set, is called for every record with its data's unique
	// id ("<run>-<seq>") and the HTTP status that answered it (0: no answer).
	// For POST /records a record counts as acknowledged only when its own
	// result is "ok". Called from many goroutines.
	OnResult func(id string, status int)
	// Client is the HTTP client (default: keep-alive, 30 s timeout).
	Client *http.Client
}

// Summary counts the records of a run by the answer they got.
type Summary struct {
	// Sent is the records sent; Acknowledged those answered 200 (or 202 when
	// async) and, in a batch, with their own result "ok".
	Sent, Acknowledged int64
	// ByStatus counts records by HTTP status; 0 is a transport error.
	ByStatus map[int]int64
	// Rejected counts records a 200/202 batch reported as not accepted.
	Rejected int64
	// Behind is the records the schedule asked for that were never sent:
	// every connection stayed busy for longer than maxLag (the schedule
	// outran the server), or the run ended with them still due.
	Behind  int64
	Elapsed time.Duration
	// FirstError is the first transport error or unexpected answer, if any.
	FirstError string
}

// Throttled is the records answered 429 or 503 (the producer's back-pressure).
func (s Summary) Throttled() int64 { return s.ByStatus[429] + s.ByStatus[503] }

// ClientErrors is the records answered 4xx other than 429.
func (s Summary) ClientErrors() int64 {
	var n int64
	for code, c := range s.ByStatus {
		if code >= 400 && code < 500 && code != 429 {
			n += c
		}
	}
	return n
}

// String is the final summary line.
func (s Summary) String() string {
	codes := make([]string, 0, len(s.ByStatus))
	for _, code := range sortedCodes(s.ByStatus) {
		name := strconv.Itoa(code)
		if code == 0 {
			name = "no answer"
		}
		codes = append(codes, fmt.Sprintf("%s: %d", name, s.ByStatus[code]))
	}
	rate := 0.0
	if s.Elapsed > 0 {
		rate = float64(s.Acknowledged) / s.Elapsed.Seconds()
	}
	out := fmt.Sprintf("sent %d records in %s, acknowledged %d (%.0f/s); by status: %s",
		s.Sent, s.Elapsed.Round(time.Millisecond), s.Acknowledged, rate, strings.Join(codes, ", "))
	if s.Rejected > 0 {
		out += fmt.Sprintf("; %d rejected inside accepted batches", s.Rejected)
	}
	if s.Behind > 0 {
		out += fmt.Sprintf("; %d not sent (the schedule outran every connection)", s.Behind)
	}
	if s.FirstError != "" {
		out += "; first error: " + s.FirstError
	}
	return out
}

func sortedCodes(m map[int]int64) []int {
	return slices.Sorted(maps.Keys(m))
}

// counters are a run's live counts.
type counters struct {
	sent, acked, rejected, behind, lag atomic.Int64
	mu                                 sync.Mutex
	byStatus                           map[int]int64
	firstError                         string
}

func (c *counters) add(status int, n int64) {
	c.mu.Lock()
	c.byStatus[status] += n
	c.mu.Unlock()
}

func (c *counters) fail(msg string) {
	c.mu.Lock()
	if c.firstError == "" {
		c.firstError = msg
	}
	c.mu.Unlock()
}

func (c *counters) summary(elapsed time.Duration) Summary {
	c.mu.Lock()
	defer c.mu.Unlock()
	by := maps.Clone(c.byStatus)
	return Summary{Sent: c.sent.Load(), Acknowledged: c.acked.Load(), ByStatus: by, Rejected: c.rejected.Load(),
		Behind: c.behind.Load(), Elapsed: elapsed, FirstError: c.firstError}
}

// Run sends records until the schedule ends, Duration passes, MaxRecords are
// sent or ctx ends, waits for the answers of requests in flight, and returns
// the counts. It fails only on options it cannot run with.
func Run(ctx context.Context, o Options) (Summary, error) {
	if err := o.defaults(); err != nil {
		return Summary{}, err
	}
	c := &counters{byStatus: map[int]int64{}}
	start := time.Now()
	if o.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Duration)
		defer cancel()
	}
	jobs := make(chan int64) // the first sequence number of a request's records
	var workers sync.WaitGroup
	for range o.Concurrency {
		workers.Go(func() {
			for seq := range jobs {
				o.send(c, seq)
			}
		})
	}
	stopProgress := o.progress(c, start)
	o.dispatch(ctx, c, jobs, start)
	close(jobs)
	workers.Wait()
	stopProgress()
	return c.summary(time.Since(start)), nil
}

func (o *Options) defaults() error {
	if o.URL == "" {
		return errors.New("loadgen: a producer URL is required")
	}
	if o.Schedule == nil {
		return errors.New("loadgen: a schedule (rate or trace) is required")
	}
	if o.Duration <= 0 && o.MaxRecords <= 0 && o.Schedule(365*24*time.Hour) >= 0 {
		return errors.New("loadgen: the run needs a bound: a duration, a record count or a schedule that ends")
	}
	if o.Batch <= 0 {
		o.Batch = 1
	}
	if o.Batch > 10000 {
		return fmt.Errorf("loadgen: batch %d is over the producer's 10,000 records per request", o.Batch)
	}
	if o.RecordBytes <= 0 {
		o.RecordBytes = 100
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 64
	}
	if o.RunID == "" {
		o.RunID = strconv.FormatInt(time.Now().UnixMilli(), 36)
	}
	if o.ProgressEvery <= 0 {
		o.ProgressEvery = time.Second
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
			MaxIdleConns: o.Concurrency, MaxIdleConnsPerHost: o.Concurrency, IdleConnTimeout: 90 * time.Second,
		}}
	}
	o.URL = strings.TrimRight(o.URL, "/")
	return nil
}

// tick is how often the dispatcher hands out the records due.
const tick = 10 * time.Millisecond

// maxLag is how far behind its schedule a run may fall before records are
// given up (counted as behind, never sent): a stalled server is not answered
// with a burst of everything it missed.
const maxLag = 5 * time.Second

// dispatch hands out requests as the schedule makes records due. Records that
// find every connection busy stay due for the next tick, up to maxLag of the
// schedule; beyond that they are counted as behind and dropped, so a slow
// server shows as lag instead of silently slowing the schedule down.
func (o *Options) dispatch(ctx context.Context, c *counters, jobs chan<- int64, start time.Time) {
	t := time.NewTicker(tick)
	defer t.Stop()
	var due float64 // records due and not yet handed out
	var next int64
	last := start
	defer func() { c.behind.Add(int64(due)) }()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			rate := o.Schedule(now.Sub(start))
			if rate < 0 {
				return
			}
			due += rate * now.Sub(last).Seconds()
			last = now
			if limit := max(rate*maxLag.Seconds(), float64(o.Batch)); due > limit {
				c.behind.Add(int64(due - limit))
				due = limit
			}
		handOut:
			for due >= float64(o.Batch) {
				n := int64(o.Batch)
				if o.MaxRecords > 0 {
					n = min(n, o.MaxRecords-next-c.behind.Load())
				}
				if n <= 0 {
					due = 0
					return
				}
				select {
				case jobs <- next<<16 | n:
					c.sent.Add(n)
				default:
					break handOut // every connection busy: the rest waits
				}
				next += n
				due -= float64(n)
			}
			c.lag.Store(int64(due))
		}
	}
}

// send posts one request: the records from seq>>16, (seq & 0xffff) of them.
func (o *Options) send(c *counters, job int64) {
	first, n := job>>16, int(job&0xffff)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = o.RunID + "-" + strconv.FormatInt(first+int64(i), 10)
	}
	body, path := o.body(ids)
	url := o.URL + path
	if o.Async {
		url += "?ack=async"
	}
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		c.fail(err.Error())
		o.record(c, ids, 0)
		return
	}
	req.Header.Set("Content-Type", "application/json")
	if o.AuthToken != "" {
		req.Header.Set("Authorization", "Bearer "+o.AuthToken)
	}
	resp, err := o.Client.Do(req)
	if err != nil {
		c.fail(err.Error())
		o.record(c, ids, 0)
		return
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	ok := resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusAccepted
	if !ok && resp.StatusCode != 429 && resp.StatusCode != 503 {
		c.fail(fmt.Sprintf("%s answered %d: %.200s", path, resp.StatusCode, answer))
	}
	if !ok || n == 1 && o.Batch == 1 {
		o.record(c, ids, resp.StatusCode)
		return
	}
	o.recordBatch(c, ids, resp.StatusCode, answer)
}

// body is the request for ids: the seed's single record, or a JSON array.
func (o *Options) body(ids []string) ([]byte, string) {
	record := func(id string) map[string]string {
		data := id + " "
		if pad := o.RecordBytes - len(data); pad > 0 {
			data += strings.Repeat("x", pad)
		}
		return map[string]string{"data": data}
	}
	if o.Batch == 1 {
		b, _ := json.Marshal(record(ids[0]))
		return b, "/"
	}
	recs := make([]map[string]string, len(ids))
	for i, id := range ids {
		recs[i] = record(id)
	}
	b, _ := json.Marshal(recs)
	return b, "/records"
}

// record counts every id with one status.
func (o *Options) record(c *counters, ids []string, status int) {
	c.add(status, int64(len(ids)))
	if status == http.StatusOK || status == http.StatusAccepted {
		c.acked.Add(int64(len(ids)))
	}
	if o.OnResult != nil {
		for _, id := range ids {
			o.OnResult(id, status)
		}
	}
}

// recordBatch counts a POST /records answer record by record: only a result
// "ok" is an acknowledgement.
func (o *Options) recordBatch(c *counters, ids []string, status int, answer []byte) {
	var out struct {
		Results []struct {
			Status string `json:"status"`
		} `json:"results"`
	}
	if err := json.Unmarshal(answer, &out); err != nil || len(out.Results) != len(ids) {
		c.fail(fmt.Sprintf("/records answered %d with %d results for %d records", status, len(out.Results), len(ids)))
		o.record(c, ids, 0)
		return
	}
	c.add(status, int64(len(ids)))
	for i, r := range out.Results {
		st := status
		if r.Status == "ok" {
			c.acked.Add(1)
		} else {
			c.rejected.Add(1)
			st = -1
		}
		if o.OnResult != nil {
			o.OnResult(ids[i], st)
		}
	}
}

// progress prints a line every ProgressEvery until the returned stop is called.
func (o *Options) progress(c *counters, start time.Time) (stop func()) {
	if o.Progress == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(o.ProgressEvery)
		defer t.Stop()
		var lastAcked int64
		last := start
		for {
			select {
			case <-done:
				return
			case now := <-t.C:
				s := c.summary(now.Sub(start))
				rate := float64(s.Acknowledged-lastAcked) / now.Sub(last).Seconds()
				lastAcked, last = s.Acknowledged, now
				fmt.Fprintf(o.Progress, "%6s  sent %d  2xx %d  4xx %d  429/503 %d  no answer %d  lag %d  dropped %d  rate %.0f/s (target %.0f/s)\n",
					now.Sub(start).Round(time.Second), s.Sent, s.Acknowledged, s.ClientErrors(), s.Throttled(), s.ByStatus[0], c.lag.Load(), s.Behind,
					rate, max(o.Schedule(now.Sub(start)), 0))
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

// FromTrace follows a trace's shape: minute m of the trace lasts 1/speedup
// minutes of the run at load[m] × peak records per second (load in [0, 1], as
// sim.Trace holds it). The schedule ends after the last minute.
func FromTrace(load []float64, peak, speedup float64) Schedule {
	if speedup <= 0 {
		speedup = 1
	}
	return func(elapsed time.Duration) float64 {
		m := int(elapsed.Minutes() * speedup)
		if m >= len(load) {
			return -1
		}
		return load[m] * peak
	}
}
