package sim

import (
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/kdp-io/streamprocessor-operator/internal/scaling"
)

// recOp records each pass's shard decision.
type recOp struct {
	*Operator
	rules []string
}

func (r *recOp) Control(v View) Command {
	c := r.Operator.Control(v)
	d := r.Operator.LastDecision
	r.rules = append(r.rules, fmt.Sprintf("%d\t%s\t%s", d.Shards, d.ShardRule, d.ShardReason))
	return c
}

// TestTwitter5Diag (experiment, twitter5): with DIAG_TRACE set, runs the operator
// (or, with DIAG_MEMBER, the frontier member u=0.5/4h/k=0) on that bench trace at
// DIAG_PEAK MiB/s and seed DIAG_SEED and writes its timeline with each pass's
// shard rule and reason to DIAG_OUT (DIAG_MIN2: MinShards 2; DIAG_U: target
// utilization). Skipped otherwise.
func TestTwitter5Diag(t *testing.T) {
	name := os.Getenv("DIAG_TRACE")
	if name == "" {
		t.Skip()
	}
	peak, _ := strconv.ParseFloat(os.Getenv("DIAG_PEAK"), 64)
	seed, _ := strconv.ParseUint(os.Getenv("DIAG_SEED"), 10, 64)
	cfg := DefaultConfig()
	cfg.PeakMiBps, cfg.Seed, cfg.Timeline = peak, seed, true
	trs, err := BenchTraces(cfg, "/work/shared/traces", name)
	if err != nil {
		t.Fatal(err)
	}
	tr := trs[0]
	if u, err := strconv.ParseFloat(os.Getenv("DIAG_U"), 64); err == nil {
		cfg.TargetUtilization = u
	}
	c := cfg.withDefaults()
	op := &recOp{Operator: NewOperator(c, scaling.MaxShardsPerStream)}
	if os.Getenv("DIAG_MIN2") != "" {
		op.In.Stream.MinShards = 2
	}
	var res Result
	if os.Getenv("DIAG_MEMBER") != "" {
		res = Run(c, tr, NewReactive(c, tr, ReactiveParams{Utilization: 0.5, Window: 4 * time.Hour}))
	} else {
		res = Run(c, tr, op)
	}
	t.Logf("lost %.3f shardh %.1f calls %d", res.LostPercent, res.ShardHours, res.ReshardCalls)
	f, _ := os.Create(os.Getenv("DIAG_OUT"))
	defer f.Close()
	fmt.Fprintln(f, "min\ttime\toffered\taccepted\tthr\topen\tbilled\tupd\treshardTo\tdecShards\trule\treason")
	for i, m := range res.Timeline {
		rule := ""
		if i < len(op.rules) {
			rule = op.rules[i]
		}
		fmt.Fprintf(f, "%d\t%s\t%.3f\t%.3f\t%.1f\t%d\t%d\t%v\t%d\t%s\n", m.Minute, tr.Start.Add(timeMinute(m.Minute)).Format("01-02 15:04"), m.OfferedMiBps, m.AcceptedMiBps, m.ThrottledPercent, m.OpenShards, m.BilledShards, m.Updating, m.ReshardTo, rule)
	}
}

func timeMinute(m int) time.Duration { return time.Duration(m) * time.Minute }
