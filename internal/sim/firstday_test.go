package sim

import (
	"testing"

	"github.com/kdp-io/streamprocessor-operator/internal/scaling"
)

// TestDiurnalFirstDay is issue 13's diurnal case found by the judge: at
// 400 MiB/s with seed 2 the operator lost 3.129 % of the week's records,
// all on its first day. Started at midnight with no history, it took the
// night's level for the day's peak, spent calls on the way down and up
// again, and went down with its last call at 08:15 while the load rose;
// the day's peak then met 203 shards needing about 600. With the first
// day's rules (scaling/firstday.go) it loses nothing.
func TestDiurnalFirstDay(t *testing.T) {
	if testing.Short() {
		t.Skip("a week at 400 MiB/s")
	}
	c := DefaultConfig()
	c.PeakMiBps, c.Seed = 400, 2
	var tr Trace
	for _, x := range SyntheticTraces(c.Seed) {
		if x.Name == "synthetic-diurnal" {
			tr = x
		}
	}
	r := Run(c, tr, NewOperator(c, scaling.MaxShardsPerStream))
	if r.LostPercent > 0.1 {
		t.Errorf("diurnal at 400 MiB/s, seed 2: lost %.3f %%, want ≤ 0.1 (issue 13's smooth goal)", r.LostPercent)
	}
}
