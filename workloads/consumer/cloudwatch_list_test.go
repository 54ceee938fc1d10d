package consumer

import (
	"context"
	"testing"
	"time"

	"github.com/kdp-io/streamprocessor-operator/internal/testenv/cwtest"
)

// TestPublishSendsCloudWatchMetrics: CloudWatchMetrics and
// CloudWatchDimensions, which the operator's dashboard is checked against,
// are exactly what Publish sends after a read.
func TestPublishSendsCloudWatchMetrics(t *testing.T) {
	m := NewMetrics()
	m.RecordsRead("shardId-0", 3, 1500)
	m.processed(3)
	api := &cwtest.Recorder{}
	p := &CloudWatchPublisher{API: api, Namespace: DefaultCloudWatchNamespace, Stream: "s", App: "a", Metrics: m}
	if err := p.Publish(context.Background(), time.Now()); err != nil {
		t.Fatal(err)
	}
	api.CheckSent(t, CloudWatchMetrics, CloudWatchDimensions)
}
