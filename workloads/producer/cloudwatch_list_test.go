package producer

import (
	"context"
	"testing"
	"time"

	"github.com/kdp-io/streamprocessor-operator/internal/testenv/cwtest"
)

// TestPublishSendsCloudWatchMetrics: CloudWatchMetrics and
// CloudWatchDimensions, which the operator's dashboard is checked against,
// are exactly what publish sends.
func TestPublishSendsCloudWatchMetrics(t *testing.T) {
	api := &cwtest.Recorder{}
	now := time.Now()
	p := &publisher{api: api, namespace: "StreamProcessor/Producer", stream: "s", metrics: NewMetrics(), interval: time.Minute, start: now.Add(-time.Minute)}
	if err := p.publish(context.Background(), now); err != nil {
		t.Fatal(err)
	}
	api.CheckSent(t, CloudWatchMetrics, CloudWatchDimensions)
}
