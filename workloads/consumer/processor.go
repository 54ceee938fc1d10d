package consumer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/kdp-io/streamprocessor-operator/workloads/kcl"
)

// maxRetryDelay caps the backoff between attempts of one record.
const maxRetryDelay = 10 * time.Second

// processorFactory builds one recordProcessor per shard lease.
type processorFactory struct {
	ctx      context.Context // cancelled when the service must stop at once
	handler  Handler
	dead     DeadLetter // nil: a record that keeps failing blocks its shard
	attempts int
	backoff  time.Duration
	metrics  *Metrics
	log      *slog.Logger
}

func (f *processorFactory) CreateProcessor() kcl.RecordProcessor {
	return &recordProcessor{f: f}
}

// recordProcessor hands each user record to the Handler, retrying with
// backoff, then dead-letters it; it checkpoints only after every record of the
// batch is handled (or dead-lettered) and the handler flushed. If it has to
// give up on a record (the service is stopping), it never checkpoints again,
// so the next owner of the shard redelivers from the last good checkpoint.
type recordProcessor struct {
	f      *processorFactory
	shard  string
	log    *slog.Logger
	broken bool
}

func (p *recordProcessor) Initialize(in *kcl.InitializationInput) {
	p.shard = in.ShardID
	p.log = p.f.log.With("shardId", in.ShardID)
	p.log.Info("Processing shard", "checkpoint", in.ExtendedSequenceNumber.SequenceNumber,
		"subSequenceNumber", in.ExtendedSequenceNumber.SubSequenceNumber)
}

func (p *recordProcessor) ProcessRecords(in *kcl.ProcessRecordsInput) {
	if p.broken {
		return
	}
	// ctx ends when the lease is lost: the rest of the batch is then another
	// worker's to deliver, and nothing more is handled here.
	ctx := in.Context
	if ctx == nil {
		ctx = p.f.ctx
	}
	for _, r := range in.Records {
		if ctx.Err() != nil {
			p.broken = true
			p.log.Info("Lease lost; stopped handling the batch", "sequenceNumber", r.SequenceNumber, "subSequenceNumber", r.SubSequenceNumber)
			return
		}
		if err := p.handle(ctx, Record{ShardID: in.ShardID, Record: r}); err != nil {
			p.broken = true
			p.log.Warn("Stopped processing shard without checkpoint", "sequenceNumber", r.SequenceNumber, "error", err)
			return
		}
	}
	p.checkpoint(in.Checkpointer)
}

func (p *recordProcessor) Shutdown(in *kcl.ShutdownInput) {
	p.log.Info("Shard processor shut down", "reason", in.ShutdownReason.String())
	if p.broken || in.ShutdownReason == kcl.ZOMBIE {
		_ = p.flush()
		return
	}
	p.checkpoint(in.Checkpointer)
}

// checkpoint flushes the handler and checkpoints the last delivered record
// (SHARD_END at TERMINATE).
func (p *recordProcessor) checkpoint(cp kcl.Checkpointer) {
	if err := p.flush(); err != nil {
		p.broken = true
		p.log.Warn("Stopped processing shard without checkpoint", "error", err)
		return
	}
	start := time.Now()
	err := cp.Checkpoint(nil)
	switch {
	case errors.Is(err, kcl.ErrLeaseLost):
		p.log.Info("Lease lost; not checkpointed", "error", err)
	case err != nil:
		// The next batch's checkpoint covers this one.
		p.log.Warn("Checkpoint failed", "error", err, "took", time.Since(start))
	}
}

// flush retries the handler's Flush until it works or the service stops.
func (p *recordProcessor) flush() error {
	fl, ok := p.f.handler.(Flusher)
	if !ok {
		return nil
	}
	return p.retryForever(p.f.ctx, "flush output", func() error { return fl.Flush() })
}

// callHandler runs the handler on r; a panic is recovered and returned as an
// error (logged with its stack), so it is retried and dead-lettered like one,
// and the other shards go on.
func (p *recordProcessor) callHandler(ctx context.Context, r Record) (err error) {
	defer func() {
		if v := recover(); v != nil {
			p.f.metrics.panicked()
			p.log.Error("Record handler panicked", "sequenceNumber", r.SequenceNumber, "subSequenceNumber", r.SubSequenceNumber,
				"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			err = fmt.Errorf("handler panicked: %v", v)
		}
	}()
	return p.f.handler.Handle(ctx, r)
}

// handle processes r with up to f.attempts attempts, then dead-letters it. It
// fails only when ctx ends first (the service stops or the lease is lost).
func (p *recordProcessor) handle(ctx context.Context, r Record) error {
	f := p.f
	var err error
	delay := f.backoff
	for attempt := 1; attempt <= f.attempts; attempt++ {
		if err = p.callHandler(ctx, r); err == nil {
			f.metrics.processed(1)
			return nil
		}
		f.metrics.failed()
		if attempt == f.attempts {
			break
		}
		if werr := sleepCtx(ctx, delay); werr != nil {
			return werr
		}
		delay = min(2*delay, maxRetryDelay)
	}
	if f.dead == nil {
		p.log.Warn("Record keeps failing and no dead-letter destination is set; retrying until it succeeds",
			"sequenceNumber", r.SequenceNumber, "subSequenceNumber", r.SubSequenceNumber, "error", err)
		f.metrics.block(1)
		defer f.metrics.block(-1)
		return p.retryForever(ctx, "process record", func() error {
			if herr := p.callHandler(ctx, r); herr != nil {
				f.metrics.failed()
				return herr
			}
			f.metrics.processed(1)
			return nil
		})
	}
	cause := err
	if derr := p.retryForever(ctx, "dead-letter record", func() error { return f.dead.Write(ctx, r, cause, f.attempts) }); derr != nil {
		return derr
	}
	f.metrics.deadLettered()
	p.log.Warn("Dead-lettered record", "sequenceNumber", r.SequenceNumber, "subSequenceNumber", r.SubSequenceNumber,
		"attempts", f.attempts, "error", cause)
	return nil
}

// retryForever runs op until it succeeds, backing off up to maxRetryDelay; it
// returns an error only when ctx ends.
func (p *recordProcessor) retryForever(ctx context.Context, what string, op func() error) error {
	delay := p.f.backoff
	for {
		err := op()
		if err == nil {
			return nil
		}
		p.log.Warn("Retrying", "operation", what, "error", err, "in", delay)
		if werr := sleepCtx(ctx, delay); werr != nil {
			return werr
		}
		delay = min(2*delay, maxRetryDelay)
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
