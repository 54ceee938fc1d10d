package scaling

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

var now0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// series returns one point a minute for the minutes [now-back, now-1m] with
// per-minute value v (a Sum, so per-second rate v/60).
func series(now time.Time, back int, v float64) []Point {
	var ps []Point
	for k := back; k >= 1; k-- {
		ps = append(ps, Point{Time: now.Add(-time.Duration(k) * time.Minute), Value: v})
	}
	return ps
}

// load fills Kinesis metrics for a steady rate in MiB/s with 1000-byte
// records, throttled records per second thr.
func load(now time.Time, mibps, thr float64) StreamMetrics {
	b := mibps * MiB * 60
	return StreamMetrics{
		IncomingBytes:   series(now, 14, b),
		IncomingRecords: series(now, 14, b/1000),
		WriteThrottled:  series(now, 14, thr*60),
		IteratorAgeMs:   series(now, 14, 0),
	}
}

func baseInputs(now time.Time, open int32, mibps float64) Inputs {
	return Inputs{
		Stream:        StreamConfig{MinShards: 1, MaxShards: 100, TargetUtilization: 0.7},
		Producer:      TaskConfig{MinTasks: 1, MaxTasks: 20, TargetCPUPercent: 65},
		Consumer:      TaskConfig{MinTasks: 1, MaxTasks: 20, TargetCPUPercent: 65, MaxIteratorAgeSeconds: 60},
		OpenShards:    open,
		Metrics:       load(now, mibps, 0),
		ProducerTasks: TaskObservation{Desired: 2, Running: 2, CPUPercent: series(now, 14, 65)},
		ConsumerTasks: TaskObservation{Desired: 2, Running: 2, CPUPercent: series(now, 14, 65)},
	}
}

func TestDecideShards(t *testing.T) {
	tests := []struct {
		name   string
		in     func() Inputs
		want   int32
		held   bool
		reason string
	}{
		{"steady at need holds", func() Inputs { return baseInputs(now0, 15, 10) }, 15, false, "holding at 15"},
		{"needs more: up at once", func() Inputs { return baseInputs(now0, 4, 10) }, 15, false, "scaling up 4→15"},
		{"far below need: one target, planner makes the steps", func() Inputs { return baseInputs(now0, 1, 30) }, 45, false, "scaling up 1→45"}, // 31457 records/s ÷ 700,
		{"records bind before bytes", func() Inputs {
			in := baseInputs(now0, 4, 1)
			for i := range in.Metrics.IncomingRecords {
				in.Metrics.IncomingRecords[i].Value = 7000 * 60 // 7000 records/s of 150 bytes
			}
			return in
		}, 10, false, "records/s"},
		{"throttled writes count as demand and lower the utilization", func() Inputs {
			in := baseInputs(now0, 8, 8)
			in.Metrics = load(now0, 8, 2048) // 8 MiB/s accepted, 2048 records/s (2 MiB/s) refused
			return in
		}, 18, false, "throttled"}, // (8 MiB/s + 2048)/s records ÷ (1000 × 0.6),
		{"missing data holds", func() Inputs {
			in := baseInputs(now0, 6, 10)
			in.Metrics = StreamMetrics{}
			return in
		}, 6, true, "no IncomingBytes data"},
		{"stale data holds", func() Inputs {
			return baseInputs(now0, 6, 10) // decided 30 minutes later
		}, 6, true, "missing data is not zero load"},
		{"above max comes down to max", func() Inputs {
			in := baseInputs(now0, 150, 10)
			return in
		}, 100, false, "into the bounds"},
		{"below min goes up to min", func() Inputs {
			in := baseInputs(now0, 2, 0.1)
			in.Stream.MinShards = 5
			return in
		}, 5, false, "into the bounds"},
		{"need above max is capped", func() Inputs { return baseInputs(now0, 50, 200) }, 100, false, "scaling up 50→100"},
		{"no open shards holds", func() Inputs { return baseInputs(now0, 0, 10) }, 1, true, "no open shards"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in()
			d, _ := Decide(in, State{}, now0.Add(timeShift(tt.name)))
			if d.Shards != tt.want || d.Held != tt.held || !strings.Contains(d.ShardReason, tt.reason) {
				t.Fatalf("Decide shards=%d held=%v reason=%q, want %d held=%v reason containing %q",
					d.Shards, d.Held, d.ShardReason, tt.want, tt.held, tt.reason)
			}
			if !strings.Contains(d.Reason, d.ShardReason) || d.Reason == "" {
				t.Fatalf("Reason %q does not carry the shard reason", d.Reason)
			}
		})
	}
}

// timeShift lets the stale-data case look at its metrics from 30 minutes on.
func timeShift(name string) time.Duration {
	if strings.HasPrefix(name, "stale") {
		return 30 * time.Minute
	}
	return 0
}

// TestDecidePartialPoints: the newest minutes may be partial. A partial
// point higher than the rest is real load (a lower bound) and scales up; a
// partial point lower than the rest must not scale down.
func TestDecidePartialPoints(t *testing.T) {
	in := baseInputs(now0, 15, 10)
	newest := len(in.Metrics.IncomingBytes) - 1
	in.Metrics.IncomingBytes[newest].Value *= 2 // 1 minute old: partial
	in.Metrics.IncomingRecords[newest].Value *= 2
	if d, _ := Decide(in, State{}, now0); d.Shards <= 15 {
		t.Fatalf("higher partial point: shards %d, want > 15 (%s)", d.Shards, d.ShardReason)
	}

	// Low partial points over a long history of steady load: hold.
	st := State{}
	var d Decision
	for m := range 40 {
		now := now0.Add(time.Duration(m) * time.Minute)
		in := baseInputs(now, 15, 10)
		for i := range in.Metrics.IncomingBytes {
			if now.Sub(in.Metrics.IncomingBytes[i].Time) < MetricPeriod+CompleteAfter {
				in.Metrics.IncomingBytes[i].Value *= 0.3
				in.Metrics.IncomingRecords[i].Value *= 0.3
			}
		}
		d, st = Decide(in, st, now)
		if d.Shards < 15 {
			t.Fatalf("minute %d: scaled down to %d on partial points (%s)", m, d.Shards, d.ShardReason)
		}
	}
}

// TestDecideScaleDownStabilization drives passes a minute apart after the
// load falls: no scale-down before the window has passed, then one.
func TestDecideScaleDownStabilization(t *testing.T) {
	st := State{}
	// 20 minutes of high load fill the window.
	for m := range 20 {
		now := now0.Add(time.Duration(m) * time.Minute)
		_, st = Decide(baseInputs(now, 15, 10), st, now)
	}
	var firstDown time.Duration = -1
	for m := 20; m < 60; m++ {
		now := now0.Add(time.Duration(m) * time.Minute)
		d, next := Decide(baseInputs(now, 15, 2), st, now)
		st = next
		if d.Shards < 15 {
			firstDown = time.Duration(m-20) * time.Minute
			if d.Shards < 3 || d.Shards > 11 {
				t.Fatalf("scaled down to %d, want about 2 MiB/s ÷ 0.7 = 3 (snapped to a quarter of 15 at most)", d.Shards)
			}
			break
		}
	}
	if firstDown < DefaultShardScaleDown-time.Minute || firstDown > DefaultShardScaleDown+CompleteAfter+3*time.Minute {
		t.Fatalf("first scale-down after %v of low load, want a little over %v", firstDown, DefaultShardScaleDown)
	}
}

// TestDecideReshardBudget: a scale-down must leave the calls to climb back
// to the day's peak (no reserve by default); a scale-up is never held by it.
func TestDecideReshardBudget(t *testing.T) {
	st, now := afterSpike()
	tests := []struct {
		calls      int
		wantBelow  int32 // Shards must be ≤ this (64 = hold)
		wantReason string
	}{
		{0, 32, "scaling down 64→"},
		{7, 32, "scaling down 64→32"}, // 3 left: 64→32 leaves 2, the climb back needs 1; 64→16 would leave 1 for 2
		{8, 64, "climbing back"},      // 2 left: 64→32 leaves 1 for the 1 back, but calls an hour apart are ahead of an even pace: one more is kept
		{9, 64, "climbing back"},      // 1 left: going down would leave none to come back
		{10, 64, "climbing back"},
	}
	for _, tt := range tests {
		in := baseInputs(now, 64, 1)
		in.ReshardHistory = calls(tt.calls, now.Add(-2*time.Hour))
		d, _ := Decide(in, st, now)
		if d.Shards > tt.wantBelow || !strings.Contains(d.ShardReason, tt.wantReason) {
			t.Errorf("%d calls used: shards %d (%s), want ≤ %d with %q", tt.calls, d.Shards, d.ShardReason, tt.wantBelow, tt.wantReason)
		}
		if d.Used.BudgetLeft != ReshardsPerWindow-tt.calls {
			t.Errorf("BudgetLeft = %d, want %d", d.Used.BudgetLeft, ReshardsPerWindow-tt.calls)
		}
	}
	in := baseInputs(now, 4, 20)
	in.ReshardHistory = calls(9, now.Add(-time.Hour))
	if d, _ := Decide(in, State{}, now); d.Shards <= 4 {
		t.Errorf("scale-up held by the budget: %s", d.ShardReason)
	}
}

func TestDecideProducer(t *testing.T) {
	tests := []struct {
		name             string
		running, desired int32
		cpu              float64
		prevRecs         []Rec
		want             int32
		held             bool
	}{
		{"within tolerance", 4, 4, 70, nil, 4, false},
		{"up by the HPA rule", 4, 4, 130, nil, 8, false},
		{"up capped at max", 15, 15, 130, nil, 20, false},
		{"down held by the window", 8, 8, 20, []Rec{{At: now0.Add(-2 * time.Minute).Unix(), N: 8}}, 8, false},
		{"down held by the shards' window (15 minutes by default)", 8, 8, 20, []Rec{{At: now0.Add(-6 * time.Minute).Unix(), N: 8}}, 8, false},
		{"down once the window is clear", 8, 8, 20, []Rec{{At: now0.Add(-16 * time.Minute).Unix(), N: 8}}, 3, false},
		{"down not below min", 2, 2, 1, nil, 1, false},
		{"no CPU data holds", 4, 4, -1, nil, 4, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := baseInputs(now0, 15, 10)
			in.ProducerTasks = TaskObservation{Desired: tt.desired, Running: tt.running, CPUPercent: series(now0, 14, tt.cpu)}
			if tt.cpu < 0 {
				in.ProducerTasks.CPUPercent = nil
			}
			d, st := Decide(in, State{Producer: tt.prevRecs}, now0)
			if d.ProducerTasks != tt.want || d.Held != tt.held {
				t.Fatalf("producer %d held=%v (%s), want %d held=%v", d.ProducerTasks, d.Held, d.ProducerReason, tt.want, tt.held)
			}
			for _, r := range st.Producer {
				if now0.Unix()-r.At >= int64(DefaultShardScaleDown/time.Second) {
					t.Fatalf("state keeps an expired recommendation %+v", r)
				}
			}
		})
	}
}

func TestDecideConsumer(t *testing.T) {
	tests := []struct {
		name     string
		open     int32
		load     float64 // MiB/s
		running  int32
		cpu, age float64 // age in seconds
		want     int32
		reason   string
	}{
		{"steady", 15, 10, 4, 65, 1, 4, "holding at 4"},
		{"age over the maximum doubles", 15, 10, 4, 65, 90, 8, "over the maximum"},
		{"age over half the maximum adds half", 15, 10, 4, 65, 40, 6, "over half"},
		{"capped at open shards", 5, 3, 4, 65, 90, 5, "cap 5 shards"},
		{"cap follows the shard target while scaling up", 4, 10, 4, 65, 90, 8, "cap 15 shards"},
		{"more tasks than shards come down", 3, 1, 6, 20, 0, 2, "scaling down 6→2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := baseInputs(now0, tt.open, tt.load)
			in.Metrics.IteratorAgeMs = series(now0, 14, tt.age*1000)
			in.ConsumerTasks = TaskObservation{Desired: tt.running, Running: tt.running, CPUPercent: series(now0, 14, tt.cpu)}
			d, _ := Decide(in, State{}, now0)
			if d.ConsumerTasks != tt.want || !strings.Contains(d.ConsumerReason, tt.reason) {
				t.Fatalf("consumer %d (%s), want %d with %q", d.ConsumerTasks, d.ConsumerReason, tt.want, tt.reason)
			}
		})
	}
}

// TestStateSurvivesJSON: the state goes through the CR's status as JSON;
// a pass after the round trip decides exactly as one without it.
func TestStateSurvivesJSON(t *testing.T) {
	st := State{}
	for m := range 30 {
		now := now0.Add(time.Duration(m) * time.Minute)
		mibps := 10.0
		if m > 20 {
			mibps = 2
		}
		_, st = Decide(baseInputs(now, 15, mibps), st, now)
	}
	raw, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	var back State
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, st) {
		t.Fatalf("round trip changed the state:\n%+v\n%+v", st, back)
	}
	if len(raw) > 2048 {
		t.Fatalf("state is %d bytes of JSON; it must stay small for status", len(raw))
	}
	now := now0.Add(30 * time.Minute)
	d1, s1 := Decide(baseInputs(now, 15, 2), st, now)
	d2, s2 := Decide(baseInputs(now, 15, 2), back, now)
	if !reflect.DeepEqual(d1, d2) || !reflect.DeepEqual(s1, s2) {
		t.Fatalf("decisions differ after the round trip")
	}
	cp := st.DeepCopy()
	if !reflect.DeepEqual(*cp, st) || (len(st.Shards) > 0 && &cp.Shards[0] == &st.Shards[0]) {
		t.Fatalf("DeepCopy is not a deep copy")
	}
}

// TestStateStaysSmall: passes every 10 s (watch events, short intervals)
// keep one entry per minute, and the windows still hold.
func TestStateStaysSmall(t *testing.T) {
	st := State{}
	var d Decision
	for k := range 6 * 60 { // an hour
		now := now0.Add(time.Duration(k) * 10 * time.Second)
		d, st = Decide(baseInputs(now, 15, 10), st, now)
	}
	if n := len(st.Shards); n > int(DefaultShardScaleDown/time.Minute)+1 {
		t.Fatalf("%d shard recommendations kept for a %v window", n, DefaultShardScaleDown)
	}
	if n := len(st.ShardPeaks); n > 26 {
		t.Fatalf("%d hourly peaks kept", n)
	}
	if n := len(st.Producer); n > int(DefaultShardScaleDown/time.Minute)+1 {
		t.Fatalf("%d producer recommendations kept", n)
	}
	if d.Shards != 15 {
		t.Fatalf("steady load moved shards to %d", d.Shards)
	}
	m := d.Used.Map()
	if m["neededShards"] == "" || m["reshardCallsLeftIn24h"] != "10" {
		t.Fatalf("inputs map %v", m)
	}
}

// TestDecideProducerMetrics: the producer's own metrics feed the policy —
// its ingest bytes raise the shard need when Kinesis shows less (writes
// refused), and its request rate adds the HPA rule on rate.
func TestDecideProducerMetrics(t *testing.T) {
	in := baseInputs(now0, 15, 10)
	in.Metrics.IngestBytes = series(now0, 14, 20*MiB*60) // clients sent 20 MiB/s
	if d, _ := Decide(in, State{}, now0); d.Shards != 30 {
		t.Errorf("with 20 MiB/s ingested: shards %d, want 30 (%s)", d.Shards, d.ShardReason)
	}
	in.Metrics.IngestBytes = series(now0, 14, 5*MiB*60) // lower than Kinesis: ignored
	if d, _ := Decide(in, State{}, now0); d.Shards != 15 {
		t.Errorf("with 5 MiB/s ingested: shards %d, want 15", d.Shards)
	}

	tests := []struct {
		name     string
		cpu, rps float64
		want     int32
	}{
		{"rate over target wins over quiet CPU", 30, 4 * 3000, 6},
		{"rate within tolerance holds against a CPU scale-down", 20, 4 * 2100, 4},
		{"CPU over target wins over a quiet rate", 130, 4 * 500, 8},
	}
	for _, tt := range tests {
		in := baseInputs(now0, 15, 10)
		in.Producer.TargetRequestsPerTask = 2000
		in.ProducerTasks = TaskObservation{Desired: 4, Running: 4, CPUPercent: series(now0, 14, tt.cpu), Requests: series(now0, 14, tt.rps*60)}
		if d, _ := Decide(in, State{}, now0); d.ProducerTasks != tt.want {
			t.Errorf("%s: producer %d (%s), want %d", tt.name, d.ProducerTasks, d.ProducerReason, tt.want)
		}
	}

	// The reason names the rule that decided, with its input; without CPU
	// data the rate alone decides (and the decision is not held).
	in = baseInputs(now0, 15, 10)
	in.Producer.TargetRequestsPerTask = 2000
	in.ProducerTasks = TaskObservation{Desired: 4, Running: 4, Requests: series(now0, 14, 4*3000*60)}
	d, _ := Decide(in, State{}, now0)
	if d.ProducerTasks != 6 || !strings.Contains(d.ProducerReason, "3000 records/s per task against a target of 2000") {
		t.Errorf("rate without CPU: producer %d (%s), want 6 by rate", d.ProducerTasks, d.ProducerReason)
	}
	if got := d.Used.Map()["producerRecordsPerSecondPerTask"]; got != "3000" {
		t.Errorf("inputs producerRecordsPerSecondPerTask = %q, want 3000", got)
	}
	// Without a target the rate is not used, even when published.
	in.Producer.TargetRequestsPerTask = 0
	if d, _ := Decide(in, State{}, now0); d.ProducerTasks != 4 || !strings.Contains(d.ProducerReason, "no CPUUtilization data") {
		t.Errorf("no target, no CPU: producer %d (%s), want held at 4", d.ProducerTasks, d.ProducerReason)
	}
}

// TestDecideYesterdayFloor: when this hour looks like the same hour
// yesterday, a scale-down stops at what the coming hour needed yesterday;
// when it does not, yesterday is no evidence.
func TestDecideYesterdayFloor(t *testing.T) {
	now := now0.Add(30 * time.Minute) // 12:30
	hour := now.Truncate(time.Hour)
	for _, tt := range []struct {
		name     string
		yCur     int32
		wantHold bool
	}{
		{"same as yesterday: hold for the coming peak", 15, true},
		{"unlike yesterday: scale down", 60, false},
	} {
		st := State{ShardPeaks: []Rec{
			{At: hour.Add(-24 * time.Hour).Unix(), N: tt.yCur},
			{At: hour.Add(-23 * time.Hour).Unix(), N: 60},
		}}
		for m := range 20 {
			at := now.Add(time.Duration(m-20) * time.Minute)
			_, st = Decide(baseInputs(at, 60, 10), st, at) // 10 MiB/s = 15 shards on 60 open
		}
		d, _ := Decide(baseInputs(now, 60, 10), st, now)
		if held := d.Shards == 60; held != tt.wantHold {
			t.Errorf("%s: shards %d (%s), want hold=%v", tt.name, d.Shards, d.ShardReason, tt.wantHold)
		}
	}
}

func TestDecideBelowMinWithLoad(t *testing.T) {
	in := baseInputs(now0, 2, 10) // needs 15
	in.Stream.MinShards = 5
	if d, _ := Decide(in, State{}, now0); d.Shards != 15 {
		t.Fatalf("below min with load for 15: shards %d (%s)", d.Shards, d.ShardReason)
	}
}

// TestDecideUnalignedTimestamps: series whose points are a few seconds
// apart within the same minute still join.
func TestDecideUnalignedTimestamps(t *testing.T) {
	in := baseInputs(now0, 4, 10)
	for i := range in.Metrics.IncomingRecords {
		in.Metrics.IncomingRecords[i].Time = in.Metrics.IncomingRecords[i].Time.Add(7 * time.Second)
		in.Metrics.IncomingRecords[i].Value *= 10 // 100-byte records: records bind
	}
	if d, _ := Decide(in, State{}, now0); d.Used.NeededShards < 149 || d.Shards != 100 {
		t.Fatalf("need %.1f, shards %d (%s), want 104858 records/s ÷ 700 ≈ 150, capped at 100", d.Used.NeededShards, d.Shards, d.ShardReason)
	}
}

// TestDecideUpStepByBudget: the fewer calls are left, the further a
// scale-up goes; climbing back to the day's peak it stops there.
func TestDecideUpStepByBudget(t *testing.T) {
	tests := []struct {
		used      int
		peak      int32
		min, max_ int32
	}{
		{0, 0, 25, 25},   // need 21.4 → 22, 25 % of 20 → 25 (a quarter multiple)
		{4, 0, 30, 30},   // 6 left: 50 %
		{7, 0, 40, 40},   // 3 left: 100 %
		{7, 28, 28, 30},  // climbing back: stop at the day's peak (30: snapped to a quarter of 20)
		{0, 100, 25, 25}, // plenty of calls: the 25 % step, below the peak
	}
	for _, tt := range tests {
		in := baseInputs(now0, 20, 15) // 15 MiB/s needs 21.4 shards at 70 %
		// Spent evenly: with 3 left and calls ahead of pace the step would
		// freeze the stream, and the call be kept (TestDecideKeepsLastCall).
		in.ReshardHistory = spentEvery(tt.used, 150*time.Minute)
		st := State{}
		if tt.peak > 0 {
			st.ShardPeaks = []Rec{{At: now0.Add(-3 * time.Hour).Truncate(time.Hour).Unix(), N: tt.peak}}
		}
		d, _ := Decide(in, st, now0)
		if d.Shards < tt.min || d.Shards > tt.max_ {
			t.Errorf("%d calls used, day's peak %d: shards %d (%s), want %d..%d", tt.used, tt.peak, d.Shards, d.ShardReason, tt.min, tt.max_)
		}
	}
}

// TestDecideUpStepFollowsTrend: above the day's peak a budget-sized step
// is taken only as far as the rising trend of the window reaches.
func TestDecideUpStepFollowsTrend(t *testing.T) {
	for _, tt := range []struct {
		name     string
		from, to float64 // MiB/s at the start and end of a 15-minute window
		want     int32
	}{
		{"flat: no more than the need", 14, 14, 21},      // 14680 records/s ÷ 700
		{"rising: the step toward the trend", 8, 14, 24}, // 6 calls left: 50 % of 16
	} {
		// Ten minutes of history at the starting need, as a running operator has.
		st := State{}
		for k := 10; k >= 1; k-- {
			st.Shards = append(st.Shards, Rec{At: now0.Add(-time.Duration(k) * time.Minute).Unix(), N: ceil32(tt.from * MiB / 1000 / 700)})
		}
		var first Decision
		hist := calls(4, now0.Add(-20*time.Hour))
		for m := range 16 {
			now := now0.Add(time.Duration(m) * time.Minute)
			in := baseInputs(now, 16, tt.from+(tt.to-tt.from)*float64(m)/15)
			in.ReshardHistory = hist
			var d Decision
			d, st = Decide(in, st, now)
			if d.Shards > 16 && first.Shards == 0 {
				first = d
			}
		}
		if first.Shards != tt.want {
			t.Errorf("%s: first scale-up to %d (%s), want %d", tt.name, first.Shards, first.ShardReason, tt.want)
		}
	}
}

// TestCanClimb: a climb's call i is due i·climbStep after now and may use
// the calls that have left the 24 h window by then.
func TestCanClimb(t *testing.T) {
	now := now0
	old := func(ago time.Duration) time.Time { return now.Add(-ago) }
	for _, tt := range []struct {
		name     string
		left     int
		calls    []time.Time
		from, to int32
		want     bool
	}{
		{"at the peak: nothing to climb", 0, nil, 64, 64, true},
		{"one step, one call", 1, nil, 32, 64, true},
		{"one step, no call", 0, nil, 32, 64, false},
		{"two steps, one call, none leaves", 1, []time.Time{old(2 * time.Hour)}, 16, 64, false},
		{"two steps, one call, one leaves before the second is due", 1, []time.Time{old(ReshardWindow - 2*time.Minute)}, 16, 64, true},
		{"two steps, one call, one leaves too late", 1, []time.Time{old(ReshardWindow - 10*time.Minute)}, 16, 64, false},
		{"first step never waits for an expiry", 0, []time.Time{old(ReshardWindow - time.Minute)}, 32, 64, false},
		{"reserve taken off left", -1, []time.Time{old(ReshardWindow - time.Minute), old(ReshardWindow - 2*time.Minute)}, 32, 64, false},
		{"four steps, two calls, two leave in time", 2, []time.Time{old(ReshardWindow - 3*time.Minute), old(ReshardWindow - 7*time.Minute)}, 4, 64, true},
	} {
		if got := canClimb(tt.left, tt.calls, now, tt.from, tt.to); got != tt.want {
			t.Errorf("%s: canClimb(%d, %d→%d) = %v, want %v", tt.name, tt.left, tt.from, tt.to, got, tt.want)
		}
	}
}

// TestDecideBudgetCountsExpiringCalls: a call that leaves the window while
// a climb back would be under way lets a scale-down go one halving further.
func TestDecideBudgetCountsExpiringCalls(t *testing.T) {
	st, now := afterSpike()
	for _, tt := range []struct {
		name   string
		oldest time.Duration // age of the oldest of 7 calls; the other 6 are 2, 5, … 17 h old
		want   int32
	}{
		{"oldest stays: 64→32 only", 20 * time.Hour, 32},
		{"oldest leaves before the second climb call: 64→16", ReshardWindow - 2*time.Minute, 16},
	} {
		in := baseInputs(now, 64, 1)
		in.ReshardHistory = append(spaced(6, now.Add(-2*time.Hour), 3*time.Hour), now.Add(-tt.oldest))
		d, _ := Decide(in, st, now)
		if d.Shards != tt.want {
			t.Errorf("%s: shards %d (%s), want %d", tt.name, d.Shards, d.ShardReason, tt.want)
		}
	}
}

// TestDecideRisingHourHolds: no scale-down while this window's need is above
// the previous hour's peak, or has not fallen over two hours and rose,
// however far below the open count it is.
func TestDecideRisingHourHolds(t *testing.T) {
	now := now0.Add(30 * time.Minute)
	hour := now.Truncate(time.Hour)
	for _, tt := range []struct {
		name         string
		h2, prevHour int32 // peaks of the hour before the previous one and of the previous hour
		wantHold     bool
	}{
		{"previous hour lower: rising, hold", 0, 10, true},
		{"previous hour higher: falling, scale down", 0, 40, false},
		{"no previous hour: scale down", 0, 0, false},
		{"two hours non-decreasing, up overall: rising, hold", 8, 15, true},
		{"flat for two hours: scale down", 15, 15, false},
		{"fell, then flat: scale down", 20, 15, false},
	} {
		st := State{}
		if tt.prevHour > 0 {
			st.ShardPeaks = []Rec{{At: hour.Add(-time.Hour).Unix(), N: tt.prevHour}}
		}
		if tt.h2 > 0 {
			st.ShardPeaks = append([]Rec{{At: hour.Add(-2 * time.Hour).Unix(), N: tt.h2}}, st.ShardPeaks...)
		}
		for m := range 20 {
			at := now.Add(time.Duration(m-20) * time.Minute)
			_, st = Decide(baseInputs(at, 60, 10), st, at) // 10 MiB/s = 15 shards on 60 open
		}
		d, _ := Decide(baseInputs(now, 60, 10), st, now)
		if held := d.Shards == 60; held != tt.wantHold {
			t.Errorf("%s: shards %d (%s), want hold=%v", tt.name, d.Shards, d.ShardReason, tt.wantHold)
		}
		if tt.wantHold && !strings.Contains(d.ShardReason, "rising") {
			t.Errorf("%s: reason %q does not say the need is rising", tt.name, d.ShardReason)
		}
	}
}

// TestAheadOfPace: calls spent faster than one per 2.4 h (24 h / 10) in
// some trailing stretch mean the budget is being spent ahead of an even
// plan.
func TestAheadOfPace(t *testing.T) {
	ago := func(d ...time.Duration) []time.Time {
		var out []time.Time
		for _, x := range d {
			out = append(out, now0.Add(-x))
		}
		return out
	}
	h := time.Hour
	for _, tt := range []struct {
		name  string
		calls []time.Time
		want  bool
	}{
		{"none", nil, false},
		{"one just now", ago(time.Minute), false},
		{"two within 2.4 h", ago(2*h, time.Minute), true},
		{"one every 2.5 h", ago(10*h, 7500*time.Second, 5*h, 150*time.Minute), false},
		{"three within 4.8 h", ago(4*h, 3*h, 30*time.Minute), true},
		{"a burst a day ago", ago(22*h, 22*h-5*time.Minute, 22*h-10*time.Minute), false},
	} {
		if got := aheadOfPace(tt.calls, now0); got != tt.want {
			t.Errorf("%s: aheadOfPace = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestDecidePaceKeepsOneMore: after a burst of calls (a spike climbed and
// left), a scale-down keeps one call more than the climb back needs.
func TestDecidePaceKeepsOneMore(t *testing.T) {
	st, now := afterSpike()
	for _, tt := range []struct {
		name string
		hist []time.Time
		want int32
	}{
		// 6 calls, one every 3 h: 4 left; 64→16 leaves 2 for the 2 back.
		{"even pace", spaced(6, now.Add(-3*time.Hour), 3*time.Hour), 16},
		// The same 6 calls 16 minutes apart: ahead of pace, one more is kept.
		{"burst", []time.Time{now.Add(-96 * time.Minute), now.Add(-80 * time.Minute), now.Add(-64 * time.Minute), now.Add(-48 * time.Minute), now.Add(-32 * time.Minute), now.Add(-16 * time.Minute)}, 32},
	} {
		in := baseInputs(now, 64, 1)
		in.ReshardHistory = tt.hist
		d, _ := Decide(in, st, now)
		if d.Shards != tt.want {
			t.Errorf("%s: shards %d (%s), want %d", tt.name, d.Shards, d.ShardReason, tt.want)
		}
	}
}

// spaced returns n call times gap apart, the last at last.
func spaced(n int, last time.Time, gap time.Duration) []time.Time {
	var h []time.Time
	for i := n - 1; i >= 0; i-- {
		h = append(h, last.Add(-time.Duration(i)*gap))
	}
	return h
}

// TestSnapDown: a scale-down target moves up to a quarter multiple of the
// count its last call starts from when that costs at most 10 % more.
func TestSnapDown(t *testing.T) {
	for _, tt := range []struct{ t, open, want int32 }{
		{30, 40, 30}, // one call, 75 % of 40 already
		{28, 40, 30}, // one call: 30 is 75 % of 40 and within 10 %
		{22, 40, 22}, // 30 is too far; 20 is below the target
		{15, 60, 15}, // 60→30→15: 50 % of 30
		{14, 60, 15}, // 60→30→14: 15 is 50 % of 30, within 10 %
		{7, 60, 7},   // 60→30→15→7: 15/4 is not whole, nothing to snap to
		{1, 2, 1},    // small counts are not snapped
		{35, 40, 35}, // above three quarters: unchanged (the caller holds)
	} {
		if got := snapDown(tt.t, tt.open); got != tt.want {
			t.Errorf("snapDown(%d, %d) = %d, want %d", tt.t, tt.open, got, tt.want)
		}
	}
}

// afterSpike is the state 20 minutes into a quiet spell (1 MiB/s on 64 open
// shards) after a day's peak of 64 shards five hours ago, and that time.
func afterSpike() (State, time.Time) {
	st := State{ShardPeaks: []Rec{{At: now0.Add(-5 * time.Hour).Truncate(time.Hour).Unix(), N: 64}}}
	for m := range 20 {
		now := now0.Add(time.Duration(m) * time.Minute)
		_, st = Decide(baseInputs(now, 64, 1), st, now)
	}
	return st, now0.Add(20 * time.Minute)
}

// TestSecondPassInAMinuteKeepsTheCount is a regression test: a pass made in
// the same minute as the previous one (intervals under a minute, requeues)
// merged its recommendation into the minute's earlier record, left the
// scale-up window empty, and sent the count to its maximum — seen on the local
// stack as producers flapping 2→4→2 every 10 s at 26 % CPU against 65 %.
func TestSecondPassInAMinuteKeepsTheCount(t *testing.T) {
	now := time.Unix(1795747105, 0)
	var cpu []Point
	for m := 10; m >= 0; m-- {
		cpu = append(cpu, Point{Time: now.Truncate(time.Minute).Add(-time.Duration(m) * time.Minute), Value: 26})
	}
	earlier := []Rec{{At: now.Unix() - 19, N: 2}} // the same minute
	for _, c := range []struct {
		name             string
		desired, running int32
		want             int32
	}{
		{"steady at 2", 2, 2, 2},
		{"2 wanted, 4 still stopping", 2, 4, 2},
		{"4 wanted, 2 running", 4, 2, 2},
	} {
		for _, down := range []time.Duration{30 * time.Second, 0} {
			in := Inputs{
				Producer:      TaskConfig{MinTasks: 1, MaxTasks: 4, TargetCPUPercent: 65, ScaleDownStabilization: down},
				ProducerTasks: TaskObservation{Desired: c.desired, Running: c.running, CPUPercent: cpu},
			}
			got, why, _ := decideProducer(in, earlier, nil, newestWork(in.ProducerTasks, nil, now), 0, now, &Decision{})
			if got > c.desired || got > c.want {
				t.Errorf("%s (down window %s): %d producers (%s), want at most %d: 26%% CPU against 65%% never scales up", c.name, down, got, why, c.want)
			}
		}
	}
}

// TestShortWindowScaleDownEveryPass is the closed-loop stall (shards held at
// 2 after the load, 10 s passes, a 60 s shardScaleDownSeconds): passes within
// a minute share one record stamped with the minute's first pass, so at every
// pass but the last of a minute the previous minute's record had just left
// the window and the oldest one kept was younger than 3/4 of it. The policy
// then held "less than a stabilization window of data since start" at five
// passes in six, and at all of them when a minute's passes spanned less than
// 45 s (a pass interval with jitter); a reshard's own 60 s hold then lined up
// with those misses. Once a window of low need has been seen, every pass
// must scale down; a fresh state must still wait for most of a window.
func TestShortWindowScaleDownEveryPass(t *testing.T) {
	cfg := StreamConfig{MinShards: 1, MaxShards: 4, TargetUtilization: 0.25, ScaleDownStabilization: time.Minute}
	for _, pass := range []time.Duration{10 * time.Second, 11 * time.Second, 12 * time.Second} {
		start := now0.Add(3 * time.Second)
		var st State
		var held []string
		for now := start; now.Before(start.Add(5 * time.Minute)); now = now.Add(pass) {
			in := baseInputs(now.Truncate(time.Minute), 2, 0.01) // need well under one shard
			in.Stream = cfg
			d, next := Decide(in, st, now)
			st = next
			if since := now.Sub(start); since < 45*time.Second {
				if d.Shards != 2 {
					t.Errorf("%v passes, %v after a fresh start: %d shards (%s); want a hold for most of the window", pass, since, d.Shards, d.ShardReason)
				}
				continue
			} else if since < 2*time.Minute {
				continue // the window fills
			}
			if d.Shards != 1 {
				held = append(held, fmt.Sprintf("%s: %s", now.Sub(start), d.ShardReason))
			}
		}
		if len(held) > 0 {
			t.Errorf("%v passes, 60 s window, need 1 for minutes: %d passes held at 2, e.g. %s", pass, len(held), held[0])
		}
	}
}

// TestDecideProducerRefusedDemand: served records are capped by what the
// tasks carry, like their CPU; the refused ones are demand too, and one
// step sizes the service for all of it — by the rate rule with a target
// rate, by the CPU rule (counting them) without one.
func TestDecideProducerRefusedDemand(t *testing.T) {
	in := baseInputs(now0, 15, 10)
	in.Producer.TargetRequestsPerTask = 2000
	// At an 80 % CPU target the CPU rule counting the refused records asks
	// for 4 × 200 ÷ 80 = 10, so the rate rule's 12 decides here.
	in.Producer.TargetCPUPercent = 80
	// 4 tasks saturated at 3000 records/s each (12000/s served), 12000/s
	// refused: 24000/s asked for, 12 tasks at 2000 each.
	in.ProducerTasks = TaskObservation{Desired: 4, Running: 4, CPUPercent: series(now0, 14, 100),
		Requests: series(now0, 14, 12000*60), Refused: series(now0, 14, 12000*60)}
	d, _ := Decide(in, State{}, now0)
	if d.ProducerTasks != 12 {
		t.Errorf("served 12000/s + refused 12000/s: producer %d (%s), want 12", d.ProducerTasks, d.ProducerReason)
	}
	if !strings.Contains(d.ProducerReason, "6000 records/s per task") {
		t.Errorf("reason %q, want the demand per task (6000 records/s)", d.ProducerReason)
	}
	// Refused points of other minutes add nothing.
	in.ProducerTasks.Refused = series(now0.Add(-30*time.Minute), 14, 12000*60)
	if d, _ := Decide(in, State{}, now0); d.ProducerTasks != 6 {
		t.Errorf("refused in other minutes: producer %d (%s), want 6 (3000 served per task at 2000)", d.ProducerTasks, d.ProducerReason)
	}
	// Without a rate target, the CPU rule counts them: 100 % × 24000 ÷
	// 12000 = 200 %, 4 × 200 ÷ 80 = 10 tasks.
	in.ProducerTasks.Refused = series(now0, 14, 12000*60)
	in.Producer.TargetRequestsPerTask = 0
	if d, _ := Decide(in, State{}, now0); d.ProducerTasks != 10 || !strings.Contains(d.ProducerReason, "counting 12000 refused records/s") {
		t.Errorf("no target: producer %d (%s), want 10 by CPU counting the refused records", d.ProducerTasks, d.ProducerReason)
	}
}

// TestDecideProducerPartialRate: a Sum of a minute still being published
// is a lower bound of its demand, so it may raise the producer at once but
// never lower it.
func TestDecideProducerPartialRate(t *testing.T) {
	in := baseInputs(now0, 15, 10)
	in.Producer.TargetRequestsPerTask = 2000
	quiet := series(now0.Add(-3*time.Minute), 11, 4*2000*60) // complete minutes at target
	burst := append(slices.Clone(quiet), Point{Time: now0.Add(-2 * time.Minute), Value: 20000 * 60})
	in.ProducerTasks = TaskObservation{Desired: 4, Running: 4, CPUPercent: series(now0.Add(-3*time.Minute), 11, 65), Requests: burst}
	if d, _ := Decide(in, State{}, now0); d.ProducerTasks != 10 {
		t.Errorf("partial minute at 20000/s: producer %d (%s), want 10 in one step", d.ProducerTasks, d.ProducerReason)
	}
	// A low partial minute, and no complete one, holds.
	in.ProducerTasks = TaskObservation{Desired: 4, Running: 4, Requests: []Point{{Time: now0.Add(-2 * time.Minute), Value: 100 * 60}}}
	if d, _ := Decide(in, State{}, now0); d.ProducerTasks != 4 {
		t.Errorf("low partial minute only: producer %d (%s), want held at 4", d.ProducerTasks, d.ProducerReason)
	}
	// A low partial minute does not lower what the complete ones ask for.
	in.ProducerTasks.Requests = append(series(now0.Add(-3*time.Minute), 11, 4*3000*60), Point{Time: now0.Add(-2 * time.Minute), Value: 100 * 60})
	if d, _ := Decide(in, State{}, now0); d.ProducerTasks != 6 {
		t.Errorf("complete 3000/s per task, low partial: producer %d (%s), want 6", d.ProducerTasks, d.ProducerReason)
	}
}

// windowRecs is a stabilization window of needs for State.Shards: a
// record a minute over the 14 minutes before now0, oldest first, the one k
// minutes before now0 holding n(k).
func windowRecs(n func(minutesAgo int64) int32) []Rec {
	var recs []Rec
	for k := int64(14); k >= 1; k-- {
		recs = append(recs, Rec{At: now0.Unix() - 60*k, N: n(k)})
	}
	return recs
}

// setNewestMiBps sets the newest len(mibps) minutes of m's IncomingBytes
// and IncomingRecords (1000-byte records), oldest first.
func setNewestMiBps(m *StreamMetrics, mibps ...float64) {
	for i, v := range mibps {
		k := len(m.IncomingBytes) - len(mibps) + i
		m.IncomingBytes[k].Value = v * MiB * 60
		m.IncomingRecords[k].Value = v * MiB * 60 / 1000
	}
}

// TestDeepCopyKeepsEveryField: a State carried in the object's status is
// copied whole — the scalar fields (a halving under way, the newest pass
// that saw UPDATING) as well as the lists, which it must not share.
func TestDeepCopyKeepsEveryField(t *testing.T) {
	st := State{
		Shards:       []Rec{{At: 60, N: 4}},
		WeekPeaks:    []Rec{{At: 3600, N: 8}},
		MergeFrom:    8,
		MergeSince:   120,
		UpdatingSeen: 180,
	}
	cp := st.DeepCopy()
	if !reflect.DeepEqual(*cp, st) {
		t.Fatalf("DeepCopy = %+v, want %+v", *cp, st)
	}
	cp.Shards[0].N = 5
	if st.Shards[0].N != 4 {
		t.Fatal("DeepCopy shares the Shards list")
	}
}
