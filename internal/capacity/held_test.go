package capacity

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestRecordHeld(t *testing.T) {
	h := func(hoursAgo int, n int32) HeldHour {
		return HeldHour{Start: t0.Add(8*Day - time.Duration(hoursAgo)*time.Hour), Shards: n}
	}
	now := t0.Add(8*Day + 30*time.Minute) // in the hour h(0, …) starts
	tests := []struct {
		name string
		prev []HeldHour
		mode Mode
		open int32
		want []HeldHour
	}{
		{"first observation", nil, Provisioned, 5, []HeldHour{h(0, 5)}},
		{"the hour keeps its most", []HeldHour{h(1, 3), h(0, 9)}, Provisioned, 5, []HeldHour{h(1, 3), h(0, 9)}},
		{"a higher count raises the hour", []HeldHour{h(0, 4)}, Provisioned, 7, []HeldHour{h(0, 7)}},
		{"on-demand holds nothing", []HeldHour{h(2, 4)}, OnDemand, 7, []HeldHour{h(2, 4)}},
		{"no open count, nothing", nil, Provisioned, 0, []HeldHour{}},
		{"older than a week is dropped", []HeldHour{h(7*24+1, 40), h(7*24, 30)}, Provisioned, 2, []HeldHour{h(7*24, 30), h(0, 2)}},
		{"unsorted in, sorted out", []HeldHour{h(1, 3), h(5, 4)}, Provisioned, 2, []HeldHour{h(5, 4), h(1, 3), h(0, 2)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			prev := slices.Clone(tc.prev)
			got := RecordHeld(tc.prev, now, tc.mode, tc.open)
			slices.SortFunc(tc.want, func(a, b HeldHour) int { return a.Start.Compare(b.Start) })
			if !slices.Equal(got, tc.want) {
				t.Fatalf("RecordHeld = %v, want %v", got, tc.want)
			}
			if !slices.Equal(prev, tc.prev) {
				t.Fatalf("RecordHeld modified its input: %v", tc.prev)
			}
		})
	}
}

// TestEstimateWindowPricesHeldHours: an hour the operator saw the stream
// hold shards in is priced at them, whatever the load would need.
func TestEstimateWindowPricesHeldHours(t *testing.T) {
	s := load(24, 1000, func(int) float64 { return 0.5 }) // 1 shard at 70 %
	var held []HeldHour
	for i := range 10 {
		held = append(held, HeldHour{Start: t0.Add(time.Duration(10+i) * time.Hour), Shards: 200})
	}
	p := Pricing{TargetUtilization: 0.7, MinShards: 1}
	without, with := EstimateWindow(s, nil, t0.Add(Day), Day, p), EstimateWindow(s, held, t0.Add(Day), Day, p)
	want := without.ProvisionedPerHour + 10*199*PriceShardHour/24
	if math.Abs(with.ProvisionedPerHour-want) > 1e-9 || with.OnDemandPerHour != without.OnDemandPerHour {
		t.Fatalf("with held hours %+v, want provisioned %.4f (without: %+v)", with, want, without)
	}
}

// TestDecideHeldShards: the shards the operator held after a spike (the
// climb-back hold keeps them for up to a day) are what provisioned cost;
// a last hour and day on which the other mode cost less than half switch
// unless, leaving provisioned, the week was cheaper provisioned by the
// margin; a day cheaper by the margin alone needs the week cheaper by the
// margin too.
func TestDecideHeldShards(t *testing.T) {
	p := Pricing{TargetUtilization: 0.7, MinShards: 1}
	quiet := load(8*24, 1000, func(int) float64 { return 0.5 }) // provisioned $0.041/h (1 shard), on-demand $0.256/h
	end := t0.Add(8 * Day)
	hold := func(fromHoursAgo, hours int, n int32) []HeldHour {
		var out []HeldHour
		for i := range hours {
			out = append(out, HeldHour{Start: end.Add(time.Duration(i-fromHoursAgo) * time.Hour), Shards: n})
		}
		return out
	}
	tests := []struct {
		name    string
		current Mode
		held    []HeldHour
		want    Mode
		reason  string
	}{
		{"provisioned, one shard held: stays", Provisioned, hold(24, 24, 1), Provisioned, "not cheaper"},
		{"provisioned, a spike's shards held for the last 20 hours: on-demand", Provisioned, hold(20, 20, 200), OnDemand, "cheaper by more than 20% over the last day and week"},
		// 12 hours at 300 shards three days ago: provisioned $0.36/h over
		// the week against on-demand's $0.256, but the last day and hour
		// are quiet: the hold no longer tells what provisioned costs.
		{"on-demand, a hold three days ago: back to provisioned", OnDemand, hold(72, 12, 300), Provisioned, "less than 1/2 over the last hour and the last day"},
		// A day 1.5x dearer provisioned (4 hours at 138 shards) in a week
		// 1.05x dearer (10 hours at 201 shards three days ago): neither
		// the day's ratio nor the week's margin is there.
		// The last 6 hours at 127 shards: the hour and the day cost over
		// twice on-demand's, but the week was 2.3x cheaper provisioned.
		{"provisioned, a small hold in a cheap week: stays", Provisioned, hold(6, 6, 127), Provisioned, "not over the last week"},
		// A hold of 12 hours at 223 shards that ended 8 hours ago: the day
		// is 6.7x dearer provisioned, the week 1.09x, the last hour not.
		{"provisioned, a hold released: stays", Provisioned, hold(20, 12, 223), Provisioned, "not over the last week"},
		{"provisioned, a day dearer by half, the week by 5 %: stays", Provisioned, append(hold(72, 10, 201), hold(4, 4, 138)...), Provisioned, "not over the last week"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := Decide(tc.current, quiet, tc.held, end, p)
			if d.Mode != tc.want || !strings.Contains(d.Reason, tc.reason) {
				t.Fatalf("Decide = %s (%s), want %s (%q)\nday %+v\nweek %+v", d.Mode, d.Reason, tc.want, tc.reason, d.Day, d.Week)
			}
		})
	}
}
