package controllers

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestPlanShards: the reshard decision of one pass from plain facts — at the
// target, UPDATING, legal steps towards the target, dry run, a step pending,
// the daily budget spent (warned once) and the ledger's 24 h window.
func TestPlanShards(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	calls := func(n int, age time.Duration) []time.Time {
		out := make([]time.Time, n)
		for i := range out {
			out[i] = now.Add(-age + time.Duration(i)*time.Minute)
		}
		return out
	}
	base := shardFacts{stream: "s", now: now, interval: time.Minute, poll: time.Second}
	with := func(change func(*shardFacts)) shardFacts { f := base; change(&f); return f }
	tests := []struct {
		name       string
		facts      shardFacts
		wantCall   int32 // the UpdateShardCount target; 0: no call
		wantMerge  bool  // one MergeShards (no call, the ledger unchanged)
		wantStatus metav1.ConditionStatus
		wantReason string
		wantAfter  time.Duration
		wantWarn   bool
		wantLedger int
		wantInMsg  string
	}{
		{name: "at target", facts: with(func(f *shardFacts) { f.open, f.target = 3, 3 }),
			wantStatus: metav1.ConditionTrue, wantReason: ReasonReady, wantInMsg: "ACTIVE with 3 open shards"},
		{name: "at target while UPDATING", facts: with(func(f *shardFacts) { f.open, f.target, f.updating = 3, 3, true }),
			wantStatus: metav1.ConditionFalse, wantReason: ReasonUpdating, wantAfter: time.Second, wantInMsg: "UPDATING"},
		{name: "first step up is at most 2x", facts: with(func(f *shardFacts) { f.open, f.target = 1, 20 }), wantCall: 2},
		{name: "last step up reaches the target", facts: with(func(f *shardFacts) { f.open, f.target = 16, 20 }), wantCall: 20},
		{name: "step down is at most half", facts: with(func(f *shardFacts) { f.open, f.target = 16, 1 }), wantCall: 8},
		{name: "no call while UPDATING", facts: with(func(f *shardFacts) { f.open, f.target, f.updating = 2, 4, true }),
			wantStatus: metav1.ConditionFalse, wantReason: ReasonResharding, wantAfter: time.Second},
		{name: "dry run reports the step", facts: with(func(f *shardFacts) { f.open, f.target, f.dryRun = 1, 4, true }),
			wantStatus: metav1.ConditionTrue, wantReason: ReasonReady, wantInMsg: "dry run"},
		{name: "budget spent: wait and warn", facts: with(func(f *shardFacts) { f.open, f.target, f.history = 2, 4, calls(10, time.Hour) }),
			wantStatus: metav1.ConditionFalse, wantReason: ReasonReshardBudgetSpent, wantAfter: time.Minute, wantWarn: true, wantLedger: 10},
		{name: "budget still spent: no second warning", facts: with(func(f *shardFacts) {
			f.open, f.target, f.history, f.budgetWasSpent = 2, 4, calls(10, time.Hour), true
		}), wantStatus: metav1.ConditionFalse, wantReason: ReasonReshardBudgetSpent, wantAfter: time.Minute, wantLedger: 10},
		{name: "budget frees up within the interval: wait only until then", facts: with(func(f *shardFacts) {
			f.open, f.target, f.history = 2, 4, calls(10, 24*time.Hour-30*time.Second)
		}), wantStatus: metav1.ConditionFalse, wantReason: ReasonReshardBudgetSpent, wantAfter: 30 * time.Second, wantWarn: true, wantLedger: 10},
		{name: "calls older than 24 h leave the ledger", facts: with(func(f *shardFacts) { f.open, f.target, f.history = 2, 4, calls(10, 25*time.Hour) }),
			wantCall: 4},
		{name: "by merge, ACTIVE: one merge, no call, even with the budget spent", facts: with(func(f *shardFacts) {
			f.open, f.target, f.byMerge, f.history = 8, 4, true, calls(10, time.Hour)
		}), wantMerge: true, wantLedger: 10},
		{name: "by merge, UPDATING: wait a poll", facts: with(func(f *shardFacts) { f.open, f.target, f.byMerge, f.updating = 7, 4, true, true }),
			wantStatus: metav1.ConditionFalse, wantReason: ReasonMergingShards, wantAfter: time.Second, wantInMsg: "open 7 → 4 by MergeShards, no UpdateShardCount call spent"},
		{name: "by merge, dry run: lists to name the pair, reports ready", facts: with(func(f *shardFacts) { f.open, f.target, f.byMerge, f.dryRun = 8, 4, true, true }),
			wantMerge: true, wantStatus: metav1.ConditionTrue, wantReason: ReasonReady, wantInMsg: "dry run: stream s has 8 open shards; would merge"},
		{name: "by merge, at target: ready", facts: with(func(f *shardFacts) { f.open, f.target, f.byMerge = 4, 4, true }),
			wantStatus: metav1.ConditionTrue, wantReason: ReasonReady, wantInMsg: "ACTIVE with 4 open shards"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := planShards(tt.facts)
			if p.merge != tt.wantMerge {
				t.Fatalf("merge = %v, want %v (%s)", p.merge, tt.wantMerge, p.message)
			}
			if tt.wantCall != 0 {
				if p.call == nil || p.call.To != tt.wantCall {
					t.Fatalf("call = %+v, want UpdateShardCount to %d", p.call, tt.wantCall)
				}
				return
			}
			if p.call != nil {
				t.Fatalf("call to %d, want none", p.call.To)
			}
			if p.status != tt.wantStatus || p.reason != tt.wantReason || p.requeueAfter != tt.wantAfter {
				t.Errorf("StreamReady %s/%s, requeue %s; want %s/%s, %s (%s)", p.status, p.reason, p.requeueAfter, tt.wantStatus, tt.wantReason, tt.wantAfter, p.message)
			}
			if (p.warn != "") != tt.wantWarn {
				t.Errorf("warning %q, want one: %v", p.warn, tt.wantWarn)
			}
			if len(p.ledger) != tt.wantLedger {
				t.Errorf("ledger has %d calls, want %d", len(p.ledger), tt.wantLedger)
			}
			if !strings.Contains(p.message, tt.wantInMsg) {
				t.Errorf("message %q does not contain %q", p.message, tt.wantInMsg)
			}
		})
	}
}
