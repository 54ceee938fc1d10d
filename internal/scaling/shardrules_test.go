package scaling

import (
	"math"
	"strings"
	"testing"
	"time"
)

// ruleOfReason names the rule a shard reason's wording says decided (what
// the simulator's excess breakdown parsed before Decision.ShardRule).
func ruleOfReason(reason string, open int32) ShardRule {
	has := func(s string) bool { return strings.Contains(reason, s) }
	switch {
	case strings.HasPrefix(reason, "read side:"):
		return ShardReadSide
	case strings.HasPrefix(reason, "moving "):
		return ShardBounds
	case strings.HasPrefix(reason, "scaling up"):
		return ShardUp
	case strings.HasPrefix(reason, "scaling down"):
		return ShardDown
	case strings.HasPrefix(reason, "merging down"):
		return ShardMergeDown
	case has("no open shards") || has("no IncomingBytes data"):
		return ShardHeldNoData
	case has("stream is updating"):
		return ShardHoldUpdating
	case has("less than a stabilization window"):
		return ShardHoldStart
	case has("last reshard was less than"):
		return ShardHoldLastReshard
	case has("need is rising"):
		return ShardHoldRising
	case has("climbing back to the day's peak"):
		return ShardHoldClimbBack
	case has("with its trend or yesterday"):
		return ShardHoldTrend
	case has("would be the last of") || has("would leave none to answer a rise"):
		return ShardHoldLastCall
	case has("holding at") && has("need over the last"):
		var n int32
		if i := strings.Index(reason, " is "); i >= 0 {
			for _, c := range reason[i+4:] {
				if c < '0' || c > '9' {
					break
				}
				n = 10*n + c - '0'
			}
		}
		return holdNeed(n, open)
	}
	return ShardRuleUnset
}

// spikyDay is a load in MiB/s at minute m: a daily wave between 2 and 10
// with a 3-minute spike to 40 every 97 minutes.
func spikyDay(m int) float64 {
	v := 6 + 4*math.Sin(2*math.Pi*float64(m)/1440)
	if m%97 < 3 {
		v = 40
	}
	return v
}

// TestShardRuleMatchesReason runs both shard planners for two days on a
// spiky daily load, resharding at once as planned, and checks at every pass
// that Decision.ShardRule is the rule its ShardReason names, and that the
// run meets the rules the excess breakdown splits by.
func TestShardRuleMatchesReason(t *testing.T) {
	for _, planner := range []string{PlannerRules, PlannerHorizon} {
		seen := map[ShardRule]int{}
		var st State
		var history []time.Time
		open := int32(4)
		for m := 15; m < 2*1440; m++ {
			now := now0.Add(time.Duration(m) * time.Minute)
			in := baseInputs(now, open, 0)
			in.Stream.Planner = planner
			in.ReshardHistory = history
			in.Metrics = StreamMetrics{}
			for k := 14; k >= 1; k-- {
				b := spikyDay(m-k) * MiB * 60
				at := now.Add(-time.Duration(k) * time.Minute)
				in.Metrics.IncomingBytes = append(in.Metrics.IncomingBytes, Point{Time: at, Value: b})
				in.Metrics.IncomingRecords = append(in.Metrics.IncomingRecords, Point{Time: at, Value: b / 1000})
			}
			var d Decision
			d, st = Decide(in, st, now)
			if want := ruleOfReason(d.ShardReason, open); d.ShardRule != want || want == ShardRuleUnset {
				t.Fatalf("%s, minute %d: rule %v for %q, whose wording says %v", planner, m, d.ShardRule, d.ShardReason, want)
			}
			seen[d.ShardRule]++
			if step := PlanReshard(ReshardState{Open: open, Target: d.Shards, History: history, Now: now}); step.Action == ReshardNow {
				history = append(PruneHistory(history, now), now)
				open = step.To
			}
		}
		for _, r := range []ShardRule{ShardUp, ShardDown, ShardHoldLastReshard, ShardHoldWindow} {
			if seen[r] == 0 {
				t.Errorf("%s: no pass decided by %v (%v)", planner, r, seen)
			}
		}
		if planner == PlannerRules && seen[ShardHoldClimbBack] == 0 {
			t.Errorf("rules: no climb-back hold on a spiky day (%v)", seen)
		}
	}
}
