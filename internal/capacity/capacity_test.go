package capacity

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/kdp-io/streamprocessor-operator/internal/scaling"
)

var t0 = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// load returns 5-minute samples for hours hours from t0 at rate(minute)
// MiB/s in recordBytes-byte records.
func load(hours int, recordBytes float64, rate func(m int) float64) []Sample {
	var out []Sample
	for m := 0; m < hours*60; m += 5 {
		b := rate(m) * scaling.MiB * 300
		if b == 0 {
			continue // CloudWatch has no point for a period without traffic
		}
		out = append(out, Sample{Start: t0.Add(time.Duration(m) * time.Minute), Period: 5 * time.Minute, Bytes: b, Records: b / recordBytes})
	}
	return out
}

func TestEstimateWindowSteadyLoad(t *testing.T) {
	s := load(48, 1000, func(int) float64 { return 7 })
	e := EstimateWindow(s, nil, t0.Add(48*time.Hour), Day, Pricing{TargetUtilization: 0.7, MinShards: 1})
	if e.Hours != 24 {
		t.Fatalf("hours %v, want 24", e.Hours)
	}
	recsPerHour := 7.0 * scaling.MiB / 1000 * 3600
	wantP := 11*PriceShardHour + recsPerHour/1e6*PricePutUnitsMillion // 7340 records/s at 70 %: 11 shards
	wantOD := PriceOnDemandStreamHour + recsPerHour*1024/GB*(PriceOnDemandWriteGB+PriceOnDemandReadGB)
	if math.Abs(e.ProvisionedPerHour-wantP) > 1e-9 || math.Abs(e.OnDemandPerHour-wantOD) > 1e-9 {
		t.Fatalf("estimate %+v, want provisioned %.4f on-demand %.4f", e, wantP, wantOD)
	}
}

func TestEstimateWindowIdleHoursCostTheMinimum(t *testing.T) {
	e := EstimateWindow(nil, nil, t0.Add(Day), Day, Pricing{TargetUtilization: 0.7, MinShards: 2})
	if e.ProvisionedPerHour != 2*PriceShardHour || e.OnDemandPerHour != PriceOnDemandStreamHour {
		t.Fatalf("idle estimate %+v", e)
	}
}

func TestEstimateWindowHoldsABurstForHoldHours(t *testing.T) {
	// One 5-minute burst needing 105 shards (73,400 records/s) at hour 10
	// of a quiet day.
	s := load(24, 1000, func(m int) float64 {
		if m == 600 {
			return 70
		}
		return 0.01
	})
	e := EstimateWindow(s, nil, t0.Add(Day), Day, Pricing{TargetUtilization: 0.7, MinShards: 1})
	shardHours := float64(24-HoldHours) + 105*HoldHours
	var recs float64
	for _, x := range s {
		recs += x.Records
	}
	want := shardHours*PriceShardHour + recs/1e6*PricePutUnitsMillion
	if got := e.ProvisionedPerHour * 24; math.Abs(got-want) > 1e-6 {
		t.Fatalf("provisioned per day %.4f, want %.4f (burst held %d h)", got, want, HoldHours)
	}
}

func TestDecide(t *testing.T) {
	p := Pricing{TargetUtilization: 0.7, MinShards: 1}
	steady := load(8*24, 1000, func(int) float64 { return 5 })
	// Rare large bursts on a near-idle stream: a provisioned stream holds
	// the burst's shards for hours, on-demand bills only the bytes.
	bursty := load(8*24, 1000, func(m int) float64 {
		if m%(6*60) == 0 {
			return 200
		}
		return 0.001
	})
	// A week of bursts, then a day of steady load.
	changed := append(load(7*24, 1000, func(m int) float64 {
		if m%(6*60) == 0 {
			return 200
		}
		return 0.001
	}), load(8*24, 1000, func(m int) float64 { return 5 })[7*24*12:]...)
	end := t0.Add(8 * Day)
	tests := []struct {
		name    string
		current Mode
		samples []Sample
		now     time.Time
		want    Mode
		reason  string
	}{
		{"no history: stays", Provisioned, nil, end, Provisioned, "less than"},
		{"under a day of history: stays", Provisioned, bursty[:100], t0.Add(9 * time.Hour), Provisioned, "less than"},
		{"steady load stays provisioned", Provisioned, steady, end, Provisioned, "not cheaper"},
		{"steady load leaves on-demand", OnDemand, steady, end, Provisioned, "cheaper by more than"},
		{"rare bursts go on-demand", Provisioned, bursty, end, OnDemand, "cheaper by more than"},
		{"rare bursts stay on-demand", OnDemand, bursty, end, OnDemand, "not cheaper"},
		{"a day of steady load on-demand bills 5x: back to provisioned", OnDemand, changed, end, Provisioned, "less than 1/2 over the last hour and the last day"},
		{"empty mode is provisioned", "", steady, end, Provisioned, "not cheaper"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := Decide(tc.current, tc.samples, nil, tc.now, p)
			if d.Mode != tc.want || !strings.Contains(d.Reason, tc.reason) {
				t.Fatalf("Decide = %s (%s), want %s (%q)\nday %+v\nweek %+v", d.Mode, d.Reason, tc.want, tc.reason, d.Day, d.Week)
			}
		})
	}
}

func TestSwitchAllowed(t *testing.T) {
	now := t0.Add(30 * time.Hour)
	tests := []struct {
		name    string
		history []time.Time
		ok      bool
		next    time.Time
	}{
		{"none", nil, true, time.Time{}},
		{"one", []time.Time{now.Add(-time.Hour)}, true, time.Time{}},
		{"two within 24 h", []time.Time{now.Add(-2 * time.Hour), now.Add(-time.Hour)}, false, now.Add(22 * time.Hour)},
		{"two, one aged out", []time.Time{now.Add(-25 * time.Hour), now.Add(-time.Hour)}, true, time.Time{}},
		{"unsorted", []time.Time{now.Add(-time.Hour), now.Add(-3 * time.Hour)}, false, now.Add(21 * time.Hour)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ok, next := SwitchAllowed(tc.history, now)
			if ok != tc.ok || !next.Equal(tc.next) {
				t.Fatalf("SwitchAllowed = %v, %v; want %v, %v", ok, next, tc.ok, tc.next)
			}
		})
	}
}
