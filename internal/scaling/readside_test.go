package scaling

import (
	"strings"
	"testing"
	"time"
)

// ageSeries is one iterator-age point a minute for the minutes before now,
// oldest first, in seconds.
func ageSeries(now time.Time, secs ...float64) []Point {
	var ps []Point
	for i, s := range secs {
		ps = append(ps, Point{Time: now.Add(-time.Duration(len(secs)-i) * time.Minute), Value: s * 1000})
	}
	return ps
}

func TestReadTarget(t *testing.T) {
	tests := []struct {
		name string
		p    readPressure
		want int32
	}{
		{"not at full width: the consumer can still go wider", readPressure{ageSec: 200, prevAgeSec: 10, hasPrev: true}, 0},
		{"over the maximum and growing: double", readPressure{ageSec: 100, prevAgeSec: 40, hasPrev: true, fullWidth: true}, 20},
		{"over half and growing: half again", readPressure{ageSec: 50, prevAgeSec: 0, hasPrev: true, fullWidth: true}, 15},
		{"over the maximum but draining: nothing", readPressure{ageSec: 100, prevAgeSec: 120, hasPrev: true, fullWidth: true}, 0},
		{"growing too slowly (a backlog drained while writes fall)", readPressure{ageSec: 40, prevAgeSec: 30, hasPrev: true, fullWidth: true}, 0},
		{"one point only: no growth known", readPressure{ageSec: 100, fullWidth: true}, 0},
		{"reads refused and the age rising", readPressure{readThrottled: 5, ageSec: 3, prevAgeSec: 2, hasPrev: true, fullWidth: true}, 15},
		{"reads refused while catching up (age falling)", readPressure{readThrottled: 5, ageSec: 20, prevAgeSec: 40, hasPrev: true, fullWidth: true}, 0},
		{"young and steady", readPressure{ageSec: 2, prevAgeSec: 1, hasPrev: true, fullWidth: true}, 0},
	}
	for _, tc := range tests {
		got, why := readTarget(60, 10, tc.p)
		if got != tc.want || (got > 0) != (why != "") {
			t.Errorf("%s: %d (%q), want %d", tc.name, got, why, tc.want)
		}
	}
}

func TestDecideReadSide(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(*Inputs)
		want    int32
		side    string
		reason  string
		planner string
	}{
		{"steady, consumers keep up: write side holds", func(in *Inputs) {}, 15, SideWrite, "holding at 15", ""},
		{"full width, age over half the maximum and growing: read side", func(in *Inputs) {
			in.Metrics.IteratorAgeMs = ageSeries(now0, 0, 0, 0, 5, 10, 30, 55)
		}, 23, SideRead, "read side: scaling up 15→23: iterator age 55s", ""},
		{"same with the horizon planner", func(in *Inputs) {
			in.Metrics.IteratorAgeMs = ageSeries(now0, 0, 0, 0, 5, 10, 30, 55)
		}, 23, SideRead, "read side: scaling up 15→23", PlannerHorizon},
		{"full width, reads refused: read side", func(in *Inputs) {
			in.Metrics.ReadThrottled = series(now0, 3, 120)
			in.Metrics.IteratorAgeMs = ageSeries(now0, 1, 1, 1, 2, 2, 3, 4)
		}, 23, SideRead, "reads refused (ReadProvisionedThroughputExceeded) and iterator age rising", ""},
		{"age growing but consumers can go wider: write side (the consumer rule adds tasks)", func(in *Inputs) {
			in.Metrics.IteratorAgeMs = ageSeries(now0, 0, 0, 0, 5, 10, 30, 55)
			in.ConsumerTasks.Running, in.ConsumerTasks.Desired = 5, 5
		}, 15, SideWrite, "holding at 15", ""},
		{"write side above the read side: write decides", func(in *Inputs) {
			in.Metrics = load(now0, 30, 0)
			in.Metrics.ReadThrottled = series(now0, 3, 120)
			in.Metrics.IteratorAgeMs = ageSeries(now0, 1, 1, 1, 2, 2, 3, 4)
		}, 45, SideWrite, "scaling up 15→45", ""},
		{"bounds cap the read side", func(in *Inputs) {
			in.Metrics.ReadThrottled = series(now0, 3, 120)
			in.Metrics.IteratorAgeMs = ageSeries(now0, 1, 1, 1, 2, 2, 3, 4)
			in.Stream.MaxShards = 15
		}, 15, SideWrite, "holding at 15", ""},
	}
	for _, tc := range tests {
		in := baseInputs(now0, 15, 10)
		in.Stream.Planner = tc.planner
		in.ConsumerTasks.Running, in.ConsumerTasks.Desired = 15, 15
		tc.edit(&in)
		d, _ := Decide(in, State{}, now0)
		if d.Shards != tc.want || d.Used.ShardSide != tc.side || !strings.Contains(d.ShardReason, tc.reason) || d.Used.Map()["shardSide"] != tc.side {
			t.Errorf("%s: %d by the %s side (%s), want %d by the %s side (%q)", tc.name, d.Shards, d.Used.ShardSide, d.ShardReason, tc.want, tc.side, tc.reason)
		}
	}
}

// TestReadSideHoldsAgainstScaleDown: while the read side needs more shards,
// the write side's scale-down does not take them back: the read side's need
// is in the stabilization records.
func TestReadSideHoldsAgainstScaleDown(t *testing.T) {
	var st State
	var d Decision
	for m := 20; m >= 0; m-- {
		now := now0.Add(-time.Duration(m) * time.Minute)
		in := baseInputs(now, 40, 10) // the write side needs 15
		in.ConsumerTasks.Running, in.ConsumerTasks.Desired = 40, 40
		in.Metrics.ReadThrottled = series(now, 3, 120)
		in.Metrics.IteratorAgeMs = ageSeries(now, 1, 1, 1, 2, 2, 3, 4)
		d, st = Decide(in, st, now)
	}
	if d.Shards < 40 {
		t.Fatalf("scaled down to %d while reads were refused: %s", d.Shards, d.ShardReason)
	}
}
