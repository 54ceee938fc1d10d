package controllers

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/log"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
	kinesisaws "github.com/kdp-io/streamprocessor-operator/internal/aws/kinesis"
	"github.com/kdp-io/streamprocessor-operator/internal/awsapi"
)

// ShardMergesMetric counts the MergeShards calls the operator made that
// Kinesis accepted, per StreamProcessor: the scale-downs that spent none of
// UpdateShardCount's calls (those are streamprocessor_reshard_calls_24h).
const ShardMergesMetric = "streamprocessor_shard_merges_total"

// NewShardMergesCounter returns the counter of accepted MergeShards calls by
// the StreamProcessor's namespace and name (StreamProcessorReconciler's
// ShardMerges). Register it once per process.
func NewShardMergesCounter() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: ShardMergesMetric,
		Help: "MergeShards calls Kinesis accepted (one adjacent pair of open shards each; no UpdateShardCount call spent).",
	}, []string{"namespace", "name"})
}

// mergeShards merges one adjacent pair of open shards of the stream (one
// MergeShards call), the pair mergePairOf chooses from a fresh ListShards:
// one step from from open shards towards to. With dryRun it only lists the
// shards and names the pair it would merge.
type mergeShards struct {
	name     string
	from, to int32
	dryRun   bool
}

func (mergeShards) part() string { return streamPart }

// shardPair is two adjacent open shards: shard holds the lower hash keys.
type shardPair struct{ shard, adjacent string }

func (p shardPair) String() string { return p.shard + " and " + p.adjacent }

// errNoMergePair: the open shards hold no two adjacent ones to merge.
var errNoMergePair = errors.New("no two adjacent open shards to merge")

// mergeTieShift makes joint ranges that differ by less than one part in
// 2^mergeTieShift ties. UpdateShardCount's "uniform" ranges differ by a few
// keys (the last shard takes the remainder of 2^128); read exactly, the
// narrowest pair of an even stream would be decided by that rounding, and
// a halving could end uneven.
const mergeTieShift = 20

// hashRange is an open shard's hash key range, parsed.
type hashRange struct {
	id         string
	start, end *big.Int
}

// mergePairOf returns the adjacent pair of open shards with the narrowest
// joint hash key range, ties going to the pair with the lowest starting hash
// key: merging such pairs one by one halves an even stream into even
// shards. Two shards are adjacent when one's range ends one key before the
// other's starts. Hash keys are 128-bit decimals. It returns errNoMergePair
// when no two open shards are adjacent (fewer than two shards), and an error
// for a range it cannot read. Pure.
func mergePairOf(open []ktypes.Shard) (shardPair, error) {
	ranges, err := hashRanges(open)
	if err != nil {
		return shardPair{}, err
	}
	type candidate struct {
		pair  shardPair
		width *big.Int
	}
	var cands []candidate
	one := big.NewInt(1)
	for i := 1; i < len(ranges); i++ {
		lo, hi := ranges[i-1], ranges[i]
		if new(big.Int).Add(lo.end, one).Cmp(hi.start) != 0 {
			continue // a gap or an overlap: not adjacent
		}
		cands = append(cands, candidate{shardPair{lo.id, hi.id}, new(big.Int).Sub(hi.end, lo.start)})
	}
	if len(cands) == 0 {
		return shardPair{}, errNoMergePair
	}
	narrowest := slices.MinFunc(cands, func(a, b candidate) int { return a.width.Cmp(b.width) }).width
	limit := new(big.Int).Add(narrowest, new(big.Int).Rsh(narrowest, mergeTieShift))
	for _, c := range cands { // in hash key order: the first within the limit has the lowest start
		if c.width.Cmp(limit) <= 0 {
			return c.pair, nil
		}
	}
	return shardPair{}, errNoMergePair // not reached: the narrowest is within the limit
}

// hashRanges parses the shards' ranges, sorted by starting hash key.
func hashRanges(shards []ktypes.Shard) ([]hashRange, error) {
	out := make([]hashRange, 0, len(shards))
	for _, s := range shards {
		id := aws.ToString(s.ShardId)
		if s.HashKeyRange == nil {
			return nil, fmt.Errorf("shard %s has no hash key range", id)
		}
		start, ok1 := new(big.Int).SetString(aws.ToString(s.HashKeyRange.StartingHashKey), 10)
		end, ok2 := new(big.Int).SetString(aws.ToString(s.HashKeyRange.EndingHashKey), 10)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("shard %s has an unreadable hash key range [%s, %s]", id,
				aws.ToString(s.HashKeyRange.StartingHashKey), aws.ToString(s.HashKeyRange.EndingHashKey))
		}
		out = append(out, hashRange{id: id, start: start, end: end})
	}
	slices.SortFunc(out, func(a, b hashRange) int { return cmp.Or(a.start.Cmp(b.start), cmp.Compare(a.id, b.id)) })
	return out, nil
}

// mergeProgress is the StreamReady wording of a scale-down by merges.
func mergeProgress(open, target int32) string {
	return fmt.Sprintf("open %d → %d by MergeShards, no UpdateShardCount call spent", open, target)
}

// mergeOutcome runs a mergeShards action: it lists the open shards, chooses
// the pair (mergePairOf) and, unless in dry run, merges it in one MergeShards
// call, counted in r.ShardMerges when accepted. The list is fresh every
// time: a pair refused because the list was stale is chosen again from the
// next pass's list.
func (r *StreamProcessorReconciler) mergeOutcome(ctx context.Context, sp *streamingv1alpha1.StreamProcessor, streams kinesisaws.Streams, a mergeShards) outcome {
	o := outcome{action: a}
	open, err := streams.OpenShards(ctx, a.name)
	if err != nil {
		o.err = err
		return o
	}
	pair, err := mergePairOf(open)
	if err != nil {
		o.err = fmt.Errorf("choose the shards of stream %q to merge (%d open): %w", a.name, len(open), err)
		return o
	}
	o.pair = &pair
	if a.dryRun {
		return o
	}
	if o.err = streams.Merge(ctx, a.name, pair.shard, pair.adjacent); o.err == nil {
		log.FromContext(ctx).Info("Merged shards", "stream", a.name, "shard", pair.shard, "adjacentShard", pair.adjacent, "from", a.from, "target", a.to)
		if r.ShardMerges != nil {
			r.ShardMerges.WithLabelValues(sp.Namespace, sp.Name).Inc()
		}
	}
	return o
}

// applyMerge reports a mergeShards: MergingShards, UPDATING and a Normal
// event when Kinesis accepted the merge; the pair it would merge in dry run.
// Refusals wait rather than fail: a pair refused as invalid (the list was
// stale: a shard already merged, or no longer adjacent) and shards that
// hold no pair are listed again next poll; LimitExceededException, which
// for MergeShards and ListShards is their request rate (5 a second per
// account, 1000 per stream), backs off as a throttle; ResourceInUseException
// (not ACTIVE) waits a poll (failed).
func (o outcome) applyMerge(n *notes, a mergeShards) (time.Duration, error) {
	progress := mergeProgress(a.from, a.to)
	switch {
	case o.err != nil && errors.Is(o.err, errNoMergePair):
		n.set(ConditionStreamReady, metav1.ConditionFalse, ReasonMergingShards, fmt.Sprintf("%v; listing the open shards again in %s", o.err, n.t.poll))
		return 0, waitFor(n.t.poll, "%v", o.err)
	case o.err != nil && o.pair != nil && awsapi.Is(o.err, awsapi.KindInvalid):
		n.set(ConditionStreamReady, metav1.ConditionFalse, ReasonMergingShards, fmt.Sprintf(
			"MergeShards refused %s of stream %s (%s): the shard list was stale; listing the open shards again in %s", o.pair, a.name, awsapi.Message(o.err), n.t.poll))
		return 0, waitFor(n.t.poll, "%v", o.err)
	case o.err != nil && awsapi.Is(o.err, awsapi.KindLimit):
		n.set(ConditionStreamReady, metav1.ConditionFalse, ReasonThrottled, awsapi.Message(o.err))
		return 0, waitFor(2*n.t.poll, "%v", o.err)
	case o.err != nil:
		return 0, n.failed(ConditionStreamReady, o.err)
	case a.dryRun:
		n.set(ConditionStreamReady, metav1.ConditionTrue, ReasonReady, fmt.Sprintf(
			"dry run: stream %s has %d open shards; would merge %s (%s)", a.name, a.from, o.pair, progress))
		return 0, nil
	}
	n.normal(EventShardsMerged, "Merged shards %s of stream %s: %s", o.pair, a.name, progress)
	n.set(ConditionStreamReady, metav1.ConditionFalse, ReasonMergingShards, fmt.Sprintf("merging %s of stream %s: %s", o.pair, a.name, progress))
	n.sp.Status.Stream.Status = string(ktypes.StreamStatusUpdating)
	return n.t.poll, nil
}
