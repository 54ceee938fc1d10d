package controllers

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
)

// fakeCloudWatch answers GetMetricData with one point per query, and
// records the calls; it pages after pageSize results.
type fakeCloudWatch struct {
	calls    []int // queries per call
	pageSize int
	omit     string // ids with this suffix get no data
}

func (f *fakeCloudWatch) GetMetricData(_ context.Context, in *cloudwatch.GetMetricDataInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricDataOutput, error) {
	start := 0
	if in.NextToken != nil {
		fmt.Sscan(*in.NextToken, &start)
	} else {
		f.calls = append(f.calls, len(in.MetricDataQueries))
	}
	end := min(len(in.MetricDataQueries), start+f.pageSize)
	out := &cloudwatch.GetMetricDataOutput{}
	for _, q := range in.MetricDataQueries[start:end] {
		if f.omit != "" && strings.HasSuffix(aws.ToString(q.Id), f.omit) {
			out.MetricDataResults = append(out.MetricDataResults, cwtypes.MetricDataResult{Id: q.Id})
			continue
		}
		out.MetricDataResults = append(out.MetricDataResults, cwtypes.MetricDataResult{
			Id: q.Id, Timestamps: []time.Time{aws.ToTime(in.StartTime)}, Values: []float64{float64(len(aws.ToString(q.Id)))},
		})
	}
	if end < len(in.MetricDataQueries) {
		out.NextToken = aws.String(fmt.Sprint(end))
	}
	return out, nil
}

func TestMetricsBatcherBatchesAcrossStreamProcessors(t *testing.T) {
	cw := &fakeCloudWatch{pageSize: 100}
	b := NewMetricsBatcher(time.Minute)
	now := time.Date(2026, 11, 25, 12, 0, 30, 0, time.UTC)
	key := func(i int) metricsKey {
		return metricsKey{region: "us-east-1", stream: fmt.Sprintf("s%d", i), cluster: "c", producer: "p", consumer: "c", application: "a"}
	}
	// 56 StreamProcessors × 10 queries = 560: the first pass of each new one
	// fetches, and a fetch answers everybody registered so far.
	for i := range 56 {
		if _, err := b.Fetch(context.Background(), cw, key(i), now); err != nil {
			t.Fatal(err)
		}
	}
	calls := len(cw.calls)
	// Within MaxAge, every StreamProcessor is served from the batch: no call.
	for i := range 56 {
		m, err := b.Fetch(context.Background(), cw, key(i), now)
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Stream.IncomingBytes) != 1 || len(m.ConsumerCPU) != 1 || len(m.Stream.IngestBytes) != 1 || len(m.ProducerRecords) != 1 || len(m.Stream.ReadThrottled) != 1 {
			t.Fatalf("key %d: series missing: %+v", i, m)
		}
	}
	if len(cw.calls) != calls {
		t.Errorf("%d more GetMetricData calls for cached data", len(cw.calls)-calls)
	}
	for _, n := range cw.calls {
		if n > maxQueriesPerCall {
			t.Errorf("a call carried %d queries, more than %d", n, maxQueriesPerCall)
		}
	}
	// The last fetch held all 560 queries: two calls of at most 500.
	if got := cw.calls[len(cw.calls)-2:]; got[0]+got[1] != 560 {
		t.Errorf("last fetch = %v calls, want 560 queries in two", got)
	}
}

func TestQueryIDsAreValidAndDistinct(t *testing.T) {
	valid := regexp.MustCompile(`^[a-z][a-zA-Z0-9_]*$`)
	seen := map[string]bool{}
	for _, stream := range []string{"a", "b", "a.b", "A-b_c"} {
		for _, q := range queries(metricsKey{region: "r", stream: stream, cluster: "c", producer: "p", consumer: "q", application: "x"}) {
			id := aws.ToString(q.Id)
			if !valid.MatchString(id) {
				t.Errorf("id %q is not a valid GetMetricData id", id)
			}
			if seen[id] {
				t.Errorf("id %q used twice", id)
			}
			seen[id] = true
		}
	}
}

func TestIteratorAgeFallsBackToTheConsumersOwnMetric(t *testing.T) {
	key := metricsKey{region: "r", stream: "s", application: "a"}
	for _, tt := range []struct {
		omit string
		from string
	}{{"", queryIDs(key).iteratorAge}, {"_iterage", queryIDs(key).behind}} {
		cw := &fakeCloudWatch{pageSize: 500, omit: tt.omit}
		m, err := NewMetricsBatcher(time.Minute).Fetch(context.Background(), cw, key, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		// The fake's value is the length of the query id it answers.
		if len(m.Stream.IteratorAgeMs) != 1 || m.Stream.IteratorAgeMs[0].Value != float64(len(tt.from)) {
			t.Errorf("omit %q: iterator age = %v, want the series of %s", tt.omit, m.Stream.IteratorAgeMs, tt.from)
		}
	}
}
