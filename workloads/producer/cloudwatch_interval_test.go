package producer

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
)

// putLog is a PutMetricData client that keeps every input it is given.
type putLog struct {
	ins []*cloudwatch.PutMetricDataInput
}

func (l *putLog) PutMetricData(_ context.Context, in *cloudwatch.PutMetricDataInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.PutMetricDataOutput, error) {
	l.ins = append(l.ins, in)
	return &cloudwatch.PutMetricDataOutput{}, nil
}

// value returns the value of the metric name in in, or fails t.
func value(t *testing.T, in *cloudwatch.PutMetricDataInput, name string) float64 {
	t.Helper()
	for _, d := range in.MetricData {
		if aws.ToString(d.MetricName) == name {
			return aws.ToFloat64(d.Value)
		}
	}
	t.Fatalf("%s not in the input", name)
	return 0
}

// arrivals feeds a publisher's counters as a test clock moves: the records of
// wall-clock second s (1 + 10·(s mod 7) of them, 100 bytes each) arrive at
// s + 500 ms, so a wake-up less than 500 ms late reads them in their interval.
type arrivals struct {
	m    *Metrics
	want map[time.Time]float64 // records by the second they arrived in
}

func recordsOf(s int64) float64 { return float64(1 + 10*(s%7)) }

// between adds the records arriving in [from, to).
func (a *arrivals) between(from, to time.Time) {
	for s := from.Truncate(time.Second).Unix(); ; s++ {
		at := time.Unix(s, 0).Add(500 * time.Millisecond)
		if !at.Before(to) {
			return
		}
		if at.Before(from) {
			continue
		}
		a.m.accepted.Add(recordsOf(s))
		a.m.acceptedBytes.Add(100 * recordsOf(s))
		a.want[time.Unix(s, 0).UTC()] += recordsOf(s)
	}
}

// sum returns the records that arrived in [from, to).
func (a *arrivals) sum(from, to time.Time) float64 {
	total := 0.0
	for s, n := range a.want {
		if !s.Before(from) && s.Before(to) {
			total += n
		}
	}
	return total
}

// steppedClock is a test clock: sleepUntil jumps to the target plus late,
// feeding the arrivals on the way, and reports ctx ended after stopAfter.
type steppedClock struct {
	now       time.Time
	late      time.Duration
	stopAfter time.Time
	feed      *arrivals
	wakes     []time.Time
}

func (c *steppedClock) clock() clock {
	return clock{
		now: func() time.Time { return c.now },
		sleepUntil: func(_ context.Context, t time.Time) bool {
			if t.After(c.stopAfter) {
				return false
			}
			c.wakes = append(c.wakes, t)
			to := t.Add(c.late)
			c.feed.between(c.now, to)
			c.now = to
			return true
		},
	}
}

func TestIntervalStart(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse("15:04:05.000", s)
		if err != nil {
			t.Fatal(err)
		}
		return time.Date(2026, 11, 28, v.Hour(), v.Minute(), v.Second(), v.Nanosecond(), time.UTC)
	}
	for _, tc := range []struct {
		t, want string
		d       time.Duration
	}{
		{"12:00:03.400", "12:00:00.000", 10 * time.Second},
		{"12:00:10.000", "12:00:10.000", 10 * time.Second},
		{"12:00:59.999", "12:00:50.000", 10 * time.Second},
		{"12:00:59.999", "12:00:45.000", 15 * time.Second},
		{"12:00:29.000", "12:00:28.000", 4 * time.Second},
		{"12:00:59.000", "12:00:00.000", time.Minute},
		{"12:03:10.000", "12:02:00.000", 2 * time.Minute},
		{"12:07:30.000", "12:05:00.000", 5 * time.Minute},
	} {
		t.Run(fmt.Sprintf("%s/%s", tc.t, tc.d), func(t *testing.T) {
			if got := intervalStart(at(tc.t), tc.d); !got.Equal(at(tc.want)) {
				t.Errorf("intervalStart = %s, want %s", got.Format("15:04:05.000"), tc.want)
			}
			if got := nextBoundary(at(tc.t), tc.d); !got.Equal(at(tc.want).Add(tc.d)) {
				t.Errorf("nextBoundary = %s, want %s", got.Format("15:04:05.000"), at(tc.want).Add(tc.d).Format("15:04:05.000"))
			}
		})
	}
}

// TestPublisherAlignsIntervalsAndStampsStarts runs the publisher on a stepped
// clock: it wakes at the wall-clock boundaries (the first at the next one),
// stamps every datum with its interval's start, marks it high-resolution,
// and so each minute's points sum to exactly that minute's records, the
// partial first and last intervals included.
func TestPublisherAlignsIntervalsAndStampsStarts(t *testing.T) {
	base := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name     string
		created  time.Duration // after base
		late     time.Duration // of every wake-up
		interval time.Duration
		stop     time.Duration // after base: SIGTERM's final publish
	}{
		{"created mid-interval", 3400 * time.Millisecond, 7 * time.Millisecond, 10 * time.Second, 87300 * time.Millisecond},
		{"created on a boundary", 20 * time.Second, 0, 10 * time.Second, 124200 * time.Millisecond},
		{"wake-ups 300 ms late", 59 * time.Second, 300 * time.Millisecond, 10 * time.Second, 151 * time.Second},
		{"15-s interval", 1 * time.Second, 5 * time.Millisecond, 15 * time.Second, 100 * time.Second},
		{"one-minute interval", 12 * time.Second, 5 * time.Millisecond, time.Minute, 185 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMetrics()
			feed := &arrivals{m: m, want: map[time.Time]float64{}}
			created, stop := base.Add(tc.created), base.Add(tc.stop)
			clk := &steppedClock{now: created, late: tc.late, stopAfter: stop, feed: feed}
			api := &putLog{}
			p := newPublisher(api, "StreamProcessor/Producer", "s", m, tc.interval, clk.clock())
			p.run(context.Background(), slog.New(slog.DiscardHandler))
			feed.between(clk.now, stop)
			if err := p.publish(context.Background(), stop); err != nil {
				t.Fatal(err)
			}

			// Wake-ups at every boundary after creation, none before stop.
			var want []time.Time
			for b := nextBoundary(created, tc.interval); !b.After(stop); b = b.Add(tc.interval) {
				want = append(want, b)
			}
			if fmt.Sprint(clk.wakes) != fmt.Sprint(want) {
				t.Fatalf("woke at %v, want the boundaries %v", clk.wakes, want)
			}
			if len(api.ins) != len(want)+1 {
				t.Fatalf("%d publishes, want %d (one per boundary and the final one)", len(api.ins), len(want)+1)
			}
			minutes := map[time.Time]float64{}
			for i, in := range api.ins {
				start := intervalStart(created, tc.interval)
				if i > 0 {
					start = want[i-1]
				}
				end := stop
				if i < len(want) {
					end = want[i]
				}
				for _, d := range in.MetricData {
					if ts := aws.ToTime(d.Timestamp); !ts.Equal(start) {
						t.Errorf("publish %d: %s stamped %s, want its interval's start %s", i, aws.ToString(d.MetricName), ts, start)
					}
					if r := aws.ToInt32(d.StorageResolution); r != 1 {
						t.Errorf("publish %d: %s StorageResolution %d, want 1 (high resolution)", i, aws.ToString(d.MetricName), r)
					}
				}
				recs := value(t, in, MetricIngestRecords)
				if w := feed.sum(start, end); recs != w {
					t.Errorf("publish %d [%s, %s): IngestRecords %v, want %v", i, start.Format("15:04:05"), end.Format("15:04:05"), recs, w)
				}
				if b := value(t, in, MetricIngestBytes); b != 100*recs {
					t.Errorf("publish %d: IngestBytes %v, want %v", i, b, 100*recs)
				}
				if r := value(t, in, MetricIngestRecordsPerSec); r != recs/tc.interval.Seconds() {
					t.Errorf("publish %d: IngestRecordsPerSecond %v, want %v (records over the interval)", i, r, recs/tc.interval.Seconds())
				}
				minutes[start.Truncate(time.Minute)] += recs
			}
			for minute, got := range minutes {
				if w := feed.sum(minute, minute.Add(time.Minute)); got != w {
					t.Errorf("minute %s: points sum to %v records, want the minute's %v", minute.Format("15:04"), got, w)
				}
			}
		})
	}
}

func TestCheckCloudWatchInterval(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string // "" = valid
	}{
		{0, ""},
		{time.Second, ""},
		{1500 * time.Millisecond, ""},
		{10 * time.Second, ""},
		{20 * time.Second, ""},
		{30 * time.Second, ""},
		{time.Minute, ""},
		{2 * time.Minute, ""},
		{15 * time.Minute, ""},
		{-time.Second, "negative"},
		{500 * time.Millisecond, "below 1s"},
		{7 * time.Second, "neither divides a minute nor is a whole number of minutes"},
		{45 * time.Second, "neither divides a minute"},
		{61 * time.Second, "neither divides a minute"},
		{90 * time.Second, "neither divides a minute"},
	} {
		t.Run(tc.d.String(), func(t *testing.T) {
			err := CheckCloudWatchInterval(tc.d)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("error %v, want none", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one saying %q", err, tc.want)
			case tc.want != "" && !strings.Contains(err.Error(), "use one that divides a minute (10s"):
				t.Fatalf("error %v does not say what to use", err)
			}
		})
	}
}

// TestPublishEveryDatumHighResolution: a direct publish (the final one at
// shutdown) also marks every datum high-resolution.
func TestPublishEveryDatumHighResolution(t *testing.T) {
	api := &putLog{}
	start := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	p := &publisher{api: api, namespace: "n", stream: "s", metrics: NewMetrics(), interval: 10 * time.Second, start: start}
	if err := p.publish(context.Background(), start.Add(4*time.Second)); err != nil {
		t.Fatal(err)
	}
	if len(api.ins) != 1 || len(api.ins[0].MetricData) != len(CloudWatchMetrics) {
		t.Fatalf("inputs %+v, want one with %d datums", api.ins, len(CloudWatchMetrics))
	}
	for _, d := range api.ins[0].MetricData {
		if d.StorageResolution == nil || *d.StorageResolution != 1 {
			t.Errorf("%s StorageResolution %v, want 1", aws.ToString(d.MetricName), d.StorageResolution)
		}
	}
}

// TestWallClockSleepUntil: the real clock returns true for a time already
// passed and false once ctx ends first (no timing asserted).
func TestWallClockSleepUntil(t *testing.T) {
	if !wallClock.sleepUntil(context.Background(), wallClock.now().Add(-time.Second)) {
		t.Error("sleepUntil(a past time) = false, want true")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if wallClock.sleepUntil(ctx, wallClock.now().Add(time.Hour)) {
		t.Error("sleepUntil(an hour ahead) with ctx ended = true, want false")
	}
}
