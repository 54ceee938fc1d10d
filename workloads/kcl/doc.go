// Package kcl is a KCL-compatible Kinesis consumer library: it spreads the shards
// of one stream over the workers of one application, with leases and checkpoints
// in a DynamoDB table in the Kinesis Client Library's lease schema, and calls a
// RecordProcessor for every user record (KPL-aggregated records are deaggregated).
//
// Its public shape follows github.com/vmware/vmware-go-kcl-v2 (a record processor
// with Initialize / ProcessRecords with a checkpointer / Shutdown with a reason),
// so switching to that library later stays small. It differs where that library
// is wrong: a child shard is processed only after ALL its parents — ParentShardId
// and, for a merge, AdjacentParentShardId — have been checkpointed at SHARD_END.
//
// Guarantees: every user record is delivered at least once while some worker
// runs; records of one shard are delivered in order; no record of a child shard
// is delivered before the last record of each parent has been checkpointed.
// Duplicates happen after a lease moves without a checkpoint of the last batch
// (crash, lease stolen for balance, processor that checkpoints rarely).
//
// Leases: a lease is held by renewing it (incrementing leaseCounter with a
// conditional write) every LeaseDuration/3. As in the KCL, other workers decide
// that a lease has expired when they have seen its leaseCounter unchanged for
// LeaseDuration on their own clock, so clock skew between workers does not matter.
// Workers take unowned and expired leases and steal one lease at a time from the
// most loaded worker until every worker holds ⌊S/W⌋ or ⌈S/W⌉ of the S shards
// that are ready to process.
package kcl
