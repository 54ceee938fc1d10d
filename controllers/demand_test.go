package controllers

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/kdp-io/streamprocessor-operator/internal/scaling"
)

// TestRefusedRecordsQueriedOnlyWithRateTarget: the producer's RefusedRecords
// is read (one more GetMetricData query) only for an object whose producer
// has a rate target; the others keep their ten queries. The two forms of one
// object have distinct ids, so both may sit in one batch.
func TestRefusedRecordsQueriedOnlyWithRateTarget(t *testing.T) {
	key := metricsKey{region: "r", stream: "s", cluster: "c", producer: "p", consumer: "q", application: "a"}
	if n := len(queries(key)); n != 10 {
		t.Errorf("without a rate target: %d queries, want 10", n)
	}
	demand := key
	demand.producerDemand = true
	qs := queries(demand)
	if len(qs) != 11 {
		t.Fatalf("with a rate target: %d queries, want 11", len(qs))
	}
	last := qs[len(qs)-1].MetricStat
	if got := aws.ToString(last.Metric.Namespace) + " " + aws.ToString(last.Metric.MetricName) + " " + aws.ToString(last.Stat); got != producerNamespace+" RefusedRecords Sum" {
		t.Errorf("eleventh query reads %s", got)
	}
	seen := map[string]bool{}
	for _, q := range append(queries(key), qs...) {
		if id := aws.ToString(q.Id); seen[id] {
			t.Errorf("id %q in both forms of the key", id)
		} else {
			seen[id] = true
		}
	}
	// Through the batcher: the refused series reaches pipelineMetrics.
	for _, k := range []metricsKey{key, demand} {
		m, err := NewMetricsBatcher(time.Minute).Fetch(context.Background(), &fakeCloudWatch{pageSize: 500}, k, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if want := map[bool]int{false: 0, true: 1}[k.producerDemand]; len(m.ProducerRefused) != want || len(m.ProducerRecords) != 1 {
			t.Errorf("producerDemand %v: %d refused points (want %d), %d served", k.producerDemand, len(m.ProducerRefused), want, len(m.ProducerRecords))
		}
	}
}

// TestRefusedMinuteRaisesProducerTarget: with targetRecordsPerSecondPerTask
// set, records the producer refused (429/503) count as demand: one task
// serving its target of 1,000 records/s holds at 1, but the same task
// refusing another 2,000/s in the newest complete minute is sized for 3,000.
// Without a rate target the refused records change nothing.
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
	quietCPU := minutes(20) // 20 %: the CPU rule alone would not scale up
	for _, tt := range []struct {
		name       string
		target     int32
		refusedSec float64
		want       int32
	}{
		{"served at target, nothing refused: holds", 1000, 0, 1},
		{"2,000/s refused on top of 1,000 served: 3 tasks", 1000, 2000, 3},
		{"500/s refused: 1.5 tasks rounds up to 2", 1000, 500, 2},
		{"no rate target: refused records are not read by the rule", 0, 2000, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sp := planObject()
			sp.Spec.Producer.MaxTasks = 8
			sp.Spec.Producer.TargetRecordsPerSecondPerTask = tt.target
			obs := convergedPass(sp)
			obs.metrics = pipelineMetrics{ProducerCPU: quietCPU, ConsumerCPU: quietCPU, ProducerRecords: perMinute(1000)}
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
