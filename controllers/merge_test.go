package controllers

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
	kinesisaws "github.com/kdp-io/streamprocessor-operator/internal/aws/kinesis"
	"github.com/kdp-io/streamprocessor-operator/internal/scaling"
	"github.com/kdp-io/streamprocessor-operator/internal/shardmap/shardmaptest"
)

// shardsOf builds open shards from hash key boundaries: the shard named
// ids[i] holds [bounds[i], bounds[i+1]-1]; the last ends at 2^128-1.
func shardsOf(ids []string, bounds ...*big.Int) []ktypes.Shard {
	end := new(big.Int).Lsh(big.NewInt(1), 128)
	out := make([]ktypes.Shard, len(ids))
	for i, id := range ids {
		next := end
		if i+1 < len(bounds) {
			next = bounds[i+1]
		}
		out[i] = shardmaptest.Open(id, bounds[i].String(), new(big.Int).Sub(next, big.NewInt(1)).String())
	}
	return out
}

// quarter returns k quarters of the hash key space, plus delta keys.
func quarter(k, delta int64) *big.Int {
	q := new(big.Int).Lsh(big.NewInt(1), 126)
	return new(big.Int).Add(new(big.Int).Mul(q, big.NewInt(k)), big.NewInt(delta))
}

// TestMergePairOf: the pair with the narrowest joint range, ties (within
// UpdateShardCount's rounding) to the lowest start, whatever order
// ListShards returns; only adjacent shards pair.
func TestMergePairOf(t *testing.T) {
	even4 := shardmaptest.Even(4, 0) // the last shard is a few keys wider (the remainder)
	tests := []struct {
		name    string
		open    []ktypes.Shard
		want    string // "a and b", or the error's text
		wantErr bool
	}{
		{name: "even shards: the lowest pair", open: even4, want: "shardId-000000000000 and shardId-000000000001"},
		{name: "listed out of hash key order", open: []ktypes.Shard{even4[3], even4[1], even4[2], even4[0]},
			want: "shardId-000000000000 and shardId-000000000001"},
		{name: "after one merge: the next even pair, not the merged one",
			open: shardsOf([]string{"m01", "s2", "s3"}, quarter(0, 0), quarter(2, 0), quarter(3, 0)), want: "s2 and s3"},
		{name: "uneven after a split: the two quarters",
			open: shardsOf([]string{"half", "q2", "q3"}, quarter(0, 0), quarter(2, 0), quarter(3, 0)), want: "q2 and q3"},
		{name: "uneven, quarters first", open: shardsOf([]string{"q0", "q1", "half"}, quarter(0, 0), quarter(1, 0), quarter(2, 0)), want: "q0 and q1"},
		{name: "rounding ties: outer shards a few keys wider go to the lowest start",
			open: shardsOf([]string{"a", "b", "c", "d"}, quarter(0, 0), quarter(1, 3), quarter(2, 3), quarter(3, -3)), want: "a and b"},
		{name: "exact ties: the lowest start", open: shardsOf([]string{"x", "y"}, quarter(0, 0), quarter(2, 0)), want: "x and y"},
		{name: "a gap is not adjacent", open: []ktypes.Shard{
			shardmaptest.Open("lo", "0", "9"), shardmaptest.Open("mid", "11", "19"), shardmaptest.Open("hi", "20", "1000"),
		}, want: "mid and hi"},
		{name: "one shard left: no pair", open: shardmaptest.Even(1, 0), want: errNoMergePair.Error(), wantErr: true},
		{name: "no shards: no pair", open: nil, want: errNoMergePair.Error(), wantErr: true},
		{name: "an unreadable key", open: []ktypes.Shard{shardmaptest.Open("a", "0", "x"), shardmaptest.Open("b", "1", "2")},
			want: "unreadable hash key range", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := mergePairOf(tt.open)
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("mergePairOf = %v, %v; want error %q", got, err, tt.want)
				}
				return
			}
			if err != nil || got.String() != tt.want {
				t.Fatalf("mergePairOf = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// TestMergesHalveEvenly: merging the chosen pair again and again takes 8
// shards of an even split, whose ranges differ by a few keys as
// UpdateShardCount's rounding leaves them, to 4 even ones. Read exactly, the
// narrowest pair here is the middle one (3 and 4), and the halving would end
// with shards of 2, 3 and 1 eighths.
func TestMergesHalveEvenly(t *testing.T) {
	eighth := new(big.Int).Lsh(big.NewInt(1), 125)
	var bounds []*big.Int
	for k, d := range []int64{0, 2, 1, 3, 0, -2, -1, -3} {
		bounds = append(bounds, new(big.Int).Add(new(big.Int).Mul(eighth, big.NewInt(int64(k))), big.NewInt(d)))
	}
	open := shardsOf([]string{"e0", "e1", "e2", "e3", "e4", "e5", "e6", "e7"}, bounds...)
	for range 4 {
		p, err := mergePairOf(open)
		if err != nil {
			t.Fatal(err)
		}
		open = mergeFake(t, open, p)
	}
	ranges, _ := hashRanges(open)
	var got []string
	for _, r := range ranges {
		got = append(got, r.id)
	}
	if want := "e0+e1 e2+e3 e4+e5 e6+e7"; strings.Join(got, " ") != want {
		t.Errorf("after 4 merges: %v, want %s", got, want)
	}
}

// mergeFake merges p in open as Kinesis does: one child with the joint range.
func mergeFake(t *testing.T, open []ktypes.Shard, p shardPair) []ktypes.Shard {
	t.Helper()
	var lo, hi ktypes.Shard
	var out []ktypes.Shard
	for _, s := range open {
		switch aws.ToString(s.ShardId) {
		case p.shard:
			lo = s
		case p.adjacent:
			hi = s
		default:
			out = append(out, s)
		}
	}
	child := shardmaptest.Open(p.shard+"+"+p.adjacent, *lo.HashKeyRange.StartingHashKey, *hi.HashKeyRange.EndingHashKey)
	return append(out, child)
}

// mergeKinesis lists shards and answers MergeShards with err.
type mergeKinesis struct {
	KinesisAPI
	open   []ktypes.Shard
	err    error
	merged []string
}

func (k *mergeKinesis) ListShards(context.Context, *kinesis.ListShardsInput, ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error) {
	return &kinesis.ListShardsOutput{Shards: k.open}, nil
}

func (k *mergeKinesis) MergeShards(_ context.Context, in *kinesis.MergeShardsInput, _ ...func(*kinesis.Options)) (*kinesis.MergeShardsOutput, error) {
	k.merged = append(k.merged, aws.ToString(in.ShardToMerge)+"+"+aws.ToString(in.AdjacentShardToMerge))
	return &kinesis.MergeShardsOutput{}, k.err
}

// TestMergeOutcome: one pass's merge — the pair merged (or only named in
// dry run), the counter, and the report: StreamReady, the event and the
// wait for each of AWS's answers. No ledger entry in any case.
func TestMergeOutcome(t *testing.T) {
	apiErr := func(code string) error { return &smithy.GenericAPIError{Code: code, Message: code + " message"} }
	tests := []struct {
		name       string
		open       []ktypes.Shard
		err        error
		dryRun     bool
		wantMerged string
		wantCount  float64
		wantStatus metav1.ConditionStatus
		wantReason string
		wantInMsg  string
		wantWait   time.Duration // the wait asked for, as a duration or as a waitError
		wantEvent  string
	}{
		{name: "merged", open: shardmaptest.Even(8, 0), wantMerged: "shardId-000000000000+shardId-000000000001", wantCount: 1,
			wantStatus: metav1.ConditionFalse, wantReason: ReasonMergingShards,
			wantInMsg: "merging shardId-000000000000 and shardId-000000000001 of stream s: open 8 → 4 by MergeShards, no UpdateShardCount call spent",
			wantWait:  time.Second, wantEvent: EventShardsMerged},
		{name: "dry run names the pair, merges nothing", open: shardmaptest.Even(8, 0), dryRun: true,
			wantStatus: metav1.ConditionTrue, wantReason: ReasonReady, wantInMsg: "would merge shardId-000000000000 and shardId-000000000001"},
		{name: "not ACTIVE: wait a poll", open: shardmaptest.Even(8, 0), err: apiErr("ResourceInUseException"),
			wantMerged: "shardId-000000000000+shardId-000000000001", wantStatus: metav1.ConditionFalse, wantReason: ReasonUpdating, wantWait: time.Second},
		{name: "rate exceeded: back off as a throttle", open: shardmaptest.Even(8, 0), err: apiErr("LimitExceededException"),
			wantMerged: "shardId-000000000000+shardId-000000000001", wantStatus: metav1.ConditionFalse, wantReason: ReasonThrottled, wantWait: 2 * time.Second},
		{name: "stale list: listed again next poll", open: shardmaptest.Even(8, 0), err: apiErr("InvalidArgumentException"),
			wantMerged: "shardId-000000000000+shardId-000000000001", wantStatus: metav1.ConditionFalse, wantReason: ReasonMergingShards,
			wantInMsg: "the shard list was stale", wantWait: time.Second},
		{name: "one shard: nothing to merge, listed again", open: shardmaptest.Even(1, 0),
			wantStatus: metav1.ConditionFalse, wantReason: ReasonMergingShards, wantInMsg: "no two adjacent open shards", wantWait: time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := &mergeKinesis{open: tt.open, err: tt.err}
			r := &StreamProcessorReconciler{ShardMerges: NewShardMergesCounter()}
			sp := &streamingv1alpha1.StreamProcessor{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "sp"}}
			a := mergeShards{name: "s", from: int32(len(tt.open)), to: 4, dryRun: tt.dryRun}
			o := r.mergeOutcome(context.Background(), sp, kinesisaws.Streams{API: k}, a)
			if got := strings.Join(k.merged, ","); got != tt.wantMerged {
				t.Errorf("merged %q, want %q", got, tt.wantMerged)
			}
			if got := testutil.ToFloat64(r.ShardMerges.WithLabelValues("ns", "sp")); got != tt.wantCount {
				t.Errorf("%s = %v, want %v", ShardMergesMetric, got, tt.wantCount)
			}
			n := &notes{sp: sp, now: time.Unix(0, 0), t: passSettings{poll: time.Second, limitRetry: time.Minute}}
			wait, err := o.apply(n)
			var we *waitError
			if errors.As(err, &we) {
				wait = we.after
			} else if err != nil {
				t.Fatalf("apply error %v, want none or a wait", err)
			}
			c := meta.FindStatusCondition(sp.Status.Conditions, ConditionStreamReady)
			if c == nil || c.Status != tt.wantStatus || c.Reason != tt.wantReason || !strings.Contains(c.Message, tt.wantInMsg) || wait != tt.wantWait {
				t.Errorf("StreamReady %+v, wait %s; want %s/%s containing %q, wait %s", c, wait, tt.wantStatus, tt.wantReason, tt.wantInMsg, tt.wantWait)
			}
			events := fmt.Sprint(n.events)
			if tt.wantEvent != "" && !strings.Contains(events, tt.wantEvent) || tt.wantEvent == "" && len(n.events) > 0 {
				t.Errorf("events %s, want %q", events, tt.wantEvent)
			}
			if len(sp.Status.Stream.Reshards) != 0 {
				t.Errorf("ledger %v, want none: a merge spends no UpdateShardCount call", sp.Status.Stream.Reshards)
			}
		})
	}
}

// forceMerge is a policy that takes the shards to 4 by merges.
func forceMerge(in scaling.Inputs, prev scaling.State, now time.Time) (scaling.Decision, scaling.State) {
	d, next := scaling.Decide(in, prev, now)
	d.Shards, d.ByMerge, d.ShardRule = 4, true, scaling.ShardMergeDown
	return d, next
}

// TestPlanPassMergesOnlyWhatItShould: a policy's ByMerge becomes one
// mergeShards action (no reshard, no ledger entry) on the object's own
// provisioned stream; a dry run plans it too, to name the pair; paused
// objects and streams that are another object's get none.
func TestPlanPassMergesOnlyWhatItShould(t *testing.T) {
	tests := []struct {
		name   string
		change func(sp *streamingv1alpha1.StreamProcessor, obs *observed)
		want   string // the stream part's actions
	}{
		{name: "own stream: one merge", want: "merge 8→4"},
		{name: "dry run: the merge only lists", change: func(sp *streamingv1alpha1.StreamProcessor, _ *observed) { sp.Spec.Scaling.DryRun = true },
			want: "merge 8→4 (dry run)"},
		{name: "paused: nothing", change: func(sp *streamingv1alpha1.StreamProcessor, _ *observed) { sp.Spec.Scaling.Paused = true }},
		{name: "another's stream: nothing", change: func(sp *streamingv1alpha1.StreamProcessor, obs *observed) {
			tags := map[string]string{TagOwnerUID: "someone-else", TagOwnerName: "other", TagOwnerNamespace: sp.Namespace}
			obs.stream.tags, obs.stream.owner = tags, ownerOf(sp, tags)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sp := planObject()
			sp.Spec.Stream.MinShards, sp.Spec.Stream.MaxShards = 1, 16
			obs := convergedPass(sp)
			obs.stream = activeStream(sp, 8)
			sp.Status.Stream.OpenShards, sp.Status.Stream.TargetShards = 8, 8
			if tt.change != nil {
				tt.change(sp, &obs)
			}
			tm := planTiming
			tm.decide = forceMerge
			pl := planPass(sp, obs, planNow, tm)
			var got []string
			for _, a := range pl.actions {
				switch a := a.(type) {
				case mergeShards:
					s := fmt.Sprintf("merge %d→%d", a.from, a.to)
					if a.dryRun {
						s += " (dry run)"
					}
					got = append(got, s)
				case reshard, tagStream:
					got = append(got, describe(a))
				}
			}
			if strings.Join(got, "; ") != tt.want {
				t.Errorf("stream actions %q, want %q", got, tt.want)
			}
			if len(pl.status.Stream.Reshards) != 0 {
				t.Errorf("ledger %v, want none", pl.status.Stream.Reshards)
			}
		})
	}
}
