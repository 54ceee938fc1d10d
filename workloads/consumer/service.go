package consumer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/kdp-io/streamprocessor-operator/workloads/kcl"
)

// KinesisAPI is what the service needs from Kinesis: reading, and PutRecord
// for a dead-letter stream. *kinesis.Client satisfies it.
type KinesisAPI interface {
	kcl.KinesisAPI
	PutRecordAPI
}

// Deps are the service's collaborators; main wires the real AWS clients.
type Deps struct {
	Kinesis    KinesisAPI
	DynamoDB   kcl.DynamoDBAPI
	CloudWatch PutMetricDataAPI // used when Config.CloudWatchEnabled
	// Handler processes records; nil means JSON lines to Config.Output.
	Handler Handler
	// Metrics to record into; nil means new ones. Pass the same Metrics whose
	// CountAWSCalls the AWS clients use.
	Metrics *Metrics
	Logger  *slog.Logger
}

// Service is one consumer process: a kcl.Worker, the handler, the HTTP
// endpoints and the CloudWatch publisher.
type Service struct {
	cfg     Config
	deps    Deps
	log     *slog.Logger
	metrics *Metrics
	ln      net.Listener
	ready   atomic.Bool
	// notReady says why the service is not ready (shown by /readyz).
	notReady atomic.Pointer[string]
	closers  []io.Closer
	handler  Handler
	dead     DeadLetter
}

// New prepares a service: opens the output and dead-letter files and the HTTP
// listener. Nothing talks to AWS until Run.
func New(cfg Config, deps Deps) (*Service, error) {
	if deps.Kinesis == nil || deps.DynamoDB == nil || (cfg.CloudWatchEnabled && deps.CloudWatch == nil) {
		return nil, errors.New("new consumer: Kinesis, DynamoDB and (when enabled) CloudWatch clients are required")
	}
	s := &Service{cfg: cfg, deps: deps, log: deps.Logger, metrics: deps.Metrics, handler: deps.Handler}
	if s.metrics == nil {
		s.metrics = NewMetrics()
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.handler == nil && len(cfg.ProcessorCommand) == 0 {
		var out io.Writer = os.Stdout
		if cfg.Output != "" && cfg.Output != "-" {
			f, err := os.OpenFile(cfg.Output, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
			if err != nil {
				return nil, fmt.Errorf("open output %q: %w", cfg.Output, err)
			}
			s.closers = append(s.closers, f)
			out = f
		}
		s.handler = NewJSONLines(out)
	}
	switch {
	case cfg.DeadLetterFile != "":
		f, err := os.OpenFile(cfg.DeadLetterFile, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			s.close()
			return nil, fmt.Errorf("open dead-letter file %q: %w", cfg.DeadLetterFile, err)
		}
		s.closers = append(s.closers, f)
		s.dead = &FileDeadLetter{W: f}
	case cfg.DeadLetterStream != "":
		s.dead = &StreamDeadLetter{API: deps.Kinesis, Stream: cfg.DeadLetterStream, Timeout: kcl.KinesisCallTimeout(cfg.LeaseDuration)}
	}
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		s.close()
		return nil, fmt.Errorf("listen on %q: %w", cfg.HTTPAddr, err)
	}
	s.ln = ln
	return s, nil
}

// Addr is the address the HTTP endpoints listen on.
func (s *Service) Addr() string { return s.ln.Addr().String() }

// Metrics returns the service's metrics.
func (s *Service) Metrics() *Metrics { return s.metrics }

func (s *Service) close() {
	for _, c := range s.closers {
		_ = c.Close()
	}
}

// Run consumes until ctx is cancelled (SIGTERM), then stops gracefully within
// Config.ShutdownTimeout: the worker finishes its batches, checkpoints and
// releases its leases. If the budget runs out, processing stops at once
// without further checkpoints (records after the last checkpoint are
// redelivered to the next owner). Run returns an error if the worker cannot
// start or stops by itself.
func (s *Service) Run(ctx context.Context) error {
	defer s.close()
	srv := &http.Server{Handler: s.mux(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("HTTP server stopped", "error", err)
		}
	}()
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()

	// hard ends processing at once; it outlives ctx so the stop can be graceful.
	hard, stopHard := context.WithCancel(context.Background())
	defer stopHard()
	factory := s.processorFactory(hard)
	if ml, ok := factory.(*multiLangFactory); ok {
		defer ml.killAll() // after a hard stop no processor may outlive the consumer
	}
	worker, err := kcl.NewWorker(kcl.Config{
		ApplicationName: s.cfg.ApplicationName, StreamName: s.cfg.StreamName, WorkerID: s.cfg.WorkerID,
		InitialPosition: s.cfg.StartPosition, Timestamp: s.cfg.StartTimestamp,
		LeaseDuration: s.cfg.LeaseDuration, ShardSyncInterval: s.cfg.ShardSyncInterval,
		IdleTimeBetweenReads: s.cfg.PollInterval, MaxRecords: int32(min(s.cfg.MaxRecords, 10000)),
		Observer: s.metrics, Logger: s.log,
	}, factory, s.deps.Kinesis, s.deps.DynamoDB)
	if err != nil {
		return err
	}
	if err := s.startWorker(ctx, hard, worker); err != nil {
		return err
	}
	s.notReady.Store(nil)
	s.ready.Store(true)
	s.log.Info("Consumer started", "stream", s.cfg.StreamName, "application", s.cfg.ApplicationName, "worker", s.cfg.WorkerID,
		"startPosition", s.cfg.StartPosition, "http", s.Addr(), "processorCommand", strings.Join(s.cfg.ProcessorCommand, " "))

	var pub *CloudWatchPublisher
	pubDone := make(chan struct{})
	if s.cfg.CloudWatchEnabled {
		pub = &CloudWatchPublisher{API: s.deps.CloudWatch, Namespace: s.cfg.CloudWatchNamespace, Stream: s.cfg.StreamName,
			App: s.cfg.ApplicationName, Metrics: s.metrics}
		go s.publishLoop(hard, pub, pubDone)
	} else {
		close(pubDone)
	}

	var runErr error
	select {
	case <-ctx.Done():
		s.log.Info("Stopping consumer")
	case <-worker.Done():
		runErr = fmt.Errorf("consumer worker %q stopped unexpectedly", s.cfg.WorkerID)
	}
	s.ready.Store(false)
	s.setNotReady("stopping")
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	if err := worker.Shutdown(sctx); err != nil {
		s.log.Warn("Graceful stop ran out of time; stopping at once", "error", err)
	}
	stopHard()
	<-worker.Done()
	<-pubDone
	if fl, ok := s.handler.(Flusher); ok {
		if err := fl.Flush(); err != nil {
			s.log.Warn("Final flush failed", "error", err)
		}
	}
	if pub != nil {
		pctx, pcancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer pcancel()
		if err := pub.Publish(pctx, time.Now()); err != nil {
			s.log.Warn("Final CloudWatch publish failed", "error", err)
		}
	}
	s.log.Info("Consumer stopped")
	return runErr
}

// processorFactory is the MultiLang factory when a processor command is
// set, else the handler's.
func (s *Service) processorFactory(hard context.Context) kcl.RecordProcessorFactory {
	if len(s.cfg.ProcessorCommand) > 0 {
		return &multiLangFactory{ctx: hard, command: s.cfg.ProcessorCommand, env: os.Environ(), timeout: s.cfg.ProcessorTimeout,
			grace: min(s.cfg.ShutdownTimeout/2, 5*time.Second), metrics: s.metrics, log: s.log}
	}
	return &processorFactory{ctx: hard, handler: s.handler, dead: s.dead, attempts: s.cfg.RetryAttempts,
		backoff: s.cfg.RetryBackoff, metrics: s.metrics, log: s.log}
}

// startWorker starts the worker, retrying while AWS is unreachable or the
// lease table is unusable (the service stays alive but not ready, with the
// reason in /readyz) until ctx ends.
func (s *Service) startWorker(ctx, hard context.Context, w *kcl.Worker) error {
	delay := time.Second
	s.setNotReady("starting")
	for {
		err := w.Start(hard)
		if err == nil {
			s.metrics.leaseTableInvalid.Set(0)
			return nil
		}
		s.setNotReady(err.Error())
		if errors.Is(err, kcl.ErrWrongSchema) {
			s.metrics.leaseTableInvalid.Set(1)
			s.log.Error("Lease table has the wrong key schema; not starting", "table", s.cfg.ApplicationName, "error", err, "retryIn", delay)
		} else {
			s.log.Warn("Starting worker failed; retrying", "error", err, "in", delay)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("start consumer worker: %w", err)
		case <-time.After(delay):
		}
		delay = min(2*delay, 30*time.Second)
	}
}

func (s *Service) setNotReady(why string) { s.notReady.Store(&why) }

func (s *Service) publishLoop(ctx context.Context, pub *CloudWatchPublisher, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(s.cfg.CloudWatchInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			pctx, cancel := context.WithTimeout(ctx, s.cfg.LeaseDuration)
			if err := pub.Publish(pctx, now); err != nil && ctx.Err() == nil {
				s.log.Warn("CloudWatch publish failed", "error", err)
			}
			cancel()
		}
	}
}

// mux serves /healthz (the process is alive), /readyz (the worker runs and is
// not stopping) and /metrics.
func (s *Service) mux() *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	m.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !s.ready.Load() {
			msg := "not ready\n"
			if why := s.notReady.Load(); why != nil {
				msg = "not ready: " + *why + "\n"
			}
			http.Error(w, msg, http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ready\n")
	})
	m.Handle("/metrics", promhttp.HandlerFor(s.metrics.Registry, promhttp.HandlerOpts{Registry: s.metrics.Registry}))
	return m
}
