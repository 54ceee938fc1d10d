package controllers

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/kdp-io/streamprocessor-operator/internal/scaling"
)

// TestRefusedRecordsQueriedForEveryObject: the producer's RefusedRecords is
// read for every object (the CPU rule counts it whether or not a rate
// target is set): queriesPerObject queries, the last one RefusedRecords,
// and the series reaches pipelineMetrics through the batcher.
func TestRefusedRecordsQueriedForEveryObject(t *testing.T) {
	key := metricsKey{region: "r", stream: "s", cluster: "c", producer: "p", consumer: "q", application: "a"}
	qs := queries(key)
	if len(qs) != queriesPerObject || queriesPerObject != 11 {
		t.Fatalf("%d queries, queriesPerObject %d, want 11", len(qs), queriesPerObject)
	}
	last := qs[len(qs)-1].MetricStat
	if got := aws.ToString(last.Metric.Namespace) + " " + aws.ToString(last.Metric.MetricName) + " " + aws.ToString(last.Stat); got != producerNamespace+" RefusedRecords Sum" {
		t.Errorf("eleventh query reads %s", got)
	}
	m, err := NewMetricsBatcher(time.Minute).Fetch(context.Background(), &fakeCloudWatch{pageSize: 500}, key, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(m.ProducerRefused) != 1 || len(m.ProducerRecords) != 1 {
		t.Errorf("%d refused points, %d served: want 1 each", len(m.ProducerRefused), len(m.ProducerRecords))
	}
}

// TestProducerScalesOnRefusedRecords: with no rate target (the default),
// the producer's RefusedRecords, read from CloudWatch, make its CPU rule
// count the records it refused: one task at 50 % that served 1,000
// records/s and refused 2,000 needed 150 %, so it goes to 3 (ceil(150 ÷
// 65)); its CPU alone would hold it at 1. MaxTasks is 3: the test publishes
// the same minutes whatever runs, and minutes before the first pass have
// no running count in status, so later passes scale the tasks running
// then by the same factor again (a real producer stops refusing once its
// new tasks run).
func TestProducerScalesOnRefusedRecords(t *testing.T) {
	busy := load{bytesPerSec: 0.3 * mib, recordsPerSec: 100, producerCPU: 50, consumerCPU: 20, ingestRecordsPerSec: 1000, refusedRecordsPerSec: 2000}
	// The stream counts the refused records too: 0.9 MiB/s, 2 shards at 70 %.
	expectProducerTarget(t, "refusing", 0, 3, busy, 3, "CPU 150% counting 2000 refused records/s", 2)
}

// TestScalingStateKeepsRunningCounts: the producer's and the consumer's
// running counts go through status with the rest of the scaling state.
func TestScalingStateKeepsRunningCounts(t *testing.T) {
	st := scaling.State{Shards: []scaling.Rec{{At: 1, N: 2}}, ShardPeaks: []scaling.Rec{{At: 3, N: 4}}, Producer: []scaling.Rec{{At: 5, N: 6}},
		Consumer: []scaling.Rec{{At: 7, N: 8}}, ProducerRunning: []scaling.Rec{{At: 9, N: 10}},
		ConsumerRunning: []scaling.Rec{{At: 11, N: 12}}, ProducerSurges: []scaling.Rec{{At: 3600, N: 13}}}
	if got := fromAPIState(toAPIState(st)); !reflect.DeepEqual(got, st) {
		t.Errorf("round trip: %+v, want %+v", got, st)
	}
}

// TestRefusedMinuteRaisesProducerTarget: records the producer refused
// (429/503) count as demand. With targetRecordsPerSecondPerTask set, one
// task serving its target of 1,000 records/s holds at 1, but the same task
// refusing another 2,000/s in the newest complete minute is sized for
// 3,000. Without a rate target the CPU rule counts them: CPU × (served +
// refused) ÷ served.
func TestRefusedMinuteRaisesProducerTarget(t *testing.T) {
	now := planNow.Add(30 * time.Second)
	minutes := func(v float64) []scaling.Point {
		var ps []scaling.Point
		for m := 10; m >= 4; m-- { // complete minutes only (CompleteAfter is 3 min)
			ps = append(ps, scaling.Point{Time: planNow.Add(-time.Duration(m) * time.Minute), Value: v})
		}
		return ps
	}
	perMinute := func(recsPerSec float64) []scaling.Point { return minutes(recsPerSec * 60) }
	for _, tt := range []struct {
		name       string
		target     int32
		cpu        float64 // the CPU rule alone would not scale up from 20 % or 40 %
		refusedSec float64
		want       int32
	}{
		{"served at target, nothing refused: holds", 1000, 20, 0, 1},
		{"2,000/s refused on top of 1,000 served: 3 tasks", 1000, 20, 2000, 3},
		{"500/s refused: 1.5 tasks rounds up to 2", 1000, 20, 500, 2},
		{"no rate target, 20 % CPU: 60 % counting the refused, holds", 0, 20, 2000, 1},
		{"no rate target, 40 % CPU: 120 % counting the refused, 2 tasks", 0, 40, 2000, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sp := planObject()
			sp.Spec.Producer.MaxTasks = 8
			sp.Spec.Producer.TargetRecordsPerSecondPerTask = tt.target
			obs := convergedPass(sp)
			obs.metrics = pipelineMetrics{ProducerCPU: minutes(tt.cpu), ConsumerCPU: minutes(20), ProducerRecords: perMinute(1000)}
			if tt.refusedSec > 0 {
				obs.metrics.ProducerRefused = perMinute(tt.refusedSec)
			}
			d, _ := scaling.Decide(scalingInputs(sp, obs, streamState{usable: true, open: 1}), scaling.State{}, now)
			if d.ProducerTasks != tt.want {
				t.Errorf("producer target %d, want %d (%s)", d.ProducerTasks, tt.want, d.ProducerReason)
			}
		})
	}
}
