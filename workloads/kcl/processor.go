package kcl

import (
	"context"
	"time"
)

// ShutdownReason says why a RecordProcessor is shut down.
type ShutdownReason int

const (
	// REQUESTED: the worker is shutting down gracefully. The processor may
	// checkpoint; the lease is released afterwards so another worker takes the
	// shard at once.
	REQUESTED ShutdownReason = iota + 1
	// TERMINATE: the shard has ended (it was split or merged) and every record
	// has been delivered. Checkpoint(nil) records SHARD_END; if the processor
	// does not, the library does once Shutdown returns, so child shards can start.
	TERMINATE
	// ZOMBIE: the lease was lost (expired or taken by another worker). The
	// processor must not checkpoint (it would fail with ErrLeaseLost); another
	// worker resumes from the last checkpoint.
	ZOMBIE
)

// String returns the KCL name of the reason.
func (r ShutdownReason) String() string {
	switch r {
	case REQUESTED:
		return "REQUESTED"
	case TERMINATE:
		return "TERMINATE"
	case ZOMBIE:
		return "ZOMBIE"
	}
	return "UNKNOWN"
}

// Record is one user record: a Kinesis record, or one record of a KPL-aggregated
// Kinesis record, in which case the records share SequenceNumber and differ by
// SubSequenceNumber (0, 1, …). A plain record has SubSequenceNumber 0 and
// Aggregated false.
type Record struct {
	SequenceNumber              string
	SubSequenceNumber           int64
	Aggregated                  bool
	PartitionKey                string
	ExplicitHashKey             string
	Data                        []byte
	ApproximateArrivalTimestamp time.Time
}

// ExtendedSequenceNumber is a checkpoint position: a sequence number, or one of
// the sentinels TRIM_HORIZON, LATEST, AT_TIMESTAMP, SHARD_END, plus the
// sub-sequence number of the last processed user record of an aggregated record.
type ExtendedSequenceNumber struct {
	SequenceNumber    string
	SubSequenceNumber int64
}

// Checkpoint sentinels stored in the lease table's checkpoint attribute, as the
// KCL writes them.
const (
	CheckpointTrimHorizon = "TRIM_HORIZON"
	CheckpointLatest      = "LATEST"
	CheckpointAtTimestamp = "AT_TIMESTAMP"
	CheckpointShardEnd    = "SHARD_END"
)

// InitializationInput is given to RecordProcessor.Initialize before the first
// batch of a shard.
type InitializationInput struct {
	ShardID string
	// ExtendedSequenceNumber is the checkpoint the processing resumes after.
	ExtendedSequenceNumber ExtendedSequenceNumber
}

// ProcessRecordsInput is one batch of user records of one shard, in order.
type ProcessRecordsInput struct {
	ShardID string
	Records []Record
	// MillisBehindLatest is how far the batch is behind the tip of the shard.
	MillisBehindLatest int64
	// CacheEntryTime is when the batch was read from Kinesis.
	CacheEntryTime time.Time
	Checkpointer   Checkpointer
	// Context is done once the lease is lost — not renewed in time, taken by
	// another worker — or the worker is killed. Another worker then delivers
	// the records after the last checkpoint again, so a processor should stop
	// handling this batch's records when Context is done.
	Context context.Context
}

// ShutdownInput tells a processor that it gets no more records.
type ShutdownInput struct {
	ShardID        string
	ShutdownReason ShutdownReason
	// Checkpointer works for REQUESTED and TERMINATE and fails with
	// ErrLeaseLost for ZOMBIE.
	Checkpointer Checkpointer
}

// Checkpointer records how far a shard has been processed, with a conditional
// write to the lease table that fails with ErrLeaseLost when this worker no
// longer holds the lease, and with ErrInvalidCheckpoint for a record that was
// not delivered yet or lies before the current checkpoint.
type Checkpointer interface {
	// Checkpoint records the sequence number of a delivered record: the record
	// and every record before it count as processed (for an aggregated record,
	// all its user records). nil means the last record delivered so far, and at
	// TERMINATE shutdown it means SHARD_END.
	Checkpoint(sequenceNumber *string) error
	// CheckpointRecord records r and the user records before it, keeping the
	// sub-sequence number, so a restart resumes inside an aggregated record.
	CheckpointRecord(r Record) error
}

// RecordProcessor processes the records of one shard. The library calls
// Initialize once, then ProcessRecords for each non-empty batch, then Shutdown
// once, all from one goroutine. Processors own error handling: the library does
// not redeliver a batch after ProcessRecords returns; what was not checkpointed
// is redelivered only after the lease moves.
type RecordProcessor interface {
	Initialize(input *InitializationInput)
	ProcessRecords(input *ProcessRecordsInput)
	Shutdown(input *ShutdownInput)
}

// FailingRecordProcessor is a RecordProcessor that can fail without
// panicking — one that runs the processing elsewhere (a MultiLang subprocess)
// and can lose it. The library asks Failed after each call; once it returns an
// error the processor gets no further call (no Shutdown either), nothing more
// is checkpointed for it, the failure is logged in one line and counted
// (Observer.ProcessorFailed), and the lease is released so that any worker
// may take it at once and resume after the last checkpoint. This worker takes
// the shard again only after a backoff that doubles with each failure in a
// row (Config.ProcessorRetryBackoff); a checkpoint or a clean shutdown ends
// the row.
type FailingRecordProcessor interface {
	RecordProcessor
	Failed() error
}

// RecordProcessorFactory creates one RecordProcessor per shard lease.
type RecordProcessorFactory interface {
	CreateProcessor() RecordProcessor
}

// ProcessorFactoryFunc adapts a function to RecordProcessorFactory.
type ProcessorFactoryFunc func() RecordProcessor

// CreateProcessor calls f.
func (f ProcessorFactoryFunc) CreateProcessor() RecordProcessor { return f() }
