package kcl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/kdp-io/streamprocessor-operator/internal/shardmap"
)

// Worker runs the record processors of one application instance: it keeps the
// lease table in step with the stream's shards, takes, renews and balances
// leases, and runs one shard consumer per held lease.
type Worker struct {
	cfg     Config
	kinesis KinesisAPI
	store   *LeaseStore
	factory RecordProcessorFactory
	log     *slog.Logger

	mu       sync.Mutex
	held     map[string]*heldLease
	listed   map[string]bool
	stopping bool

	// handovers: leases this worker asked to be handed over, and when (run
	// loop only).
	handovers map[string]handoverRequest
	// handedOver: leases this worker released on request, and when (under
	// mu); it does not take them back for a lease duration.
	handedOver map[string]time.Time
	// failures: shards whose processor failed in a row here, and until when
	// this worker leaves them to others (under mu).
	failures map[string]processorFailures

	stopCh  chan struct{} // closed by Shutdown
	syncNow chan struct{} // a shard ended: look for its children now
	exited  chan struct{} // a shard consumer ended: a stopping worker may be done
	done    chan struct{} // closed when the worker has stopped
	wg      sync.WaitGroup
	started bool
}

// processorFailures counts failures in a row of a shard's processor.
type processorFailures struct {
	n     int
	until time.Time
}

// processorFailed notes a failure of shard's processor and returns how long
// this worker now leaves the shard alone, and the failures in a row.
func (w *Worker) processorFailed(shard string) (time.Duration, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	f := w.failures[shard]
	f.n++
	wait := w.cfg.ProcessorRetryBackoff
	for i := 1; i < f.n && wait < w.cfg.MaxProcessorRetryBackoff; i++ {
		wait *= 2
	}
	wait = min(wait, w.cfg.MaxProcessorRetryBackoff)
	f.until = w.cfg.Now().Add(wait)
	w.failures[shard] = f
	return wait, f.n
}

// processorSucceeded ends a row of failures of shard's processor.
func (w *Worker) processorSucceeded(shard string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.failures, shard)
}

// handoverRequest is a hand-over this worker asked owner for, at.
type handoverRequest struct {
	owner string
	at    time.Time
}

// heldLease is a lease this worker holds. mu serialises the writes that carry
// the lease counter (renew, checkpoint, release); each is bounded by
// DynamoDBCallTimeout, so mu is never held for long.
//
// The lease is ours until validUntil: the start of the last write that moved
// its counter (take, renew, checkpoint) plus the lease duration — no other
// worker can take it sooner, since it must first see the new counter and then
// wait a lease duration. A timer marks the lease lost at validUntil unless a
// renewal moved it, whether or not a call failed (a hung call fails nothing),
// and the shard consumer delivers nothing once it has passed.
type heldLease struct {
	mu         sync.Mutex
	lease      Lease
	lost       bool // given up or released (under mu)
	validUntil atomic.Int64
	timer      *time.Timer
	lostCancel context.CancelFunc // cancels the shard consumer's calls when lost
	lostCtx    context.Context
	handover   atomic.Bool // another worker asked for the lease
}

// noteHandover records a hand-over request seen in a write's answer.
func (h *heldLease) noteHandover(l Lease) {
	if l.HandoverTo != "" && l.HandoverTo != l.Owner {
		h.handover.Store(true)
	}
}

// extend records a successful counter write that started at start; call it
// with mu held.
func (h *heldLease) extend(start time.Time, d time.Duration) {
	if h.lostCtx.Err() != nil {
		return
	}
	until := start.Add(d)
	h.validUntil.Store(until.UnixNano())
	h.timer.Reset(time.Until(until))
}

// holds reports whether the lease is still this worker's at now.
func (h *heldLease) holds(now time.Time) bool {
	return h.lostCtx.Err() == nil && now.UnixNano() < h.validUntil.Load()
}

// gone reports whether the lease was lost, given up or released; call it with
// mu held.
func (h *heldLease) gone() bool { return h.lost || h.lostCtx.Err() != nil }

// NewWorker returns a worker for cfg that reads with kin, keeps leases with db
// and processes each shard with a processor from factory.
func NewWorker(cfg Config, factory RecordProcessorFactory, kin KinesisAPI, db DynamoDBAPI) (*Worker, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if factory == nil || kin == nil || db == nil {
		return nil, errors.New("new worker: processor factory, Kinesis and DynamoDB clients are required")
	}
	return &Worker{
		cfg: c, kinesis: timedKinesis{kin, KinesisCallTimeout(c.LeaseDuration)}, factory: factory,
		store: &LeaseStore{DB: timedDynamoDB{db, DynamoDBCallTimeout(c.LeaseDuration)}, Table: c.TableName},
		log:   c.Logger.With("stream", c.StreamName, "application", c.ApplicationName, "worker", c.WorkerID),
		held:  map[string]*heldLease{}, handovers: map[string]handoverRequest{}, handedOver: map[string]time.Time{},
		failures: map[string]processorFailures{},
		stopCh:   make(chan struct{}),
		syncNow:  make(chan struct{}, 1),
		exited:   make(chan struct{}, 1),
		done:     make(chan struct{}),
	}, nil
}

// Start creates the lease table if missing, syncs leases with the shards once
// and starts the worker in the background. If that fails, Start may be called
// again. Cancelling ctx stops the worker
// abruptly, like a killed process: no processor Shutdown, no checkpoint, no
// lease release — other workers take the leases after they expire. Use
// Shutdown to stop gracefully.
func (w *Worker) Start(ctx context.Context) error {
	w.mu.Lock()
	started := w.started
	w.mu.Unlock()
	if started {
		return errors.New("start worker: already started")
	}
	if err := w.store.EnsureTable(ctx); err != nil {
		return err
	}
	if err := w.syncShards(ctx); err != nil {
		return err
	}
	w.mu.Lock()
	w.started = true
	w.mu.Unlock()
	go w.run(ctx)
	go w.renewLoop(ctx)
	return nil
}

// Shutdown stops the worker gracefully: no new leases are taken, every shard
// consumer finishes its batch, its processor is shut down with REQUESTED (and
// may checkpoint), and the lease is released so another worker takes it at
// once. It returns when the worker has stopped or ctx is done.
func (w *Worker) Shutdown(ctx context.Context) error {
	w.mu.Lock()
	if !w.started {
		w.mu.Unlock()
		return nil
	}
	if !w.stopping {
		w.stopping = true
		close(w.stopCh)
	}
	w.mu.Unlock()
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("shut down worker %q: %w", w.cfg.WorkerID, ctx.Err())
	}
}

// Done is closed when the worker has stopped, gracefully or not.
func (w *Worker) Done() <-chan struct{} { return w.done }

// HeldShards returns the shard ids whose leases this worker holds now.
func (w *Worker) HeldShards() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	ids := make([]string, 0, len(w.held))
	for id := range w.held {
		ids = append(ids, id)
	}
	return ids
}

func (w *Worker) run(ctx context.Context) {
	defer close(w.done)
	tick := time.NewTicker(w.cfg.LeaseDuration / 3)
	defer tick.Stop()
	var tracker expiryTracker
	lastSync := w.cfg.Now()
	stop := w.stopCh
	for {
		w.mu.Lock()
		stopping, nHeld := w.stopping, len(w.held)
		w.mu.Unlock()
		if stopping && nHeld == 0 {
			w.wg.Wait()
			return
		}
		if !stopping {
			if now := w.cfg.Now(); lastSync.IsZero() || now.Sub(lastSync) >= w.cfg.ShardSyncInterval {
				if err := w.syncShards(ctx); err != nil && ctx.Err() == nil {
					w.log.Warn("Shard sync failed", "error", err)
				}
				lastSync = now
			}
			if err := w.takeLeases(ctx, &tracker); err != nil && ctx.Err() == nil {
				w.log.Warn("Taking leases failed", "error", err)
			}
		}
		select {
		case <-ctx.Done():
			w.wg.Wait()
			return
		case <-tick.C:
		case <-w.syncNow:
			lastSync = time.Time{}
		case <-w.exited:
		case <-stop:
			// Loop at once; renewals go on while consumers finish.
			stop = nil
		}
	}
}

// syncShards creates leases for shards that have none and deletes finished
// leases of shards that are no longer listed.
func (w *Worker) syncShards(ctx context.Context) error {
	shards, err := shardmap.List(ctx, w.kinesis, w.cfg.StreamName)
	if err != nil {
		return err
	}
	leases, err := w.store.List(ctx)
	if err != nil {
		return err
	}
	existing := make(map[string]Lease, len(leases))
	for _, l := range leases {
		existing[l.Key] = l
	}
	listed := make(map[string]bool, len(shards))
	for _, s := range shards {
		listed[aws.ToString(s.ShardId)] = true
	}
	for _, l := range newLeases(shards, existing, w.cfg.InitialPosition) {
		created, err := w.store.Create(ctx, l)
		if err != nil {
			return err
		}
		if created {
			w.log.Info("Created lease", "shardId", l.Key, "checkpoint", l.Checkpoint.SequenceNumber, "parentShardIds", l.ParentShardIDs)
		}
	}
	for _, l := range leases {
		if l.Finished() && !listed[l.Key] {
			if err := w.store.DeleteFinished(ctx, l.Key); err != nil && !errors.Is(err, ErrLeaseConflict) {
				return err
			}
		}
	}
	w.mu.Lock()
	w.listed = listed
	w.mu.Unlock()
	return nil
}

// takeLeases reads the lease table, then takes and steals leases as planTakes
// decides, and starts a shard consumer for each lease won.
func (w *Worker) takeLeases(ctx context.Context, tracker *expiryTracker) error {
	leases, err := w.store.List(ctx)
	if err != nil {
		return err
	}
	now := w.cfg.Now()
	tracker.observe(leases, now)
	byKey := make(map[string]Lease, len(leases))
	for _, l := range leases {
		byKey[l.Key] = l
	}
	w.mu.Lock()
	listed := w.listed
	var candidates []Lease
	for k, at := range w.handedOver {
		if now.Sub(at) > w.cfg.LeaseDuration {
			delete(w.handedOver, k)
		}
	}
	for _, l := range leases {
		if _, gave := w.handedOver[l.Key]; gave || !ready(l, byKey, listed) {
			continue // not a lease just handed over to someone else
		}
		if f, ok := w.failures[l.Key]; ok && now.Before(f.until) {
			continue // its processor failed here: others may try, we back off
		}
		if _, mine := w.held[l.Key]; l.Owner == w.cfg.WorkerID && !mine {
			l.Owner = "" // left over from a consumer that ended: free to take back
		}
		candidates = append(candidates, l)
	}
	w.mu.Unlock()
	available := func(l Lease) bool { return tracker.expired(l, now, w.cfg.LeaseDuration) }
	take, steal := planTakes(candidates, available, w.cfg.WorkerID, w.cfg.MaxLeasesToStealAtOneTime)
	wait := w.cfg.LeaseDuration + w.cfg.HandoverTimeout
	for k, r := range w.handovers {
		if now.Sub(r.at) > wait+2*w.cfg.LeaseDuration {
			delete(w.handovers, k) // answered or moot by now
		}
	}
	for i, l := range append(take, steal...) {
		prev := byKey[l.Key].Owner
		stolen := i >= len(take)
		asked, ok := w.handovers[l.Key]
		ok = ok && asked.owner == l.Owner // a request to a former owner does not count
		if stolen && (!ok || now.Sub(asked.at) <= wait) {
			// A graceful steal: the owner finishes its batch, checkpoints and
			// releases; the lease is then free for us. Only an owner that does
			// not do so within a lease duration and HandoverTimeout (a KCL
			// worker that ignores the request, or one stuck in a batch) has
			// the lease taken from it; a dead owner's lease expires sooner.
			if !ok || l.HandoverTo != w.cfg.WorkerID {
				// Not asked yet, or the request was cleared: the owner lost
				// the lease and took it back (a take clears handoverTo) and
				// would never answer. Ask (again); the wait runs from the
				// first request to this owner.
				if err := w.store.RequestHandover(ctx, l, w.cfg.WorkerID); err != nil && !errors.Is(err, ErrLeaseConflict) {
					return err
				}
				if !ok {
					w.handovers[l.Key] = handoverRequest{owner: l.Owner, at: now}
				}
				w.log.Info("Asked for lease hand-over", "shardId", l.Key, "owner", prev, "again", ok)
			}
			continue
		}
		start := time.Now()
		got, err := w.store.Take(ctx, l, w.cfg.WorkerID)
		if errors.Is(err, ErrLeaseConflict) {
			continue // someone else was faster; next round decides again
		}
		if err != nil {
			return err
		}
		delete(w.handovers, l.Key)
		w.log.Info("Took lease", "shardId", got.Key, "previousOwner", prev, "stolen", stolen)
		w.startConsumer(ctx, got, start)
	}
	return nil
}

// startConsumer runs a shard consumer for l, taken by a write that started at
// taken.
func (w *Worker) startConsumer(ctx context.Context, l Lease, taken time.Time) {
	lostCtx, cancel := context.WithCancel(ctx)
	h := &heldLease{lease: l, lostCtx: lostCtx, lostCancel: cancel}
	h.validUntil.Store(taken.Add(w.cfg.LeaseDuration).UnixNano())
	h.timer = time.AfterFunc(time.Until(taken.Add(w.cfg.LeaseDuration)), func() {
		if lostCtx.Err() != nil || time.Now().UnixNano() < h.validUntil.Load() {
			return // lost already, or renewed while the timer fired
		}
		w.log.Warn("Lease not renewed in time; giving it up", "shardId", l.Key, "leaseDuration", w.cfg.LeaseDuration.String())
		cancel()
	})
	w.mu.Lock()
	w.held[l.Key] = h
	n := len(w.held)
	w.mu.Unlock()
	w.cfg.Observer.LeasesHeld(n)
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		defer cancel()
		defer h.timer.Stop()
		sc := &shardConsumer{w: w, h: h, shardID: l.Key}
		sc.run(ctx)
		w.mu.Lock()
		delete(w.held, l.Key)
		n := len(w.held)
		w.mu.Unlock()
		w.cfg.Observer.LeasesHeld(n)
		select {
		case w.exited <- struct{}{}:
		default:
		}
	}()
}

// renewLoop renews the held leases every LeaseDuration/3 until the worker
// stops, apart from the loop that takes leases, so that slow shard syncs or
// lease scans never delay a renewal.
func (w *Worker) renewLoop(ctx context.Context) {
	tick := time.NewTicker(w.cfg.LeaseDuration / 3)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.done:
			return
		case <-tick.C:
			w.renewAll()
		}
	}
}

// renewAll renews every held lease, each in its own goroutine so that one
// hung call delays no other lease. A lease whose renewal is refused is lost;
// one that is not renewed in time is lost by its timer.
func (w *Worker) renewAll() {
	w.mu.Lock()
	hs := make([]*heldLease, 0, len(w.held))
	for _, h := range w.held {
		hs = append(hs, h)
	}
	w.mu.Unlock()
	var wg sync.WaitGroup
	for _, h := range hs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.renew(h)
		}()
	}
	wg.Wait()
}

func (w *Worker) renew(h *heldLease) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.gone() {
		return
	}
	start := time.Now()
	l, err := w.store.Renew(h.lostCtx, h.lease)
	switch {
	case h.lostCtx.Err() != nil: // expired meanwhile, or the worker was killed
	case err == nil:
		h.lease = l
		h.extend(start, w.cfg.LeaseDuration)
		h.noteHandover(l)
	case errors.Is(err, ErrLeaseConflict):
		w.log.Info("Lost lease", "shardId", h.lease.Key)
		h.markLost()
	default:
		w.log.Warn("Renewing lease failed", "shardId", h.lease.Key, "error", err,
			"validFor", time.Until(time.Unix(0, h.validUntil.Load())).Round(time.Millisecond).String())
	}
}

// markLost must be called with h.mu held.
func (h *heldLease) markLost() {
	h.lost = true
	h.lostCancel()
}

// checkpoint writes cp for a held lease; ErrLeaseLost if the lease is gone.
func (w *Worker) checkpoint(ctx context.Context, h *heldLease, cp ExtendedSequenceNumber) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.gone() {
		return fmt.Errorf("checkpoint shard %q: %w", h.lease.Key, ErrLeaseLost)
	}
	start := time.Now()
	l, err := w.store.Checkpoint(ctx, h.lease, cp)
	w.cfg.Observer.Checkpointed(h.lease.Key, time.Since(start), err)
	if h.lostCtx.Err() != nil && !h.lost {
		return fmt.Errorf("checkpoint shard %q: %w", h.lease.Key, ErrLeaseLost)
	}
	if errors.Is(err, ErrLeaseConflict) {
		h.markLost()
		return fmt.Errorf("checkpoint shard %q: %w", h.lease.Key, ErrLeaseLost)
	}
	if err != nil {
		return err
	}
	h.lease = l
	h.extend(start, w.cfg.LeaseDuration)
	h.noteHandover(l)
	return nil
}

// release gives up a held lease so another worker can take it at once.
func (w *Worker) release(ctx context.Context, h *heldLease) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.gone() {
		return nil
	}
	h.lost = true
	h.timer.Stop()
	if err := w.store.Release(ctx, h.lease); err != nil {
		return err
	}
	w.log.Info("Released lease", "shardId", h.lease.Key)
	return nil
}
