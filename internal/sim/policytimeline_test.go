package sim

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kdp-io/streamprocessor-operator/internal/scaling"
)

// quietThenPeak is two hours at a twentieth of the peak, then an hour at the
// peak: the operator must call up after the step.
func quietThenPeak() Trace {
	l := make([]float64, 180)
	for m := range l {
		l[m] = 0.05
		if m >= 120 {
			l[m] = 1
		}
	}
	return Trace{Name: "step", Start: synthStart, Load: l}
}

// TestPolicyTimelineOperatorCalls: on a step, the operator's first call
// after it is on a row that names the rule (up) and the reason, the calls
// left drop by one at that row, the stream is UPDATING from the next row
// and, once it is not, the open count is the call's target. Rows carry the
// trace's time and only the span asked for.
func TestPolicyTimelineOperatorCalls(t *testing.T) {
	cfg := DefaultConfig()
	tr := quietThenPeak()
	_, rows, err := PolicyTimeline(cfg, tr, "operator", 100, 170)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 71 || rows[0].Minute.Minute != 100 || !rows[0].Time.Equal(synthStart.Add(100*time.Minute)) {
		t.Fatalf("got %d rows from minute %d at %v, want 71 from minute 100 at %v", len(rows), rows[0].Minute.Minute, rows[0].Time, synthStart.Add(100*time.Minute))
	}
	call := -1
	for i, r := range rows {
		if r.ShardRule == "" {
			t.Errorf("minute %d: no shard rule", r.Minute.Minute)
		}
		if r.ReshardTo == 0 && r.ShardReason != "" {
			t.Errorf("minute %d: a reason %q without a call", r.Minute.Minute, r.ShardReason)
		}
		if r.ReshardTo > 0 && call < 0 {
			call = i
		}
	}
	if call < 0 {
		t.Fatal("no call after the step")
	}
	c := rows[call]
	if c.ShardRule != scaling.ShardUp.String() || !strings.Contains(c.ShardReason, "scaling up") {
		t.Errorf("call's row: rule %q reason %q, want %q and a reason saying it scales up", c.ShardRule, c.ShardReason, scaling.ShardUp.String())
	}
	if before := rows[call-1]; c.CallsLeft != before.CallsLeft-1 || before.CallsLeft != scaling.ReshardsPerWindow {
		t.Errorf("calls left %d then %d, want %d then one fewer", before.CallsLeft, c.CallsLeft, scaling.ReshardsPerWindow)
	}
	if !rows[call+1].Updating {
		t.Errorf("minute after the call: not UPDATING")
	}
	for _, r := range rows[call+1:] {
		if !r.Updating {
			if r.OpenShards != c.ReshardTo {
				t.Errorf("minute %d, first after UPDATING: %d open, want the call's %d", r.Minute.Minute, r.OpenShards, c.ReshardTo)
			}
			break
		}
	}
}

// TestPolicyTimelinePolicies: every policy of TimelinePolicies has rows;
// only the operator's carry shard rules; a policy without a timeline is an
// error naming the ones there are.
func TestPolicyTimelinePolicies(t *testing.T) {
	cfg := DefaultConfig()
	tr := quietThenPeak()
	for _, p := range TimelinePolicies {
		_, rows, err := PolicyTimeline(cfg, tr, p, 0, tr.Minutes())
		if err != nil || len(rows) != tr.Minutes() {
			t.Errorf("%s: %d rows, error %v; want %d rows", p, len(rows), err, tr.Minutes())
			continue
		}
		if got := rows[len(rows)-1].ShardRule != ""; got != (p == "operator") {
			t.Errorf("%s: shard rule %q", p, rows[len(rows)-1].ShardRule)
		}
	}
	for _, p := range []string{"operator-auto", "clairvoyant", "nope"} {
		if _, _, err := PolicyTimeline(cfg, tr, p, 0, 10); err == nil || !strings.Contains(err.Error(), "operator, seed") {
			t.Errorf("%s: error %v, want one listing the policies", p, err)
		}
	}
}

// TestOneTrace: an exact name wins over names that contain it; otherwise
// exactly one name must contain it.
func TestOneTrace(t *testing.T) {
	ts := []Trace{{Name: "step"}, {Name: "step-2"}, {Name: "flash"}, {Name: "flash-crowd"}, {Name: "bursts"}}
	for _, tc := range []struct {
		name, want, err string
	}{
		{"step", "step", ""},
		{"burst", "bursts", ""},
		{"crowd", "flash-crowd", ""},
		{"fla", "", "2 traces' names contain \"fla\" (flash, flash-crowd)"},
		{"nope", "", "no trace's name contains"},
	} {
		got, err := OneTrace(ts, tc.name)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want one containing %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil || got.Name != tc.want {
			t.Errorf("%q: %q, %v; want %q", tc.name, got.Name, err, tc.want)
		}
	}
}

// TestWriteTimeline: a call's row shows the call, the calls left and the
// rule with its reason; an UPDATING row its U; on-demand's row (no open
// shards) dashes where it models nothing.
func TestWriteTimeline(t *testing.T) {
	at := synthStart.Add(90 * time.Minute)
	rows := []TimelineRow{
		{Time: at, Minute: Minute{Minute: 90, OfferedMiBps: 2, AcceptedMiBps: 1, ThrottledPercent: 50, OpenShards: 1, BilledShards: 1,
			ProducerRunning: 1, ProducerDesired: 2, ConsumerRunning: 1, ConsumerDesired: 1, ReshardTo: 2, CallsLeft: 9, ShardRule: "up", ShardReason: "scaling up 1→2"}},
		{Time: at.Add(time.Minute), Minute: Minute{Minute: 91, OpenShards: 1, BilledShards: 2, Updating: true, CallsLeft: 9, ShardRule: "up"}},
		{Time: at.Add(2 * time.Minute), Minute: Minute{Minute: 92, OfferedMiBps: 3, AcceptedMiBps: 3}},
	}
	var b strings.Builder
	if err := WriteTimeline(&b, rows); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("got %d lines, want a header and 3:\n%s", len(lines), b.String())
	}
	for i, want := range [][]string{
		{"2026-01-05 01:30", "2.000", "1.000", "50.00", "1/1", "→2", " 9 ", "1/2", "up: scaling up 1→2"},
		{"2026-01-05 01:31", "1/2", " U ", " 9 ", "  up"},
		{"2026-01-05 01:32", "3.000", " - "},
	} {
		for _, w := range want {
			if !strings.Contains(lines[i+1], w) {
				t.Errorf("row %d %q: no %q", i, lines[i+1], w)
			}
		}
	}
	if strings.Contains(lines[3], "/") || strings.HasSuffix(lines[3], " ") {
		t.Errorf("on-demand's row %q: counts or trailing spaces", lines[3])
	}
}

// TestPolicyTimelineAsRunAll: each policy run alone gives what RunAll gives
// it, timeline included (the floors aside, which PolicyTimeline leaves out).
// Both build the operator and seed rows through the same runners
// (runOperator, runSeed, runSeedRaised); this checks the rest — the
// timeline setting, the defaults, the other policies — on a trace where the
// seed stays under 16 shards, so it cannot tell the two seed rows apart.
func TestPolicyTimelineAsRunAll(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Timeline = true
	tr := quietThenPeak()
	all := RunAll(cfg, tr)
	for _, p := range TimelinePolicies {
		got, _, err := PolicyTimeline(cfg, tr, p, 0, 0)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		want := find(all, p)
		want.FloorShardHours, want.FloorShardHours100 = 0, 0
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s alone: %+v\nin RunAll: %+v", p, summary(got), summary(want))
		}
	}
}

// summary is r without its timeline, for a readable failure.
func summary(r Result) Result {
	r.Timeline = nil
	return r
}
