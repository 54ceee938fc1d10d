// Command producer-bench measures the producer over loopback, side by side
// with a bare net/http handler that only reads the body and answers 200 (the
// HTTP ceiling of this machine), in durable and async mode against two
// Kinesis backends: kinesis-local (the emulator-bound case) and a Kinesis
// double in this process that answers every PutRecords after a fixed latency
// (-kinesis-latency, 20 ms by default), counts what arrives and checks that
// every acknowledged record arrived. It also checks that the producer's
// memory stays bounded at 10x overload. It reports numbers; it does not pass
// or fail (a failed delivery check is printed as an ERROR). Run with the
// emulator environment:
//
//	source .local/emulators.env && go run ./hack/bench/producer [-duration 10s]
//
// Servers run as child processes (this binary re-executed), so CPU and RSS are
// the server's alone, not the load generator's.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"
)

type options struct {
	duration       time.Duration
	warmup         time.Duration
	concurrency    int
	lowConcurrency int
	recordSize     int
	shards         int
	overload       int
	linger         time.Duration
	bufferBytes    int64
	overBuffer     int64
	cpuProfile     string
	memProfile     string
	rounds         int
	unordered      int
	ordered        int
	compare        bool
	compareOne     bool
	keys           int
	// kinesisLatency is how long the Kinesis double holds every PutRecords.
	kinesisLatency time.Duration
	// wrk: drive every server with wrk too, right after the Go client.
	wrk bool
}

func main() {
	var o options
	child := flag.String("child", "", "internal: run as the server child (bare or producer)")
	port := flag.Int("port", 0, "internal: child listen port")
	stream := flag.String("stream", "", "internal: child stream name")
	slowBytes := flag.Int64("kinesis-bytes-per-sec", 0, "internal: throttle the child's PutRecords to this many bytes/s")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of each server child (bare handler and producers) to this path prefix")
	flag.StringVar(&o.memProfile, "memprofile", "", "write an allocation profile of each server child to this path prefix (at its exit)")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "measured duration per mode")
	flag.IntVar(&o.rounds, "rounds", 5, "interleaved rounds the duration is split into")
	flag.DurationVar(&o.warmup, "warmup", 500*time.Millisecond, "unmeasured warm-up before each measured slice")
	flag.IntVar(&o.concurrency, "concurrency", 1024, "concurrent client connections (enough that durable modes are not bound by connections ÷ round trip)")
	flag.IntVar(&o.lowConcurrency, "low-concurrency", 256, "also run the bare handler and durable against the double with this many connections (0: skip)")
	flag.IntVar(&o.recordSize, "record-size", 100, "bytes of data per record")
	flag.IntVar(&o.shards, "shards", 2, "shards of the benchmark stream")
	flag.IntVar(&o.overload, "overload", 10, "overload factor for the memory check")
	flag.DurationVar(&o.linger, "linger", 10*time.Millisecond, "producer LINGER")
	flag.Int64Var(&o.bufferBytes, "buffer-bytes", 64<<20, "producer MAX_BUFFER_BYTES")
	flag.Int64Var(&o.overBuffer, "overload-buffer-bytes", 8<<20, "producer MAX_BUFFER_BYTES in the overload check (small, so it fills within the run)")
	flag.IntVar(&o.unordered, "unordered-inflight", 0, "producer UNORDERED_INFLIGHT (0: the producer's default)")
	flag.IntVar(&o.ordered, "ordered-inflight", 0, "producer ORDERED_INFLIGHT (0: the producer's default)")
	flag.BoolVar(&o.compareOne, "compare-inflight-1", false, "add durable modes (kinesis-local and the double) with UNORDERED_INFLIGHT=1 and ORDERED_INFLIGHT=1 (one call in flight per shard lane, the defaults before 2026-11-25)")
	flag.IntVar(&o.keys, "keys", 0, "when > 0, add durable modes against the double whose records carry caller partition keys drawn from this many keys (ordered lane), with the default ORDERED_INFLIGHT and with 1")
	flag.DurationVar(&o.kinesisLatency, "kinesis-latency", 20*time.Millisecond, "latency the Kinesis double adds to every PutRecords (assumed typical in-region PutRecords latency)")
	flag.BoolVar(&o.compare, "compare-unordered-inflight-4", false, "add durable modes (kinesis-local and the double) with UNORDERED_INFLIGHT=4 (pipelined calls per shard for generated keys)")
	flag.BoolVar(&o.wrk, "wrk", true, "also drive every mode with wrk (a C load generator; apt-get install -y wrk) in the same rounds, rows marked [wrk]")
	flag.Parse()
	if *child != "" {
		if err := runChild(*child, *port, *stream, o, *slowBytes); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	if err := runBench(context.Background(), o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}
