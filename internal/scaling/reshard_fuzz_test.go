package scaling

import (
	"testing"
	"time"
)

// FuzzPlanReshard drives PlanReshard from an arbitrary start, target and
// call history the way the reconciler does (one call per pass, UPDATING for
// a while after each call, sleeping until WaitUntil when the budget is spent)
// and checks the invariants AWS enforces: every call is a legal step, no more
// than ReshardsPerWindow calls in any rolling window, and the stream reaches
// the clamped target. It also checks PlanReshardPath: legal, shortest by
// greedy construction, ending at the target.
func FuzzPlanReshard(f *testing.F) {
	f.Add(int32(1), int32(20), uint8(0), uint16(60), int64(5))
	f.Add(int32(20), int32(3), uint8(9), uint16(1), int64(1))
	f.Add(int32(10000), int32(1), uint8(10), uint16(30), int64(3))
	f.Add(int32(5), int32(20000), uint8(3), uint16(0), int64(0))
	f.Add(int32(7), int32(-4), uint8(12), uint16(200), int64(30))
	f.Fuzz(func(t *testing.T, open, target int32, nPast uint8, pastSpacingMin uint16, updatingMin int64) {
		if open < 1 || open > MaxShardsPerStream {
			return
		}
		updating := time.Duration(min(max(updatingMin, 0), 600)) * time.Minute
		now := t0
		var history []time.Time
		for i := int(nPast % 16); i > 0; i-- {
			history = append(history, now.Add(-time.Duration(i)*time.Duration(pastSpacingMin)*time.Minute))
		}
		want := clampShards(target)

		path := PlanReshardPath(open, target)
		cur := open
		for _, p := range path {
			if err := CheckStep(cur, p); err != nil {
				t.Fatalf("path %d→%d %v: %v", open, target, path, err)
			}
			cur = p
		}
		if cur != want {
			t.Fatalf("path %d→%d %v ends at %d, want %d", open, target, path, cur, want)
		}
		// The greedy path is shortest: 14 doublings/halvings cover 1..10000.
		if len(path) > 14 {
			t.Fatalf("path %d→%d has %d steps", open, target, len(path))
		}

		updatingUntil := time.Time{}
		for pass := 0; ; pass++ {
			if pass > 10000 {
				t.Fatalf("no convergence from %d to %d", open, target)
			}
			isUpdating := now.Before(updatingUntil)
			step := PlanReshard(ReshardState{Open: cur, Target: target, Updating: isUpdating, History: history, Now: now})
			if step.Reason == "" {
				t.Fatalf("empty reason for %+v", step)
			}
			switch step.Action {
			case ReshardNone:
				if cur != want {
					t.Fatalf("none at %d, want %d", cur, want)
				}
				return
			case ReshardWait:
				if isUpdating {
					if !step.WaitUntil.IsZero() {
						t.Fatalf("UPDATING wait with WaitUntil %v", step.WaitUntil)
					}
					now = updatingUntil
					continue
				}
				if !step.WaitUntil.After(now) {
					t.Fatalf("budget wait with WaitUntil %v not after now %v", step.WaitUntil, now)
				}
				if BudgetLeft(history, now) != 0 || BudgetLeft(history, step.WaitUntil) == 0 {
					t.Fatalf("budget wait at %v until %v with history %v", now, step.WaitUntil, history)
				}
				now = step.WaitUntil
			case ReshardNow:
				if isUpdating {
					t.Fatalf("call while UPDATING")
				}
				if err := CheckStep(cur, step.To); err != nil {
					t.Fatalf("illegal call: %v", err)
				}
				history = append(history, now)
				if n := len(PruneHistory(history, now)); n > ReshardsPerWindow {
					t.Fatalf("%d calls in the window", n)
				}
				cur = step.To
				updatingUntil = now.Add(updating)
				now = now.Add(time.Second)
			}
		}
	})
}
