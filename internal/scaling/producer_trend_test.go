package scaling

import (
	"strings"
	"testing"
	"time"
)

// minutesAt returns one point per minute for the minutes starting at
// now-len(vs)-3m … now-4m (oldest first): the complete minutes the CPU rule
// reads are the last three.
func minutesAt(now time.Time, vs ...float64) []Point {
	ps := make([]Point, len(vs))
	for i, v := range vs {
		ps[i] = Point{Time: now.Add(-time.Duration(len(vs)-i+3) * time.Minute), Value: v}
	}
	return ps
}

// ranIn records, as Decide does once a minute, the tasks that ran
// in each minute of minutesAt (at the minute's end).
func ranIn(now time.Time, ns ...int32) []Rec {
	recs := make([]Rec, len(ns))
	for i, n := range ns {
		recs[i] = Rec{At: now.Add(-time.Duration(len(ns)-i+2) * time.Minute).Unix(), N: n}
	}
	return recs
}

// TestProducerCPURuleScalesTheTasksThatRan: the CPU minutes the rule reads
// are 4–6 minutes old; it sizes the tasks that ran in them (cpu × ran ÷
// target), not the tasks running now. The first two rows are flat noisy at
// 40 MiB/s before the change (docs/scaling.md): a saturated minute at 7
// tasks took 12 running to 19, and idle minutes at 47 took 40 down to 9
// where 11 carry the load.
func TestProducerCPURuleScalesTheTasksThatRan(t *testing.T) {
	checkRan(t, false, []ranCase{
		{"saturated minutes at 7 tasks, 12 running: 11, not 19", []float64{100, 100, 100}, []int32{7, 7, 7}, 12, 12, 11, "scaling down 12→11: CPU 100%"},
		{"idle minutes at 47 tasks, 40 running: 11, not 9", []float64{14, 14, 14}, []int32{47, 47, 47}, 40, 40, 11, "scaling down 40→11"},
		{"the work of 6 at 100 % is within tolerance for 9: hold, not 14", []float64{100, 100, 100}, []int32{6, 6, 6}, 9, 9, 9, "holding at 9"},
		{"the busiest minute by work, not by CPU", []float64{90, 100, 100}, []int32{10, 4, 4}, 4, 4, 14, "scaling up 4→14"},
		{"no record of the minutes: the tasks running now, as the HPA", []float64{100, 100, 100}, nil, 4, 4, 7, "scaling up 4→7"},
	})
}

// ranCase is one case of a CPU rule on the tasks that ran (checkRan).
type ranCase struct {
	name             string
	cpu              []float64 // the complete minutes' CPU, as minutesAt
	ran              []int32   // the tasks that ran in them; nil: no record (a new object)
	running, desired int32
	want             int32
	reason           string
}

// checkRan runs each case through decideRan on baseInputs with 40 open
// shards (so the consumer's cap is not what decides) and checks the
// consumer's target and reason when consumer is set, else the producer's.
func checkRan(t *testing.T, consumer bool, tests []ranCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, why := decideRan(baseInputs(now0, 40, 10), consumer, tt.cpu, tt.ran, tt.running, tt.desired)
			if got != tt.want || !strings.Contains(why, tt.reason) {
				t.Fatalf("%d (%s), want %d (%q)", got, why, tt.want, tt.reason)
			}
		})
	}
}

// decideRan runs Decide with one service's complete CPU minutes (cpu, as
// minutesAt), the tasks that ran in them (ran, as ranIn; nil: no record)
// and the tasks running and desired now, its MaxTasks raised to 100: the
// consumer's when consumer is set, else the producer's. It returns that
// service's target and reason.
func decideRan(in Inputs, consumer bool, cpu []float64, ran []int32, running, desired int32) (int32, string) {
	cfg, obs, st := &in.Producer, &in.ProducerTasks, State{ProducerRunning: ranIn(now0, ran...)}
	if consumer {
		cfg, obs, st = &in.Consumer, &in.ConsumerTasks, State{ConsumerRunning: ranIn(now0, ran...)}
	}
	cfg.MaxTasks = 100
	*obs = TaskObservation{Desired: desired, Running: running, CPUPercent: minutesAt(now0, cpu...)}
	d, _ := Decide(in, st, now0)
	if consumer {
		return d.ConsumerTasks, d.ConsumerReason
	}
	return d.ProducerTasks, d.ProducerReason
}

// TestProducerRisingLoadProjectsToNow: while the work of the newest
// complete minutes rises, in the newest one too, the rule sizes for it
// projected to now. 4 tasks at 40, 50, 60 % in the minutes starting 6, 5
// and 4 minutes ago: 40 % of a task per minute over 4 tasks, projected from
// the newest minute's middle (3.5 minutes ago): (240 + 140) ÷ 4 = 95 %, so
// ceil(4 × 95 ÷ 65) = 6, where 60 % alone is within tolerance.
func TestProducerRisingLoadProjectsToNow(t *testing.T) {
	tests := []struct {
		name    string
		cpu     []float64
		ran     []int32
		want    int32
		reason  string
		project string // Used.Map()["producerProjectedCPUPercent"]; "" = absent
	}{
		{"rising: projected to now", []float64{40, 50, 60}, []int32{4, 4, 4}, 6, "scaling up 4→6: CPU rising, 95% projected to now from 60% in the newest complete minute", "95.0"},
		{"rising work at falling CPU (tasks added)", []float64{100, 80, 70}, []int32{2, 3, 4}, 7, "CPU rising, 105% projected", "105.0"},
		{"rose and fell back in the newest minute: not projected", []float64{40, 70, 60}, []int32{4, 4, 4}, 4, "holding at 4: CPU 70%", ""},
		{"falling: not projected", []float64{60, 50, 40}, []int32{4, 4, 4}, 4, "holding at 4: CPU 60%", ""},
		{"flat: not projected", []float64{60, 60, 60}, []int32{4, 4, 4}, 4, "holding at 4: CPU 60%", ""},
		{"one complete minute: no trend", []float64{60}, []int32{4}, 4, "holding at 4: CPU 60%", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := baseInputs(now0, 15, 10)
			in.Producer.MaxTasks = 100
			in.ProducerTasks = TaskObservation{Desired: 4, Running: 4, CPUPercent: minutesAt(now0, tt.cpu...)}
			d, _ := Decide(in, State{ProducerRunning: ranIn(now0, tt.ran...)}, now0)
			if d.ProducerTasks != tt.want || !strings.Contains(d.ProducerReason, tt.reason) {
				t.Fatalf("producer %d (%s), want %d (%q)", d.ProducerTasks, d.ProducerReason, tt.want, tt.reason)
			}
			if got := d.Used.Map()["producerProjectedCPUPercent"]; got != tt.project {
				t.Errorf("producerProjectedCPUPercent %q, want %q", got, tt.project)
			}
		})
	}
}

// TestProducerTrendOnlyRaises: a projection below another rule's answer
// does not decide. Rising 40, 50, 60 % projects 6 tasks; a minute still
// being published at 100 % that refused as many records as it accepted
// asks for 13.
func TestProducerTrendOnlyRaises(t *testing.T) {
	in := baseInputs(now0, 15, 10)
	in.Producer.MaxTasks = 100
	partial := func(complete ...float64) []Point {
		return append(minutesAt(now0, complete...), Point{Time: now0.Add(-2 * time.Minute), Value: 100})
	}
	const served = 12000 * 60
	in.ProducerTasks = TaskObservation{Desired: 4, Running: 4, CPUPercent: partial(40, 50, 60),
		Requests: []Point{{Time: now0.Add(-2 * time.Minute), Value: served}}, Refused: []Point{{Time: now0.Add(-2 * time.Minute), Value: served}}}
	d, _ := Decide(in, State{ProducerRunning: ranIn(now0, 4, 4, 4)}, now0)
	if d.ProducerTasks != 13 || !strings.Contains(d.ProducerReason, "counting") {
		t.Fatalf("producer %d (%s), want 13 counting the refused records", d.ProducerTasks, d.ProducerReason)
	}
	if _, ok := d.Used.Map()["producerProjectedCPUPercent"]; ok {
		t.Errorf("inputs carry producerProjectedCPUPercent although the trend did not decide: %v", d.Used.Map())
	}
}

// TestProducerScaleDownWindow: the producers are held as long as the
// shards they feed unless their own window is set; the consumers keep the
// HPA's 5 minutes.
func TestProducerScaleDownWindow(t *testing.T) {
	tests := []struct {
		name        string
		task, shard time.Duration // TaskConfig / StreamConfig ScaleDownStabilization
		lastHigh    time.Duration // age of the last recommendation of 8
		want        int32
	}{
		{"default: the shards' default, 15 minutes", 0, 0, 14 * time.Minute, 8},
		{"default: clear after 15 minutes", 0, 0, 16 * time.Minute, 3},
		{"the shards' window when set", 0, 30 * time.Minute, 20 * time.Minute, 8},
		{"the shards' window, clear", 0, 30 * time.Minute, 31 * time.Minute, 3},
		{"the tasks' own window wins", 5 * time.Minute, 30 * time.Minute, 6 * time.Minute, 3},
		{"the tasks' own window, held", 5 * time.Minute, 30 * time.Minute, 4 * time.Minute, 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := baseInputs(now0, 15, 10)
			in.Producer.ScaleDownStabilization, in.Stream.ScaleDownStabilization = tt.task, tt.shard
			in.ProducerTasks = TaskObservation{Desired: 8, Running: 8, CPUPercent: series(now0, 14, 20)}
			prev := State{Producer: []Rec{{At: now0.Add(-tt.lastHigh).Unix(), N: 8}}}
			if d, _ := Decide(in, prev, now0); d.ProducerTasks != tt.want {
				t.Fatalf("producer %d (%s), want %d", d.ProducerTasks, d.ProducerReason, tt.want)
			}
		})
	}
	in := baseInputs(now0, 15, 10)
	in.ConsumerTasks = TaskObservation{Desired: 8, Running: 8, CPUPercent: series(now0, 14, 20)}
	if d, _ := Decide(in, State{Consumer: []Rec{{At: now0.Add(-6 * time.Minute).Unix(), N: 8}}}, now0); d.ConsumerTasks != 3 {
		t.Errorf("consumer %d (%s), want 3 after the HPA's 5 minutes", d.ConsumerTasks, d.ConsumerReason)
	}
}
