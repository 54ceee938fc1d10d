// Command loadgen sends records to a producer (on the local stack, the local
// load balancer at $LOCAL_PRODUCER_URL) at a fixed rate or following a
// traffic trace, prints a progress line every second and a summary at the
// end. It stops by itself: every run is bounded by -duration, -records or the
// trace's length.
//
//	loadgen -rate 500 -duration 1m                          # the seed's POST / one record at a time
//	loadgen -rate 3000 -batch 100 -records 100000           # POST /records, 100 records a request
//	loadgen -trace ../shared/traces/nyc_taxi.csv -peak-mibps 2 -speedup 60 -batch 100
//
// Exit status: 0 when every record sent was acknowledged, 1 when some were
// not (throttled, refused or unanswered), 2 for bad flags.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/kdp-io/streamprocessor-operator/internal/loadgen"
	"github.com/kdp-io/streamprocessor-operator/internal/sim"
)

func main() {
	os.Exit(run())
}

func run() int {
	defaultURL := os.Getenv("LOCAL_PRODUCER_URL")
	if defaultURL == "" {
		defaultURL = "http://127.0.0.1:8080"
	}
	var (
		o         loadgen.Options
		rate      = flag.Float64("rate", 100, "records per second (ignored with -trace)")
		trace     = flag.String("trace", "", "CSV trace (timestamp,value), as cmd/simulate reads it: the rate follows its shape")
		peakMiBps = flag.Float64("peak-mibps", 1, "with -trace: the rate at the trace's peak, in MiB/s of record data")
		speedup   = flag.Float64("speedup", 60, "with -trace: trace minutes per minute of the run")
		quiet     = flag.Bool("quiet", false, "no progress lines, only the summary")
	)
	flag.StringVar(&o.URL, "url", defaultURL, "producer URL (default $LOCAL_PRODUCER_URL)")
	flag.IntVar(&o.Batch, "batch", 1, "records per request: 1 posts the seed's POST / {\"data\": ...}; more post /records")
	flag.IntVar(&o.RecordBytes, "record-bytes", 100, "bytes of data per record")
	flag.DurationVar(&o.Duration, "duration", 0, "stop after this long (0: the trace's length or -records)")
	flag.Int64Var(&o.MaxRecords, "records", 0, "stop after this many records (0: no limit)")
	flag.IntVar(&o.Concurrency, "concurrency", 64, "requests in flight at most")
	flag.BoolVar(&o.Async, "async", false, "ask for 202 acknowledgements (?ack=async) instead of durable 200s")
	flag.StringVar(&o.AuthToken, "auth-token", os.Getenv("AUTH_TOKEN"), "bearer token, when the producer has AUTH_TOKEN set")
	flag.Parse()

	o.Schedule = loadgen.Fixed(*rate)
	if *trace != "" {
		t, err := sim.LoadTraceFile(*trace)
		if err != nil {
			fmt.Fprintln(os.Stderr, "loadgen:", err)
			return 2
		}
		if *peakMiBps <= 0 || o.RecordBytes <= 0 {
			fmt.Fprintln(os.Stderr, "loadgen: -peak-mibps and -record-bytes must be positive")
			return 2
		}
		peak := *peakMiBps * (1 << 20) / float64(o.RecordBytes)
		o.Schedule = loadgen.FromTrace(t.Load, peak, *speedup)
		fmt.Fprintf(os.Stderr, "loadgen: trace %s, %d minutes in %s, peak %.0f records/s\n",
			t.Name, t.Minutes(), time.Duration(float64(t.Minutes())/(*speedup)*float64(time.Minute)).Round(time.Second), peak)
	} else if *rate <= 0 {
		fmt.Fprintln(os.Stderr, "loadgen: -rate must be positive")
		return 2
	}
	if !*quiet {
		o.Progress = os.Stderr
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	s, err := loadgen.Run(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	fmt.Println(s)
	if s.Acknowledged < s.Sent {
		return 1
	}
	return 0
}
