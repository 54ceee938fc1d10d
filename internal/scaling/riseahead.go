package scaling

import (
	"fmt"
	"time"
)

// riseLead is how far ahead riseAhead carries the load's pace: the time a
// call takes to land (climbStep: UPDATING for at least 3 minutes, and the
// next pass sees it ACTIVE a little later).
const riseLead = climbStep

// riseMinutes is how many adjacent minutes, each above the one before, make
// a rise for paceNeed.
const riseMinutes = 3

// paceNeed is the need at 100 % of the newest fresh minute carried ahead by
// riseLead at the pace the load rose over the riseMinutes minutes ending
// with it, and the same at u. A rise counts only when each of those minutes
// is adjacent to and above the one before: a noisy load that steps up once,
// after a step down, is not a rise; then it returns 0, 0.
func paceNeed(fresh []minuteLoad, u float64) (at100, atU float64) {
	if len(fresh) < riseMinutes {
		return 0, 0
	}
	last := fresh[len(fresh)-riseMinutes:]
	needs := make([]float64, len(last))
	for i, l := range last {
		needs[i], _, _ = shardsFor(l, 1)
		if i > 0 && (l.at.Sub(last[i-1].at) != time.Minute || needs[i] <= needs[i-1]) {
			return 0, 0
		}
	}
	pace := (needs[len(needs)-1] - needs[0]) / float64(len(needs)-1)
	ahead := needs[len(needs)-1] + pace*riseLead.Minutes()
	return ahead, ahead / u
}

// riseAhead calls up before the newest need passes the open count: when the
// load has risen minute over minute at a pace that, kept up, passes the
// open count at 100 % before a call made now could land (paceNeed), or,
// with the stream at its lower bound, when the rise is out of a quiet day
// (risesOutOfQuiet). It returns the need of that projected load at the
// target utilization, at least one shard more and at most 2× the open
// count (one call), as an up target, and true, when
//   - the newest need still fits the open count (above it, the up step
//     answers), and the read side needs no more this pass;
//   - a stabilization window of needs has been recorded (startingUp is
//     false): the budget test below climbs to the day's peak, unknown
//     before;
//   - the step buys room as any scale-up must: at least the ladder's step
//     (upStep);
//   - calls are plentiful, as for finishClimb (callsToSpare).
//
// Otherwise it returns false and the way down's rules decide.
//
// The argument. The up step calls when the newest need passes the open
// count; its call lands a climbStep later, so a load rising faster than
// the open count's headroom over that time is throttled until it lands.
// With the producers' own minutes read at their end (withIngestOnly) the
// first minutes of such a rise are seen while they still fit: on
// Twitter_volume_AAPL at 5 MiB/s a jump from a quiet single shard shows as
// two or three rising minutes before the need passes one shard, and
// calling on them lands the second shard one or two minutes sooner
// (docs/scaling.md, "Twitter's loss at 5 MiB/s with the producers'
// minutes"). Three rising minutes, not one, keep a noisy level's single
// step up from calling (the flash crowd's noise at 40 MiB/s did).
//
// Out of a quiet day the pace says too little: a surge's first wave may
// peak within the open count and the next, minutes later, pass it several
// times over before a call lands. ec2_network_in_257a54 at 5 MiB/s sits at
// one shard for days at under 0.07 MiB/s; on 04-15 a precursor rises to
// 0.27 MiB/s, falls, and five minutes later wave B climbs to 2.83 MiB/s
// within four minutes: the second shard must be open before wave B for the
// loss goal (docs/scaling.md, "ec2's loss at 5 MiB/s with the producers'
// minutes"). A rise to three times anything the day showed is that
// precursor; the day's own bumps, however high at a larger peak, are not.
// Only at the lower bound: above it the stream already holds more than the
// quiet level needs.
func riseAhead(in Inputs, v shardView, now time.Time) (shardTarget, bool) {
	quiet := v.outOfQuiet && v.open == v.lo
	if v.want > v.open || (v.pace100 <= float64(v.open) && !quiet) || v.readNeed > v.open || startingUp(v, now) {
		return shardTarget{}, false
	}
	t := clamp32(min(max(ceil32(v.paceU), v.open+1), 2*v.open), v.lo, v.hi)
	if float64(t) < float64(v.open)*(1+upStep(v.budget)) {
		return shardTarget{}, false
	}
	if !callsToSpare(in, v, now, t) {
		return shardTarget{}, false
	}
	if v.pace100 <= float64(v.open) {
		return shardTarget{t, ShardUp, fmt.Sprintf("scaling up %d→%d: the load rises minute over minute out of a quiet day, to %d times the day's highest hour (%d reshard calls left)",
			v.open, t, outOfQuietHigh, v.budget)}, true
	}
	return shardTarget{t, ShardUp, fmt.Sprintf("scaling up %d→%d: the load rises minute over minute and at its pace passes %d shards at 100%% within %v (%.1f then; %d reshard calls left)",
		v.open, t, v.open, riseLead, v.pace100, v.budget)}, true
}

// startingUp reports whether less than three quarters of a stabilization
// window of needs has been recorded since the policy started (the way
// down's start hold).
func startingUp(v shardView, now time.Time) bool {
	return now.Unix()-coveredSince(v.kept, v.recs) < int64(v.window/time.Second)*3/4
}

// outOfQuietShare and outOfQuietHigh define a rise out of a quiet day for
// risesOutOfQuiet: the newest minute at a fifth of the open count or more,
// and three times the highest hour of the day before or more.
const (
	outOfQuietShare = 0.2
	outOfQuietHigh  = 3
	// outOfQuietHours is how many of the day's 24 hours before now's must
	// be known (State.WeekPeaks) to call a rise a new high.
	outOfQuietHours = 12
)

// risesOutOfQuiet reports whether the newest minutes are the start of a
// surge out of a quiet day: the newest riseMinutes minutes rose minute over
// minute (pace100, paceNeed's need at 100 %, is above 0), the newest needs
// at 100 % at least outOfQuietShare of the open count, and at least
// outOfQuietHigh times the highest hourly
// demand of the 24 hours before now's hour (week, State.WeekPeaks, in
// 1/DemandPerShard shards at 100 %). Without outOfQuietHours of those hours
// it is false: a quiet day not seen is not known to be quiet.
func risesOutOfQuiet(fresh []minuteLoad, pace100 float64, open int32, week []Rec, now time.Time) bool {
	if pace100 == 0 {
		return false
	}
	newest, _, _ := shardsFor(fresh[len(fresh)-1], 1)
	if newest < outOfQuietShare*float64(open) {
		return false
	}
	hour := now.Truncate(time.Hour).Unix()
	var hours int
	var highest float64
	for _, r := range week {
		if r.At >= hour-24*3600 && r.At < hour {
			hours++
			highest = max(highest, float64(r.N)/DemandPerShard)
		}
	}
	return hours >= outOfQuietHours && highest*outOfQuietHigh <= newest
}
