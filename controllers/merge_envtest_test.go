package controllers

import (
	"context"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
	kinesisaws "github.com/kdp-io/streamprocessor-operator/internal/aws/kinesis"
	"github.com/kdp-io/streamprocessor-operator/internal/awsapi"
	"github.com/kdp-io/streamprocessor-operator/internal/scaling"
	"github.com/kdp-io/streamprocessor-operator/internal/testenv"
)

// mergeDownTo2 is the policy with one decision forced, as a policy that
// sheds shards by merges would make it: with minShards 2 and more shards
// open, 2 shards by MergeShards.
func mergeDownTo2(in scaling.Inputs, prev scaling.State, now time.Time) (scaling.Decision, scaling.State) {
	d, next := scaling.Decide(in, prev, now)
	if in.Stream.MinShards == 2 && in.OpenShards > 2 {
		d.Shards, d.ByMerge, d.ShardRule = 2, true, scaling.ShardMergeDown
		d.ShardReason = "test: scale down by MergeShards"
	}
	return d, next
}

// TestMergeDownOnKinesisLocal, on kinesis-local: a stream of 4 even shards
// that the policy takes to 2 by merges gets there by two MergeShards calls,
// one per pass while ACTIVE, spending no UpdateShardCount call (the ledger
// stays empty); each merge is an event and counted; the open shards are the
// children of two adjacent pairs and split the hash key space in halves.
// The policy's decision is forced through the reconciler's decide seam.
func TestMergeDownOnKinesisLocal(t *testing.T) {
	requireSuite(t)
	g := NewWithT(t)
	merges := NewShardMergesCounter()
	op := startOperator(t, func(r *StreamProcessorReconciler) { r.decide, r.ShardMerges = mergeDownTo2, merges })
	sp := sample(newNamespace(t), "merge-down")
	sp.Spec.Stream.MinShards = 4
	g.Expect(suite.k8s.Create(context.Background(), sp)).To(Succeed())
	waitReady(t, sp, 90*time.Second)
	open4, _ := streamSummary(g, sp)
	g.Expect(open4).To(Equal(int32(4)))

	update(t, sp, func(s *streamingv1alpha1.StreamProcessor) { s.Spec.Stream.MinShards = 2 })
	var merging []string // StreamReady messages seen while merging
	g.Eventually(func(g Gomega) {
		got := get(g, sp)
		if c := findCondition(got, ConditionStreamReady); c != nil && c.Reason == ReasonMergingShards && !slices.Contains(merging, c.Message) {
			merging = append(merging, c.Message)
		}
		open, status := streamSummary(g, sp)
		g.Expect(open).To(Equal(int32(2)))
		g.Expect(status).To(Equal(string(ktypes.StreamStatusActive)))
		g.Expect(findCondition(got, ConditionStreamReady).Reason).To(Equal(ReasonReady))
		g.Expect(got.Status.Stream.OpenShards).To(Equal(int32(2)))
	}, 60*time.Second, 100*time.Millisecond).Should(Succeed())

	got := waitReady(t, sp, 10*time.Second)
	g.Expect(got.Status.Stream.Reshards).To(BeEmpty(), "a merge spends no UpdateShardCount call")
	g.Expect(op.callCount("Kinesis", "UpdateShardCount", "ok")).To(BeZero())
	g.Expect(op.callCount("Kinesis", "MergeShards", "ok")).To(Equal(2))
	g.Expect(testutil.ToFloat64(merges.WithLabelValues(sp.Namespace, sp.Name))).To(Equal(2.0))
	g.Eventually(func(g Gomega) {
		notes := eventNotes(g, sp, EventShardsMerged)
		g.Expect(notes).To(HaveLen(2))
		g.Expect(strings.Join(notes, "\n")).To(And(ContainSubstring("open 4 → 2 by MergeShards, no UpdateShardCount call spent"), ContainSubstring("open 3 → 2")))
	}, 10*time.Second, 200*time.Millisecond).Should(Succeed())
	for _, m := range merging {
		g.Expect(m).To(ContainSubstring("→ 2 by MergeShards, no UpdateShardCount call spent"))
	}
	t.Logf("StreamReady while merging: %q", merging)

	// The children: each open shard has two parents, closed shards of the
	// stream's first four, and the two halve the hash key space.
	out, err := suite.kinesis.ListShards(context.Background(), &kinesis.ListShardsInput{StreamName: aws.String(streamName(got))})
	g.Expect(err).NotTo(HaveOccurred())
	closed := map[string]bool{}
	var open []ktypes.Shard
	for _, s := range out.Shards {
		if s.SequenceNumberRange.EndingSequenceNumber != nil {
			closed[aws.ToString(s.ShardId)] = true
		} else {
			open = append(open, s)
		}
	}
	g.Expect(closed).To(HaveLen(4))
	g.Expect(open).To(HaveLen(2))
	half := new(big.Int).Lsh(big.NewInt(1), 127)
	for _, s := range open {
		g.Expect(closed).To(HaveKey(aws.ToString(s.ParentShardId)), "parent of %s", aws.ToString(s.ShardId))
		g.Expect(closed).To(HaveKey(aws.ToString(s.AdjacentParentShardId)), "adjacent parent of %s", aws.ToString(s.ShardId))
		start, _ := new(big.Int).SetString(aws.ToString(s.HashKeyRange.StartingHashKey), 10)
		end, _ := new(big.Int).SetString(aws.ToString(s.HashKeyRange.EndingHashKey), 10)
		width := new(big.Int).Sub(new(big.Int).Add(end, big.NewInt(1)), start)
		diff := new(big.Int).Abs(new(big.Int).Sub(width, half))
		g.Expect(diff.Cmp(big.NewInt(16))).To(BeNumerically("<=", 0), "shard %s spans %s keys, not half", aws.ToString(s.ShardId), width)
	}
	g.Expect(findCondition(got, ConditionStreamReady).Status).To(Equal(metav1.ConditionTrue))
	deleteAndWait(t, sp)
}

// TestMergeShardsChecksOnKinesisLocal, on kinesis-local, through the
// adapter: MergeShards refuses shards that are not adjacent (Invalid) and a
// stream that is not ACTIVE (InUse), and a shard already merged (InUse
// there; AWS's answer may differ, which applyMerge treats alike: list again);
// UpdateShardCount after a merge (3 uneven shards) is accepted, up (3 → 4)
// and down (3 → 2). It does not end even on kinesis-local, which splits or
// merges shards in id order (3 → 4 gave ½, ⅛, ⅛, ¼; 3 → 2 from ½, ¼, ¼ gave
// ¾, ¼), where AWS documents UNIFORM_SCALING as "shards of equal size": the
// ranges are logged, not asserted.
func TestMergeShardsChecksOnKinesisLocal(t *testing.T) {
	requireSuite(t)
	g := NewWithT(t)
	ctx := context.Background()
	streams := kinesisaws.Streams{API: suite.kinesis}
	name := testenv.UniqueName("merge-checks")
	g.Expect(streams.Create(ctx, name, 4, false, nil)).To(Succeed())
	t.Cleanup(func() { _, _ = streams.Delete(context.Background(), name) })
	active := func() {
		g.Eventually(func(g Gomega) {
			d, err := streams.Describe(ctx, name)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(d.StreamStatus).To(Equal(ktypes.StreamStatusActive))
		}, 30*time.Second, 100*time.Millisecond).Should(Succeed())
	}
	sorted := func() []hashRange {
		open, err := streams.OpenShards(ctx, name)
		g.Expect(err).NotTo(HaveOccurred())
		r, err := hashRanges(open)
		g.Expect(err).NotTo(HaveOccurred())
		return r
	}
	active()
	r := sorted()
	g.Expect(awsapi.Classify(streams.Merge(ctx, name, r[0].id, r[2].id))).To(Equal(awsapi.KindInvalid), "not adjacent")
	pair, err := mergePairOf(mustOpen(g, streams, name))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(streams.Merge(ctx, name, pair.shard, pair.adjacent)).To(Succeed())
	g.Expect(awsapi.Classify(streams.Merge(ctx, name, r[2].id, r[3].id))).To(Equal(awsapi.KindInUse), "while UPDATING")
	active()
	g.Expect(awsapi.Classify(streams.Merge(ctx, name, pair.shard, pair.adjacent))).To(Equal(awsapi.KindInUse), "a stale pair")
	g.Expect(sorted()).To(HaveLen(3))
	g.Expect(streams.Reshard(ctx, name, 3, 4)).To(Succeed())
	active()
	logRanges(t, "after 3 → 4", sorted())
	g.Expect(sorted()).To(HaveLen(4))
	pair, err = mergePairOf(mustOpen(g, streams, name))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(streams.Merge(ctx, name, pair.shard, pair.adjacent)).To(Succeed())
	active()
	logRanges(t, "after a merge", sorted())
	g.Expect(streams.Reshard(ctx, name, 3, 2)).To(Succeed())
	active()
	logRanges(t, "after 3 → 2", sorted())
	g.Expect(sorted()).To(HaveLen(2))
}

// logRanges logs shards' ranges as fractions of the hash key space.
func logRanges(t *testing.T, when string, r []hashRange) {
	t.Helper()
	space := new(big.Float).SetInt(new(big.Int).Lsh(big.NewInt(1), 128))
	var parts []string
	for _, s := range r {
		w := new(big.Float).SetInt(new(big.Int).Sub(new(big.Int).Add(s.end, big.NewInt(1)), s.start))
		f, _ := new(big.Float).Quo(w, space).Float64()
		parts = append(parts, fmt.Sprintf("%s %.4f", s.id, f))
	}
	t.Logf("%s: %s", when, strings.Join(parts, ", "))
}

func mustOpen(g Gomega, streams kinesisaws.Streams, name string) []ktypes.Shard {
	open, err := streams.OpenShards(context.Background(), name)
	g.Expect(err).NotTo(HaveOccurred())
	return open
}
