package scaling

import (
	"slices"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func TestCheckStep(t *testing.T) {
	tests := []struct {
		open, to int32
		legal    bool
		why      string // substring of the error for illegal moves
	}{
		{1, 2, true, ""},
		{1, 3, false, "more than double"},
		{1, 1, false, "equals"},
		{1, 0, false, "below 1"},
		{2, 1, true, ""},
		{2, 4, true, ""},
		{2, 5, false, "more than double"},
		{3, 2, true, ""},
		{3, 1, false, "less than half"},
		{4, 2, true, ""},
		{4, 1, false, "less than half"},
		{5, 3, true, ""},
		{5, 2, false, "less than half"},
		{5, 10, true, ""},
		{5, 11, false, "more than double"},
		{16, 20, true, ""},
		{20, 10, true, ""},
		{20, 9, false, "less than half"},
		{5000, 10000, true, ""},
		{6000, 10000, true, ""},
		{6000, 10001, false, "above the limit"},
		{10000, 5000, true, ""},
		{10000, 4999, false, "less than half"},
		{0, 1, false, "cannot reshard"},
		{-3, 1, false, "cannot reshard"},
		{8, -1, false, "below 1"},
	}
	for _, tt := range tests {
		err := CheckStep(tt.open, tt.to)
		if (err == nil) != tt.legal {
			t.Errorf("CheckStep(%d, %d) = %v, want legal=%v", tt.open, tt.to, err, tt.legal)
			continue
		}
		if err != nil && !strings.Contains(err.Error(), tt.why) {
			t.Errorf("CheckStep(%d, %d) = %q, want it to mention %q", tt.open, tt.to, err, tt.why)
		}
	}
}

// TestCheckStepExhaustive compares CheckStep with the rule as AWS states it,
// in integer arithmetic (to ≤ 2·open and 2·to ≥ open), for every pair of
// small counts.
func TestCheckStepExhaustive(t *testing.T) {
	for open := int32(1); open <= 70; open++ {
		for to := int32(-2); to <= 150; to++ {
			want := to >= 1 && to != open && to <= 2*open && 2*to >= open
			if got := CheckStep(open, to) == nil; got != want {
				t.Fatalf("CheckStep(%d, %d) legal=%v, want %v", open, to, got, want)
			}
		}
	}
}

func TestPlanReshardPath(t *testing.T) {
	tests := []struct {
		open, target int32
		want         []int32
	}{
		{1, 20, []int32{2, 4, 8, 16, 20}},
		{20, 3, []int32{10, 5, 3}},
		{20, 1, []int32{10, 5, 3, 2, 1}},
		{4, 4, nil},
		{4, 8, []int32{8}},
		{4, 6, []int32{6}},
		{8, 4, []int32{4}},
		{5, 2, []int32{3, 2}},
		{1, 10000, []int32{2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 10000}},
		{1, 20000, []int32{2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 10000}}, // clamped
		{3, 0, []int32{2, 1}},  // clamped to 1
		{3, -7, []int32{2, 1}}, // clamped to 1
		{0, 5, nil},            // no open shards: nothing to plan
		{10000, 1, []int32{5000, 2500, 1250, 625, 313, 157, 79, 40, 20, 10, 5, 3, 2, 1}},
	}
	for _, tt := range tests {
		got := PlanReshardPath(tt.open, tt.target)
		if !slices.Equal(got, tt.want) {
			t.Errorf("PlanReshardPath(%d, %d) = %v, want %v", tt.open, tt.target, got, tt.want)
		}
	}
}

func TestPruneHistory(t *testing.T) {
	now := t0.Add(48 * time.Hour)
	in := []time.Time{
		now.Add(-time.Minute),
		now.Add(-ReshardWindow),               // exactly one window ago: gone
		now.Add(-ReshardWindow + time.Second), // still inside
		now.Add(-30 * time.Hour),
		now.Add(time.Minute), // from a skewed clock: kept
	}
	orig := slices.Clone(in)
	got := PruneHistory(in, now)
	want := []time.Time{now.Add(-ReshardWindow + time.Second), now.Add(-time.Minute), now.Add(time.Minute)}
	if !slices.EqualFunc(got, want, time.Time.Equal) {
		t.Errorf("PruneHistory = %v, want %v", got, want)
	}
	if !slices.EqualFunc(in, orig, time.Time.Equal) {
		t.Errorf("PruneHistory modified its input")
	}
	if n := BudgetLeft(in, now); n != ReshardsPerWindow-3 {
		t.Errorf("BudgetLeft = %d, want %d", n, ReshardsPerWindow-3)
	}
}

// calls returns n call times, one an hour, the last at last.
func calls(n int, last time.Time) []time.Time {
	var h []time.Time
	for i := n - 1; i >= 0; i-- {
		h = append(h, last.Add(-time.Duration(i)*time.Hour))
	}
	return h
}

func TestPlanReshard(t *testing.T) {
	now := t0.Add(72 * time.Hour)
	tests := []struct {
		name      string
		s         ReshardState
		action    ReshardAction
		to        int32
		waitUntil time.Time
		reason    string
	}{
		{"at target", ReshardState{Open: 8, Target: 8, Now: now}, ReshardNone, 0, time.Time{}, "at target of 8"},
		{"up within 2x", ReshardState{Open: 4, Target: 8, Now: now}, ReshardNow, 8, time.Time{}, "scaling 4→8 (call 1 of 10 in 24h)"},
		{"up past 2x", ReshardState{Open: 4, Target: 20, Now: now, History: calls(2, now.Add(-time.Hour))},
			ReshardNow, 8, time.Time{}, "scaling 4→8 on the way to 20 (call 3 of 10 in 24h)"},
		{"down past half", ReshardState{Open: 20, Target: 3, Now: now}, ReshardNow, 10, time.Time{}, "scaling 20→10 on the way to 3"},
		{"odd down", ReshardState{Open: 5, Target: 1, Now: now}, ReshardNow, 3, time.Time{}, "5→3"},
		{"updating", ReshardState{Open: 4, Target: 20, Updating: true, Now: now}, ReshardWait, 0, time.Time{}, "UPDATING"},
		{"updating at target", ReshardState{Open: 4, Target: 4, Updating: true, Now: now}, ReshardNone, 0, time.Time{}, "at target"},
		{"budget spent", ReshardState{Open: 4, Target: 20, Now: now, History: calls(10, now.Add(-time.Minute))},
			ReshardWait, 0, now.Add(-time.Minute - 9*time.Hour + ReshardWindow), "budget spent (10 of 10"},
		{"budget spent, old calls ignored", ReshardState{Open: 4, Target: 20, Now: now,
			History: append(calls(10, now.Add(-time.Minute)), now.Add(-25*time.Hour), now.Add(-48*time.Hour))},
			ReshardWait, 0, now.Add(-time.Minute - 9*time.Hour + ReshardWindow), "budget spent"},
		{"budget over-spent (11 in window)", ReshardState{Open: 4, Target: 2, Now: now, History: calls(11, now.Add(-time.Minute))},
			ReshardWait, 0, now.Add(-time.Minute - 9*time.Hour + ReshardWindow), "11 of 10"},
		{"ninth and tenth call allowed", ReshardState{Open: 4, Target: 2, Now: now, History: calls(9, now.Add(-time.Minute))},
			ReshardNow, 2, time.Time{}, "call 10 of 10"},
		{"oldest call just left", ReshardState{Open: 4, Target: 8, Now: now, History: calls(10, now.Add(9*time.Hour-ReshardWindow))},
			ReshardNow, 8, time.Time{}, "call 10 of 10"},
		{"target above max", ReshardState{Open: 8000, Target: 20000, Now: now}, ReshardNow, 10000, time.Time{}, "clamped to 10000"},
		{"target below 1", ReshardState{Open: 2, Target: 0, Now: now}, ReshardNow, 1, time.Time{}, "clamped to 1"},
		{"at max, target above", ReshardState{Open: 10000, Target: 12000, Now: now}, ReshardNone, 0, time.Time{}, "clamped"},
		{"no open shards", ReshardState{Open: 0, Target: 4, Now: now}, ReshardWait, 0, time.Time{}, "0 open shards"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := PlanReshard(tt.s)
			if got.Action != tt.action || got.To != tt.to || !got.WaitUntil.Equal(tt.waitUntil) {
				t.Fatalf("PlanReshard = {%v to=%d waitUntil=%v}, want {%v to=%d waitUntil=%v} (%s)",
					got.Action, got.To, got.WaitUntil, tt.action, tt.to, tt.waitUntil, got.Reason)
			}
			if !strings.Contains(got.Reason, tt.reason) {
				t.Errorf("Reason = %q, want it to contain %q", got.Reason, tt.reason)
			}
			if got.Action == ReshardNow {
				if err := CheckStep(tt.s.Open, got.To); err != nil {
					t.Errorf("planned an illegal step: %v", err)
				}
			}
		})
	}
}

// TestPlanReshardDrive walks 1→20 and back to 1 as a reconciler would, with
// a UPDATING phase after each call, and checks the calls made and the wait
// for the budget.
func TestPlanReshardDrive(t *testing.T) {
	now := t0
	open := int32(1)
	var history, waits []time.Time
	var made []int32
	drive := func(target int32) {
		for i := 0; i < 1000; i++ {
			step := PlanReshard(ReshardState{Open: open, Target: target, History: history, Now: now})
			switch step.Action {
			case ReshardNone:
				return
			case ReshardWait:
				if step.WaitUntil.IsZero() || !step.WaitUntil.After(now) {
					t.Fatalf("budget wait without a future WaitUntil: %+v", step)
				}
				waits = append(waits, step.WaitUntil)
				now = step.WaitUntil
			case ReshardNow:
				if err := CheckStep(open, step.To); err != nil {
					t.Fatal(err)
				}
				// While UPDATING the planner must hold.
				if w := PlanReshard(ReshardState{Open: open, Target: target, Updating: true, History: history, Now: now}); w.Action != ReshardWait || !w.WaitUntil.IsZero() {
					t.Fatalf("while UPDATING got %+v", w)
				}
				history = append(history, now)
				made = append(made, step.To)
				open = step.To
				now = now.Add(5 * time.Minute)
			}
		}
		t.Fatal("no convergence")
	}
	drive(20)
	drive(1)
	want := []int32{2, 4, 8, 16, 20, 10, 5, 3, 2, 1}
	if !slices.Equal(made, want) {
		t.Fatalf("calls = %v, want %v", made, want)
	}
	if len(waits) != 0 {
		t.Fatalf("waited %v within budget", waits)
	}
	// The budget is now spent: the next move waits until the first call leaves.
	step := PlanReshard(ReshardState{Open: 1, Target: 2, History: history, Now: now})
	if step.Action != ReshardWait || !step.WaitUntil.Equal(t0.Add(ReshardWindow)) {
		t.Fatalf("after 10 calls got %+v, want wait until %v", step, t0.Add(ReshardWindow))
	}
}
