package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
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
	putCalls    float64
	kinRecs     float64
	written     float64
	putSecs     float64 // summed PutRecords latency
}

func (r *result) rps() float64 { return float64(r.ok) / r.secs }

func (r *result) pct(p float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	return r.lat[min(len(r.lat)-1, int(float64(len(r.lat))*p))]
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
	fmt.Printf("producer benchmark: %d-byte records, %d connections, %s per mode in %d interleaved rounds (+%s warm-up each), %d-shard streams on kinesis-local, linger %s\n",
		o.recordSize, o.concurrency, o.duration, o.rounds, o.warmup, o.shards, o.linger)

	// The three servers run side by side; rounds alternate between them so
	// that load from other processes on the machine hits all modes alike.
	modes := []struct {
		name, kind, query string
		unordered         int
	}{
		{"bare net/http (ceiling)", "bare", "", o.unordered},
		{"producer durable (200)", "producer", "", o.unordered},
		{"producer async (202)", "producer", "?ack=async", o.unordered},
	}
	if o.compare {
		modes = append(modes, struct {
			name, kind, query string
			unordered         int
		}{"durable, 4 in flight/shard", "producer", "", 4})
	}
	var servers []*server
	for _, m := range modes {
		mo := o
		mo.unordered = m.unordered
		s, err := startServer(ctx, mo, kc, m.name, m.kind, m.query, 0)
		if err != nil {
			return err
		}
		defer s.stop()
		servers = append(servers, s)
	}
	slice := o
	slice.duration = o.duration / time.Duration(o.rounds)
	for round := 0; round < o.rounds; round++ {
		for _, s := range servers {
			fmt.Fprintf(os.Stderr, "round %d: %s\n", round+1, s.res.name)
			if err := s.run(slice, o.concurrency); err != nil {
				return err
			}
		}
	}
	for _, s := range servers {
		s.finish()
	}
	bare, durable, async := servers[0].res, servers[1].res, servers[2].res

	// Overload: Kinesis absorbs 1/overload of the measured async rate; clients push as fast as they can.
	perRecord := int64(o.recordSize + 36 + 8) // data, UUID key, protobuf framing
	capacity := max(int64(async.rps())/int64(o.overload)*perRecord, 1)
	oo := o
	oo.bufferBytes = o.overBuffer
	oo.duration = max(o.duration, 10*time.Second) // long enough for the buffer to fill
	os_, err := startServer(ctx, oo, kc, fmt.Sprintf("producer async, %dx overload", o.overload), "producer", "?ack=async", capacity)
	if err != nil {
		return err
	}
	defer os_.stop()
	if err := os_.run(oo, o.concurrency); err != nil {
		return err
	}
	os_.finish()
	over := os_.res
	results := []*result{bare, durable, async}
	if o.compare {
		results = append(results, servers[3].res)
	}
	results = append(results, over)

	tw := tabwriter.NewWriter(os.Stdout, 2, 0, 2, ' ', tabwriter.AlignRight|tabwriter.Debug)
	fmt.Fprintln(tw, "mode\treq/s (2xx)\t% of bare\tp50\tp99\tserver CPU per 10k rec\tPutRecords calls per 1k rec\tKinesis records per 1k rec\tuser rec per Kinesis rec\tmean PutRecords\t429/503\tpeak heap MiB\tpeak RSS MiB\t")
	for _, r := range results {
		calls, krecs, agg, putLat := "-", "-", "-", "-"
		if r.putCalls > 0 {
			putLat = (time.Duration(r.putSecs / r.putCalls * float64(time.Second))).Round(100 * time.Microsecond).String()
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
		fmt.Fprintf(tw, "%s\t%.0f\t%.0f%%\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%.0f\t\n", r.name, r.rps(), 100*r.rps()/bare.rps(),
			r.pct(0.50).Round(10*time.Microsecond), r.pct(0.99).Round(10*time.Microsecond), cpu, calls, krecs, agg, putLat, r.refused, heap, float64(r.peakRSS)/(1<<20))
	}
	tw.Flush()
	bound := float64(o.overBuffer)*2 + 64<<20
	verdict := "BOUNDED"
	if over.peakHeap > bound {
		verdict = "NOT BOUNDED"
	}
	fmt.Printf("\ngoals: async %.0f%% of bare (goal >= 70%%), durable %.0f%% (goal >= 40%%), %.0f user records per Kinesis record in async (goal >= 100)\n",
		100*async.rps()/bare.rps(), 100*durable.rps()/bare.rps(), async.written/max(async.kinRecs, 1))
	if over.refused == 0 {
		verdict += " (NOT EXERCISED: the buffer never filled; raise -duration or lower -overload-buffer-bytes)"
	}
	fmt.Printf("memory at %dx overload (Kinesis limited to %d B/s, buffer limit %d MiB): peak heap %.0f MiB, peak RSS %.0f MiB: %s (bound used: 2 x buffer + 64 MiB); %d of %d requests refused with 429/503\n",
		o.overload, capacity, o.overBuffer>>20, over.peakHeap/(1<<20), float64(over.peakRSS)/(1<<20), verdict, over.refused, over.refused+over.ok)
	return nil
}

// server is one server child under test and what was measured on it.
type server struct {
	kind, query, base string
	cmd               *exec.Cmd
	res               *result
	peakHeap          atomic.Uint64
	stopSampling      chan struct{}
	sampler           sync.WaitGroup
	stopped           bool
	stream            string
	kc                *kinesis.Client
}

// startServer starts a server child (with its own stream for the producer).
func startServer(ctx context.Context, o options, kc *kinesis.Client, name, kind, query string, slowBytes int64) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &server{kind: kind, query: query, base: fmt.Sprintf("http://127.0.0.1:%d", port), res: &result{name: name}, stopSampling: make(chan struct{}), kc: kc}
	args := []string{"-child", kind, "-port", strconv.Itoa(port), "-linger", o.linger.String(), "-buffer-bytes", strconv.FormatInt(o.bufferBytes, 10),
		"-unordered-inflight", strconv.Itoa(o.unordered)}
	if kind == "producer" {
		stream, err := createStream(ctx, kc, o.shards)
		if err != nil {
			return nil, err
		}
		if o.cpuProfile != "" {
			args = append(args, "-cpuprofile", fmt.Sprintf("%s.%d", o.cpuProfile, port))
		}
		args = append(args, "-stream", stream, "-kinesis-bytes-per-sec", strconv.FormatInt(slowBytes, 10))
		s.stream = stream
	}
	s.cmd = exec.Command(os.Args[0], args...)
	s.cmd.Stdout, s.cmd.Stderr = os.Stderr, os.Stderr
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s server: %w", kind, err)
	}
	if err := waitUp(s.base, kind); err != nil {
		s.stop()
		return nil, err
	}
	if kind == "producer" {
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

// run drives the server for one slice and adds to its result.
func (s *server) run(o options, conc int) error {
	var before map[string]float64
	var cpu0 time.Duration
	var slice result
	drive(s.base+"/"+s.query, o, conc, &slice, func() {
		cpu0 = procCPU(s.cmd.Process.Pid)
		if s.kind == "producer" {
			before, _ = scrape(s.base)
		}
	})
	r := s.res
	r.cpu += procCPU(s.cmd.Process.Pid) - cpu0
	r.ok += slice.ok
	r.refused += slice.refused
	r.other += slice.other
	r.errs += slice.errs
	r.secs += slice.secs
	r.lat = append(r.lat, slice.lat...)
	if s.kind == "producer" {
		after, err := scrape(s.base)
		if err != nil {
			return err
		}
		delta := func(k string) float64 { return after[k] - before[k] }
		r.putCalls += delta(`producer_putrecords_calls_total{outcome="ok"}`)
		r.kinRecs += delta("producer_aggregation_user_records_count")
		r.written += delta("producer_records_written_total")
		r.putSecs += delta(`producer_putrecords_duration_seconds_sum{outcome="ok"}`)
	}
	return nil
}

// finish records peak memory and sorts latencies.
func (s *server) finish() {
	s.res.peakRSS = procHWM(s.cmd.Process.Pid)
	close(s.stopSampling)
	s.sampler.Wait()
	s.res.peakHeap = float64(s.peakHeap.Load())
	slices.Sort(s.res.lat)
}

// stop sends SIGTERM and waits (the producer flushes; kill after 30 s).
func (s *server) stop() {
	if s.stopped {
		return
	}
	s.stopped = true
	s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
	}
	if s.stream != "" {
		s.kc.DeleteStream(context.Background(), &kinesis.DeleteStreamInput{StreamName: aws.String(s.stream)})
	}
}

// drive runs conc clients for warm-up plus duration; measured() is called when
// the measured window starts.
func drive(url string, o options, conc int, res *result, measured func()) {
	body := []byte(`{"data":"` + strings.Repeat("x", o.recordSize) + `"}`)
	tr := &http.Transport{MaxIdleConns: conc, MaxIdleConnsPerHost: conc, MaxConnsPerHost: conc, DisableCompression: true}
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	defer tr.CloseIdleConnections()
	var measuring, stop atomic.Bool
	var ok, refused, other, errs atomic.Int64
	lats := make([][]time.Duration, conc)
	var wg sync.WaitGroup
	for c := 0; c < conc; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for !stop.Load() {
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
	if res.other > 0 || res.errs > 0 {
		fmt.Fprintf(os.Stderr, "  %s: %d unexpected statuses, %d transport errors\n", res.name, res.other, res.errs)
	}
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
