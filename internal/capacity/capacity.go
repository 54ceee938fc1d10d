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
//   - provisioned: an hour in held (the stream was provisioned and the
//     operator saw its open shards) is priced at the shards it held; any
//     other hour holds the shards that the busiest sample of that hour and
//     the HoldHours-1 before it needs at the target utilization (1 MiB/s and
//     1000 records/s a shard; at least MinShards) — a scaler whose 10
//     UpdateShardCount calls a day let it come down only every few hours;
//     plus PUT payload units (records rounded up to 25 KiB);
//   - on-demand: the stream-hour plus every byte written and read once (one
//     consumer application), each record rounded up to 1 KiB.
//
// Hours with no sample had no traffic (CloudWatch publishes no point then):
// MinShards and the stream-hour. Record sizes are the window's mean (Bytes
// over Records); with mixed sizes the rounding is underestimated.
func EstimateWindow(samples []Sample, held []HeldHour, now time.Time, window time.Duration, p Pricing) Estimate {
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
	seen := heldByHour(held)
	for i := range need {
		if n, ok := seen[from.Add(time.Duration(i)*time.Hour)]; ok {
			shardHours += float64(n)
			continue
		}
		model := slices.Max(need[max(0, i-HoldHours+1) : i+1])
		shardHours += float64(max(model, p.MinShards, 1))
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
	// Margin: the other mode must be this much cheaper (20 %) over both
	// windows before Auto switches: the estimates are rough and a switch
	// spends one of the day's two.
	Margin = 0.20
	// StrongFactor: when the other mode cost less than 1/StrongFactor
	// (half) over the last hour and the last day, Auto switches whatever
	// the week says — an error of the rough estimates does not halve a
	// day's cost.
	StrongFactor = 2.0
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
	// Hour is the last complete clock hour's estimate.
	Hour   Estimate
	Reason string
}

// Decide is the Auto policy: from the stream's mode now, its write samples
// (oldest first, up to a week) and the shards it held in the hours it was
// provisioned (RecordHeld), the mode it should be in. Only with at least
// MinHistory of samples, it switches
//
//   - when the other mode was cheaper by Margin over the last day and over
//     the last week (hysteresis: noise around the break-even never flips
//     it, and one day unlike its week does not); or
//   - when the other mode cost less than 1/StrongFactor of this one over
//     both the last complete clock hour and the last day — leaving
//     provisioned, unless the week says provisioned was cheaper by Margin.
//
// It does not look at the switch ledger: the caller applies AWS's limit to
// whatever mode is wanted.
//
// The second way is for the shards a provisioned stream holds after a
// large spike (the climb-back hold, priced as observed): they make the
// hours after the spike many times dearer than on-demand and stay in the
// week's estimate for seven days, so with the week's margin asked a stream
// went on-demand late in the hold, if at all, and then stayed on-demand for
// the week while it idled at a fifth of the on-demand price (ec2 at
// 400 MiB/s, docs/scaling.md "Capacity modes"). A factor of two over a day
// is beyond the estimates' error; the last hour must show it too, so that a
// hold already released (the day still has its hours) is no reason to
// switch. The week still vetoes leaving provisioned when it was cheaper by
// the margin (a small stream's hold, not worth two switches), but not the
// return: its provisioned hours hold the very hold Auto left, which its
// on-demand hours, priced at the model, cannot show.
func Decide(current Mode, samples []Sample, held []HeldHour, now time.Time, p Pricing) Decision {
	if current != OnDemand {
		current = Provisioned
	}
	d := Decision{Mode: current, Day: EstimateWindow(samples, held, now, Day, p), Week: EstimateWindow(samples, held, now, Week, p),
		Hour: EstimateWindow(samples, held, now.Truncate(time.Hour), time.Hour, p)}
	other := current.Other()
	// cheaper: the other mode costs less than this one by the factor f.
	cheaper := func(e Estimate, f float64) bool { return e.PerHour(other)*f < e.PerHour(current) }
	// dearer: the other mode costs more than this one by the factor f.
	dearer := func(e Estimate, f float64) bool { return e.PerHour(current)*f < e.PerHour(other) }
	switch {
	case len(samples) == 0 || now.Sub(samples[0].Start) < MinHistory:
		d.Reason = fmt.Sprintf("%s: less than %s of load history", current, MinHistory)
	case cheaper(d.Day, 1+Margin) && cheaper(d.Week, 1+Margin):
		d.Mode = other
		d.Reason = fmt.Sprintf("%s is cheaper by more than %.0f%% over the last day and week", other, 100*Margin)
	case cheaper(d.Hour, StrongFactor) && cheaper(d.Day, StrongFactor) && (current == OnDemand || !dearer(d.Week, 1+Margin)):
		d.Mode = other
		d.Reason = fmt.Sprintf("%s costs less than 1/%.0f over the last hour and the last day", other, StrongFactor)
	case cheaper(d.Day, 1+Margin):
		d.Reason = fmt.Sprintf("%s: %s is cheaper by more than %.0f%% over the last day but not over the last week", current, other, 100*Margin)
	default:
		d.Reason = fmt.Sprintf("%s: %s is not cheaper by more than %.0f%% over the last day", current, other, 100*Margin)
	}
	return d
}
