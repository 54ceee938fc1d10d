package controllers

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
)

// tagCountingKinesis answers DescribeStreamSummary with summary and
// ListTagsForStream with tags, counting both; any other call panics (the
// embedded nil API), so a test sees a stream change it did not expect.
type tagCountingKinesis struct {
	KinesisAPI
	summary             ktypes.StreamDescriptionSummary
	tags                map[string]string
	describes, tagReads int
}

func (k *tagCountingKinesis) DescribeStreamSummary(context.Context, *kinesis.DescribeStreamSummaryInput, ...func(*kinesis.Options)) (*kinesis.DescribeStreamSummaryOutput, error) {
	k.describes++
	s := k.summary
	return &kinesis.DescribeStreamSummaryOutput{StreamDescriptionSummary: &s}, nil
}

func (k *tagCountingKinesis) ListTagsForStream(context.Context, *kinesis.ListTagsForStreamInput, ...func(*kinesis.Options)) (*kinesis.ListTagsForStreamOutput, error) {
	k.tagReads++
	out := &kinesis.ListTagsForStreamOutput{HasMoreTags: aws.Bool(false)}
	for key, v := range k.tags {
		out.Tags = append(out.Tags, ktypes.Tag{Key: aws.String(key), Value: aws.String(v)})
	}
	return out, nil
}

// unavailableECS fails every DescribeServices: these tests look at the stream.
type unavailableECS struct{ ECSAPI }

func (unavailableECS) DescribeServices(context.Context, *ecs.DescribeServicesInput, ...func(*ecs.Options)) (*ecs.DescribeServicesOutput, error) {
	return nil, apiError("ServerException")
}

// ownerPasses is a reconciler with a stream-owner memory and a fake clock,
// over sp's own ACTIVE stream created at planNow.
func ownerPasses(sp *streamingv1alpha1.StreamProcessor) (*StreamProcessorReconciler, *clocktesting.FakePassiveClock, *tagCountingKinesis, Clients) {
	s := activeStream(sp, 1)
	s.summary.StreamCreationTimestamp = aws.Time(planNow.Add(-time.Hour))
	k := &tagCountingKinesis{summary: s.summary, tags: desiredStreamTags(sp)}
	clk := clocktesting.NewFakePassiveClock(planNow)
	r := &StreamProcessorReconciler{Clock: clk, DriftRecheck: 10 * time.Minute, owners: newStreamOwners()}
	return r, clk, k, Clients{Region: "us-east-1", Kinesis: k, ECS: unavailableECS{}}
}

// streamActions are the planned actions that change the stream.
func streamActions(pl plan) []string {
	var out []string
	for _, a := range pl.actions {
		if a.part() == streamPart {
			out = append(out, describe(a))
		}
	}
	return out
}

// TestSteadyPassesReadStreamTagsOncePerRecheck: an object whose stream's
// tags were read and named it reads them again only after the drift recheck
// interval; every pass still describes the stream. The passes start at the
// object's point of the interval, for uids with early, late and middle
// points (phaseUIDs).
func TestSteadyPassesReadStreamTagsOncePerRecheck(t *testing.T) {
	for _, uid := range phaseUIDs(recheckStreamOwner, 10*time.Minute) {
		t.Run(string(uid), func(t *testing.T) {
			sp := planObject()
			sp.UID = uid
			r, clk, k, c := ownerPasses(sp)
			start := pointAfterPlanNow(uid, recheckStreamOwner, r.DriftRecheck)
			for i := range 5 { // one pass a minute
				clk.SetTime(start.Add(time.Duration(i) * time.Minute))
				pl := r.observeAndPlan(context.Background(), sp, namesOf(sp), c)
				if got := streamActions(pl); len(got) != 0 {
					t.Fatalf("pass %d: stream actions %v, want none", i, got)
				}
				if sp.Status = pl.status; !streamUsableIn(pl) {
					t.Fatalf("pass %d: stream not usable: %v", i, pl.errs)
				}
			}
			if k.describes != 5 || k.tagReads != 1 {
				t.Errorf("5 passes in 4 minutes: %d DescribeStreamSummary, %d ListTagsForStream; want 5 and 1", k.describes, k.tagReads)
			}
			clk.SetTime(start.Add(10 * time.Minute))
			r.observeAndPlan(context.Background(), sp, namesOf(sp), c)
			if k.tagReads != 2 {
				t.Errorf("after the recheck interval: %d ListTagsForStream, want 2", k.tagReads)
			}
		})
	}
}

// streamUsableIn: the plan reached the workloads (it planned no stream error).
func streamUsableIn(pl plan) bool {
	for _, e := range pl.errs {
		if e.part == streamPart {
			return false
		}
	}
	return !pl.incomplete
}

// TestRecreatedStreamIsReadAgain: a stream of the same name deleted and
// created again (another creation time) outside the operator, untagged, is
// not taken for the object's on the word of the memory: its tags are read
// and it is refused.
func TestRecreatedStreamIsReadAgain(t *testing.T) {
	sp := planObject()
	r, clk, k, c := ownerPasses(sp)
	sp.Status = r.observeAndPlan(context.Background(), sp, namesOf(sp), c).status

	k.summary.StreamCreationTimestamp = aws.Time(planNow.Add(30 * time.Second))
	k.tags = map[string]string{"team": "someone-else"}
	clk.SetTime(planNow.Add(time.Minute))
	pl := r.observeAndPlan(context.Background(), sp, namesOf(sp), c)
	if k.tagReads != 2 {
		t.Errorf("ListTagsForStream %d times, want 2 (the new stream's tags read)", k.tagReads)
	}
	if got := streamActions(pl); len(got) != 0 || conditionReason(&streamingv1alpha1.StreamProcessor{Status: pl.status}, ConditionStreamReady) != ReasonAdoptionRequired {
		t.Errorf("recreated stream: actions %v, StreamReady %q; want none and %s", got, conditionReason(&streamingv1alpha1.StreamProcessor{Status: pl.status}, ConditionStreamReady), ReasonAdoptionRequired)
	}
}

// TestStreamChangeRereadsRememberedTags: a pass whose plan would change the
// stream (here its retention) reads the tags first, even within the recheck
// interval; tags changed by hand to name another object turn the change
// into a refusal. With the tags still the object's, the change stands and
// the next pass reads the tags again (the change may have altered them).
func TestStreamChangeRereadsRememberedTags(t *testing.T) {
	sp := planObject()
	r, clk, k, c := ownerPasses(sp)
	sp.Status = r.observeAndPlan(context.Background(), sp, namesOf(sp), c).status

	sp.Spec.Stream.RetentionHours, sp.Generation = 48, 2
	clk.SetTime(planNow.Add(time.Minute))
	pl := r.observeAndPlan(context.Background(), sp, namesOf(sp), c)
	if got := streamActions(pl); len(got) != 1 || k.tagReads != 2 {
		t.Fatalf("retention change: stream actions %v after %d ListTagsForStream; want one, after 2", got, k.tagReads)
	}
	k.summary.RetentionPeriodHours = aws.Int32(48) // as the action would
	clk.SetTime(planNow.Add(2 * time.Minute))
	pl = r.observeAndPlan(context.Background(), sp, namesOf(sp), c)
	if got := streamActions(pl); len(got) != 0 || k.tagReads != 3 {
		t.Errorf("the pass after a stream change: stream actions %v, %d ListTagsForStream in all; want none, 3", got, k.tagReads)
	}

	k.tags = map[string]string{TagOwnerUID: "another-uid"} // retagged by hand, same stream
	sp.Spec.Stream.RetentionHours, sp.Generation = 72, 3
	clk.SetTime(planNow.Add(3 * time.Minute))
	pl = r.observeAndPlan(context.Background(), sp, namesOf(sp), c)
	if got := streamActions(pl); len(got) != 0 {
		t.Errorf("stream retagged for another object: planned %v on it, want nothing", got)
	}
	if reason := conditionReason(&streamingv1alpha1.StreamProcessor{Status: pl.status}, ConditionStreamReady); reason != ReasonOwnedByAnother {
		t.Errorf("StreamReady reason %q, want %s", reason, ReasonOwnedByAnother)
	}
}

// TestRecheckDue: the one rule of the dashboard, the log group and the
// stream's owner tags. planNow is a multiple of 10 minutes; with a 7-minute
// interval it lies 60 s past a multiple (Go's zero time is 1 Jan year 1:
// 63,931,348,800 s before planNow, 420 × 152,217,497 + 60), so that
// interval's points with phase 3 minutes are planNow+2m, planNow+9m, …
// The rows were checked against broken rules (the point a second early or
// late, never due, always due, a fixed 10-minute interval, no wait, two
// intervals, the phase ignored or counted twice, "an interval after the
// check", the wanted state ignored): each fails at least one.
func TestRecheckDue(t *testing.T) {
	const m = time.Minute
	for _, tc := range []struct {
		name         string
		every, phase time.Duration
		checkedAt    time.Time
		unchanged    bool
		now          time.Time
		due          bool
	}{
		{"never checked", 10 * m, 3 * m, time.Time{}, true, planNow, true},
		{"wanted state changed", 10 * m, 3 * m, planNow, false, planNow.Add(time.Second), true},
		{"before the object's point of the interval", 10 * m, 3 * m, planNow, true, planNow.Add(3*m - time.Second), false},
		{"at the object's point", 10 * m, 3 * m, planNow, true, planNow.Add(3 * m), true},
		{"checked at its point: not again within the interval", 10 * m, 3 * m, planNow.Add(3 * m), true, planNow.Add(13*m - time.Second), false},
		{"checked at its point: again an interval later", 10 * m, 3 * m, planNow.Add(3 * m), true, planNow.Add(13 * m), true},
		{"checked just after its point: waits the interval less a second", 10 * m, 3 * m, planNow.Add(3*m + time.Second), true, planNow.Add(13 * m), true},
		{"7-minute interval: before the point", 7 * m, 3 * m, planNow, true, planNow.Add(2*m - time.Second), false},
		{"7-minute interval: at the point", 7 * m, 3 * m, planNow, true, planNow.Add(2 * m), true},
		{"7-minute interval: checked at its point, not again within it", 7 * m, 3 * m, planNow.Add(2 * m), true, planNow.Add(9*m - time.Second), false},
		{"7-minute interval: checked at its point, again 7 minutes later", 7 * m, 3 * m, planNow.Add(2 * m), true, planNow.Add(9 * m), true},
		{"phase 0: checked at its point, not again within the interval", 10 * m, 0, planNow, true, planNow.Add(10*m - time.Second), false},
		{"phase 0: again an interval later", 10 * m, 0, planNow, true, planNow.Add(10 * m), true},
		{"no interval: always due", 0, 3 * m, planNow, true, planNow, true},
	} {
		if got := recheckDue(tc.checkedAt, tc.unchanged, tc.now, tc.every, tc.phase); got != tc.due {
			t.Errorf("%s: due %v, want %v", tc.name, got, tc.due)
		}
	}
}

// ownedStreamNamed is an object with uid-<name> whose stream <name> was
// created at planNow and is tagged as its own.
func ownedStreamNamed(name string) (*streamingv1alpha1.StreamProcessor, streamObservation) {
	sp := planObject()
	sp.UID = types.UID("uid-" + name)
	o := activeStream(sp, 1)
	o.summary.StreamARN = aws.String("arn:aws:kinesis:us-east-1:123456789012:stream/" + name)
	o.summary.StreamCreationTimestamp = aws.Time(planNow)
	o.tags = desiredStreamTags(sp)
	o.owner = ownerOf(sp, o.tags)
	return sp, o
}

// TestStreamOwnersDropsStaleEntries: the memory holds no stream longer than
// the recheck interval, so streams deleted meanwhile do not pile up.
func TestStreamOwnersDropsStaleEntries(t *testing.T) {
	s, every := newStreamOwners(), 10*time.Minute
	for i, name := range []string{"a", "b"} {
		sp, o := ownedStreamNamed(name)
		s.remember(sp, o, planNow.Add(time.Duration(i)*every), every)
	}
	if len(s.m) != 1 {
		t.Errorf("after the recheck interval the memory holds %d streams, want 1 (the fresh one)", len(s.m))
	}
}

// TestStreamOwnersSweepOncePerInterval: 1,000 streams each read once, one
// every 0.6 s, over five intervals (one per object per interval, as the
// recheck reads them; each stream read once stands for a stream deleted
// after its read): the sweeps look at each entry about once an interval,
// not on every read (a sweep on every read visited 2,344,265 entries here),
// and the memory never holds an entry read more than two intervals ago.
func TestStreamOwnersSweepOncePerInterval(t *testing.T) {
	const n, rounds = 1000, 5
	s, every := newStreamOwners(), 10*time.Minute
	step := every / n
	visited := 0 // entries held when a remember swept
	for i := range n * rounds {
		now := planNow.Add(time.Duration(i) * step)
		sp, o := ownedStreamNamed(fmt.Sprint(i))
		held, swept := len(s.m), s.sweptAt
		s.remember(sp, o, now, every)
		if !s.sweptAt.Equal(swept) {
			visited += held
		}
		if i%50 != 0 {
			continue
		}
		for arn, m := range s.m {
			if now.Sub(m.readAt) > 2*every {
				t.Fatalf("at %s the memory still holds %s, read at %s: more than two intervals ago", now.Sub(planNow), arn, m.readAt.Sub(planNow))
			}
		}
	}
	if max := 2 * n * rounds; visited > max {
		t.Errorf("sweeps visited %d entries over %d reads in %d intervals, want at most %d (each entry about once an interval)", visited, n*rounds, rounds, max)
	}
	t.Logf("%d reads over %d intervals: sweeps visited %d entries, memory holds %d", n*rounds, rounds, visited, len(s.m))
}
