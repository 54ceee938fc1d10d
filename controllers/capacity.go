package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/log"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
	kinesisaws "github.com/kdp-io/streamprocessor-operator/internal/aws/kinesis"
	"github.com/kdp-io/streamprocessor-operator/internal/awsapi"
	"github.com/kdp-io/streamprocessor-operator/internal/capacity"
)

// The stream's capacity mode (spec.stream.capacityMode): observed from
// DescribeStreamSummary's StreamModeDetails, decided here (Auto with
// internal/capacity), switched with UpdateStreamMode within AWS's two
// switches per rolling 24 hours, whose ledger is status.stream.modeSwitches,
// written before each call like the reshard ledger.

// loadObservation is the stream's write load history, read only for Auto.
type loadObservation struct {
	samples []capacity.Sample
	err     error
}

// LoadHistory reads a stream's write load of the last week from CloudWatch
// for the Auto capacity mode: AWS/Kinesis IncomingBytes and IncomingRecords,
// Sum per 5 minutes (CloudWatch keeps 5-minute data for 63 days), two
// queries in one GetMetricData call, reused for MaxAge per stream.
type LoadHistory struct {
	MaxAge time.Duration

	mu    sync.Mutex
	cache map[string]loadEntry
}

type loadEntry struct {
	at      time.Time
	samples []capacity.Sample
}

// LoadPeriod is the period of the load samples.
const LoadPeriod = 5 * time.Minute

// NewLoadHistory returns a LoadHistory whose reads are at most maxAge old.
func NewLoadHistory(maxAge time.Duration) *LoadHistory {
	return &LoadHistory{MaxAge: maxAge, cache: map[string]loadEntry{}}
}

// Read returns the stream's samples of the week before now, oldest first.
func (h *LoadHistory) Read(ctx context.Context, cw CloudWatchAPI, region, stream string, now time.Time) ([]capacity.Sample, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	key := region + "/" + stream
	if e, ok := h.cache[key]; ok && now.Sub(e.at) < h.MaxAge && !now.Before(e.at) {
		return e.samples, nil
	}
	samples, err := readLoad(ctx, cw, stream, now)
	if err != nil {
		return nil, err
	}
	h.cache[key] = loadEntry{at: now, samples: samples}
	return samples, nil
}

func readLoad(ctx context.Context, cw CloudWatchAPI, stream string, now time.Time) ([]capacity.Sample, error) {
	q := func(id, metric string) cwtypes.MetricDataQuery {
		return cwtypes.MetricDataQuery{Id: aws.String(id), ReturnData: aws.Bool(true), MetricStat: &cwtypes.MetricStat{
			Metric: &cwtypes.Metric{Namespace: aws.String("AWS/Kinesis"), MetricName: aws.String(metric),
				Dimensions: []cwtypes.Dimension{{Name: aws.String("StreamName"), Value: aws.String(stream)}}},
			Period: aws.Int32(int32(LoadPeriod / time.Second)), Stat: aws.String("Sum"),
		}}
	}
	end := now.Truncate(LoadPeriod)
	in := &cloudwatch.GetMetricDataInput{
		MetricDataQueries: []cwtypes.MetricDataQuery{q("bytes", "IncomingBytes"), q("records", "IncomingRecords")},
		StartTime:         aws.Time(end.Add(-capacity.Week)), EndTime: aws.Time(end), ScanBy: cwtypes.ScanByTimestampAscending,
	}
	byStart := map[time.Time]*capacity.Sample{}
	for {
		page, err := cw.GetMetricData(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("get the write load of stream %q: %w", stream, err)
		}
		for _, r := range page.MetricDataResults {
			for i, ts := range r.Timestamps {
				if i >= len(r.Values) {
					break
				}
				s := byStart[ts]
				if s == nil {
					s = &capacity.Sample{Start: ts, Period: LoadPeriod}
					byStart[ts] = s
				}
				if aws.ToString(r.Id) == "bytes" {
					s.Bytes = r.Values[i]
				} else {
					s.Records = r.Values[i]
				}
			}
		}
		if page.NextToken == nil {
			break
		}
		in.NextToken = page.NextToken
	}
	out := make([]capacity.Sample, 0, len(byStart))
	for _, s := range byStart {
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b capacity.Sample) int { return a.Start.Compare(b.Start) })
	return out, nil
}

// observeLoad reads the load history when the spec asks for Auto (nothing
// otherwise: no CloudWatch call the decision does not need).
func (r *StreamProcessorReconciler) observeLoad(ctx context.Context, sp *streamingv1alpha1.StreamProcessor, c Clients, o streamObservation) loadObservation {
	if sp.Spec.Stream.CapacityMode != streamingv1alpha1.CapacityAuto || !o.found || r.LoadHistory == nil || c.CloudWatch == nil {
		return loadObservation{}
	}
	samples, err := r.LoadHistory.Read(ctx, c.CloudWatch, c.Region, sp.Status.Stream.Name, r.Clock.Now())
	if err != nil {
		log.FromContext(ctx).Info("Reading the stream's load history failed; keeping its capacity mode", "error", err.Error())
	}
	return loadObservation{samples: samples, err: err}
}

// switchMode is one UpdateStreamMode call; the plan has put it in the
// ledger.
type switchMode struct {
	name, arn string
	from, to  capacity.Mode
	reason    string
}

func (switchMode) part() string { return streamPart }

// observedMode is the stream's mode; a summary without StreamModeDetails
// (older streams, some emulators) is provisioned.
func observedMode(d ktypes.StreamDescriptionSummary) capacity.Mode {
	if d.StreamModeDetails != nil && d.StreamModeDetails.StreamMode == ktypes.StreamModeOnDemand {
		return capacity.OnDemand
	}
	return capacity.Provisioned
}

// createMode is the mode a new stream is created in: on-demand only when
// the spec says OnDemand (Auto has no load history yet: provisioned).
func createMode(sp *streamingv1alpha1.StreamProcessor) capacity.Mode {
	if sp.Spec.Stream.CapacityMode == streamingv1alpha1.CapacityOnDemand {
		return capacity.OnDemand
	}
	return capacity.Provisioned
}

// wantedMode is the mode the spec asks for; for Auto, internal/capacity's
// decision on the observed load, recorded in status.cost with both
// estimates (status.cost is cleared in the other modes). Auto's switch is a
// scaling decision: it keeps the current mode without load history
// (CloudWatch failed), while scaling is paused, and in dry run (status.cost
// then says what it would do).
func wantedMode(n *notes, cur capacity.Mode, open int32, load loadObservation) (capacity.Mode, string) {
	sp := n.sp
	switch sp.Spec.Stream.CapacityMode {
	case streamingv1alpha1.CapacityOnDemand:
		sp.Status.Cost = nil
		return capacity.OnDemand, "spec.stream.capacityMode is OnDemand"
	case streamingv1alpha1.CapacityAuto:
	default:
		sp.Status.Cost = nil
		return capacity.Provisioned, "spec.stream.capacityMode is Provisioned"
	}
	held := capacity.RecordHeld(heldShards(sp.Status.Cost), n.now, cur, open)
	d := capacity.Decide(cur, load.samples, held, n.now, capacity.Pricing{
		TargetUtilization: float64(sp.Spec.Stream.TargetUtilizationPercent) / 100, MinShards: sp.Spec.Stream.MinShards,
	})
	switch {
	case load.err != nil:
		d.Mode, d.Reason = cur, fmt.Sprintf("%s: the load history could not be read (%s)", cur, awsapi.Message(load.err))
	case sp.Spec.Scaling.Paused:
		d.Mode, d.Reason = cur, fmt.Sprintf("%s: scaling is paused (the estimates say: %s)", cur, d.Reason)
	case sp.Spec.Scaling.DryRun && d.Mode != cur:
		d.Mode, d.Reason = cur, fmt.Sprintf("%s: dry run; would switch: %s", cur, d.Reason)
	}
	usd := func(x float64) string { return fmt.Sprintf("%.4f", x) }
	sp.Status.Cost = &streamingv1alpha1.CostStatus{
		Time: metav1.NewTime(n.now), Mode: string(d.Mode), Reason: d.Reason,
		ProvisionedPerHour: usd(d.Week.ProvisionedPerHour), OnDemandPerHour: usd(d.Week.OnDemandPerHour),
		Day:        fmt.Sprintf("provisioned %s, on-demand %s", usd(d.Day.ProvisionedPerHour), usd(d.Day.OnDemandPerHour)),
		HeldShards: heldRecords(held),
	}
	return d.Mode, "capacityMode Auto: " + d.Reason
}

// heldCondition is StreamReady while the stream is not yet in the wanted
// mode; it overrides the shard plan's.
type heldCondition struct{ reason, message string }

// capacityPlan is what the mode plan tells the rest of the pass.
type capacityPlan struct {
	onDemand  bool // ON_DEMAND now: Kinesis scales the shards, the operator does not
	switching bool // a switch is planned: the stream will be UPDATING
	hold      *heldCondition
}

// planCapacity records the stream's mode, decides the wanted one, and plans
// one UpdateStreamMode towards it: not while the stream is UPDATING (a
// wait), not when two switches in the last 24 hours are in the ledger (a
// wait until the older ages out, at most an interval, warned once); a
// planned switch is already in the ledger, as a planned reshard is.
func planCapacity(n *notes, pl *plan, o streamObservation) capacityPlan {
	st := &n.sp.Status.Stream
	cur := observedMode(o.summary)
	st.Mode = string(cur)
	st.ModeSwitches = toMetaTimes(capacity.PruneSwitches(ledger(st.ModeSwitches), n.now))
	want, why := wantedMode(n, cur, aws.ToInt32(o.summary.OpenShardCount), o.load)
	cp := capacityPlan{onDemand: cur == capacity.OnDemand}
	if want == cur {
		return cp
	}
	ok, next := capacity.SwitchAllowed(ledger(st.ModeSwitches), n.now)
	switch {
	case o.summary.StreamStatus == ktypes.StreamStatusUpdating:
		cp.hold = &heldCondition{ReasonUpdating, fmt.Sprintf("stream %s is UPDATING; it is switched from %s to %s once ACTIVE (%s)", st.Name, cur, want, why)}
		pl.waitFor(n.t.poll)
	case !ok:
		var at []string
		for _, t := range st.ModeSwitches {
			at = append(at, t.UTC().Format(time.RFC3339))
		}
		msg := fmt.Sprintf("stream %s stays %s although %s is wanted (%s): AWS allows %d capacity-mode switches per stream per rolling 24 hours, made at %s; the next is possible at %s",
			st.Name, cur, want, why, capacity.SwitchesPerWindow, strings.Join(at, ", "), next.UTC().Format(time.RFC3339))
		if conditionReason(n.sp, ConditionStreamReady) != ReasonModeSwitchBudgetSpent {
			n.warn(EventModeSwitchWaiting, "%s", msg)
		}
		cp.hold = &heldCondition{ReasonModeSwitchBudgetSpent, msg}
		pl.waitFor(min(next.Sub(n.now), seconds(n.sp.Spec.Scaling.IntervalSeconds)))
	default:
		st.ModeSwitches = append(st.ModeSwitches, metav1.NewTime(n.now))
		pl.actions = append(pl.actions, switchMode{name: st.Name, arn: aws.ToString(o.summary.StreamARN), from: cur, to: want, reason: why})
		cp.switching = true
	}
	return cp
}

// planStreamCapacity plans the shards for the stream's mode: one reshard
// step when provisioned (planReshard); nothing when on-demand, where
// StreamReady says Kinesis scales it. A held mode switch overrides
// StreamReady either way.
func planStreamCapacity(n *notes, pl *plan, s streamState, t Targets, byMerge bool) {
	switch {
	case !s.onDemand:
		planReshard(n, pl, s, t, byMerge)
	case s.updating:
		n.set(ConditionStreamReady, metav1.ConditionFalse, ReasonUpdating, fmt.Sprintf("stream %s is UPDATING (ON_DEMAND, %d open shards)", n.sp.Status.Stream.Name, s.open))
		pl.waitFor(n.t.poll)
	default:
		n.set(ConditionStreamReady, metav1.ConditionTrue, ReasonReady, fmt.Sprintf("stream %s is ACTIVE and ON_DEMAND with %d open shards; Kinesis scales it", n.sp.Status.Stream.Name, s.open))
	}
	if h := s.modeHold; h != nil {
		n.set(ConditionStreamReady, metav1.ConditionFalse, h.reason, h.message)
	}
}

// switchModeOutcome makes a planned UpdateStreamMode call, after writing the
// status with the call in its ledger: a crash between the call and the
// pass's status write must not give the switch back.
func switchModeOutcome(ctx context.Context, sp *streamingv1alpha1.StreamProcessor, patcher *statusPatcher, streams kinesisaws.Streams, a switchMode) outcome {
	o := outcome{action: a}
	if err := patcher.patch(ctx, sp); err != nil {
		o.err, o.notCalled = fmt.Errorf("record capacity-mode switch in status: %w", err), true
		return o
	}
	if o.err = streams.SetMode(ctx, a.arn, ktypes.StreamMode(a.to)); o.err == nil {
		log.FromContext(ctx).Info("Switched stream capacity mode", "stream", a.name, "from", a.from, "to", a.to, "reason", a.reason)
	}
	return o
}

// applyModeSwitch reports a switch: UPDATING and an event when made; when
// AWS refused it (busy, limit, invalid) or it was not made, the call did not
// count and leaves the ledger.
func (o outcome) applyModeSwitch(n *notes, a switchMode) (time.Duration, error) {
	st := &n.sp.Status.Stream
	if o.err != nil {
		if k := awsapi.Classify(o.err); o.notCalled || k == awsapi.KindInUse || k == awsapi.KindLimit || k == awsapi.KindInvalid {
			st.ModeSwitches = st.ModeSwitches[:max(0, len(st.ModeSwitches)-1)] // the plan appended it last
		}
		if o.notCalled {
			return 0, o.err
		}
		return 0, n.failed(ConditionStreamReady, o.err)
	}
	n.normal(EventModeSwitched, "Switched stream %s from %s to %s: %s", a.name, a.from, a.to, a.reason)
	n.set(ConditionStreamReady, metav1.ConditionFalse, ReasonSwitchingMode, fmt.Sprintf("stream %s is switching from %s to %s", a.name, a.from, a.to))
	st.Status = string(ktypes.StreamStatusUpdating)
	return n.t.poll, nil
}

// heldShards is the held-shards history of the previous pass's status.cost
// (none without one).
func heldShards(c *streamingv1alpha1.CostStatus) []capacity.HeldHour {
	if c == nil {
		return nil
	}
	out := make([]capacity.HeldHour, 0, len(c.HeldShards))
	for _, r := range c.HeldShards {
		out = append(out, capacity.HeldHour{Start: time.Unix(r.At, 0).UTC(), Shards: r.N})
	}
	return out
}

// heldRecords is held as status records.
func heldRecords(held []capacity.HeldHour) []streamingv1alpha1.ScalingRecord {
	out := make([]streamingv1alpha1.ScalingRecord, 0, len(held))
	for _, h := range held {
		out = append(out, streamingv1alpha1.ScalingRecord{At: h.Start.Unix(), N: h.Shards})
	}
	return out
}
