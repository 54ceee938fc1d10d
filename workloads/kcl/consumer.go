package kcl

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/big"
	"runtime/debug"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kdp-io/streamprocessor-operator/workloads/kpl"
)

// shardConsumer reads one shard for one held lease and feeds its processor.
type shardConsumer struct {
	w       *Worker
	h       *heldLease
	shardID string

	proc RecordProcessor
	// skip is the position already processed: user records at or before it
	// in the first batch after (re)positioning the iterator are dropped.
	skip      *ExtendedSequenceNumber
	delivered *ExtendedSequenceNumber // last user record delivered
	lastSubs  map[string]int64        // last sub-sequence number per aggregated record of the latest batch
	ended     bool                    // NextShardIterator was nil: shard fully read
	shardEnd  bool                    // SHARD_END checkpoint written
	failed    error                   // the processor said it failed: no more calls
}

// run consumes the shard from the lease's checkpoint until the lease ends,
// is lost or released, the shard ends, or the processor fails.
func (sc *shardConsumer) run(ctx context.Context) {
	start := sc.h.lease.Checkpoint
	if start.SequenceNumber == CheckpointShardEnd {
		_ = sc.w.release(ctx, sc.h)
		return
	}
	sc.proc = sc.w.factory.CreateProcessor()
	if !sc.safely("Initialize", func() {
		sc.proc.Initialize(&InitializationInput{ShardID: sc.shardID, ExtendedSequenceNumber: start})
	}) {
		sc.releaseFailed(ctx)
		return
	}
	if iter, ok := sc.firstIterator(ctx, start); ok {
		sc.readLoop(ctx, start, iter)
	}
}

// firstIterator gets the iterator at start, retrying with backoff; when the
// consumer must stop first, it shuts down and returns false.
func (sc *shardConsumer) firstIterator(ctx context.Context, start ExtendedSequenceNumber) (*string, bool) {
	backoff := newBackoff(MinTimeBetweenReads, 10*time.Second)
	for {
		iter, err := sc.iterator(sc.h.lostCtx, start)
		if iter != nil {
			return iter, true
		}
		if reason, stop := sc.stopReason(ctx); stop {
			sc.shutdown(ctx, reason)
			return nil, false
		}
		sc.w.log.Warn("Getting shard iterator failed", "shardId", sc.shardID, "error", err)
		sc.sleep(ctx, backoff.next())
	}
}

// readLoop reads the shard from iter and delivers each batch, at most 5
// GetRecords calls a second, until the consumer stops or the shard ends.
func (sc *shardConsumer) readLoop(ctx context.Context, start ExtendedSequenceNumber, iter *string) {
	backoff := newBackoff(MinTimeBetweenReads, 10*time.Second)
	var lastCall time.Time
	for {
		if sc.failed != nil {
			sc.releaseFailed(ctx)
			return
		}
		if reason, stop := sc.stopReason(ctx); stop {
			sc.shutdown(ctx, reason)
			return
		}
		// Whatever happened before (data, error, new iterator), stay within
		// 5 GetRecords calls per second on this shard.
		sc.sleep(ctx, MinTimeBetweenReads-time.Since(lastCall))
		if _, stop := sc.stopReason(ctx); stop {
			continue
		}
		lastCall = time.Now()
		out, err := sc.w.kinesis.GetRecords(sc.h.lostCtx, &kinesis.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(sc.w.cfg.MaxRecords)})
		if err != nil {
			if _, stop := sc.stopReason(ctx); stop {
				continue
			}
			if fresh, ok := sc.afterReadError(err, start); ok {
				iter = fresh
				continue
			}
			sc.sleep(ctx, backoff.next())
			continue
		}
		backoff.reset()
		if !sc.deliver(out, lastCall) {
			continue
		}
		if out.NextShardIterator == nil {
			sc.ended = true
			sc.shutdown(ctx, TERMINATE)
			return
		}
		iter = out.NextShardIterator
		if len(out.Records) == 0 || aws.ToInt64(out.MillisBehindLatest) == 0 {
			sc.sleep(ctx, sc.w.cfg.IdleTimeBetweenReads-time.Since(lastCall))
		}
	}
}

// afterReadError logs a failed GetRecords call. When the iterator expired
// and a fresh one at the last delivered position is had, it returns that one
// to read again at once (true); otherwise the caller backs off.
func (sc *shardConsumer) afterReadError(err error, start ExtendedSequenceNumber) (*string, bool) {
	var thr *types.ProvisionedThroughputExceededException
	var exp *types.ExpiredIteratorException
	switch {
	case errors.As(err, &thr):
		sc.w.log.Info("Read throttled; backing off", "shardId", sc.shardID, "error", err)
	case errors.As(err, &exp):
		pos := start
		if sc.delivered != nil {
			pos = *sc.delivered
		}
		if it, ierr := sc.iterator(sc.h.lostCtx, pos); ierr == nil {
			return it, true
		}
		sc.w.log.Warn("Refreshing expired iterator failed", "shardId", sc.shardID, "error", err)
	default:
		sc.w.log.Warn("Reading records failed", "shardId", sc.shardID, "error", err)
	}
	return nil, false
}

// deliver hands a batch's user records to the processor while the lease is
// still held and reports the read. It returns false when the batch must not
// count as read: the lease may be another worker's by now (nothing was
// delivered), or the processor failed (stopReason now says ZOMBIE).
func (sc *shardConsumer) deliver(out *kinesis.GetRecordsOutput, callStart time.Time) bool {
	records := sc.userRecords(out.Records)
	behind := aws.ToInt64(out.MillisBehindLatest)
	if len(records) > 0 {
		if !sc.h.holds(time.Now()) {
			sc.h.lostCancel()
			return false
		}
		last := records[len(records)-1]
		sc.delivered = &ExtendedSequenceNumber{last.SequenceNumber, last.SubSequenceNumber}
		if !sc.safely("ProcessRecords", func() {
			sc.proc.ProcessRecords(&ProcessRecordsInput{
				ShardID: sc.shardID, Records: records, MillisBehindLatest: behind,
				CacheEntryTime: callStart, Checkpointer: &checkpointer{sc: sc}, Context: sc.h.lostCtx,
			})
		}) {
			return false
		}
	}
	sc.w.cfg.Observer.RecordsRead(sc.shardID, len(records), behind)
	return true
}

// stopReason says whether the consumer must stop and why: the worker is
// stopping or another worker asked for the lease (REQUESTED), or the lease is
// lost (ZOMBIE). ctx cancelled means the
// worker was killed; the returned reason is then 0 and shutdown does nothing.
func (sc *shardConsumer) stopReason(ctx context.Context) (ShutdownReason, bool) {
	if ctx.Err() != nil {
		return 0, true
	}
	if sc.h.lostCtx.Err() != nil {
		return ZOMBIE, true
	}
	if sc.h.handover.Load() {
		return REQUESTED, true // hand the lease over: checkpoint, then release
	}
	sc.w.mu.Lock()
	defer sc.w.mu.Unlock()
	if sc.w.stopping {
		return REQUESTED, true
	}
	return 0, false
}

func (sc *shardConsumer) sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-sc.h.lostCtx.Done():
	case <-sc.w.stopCh:
	case <-ctx.Done():
	}
}

func (sc *shardConsumer) shutdown(ctx context.Context, reason ShutdownReason) {
	w := sc.w
	if ctx.Err() != nil {
		return // killed: nothing may be written
	}
	defer w.cfg.Observer.ShardClosed(sc.shardID, reason)
	if !sc.safely("Shutdown", func() {
		sc.proc.Shutdown(&ShutdownInput{ShardID: sc.shardID, ShutdownReason: reason, Checkpointer: &checkpointer{sc: sc}})
	}) || reason == ZOMBIE {
		sc.releaseFailed(ctx)
		return
	}
	if reason == TERMINATE && !sc.shardEnd {
		backoff := newBackoff(100*time.Millisecond, 5*time.Second)
		for {
			err := w.checkpoint(ctx, sc.h, ExtendedSequenceNumber{SequenceNumber: CheckpointShardEnd})
			if err == nil {
				break
			}
			if errors.Is(err, ErrLeaseLost) || ctx.Err() != nil {
				w.log.Warn("Shard ended but SHARD_END was not checkpointed", "shardId", sc.shardID, "error", err)
				return
			}
			w.log.Warn("Checkpointing SHARD_END failed", "shardId", sc.shardID, "error", err)
			sc.sleep(ctx, backoff.next())
		}
		w.log.Info("Shard ended", "shardId", sc.shardID)
	}
	if reason == TERMINATE {
		select { // children may be ready now: sync and take without waiting a poll
		case w.syncNow <- struct{}{}:
		default:
		}
	}
	w.processorSucceeded(sc.shardID)
	if err := w.release(ctx, sc.h); err != nil {
		w.log.Warn("Releasing lease failed", "shardId", sc.shardID, "error", err)
	} else if sc.h.handover.Load() {
		w.mu.Lock()
		w.handedOver[sc.shardID] = time.Now()
		w.mu.Unlock()
	}
}

// safely calls the processor's method f. A panic is recovered and logged
// with its stack, and the lease is given up without a release (nothing is
// checkpointed or delivered for it any more): it expires after LeaseDuration,
// and its next owner — possibly this worker, at its next lease poll — resumes
// from the last checkpoint. Other shards go on. It reports whether f returned.
func (sc *shardConsumer) safely(method string, f func()) (ok bool) {
	defer func() {
		if r := recover(); r != nil {
			ok = false
			sc.w.log.Error("Record processor panicked; giving up the lease", "shardId", sc.shardID, "method", method,
				"panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			sc.w.cfg.Observer.ProcessorPanicked(sc.shardID)
			sc.h.lostCancel()
		}
	}()
	f()
	if fp, ok := sc.proc.(FailingRecordProcessor); ok {
		if err := fp.Failed(); err != nil {
			sc.failed = err
			retryIn, n := sc.w.processorFailed(sc.shardID)
			sc.w.log.Error("Record processor failed; releasing the lease", "shardId", sc.shardID, "method", method,
				"error", err.Error(), "failuresInARow", n, "retryIn", retryIn.String())
			sc.w.cfg.Observer.ProcessorFailed(sc.shardID)
			return false
		}
	}
	return true
}

// releaseFailed releases the lease of a shard whose processor failed, without
// a checkpoint, so that another worker may take it at once; the lease is left
// to expire if the worker was killed or the lease is lost already.
func (sc *shardConsumer) releaseFailed(ctx context.Context) {
	if sc.failed == nil || ctx.Err() != nil {
		return
	}
	if err := sc.w.release(ctx, sc.h); err != nil {
		sc.w.log.Warn("Releasing lease failed", "shardId", sc.shardID, "error", err)
	}
}

// iterator positions a new shard iterator at cp: a sentinel, or the record cp
// names (AT_SEQUENCE_NUMBER), whose user records up to cp are skipped.
func (sc *shardConsumer) iterator(ctx context.Context, cp ExtendedSequenceNumber) (*string, error) {
	in := &kinesis.GetShardIteratorInput{StreamName: aws.String(sc.w.cfg.StreamName), ShardId: aws.String(sc.shardID)}
	sc.skip = nil
	switch cp.SequenceNumber {
	case CheckpointTrimHorizon, "":
		in.ShardIteratorType = types.ShardIteratorTypeTrimHorizon
	case CheckpointLatest:
		in.ShardIteratorType = types.ShardIteratorTypeLatest
	case CheckpointAtTimestamp:
		in.ShardIteratorType = types.ShardIteratorTypeAtTimestamp
		in.Timestamp = aws.Time(sc.w.cfg.Timestamp)
	default:
		in.ShardIteratorType = types.ShardIteratorTypeAtSequenceNumber
		in.StartingSequenceNumber = aws.String(cp.SequenceNumber)
		c := cp
		sc.skip = &c
	}
	out, err := sc.w.kinesis.GetShardIterator(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("get %s iterator for shard %q: %w", in.ShardIteratorType, sc.shardID, err)
	}
	return out.ShardIterator, nil
}

// userRecords deaggregates Kinesis records into user records and drops those
// at or before sc.skip.
func (sc *shardConsumer) userRecords(recs []types.Record) []Record {
	var out []Record
	sc.lastSubs = map[string]int64{}
	for _, r := range recs {
		seq, pk := aws.ToString(r.SequenceNumber), aws.ToString(r.PartitionKey)
		users, err := kpl.Deaggregate(pk, r.Data)
		aggregated := err == nil && !(len(users) == 1 && len(users[0].Data) == len(r.Data))
		if err != nil {
			// A matching digest over a malformed body: deliver the record as it
			// is rather than skip it.
			sc.w.log.Warn("Delivering undecodable aggregated record as is", "shardId", sc.shardID, "sequenceNumber", seq, "error", err)
			users = []kpl.UserRecord{{PartitionKey: pk, Data: r.Data}}
		}
		for i, u := range users {
			sub := int64(i)
			if sc.skip != nil && seq == sc.skip.SequenceNumber && sub <= sc.skip.SubSequenceNumber {
				continue
			}
			if !aggregated {
				u.PartitionKey, sub = pk, 0
			}
			out = append(out, Record{
				SequenceNumber: seq, SubSequenceNumber: sub, Aggregated: aggregated,
				PartitionKey: u.PartitionKey, ExplicitHashKey: u.ExplicitHashKey, Data: u.Data,
				ApproximateArrivalTimestamp: aws.ToTime(r.ApproximateArrivalTimestamp),
			})
			if aggregated {
				sc.lastSubs[seq] = sub
			}
		}
	}
	if len(recs) > 0 {
		sc.skip = nil
	}
	return out
}

// checkpointer is the Checkpointer handed to a shard's processor.
type checkpointer struct{ sc *shardConsumer }

func (c *checkpointer) Checkpoint(sequenceNumber *string) error {
	sc := c.sc
	var cp ExtendedSequenceNumber
	switch {
	case sequenceNumber == nil && sc.ended:
		cp.SequenceNumber = CheckpointShardEnd
	case sequenceNumber == nil && sc.delivered == nil:
		return nil // nothing delivered yet: nothing to record
	case sequenceNumber == nil:
		cp = *sc.delivered
	default:
		cp.SequenceNumber = *sequenceNumber
		cp.SubSequenceNumber = sc.lastSubs[*sequenceNumber]
	}
	return c.write(cp)
}

func (c *checkpointer) CheckpointRecord(r Record) error {
	return c.write(ExtendedSequenceNumber{SequenceNumber: r.SequenceNumber, SubSequenceNumber: r.SubSequenceNumber})
}

func (c *checkpointer) write(cp ExtendedSequenceNumber) error {
	sc := c.sc
	if cp.SequenceNumber != CheckpointShardEnd {
		sc.h.mu.Lock()
		current := sc.h.lease.Checkpoint
		sc.h.mu.Unlock()
		if err := validateCheckpoint(cp, current, sc.delivered); err != nil {
			return fmt.Errorf("checkpoint shard %q: %w", sc.shardID, err)
		}
	}
	if err := sc.w.checkpoint(sc.h.lostCtx, sc.h, cp); err != nil {
		return err
	}
	sc.w.processorSucceeded(sc.shardID)
	if cp.SequenceNumber == CheckpointShardEnd {
		sc.shardEnd = true
	}
	return nil
}

// ErrInvalidCheckpoint means a processor checkpointed a record it was not
// given, or one before the current checkpoint.
var ErrInvalidCheckpoint = errors.New("invalid checkpoint")

// validateCheckpoint accepts cp only between the current checkpoint (when it
// is a sequence number) and the last delivered user record.
func validateCheckpoint(cp, current ExtendedSequenceNumber, delivered *ExtendedSequenceNumber) error {
	if delivered == nil || compareExtended(cp, *delivered) > 0 {
		return fmt.Errorf("%w: %s/%d is beyond the last delivered record", ErrInvalidCheckpoint, cp.SequenceNumber, cp.SubSequenceNumber)
	}
	if _, ok := new(big.Int).SetString(current.SequenceNumber, 10); ok && compareExtended(cp, current) < 0 {
		return fmt.Errorf("%w: %s/%d is before the current checkpoint %s/%d", ErrInvalidCheckpoint,
			cp.SequenceNumber, cp.SubSequenceNumber, current.SequenceNumber, current.SubSequenceNumber)
	}
	return nil
}

// compareExtended orders sequence numbers numerically (they are decimal
// strings of up to 128 bits), then sub-sequence numbers.
func compareExtended(a, b ExtendedSequenceNumber) int {
	x, okx := new(big.Int).SetString(a.SequenceNumber, 10)
	y, oky := new(big.Int).SetString(b.SequenceNumber, 10)
	if !okx || !oky {
		return strings.Compare(a.SequenceNumber, b.SequenceNumber)
	}
	if c := x.Cmp(y); c != 0 {
		return c
	}
	return cmp.Compare(a.SubSequenceNumber, b.SubSequenceNumber)
}

// backoff doubles a delay from base up to max, with no jitter needed for one
// reader per shard.
type backoff struct{ base, max, cur time.Duration }

func newBackoff(base, max time.Duration) *backoff { return &backoff{base: base, max: max} }

func (b *backoff) next() time.Duration {
	if b.cur == 0 {
		b.cur = b.base
	} else if b.cur *= 2; b.cur > b.max {
		b.cur = b.max
	}
	return b.cur
}

func (b *backoff) reset() { b.cur = 0 }
