package sim

import (
	"testing"
	"time"
)

// TestMetricLagReachesTheModel: Config.MetricLagMinutes (-metric-lag) sets
// how late every CloudWatch minute is published, as the policy sees it
// through Run: with lag L the newest point a pass sees started L+1 minutes
// before the pass (it ended L minutes before), younger than 3 minutes it is
// partial (a lower value than the minute's final Sum); with 0 the lag is
// 1–3 at random per minute. It fails if the switch stops reaching the
// model's CloudWatch.
func TestMetricLagReachesTheModel(t *testing.T) {
	tr := flat(40, 0.5)
	full := DefaultConfig().demand(tr, 0).Bytes * 60 // one minute's Sum
	for lag := 0; lag <= 3; lag++ {
		cfg := DefaultConfig()
		cfg.MetricLagMinutes = lag
		s := &scripted{shards: 30, tasks: 10}
		Run(cfg, tr, s)
		ages := map[time.Duration]int{}
		for _, v := range s.views[5:] {
			ps := v.Metrics.IncomingBytes
			if len(ps) == 0 {
				t.Fatalf("lag %d: no IncomingBytes point at %s", lag, v.Now)
			}
			newest := ps[len(ps)-1]
			age := v.Now.Sub(newest.Time)
			ages[age]++
			if lag == 0 {
				continue
			}
			if want := time.Duration(lag+1) * time.Minute; age != want {
				t.Fatalf("lag %d: newest point at %s is %s old, want %s", lag, v.Now, age, want)
			}
			if partial := newest.Value < full*(1-1e-9); partial != (lag < 3) {
				t.Fatalf("lag %d: newest point %.0f of the minute's %.0f bytes: partial %v, want %v", lag, newest.Value, full, partial, lag < 3)
			}
		}
		if lag == 0 && len(ages) < 2 {
			t.Fatalf("random lag: every newest point has the same age %v", ages)
		}
	}
}
