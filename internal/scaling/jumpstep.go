package scaling

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

// jumpSpan is how far before the newest minute a jump is measured from.
const jumpSpan = 2 * time.Minute

// loadJump is the newest fresh minute's need at 100 % (x) and how far it
// rose over the lowest minute within jumpSpan before it (rise), in shards.
// Both are 0 with fewer than two such minutes.
func loadJump(fresh []minuteLoad) (x, rise float64) {
	if len(fresh) < 2 {
		return 0, 0
	}
	last := fresh[len(fresh)-1]
	x, _, _ = shardsFor(last, 1)
	low, seen := x, false
	for _, l := range fresh[:len(fresh)-1] {
		if last.at.Sub(l.at) > jumpSpan {
			continue
		}
		n, _, _ := shardsFor(l, 1)
		low, seen = min(low, n), true
	}
	if !seen {
		return x, 0
	}
	return x, max(x-low, 0)
}

var jumpShare = envFloat("JUMP_SHARE", 0)

func envFloat(k string, def float64) float64 {
	if v, err := strconv.ParseFloat(os.Getenv(k), 64); err == nil {
		return v
	}
	return def
}

// jumpStep calls up before the need passes the open count when the newest
// minute jumped by at least half the open count's target capacity: at that
// pace the load outruns the open count within one more minute.
func jumpStep(in Inputs, v shardView, now time.Time) (shardTarget, bool) {
	if jumpShare <= 0 || v.want > v.open || v.jumpRise < jumpShare*v.u*float64(v.open) {
		return shardTarget{}, false
	}
	t := clamp32(min(ceil32((v.jumpX+v.jumpRise)/v.u), 2*v.open), v.lo, v.hi)
	if t <= v.open {
		return shardTarget{}, false
	}
	calls := PruneHistory(in.ReshardHistory, now)
	if v.budget < plentyOfCalls || stepFreezes(v, calls, now) {
		return shardTarget{}, false
	}
	reserve := v.reserve
	if aheadOfPace(append(calls[:len(calls):len(calls)], now), now) {
		reserve++
	}
	if !canClimb(v.budget-2-reserve, calls, now, v.open, max(v.peak, t)) {
		return shardTarget{}, false
	}
	return shardTarget{t, ShardUp, fmt.Sprintf("scaling up %d→%d: the load jumped %.2f shards in %v to %.2f", v.open, t, v.jumpRise, jumpSpan, v.jumpX)}, true
}
