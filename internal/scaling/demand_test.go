package scaling

import (
	"math"
	"strings"
	"testing"
	"time"
)

// withPartial returns complete (minutes now-14 … now-4, value v) plus one
// partial point at now-2m of value p; p < 0 leaves the partial out.
func withPartial(now time.Time, v, p float64) []Point {
	ps := series(now.Add(-3*time.Minute), 11, v)
	if p >= 0 {
		ps = append(ps, Point{Time: now.Add(-2 * time.Minute), Value: p})
	}
	return ps
}

// TestDecideProducerDemandCPU: with no target rate set (the default), a
// minute in which the producer refused records scales its CPU by
// (accepted + refused) ÷ accepted, and the HPA rule on CPU runs on that.
// 4 tasks, CPU target 65 %: 100 % observed asks for 7, 200 % for 13.
func TestDecideProducerDemandCPU(t *testing.T) {
	const served = 12000 * 60 // records a minute, 3000/s a task
	nan, inf := math.NaN(), math.Inf(1)
	tests := []struct {
		name              string
		cpu               []Point
		accepted, refused []Point
		running           int32
		want              int32
		held              bool
		reason, notReason string
		demandInput       string // Used.Map()["producerDemandCPUPercent"]; "" = absent
	}{
		{"saturated, as many refused as served: CPU 200 %", series(now0, 14, 100), series(now0, 14, served), series(now0, 14, served), 4, 13, false,
			"CPU 200% counting 12000 refused records/s (100% observed)", "", "200.0"},
		{"a quarter refused: CPU 125 %", series(now0, 14, 100), series(now0, 14, served), series(now0, 14, served/4), 4, 8, false,
			"counting 3000 refused records/s", "", "125.0"},
		{"nothing refused: CPU as observed", series(now0, 14, 100), series(now0, 14, served), series(now0, 14, 0), 4, 7, false,
			"CPU 100% against", "counting", ""},
		{"no Refused series: CPU as observed", series(now0, 14, 100), series(now0, 14, served), nil, 4, 7, false,
			"CPU 100% against", "counting", ""},
		{"refused and none accepted: at least double", series(now0, 14, 100), series(now0, 14, 0), series(now0, 14, served), 4, 13, false,
			"CPU 200% counting", "", "200.0"},
		{"refused and no accepted series: at least double", series(now0, 14, 100), nil, series(now0, 14, served), 4, 13, false,
			"CPU 200% counting", "", "200.0"},
		{"refused, none accepted, low CPU (tasks not ready): stays low", series(now0, 14, 10), nil, series(now0, 14, served), 4, 2, false,
			"scaling down 4→2: CPU 20% counting", "", "20.0"},
		{"refused NaN: ignored", series(now0, 14, 100), series(now0, 14, served), series(now0, 14, nan), 4, 7, false, "CPU 100% against", "counting", ""},
		{"refused negative: ignored", series(now0, 14, 100), series(now0, 14, served), series(now0, 14, -served), 4, 7, false, "CPU 100% against", "counting", ""},
		{"refused infinite: ignored", series(now0, 14, 100), series(now0, 14, served), series(now0, 14, inf), 4, 7, false, "CPU 100% against", "counting", ""},
		{"accepted NaN: no ratio, at least double", series(now0, 14, 100), series(now0, 14, nan), series(now0, 14, served), 4, 13, false, "CPU 200% counting", "", "200.0"},
		{"refused in other minutes only: CPU as observed", series(now0, 14, 100), series(now0, 14, served), series(now0.Add(-20*time.Minute), 14, served), 4, 7, false,
			"CPU 100% against", "counting", ""},
		{"refusals without CPU: held", nil, series(now0, 14, served), series(now0, 14, served), 4, 4, true, "no CPUUtilization data", "", ""},
		{"refusals, CPU NaN: held", series(now0, 14, nan), series(now0, 14, served), series(now0, 14, served), 4, 4, true, "no CPUUtilization data", "", ""},
		{"no running task: holds", series(now0, 14, 100), series(now0, 14, 0), series(now0, 14, served), 0, 4, false, "holding at 4: CPU 100% against", "", ""},

		// Minutes still being published (younger than CompleteAfter).
		{"partial minute refusing raises at once", withPartial(now0, 65, 100), withPartial(now0, served, served/2), withPartial(now0, 0, served/2), 4, 13, false,
			"counting 6000 refused records/s in a minute still being published (100% observed)", "", "200.0"},
		{"partial minute refusing less does not lower", withPartial(now0, 100, 100), withPartial(now0, served, served/2), withPartial(now0, served, served/20), 4, 13, false,
			"CPU 200% counting 12000 refused", "being published", "200.0"},
		{"partial minute without refusals is not used", withPartial(now0, 65, 100), withPartial(now0, served, served/2), withPartial(now0, 0, 0), 4, 4, false,
			"holding at 4: CPU 65%", "counting", ""},
		{"partial minute alone, refusing: raises", withPartial(now0, -1, 100)[11:], withPartial(now0, -1, served/2)[11:], withPartial(now0, -1, served/2)[11:], 4, 13, false,
			"in a minute still being published", "", "200.0"},
		{"partial minute alone, nothing refused: held", withPartial(now0, -1, 100)[11:], withPartial(now0, -1, served/2)[11:], withPartial(now0, -1, 0)[11:], 4, 4, true,
			"no CPUUtilization data", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := baseInputs(now0, 15, 10)
			in.ProducerTasks = TaskObservation{Desired: 4, Running: tt.running, CPUPercent: tt.cpu, Requests: tt.accepted, Refused: tt.refused}
			d, _ := Decide(in, State{}, now0)
			if d.ProducerTasks != tt.want || d.Held != tt.held {
				t.Fatalf("producer %d held=%v (%s), want %d held=%v", d.ProducerTasks, d.Held, d.ProducerReason, tt.want, tt.held)
			}
			if !strings.Contains(d.ProducerReason, tt.reason) || (tt.notReason != "" && strings.Contains(d.ProducerReason, tt.notReason)) {
				t.Errorf("reason %q, want %q and not %q", d.ProducerReason, tt.reason, tt.notReason)
			}
			if got := d.Used.Map()["producerDemandCPUPercent"]; got != tt.demandInput {
				t.Errorf("inputs producerDemandCPUPercent = %q, want %q", got, tt.demandInput)
			}
		})
	}
}

// TestDemandCPUStepsPastTheCPUCap: a producer far short of tasks (demand 5×
// its capacity) reaches enough tasks in one decision counting the refused
// records, where the CPU rule capped at 100 % needs several passes (each
// 1.54×) and refuses records all along.
func TestDemandCPUStepsPastTheCPUCap(t *testing.T) {
	const capPerTask = 3000.0 // records/s at 100 % CPU
	running, demand := int32(2), 5*2*capPerTask
	in := baseInputs(now0, 15, 10)
	in.Producer.MaxTasks = 100
	served := float64(running) * capPerTask
	in.ProducerTasks = TaskObservation{Desired: running, Running: running, CPUPercent: series(now0, 14, 100),
		Requests: series(now0, 14, served*60), Refused: series(now0, 14, (demand-served)*60)}
	d, _ := Decide(in, State{}, now0)
	if want := ceil32(demand / (capPerTask * 0.65)); d.ProducerTasks != want {
		t.Fatalf("producer %d (%s), want %d: the demand at 65 %% of a task in one step", d.ProducerTasks, d.ProducerReason, want)
	}
}

// TestDemandCPUScalesTheTasksThatRan: the saturated minutes were measured
// with 4 tasks; 13 run now (the step they asked for). Counting their
// refused records asks for 4 × 200 ÷ 65 = 13 again, not 13 × 200 ÷ 65 =
// 40: the factor applies to the tasks of the minute (State.ProducerRunning).
// The plain rule scales the same tasks: 4 × 100 ÷ 65 = 7, not 13 × 100 ÷
// 65 = 20 (it asked for 20 before 2026-11-27's "tasks that ran" change), so
// the 13 hold.
func TestDemandCPUScalesTheTasksThatRan(t *testing.T) {
	in := baseInputs(now0, 15, 10)
	in.Producer.MaxTasks = 100
	// Complete minutes only (now-14m … now-4m): the newer ones, measured
	// with more tasks, are not published yet.
	old := now0.Add(-3 * time.Minute)
	in.ProducerTasks = TaskObservation{Desired: 13, Running: 13, CPUPercent: series(old, 11, 100),
		Requests: series(old, 11, 12000*60), Refused: series(old, 11, 12000*60)}
	var st State
	for k := 11; k >= 1; k-- { // a pass at the end of each of those minutes, 4 running
		st.ProducerRunning = append(st.ProducerRunning, Rec{At: old.Add(-time.Duration(k-1) * time.Minute).Unix(), N: 4})
	}
	if d, _ := Decide(in, st, now0); d.ProducerTasks != 13 || !strings.Contains(d.ProducerReason, "holding at 13") {
		t.Errorf("with the running counts: producer %d (%s), want to hold at 13", d.ProducerTasks, d.ProducerReason)
	}
	in.ProducerTasks.Desired, in.ProducerTasks.Running = 4, 4
	d, next := Decide(in, st, now0)
	if d.ProducerTasks != 13 || !strings.Contains(d.ProducerReason, "counting") {
		t.Errorf("4 running: producer %d (%s), want 13 counting the refused records", d.ProducerTasks, d.ProducerReason)
	}
	if n := len(next.ProducerRunning); n == 0 || n > int(runningKept/time.Minute)+1 || next.ProducerRunning[n-1].N != 4 {
		t.Errorf("ProducerRunning kept %v, want this pass's 4 last and at most %d entries", next.ProducerRunning, int(runningKept/time.Minute)+1)
	}
}

// TestAddByMinuteCountsOnlyUsableRefusals: the rate rule adds a minute's
// refused records as the CPU rule reads them — a negative Sum is no
// refusal (it must not lower the demand) and a minute reported twice
// counts once.
func TestAddByMinuteCountsOnlyUsableRefusals(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	served := []Point{{Time: t0, Value: 100}, {Time: t0.Add(time.Minute), Value: 100}}
	refused := []Point{{Time: t0, Value: -50}, {Time: t0.Add(time.Minute), Value: 30}, {Time: t0.Add(time.Minute + 10*time.Second), Value: 20}}
	got := addByMinute(served, refused)
	if got[0].Value != 100 || got[1].Value != 130 {
		t.Fatalf("demand by minute %v, want 100 and 130", []float64{got[0].Value, got[1].Value})
	}
	if served[0].Value != 100 || served[1].Value != 100 {
		t.Fatalf("served was changed: %v", served)
	}
}
