package sim

import (
	"math"

	"github.com/kdp-io/streamprocessor-operator/internal/scaling"
)

// dayMinutes is the length of the calendar day LegalFloorShardHours counts
// calls in.
const dayMinutes = 24 * 60

// LegalFloorShardHours is the fewest shard-hours of any shard schedule that
// never throttles trace t at utilization u (u = 1: never throttles at all)
// and changes the shard count only by legal UpdateShardCount calls: each
// minute's count carries that minute's demand at u, each change between two
// minutes is one call from n to a count in [scaling.MinLegalStep(n),
// scaling.MaxLegalStep(n)], and at most scaling.ReshardsPerWindow calls fall
// in each calendar day of the trace (minutes [1440k, 1440(k+1))). The count
// of the first minute is free (any count carrying it, no call), the
// cheapest start any policy could have.
//
// It is a lower bound for every policy, even one that knows the future:
// every rule is a relaxation of what AWS enforces. A schedule within 10
// calls in every rolling 24 hours has at most 10 in each calendar day; the
// UPDATING state (billing both counts, carrying the smaller), CloudWatch's
// delay and Fargate are ignored. It is at least ClairvoyantShardHoursAt(cfg,
// t, u), which ignores the call rules too. A policy that throttles some
// records may use less. It is +Inf when a minute needs more than
// scaling.MaxShardsPerStream shards.
func LegalFloorShardHours(cfg Config, t Trace, u float64) float64 {
	return floorHours(cfg, t, u, scaling.LegalFloor)
}

// FreeDownFloorShardHours is LegalFloorShardHours with every decrease free
// (scaling.LegalFloorFreeDown): a lower bound for schedules that may also
// scale down by MergeShards, which spends no UpdateShardCount call. It
// measures how far merges could lower the judged floor; the judge does not
// use it.
func FreeDownFloorShardHours(cfg Config, t Trace, u float64) float64 {
	return floorHours(cfg, t, u, scaling.LegalFloorFreeDown)
}

// floorHours runs a floor program on t's per-minute needs at u.
func floorHours(cfg Config, t Trace, u float64, floor func([]int32, int, int) (int64, bool)) float64 {
	cfg = cfg.withDefaults()
	needs := make([]int32, t.Minutes())
	for m := range needs {
		needs[m] = needShards(cfg.demand(t, m), u)
	}
	shardMinutes, ok := floor(needs, scaling.ReshardsPerWindow, dayMinutes)
	if !ok {
		return math.Inf(1)
	}
	return float64(shardMinutes) / 60
}
