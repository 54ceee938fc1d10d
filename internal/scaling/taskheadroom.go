package scaling

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// Producer headroom for recurring surges (issue 13; docs/scaling.md
// "Producer headroom for recurring surges").
//
// The producer's rules react to a surge only after CloudWatch has
// published a minute of it (4–6 minutes) and the tasks asked for have
// started: the refusals left on the spiky traces are that reaction time
// ("starting", "startingShort", "newHigh" in `simulate -refusals`). No
// rule on the same minutes shortens it; tasks already running before the
// surge carry it instead. A surge is a rise of the producers' work (CPU
// counting refused records × the tasks that ran, as the CPU rule reads
// it) over the newest complete minutes, which span the rules' reaction
// time. Each hour keeps its largest surge, in tasks at the CPU target,
// for surgeKept; while surges recur (two hours or more of the last
// surgeKept had one) the producer holds the second largest of them on
// top of the tasks the rules ask for. A single surge buys nothing, and a
// day without any lets the headroom go. Tasks cost no reshard call, so
// unlike shard headroom this spends nothing of the call budget; it costs
// task-hours, which docs/scaling.md states trace by trace.
//
// A rise counts only if its peak minute's work was more than the tasks
// that ran in it could carry without the headroom then held (100 % CPU on
// ran − headroom tasks): rises the headroom itself absorbed are still
// recorded, so the headroom does not lapse because it worked, and
// noise within the tasks' capacity records nothing (the smooth traces).

// surgeKept is how long State.ProducerSurges keeps an hour's surge: a
// day, so the headroom holds over the gaps between surges that recur
// daily; one entry an hour, at most 25.
const surgeKept = 24 * time.Hour

// surgeCap bounds the headroom by the tasks the rules ask for: at most
// that many again, so holding it at most doubles the level's own
// task-hours.
const surgeCap = 1.0

// surgeRank picks which of the hourly surges is held: the second largest,
// a size that recurred; a single surge buys no headroom.
const surgeRank = 2

// recordSurge keeps this pass's producer surge in State.ProducerSurges,
// judged against the headroom held before the pass (prev's), so that a
// rise the headroom absorbed still counts. ws is newestWork's.
func recordSurge(in Inputs, prev, running []Rec, ws []minuteWork, now time.Time) []Rec {
	surge := producerSurge(in.Producer, in.ProducerTasks, running, ws, surgeHeadroom(prev))
	return keepSurges(prev, now, surge, in.Producer.MaxTasks)
}

// producerSurge is the largest rise of the producers' work among the
// newest complete minutes (ws, oldest first), in tasks at target, when its
// peak minute's work was more than ran − held tasks carry at 100 % CPU; 0
// otherwise.
func producerSurge(cfg TaskConfig, obs TaskObservation, running []Rec, ws []minuteWork, held int32) int32 {
	best := 0.0
	for i, hi := range ws {
		ran := runningDuring(running, hi.m.at, obs.Running)
		if hi.w <= 100*float64(ran-held) {
			continue
		}
		for _, lo := range ws[:i] {
			best = max(best, hi.w-lo.w)
		}
	}
	if best <= 0 || math.IsInf(best, 0) || math.IsNaN(best) {
		return 0
	}
	return ceil32(best / cpuTarget(cfg))
}

// keepSurges records this pass's surge in its hour (the hour's largest),
// drops the hours older than surgeKept, and bounds each entry by maxTasks.
func keepSurges(prev []Rec, now time.Time, surge, maxTasks int32) []Rec {
	hour := now.Truncate(time.Hour).Unix()
	cut := now.Add(-surgeKept).Unix()
	var out []Rec // nil when empty: an empty list round-trips as none
	for _, r := range prev {
		if r.At > cut && r.At <= hour && r.N > 0 {
			out = append(out, Rec{At: r.At, N: min(r.N, max(maxTasks, 0))})
		}
	}
	if surge <= 0 || maxTasks <= 0 {
		return out
	}
	surge = min(surge, maxTasks)
	if k := len(out) - 1; k >= 0 && out[k].At == hour {
		out[k].N = max(out[k].N, surge)
		return out
	}
	return append(out, Rec{At: hour, N: surge})
}

// surgeHeadroom is the headroom held: the surgeRank-th largest hourly
// surge kept, 0 while fewer hours had one.
func surgeHeadroom(surges []Rec) int32 {
	if len(surges) < surgeRank {
		return 0
	}
	ns := make([]int32, len(surges))
	for i, r := range surges {
		ns[i] = r.N
	}
	slices.Sort(ns)
	return ns[len(ns)-surgeRank]
}

// withHeadroom adds the headroom to the rules' recommendation, at most
// surgeCap × rec (rec 0 counts as one task), and returns the tasks added.
func withHeadroom(rec, headroom int32) (int32, int32) {
	if headroom <= 0 {
		return rec, 0
	}
	extra := min(headroom, ceil32(surgeCap*float64(max(rec, 1))), math.MaxInt32-max(rec, 0))
	return rec + extra, extra
}

// headroomReason is what the producer's reason adds when headroom was
// held.
func headroomReason(extra int32) string {
	if extra <= 0 {
		return ""
	}
	return fmt.Sprintf(", with %d tasks of headroom for recurring surges", extra)
}
