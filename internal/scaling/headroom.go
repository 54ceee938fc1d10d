package scaling

// EXPERIMENT, reverted in the next commit (docs/scaling.md, "Tried and
// reverted: headroom sized by the load's own rises"). Kept in history so the
// figures there can be reproduced: build cmd/simulate at this commit and set
//   HR_MODE=0|1   the rise: 0 raw (a minute's demand less the lowest complete
//                 minute within leadTime before it), 1 the excess over what
//                 the window holds (less the highest need at u of the complete
//                 minutes leadTime to 15 minutes before it)
//   HR_HOURS=n    hours of hourly maxima read (default 24; the largest is used)
//   HR_GATE=g     headroom only while the last 24 h's sum of open shards per
//                 pass is at most g x the sum of ceil(need at 100 %)
//   HR_CAP=c      headroom at most c x the need at 100 %
//   HR_SPARE=1    one spare shard while the need is at most 2 shards
//   HR_CALLS=1    headroom may start a scale-up of its own and counts in the
//                 day's peak (V1, V2); unset: it only sizes a scale-up already
//                 due and the scale-down floor (E)
// With no variable set the headroom is zero only if no rise was seen: the
// default run is NOT main's behaviour; compare against the parent commit.

import (
	"math"
	"os"
	"slices"
	"strconv"
	"time"
)

var (
	hrMode, _  = strconv.Atoi(os.Getenv("HR_MODE"))
	hrGate, _  = strconv.ParseFloat(os.Getenv("HR_GATE"), 64)
	hrHours, _ = strconv.Atoi(os.Getenv("HR_HOURS"))
	hrCap, _   = strconv.ParseFloat(os.Getenv("HR_CAP"), 64)
	hrSpare, _ = strconv.ParseFloat(os.Getenv("HR_SPARE"), 64)
	hrCalls    = os.Getenv("HR_CALLS") != ""
)

const (
	leadTime = 8 * time.Minute
)

func riseHours() int {
	if hrHours > 0 {
		return hrHours
	}
	return 24
}

// demandRise: mode 0: raw rise (later minus lowest earlier complete within leadTime), in shards at 100 %.
// mode 1: excess over held capacity (need100 minus max need-at-u of minutes >= leadTime earlier).
func demandRise(ls []minuteLoad, u float64) float64 {
	var rise float64
	for j, l := range ls {
		hi, _, _ := shardsFor(l, 1)
		before, seen := math.Inf(1), false
		if hrMode == 1 {
			before = 0
		}
		for _, e := range ls[:j] {
			if !e.complete {
				continue
			}
			if hrMode == 1 {
				if l.at.Sub(e.at) < leadTime {
					continue
				}
				n, _, _ := shardsFor(e, u)
				before, seen = max(before, n), true
			} else {
				if l.at.Sub(e.at) > leadTime {
					continue
				}
				n, _, _ := shardsFor(e, 1)
				before, seen = min(before, n), true
			}
		}
		if seen {
			rise = max(rise, hi-before)
		}
	}
	return rise
}

func fresh(ls []minuteLoad, now time.Time) bool {
	return len(ls) > 0 && now.Sub(ls[len(ls)-1].at) <= StaleAfter
}

func pruneHours(prev []Rec, now time.Time) []Rec {
	cut := now.Truncate(time.Hour).Add(-25 * time.Hour).Unix()
	return slices.DeleteFunc(slices.Clone(prev), func(r Rec) bool { return r.At <= cut || r.At > now.Unix() })
}

func keepRises(prev []Rec, ls []minuteLoad, u float64, now time.Time) []Rec {
	if !fresh(ls, now) {
		return pruneHours(prev, now)
	}
	r := demandRise(ls, u)
	return keepPeaks(prev, now, int32(math.Min(math.Ceil(r*DemandPerShard-1e-9), math.MaxInt32)))
}

// addHour adds n to the bucket of the current hour.
func addHour(prev []Rec, now time.Time, n int32) []Rec {
	out := pruneHours(prev, now)
	hour := now.Truncate(time.Hour).Unix()
	if k := len(out) - 1; k >= 0 && out[k].At == hour {
		out[k].N = int32(min(int64(out[k].N)+int64(n), math.MaxInt32))
		return out
	}
	return append(out, Rec{At: hour, N: n})
}

// keepUse adds this pass's open shards and its newest complete minute's need at 100 % (rounded up).
func keepUse(prevOpen, prevNeed []Rec, ls []minuteLoad, open int32, now time.Time) ([]Rec, []Rec) {
	if !fresh(ls, now) || open < 1 {
		return pruneHours(prevOpen, now), pruneHours(prevNeed, now)
	}
	var need float64
	for _, l := range ls {
		if l.complete {
			need, _, _ = shardsFor(l, 1)
		}
	}
	return addHour(prevOpen, now, open), addHour(prevNeed, now, max(ceil32(need), 1))
}

func sumSince(rs []Rec, cut int64) int64 {
	var s int64
	for _, r := range rs {
		if r.At >= cut {
			s += int64(r.N)
		}
	}
	return s
}

func typicalRise(rises, opens, needs []Rec, now time.Time) float64 {
	cut := now.Truncate(time.Hour).Add(-time.Duration(riseHours()) * time.Hour).Unix()
	var m int32
	for _, r := range rises {
		if r.At >= cut {
			m = max(m, r.N)
		}
	}
	if hrGate > 0 {
		c24 := now.Truncate(time.Hour).Add(-24 * time.Hour).Unix()
		o, n := sumSince(opens, c24), sumSince(needs, c24)
		if n == 0 || float64(o) > hrGate*float64(n) {
			return 0
		}
	}
	r := float64(m) / DemandPerShard
	if hrSpare > 0 {
		r = max(r, hrSpare)
	}
	return r
}

func withHeadroom(need, u, rise float64) float64 {
	if hrSpare > 0 && need > 2 {
		rise = 0
	}
	if hrCap > 0 {
		rise = min(rise, hrCap*need*u)
	}
	if hrMode == 1 {
		return need + rise
	}
	return max(need, need*u+rise)
}

func targetU(cfg StreamConfig) float64 {
	if u := cfg.TargetUtilization; u > 0 && u <= 1 {
		return u
	}
	return 0.7
}
