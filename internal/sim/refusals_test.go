package sim

import "testing"

// TestRefusalCause: each minute that refused records goes to the first
// cause that holds, with 5 MiB/s per task.
func TestRefusalCause(t *testing.T) {
	row := func(off float64, run, des int32) Minute {
		return Minute{OfferedMiBps: off, ProducerRunning: run, ProducerDesired: des, ProducerRejectedPercent: 1}
	}
	calm := func(n int, off float64, run int32) []Minute {
		tl := make([]Minute, n)
		for i := range tl {
			tl[i] = Minute{OfferedMiBps: off, ProducerRunning: run, ProducerDesired: run}
		}
		return tl
	}
	tests := []struct {
		name string
		tl   []Minute
		want string
	}{
		{"starting, the count asked carries", append(calm(20, 10, 3), row(20, 3, 4)), "starting"},
		{"starting, the count asked is too few", append(calm(20, 10, 3), row(30, 3, 4)), "startingShort"},
		{"scaled down 10 minutes before", append(append(calm(10, 10, 4), calm(10, 10, 2)...), row(12, 2, 2)), "scaledDown"},
		{"scaled down 20 minutes before: not within the lookback", append(append(calm(10, 18, 4), calm(20, 9, 2)...), row(12, 2, 2)), "belowHourHigh"},
		{"no higher than the hour's high", append(calm(30, 12, 2), row(11, 2, 2)), "belowHourHigh"},
		{"a new high", append(calm(30, 8, 2), row(12, 2, 2)), "newHigh"},
		{"a surge's own first minutes are no level", append(append(calm(30, 8, 2), calm(5, 12, 2)...), row(12, 2, 2)), "newHigh"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := refusalCause(tt.tl, len(tt.tl)-1, 5); got != tt.want {
				t.Fatalf("cause %q, want %q", got, tt.want)
			}
		})
	}
}

// TestRefusalBreakdownSumsToOne: the shares cover every refused record and
// match the run's figures.
func TestRefusalBreakdownSumsToOne(t *testing.T) {
	cfg := DefaultConfig()
	var tr Trace
	for _, s := range SyntheticTraces(cfg.Seed) {
		if s.Name == "synthetic-step-x10" {
			tr = s
		}
	}
	rb := RefusalBreakdown(cfg, tr)
	if rb.ProducerRejectedPercent <= 0 {
		t.Fatalf("the step refused nothing at the producers: %+v", rb)
	}
	sum := 0.0
	for _, c := range RefusalCauses {
		sum += rb.ByCause[c]
	}
	if sum < 0.999 || sum > 1.001 || len(rb.ByCause) > len(RefusalCauses) {
		t.Fatalf("shares %v sum to %v, want 1 over the named causes", rb.ByCause, sum)
	}
}
