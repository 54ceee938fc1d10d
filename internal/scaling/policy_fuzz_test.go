package scaling

import (
	"encoding/json"
	"math"
	"testing"
	"time"
)

// FuzzDecide feeds Decide, with each shard planner, arbitrary configs, observations and metric
// values (including NaN, negatives, huge values, points in the future) over
// several passes and checks its contracts: targets within their bounds,
// consumers never above the shard cap, a reason always and the shard rule
// its wording names, a State that
// round-trips through JSON and stays small, and a producer target that
// counting its refused records never lowers.
func FuzzDecide(f *testing.F) {
	f.Add(int32(1), int32(100), 70.0, int32(4), 10.0, 0.0, 65.0, 30.0, int32(2), int32(1), int32(20), uint8(0), false, int64(0))
	f.Add(int32(5), int32(5), 100.0, int32(9000), 1e9, 1e6, 300.0, 1e9, int32(0), int32(0), int32(0), uint8(10), true, int64(-7200))
	f.Add(int32(0), int32(-3), -1.0, int32(0), math.NaN(), -5.0, math.Inf(1), -1.0, int32(-2), int32(9), int32(3), uint8(4), false, int64(600))
	f.Fuzz(func(t *testing.T, minS, maxS int32, util float64, open int32, mibps, thr, cpu, ageSec float64,
		running, minT, maxT int32, nCalls uint8, updating bool, skew int64) {
		for _, planner := range []string{PlannerRules, PlannerHorizon} {
			// A previous week at this time: the load rising from mibps to
			// twice it, for the horizon planner's forecast.
			st := State{}
			for k := range 4 {
				st.WeekPeaks = append(st.WeekPeaks, Rec{At: now0.Add(time.Duration(k-weekHours) * time.Hour).Unix(), N: ceil32(mibps * DemandPerShard * float64(2+k) / 2)})
			}
			for pass := range 4 {
				now := now0.Add(time.Duration(pass) * 7 * time.Minute)
				in := Inputs{
					Stream:         StreamConfig{MinShards: minS, MaxShards: maxS, TargetUtilization: util / 100, Planner: planner},
					Producer:       TaskConfig{MinTasks: minT, MaxTasks: maxT, TargetCPUPercent: 65},
					Consumer:       TaskConfig{MinTasks: minT, MaxTasks: maxT, TargetCPUPercent: 65, MaxIteratorAgeSeconds: 60},
					OpenShards:     open,
					StreamUpdating: updating,
					ReshardHistory: calls(int(nCalls%14), now.Add(time.Duration(skew)*time.Second)),
					Metrics:        load(now.Add(time.Duration(skew)*time.Second), mibps, thr),
					// The producer's accepted and refused records reuse the
					// fuzzed rate and throttle values (NaN, negative, huge).
					ProducerTasks: TaskObservation{Desired: running, Running: running, CPUPercent: series(now, 10, cpu),
						Requests: series(now, 10, mibps*1000*60), Refused: series(now, 10, thr*60)},
					ConsumerTasks: TaskObservation{Desired: running, Running: running, CPUPercent: series(now, 10, cpu)},
				}
				in.Metrics.IteratorAgeMs = series(now, 10, ageSec*1000)
				d, next := Decide(in, st, now)
				// Counting refused records never lowers the producer's
				// target (desired = running: the HPA rule is monotone).
				blind := in
				blind.ProducerTasks.Refused = nil
				if db, _ := Decide(blind, st, now); d.ProducerTasks < db.ProducerTasks {
					t.Fatalf("refused records lowered the producer %d → %d: %s / %s", db.ProducerTasks, d.ProducerTasks, db.ProducerReason, d.ProducerReason)
				}

				lo := min(max(minS, 1), MaxShardsPerStream)
				hi := int32(MaxShardsPerStream)
				if maxS > 0 {
					hi = min(max(maxS, lo), MaxShardsPerStream)
				}
				if d.Shards < lo || d.Shards > hi {
					t.Fatalf("shards %d outside [%d, %d]: %s", d.Shards, lo, hi, d.ShardReason)
				}
				tlo, thi := max(minT, 0), max(maxT, max(minT, 0))
				if d.ProducerTasks < tlo || d.ProducerTasks > thi {
					t.Fatalf("producer %d outside [%d, %d]: %s", d.ProducerTasks, tlo, thi, d.ProducerReason)
				}
				shardCap := max(open, 1, d.Shards)
				if d.ConsumerTasks < 0 || d.ConsumerTasks > thi || d.ConsumerTasks > shardCap {
					t.Fatalf("consumer %d outside [0, min(%d, %d)]: %s", d.ConsumerTasks, thi, shardCap, d.ConsumerReason)
				}
				if d.ShardReason == "" || d.ProducerReason == "" || d.ConsumerReason == "" {
					t.Fatalf("empty reason: %+v", d)
				}
				if d.ByMerge && (d.Shards < (open+1)/2 || d.Shards >= open || d.ShardRule != ShardMergeDown) {
					t.Fatalf("by merge %d→%d (rule %v): want ceil(open/2) ≤ shards < open: %s", open, d.Shards, d.ShardRule, d.ShardReason)
				}
				if want := ruleOfReason(d.ShardReason, open); d.ShardRule == ShardRuleUnset || d.ShardRule != want {
					t.Fatalf("shard rule %v for %q, whose wording says %v", d.ShardRule, d.ShardReason, want)
				}
				raw, err := json.Marshal(next)
				if err != nil {
					t.Fatal(err)
				}
				if len(raw) > 4096 {
					t.Fatalf("state grew to %d bytes", len(raw))
				}
				if n := len(next.WeekPeaks); n > weekHours+1 || n > len(st.WeekPeaks)+1 {
					t.Fatalf("week grew from %d to %d entries", len(st.WeekPeaks), n)
				}
				if n := len(next.ProducerSurges); n > 25 || n > len(st.ProducerSurges)+1 {
					t.Fatalf("producer surges grew from %d to %d entries", len(st.ProducerSurges), n)
				}
				var back State
				if err := json.Unmarshal(raw, &back); err != nil {
					t.Fatal(err)
				}
				st = back
			}
		}
	})
}
