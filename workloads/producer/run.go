package producer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/kdp-io/streamprocessor-operator/internal/awsconfig"
)

// Deps are the producer's connections to the outside; nil CloudWatch disables
// metric publishing, nil Listener listens on cfg.Port.
type Deps struct {
	Kinesis    KinesisAPI
	CloudWatch CloudWatchAPI
	Listener   net.Listener
}

// Main is the producer binary: configuration from args and the environment,
// AWS clients from the standard SDK chain, Run until SIGTERM or SIGINT. It
// returns the process exit code.
func Main(args []string) int {
	cfg, err := LoadConfig(args, os.Getenv, os.Stderr)
	log := newLogger(cfg.LogLevel)
	if err != nil {
		log.Error("Invalid configuration", "error", err)
		return 2
	}
	mem, source := TaskMemory(cfg, readFile)
	cfg.MaxInflightBytes = InflightBytesFor(cfg, mem)
	goLimit := "GOMEMLIMIT"
	if os.Getenv("GOMEMLIMIT") == "" && mem > 0 {
		debug.SetMemoryLimit(MemoryLimit(mem))
		goLimit = strconv.FormatInt(MemoryLimit(mem), 10)
	}
	log.Info("Memory bounds", "taskMemoryBytes", mem, "taskMemorySource", source, "goMemoryLimit", goLimit,
		"maxInflightBytes", cfg.MaxInflightBytes, "maxBufferBytes", cfg.MaxBufferBytes)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	awsCfg, err := awsconfig.Load(ctx, cfg.Region)
	if err != nil {
		log.Error("Cannot load AWS configuration", "error", err)
		return 1
	}
	deps := Deps{Kinesis: NewKinesisClient(awsCfg)}
	if cfg.CloudWatchInterval > 0 {
		deps.CloudWatch = cloudwatch.NewFromConfig(awsCfg, awsconfig.CloudWatchQueryProtocol)
	}
	if err := Run(ctx, cfg, deps, log); err != nil {
		log.Error("Producer stopped with an error", "error", err)
		return 1
	}
	return 0
}

// NewKinesisClient returns the Kinesis client the producer uses: the SDK's own
// retries are off, because the pipeline retries failed calls and entries
// itself (backoff with jitter, order kept) and counts every attempt.
func NewKinesisClient(cfg aws.Config) *kinesis.Client {
	return kinesis.NewFromConfig(cfg, func(o *kinesis.Options) { o.RetryMaxAttempts = 1 })
}

func newLogger(level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: l}))
}

// ReadHeaderTimeout bounds the reading of a request's headers.
const ReadHeaderTimeout = 5 * time.Second

// Run serves until ctx ends, then shuts down within cfg.StopTimeout: readiness
// fails and new requests get 503, in-flight requests are answered, everything
// buffered is flushed to Kinesis, and the final ingest metrics are published.
// It returns an error if records were left unwritten.
func Run(ctx context.Context, cfg Config, deps Deps, log *slog.Logger) error {
	m := NewMetrics()
	pipe := NewPipeline(cfg, deps.Kinesis, m, log)
	pipe.Start()
	defer pipe.Close()
	h := NewHandler(cfg, pipe, m)

	ln := deps.Listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", ":"+strconv.Itoa(cfg.Port)); err != nil {
			return fmt.Errorf("listen on port %d: %w", cfg.Port, err)
		}
	}
	// No whole-request ReadTimeout: the handler sets a body deadline that
	// follows the body's size (BODY_READ_TIMEOUT + size / MIN_BODY_RATE).
	srv := &http.Server{Handler: h, ReadHeaderTimeout: ReadHeaderTimeout, IdleTimeout: 120 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	log.Info("Producer started", "stream", cfg.StreamName, "addr", ln.Addr().String())

	// The publisher keeps its boundaries through the drain after ctx ends
	// (records accepted then still count) and stops once the buffer is flushed.
	var pub *publisher
	pubCtx, stopPub := context.WithCancel(context.Background())
	defer stopPub()
	pubDone := make(chan struct{})
	if deps.CloudWatch != nil && cfg.CloudWatchInterval > 0 {
		pub = newPublisher(deps.CloudWatch, cfg.CloudWatchNamespace, cfg.StreamName, m, cfg.CloudWatchInterval, wallClock)
		go func() {
			defer close(pubDone)
			pub.run(pubCtx, log)
		}()
	} else {
		close(pubDone)
	}

	select {
	case err := <-serveErr:
		return fmt.Errorf("serve HTTP: %w", err)
	case <-ctx.Done():
	}
	start := time.Now()
	log.Info("Shutting down", "stopTimeout", cfg.StopTimeout.String(), "buffered", pipe.Outstanding())
	deadline, cancel := context.WithTimeout(context.Background(), cfg.StopTimeout-cfg.StopTimeout/10)
	defer cancel()
	h.SetDraining()
	pipe.StartDrain()
	var errs []error
	if err := srv.Shutdown(deadline); err != nil {
		errs = append(errs, fmt.Errorf("finish in-flight requests: %w", err))
	}
	if err := pipe.Flush(deadline); err != nil {
		errs = append(errs, err)
	}
	stopPub()
	<-pubDone
	if pub != nil {
		pctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		// The partial interval since the last boundary, stamped with its start.
		if err := pub.publish(pctx, pub.clock.now()); err != nil {
			log.Warn("CloudWatch publish failed", "error", err)
		}
		cancel()
	}
	log.Info("Producer stopped", "took", time.Since(start).String(), "unwritten", pipe.Outstanding())
	return errors.Join(errs...)
}
