// Package capacity decides a Kinesis stream's capacity mode: it prices the
// stream's recent write load in provisioned and in on-demand mode with the
// simulator's prices, chooses the cheaper mode by a margin (spec.stream.
// capacityMode Auto), and keeps AWS's limit of two mode switches per stream
// per rolling 24 hours. Pure: numbers and a clock in, a decision out. The
// controller and the simulator's operator-auto row call the same functions.
package capacity

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/kdp-io/streamprocessor-operator/internal/scaling"
)

// Mode is a stream's capacity mode, spelled as Kinesis spells it.
type Mode string

const (
	Provisioned Mode = "PROVISIONED"
	OnDemand    Mode = "ON_DEMAND"
)

// Other is the mode a switch from m leads to.
func (m Mode) Other() Mode {
	if m == OnDemand {
		return Provisioned
	}
	return OnDemand
}

// AWS's switching rule (docs/scaling.md, "Capacity modes"): at most two
// UpdateStreamMode calls per stream per rolling 24 hours.
const (
	SwitchesPerWindow = 2
	SwitchWindow      = 24 * time.Hour
)

// PruneSwitches returns the switches of history that still count at now
// (newer than 24 hours), oldest first.
func PruneSwitches(history []time.Time, now time.Time) []time.Time {
	out := make([]time.Time, 0, len(history))
	for _, t := range history {
		if now.Sub(t) < SwitchWindow {
			out = append(out, t)
		}
	}
	slices.SortFunc(out, func(a, b time.Time) int { return a.Compare(b) })
	return out
}

// SwitchAllowed reports whether one more switch is within the limit at now
// and, when it is not, when the oldest counted switch ages out.
func SwitchAllowed(history []time.Time, now time.Time) (bool, time.Time) {
	h := PruneSwitches(history, now)
	if len(h) < SwitchesPerWindow {
		return true, time.Time{}
	}
	return false, h[len(h)-SwitchesPerWindow].Add(SwitchWindow)
}

// Sample is the stream's write load over one period: CloudWatch's
// AWS/Kinesis IncomingBytes and IncomingRecords, Sum over Period from Start.
type Sample struct {
	Start          time.Time
	Period         time.Duration
	Bytes, Records float64
}

// Estimate is what the load of one window would have cost per hour in each
// mode.
type Estimate struct {
	// Hours the window covered (at most its length; less when the
	// history is shorter).
	Hours                               float64
	ProvisionedPerHour, OnDemandPerHour float64
}

// PerHour is the estimate for mode m.
func (e Estimate) PerHour(m Mode) float64 {
	if m == OnDemand {
		return e.OnDemandPerHour
	}
	return e.ProvisionedPerHour
}

// Pricing says how a window is priced in provisioned mode.
type Pricing struct {
	// TargetUtilization of the provisioned shards (spec's percent / 100).
	TargetUtilization float64
	// MinShards the provisioned stream keeps.
	MinShards int32
}

// EstimateWindow prices the samples of [now-window, now) in both modes:
//
//   - provisioned: each clock hour holds the shards that the busiest sample
//     of that hour and the HoldHours-1 before it needs at the target
//     utilization (1 MiB/s and 1000 records/s a shard; at least MinShards) —
//     a scaler whose 10 UpdateShardCount calls a day let it come down only
//     every few hours — plus PUT payload units (records rounded up to 25 KiB);
//   - on-demand: the stream-hour plus every byte written and read once (one
//     consumer application), each record rounded up to 1 KiB.
//
// Hours with no sample had no traffic (CloudWatch publishes no point then):
// MinShards and the stream-hour. Record sizes are the window's mean (Bytes
// over Records); with mixed sizes the rounding is underestimated.
func EstimateWindow(samples []Sample, now time.Time, window time.Duration, p Pricing) Estimate {
	from := now.Add(-window)
	if len(samples) > 0 && samples[0].Start.After(from) {
		from = samples[0].Start // history shorter than the window
	}
	from = from.Truncate(time.Hour)
	hours := max(1, int(math.Ceil(now.Sub(from).Hours())))
	need := make([]int32, hours)
	var bytes, recs float64
	u := p.TargetUtilization
	if !(u > 0 && u <= 1) {
		u = 1
	}
	for _, s := range samples {
		i := int(s.Start.Sub(from) / time.Hour)
		if s.Start.Before(from) || i >= hours || s.Period <= 0 {
			continue
		}
		sec := s.Period.Seconds()
		n := math.Max(s.Bytes/sec/(scaling.ShardWriteBytesPerSec*u), s.Records/sec/(scaling.ShardWriteRecordsPerSec*u))
		need[i] = max(need[i], int32(math.Ceil(n-1e-9)))
		bytes += s.Bytes
		recs += s.Records
	}
	var shardHours float64
	for i := range need {
		held := slices.Max(need[max(0, i-HoldHours+1) : i+1])
		shardHours += float64(max(held, p.MinShards, 1))
	}
	e := Estimate{Hours: float64(hours)}
	if recs > 0 {
		mean := bytes / recs
		putUnits := recs * math.Ceil(mean/PutPayloadUnitBytes)
		e.ProvisionedPerHour = putUnits / 1e6 * PricePutUnitsMillion
		billed := recs * math.Ceil(mean/OnDemandRecordRoundBytes) * OnDemandRecordRoundBytes
		e.OnDemandPerHour = billed / GB * (PriceOnDemandWriteGB + PriceOnDemandReadGB)
	}
	e.ProvisionedPerHour = (e.ProvisionedPerHour + shardHours*PriceShardHour) / float64(hours)
	e.OnDemandPerHour = e.OnDemandPerHour/float64(hours) + PriceOnDemandStreamHour
	return e
}

// The Auto policy's constants.
const (
	// HoldHours: a provisioned stream is priced as holding each hour's
	// shard need for this many hours. UpdateShardCount allows 10 calls per
	// rolling 24 h: a scaler that goes up and down again spends two, so it
	// can follow the load down about every 24/5 h.
	HoldHours = 4
	// Margin: the other mode must be this much cheaper (20 %) in both
	// windows before Auto switches: the estimates are rough and a switch
	// spends one of the day's two.
	Margin = 0.20
	// MinHistory: Auto does not switch on less load history than this.
	MinHistory = 24 * time.Hour
	// Day and Week are the two windows Auto prices.
	Day  = 24 * time.Hour
	Week = 7 * Day
)

// Decision is Auto's choice of mode with its inputs.
type Decision struct {
	Mode      Mode
	Day, Week Estimate
	Reason    string
}

// Decide is the Auto policy: from the stream's mode now and its write
// samples (oldest first, up to a week), the mode it should be in. It
// switches only when the other mode is cheaper by Margin over both the last
// day and the last week (hysteresis: a switch back needs the load itself to
// change, not noise around the break-even), and only with at least
// MinHistory of samples. It does not look at the switch ledger: the caller
// applies AWS's limit to whatever mode is wanted.
func Decide(current Mode, samples []Sample, now time.Time, p Pricing) Decision {
	if current != OnDemand {
		current = Provisioned
	}
	d := Decision{Mode: current, Day: EstimateWindow(samples, now, Day, p), Week: EstimateWindow(samples, now, Week, p)}
	other := current.Other()
	cheaper := func(e Estimate) bool { return e.PerHour(other)*(1+Margin) < e.PerHour(current) }
	switch {
	case len(samples) == 0 || now.Sub(samples[0].Start) < MinHistory:
		d.Reason = fmt.Sprintf("%s: less than %s of load history", current, MinHistory)
	case cheaper(d.Day) && cheaper(d.Week):
		d.Mode = other
		d.Reason = fmt.Sprintf("%s is cheaper by more than %.0f%% over the last day and week", other, 100*Margin)
	case cheaper(d.Day) || cheaper(d.Week):
		d.Reason = fmt.Sprintf("%s: %s is cheaper by more than %.0f%% over only one of the last day and week", current, other, 100*Margin)
	default:
		d.Reason = fmt.Sprintf("%s: %s is not cheaper by more than %.0f%%", current, other, 100*Margin)
	}
	return d
}
