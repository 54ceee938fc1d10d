package sim

import (
	"testing"
	"time"

	"github.com/kdp-io/streamprocessor-operator/internal/scaling"
)

// seedView is what the seed sees at now with open shards: the minute
// before the last one published at bytesPerSec in 1000-byte records (or
// nothing when bytesPerSec < 0).
func seedView(now time.Time, open int32, bytesPerSec float64, history ...time.Time) View {
	v := View{Now: now, OpenShards: open, ReshardHistory: history,
		Producer: scaling.TaskObservation{Desired: 1, Running: 1},
		Consumer: scaling.TaskObservation{Desired: 1, Running: 1}}
	if bytesPerSec >= 0 {
		at := now.Add(-2 * time.Minute)
		v.Metrics.IncomingBytes = []scaling.Point{{Time: at, Value: bytesPerSec * 60}}
		v.Metrics.IncomingRecords = []scaling.Point{{Time: at, Value: bytesPerSec * 60 / 1000}}
	}
	return v
}

// TestSeedAsDeployed pins the V.9.6.0 behaviours the seed row models.
func TestSeedAsDeployed(t *testing.T) {
	mib := float64(scaling.MiB)
	now := synthStart.Add(time.Hour)
	spent := spacedCalls(10, now.Add(-time.Hour), time.Minute)
	for _, c := range []struct {
		name       string
		open       int32
		bytes      float64 // per second in the window; < 0: no datapoint
		history    []time.Time
		to         int32
		splitMerge bool
	}{
		{"over 75 %: +2 by UpdateShardCount", 4, 3.2 * mib, nil, 6, false},
		{"1 → 3 is over 2x: split and merge instead", 1, 0.9 * mib, nil, 3, true},
		{"10 calls spent: split and merge instead", 4, 3.2 * mib, spent, 6, true},
		{"15 + 2 is over the max of 16: nothing", 15, 14 * mib, nil, 0, false},
		{"between 25 and 75 %: none", 4, 2.4 * mib, nil, 0, false},
		{"PUT at 40 % is GET at 20 %: down", 4, 1.6 * mib, nil, 3, false},
		{"no datapoint in the 1-minute window: down", 4, -1, nil, 3, false},
	} {
		s := NewSeed(DefaultConfig(), SeedShippedMaxShards, 15)
		cmd := s.Control(seedView(now, c.open, c.bytes, c.history...))
		if cmd.ReshardTo != c.to || cmd.SplitMerge != c.splitMerge {
			t.Errorf("%s: reshard to %d (split/merge %v), want %d (%v)", c.name, cmd.ReshardTo, cmd.SplitMerge, c.to, c.splitMerge)
		}
	}
}

// TestSeedCapacityIsCached: after a successful UpdateShardCount the tool
// keeps dividing by the old count's capacity until its 5-minute refresh, so
// the same load keeps voting up (+2 again) where the new count is at 53 %.
func TestSeedCapacityIsCached(t *testing.T) {
	mib := float64(scaling.MiB)
	now := synthStart.Add(time.Hour)
	s := NewSeed(DefaultConfig(), SeedShippedMaxShards, 15)
	if cmd := s.Control(seedView(now, 4, 3.2*mib)); cmd.ReshardTo != 6 {
		t.Fatalf("first check: reshard to %d, want 6", cmd.ReshardTo)
	}
	// 3.2 MiB/s over 6 shards is 53 %, but over the cached 4 it is 80 %.
	if cmd := s.Control(seedView(now.Add(4*time.Minute), 6, 3.2*mib)); cmd.ReshardTo != 8 {
		t.Errorf("within the refresh: reshard to %d, want 8 (capacity of 4 shards cached)", cmd.ReshardTo)
	}
	// The refresh every 5 minutes reloads it: a check 6 minutes after the
	// first (no datapoint: down, 6 → 5) reloads at 5 shards, and 3.2 MiB/s
	// over 5 is 64 %: no vote (with the old 4 it would be 80 %: up).
	s = NewSeed(DefaultConfig(), SeedShippedMaxShards, 15)
	s.Control(seedView(now, 4, 3.2*mib))
	if cmd := s.Control(seedView(now.Add(6*time.Minute), 6, -1)); cmd.ReshardTo != 5 {
		t.Fatalf("empty window after the cool-off: reshard to %d, want 5", cmd.ReshardTo)
	}
	if cmd := s.Control(seedView(now.Add(7*time.Minute), 5, 3.2*mib)); cmd.ReshardTo != 0 {
		t.Errorf("after the refresh: reshard to %d, want none (64 %% of 5 shards)", cmd.ReshardTo)
	}
}

func spacedCalls(n int, last time.Time, gap time.Duration) []time.Time {
	out := make([]time.Time, n)
	for i := range out {
		out[i] = last.Add(-time.Duration(n-1-i) * gap)
	}
	return out
}

// askOnce asks for 4 producers and 2 shards at the end of the first minute.
type askOnce struct{ asked bool }

func (a *askOnce) Name() string                     { return "ask-once" }
func (a *askOnce) Start(Load) (int32, int32, int32) { return 1, 1, 1 }
func (a *askOnce) Control(View) Command {
	cmd := Command{ProducerDesired: 4, ConsumerDesired: 1}
	if !a.asked {
		a.asked, cmd.ReshardTo = true, 2
	}
	return cmd
}

// TestSensitivitySwitches: -task-start and -updating-scale change when a
// task serves and how long the stream stays UPDATING, and nothing else.
func TestSensitivitySwitches(t *testing.T) {
	run := func(start int, scale float64) (firstRunning, updating int) {
		cfg := DefaultConfig()
		cfg.Timeline, cfg.TaskStartMinutes, cfg.UpdatingScale = true, start, scale
		r := Run(cfg, flat(20, 0.01), &askOnce{})
		firstRunning = -1
		for _, m := range r.Timeline {
			if m.ProducerRunning == 4 && firstRunning < 0 {
				firstRunning = m.Minute
			}
			if m.Updating {
				updating++
			}
		}
		return firstRunning, updating
	}
	r0, u0 := run(0, 0)
	if r0 != 2 || u0 != 3 {
		t.Errorf("defaults: 4 producers from minute %d, %d minutes UPDATING; want 2 and 3", r0, u0)
	}
	if r, u := run(3, 2); r != 4 || u != 6 {
		t.Errorf("task start 3, UPDATING x2: 4 producers from minute %d, %d minutes UPDATING; want 4 and 6", r, u)
	}
}

// TestBurstsAndSkewNeedHeadroom: at the same minute average, bursts within
// the minute and skewed keys make shards throttle that a flat, uniform
// minute would not; headroom (more shards) takes it back.
func TestBurstsAndSkewNeedHeadroom(t *testing.T) {
	in := Load{Bytes: 7 * float64(scaling.MiB), Records: 7000} // 70 % of 10 shards' bytes and records
	flat := DefaultConfig()
	if f := flat.acceptedFraction(10, in); f != 1 {
		t.Errorf("flat minute, uniform keys, 70 %%: accepted %.4f, want 1", f)
	}
	burst := DefaultConfig()
	burst.BurstPeakToMean = 2 // a tenth of the seconds at 140 %
	f := burst.acceptedFraction(10, in)
	// Those seconds lose 0.4 of a shard's capacity: 0.1 × 0.4 / 0.7 of the minute's records.
	if want := 1 - 0.1*0.4/0.7; f < want-1e-9 || f > want+1e-9 {
		t.Errorf("bursts 2x at 70 %%: accepted %.4f, want %.4f", f, want)
	}
	if f := burst.acceptedFraction(14, in); f < 1-1e-9 {
		t.Errorf("bursts 2x at 50 %% (14 shards): accepted %.4f, want 1", f)
	}
	skew := DefaultConfig()
	skew.KeySkew = 1
	if f := skew.acceptedFraction(10, in); f >= 1 {
		t.Errorf("Zipf keys at 70 %%: accepted %.4f, want under 1 (the first shard gets 34 %% of the load)", f)
	}
	if f := skew.acceptedFraction(10, Load{Bytes: 1, Records: 0.001}); f < 1-1e-9 {
		t.Errorf("Zipf keys at a trickle: accepted %.4f, want 1", f)
	}
}

// TestOracleReactiveReactsWithoutDelay: on a doubling step the
// oracle-reactive policy calls at the end of the step's first minute, so it
// loses less than the operator, which waits for CloudWatch.
func TestOracleReactiveReactsWithoutDelay(t *testing.T) {
	l := make([]float64, 120)
	for m := range l {
		l[m] = 0.5
		if m >= 60 {
			l[m] = 1
		}
	}
	tr := Trace{Name: "x2", Start: synthStart, Load: l}
	cfg := DefaultConfig()
	cfg.Timeline = true
	or := Run(cfg, tr, NewOracleReactive(cfg, tr))
	op := Run(cfg, tr, NewOperator(cfg, scaling.MaxShardsPerStream))
	first := -1
	for _, m := range or.Timeline {
		if m.ReshardTo > 0 && first < 0 {
			first = m.Minute
		}
	}
	if first != 60 {
		t.Errorf("oracle-reactive's first call at the end of minute %d, want 60 (the step's first minute)", first)
	}
	if !(or.LostPercent < op.LostPercent) {
		t.Errorf("oracle-reactive lost %.3f%%, operator %.3f%%: want less without the metric delay", or.LostPercent, op.LostPercent)
	}
}
