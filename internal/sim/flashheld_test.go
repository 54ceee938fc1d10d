package sim

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kdp-io/streamprocessor-operator/internal/scaling"
)

// flashOnsets are the flash crowd's onsets (flashShape).
var flashOnsets = []int{9 * 60, 24*60 + 14*60, 2*24*60 + 20*60}

// heldSchedule is an idealised policy for the flash crowd: oracle-reactive
// (zero delay, 70 %, 15-minute window, its tasks), but never below
// levels[i] from crowd i-1's onset (levels[0] from the start), so crowd i
// meets at least levels[i] open shards and the level is held through the
// whole calm before it, as a policy that does not know when the next crowd
// comes must hold it. With double, a minute whose need is above the open
// count asks for twice the open count (the most one call may add). The
// levels are chosen knowing the crowds' sizes: it bounds what holding a
// level between crowds can reach, it is not a policy.
type heldSchedule struct {
	o      *OracleReactive
	levels []int32
	double bool
}

func (h *heldSchedule) Name() string { return "held" }

func (h *heldSchedule) Start(first Load) (int32, int32, int32) {
	s, p, c := h.o.Start(first)
	return max(s, h.levels[0]), p, c
}

func (h *heldSchedule) Control(v View) Command {
	o := h.o
	m := int(v.Now.Sub(o.t.Start)/time.Minute) - 1
	sh, pr, co := o.read(m)
	o.shards, o.prod, o.con = append(o.shards, sh), append(o.prod, pr), append(o.con, co)
	cmd := Command{ProducerDesired: windowMax(o.prod, o.taskWindow), ConsumerDesired: windowMax(o.con, o.taskWindow)}
	level := h.levels[0]
	for i := 1; i < len(h.levels); i++ {
		if m >= flashOnsets[i-1] {
			level = h.levels[i]
		}
	}
	target := max(windowMax(o.shards, o.window), level)
	if h.double && sh > v.OpenShards {
		target = max(target, 2*v.OpenShards)
	}
	step := scaling.PlanReshard(scaling.ReshardState{Open: v.OpenShards, Target: target,
		Updating: v.Updating, History: v.ReshardHistory, Now: v.Now})
	if step.Action == scaling.ReshardNow {
		cmd.ReshardTo = step.To
	}
	return cmd
}

// TestFlashHeldSchedules: the flash crowd at 5 MiB/s, seed 1, every level
// of 1–4 shards held before each crowd (from the crowd before it on), the
// climb doubling. Met at one shard (what the smooth goal on its calm level
// leaves a policy whose calm level does not depend on the hour), the first
// crowd alone loses 1.14 % of the trace, and no schedule then meets both
// the loss goal and 2x the floor at 100 %; holding 3 shards from the first
// crowd on meets the loss goal at 2.58x; two shards held from the start
// meets both; without the doubling the same two shards do not. The table
// is printed with -v (docs/scaling.md, "The flash crowd at 5 MiB/s: where
// its loss is").
func TestFlashHeldSchedules(t *testing.T) {
	if testing.Short() {
		t.Skip("64 runs of the model, about 10 s")
	}
	var tr Trace
	for _, x := range SyntheticTraces(1) {
		if strings.HasPrefix(x.Name, "synthetic-flash") {
			tr = x
		}
	}
	cfg := Config{PeakMiBps: 5, Seed: 1}.withDefaults()
	or := Run(cfg, tr, NewOracleReactive(cfg, tr))
	floor, goal := LegalFloorShardHours(cfg, tr, 1), or.LostPercent/2
	run := func(double bool, levels ...int32) Result {
		return Run(cfg, tr, &heldSchedule{o: NewOracleReactive(cfg, tr), levels: levels, double: double})
	}
	t.Logf("oracle-reactive %.3f %%, loss goal %.3f %%, floor at 100 %% %.2f shard-h", or.LostPercent, goal, floor)
	var best Result
	var bestName string
	for h2 := int32(1); h2 <= 4; h2++ {
		for h3 := int32(1); h3 <= 4; h3++ {
			r := run(true, 1, h2, h3)
			t.Logf("held 1/%d/%d: lost %.3f %%, %.2fx, %d calls", h2, h3, r.LostPercent, r.ShardHours/floor, r.ReshardCalls)
			if r.ShardHours <= 2*floor && (bestName == "" || r.LostPercent < best.LostPercent) {
				best, bestName = r, fmt.Sprintf("1/%d/%d", h2, h3)
			}
		}
	}
	if bestName == "" || best.LostPercent <= goal {
		t.Errorf("crowd 1 met at one shard: least lost within 2x = %s %.3f %%, want above the goal %.3f %%", bestName, best.LostPercent, goal)
	}
	if r := run(true, 1, 1, 1); r.LostPercent != or.LostPercent {
		t.Errorf("held 1/1/1 lost %.3f %%, want oracle-reactive's %.3f %% (the climb from one shard already doubles)", r.LostPercent, or.LostPercent)
	}
	if r := run(true, 1, 3, 3); r.LostPercent > goal {
		t.Errorf("held 1/3/3 lost %.3f %%, want at most the goal %.3f %%", r.LostPercent, goal)
	}
	if r := run(true, 2, 2, 2); r.LostPercent > goal || r.ShardHours > 2*floor {
		t.Errorf("held 2/2/2 doubling: %.3f %% at %.2fx, want both goals met", r.LostPercent, r.ShardHours/floor)
	}
	if r := run(false, 2, 2, 2); r.LostPercent <= goal {
		t.Errorf("held 2/2/2 without doubling: %.3f %%, want above the goal (the first call asks for 3, not 4)", r.LostPercent)
	}
}
