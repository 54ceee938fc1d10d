package scaling

import (
	"math"
	"testing"
	"time"
)

// TestWithRefused: a minute's factor is (accepted + refused) ÷ accepted of
// the producer's records of the same minute; unmeasuredDemand when nothing
// was accepted; none without a usable Refused point.
func TestWithRefused(t *testing.T) {
	m := func(k int) time.Time { return now0.Add(-time.Duration(k) * time.Minute) }
	fresh := []minuteLoad{{at: m(5)}, {at: m(4)}, {at: m(3)}, {at: m(2)}, {at: m(1)}}
	prod := TaskObservation{
		Requests: []Point{{m(5), 600}, {m(4), 600}, {m(3), 0}, {m(2), 600}, {m(1), 600}},
		Refused:  []Point{{m(5), 0}, {m(4), 1200}, {m(3), 300}, {m(2), math.NaN()}},
	}
	want := []float64{0, 3, unmeasuredDemand, 0, 0}
	got := withRefused(fresh, prod)
	for i, w := range want {
		if got[i].refusedFactor != w {
			t.Errorf("minute %d: factor %v, want %v", i, got[i].refusedFactor, w)
		}
	}
}

// TestDecideCountsProducerRefusals: 10 shards open, Kinesis shows a steady
// 5 MiB/s (7.5 shards at 70 %: no scale-up). When the producers refuse as
// many records as they accept in the newest minutes, the demand is 10 MiB/s
// and the need 15 shards: the shards rise to it, as they would once the
// producers' tasks pass those records. Without refusals, or with
// refusals only in minutes older than the up window, they do not.
func TestDecideCountsProducerRefusals(t *testing.T) {
	per := 5.0 * MiB * 60 / 1000 // the producers' accepted records a minute
	for _, tt := range []struct {
		name    string
		refused []Point
		up      bool
	}{
		{"no refusals: held", nil, false},
		{"half the demand refused in the newest minutes: 10→15", series(now0, 5, per), true},
		{"refusals only 8–14 minutes ago: held", series(now0.Add(-7*time.Minute), 7, per), false},
	} {
		in := baseInputs(now0, 10, 5)
		in.ProducerTasks.Requests = series(now0, 14, per)
		in.ProducerTasks.Refused = tt.refused
		st := State{}
		for k := 14; k >= 1; k-- {
			st.Shards = append(st.Shards, Rec{At: now0.Add(-time.Duration(k) * time.Minute).Unix(), N: 8})
		}
		d, _ := Decide(in, st, now0)
		if up := d.Shards > 10; up != tt.up || up && d.Shards < 15 {
			t.Errorf("%s: %d shards (%s), want a scale-up to at least 15: %v", tt.name, d.Shards, d.ShardReason, tt.up)
		}
	}
}
