package scaling

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

// surgeObs is a producer with the complete CPU minutes cpu (as minutesAt),
// the tasks that ran in them (ran, as ranIn) and, in the minutes where
// refused[i] > 0, 1,000 records accepted and refused[i] refused, so the
// work counts the refused records.
func surgeObs(cpu []float64, refused []float64, ran int32) (TaskObservation, []Rec) {
	obs := TaskObservation{Desired: ran, Running: ran, CPUPercent: minutesAt(now0, cpu...)}
	if refused != nil {
		acc := make([]float64, len(refused))
		for i := range acc {
			acc[i] = 1000
		}
		obs.Requests, obs.Refused = minutesAt(now0, acc...), minutesAt(now0, refused...)
	}
	ns := make([]int32, len(cpu))
	for i := range ns {
		ns[i] = ran
	}
	return obs, ranIn(now0, ns...)
}

// TestProducerSurge: a surge is the rise of the work over the newest
// complete minutes, in tasks at the 65 % target, recorded only when its
// peak minute was more than the tasks without the headroom held could
// carry at 100 % CPU.
func TestProducerSurge(t *testing.T) {
	tests := []struct {
		name    string
		cpu     []float64
		refused []float64
		ran     int32
		held    int32
		want    int32
	}{
		// 4 tasks: 20 % → 100 % refusing twice what they accept, so 300 %
		// of demand: (1200 − 80) ÷ 65 = 17.2.
		{"a rise that refused records", []float64{20, 100, 100}, []float64{0, 2000, 2000}, 4, 0, 18},
		{"noise within the tasks' capacity records nothing", []float64{30, 90, 60}, nil, 4, 0, 0},
		// 8 tasks at 90 %: 720 > 100 × (8 − 4); (720 − 160) ÷ 65 = 8.6.
		{"a rise the headroom absorbed still counts", []float64{20, 90, 90}, nil, 8, 4, 9},
		{"the same rise with no headroom held fits the tasks", []float64{20, 90, 90}, nil, 8, 0, 0},
		{"a fall records nothing", []float64{100, 100, 20}, []float64{2000, 2000, 0}, 4, 0, 0},
		{"no complete minute", nil, nil, 4, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obs, ran := surgeObs(tt.cpu, tt.refused, tt.ran)
			if got := producerSurge(TaskConfig{TargetCPUPercent: 65}, obs, ran, newestWork(obs, ran, now0), tt.held); got != tt.want {
				t.Fatalf("surge %d, want %d", got, tt.want)
			}
		})
	}
}

// TestKeepSurges: one entry an hour (its largest), none older than a day,
// none above maxTasks; so at most 25 entries however many passes run.
func TestKeepSurges(t *testing.T) {
	hour := now0.Truncate(time.Hour).Unix()
	tests := []struct {
		name     string
		prev     []Rec
		surge    int32
		maxTasks int32
		want     []Rec
	}{
		{"a first surge", nil, 5, 20, []Rec{{hour, 5}}},
		{"the hour keeps its largest", []Rec{{hour, 7}}, 5, 20, []Rec{{hour, 7}}},
		{"a larger one replaces it", []Rec{{hour, 3}}, 5, 20, []Rec{{hour, 5}}},
		{"a new hour appends", []Rec{{hour - 3600, 3}}, 5, 20, []Rec{{hour - 3600, 3}, {hour, 5}}},
		{"no surge keeps the list", []Rec{{hour - 3600, 3}}, 0, 20, []Rec{{hour - 3600, 3}}},
		{"a day old is dropped", []Rec{{now0.Add(-surgeKept).Unix(), 9}, {hour - 3600, 3}}, 0, 20, []Rec{{hour - 3600, 3}}},
		{"bounded by maxTasks", []Rec{{hour - 3600, 30}}, 50, 20, []Rec{{hour - 3600, 20}, {hour, 20}}},
		{"future and empty entries are dropped", []Rec{{hour + 3600, 3}, {hour - 7200, 0}}, 0, 20, []Rec{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := keepSurges(tt.prev, now0, tt.surge, tt.maxTasks); !slices.Equal(got, tt.want) {
				t.Fatalf("%v, want %v", got, tt.want)
			}
		})
	}
	var recs []Rec
	for m := 0; m < 3*24*60; m++ {
		recs = keepSurges(recs, now0.Add(time.Duration(m)*time.Minute), int32(1+m%7), 20)
		if len(recs) > 25 {
			t.Fatalf("minute %d: %d entries, want at most 25", m, len(recs))
		}
	}
}

// TestSurgeHeadroom: the second largest hourly surge, none with one.
func TestSurgeHeadroom(t *testing.T) {
	tests := []struct {
		surges []Rec
		want   int32
	}{
		{nil, 0},
		{[]Rec{{1, 9}}, 0},
		{[]Rec{{1, 9}, {2, 4}}, 4},
		{[]Rec{{1, 4}, {2, 9}, {3, 6}}, 6},
	}
	for _, tt := range tests {
		if got := surgeHeadroom(tt.surges); got != tt.want {
			t.Errorf("%v: %d, want %d", tt.surges, got, tt.want)
		}
	}
}

// TestWithHeadroom: the headroom is added, at most as many again as the
// rules ask for, never overflowing.
func TestWithHeadroom(t *testing.T) {
	tests := []struct{ rec, headroom, want, extra int32 }{
		{5, 0, 5, 0},
		{5, 3, 8, 3},
		{5, 9, 10, 5},
		{0, 4, 1, 1},
		{math.MaxInt32 - 2, 10, math.MaxInt32, 2},
	}
	for _, tt := range tests {
		if got, extra := withHeadroom(tt.rec, tt.headroom); got != tt.want || extra != tt.extra {
			t.Errorf("withHeadroom(%d, %d) = %d, %d; want %d, %d", tt.rec, tt.headroom, got, extra, tt.want, tt.extra)
		}
	}
}

// TestDecideHoldsProducerHeadroom: with two hours of the last day that had
// surges, the producer holds the smaller on top of its CPU rule's answer,
// says so and keeps the surges in the state; one surge, or none, adds
// nothing.
func TestDecideHoldsProducerHeadroom(t *testing.T) {
	hour := now0.Truncate(time.Hour).Unix()
	tests := []struct {
		name   string
		surges []Rec
		want   int32
		reason string
		input  string // Used.Map()["producerHeadroomTasks"]; "" = absent
	}{
		{"recurring surges: 4 + 3", []Rec{{hour - 7200, 6}, {hour - 3600, 3}}, 7, "with 3 tasks of headroom for recurring surges", "3"},
		{"one surge: none", []Rec{{hour - 3600, 6}}, 4, "holding at 4", ""},
		{"no surge: none", nil, 4, "holding at 4", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := baseInputs(now0, 40, 10)
			in.Producer.MaxTasks = 100
			in.ProducerTasks = TaskObservation{Desired: 4, Running: 4, CPUPercent: minutesAt(now0, 65, 65, 65)}
			d, next := Decide(in, State{ProducerSurges: tt.surges}, now0)
			if d.ProducerTasks != tt.want || !strings.Contains(d.ProducerReason, tt.reason) {
				t.Fatalf("producer %d (%s), want %d (%q)", d.ProducerTasks, d.ProducerReason, tt.want, tt.reason)
			}
			if got := d.Used.Map()["producerHeadroomTasks"]; got != tt.input {
				t.Errorf("producerHeadroomTasks %q, want %q", got, tt.input)
			}
			if !slices.Equal(next.ProducerSurges, tt.surges) {
				t.Errorf("surges %v, want %v kept", next.ProducerSurges, tt.surges)
			}
		})
	}
}
