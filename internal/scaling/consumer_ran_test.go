package scaling

import (
	"strings"
	"testing"
	"time"
)

// TestConsumerCPURuleScalesTheTasksThatRan: the consumer's CPU rule, as the
// producer's, sizes the tasks that ran in the minutes it reads (4–6 minutes
// old), not the tasks running now. Before, minutes at 100 % with 4 tasks
// took the 7 they asked for to 11, and idle minutes at 12 took 6 down to 3.
// The iterator-age rule still multiplies the tasks running now.
func TestConsumerCPURuleScalesTheTasksThatRan(t *testing.T) {
	tests := []struct {
		name             string
		cpu              []float64
		ran              []int32 // nil: no record (a new object)
		running, desired int32
		age              float64 // iterator age, seconds (maximum 60)
		want             int32
		reason           string
	}{
		{"saturated minutes at 4 tasks, 7 running: hold, not 11", []float64{100, 100, 100}, []int32{4, 4, 4}, 7, 7, 0, 7, "holding at 7: CPU 100%"},
		{"idle minutes at 12 tasks, 6 running: hold, not 3", []float64{30, 30, 30}, []int32{12, 12, 12}, 6, 6, 0, 6, "holding at 6: CPU 30%"},
		{"busy minutes at 6 tasks, 6 running: up as before", []float64{100, 100, 100}, []int32{6, 6, 6}, 6, 6, 0, 10, "scaling up 6→10"},
		{"the busiest minute by work, not by CPU", []float64{90, 100, 100}, []int32{10, 4, 4}, 4, 4, 0, 14, "scaling up 4→14"},
		{"no record of the minutes: the tasks running now, as the HPA", []float64{100, 100, 100}, nil, 4, 4, 0, 7, "scaling up 4→7"},
		{"iterator age over the maximum doubles the tasks running now", []float64{100, 100, 100}, []int32{4, 4, 4}, 7, 7, 90, 14, "over the maximum of 60s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := baseInputs(now0, 40, 10)
			in.Consumer.MaxTasks = 100
			in.Metrics.IteratorAgeMs = series(now0, 14, tt.age*1000)
			in.ConsumerTasks = TaskObservation{Desired: tt.desired, Running: tt.running, CPUPercent: minutesAt(now0, tt.cpu...)}
			var st State
			if tt.ran != nil {
				st.ConsumerRunning = ranIn(now0, tt.ran...)
			}
			d, _ := Decide(in, st, now0)
			if d.ConsumerTasks != tt.want || !strings.Contains(d.ConsumerReason, tt.reason) {
				t.Fatalf("consumer %d (%s), want %d (%q)", d.ConsumerTasks, d.ConsumerReason, tt.want, tt.reason)
			}
		})
	}
}

// TestConsumerRunningIsKeptBounded: Decide records the consumer tasks
// running at each pass, one entry a minute, for runningKept: passes every
// 20 seconds for an hour leave at most 8 entries, the newest this pass's.
func TestConsumerRunningIsKeptBounded(t *testing.T) {
	var st State
	var now time.Time
	for k := range 180 {
		now = now0.Add(time.Duration(k) * 20 * time.Second)
		in := baseInputs(now, 15, 10)
		in.ConsumerTasks.Running = int32(1 + k/3%5)
		_, st = Decide(in, st, now)
	}
	n := len(st.ConsumerRunning)
	if n == 0 || n > 8 {
		t.Fatalf("ConsumerRunning has %d entries, want 1–8: %v", n, st.ConsumerRunning)
	}
	if last := st.ConsumerRunning[n-1]; last.At/60 != now.Unix()/60 || last.N != int32(1+179/3%5) {
		t.Errorf("newest entry %+v, want this minute's running count %d", last, 1+179/3%5)
	}
}
