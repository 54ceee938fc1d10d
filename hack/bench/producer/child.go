package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/kdp-io/streamprocessor-operator/internal/awsconfig"
	"github.com/kdp-io/streamprocessor-operator/workloads/producer"
)

// runChild serves until SIGTERM: the bare handler or the producer, each
// profiled when asked.
func runChild(kind string, port int, stream string, o options, slowBytes int64) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return err
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	if o.memProfile != "" {
		// Allocations over the child's life (alloc_space, alloc_objects).
		defer func() {
			if f, err := os.Create(o.memProfile); err == nil {
				pprof.Lookup("allocs").WriteTo(f, 0)
				f.Close()
			}
		}()
	}
	switch kind {
	case "bare":
		srv := &http.Server{Handler: http.HandlerFunc(bare)}
		go func() { <-ctx.Done(); srv.Close() }()
		if err := srv.Serve(ln); err != http.ErrServerClosed {
			return err
		}
		return nil
	case "producer":
		awsCfg, err := awsconfig.Load(ctx, "")
		if err != nil {
			return err
		}
		var api producer.KinesisAPI = producer.NewKinesisClient(awsCfg)
		if slowBytes > 0 {
			api = &slowKinesis{KinesisAPI: api, bytesPerSec: slowBytes}
		}
		cfg := producer.DefaultConfig()
		cfg.StreamName = stream
		cfg.Linger = o.linger
		cfg.MaxBufferBytes = o.bufferBytes
		cfg.MaxInflightRequests = 1 << 16
		if o.unordered > 0 {
			cfg.UnorderedInflight = o.unordered
		}
		if o.ordered > 0 {
			cfg.OrderedInflight = o.ordered
		}
		cfg.CloudWatchInterval = 0
		log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		return producer.Run(ctx, cfg, producer.Deps{Kinesis: api, Listener: ln}, log)
	}
	return fmt.Errorf("unknown child %q", kind)
}

// bare is the ceiling: read the body, answer 200.
func bare(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	w.WriteHeader(http.StatusOK)
}

// slowKinesis serialises PutRecords and holds each call for its bytes at
// bytesPerSec, so Kinesis can absorb only a fraction of the offered load.
type slowKinesis struct {
	producer.KinesisAPI
	bytesPerSec int64
	mu          sync.Mutex
}

func (s *slowKinesis) PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, optFns ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range in.Records {
		n += len(r.Data)
	}
	time.Sleep(time.Duration(float64(n) / float64(s.bytesPerSec) * float64(time.Second)))
	return s.KinesisAPI.PutRecords(ctx, in, optFns...)
}
