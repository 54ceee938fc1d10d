// Package scaling holds the operator's pure planning code: it turns observed
// metrics and AWS limits into targets (shards, producer tasks, consumer tasks)
// and plans the UpdateShardCount calls that reach a shard target. Nothing here
// does I/O or reads the wall clock; every function takes the time it needs as
// an argument so the reconciler, the tests and the simulator see the same
// behaviour.
package scaling

import (
	"fmt"
	"slices"
	"time"
)

// AWS limits on resharding a Kinesis data stream with UpdateShardCount
// (UNIFORM_SCALING).
const (
	// MaxShardsPerStream is the most open shards one stream may have.
	MaxShardsPerStream = 10000
	// ReshardsPerWindow is how many UpdateShardCount calls AWS accepts per
	// stream within ReshardWindow.
	ReshardsPerWindow = 10 // UpdateShardCount calls per rolling window per stream
	// ReshardWindow is the rolling window ReshardsPerWindow counts in.
	ReshardWindow = 24 * time.Hour
)

// ReshardAction says what the reconciler should do about the shard count now.
type ReshardAction int

const (
	// ReshardNone: the stream already has the target shard count.
	ReshardNone ReshardAction = iota
	// ReshardNow: call UpdateShardCount with ReshardStep.To now.
	ReshardNow
	// ReshardWait: a call is needed but not allowed yet (stream UPDATING or
	// the rolling budget is spent); requeue and plan again later.
	ReshardWait
)

// String returns a short lower-case name, for logs and status.
func (a ReshardAction) String() string {
	switch a {
	case ReshardNone:
		return "none"
	case ReshardNow:
		return "now"
	case ReshardWait:
		return "wait"
	default:
		return fmt.Sprintf("ReshardAction(%d)", int(a))
	}
}

// ReshardState is everything PlanReshard needs to know about one stream.
type ReshardState struct {
	Open     int32       // open shards now
	Target   int32       // desired open shards (already clamped to [min,max] by the caller)
	Updating bool        // stream status is UPDATING (or CREATING)
	History  []time.Time // times of past UpdateShardCount calls (any age; the planner ignores those outside the window)
	Now      time.Time
}

// ReshardStep is the planner's answer for one reconcile pass.
type ReshardStep struct {
	Action    ReshardAction
	To        int32     // ReshardNow: the shard count to request in this one call
	WaitUntil time.Time // ReshardWait because the budget is spent: when the oldest call leaves the window (zero when waiting for UPDATING)
	Reason    string    // one human sentence for status and events, e.g. "scaling 4→8 on the way to 20 (call 3 of 10 in 24h)"

	// Target is the target actually planned for, after clamping to
	// [1, MaxShardsPerStream].
	Target int32
	// Path is the full sequence of calls still needed from Open to Target,
	// To first (empty for ReshardNone).
	Path []int32
	// CallsInWindow counts UpdateShardCount calls inside the rolling window
	// before this step (the step itself not included).
	CallsInWindow int
}

// MinLegalStep is the smallest shard count one UpdateShardCount call may
// request from open shards: AWS refuses going below half the current count,
// so for an odd count the half is rounded up (5 → 3).
func MinLegalStep(open int32) int32 {
	if open <= 1 {
		return 1
	}
	return int32((int64(open) + 1) / 2)
}

// MaxLegalStep is the largest shard count one UpdateShardCount call may
// request from open shards: double the current count, never above
// MaxShardsPerStream.
func MaxLegalStep(open int32) int32 {
	if open < 1 {
		return 1
	}
	return int32(min(2*int64(open), MaxShardsPerStream))
}

// CheckStep returns nil when one UpdateShardCount call from open to to obeys
// AWS's UNIFORM_SCALING rules, and an error saying which rule it breaks
// otherwise. A call to the current count is refused too: AWS rejects it and
// it would waste a call from the budget.
func CheckStep(open, to int32) error {
	switch {
	case open < 1:
		return fmt.Errorf("stream has %d open shards; cannot reshard", open)
	case to < 1:
		return fmt.Errorf("target %d is below 1 shard", to)
	case to > MaxShardsPerStream:
		return fmt.Errorf("target %d is above the limit of %d shards per stream", to, MaxShardsPerStream)
	case to == open:
		return fmt.Errorf("target %d equals the open shard count", to)
	case to > MaxLegalStep(open):
		return fmt.Errorf("target %d is more than double the %d open shards", to, open)
	case to < MinLegalStep(open):
		return fmt.Errorf("target %d is less than half the %d open shards", to, open)
	}
	return nil
}

// clampShards limits n to the shard counts a stream can have.
func clampShards(n int32) int32 {
	return min(max(n, 1), MaxShardsPerStream)
}

// PlanReshardPath returns the shortest sequence of legal UpdateShardCount
// targets that takes a stream from open to target shards, in call order and
// ending at target (clamped to [1, MaxShardsPerStream]). Each call moves as
// far as AWS allows, so 1→20 is [2 4 8 16 20] and 20→3 is [10 5 3]. It returns
// nil when no call is needed or open is below 1.
func PlanReshardPath(open, target int32) []int32 {
	if open < 1 {
		return nil
	}
	target = clampShards(target)
	var path []int32
	for cur := open; cur != target; {
		if target > cur {
			cur = min(target, MaxLegalStep(cur))
		} else {
			cur = max(target, MinLegalStep(cur))
		}
		path = append(path, cur)
	}
	return path
}

// PruneHistory returns the calls of history that are still inside the
// rolling window ending at now, oldest first. A call made exactly
// ReshardWindow ago has left the window. Calls stamped after now (clock skew
// between operator replicas) are kept: counting them is the safe side. The
// input slice is not modified.
func PruneHistory(history []time.Time, now time.Time) []time.Time {
	cutoff := now.Add(-ReshardWindow)
	kept := make([]time.Time, 0, len(history))
	for _, t := range history {
		if t.After(cutoff) {
			kept = append(kept, t)
		}
	}
	slices.SortFunc(kept, func(a, b time.Time) int { return a.Compare(b) })
	return kept
}

// BudgetLeft returns how many UpdateShardCount calls AWS still accepts at now
// given the past calls in history.
func BudgetLeft(history []time.Time, now time.Time) int {
	return max(0, ReshardsPerWindow-len(PruneHistory(history, now)))
}

// PlanReshard decides the one UpdateShardCount call (if any) the reconciler
// may make now to move the stream toward s.Target.
//
// Contract:
//   - ReshardNone when Open equals the (clamped) target.
//   - ReshardWait with a zero WaitUntil while the stream is UPDATING/CREATING
//     or reports no open shards; plan again on the next pass.
//   - ReshardWait with WaitUntil set when ReshardsPerWindow calls are already
//     inside the rolling window; WaitUntil is when the oldest of them leaves.
//   - Otherwise ReshardNow with To, the first element of the shortest legal
//     path; To always passes CheckStep(Open, To).
//
// After a successful call the caller must append s.Now to the persisted
// history (and may prune it with PruneHistory); after a failed call it must
// not, unless AWS may have accepted it (a timeout), in which case recording it
// is the safe side.
func PlanReshard(s ReshardState) ReshardStep {
	target := clampShards(s.Target)
	calls := PruneHistory(s.History, s.Now)
	step := ReshardStep{Target: target, CallsInWindow: len(calls)}
	clamped := ""
	if target != s.Target {
		clamped = fmt.Sprintf(" (target %d clamped to %d)", s.Target, target)
	}

	if s.Open < 1 {
		step.Action = ReshardWait
		step.Reason = fmt.Sprintf("waiting: stream reports %d open shards%s", s.Open, clamped)
		return step
	}
	if s.Open == target {
		step.Action = ReshardNone
		step.Reason = fmt.Sprintf("at target of %d shards%s", target, clamped)
		return step
	}
	step.Path = PlanReshardPath(s.Open, target)
	if s.Updating {
		step.Action = ReshardWait
		step.Reason = fmt.Sprintf("waiting for the stream to leave UPDATING before scaling %d→%d on the way to %d%s",
			s.Open, step.Path[0], target, clamped)
		return step
	}
	if len(calls) >= ReshardsPerWindow {
		// The oldest len-ReshardsPerWindow+1 calls must leave before one is free.
		step.Action = ReshardWait
		step.WaitUntil = calls[len(calls)-ReshardsPerWindow].Add(ReshardWindow)
		step.Reason = fmt.Sprintf("reshard budget spent (%d of %d calls in 24h); scaling %d→%d resumes at %s%s",
			len(calls), ReshardsPerWindow, s.Open, target, step.WaitUntil.UTC().Format(time.RFC3339), clamped)
		return step
	}
	step.Action = ReshardNow
	step.To = step.Path[0]
	if step.To == target {
		step.Reason = fmt.Sprintf("scaling %d→%d (call %d of %d in 24h)%s",
			s.Open, step.To, len(calls)+1, ReshardsPerWindow, clamped)
	} else {
		step.Reason = fmt.Sprintf("scaling %d→%d on the way to %d (call %d of %d in 24h)%s",
			s.Open, step.To, target, len(calls)+1, ReshardsPerWindow, clamped)
	}
	return step
}
