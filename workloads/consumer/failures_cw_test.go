package consumer

import (
	"context"
	"testing"
	"time"

	"github.com/kdp-io/streamprocessor-operator/internal/testenv/cwtest"
)

// TestPublishSendsFailuresAndDeadLetters: the period's failed attempts and
// dead-lettered records go to CloudWatch as RecordFailures and
// RecordsDeadLettered, per period (reset after each Publish).
func TestPublishSendsFailuresAndDeadLetters(t *testing.T) {
	m := NewMetrics()
	for range 3 {
		m.failed()
	}
	m.deadLettered()
	api := &cwtest.Recorder{}
	p := &CloudWatchPublisher{API: api, Namespace: DefaultCloudWatchNamespace, Stream: "s", App: "a", Metrics: m}
	now := time.Now()
	if err := p.Publish(context.Background(), now); err != nil {
		t.Fatal(err)
	}
	if got := api.Value(t, MetricRecordFailures); got != 3 {
		t.Errorf("RecordFailures = %v, want 3", got)
	}
	if got := api.Value(t, MetricRecordsDeadLettered); got != 1 {
		t.Errorf("RecordsDeadLettered = %v, want 1", got)
	}
	if err := p.Publish(context.Background(), now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if f, d := api.Value(t, MetricRecordFailures), api.Value(t, MetricRecordsDeadLettered); f != 0 || d != 0 {
		t.Errorf("quiet period sent RecordFailures %v, RecordsDeadLettered %v; want 0, 0", f, d)
	}
}
