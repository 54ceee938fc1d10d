package sim

import (
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/kdp-io/streamprocessor-operator/internal/scaling"
)

// commands is a controller that answers pass i with cmds[i] (the start
// counts while there is none).
type commands struct {
	shards, prod, cons int32
	cmds               map[int]Command
	pass               int
}

func (c *commands) Name() string                     { return "commands" }
func (c *commands) Start(Load) (int32, int32, int32) { return c.shards, c.prod, c.cons }
func (c *commands) Control(View) Command {
	cmd, ok := c.cmds[c.pass]
	c.pass++
	if ok {
		c.prod, c.cons = cmd.ProducerDesired, cmd.ConsumerDesired
		return cmd
	}
	return Command{ProducerDesired: c.prod, ConsumerDesired: c.cons}
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// TestTimelineMinuteByMinute: a load of 0.5 MiB/s, then 2 MiB/s into one
// shard, then nothing; a call to 2 shards at the end of minute 2 (UPDATING
// for 3 minutes: both counts billed, one relied on) and a third consumer
// asked for at the end of minute 1 (running a minute later). Each row must
// say exactly that.
func TestTimelineMinuteByMinute(t *testing.T) {
	c := cfg1() // 2 MiB/s at peak, 2048-byte records: the byte limit binds
	c.Timeline = true
	tr := Trace{Name: "steps", Start: synthStart, Load: []float64{0.25, 0.25, 1, 1, 1, 1, 0, 0}}
	ctl := &commands{shards: 1, prod: 2, cons: 2, cmds: map[int]Command{
		1: {ProducerDesired: 2, ConsumerDesired: 3},
		2: {ReshardTo: 2, ProducerDesired: 2, ConsumerDesired: 3},
	}}
	r := Run(c, tr, ctl)
	if len(r.Timeline) != tr.Minutes() {
		t.Fatalf("timeline has %d rows for %d minutes", len(r.Timeline), tr.Minutes())
	}
	type want struct {
		offered, accepted, throttled float64
		open, billed                 int32
		updating                     bool
		consRun, consWant            int32
		reshardTo                    int32
	}
	wants := []want{
		{0.5, 0.5, 0, 1, 1, false, 2, 2, 0},
		{0.5, 0.5, 0, 1, 1, false, 2, 2, 0},
		{2, 1, 50, 1, 1, false, 2, 3, 2}, // the third consumer is starting
		{2, 1, 50, 1, 2, true, 3, 3, 0},
		{2, 1, 50, 1, 2, true, 3, 3, 0},
		{2, 1, 50, 1, 2, true, 3, 3, 0},
		{0, 0, 0, 2, 2, false, 3, 3, 0},
		{0, 0, 0, 2, 2, false, 3, 3, 0},
	}
	for m, w := range wants {
		g := r.Timeline[m]
		if g.Minute != m || !near(g.OfferedMiBps, w.offered) || !near(g.AcceptedMiBps, w.accepted) || !near(g.ThrottledPercent, w.throttled) ||
			g.OpenShards != w.open || g.BilledShards != w.billed || g.Updating != w.updating ||
			g.ConsumerRunning != w.consRun || g.ConsumerDesired != w.consWant || g.ReshardTo != w.reshardTo ||
			g.ProducerRunning != 2 || g.ProducerDesired != 2 {
			t.Errorf("minute %d: got %+v, want %+v", m, g, w)
		}
	}
	// The rows add up to the result's totals.
	var shardMin, taskMin float64
	for _, g := range r.Timeline {
		shardMin += float64(g.BilledShards)
		taskMin += float64(g.ProducerRunning + g.ConsumerRunning)
	}
	if !near(shardMin/60, r.ShardHours) {
		t.Errorf("billed shard-minutes %v, result %v shard-hours", shardMin, r.ShardHours)
	}
	// Task-hours count starting tasks too: one more in minute 2.
	if !near((taskMin+1)/60, r.TaskHours) {
		t.Errorf("running task-minutes %v (+1 starting), result %v task-hours", taskMin, r.TaskHours)
	}
	if r.MaxShards != 2 || r.ReshardCalls != 1 {
		t.Errorf("max shards %d, calls %d; want 2, 1", r.MaxShards, r.ReshardCalls)
	}
}

// TestTimelineProducerRejects: too few producers refuse part of the demand
// at the front door; the row says so and Kinesis sees only the rest.
func TestTimelineProducerRejects(t *testing.T) {
	c := DefaultConfig()
	c.PeakMiBps, c.Timeline = 10, true // one producer task carries 5
	r := Run(c, flat(2, 1), &commands{shards: 20, prod: 1, cons: 3})
	g := r.Timeline[0]
	if !near(g.OfferedMiBps, 10) || !near(g.AcceptedMiBps, 5) || !near(g.ProducerRejectedPercent, 50) || g.ThrottledPercent != 0 || g.ProducerCPUPercent != 100 {
		t.Errorf("got %+v; want 10 offered, 5 accepted, 50%% rejected at the producers, none throttled, producer CPU 100%%", g)
	}
}

// TestTimelineOnlyWhenAsked: without Config.Timeline the result has no
// timeline, and asking for one changes nothing else (so the bench's table
// and JSON stay as they were).
func TestTimelineOnlyWhenAsked(t *testing.T) {
	tr := SyntheticTraces(DefaultConfig().Seed)[0]
	c := DefaultConfig()
	plain := Run(c, tr, NewOperator(c, 64))
	if plain.Timeline != nil {
		t.Fatalf("timeline filled without Config.Timeline")
	}
	c.Timeline = true
	with := Run(c, tr, NewOperator(c, 64))
	if len(with.Timeline) != tr.Minutes() {
		t.Fatalf("timeline has %d rows, want %d", len(with.Timeline), tr.Minutes())
	}
	calls := 0
	for _, g := range with.Timeline {
		if g.ReshardTo > 0 {
			calls++
		}
	}
	if calls != with.ReshardCalls {
		t.Errorf("%d rows with a call, result has %d calls", calls, with.ReshardCalls)
	}
	with.Timeline = nil
	if !reflect.DeepEqual(plain, with) {
		t.Errorf("the timeline changed the result:\n%+v\n%+v", plain, with)
	}
}

// TestOperatorFor: the spec's settings reach the policy as the reconciler
// passes them, and the shard window decides how soon shards come down.
func TestOperatorFor(t *testing.T) {
	c := DefaultConfig()
	none := time.Duration(0)
	o := NewOperatorFor(c, OperatorSpec{
		MinShards: 1, MaxShards: 8, TargetUtilization: 0.25, ShardScaleDown: time.Minute, TaskScaleDown: &none,
		Producer:    TaskSpec{MinTasks: 1, MaxTasks: 4, TargetCPUPercent: 65},
		Consumer:    TaskSpec{MinTasks: 1, MaxTasks: 4, TargetCPUPercent: 20, MaxIteratorAgeSeconds: 30},
		StartShards: 1, StartProducers: 1, StartConsumers: 1,
	})
	in := o.In
	if in.Stream.MinShards != 1 || in.Stream.MaxShards != 8 || in.Stream.TargetUtilization != 0.25 || in.Stream.ScaleDownStabilization != time.Minute {
		t.Errorf("stream config %+v", in.Stream)
	}
	if in.Producer.MaxTasks != 4 || in.Producer.TargetCPUPercent != 65 || in.Producer.ScaleDownStabilization != time.Nanosecond {
		t.Errorf("producer config %+v", in.Producer)
	}
	if in.Consumer.MaxTasks != 4 || in.Consumer.TargetCPUPercent != 20 || in.Consumer.MaxIteratorAgeSeconds != 30 || in.Consumer.ScaleDownStabilization != time.Nanosecond {
		t.Errorf("consumer config %+v", in.Consumer)
	}
	if s, p, k := o.Start(Load{Bytes: 100 * scaling.MiB, Records: 1e5}); s != 1 || p != 1 || k != 1 {
		t.Errorf("start %d/%d/%d, want the given 1/1/1", s, p, k)
	}
	// Sized within min and max when no start counts are given.
	if s, p, k := NewOperatorFor(c, OperatorSpec{MinShards: 2, MaxShards: 8}).Start(Load{}); s != 2 || p != 1 || k != 1 {
		t.Errorf("start %d/%d/%d for no load, want the minimums 2/1/1", s, p, k)
	}
	if s, _, _ := NewOperatorFor(c, OperatorSpec{MaxShards: 8, TargetUtilization: 0.5}).Start(Load{Bytes: 100 * scaling.MiB, Records: 1e5}); s != 8 {
		t.Errorf("start %d shards for 100 MiB/s, want the max 8", s)
	}

	// 3 MiB/s for 20 minutes then nothing for 40: with a 1-minute shard
	// window the stream is back down long before it is with the default
	// 15 minutes.
	c.PeakMiBps, c.Timeline = 3, true
	load := make([]float64, 60)
	for m := range 20 {
		load[m] = 1
	}
	tr := Trace{Name: "burst", Start: synthStart, Load: load}
	firstDown := func(window time.Duration) int {
		r := Run(c, tr, NewOperatorFor(c, OperatorSpec{MaxShards: 8, TargetUtilization: 0.7, ShardScaleDown: window, Interval: 10 * time.Second, StartShards: 5}))
		for _, g := range r.Timeline[20:] {
			if g.ReshardTo > 0 && g.ReshardTo < g.OpenShards {
				return g.Minute
			}
		}
		return -1
	}
	short, long := firstDown(time.Minute), firstDown(0)
	t.Logf("first scale-down: minute %d (1-minute window), %d (default)", short, long)
	if short < 0 || long < 0 || short > 30 || long < 20+15 {
		t.Errorf("first scale-down at minute %d with a 1-minute window and %d with the default 15 minutes", short, long)
	}
}
