package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kdp-io/streamprocessor-operator/internal/awsconfig"
)

// result is what one mode measured.
type result struct {
	name        string
	ok, refused int64 // 2xx; 429/503
	other, errs int64
	secs        float64
	lat         []time.Duration
	cpu         time.Duration // server process, measured window
	peakRSS     int64         // server VmHWM, bytes
	peakHeap    float64       // server heap in use, sampled max (producer only)
	// Kinesis traffic in the measured window: counted by the Kinesis double
	// when the producer writes to it, else from the producer's own metrics.
	putCalls float64
	kinRecs  float64
	kinBytes float64 // Kinesis double only
	held     float64 // Kinesis double only: summed time calls spent in it, s
	written  float64 // user records
	// From the producer's metrics in every case: successful calls and their
	// summed latency as the producer saw it.
	putOK   float64
	putSecs float64
	wrk     bool // measured with wrk as the client
}

func (r *result) rps() float64 { return float64(r.ok) / r.secs }

// cpuPer10k is the server's CPU time per 10,000 answered records, ms.
func (r *result) cpuPer10k() float64 { return r.cpu.Seconds() * 1000 * 10000 / float64(max(r.ok, 1)) }

func (r *result) pct(p float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	return r.lat[min(len(r.lat)-1, int(float64(len(r.lat))*p))]
}

// mode is one server under test.
type mode struct {
	name, kind, query string
	unordered         int  // UNORDERED_INFLIGHT (0: the producer's default)
	ordered           int  // ORDERED_INFLIGHT (0: the producer's default)
	keys              int  // > 0: records carry a caller partition key, one of this many
	double            bool // the producer writes to a Kinesis double, not kinesis-local
	conns             int  // client connections (0: -concurrency)
}

func runBench(ctx context.Context, o options) error {
	awsCfg, err := awsconfig.Load(ctx, "")
	if err != nil {
		return err
	}
	if os.Getenv("AWS_ENDPOINT_URL_KINESIS") == "" {
		return fmt.Errorf("refusing to run without AWS_ENDPOINT_URL_KINESIS (it would write to real AWS): source .local/emulators.env")
	}
	kc := kinesis.NewFromConfig(awsCfg)
	fmt.Printf("producer benchmark: %d-byte records, %d connections (%d in the rows that say so), %s per mode in %d interleaved rounds (+%s warm-up each), %d-shard streams, linger %s; Kinesis: kinesis-local and a loopback Kinesis double answering every PutRecords after %s\n",
		o.recordSize, o.concurrency, o.lowConcurrency, o.duration, o.rounds, o.warmup, o.shards, o.linger, o.kinesisLatency)

	// The servers run side by side; rounds alternate between them so that
	// load from other processes on the machine hits all modes alike.
	dbl := fmt.Sprintf("Kinesis double %s", o.kinesisLatency)
	modes := []mode{
		{name: "bare net/http (ceiling)", kind: "bare", unordered: o.unordered, ordered: o.ordered},
		{name: "producer durable (200), kinesis-local", kind: "producer", unordered: o.unordered, ordered: o.ordered},
		{name: "producer async (202), kinesis-local", kind: "producer", query: "?ack=async", unordered: o.unordered, ordered: o.ordered},
		{name: "producer durable (200), " + dbl, kind: "producer", unordered: o.unordered, ordered: o.ordered, double: true},
		{name: "producer async (202), " + dbl, kind: "producer", query: "?ack=async", unordered: o.unordered, ordered: o.ordered, double: true},
	}
	if o.compareOne {
		modes = append(modes,
			mode{name: "durable, 1 in flight/lane, kinesis-local", kind: "producer", unordered: 1, ordered: 1},
			mode{name: "durable, 1 in flight/lane, " + dbl, kind: "producer", unordered: 1, ordered: 1, double: true})
	}
	if o.keys > 0 {
		modes = append(modes,
			mode{name: fmt.Sprintf("durable, %d caller keys, %s", o.keys, dbl), kind: "producer", unordered: o.unordered, ordered: o.ordered, keys: o.keys, double: true},
			mode{name: fmt.Sprintf("durable, %d caller keys, 1 in flight/lane, %s", o.keys, dbl), kind: "producer", unordered: o.unordered, ordered: 1, keys: o.keys, double: true})
	}
	if c := o.lowConcurrency; c > 0 {
		// A closed-loop client with c connections cannot get more than
		// c ÷ round trip durable answers per second, whatever the server
		// does: these rows show where that bound, not the producer, binds.
		modes = append(modes,
			mode{name: fmt.Sprintf("bare net/http, %d connections", c), kind: "bare", conns: c},
			mode{name: fmt.Sprintf("durable (200), %s, %d connections", dbl, c), kind: "producer", unordered: o.unordered, ordered: o.ordered, double: true, conns: c})
	}
	if o.compare {
		modes = append(modes,
			mode{name: "durable, 4 in flight/shard, kinesis-local", kind: "producer", unordered: 4},
			mode{name: "durable, 4 in flight/shard, " + dbl, kind: "producer", unordered: 4, double: true})
	}
	var wt *wrkTool
	if o.wrk {
		if wt, err = findWrk(); err != nil {
			return err
		}
		defer wt.close()
	}
	var servers []*server
	defer func() {
		for _, s := range servers {
			s.stop()
		}
	}()
	for _, m := range modes {
		mo := o
		mo.unordered, mo.ordered = m.unordered, m.ordered
		s, err := startServer(ctx, mo, kc, m, 0)
		if err != nil {
			return err
		}
		servers = append(servers, s)
	}
	slice := o
	slice.duration = o.duration / time.Duration(o.rounds)
	for round := 0; round < o.rounds; round++ {
		for _, s := range servers {
			fmt.Fprintf(os.Stderr, "round %d: %s\n", round+1, s.res.name)
			if err := s.run(slice, cmp.Or(s.conns, o.concurrency), s.res, drive); err != nil {
				return err
			}
			if wt != nil {
				// The same server, right after, with wrk as the client.
				if err := s.run(slice, cmp.Or(s.conns, o.concurrency), s.wres, wt.drive); err != nil {
					return err
				}
			}
		}
	}
	for _, s := range servers {
		s.finish()
	}
	// Stop them all (the producers flush), so that the delivery check sees
	// everything and the overload check runs alone.
	for _, s := range servers {
		s.stop()
	}
	bare, durableLocal, asyncLocal, durableDouble, asyncDouble := servers[0].res, servers[1].res, servers[2].res, servers[3].res, servers[4].res

	// Overload: Kinesis (kinesis-local behind a throttle) absorbs 1/overload
	// of the measured kinesis-local async rate; clients push as fast as they can.
	perRecord := int64(o.recordSize + 36 + 8) // data, UUID key, protobuf framing
	capacity := max(int64(asyncLocal.rps())/int64(o.overload)*perRecord, 1)
	oo := o
	oo.bufferBytes = o.overBuffer
	oo.duration = max(o.duration, 10*time.Second) // long enough for the buffer to fill
	os_, err := startServer(ctx, oo, kc, mode{name: fmt.Sprintf("producer async, %dx overload, kinesis-local", o.overload), kind: "producer", query: "?ack=async", unordered: o.unordered}, capacity)
	if err != nil {
		return err
	}
	defer os_.stop()
	if err := os_.run(oo, o.concurrency, os_.res, drive); err != nil {
		return err
	}
	os_.finish()
	over := os_.res
	// Each mode's wrk row right below its Go client row; a wrk row's "% of
	// bare" is of the bare handler under wrk.
	var results []*result
	for _, s := range servers {
		results = append(results, s.res)
		if wt != nil {
			results = append(results, s.wres)
		}
	}
	results = append(results, over)
	bareOf := func(r *result) *result {
		if r.wrk {
			return servers[0].wres
		}
		return bare
	}

	tw := tabwriter.NewWriter(os.Stdout, 2, 0, 2, ' ', tabwriter.AlignRight|tabwriter.Debug)
	fmt.Fprintln(tw, "mode\treq/s (2xx)\t% of bare\tp50\tp99\tserver CPU per 10k rec\tPutRecords calls per 1k rec\tKinesis records per 1k rec\tuser rec per Kinesis rec\tmean PutRecords\t429/503\tpeak heap MiB\tpeak RSS MiB\t")
	for _, r := range results {
		calls, krecs, agg, putLat := "-", "-", "-", "-"
		if r.putOK > 0 {
			putLat = (time.Duration(r.putSecs / r.putOK * float64(time.Second))).Round(100 * time.Microsecond).String()
		}
		if r.written > 0 {
			calls = fmt.Sprintf("%.2f", r.putCalls*1000/r.written)
			krecs = fmt.Sprintf("%.2f", r.kinRecs*1000/r.written)
			agg = fmt.Sprintf("%.0f", r.written/r.kinRecs)
		}
		heap := "-"
		if r.peakHeap > 0 {
			heap = fmt.Sprintf("%.0f", r.peakHeap/(1<<20))
		}
		cpu := "-"
		if r.ok > 0 {
			cpu = fmt.Sprintf("%.0f ms", r.cpu.Seconds()*1000*10000/float64(r.ok))
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%.0f%%\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%.0f\t\n", r.name, r.rps(), 100*r.rps()/bareOf(r).rps(),
			r.pct(0.50).Round(10*time.Microsecond), r.pct(0.99).Round(10*time.Microsecond), cpu, calls, krecs, agg, putLat, r.refused, heap, float64(r.peakRSS)/(1<<20))
	}
	tw.Flush()
	fmt.Printf("(Kinesis double rows: PutRecords calls, Kinesis records and user records counted by the double, which deaggregates every Kinesis record; kinesis-local rows: from the producer's metrics. Mean PutRecords: as the producer timed it.)\n")
	if wt != nil {
		fmt.Printf("(wrk rows: the same server driven by wrk (%d threads, same connections, same bodies) right after the Go client in every round; %% of bare is of the bare handler under wrk; p50/p99 from wrk's histograms, 1,000 quantiles per run merged; 429/503 column: every non-2xx status.)\n", wrkThreads)
	}
	bound := float64(o.overBuffer)*2 + 64<<20
	verdict := "BOUNDED"
	if over.peakHeap > bound {
		verdict = "NOT BOUNDED"
	}
	fmt.Println()
	for _, g := range []struct {
		backend        string
		durable, async *result
	}{{"kinesis-local", durableLocal, asyncLocal}, {dbl, durableDouble, asyncDouble}} {
		fmt.Printf("goals, %s: async %.0f%% of bare (goal >= 70%%), durable %.0f%% (goal >= 40%%), %.0f user records per Kinesis record in async (goal >= 100)\n",
			g.backend, 100*g.async.rps()/bare.rps(), 100*g.durable.rps()/bare.rps(), g.async.written/max(g.async.kinRecs, 1))
	}
	if wt != nil {
		d, a, b := servers[3].wres, servers[4].wres, servers[0].wres
		fmt.Printf("goals, wrk, %s, %d connections: async %.0f%% of bare (goal >= 80%%), durable %.0f%% (goal >= 50%%); server CPU per 10k records async %.0f ms, durable %.0f ms (goal <= 125 / 206 ms: 1/1.7 of 213 / 350); %.0f user records per Kinesis record in async (goal >= 100)\n",
			dbl, o.concurrency, 100*a.rps()/b.rps(), 100*d.rps()/b.rps(), a.cpuPer10k(), d.cpuPer10k(), a.written/max(a.kinRecs, 1))
	}
	if c := o.lowConcurrency; c > 0 {
		var lowBare, lowDurable *server
		for _, s := range servers {
			if s.conns == c && s.kind == "bare" {
				lowBare = s
			} else if s.conns == c {
				lowDurable = s
			}
		}
		wrkPart := ""
		if wt != nil {
			wrkPart = fmt.Sprintf(" (wrk: %.0f%%)", 100*lowDurable.wres.rps()/lowBare.wres.rps())
		}
		fmt.Printf("at %d connections: durable %.0f%%%s of the bare handler at %d connections; no server can answer durable requests faster than %d ÷ (Kinesis latency %s) = %.0f/s there\n",
			c, 100*lowDurable.res.rps()/lowBare.res.rps(), wrkPart, c, c, o.kinesisLatency, float64(c)/o.kinesisLatency.Seconds())
	}
	if over.refused == 0 {
		verdict += " (NOT EXERCISED: the buffer never filled; raise -duration or lower -overload-buffer-bytes)"
	}
	fmt.Printf("memory at %dx overload (Kinesis limited to %d B/s, buffer limit %d MiB): peak heap %.0f MiB, peak RSS %.0f MiB: %s (bound used: 2 x buffer + 64 MiB); %d of %d requests refused with 429/503\n",
		o.overload, capacity, o.overBuffer>>20, over.peakHeap/(1<<20), float64(over.peakRSS)/(1<<20), verdict, over.refused, over.refused+over.ok)

	// Delivery: every record a client got a 2xx for must have reached the double.
	failed := false
	for _, s := range servers {
		if s.double == nil {
			continue
		}
		r := s.res
		fmt.Printf("%s: mean PutRecords %s inside the double (request read to answer) vs %s as the producer timed it; write rate %.0f KiB/s and %.0f Kinesis records/s per shard (a real shard takes 1 MiB/s and 1000 records/s; the double does not throttle)\n",
			r.name, time.Duration(r.held/max(r.putCalls, 1)*float64(time.Second)).Round(100*time.Microsecond),
			time.Duration(r.putSecs/max(r.putOK, 1)*float64(time.Second)).Round(100*time.Microsecond),
			r.kinBytes/r.secs/float64(o.shards)/1024, r.kinRecs/r.secs/float64(o.shards))
		byID := o.recordSize >= idDigits
		v := s.double.verify(s.acked, s.ackedKeys)
		status := "OK"
		if !v.ok(byID) || s.exitErr != nil {
			status, failed = "ERROR", true
		}
		fmt.Printf("  delivery check: %s: %d records acknowledged (2xx) over the server's life (%d to the Go client, %d to wrk), %d user records arrived at the double", status, v.acked+v.ackedKeys, v.acked, v.ackedKeys, v.arrived)
		if byID {
			fmt.Printf("; by record id: %d acknowledged but missing, %d duplicate arrivals, %d arrived unacknowledged (in flight when a client stopped, 503 ack_timeout or client error: allowed); wrk's answers by partition key (and sequence number): %d acknowledged but missing", v.missing, v.duplicated, v.unacked, v.missingKeys)
		} else {
			fmt.Printf(" (records under %d bytes carry no id: counts compared only)", idDigits)
		}
		if v.misrouted > 0 || v.errs > 0 || v.noID > 0 && byID {
			fmt.Printf("; %d user records in a Kinesis record of another shard, %d rejected calls (first: %s), %d user records without an id", v.misrouted, v.errs, v.firstErr, v.noID)
		}
		if s.exitErr != nil {
			fmt.Printf("; producer exit after SIGTERM: %v", s.exitErr)
		}
		fmt.Println()
	}
	if failed {
		fmt.Fprintln(os.Stderr, "bench: ERROR: delivery check failed: acknowledged records did not arrive at the Kinesis double exactly once (see above)")
	}
	return nil
}

// server is one server child under test and what was measured on it.
type server struct {
	kind, query, base string
	keys              int // > 0: records carry one of this many caller partition keys
	conns             int // client connections (0: -concurrency)
	cmd               *exec.Cmd
	res               *result
	peakHeap          atomic.Uint64
	stopSampling      chan struct{}
	sampler           sync.WaitGroup
	finished          bool
	stopped           bool
	exitErr           error
	stream            string
	kc                *kinesis.Client
	double            *kinesisDouble // nil: kinesis-local

	nextID atomic.Uint64 // record ids written into the request data
	ackMu  sync.Mutex
	acked  []uint64 // ids of records answered 2xx, warm-ups included
	// ackedKeys name the records answered 2xx to wrk (answerKey), warm-ups
	// included; wres is what wrk measured.
	ackedKeys []string
	wres      *result
}

// startServer starts a server child (with its own stream for the producer,
// on kinesis-local or on a Kinesis double of its own).
func startServer(ctx context.Context, o options, kc *kinesis.Client, m mode, slowBytes int64) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &server{kind: m.kind, query: m.query, keys: m.keys, conns: m.conns, base: fmt.Sprintf("http://127.0.0.1:%d", port), res: &result{name: m.name}, wres: &result{name: m.name + " [wrk]", wrk: true}, stopSampling: make(chan struct{}), kc: kc}
	args := []string{"-child", m.kind, "-port", strconv.Itoa(port), "-linger", o.linger.String(), "-buffer-bytes", strconv.FormatInt(o.bufferBytes, 10),
		"-unordered-inflight", strconv.Itoa(o.unordered), "-ordered-inflight", strconv.Itoa(o.ordered)}
	env := os.Environ()
	if m.kind == "producer" {
		var stream string
		if m.double {
			stream = fmt.Sprintf("bench-double-%d", time.Now().UnixNano()%1_000_000_000)
			d, err := startDouble(stream, o.shards, o.kinesisLatency, m.query == "")
			if err != nil {
				return nil, err
			}
			s.double = d
			env = append(env, "AWS_ENDPOINT_URL_KINESIS="+d.url)
		} else {
			if stream, err = createStream(ctx, kc, o.shards); err != nil {
				return nil, err
			}
			s.stream = stream // deleted on stop
		}
		args = append(args, "-stream", stream, "-kinesis-bytes-per-sec", strconv.FormatInt(slowBytes, 10))
	}
	if o.cpuProfile != "" {
		args = append(args, "-cpuprofile", fmt.Sprintf("%s.%d", o.cpuProfile, port))
		fmt.Fprintf(os.Stderr, "CPU profile of %s: %s.%d\n", m.name, o.cpuProfile, port)
	}
	if o.memProfile != "" {
		args = append(args, "-memprofile", fmt.Sprintf("%s.%d", o.memProfile, port))
		fmt.Fprintf(os.Stderr, "allocation profile of %s: %s.%d\n", m.name, o.memProfile, port)
	}
	s.cmd = exec.Command(os.Args[0], args...)
	s.cmd.Env = env // later entries win: the double's endpoint replaces kinesis-local's
	s.cmd.Stdout, s.cmd.Stderr = os.Stderr, os.Stderr
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s server: %w", m.kind, err)
	}
	if err := waitUp(s.base, m.kind); err != nil {
		s.stop()
		return nil, err
	}
	if m.kind == "producer" {
		s.sampler.Add(1)
		go func() {
			defer s.sampler.Done()
			for {
				if m, err := scrape(s.base); err == nil {
					if h := uint64(m["go_memstats_heap_inuse_bytes"]); h > s.peakHeap.Load() {
						s.peakHeap.Store(h)
					}
				}
				select {
				case <-s.stopSampling:
					return
				case <-time.After(time.Second):
				}
			}
		}()
	}
	return s, nil
}

// driver runs conc clients against s for a warm-up and o.duration, calls
// measured() when the measured window starts, and fills res with what the
// clients saw in it.
type driver func(s *server, o options, conc int, res *result, measured func()) error

// run drives the server for one slice and adds to r.
func (s *server) run(o options, conc int, r *result, drive driver) error {
	var before map[string]float64
	var cpu0 time.Duration
	var d0 doubleCounts
	var slice result
	if err := drive(s, o, conc, &slice, func() {
		cpu0 = procCPU(s.cmd.Process.Pid)
		if s.kind == "producer" {
			before, _ = scrape(s.base)
		}
		if s.double != nil {
			d0 = s.double.counts()
		}
	}); err != nil {
		return err
	}
	r.cpu += procCPU(s.cmd.Process.Pid) - cpu0
	r.ok += slice.ok
	r.refused += slice.refused
	r.other += slice.other
	r.errs += slice.errs
	r.secs += slice.secs
	r.lat = append(r.lat, slice.lat...)
	if s.double != nil {
		d1 := s.double.counts()
		r.putCalls += float64(d1.calls - d0.calls)
		r.kinRecs += float64(d1.kinRecs - d0.kinRecs)
		r.kinBytes += float64(d1.kinBytes - d0.kinBytes)
		r.held += time.Duration(d1.held - d0.held).Seconds()
		r.written += float64(d1.userRecs - d0.userRecs)
	}
	if s.kind == "producer" {
		after, err := scrape(s.base)
		if err != nil {
			return err
		}
		delta := func(k string) float64 { return after[k] - before[k] }
		r.putOK += delta(`producer_putrecords_calls_total{outcome="ok"}`)
		r.putSecs += delta(`producer_putrecords_duration_seconds_sum{outcome="ok"}`)
		if s.double == nil {
			r.putCalls += delta(`producer_putrecords_calls_total{outcome="ok"}`)
			r.kinRecs += delta("producer_aggregation_user_records_count")
			r.written += delta("producer_records_written_total")
		}
	}
	return nil
}

// finish records peak memory and sorts latencies.
func (s *server) finish() {
	if s.finished {
		return
	}
	s.finished = true
	s.res.peakRSS = procHWM(s.cmd.Process.Pid)
	close(s.stopSampling)
	s.sampler.Wait()
	s.res.peakHeap = float64(s.peakHeap.Load())
	s.wres.peakRSS, s.wres.peakHeap = s.res.peakRSS, s.res.peakHeap
	slices.Sort(s.res.lat)
	slices.Sort(s.wres.lat)
}

// stop sends SIGTERM and waits (the producer flushes; kill after 30 s), and
// records how the child exited.
func (s *server) stop() {
	if s.stopped {
		return
	}
	s.stopped = true
	s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { s.exitErr = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		<-done
		s.exitErr = fmt.Errorf("killed after 30 s without exiting")
	}
	if s.stream != "" {
		s.kc.DeleteStream(context.Background(), &kinesis.DeleteStreamInput{StreamName: aws.String(s.stream)})
	}
	if s.double != nil {
		s.double.close()
	}
}

// drive runs conc clients for warm-up plus duration; measured() is called when
// the measured window starts. Every record carries a fresh id of the server in
// its data; the ids answered 2xx are kept in s.acked.
func drive(s *server, o options, conc int, res *result, measured func()) error {
	url := s.base + "/" + s.query
	tr := &http.Transport{MaxIdleConns: conc, MaxIdleConnsPerHost: conc, MaxConnsPerHost: conc, DisableCompression: true}
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	defer tr.CloseIdleConnections()
	var measuring, stop atomic.Bool
	var ok, refused, other, errs atomic.Int64
	lats := make([][]time.Duration, conc)
	acked := make([][]uint64, conc)
	var wg sync.WaitGroup
	for c := 0; c < conc; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for !stop.Load() {
				id := s.nextID.Add(1) - 1
				body := append(appendRecordData(append(make([]byte, 0, o.recordSize+40), `{"data":"`...), id, o.recordSize), '"')
				if s.keys > 0 {
					body = fmt.Appendf(body, `,"partitionKey":"key-%d"`, rand.N(s.keys))
				}
				body = append(body, '}')
				t0 := time.Now()
				resp, err := client.Post(url, "application/json", bytes.NewReader(body))
				if err != nil {
					if measuring.Load() {
						errs.Add(1)
					}
					time.Sleep(10 * time.Millisecond)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode < 300 {
					acked[c] = append(acked[c], id)
				}
				if !measuring.Load() {
					continue
				}
				switch {
				case resp.StatusCode < 300:
					ok.Add(1)
					lats[c] = append(lats[c], time.Since(t0))
				case resp.StatusCode == 429 || resp.StatusCode == 503:
					refused.Add(1)
				default:
					other.Add(1)
				}
			}
		}(c)
	}
	time.Sleep(o.warmup)
	measured()
	start := time.Now()
	measuring.Store(true)
	time.Sleep(o.duration)
	measuring.Store(false)
	res.secs = time.Since(start).Seconds()
	stop.Store(true)
	wg.Wait()
	res.ok, res.refused, res.other, res.errs = ok.Load(), refused.Load(), other.Load(), errs.Load()
	for _, l := range lats {
		res.lat = append(res.lat, l...)
	}
	s.ackMu.Lock()
	for _, a := range acked {
		s.acked = append(s.acked, a...)
	}
	s.ackMu.Unlock()
	if res.other > 0 || res.errs > 0 {
		fmt.Fprintf(os.Stderr, "  %s: %d unexpected statuses, %d transport errors\n", s.res.name, res.other, res.errs)
	}
	return nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func waitUp(base, kind string) error {
	path := "/readyz"
	if kind == "bare" {
		path = "/"
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + path)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s server at %s not ready", kind, base)
}

func createStream(ctx context.Context, kc *kinesis.Client, shards int) (string, error) {
	name := fmt.Sprintf("bench-producer-%d", time.Now().UnixNano()%1_000_000_000)
	if _, err := kc.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(name), ShardCount: aws.Int32(int32(shards))}); err != nil {
		return "", fmt.Errorf("create stream %s: %w", name, err)
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		out, err := kc.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
		if err == nil && out.StreamDescriptionSummary.StreamStatus == types.StreamStatusActive {
			return name, nil
		}
	}
	return "", fmt.Errorf("stream %s never became ACTIVE", name)
}

// scrapeClient asks for uncompressed metrics: gzip in the server would be
// measurement overhead charged to the producer.
var scrapeClient = &http.Client{Transport: &http.Transport{DisableCompression: true}, Timeout: 10 * time.Second}

// scrape reads the Prometheus text metrics of the producer into name{labels} → value.
func scrape(base string) (map[string]float64, error) {
	resp, err := scrapeClient.Get(base + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err == nil {
			out[line[:i]] = v
		}
	}
	return out, sc.Err()
}

// procCPU returns user+system CPU time of pid from /proc (Linux; 100 ticks/s).
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+s) * 10 * time.Millisecond
}

// procHWM returns the peak resident set size of pid (VmHWM), in bytes.
func procHWM(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			kb, _ := strconv.ParseInt(strings.Fields(line)[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}
