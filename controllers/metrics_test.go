package controllers

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
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

// fakeWall is a settable wall clock for the batcher's cache.
type fakeWall struct{ t time.Time }

func (w *fakeWall) now() time.Time { return w.t }

func TestMetricsBatcherBatchesAcrossStreamProcessors(t *testing.T) {
	cw := &fakeCloudWatch{pageSize: 100}
	b := NewMetricsBatcher(time.Minute)
	wall := &fakeWall{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	b.wall = wall.now
	now := time.Date(2026, 11, 25, 12, 0, 30, 0, time.UTC)
	key := func(i int) metricsKey {
		return metricsKey{region: "us-east-1", stream: fmt.Sprintf("s%d", i), cluster: "c", producer: "p", consumer: "c", application: "a"}
	}
	// 56 StreamProcessors × 11 queries = 616. The first fetches (the batch
	// is empty); the others, new to a fresh batch, wait for the next fetch.
	for i := range 56 {
		_, err := b.Fetch(context.Background(), cw, key(i), now)
		if want := error(nil); i > 0 {
			want = errMetricsPending
			if !errors.Is(err, want) {
				t.Fatalf("key %d: err = %v, want %v", i, err, want)
			}
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if len(cw.calls) != 1 || cw.calls[0] != queriesPerObject {
		t.Fatalf("calls = %v, want one of %d queries: a new StreamProcessor must not refetch the batch", cw.calls, queriesPerObject)
	}
	wall.t = wall.t.Add(time.Minute) // the batch is stale: one fetch answers all
	for i := range 56 {
		m, err := b.Fetch(context.Background(), cw, key(i), now)
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Stream.IncomingBytes) != 1 || len(m.ConsumerCPU) != 1 || len(m.Stream.IngestBytes) != 1 || len(m.ProducerRecords) != 1 || len(m.Stream.ReadThrottled) != 1 || len(m.ProducerRefused) != 1 {
			t.Fatalf("key %d: series missing: %+v", i, m)
		}
	}
	for _, n := range cw.calls {
		if n > maxQueriesPerCall {
			t.Errorf("a call carried %d queries, more than %d", n, maxQueriesPerCall)
		}
	}
	// The second fetch held all 616 queries: two calls of at most 500.
	if got := cw.calls[1:]; len(got) != 2 || got[0]+got[1] != 56*queriesPerObject {
		t.Errorf("second fetch = %v, want %d queries in two calls", got, 56*queriesPerObject)
	}
}

// TestGetMetricDataCallsPerIntervalDuringRampUp: 1,000 StreamProcessors
// created one every 0.6 s, each passing at creation, 5 s and 10 s later
// (while its stream is created) and then every 60 s, with MaxAge = the 60 s
// interval: in every minute, ramp-up included, GetMetricData is called at
// most ⌈1000 × 11 ÷ 500⌉ = 22 times.
func TestGetMetricDataCallsPerIntervalDuringRampUp(t *testing.T) {
	const objects, interval = 1000, time.Minute
	cw := &fakeCloudWatch{pageSize: maxQueriesPerCall}
	b := NewMetricsBatcher(interval)
	start := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	wall := &fakeWall{t: start}
	b.wall = wall.now
	type pass struct {
		at  time.Duration
		key metricsKey
	}
	var passes []pass
	for i := range objects {
		k := metricsKey{region: "us-east-1", stream: fmt.Sprintf("s%d", i), cluster: "c", producer: "p", consumer: "c", application: "a"}
		created := time.Duration(i) * 600 * time.Millisecond
		for _, d := range []time.Duration{0, 5 * time.Second, 10 * time.Second} {
			passes = append(passes, pass{created + d, k})
		}
		for d := interval; created+d < 20*time.Minute; d += interval {
			passes = append(passes, pass{created + d, k})
		}
	}
	slices.SortStableFunc(passes, func(a, b pass) int { return cmp.Compare(a.at, b.at) })
	perMinute := map[int]int{}
	for _, p := range passes {
		wall.t = start.Add(p.at)
		before := len(cw.calls)
		if _, err := b.Fetch(context.Background(), cw, p.key, wall.t); err != nil && !errors.Is(err, errMetricsPending) {
			t.Fatal(err)
		}
		perMinute[int(p.at/time.Minute)] += len(cw.calls) - before
	}
	limit := (objects*len(queries(metricsKey{})) + maxQueriesPerCall - 1) / maxQueriesPerCall
	for m := range 20 {
		if perMinute[m] > limit {
			t.Errorf("minute %d: %d GetMetricData calls, want ≤ %d", m, perMinute[m], limit)
		}
	}
	t.Logf("GetMetricData calls per minute: %v", perMinute)
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
