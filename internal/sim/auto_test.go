package sim

import (
	"math"
	"testing"
	"time"

	"github.com/kdp-io/streamprocessor-operator/internal/capacity"
)

// bursts is days of a near-idle stream with a burst to the peak for width
// minutes every every minutes: the provisioned operator scales up for each
// burst and its scale-down window and call budget keep the shards for
// long after; on-demand pays for the bytes only.
func bursts(days, every, width int) Trace {
	l := make([]float64, days*24*60)
	for i := range l {
		l[i] = 0.0005
		if i%every < width {
			l[i] = 1
		}
	}
	return Trace{Name: "bursts", Start: synthStart, Load: l}
}

// TestOperatorAutoStaysProvisionedWhenCheaper: on a steady load the
// decision keeps the provisioned stream, so operator-auto is the operator.
func TestOperatorAutoStaysProvisionedWhenCheaper(t *testing.T) {
	cfg := DefaultConfig()
	op, auto, od := runOperatorModes(cfg, flat(3*24*60, 0.5))
	if auto.ModeSwitches != 0 || auto.OnDemandHours != 0 {
		t.Fatalf("operator-auto switched %d times (%.0f h on-demand) on a steady load", auto.ModeSwitches, auto.OnDemandHours)
	}
	if math.Abs(auto.StreamCostUSD-op.StreamCostUSD) > 1e-6*op.StreamCostUSD || auto.LostPercent != op.LostPercent || auto.ShardHours != op.ShardHours {
		t.Fatalf("operator-auto %+v differs from the operator %+v", auto, op)
	}
	if op.StreamCostUSD >= od.StreamCostUSD {
		t.Fatalf("premise: provisioned $%.2f should be cheaper than on-demand $%.2f", op.StreamCostUSD, od.StreamCostUSD)
	}
	if op.Timeline != nil || od.Timeline != nil {
		t.Fatal("the bench's rows carry timelines")
	}
}

// TestOperatorAutoGoesOnDemandOnRareBursts: where the provisioned stream
// idles most of the day, operator-auto switches to on-demand after its day
// of history, once, and meets issue 13's cost goal (≤ 1.1x the cheaper of
// the operator and on-demand).
func TestOperatorAutoGoesOnDemandOnRareBursts(t *testing.T) {
	cfg := DefaultConfig()
	op, auto, od := runOperatorModes(cfg, bursts(4, 180, 10))
	t.Logf("operator $%.2f, on-demand $%.2f, operator-auto $%.2f (%d switches, %.0f h on-demand)", op.StreamCostUSD, od.StreamCostUSD, auto.StreamCostUSD, auto.ModeSwitches, auto.OnDemandHours)
	if auto.ModeSwitches != 1 || auto.OnDemandHours < 48 || auto.OnDemandHours > 3*24 {
		t.Fatalf("operator-auto: %d switches, %.0f h on-demand; want one switch to on-demand on its second day", auto.ModeSwitches, auto.OnDemandHours)
	}
	if auto.StreamCostUSD > 1.1*min(op.StreamCostUSD, od.StreamCostUSD) {
		t.Fatalf("operator-auto $%.2f above 1.1x min(operator $%.2f, on-demand $%.2f)", auto.StreamCostUSD, op.StreamCostUSD, od.StreamCostUSD)
	}
}

func TestAddToSampleAndLastWeek(t *testing.T) {
	var samples []capacity.Sample
	var cur capacity.Sample
	for m := range 12 {
		cur = addToSample(&samples, cur, synthStart.Add(time.Duration(m)*time.Minute), 100, 1)
	}
	if len(samples) != 2 || samples[0].Bytes != 500 || samples[1].Records != 5 || cur.Bytes != 200 {
		t.Fatalf("samples %+v, current %+v", samples, cur)
	}
	if got := lastWeek(samples, synthStart.Add(capacity.Week+5*time.Minute)); len(got) != 1 || !got[0].Start.Equal(synthStart.Add(5*time.Minute)) {
		t.Fatalf("lastWeek = %+v", got)
	}
}

// spikeThenQuiet is days of a steady low load with one spike to the peak
// for width minutes at day spikeDay, and a quieter load after it: ec2's
// shape (docs/scaling.md, "Capacity modes").
func spikeThenQuiet(days, spikeDay, width int) Trace {
	l := make([]float64, days*24*60)
	at := spikeDay * 24 * 60
	for i := range l {
		switch {
		case i < at:
			l[i] = 0.003
		case i < at+width:
			l[i] = 1
		default:
			l[i] = 0.0005
		}
	}
	return Trace{Name: "spike-then-quiet", Start: synthStart, Load: l}
}

// TestOperatorAutoLeavesASpikesHold: after one spike to 400 MiB/s on a
// stream that idles at 1.2 MiB/s, the provisioned operator holds the
// spike's shards for about two days (the calls to climb back would be
// gone). operator-auto, pricing the hours at the shards it saw held, goes
// on-demand during the hold and comes back when the quiet load is cheaper
// provisioned again: two switches, a third cheaper than the operator.
// Pricing a model of the shards instead, it never switched. It does not
// reach issue 13's 1.1x of on-demand here (on-demand is the cheapest mode
// of this trace): the switch waits until the held shards cost twice what
// on-demand billed over the day, the spike's bytes included — about 14
// hours into the hold (docs/scaling.md, "Capacity modes").
func TestOperatorAutoLeavesASpikesHold(t *testing.T) {
	cfg := DefaultConfig()
	cfg.PeakMiBps = 400
	op, auto, od := runOperatorModes(cfg, spikeThenQuiet(10, 6, 60))
	t.Logf("operator $%.2f, on-demand $%.2f, operator-auto $%.2f (%d switches, %.0f h on-demand)", op.StreamCostUSD, od.StreamCostUSD, auto.StreamCostUSD, auto.ModeSwitches, auto.OnDemandHours)
	if auto.ModeSwitches != 2 || auto.OnDemandHours > 48 {
		t.Fatalf("operator-auto: %d switches, %.0f h on-demand; want on-demand for the hold and back", auto.ModeSwitches, auto.OnDemandHours)
	}
	// The operator sheds this one-off spike's top by merges after
	// oneOffQuietHours quiet hours ($305.12 → $295.77), so operator-auto
	// saves less against it: 0.69x → 0.71x.
	if auto.StreamCostUSD > 0.72*op.StreamCostUSD {
		t.Fatalf("operator-auto $%.2f, want at most 0.72x the operator's $%.2f", auto.StreamCostUSD, op.StreamCostUSD)
	}
}
