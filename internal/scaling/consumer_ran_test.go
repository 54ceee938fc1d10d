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
func TestConsumerCPURuleScalesTheTasksThatRan(t *testing.T) {
	checkRan(t, true, []ranCase{
		{"saturated minutes at 4 tasks, 7 running: hold, not 11", []float64{100, 100, 100}, []int32{4, 4, 4}, 7, 7, 7, "holding at 7: CPU 100%"},
		{"idle minutes at 12 tasks, 6 running: hold, not 3", []float64{30, 30, 30}, []int32{12, 12, 12}, 6, 6, 6, "holding at 6: CPU 30%"},
		{"busy minutes at 6 tasks, 6 running: up as before", []float64{100, 100, 100}, []int32{6, 6, 6}, 6, 6, 10, "scaling up 6→10"},
		{"the busiest minute by work, not by CPU", []float64{90, 100, 100}, []int32{10, 4, 4}, 4, 4, 14, "scaling up 4→14"},
		{"no record of the minutes: the tasks running now, as the HPA", []float64{100, 100, 100}, nil, 4, 4, 7, "scaling up 4→7"},
	})
}

// TestConsumerAgeRuleScalesTheTasksRunningNow: the iterator-age rule is
// unchanged: an age over the maximum doubles the tasks running now (7 →
// 14), whatever ran in the CPU's minutes (4).
func TestConsumerAgeRuleScalesTheTasksRunningNow(t *testing.T) {
	in := baseInputs(now0, 40, 10)
	in.Metrics.IteratorAgeMs = series(now0, 14, 90_000)
	got, why := decideRan(in, true, []float64{100, 100, 100}, []int32{4, 4, 4}, 7, 7)
	if got != 14 || !strings.Contains(why, "over the maximum of 60s") {
		t.Fatalf("consumer %d (%s), want 14 over the maximum", got, why)
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
