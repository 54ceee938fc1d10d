package controllers

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	. "github.com/onsi/gomega"
	clocktesting "k8s.io/utils/clock/testing"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
	"github.com/kdp-io/streamprocessor-operator/internal/awsconfig"
)

const mib = 1 << 20

// load is one minute of traffic as CloudWatch would report it.
type load struct {
	bytesPerSec, recordsPerSec, throttledPerSec float64
	iteratorAgeMs, producerCPU, consumerCPU     float64
	ingestRecordsPerSec                         float64 // the producer's own IngestRecords; 0: not published
	refusedRecordsPerSec                        float64 // the producer's RefusedRecords (429/503); 0: not published
}

// publish writes the AWS/Kinesis and AWS/ECS datapoints of sp for the minutes
// [from, to) into the CloudWatch emulator, as CloudWatch would hold them, and
// the producer's IngestRecords as the producer publishes it when asked.
func publish(t *testing.T, sp *streamingv1alpha1.StreamProcessor, from, to time.Time, l load) {
	t.Helper()
	cfg, err := awsconfig.Load(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	cw := cloudwatch.NewFromConfig(cfg, awsconfig.CloudWatchQueryProtocol)
	stream := []cwtypes.Dimension{{Name: aws.String("StreamName"), Value: aws.String(streamName(sp))}}
	svc := func(w string) []cwtypes.Dimension {
		return []cwtypes.Dimension{{Name: aws.String("ClusterName"), Value: aws.String(suite.account.Cluster)}, {Name: aws.String("ServiceName"), Value: aws.String(serviceName(sp, w))}}
	}
	for m := from.Truncate(time.Minute); m.Before(to); m = m.Add(time.Minute) {
		at := aws.Time(m)
		kinesisData := []cwtypes.MetricDatum{
			{MetricName: aws.String("IncomingBytes"), Dimensions: stream, Timestamp: at, Value: aws.Float64(l.bytesPerSec * 60), Unit: cwtypes.StandardUnitBytes},
			{MetricName: aws.String("IncomingRecords"), Dimensions: stream, Timestamp: at, Value: aws.Float64(l.recordsPerSec * 60), Unit: cwtypes.StandardUnitCount},
			{MetricName: aws.String("WriteProvisionedThroughputExceeded"), Dimensions: stream, Timestamp: at, Value: aws.Float64(l.throttledPerSec * 60), Unit: cwtypes.StandardUnitCount},
			{MetricName: aws.String("GetRecords.IteratorAgeMilliseconds"), Dimensions: stream, Timestamp: at, Value: aws.Float64(l.iteratorAgeMs), Unit: cwtypes.StandardUnitMilliseconds},
		}
		ecsData := []cwtypes.MetricDatum{
			{MetricName: aws.String("CPUUtilization"), Dimensions: svc(producer), Timestamp: at, Value: aws.Float64(l.producerCPU), Unit: cwtypes.StandardUnitPercent},
			{MetricName: aws.String("CPUUtilization"), Dimensions: svc(consumer), Timestamp: at, Value: aws.Float64(l.consumerCPU), Unit: cwtypes.StandardUnitPercent},
		}
		byNamespace := map[string][]cwtypes.MetricDatum{"AWS/Kinesis": kinesisData, "AWS/ECS": ecsData}
		if l.ingestRecordsPerSec > 0 {
			byNamespace[producerNamespace] = []cwtypes.MetricDatum{
				{MetricName: aws.String("IngestRecords"), Dimensions: stream, Timestamp: at, Value: aws.Float64(l.ingestRecordsPerSec * 60), Unit: cwtypes.StandardUnitCount},
			}
		}
		if l.refusedRecordsPerSec > 0 {
			byNamespace[producerNamespace] = append(byNamespace[producerNamespace], cwtypes.MetricDatum{
				MetricName: aws.String("RefusedRecords"), Dimensions: stream, Timestamp: at, Value: aws.Float64(l.refusedRecordsPerSec * 60), Unit: cwtypes.StandardUnitCount})
		}
		for ns, data := range byNamespace {
			if _, err := cw.PutMetricData(context.Background(), &cloudwatch.PutMetricDataInput{Namespace: aws.String(ns), MetricData: data}); err != nil {
				t.Fatalf("put metric data: %v", err)
			}
		}
	}
}

// passAt moves the fake clock to now, touches sp so that a pass runs at
// once, and waits for that pass's decision in status.
func passAt(t *testing.T, g Gomega, clk *clocktesting.FakePassiveClock, sp *streamingv1alpha1.StreamProcessor, now time.Time) {
	t.Helper()
	clk.SetTime(now)
	update(t, sp, func(s *streamingv1alpha1.StreamProcessor) {
		s.Annotations = map[string]string{"minute": now.Format(time.RFC3339)}
	})
	g.Eventually(func(g Gomega) bool {
		return !get(g, sp).Status.LastDecision.Time.Time.Before(now.Truncate(time.Second))
	}, 30*time.Second, 100*time.Millisecond).Should(BeTrue())
}

// TestScalingFollowsMetrics drives the reconciler's scaler with metrics
// published into the CloudWatch emulator and a fake clock (the windows are
// minutes long; the clock lets the test cross them at once): 3x over one
// shard's capacity → shards and consumer tasks rise in legal steps with the
// reason in status; low load → they fall, but only after the stabilization
// window.
func TestScalingFollowsMetrics(t *testing.T) {
	requireSuite(t)
	g := NewWithT(t)
	now := time.Now().Truncate(time.Minute).Add(30 * time.Second)
	clk := clocktesting.NewFakePassiveClock(now)
	op := startOperator(t, func(r *StreamProcessorReconciler) { r.Clock = clk })
	sp := sample(newNamespace(t), "scaled")
	sp.Spec.Consumer.MaxTasks = 8
	sp.Spec.Producer.MaxTasks = 8
	g.Expect(suite.k8s.Create(context.Background(), sp)).To(Succeed())

	// No metrics at all: targets are held, and status says why.
	g.Eventually(func(g Gomega) {
		got := get(g, sp)
		g.Expect(got.Status.LastDecision).NotTo(BeNil())
		g.Expect(got.Status.LastDecision.Reason).To(ContainSubstring("no IncomingBytes data"))
		g.Expect(got.Status.Stream.TargetShards).To(Equal(int32(1)))
	}, 60*time.Second, 200*time.Millisecond).Should(Succeed())

	// 3 MiB/s into one shard: three times its write capacity, throttled,
	// consumers two minutes behind and busy.
	high := load{bytesPerSec: 3 * mib, recordsPerSec: 3000, throttledPerSec: 2000, iteratorAgeMs: 120_000, producerCPU: 60, consumerCPU: 95}
	// Each minute is published once: CloudWatch (and moto) add up
	// datapoints put twice for the same minute.
	until := now.Add(-10 * time.Minute)
	publishUntil := func(to time.Time, l load) {
		publish(t, sp, until, to, l)
		until = to
	}
	// In dry run the decision is made and reported, and nothing moves. Dry
	// run is on before the load is published: a pass between the two (the
	// tasks may still be starting) would otherwise act on it.
	update(t, sp, func(s *streamingv1alpha1.StreamProcessor) { s.Spec.Scaling.DryRun = true })
	g.Eventually(func(g Gomega) bool { return get(g, sp).Status.LastDecision.DryRun }, 30*time.Second, 100*time.Millisecond).Should(BeTrue())
	publishUntil(now.Add(time.Minute), high)
	g.Eventually(func(g Gomega) {
		got := get(g, sp)
		g.Expect(got.Status.LastDecision.DryRun).To(BeTrue())
		g.Expect(got.Status.LastDecision.Shards).To(BeNumerically(">=", 5))
		// The scaling state is stored, with a day of hourly demand peaks,
		// not a week: only the horizon planner reads one, and objects run
		// the rules.
		g.Expect(got.Status.Scaling).NotTo(BeNil())
		g.Expect(got.Status.Scaling.Shards).NotTo(BeEmpty())
		g.Expect(len(got.Status.Scaling.WeekPeaks)).To(BeNumerically("<=", 25))
	}, 30*time.Second, 200*time.Millisecond).Should(Succeed())
	g.Consistently(func(g Gomega) {
		open, _ := streamSummary(g, sp)
		g.Expect(open).To(Equal(int32(1)))
		g.Expect(service(g, sp, consumer).DesiredCount).To(Equal(int32(1)))
	}, 2*time.Second, 250*time.Millisecond).Should(Succeed())
	g.Expect(op.callCount("Kinesis", "UpdateShardCount", "ok")).To(BeZero())
	update(t, sp, func(s *streamingv1alpha1.StreamProcessor) { s.Spec.Scaling.DryRun = false })

	var up *streamingv1alpha1.StreamProcessor
	g.Eventually(func(g Gomega) {
		up = get(g, sp)
		g.Expect(up.Status.Stream.TargetShards).To(BeNumerically(">=", 5), "need ≥ 3 MiB/s ÷ 0.7 MiB/s")
		g.Expect(up.Status.Stream.OpenShards).To(Equal(up.Status.Stream.TargetShards))
		g.Expect(up.Status.Consumer.TargetTasks).To(BeNumerically(">", 1))
		g.Expect(up.Status.Consumer.DesiredTasks).To(Equal(up.Status.Consumer.TargetTasks))
	}, 2*time.Minute, 200*time.Millisecond).Should(Succeed())
	g.Expect(up.Status.Consumer.TargetTasks).To(BeNumerically("<=", up.Status.Stream.OpenShards), "a consumer without a shard is waste")
	mibps, err := strconv.ParseFloat(up.Status.LastDecision.Inputs["incomingMiBPerSec"], 64)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(mibps).To(BeNumerically(">=", 3))
	upCalls := op.callCount("Kinesis", "UpdateShardCount", "ok")
	g.Expect(upCalls).To(BeNumerically(">=", 3), "1 → ≥5 takes at least three legal steps")
	op.expectNoRefusedReshards(g)
	checkLineage(g, streamName(sp), int(up.Status.Stream.OpenShards))
	peak := up.Status.Stream.OpenShards

	// The load drops to almost nothing. Nothing falls before the
	// stabilization window has passed...
	low := load{bytesPerSec: 0.05 * mib, recordsPerSec: 50, iteratorAgeMs: 0, producerCPU: 5, consumerCPU: 5}
	now = now.Add(time.Minute)
	publishUntil(now.Add(time.Minute), low)
	clk.SetTime(now)
	g.Consistently(func(g Gomega) int32 { return get(g, sp).Status.Stream.TargetShards }, 3*time.Second, 200*time.Millisecond).Should(Equal(peak))

	// ...and once it has, shards and consumers come down, in legal steps.
	// One pass per (fake) minute, as the scaling interval would give.
	for range 25 {
		now = now.Add(time.Minute)
		publishUntil(now.Add(time.Minute), low)
		passAt(t, g, clk, sp, now)
	}
	g.Eventually(func(g Gomega) {
		got := get(g, sp)
		g.Expect(got.Status.Stream.TargetShards).To(BeNumerically("<", peak), "decision: %s %v", got.Status.LastDecision.Reason, got.Status.LastDecision.Inputs)
		g.Expect(got.Status.Stream.OpenShards).To(Equal(got.Status.Stream.TargetShards))
		g.Expect(got.Status.Consumer.TargetTasks).To(BeNumerically("<", up.Status.Consumer.TargetTasks))
	}, 2*time.Minute, 200*time.Millisecond).Should(Succeed())
	op.expectNoRefusedReshards(g)
	g.Expect(get(g, sp).Status.Scaling).NotTo(BeNil(), "the scaler's windows are kept in status")

	// Paused: a new surge changes nothing; the targets are the current counts.
	down := get(g, sp)
	update(t, sp, func(s *streamingv1alpha1.StreamProcessor) { s.Spec.Scaling.Paused = true })
	now = now.Add(time.Minute)
	publishUntil(now.Add(time.Minute), high)
	clk.SetTime(now)
	update(t, sp, func(s *streamingv1alpha1.StreamProcessor) { s.Annotations = map[string]string{"minute": "paused"} })
	g.Eventually(func(g Gomega) string { return get(g, sp).Status.LastDecision.Reason }, 30*time.Second, 100*time.Millisecond).Should(ContainSubstring("paused"))
	g.Consistently(func(g Gomega) {
		got := get(g, sp)
		g.Expect(got.Status.Stream.TargetShards).To(Equal(down.Status.Stream.OpenShards))
		g.Expect(got.Status.Consumer.TargetTasks).To(Equal(down.Status.Consumer.DesiredTasks))
	}, 2*time.Second, 250*time.Millisecond).Should(Succeed())
	deleteAndWait(t, sp)
}

// TestProducerScalesOnRecordRate: with targetRecordsPerSecondPerTask set, the
// producer's own IngestRecords plus its RefusedRecords (the demand) size the
// producer service while its CPU is quiet, and status says the rate decided.
// The task serves its target and refuses twice as much: served alone would
// hold at 1. At the new count the rate per task is on target, so it holds
// there.
func TestProducerScalesOnRecordRate(t *testing.T) {
	// 3,000 records/s asked of one task against a target of 1,000 (1,000
	// accepted, 2,000 refused with 429/503), CPU at 10 % (the CPU rule
	// alone, even counting the refused records: 30 %, would scale down),
	// the stream well within a shard.
	busy := load{bytesPerSec: 0.3 * mib, recordsPerSec: 100, producerCPU: 10, consumerCPU: 20, ingestRecordsPerSec: 1000, refusedRecordsPerSec: 2000}
	// The stream: 0.3 MiB/s × (1,000 + 2,000) ÷ 1,000 refused records
	// counted = 0.9 MiB/s, 1.3 shards at 70 %: 2.
	expectProducerTarget(t, "rated", 1000, 8, busy, 3, "records/s per task against a target of 1000", 2)
}

// expectProducerTarget creates a StreamProcessor whose producer has the
// rate target (0: unset, the default) and maxTasks given, publishes l for every minute
// the test's clock reaches (once: CloudWatch, and moto, add up datapoints
// put twice for the same minute), runs three passes a minute apart and
// expects the producer target want, its service's desired count, and a
// reason containing reason, and the shard target wantShards.
func expectProducerTarget(t *testing.T, name string, target, maxTasks int32, l load, want int32, reason string, wantShards int32) {
	t.Helper()
	requireSuite(t)
	g := NewWithT(t)
	now := time.Now().Truncate(time.Minute).Add(30 * time.Second)
	clk := clocktesting.NewFakePassiveClock(now)
	startOperator(t, func(r *StreamProcessorReconciler) { r.Clock = clk })
	sp := sample(newNamespace(t), name)
	sp.Spec.Producer.MaxTasks = maxTasks
	sp.Spec.Producer.TargetRecordsPerSecondPerTask = target
	g.Expect(suite.k8s.Create(context.Background(), sp)).To(Succeed())
	g.Eventually(func(g Gomega) {
		g.Expect(get(g, sp).Status.Producer.RunningTasks).To(Equal(int32(1)))
	}, 60*time.Second, 200*time.Millisecond).Should(Succeed())

	publish(t, sp, now.Add(-10*time.Minute), now.Add(4*time.Minute), l)
	for range 3 {
		now = now.Add(time.Minute)
		passAt(t, g, clk, sp, now)
	}
	g.Eventually(func(g Gomega) {
		got := get(g, sp)
		g.Expect(got.Status.Producer.TargetTasks).To(Equal(want), "decision: %s %v", got.Status.LastDecision.Reason, got.Status.LastDecision.Inputs)
		g.Expect(service(g, sp, producer).DesiredCount).To(Equal(want))
		g.Expect(got.Status.LastDecision.Reason).To(ContainSubstring(reason))
	}, 60*time.Second, 200*time.Millisecond).Should(Succeed())
	// The records the producer refused count in the shard need too, by
	// the same factor: (accepted + refused) ÷ accepted of the stream's own
	// demand, not the producer's load per task.
	g.Expect(get(g, sp).Status.Stream.TargetShards).To(Equal(wantShards), "decision: %s", get(g, sp).Status.LastDecision.Reason)
	deleteAndWait(t, sp)
}
