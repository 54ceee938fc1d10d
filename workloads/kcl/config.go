package kcl

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// InitialPosition is where a worker starts reading a shard that has no
// checkpoint yet.
type InitialPosition string

// Initial positions, named as in the KCL.
const (
	TrimHorizon InitialPosition = "TRIM_HORIZON"
	Latest      InitialPosition = "LATEST"
	AtTimestamp InitialPosition = "AT_TIMESTAMP"
)

// ParseInitialPosition accepts TRIM_HORIZON, LATEST or AT_TIMESTAMP in any case
// (empty means TRIM_HORIZON).
func ParseInitialPosition(s string) (InitialPosition, error) {
	switch p := InitialPosition(strings.ToUpper(strings.TrimSpace(s))); p {
	case "":
		return TrimHorizon, nil
	case TrimHorizon, Latest, AtTimestamp:
		return p, nil
	}
	return "", fmt.Errorf("start position %q: want TRIM_HORIZON, LATEST or AT_TIMESTAMP", s)
}

// Config configures a Worker. Zero durations take the defaults in brackets.
type Config struct {
	// ApplicationName names the application and its lease table.
	ApplicationName string
	// TableName overrides the lease table name (default ApplicationName).
	TableName  string
	StreamName string
	// WorkerID identifies this worker in leaseOwner; unique per process.
	WorkerID string

	InitialPosition InitialPosition
	// Timestamp is the start time for AtTimestamp.
	Timestamp time.Time

	// LeaseDuration: a lease whose counter has not changed for this long is
	// expired [10s]. Leases are renewed every LeaseDuration/3.
	LeaseDuration time.Duration
	// ShardSyncInterval: how often ListShards runs to find new shards [60s].
	ShardSyncInterval time.Duration
	// IdleTimeBetweenReads: the wait after a GetRecords that returned nothing
	// or caught up with the tip [1s]. Never less than 200ms (5 calls/s/shard).
	IdleTimeBetweenReads time.Duration
	// MaxRecords per GetRecords call [10000].
	MaxRecords int32
	// MaxLeasesToStealAtOneTime [1].
	MaxLeasesToStealAtOneTime int
	// HandoverTimeout: a worker that asked the owner of a lease to hand it
	// over (a steal for balance) waits this long, plus a lease duration for
	// the owner to see the request, for it to finish its batch and release;
	// then it takes the lease anyway [30s, the KCL's
	// gracefulLeaseHandoffTimeoutMillis]. An owner that is dead is not waited
	// for: its lease expires.
	HandoverTimeout time.Duration
	// ProcessorRetryBackoff: after a processor of a shard fails (see
	// FailingRecordProcessor), this worker does not take the shard's lease
	// again for this long, doubling with each failure in a row up to
	// MaxProcessorRetryBackoff [LeaseDuration/3, 5m]. Other workers may take it
	// meanwhile.
	ProcessorRetryBackoff    time.Duration
	MaxProcessorRetryBackoff time.Duration

	// Observer receives the library's measurements; may be nil.
	Observer Observer
	// Logger [slog.Default()].
	Logger *slog.Logger
	// Now is the clock [time.Now]; tests may replace it.
	Now func() time.Time
}

// MinTimeBetweenReads keeps a shard at or below 5 GetRecords calls per second.
const MinTimeBetweenReads = 200 * time.Millisecond

func (c Config) withDefaults() (Config, error) {
	var errs []error
	if c.ApplicationName == "" {
		errs = append(errs, errors.New("application name is empty"))
	}
	if c.StreamName == "" {
		errs = append(errs, errors.New("stream name is empty"))
	}
	if c.WorkerID == "" {
		errs = append(errs, errors.New("worker id is empty"))
	}
	if c.TableName == "" {
		c.TableName = c.ApplicationName
	}
	if c.InitialPosition == "" {
		c.InitialPosition = TrimHorizon
	}
	if _, err := ParseInitialPosition(string(c.InitialPosition)); err != nil {
		errs = append(errs, err)
	}
	if c.InitialPosition == AtTimestamp && c.Timestamp.IsZero() {
		errs = append(errs, errors.New("start position AT_TIMESTAMP needs a timestamp"))
	}
	if c.LeaseDuration <= 0 {
		c.LeaseDuration = 10 * time.Second
	}
	if c.ShardSyncInterval <= 0 {
		c.ShardSyncInterval = 60 * time.Second
	}
	if c.IdleTimeBetweenReads <= 0 {
		c.IdleTimeBetweenReads = time.Second
	}
	if c.IdleTimeBetweenReads < MinTimeBetweenReads {
		c.IdleTimeBetweenReads = MinTimeBetweenReads
	}
	if c.MaxRecords <= 0 || c.MaxRecords > 10000 {
		c.MaxRecords = 10000
	}
	if c.MaxLeasesToStealAtOneTime <= 0 {
		c.MaxLeasesToStealAtOneTime = 1
	}
	if c.HandoverTimeout <= 0 {
		c.HandoverTimeout = 30 * time.Second
	}
	if c.ProcessorRetryBackoff <= 0 {
		c.ProcessorRetryBackoff = c.LeaseDuration / 3
	}
	if c.MaxProcessorRetryBackoff <= 0 {
		c.MaxProcessorRetryBackoff = 5 * time.Minute
	}
	if c.MaxProcessorRetryBackoff < c.ProcessorRetryBackoff {
		c.MaxProcessorRetryBackoff = c.ProcessorRetryBackoff
	}
	if c.Observer == nil {
		c.Observer = nopObserver{}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("invalid consumer configuration: %w", errors.Join(errs...))
	}
	return c, nil
}

// Observer receives measurements from a Worker, for metrics. Methods are called
// from many goroutines and must not block.
type Observer interface {
	// RecordsRead counts user records delivered to a processor, with the batch's
	// MillisBehindLatest.
	RecordsRead(shardID string, n int, millisBehindLatest int64)
	// LeasesHeld reports how many shard leases this worker holds.
	LeasesHeld(n int)
	// Checkpointed reports a checkpoint write and how long it took.
	Checkpointed(shardID string, d time.Duration, err error)
	// ShardClosed reports that this worker stopped processing a shard.
	ShardClosed(shardID string, reason ShutdownReason)
	// ProcessorPanicked reports a panic recovered from a record processor.
	ProcessorPanicked(shardID string)
	// ProcessorFailed reports a processor that said it failed
	// (FailingRecordProcessor); its lease was released.
	ProcessorFailed(shardID string)
}

type nopObserver struct{}

func (nopObserver) RecordsRead(string, int, int64)            {}
func (nopObserver) LeasesHeld(int)                            {}
func (nopObserver) Checkpointed(string, time.Duration, error) {}
func (nopObserver) ShardClosed(string, ShutdownReason)        {}
func (nopObserver) ProcessorPanicked(string)                  {}
func (nopObserver) ProcessorFailed(string)                    {}
