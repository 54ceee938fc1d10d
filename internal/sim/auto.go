package sim

import (
	"math"
	"time"

	"github.com/kdp-io/streamprocessor-operator/internal/capacity"
	"github.com/kdp-io/streamprocessor-operator/internal/scaling"
)

// The operator-auto row: spec.stream.capacityMode Auto. Once an hour it
// calls capacity.Decide — the controller's decision function — on the
// stream's write load as CloudWatch holds it (5-minute sums of the bytes and
// records Kinesis accepted, the last week) and the shards the operator saw
// held while provisioned (the open count of each pass, as status.cost.
// heldShards keeps it: capacity.RecordHeld), and switches when the decision
// says so and capacity.SwitchAllowed (two switches per rolling 24 h) lets
// it. Its minutes are composed from two runs of the same trace: the
// operator's provisioned run (shards, tasks, loss) and the on-demand model
// (capacity from the previous peak, loss): each minute is taken from the
// run of the mode the stream is in. The composition does not model the
// switch itself (UPDATING for seconds to minutes; AWS keeps the shard count
// across a switch, so a stream leaving on-demand starts with the on-demand
// stream's shards, not the provisioned run's) — docs/scaling.md.

// autoDecideEvery is how often operator-auto decides (the controller
// decides every pass on load history it reads at most hourly).
const autoDecideEvery = 60

// runOperatorModes runs the operator, operator-auto and on-demand rows:
// the operator's and on-demand's runs are shared with operator-auto.
func runOperatorModes(cfg Config, t Trace) (op, auto, od Result) {
	ct := cfg
	ct.Timeline = true
	op = runOperator(ct, t)
	od = OnDemand(ct, t)
	auto = composeAuto(cfg, t, op, od)
	if !cfg.Timeline {
		op.Timeline, od.Timeline = nil, nil
	}
	return op, auto, od
}

// composeAuto is operator-auto from the operator's run and on-demand's,
// both with their timelines.
func composeAuto(cfg Config, t Trace, op, od Result) Result {
	cfg = cfg.withDefaults()
	res := Result{Policy: "operator-auto", TaskHours: op.TaskHours, TaskCostUSD: op.TaskCostUSD, P99IteratorAgeSeconds: op.P99IteratorAgeSeconds}
	mode := capacity.Provisioned
	var switches []time.Time
	var samples []capacity.Sample
	var cur capacity.Sample
	var held []capacity.HeldHour
	pricing := capacity.Pricing{TargetUtilization: cfg.TargetUtilization, MinShards: 1}
	unitsPerRecord := math.Ceil(cfg.RecordBytes / PutPayloadUnitBytes)
	billedBytes := math.Ceil(cfg.RecordBytes/OnDemandRecordRoundBytes) * OnDemandRecordRoundBytes
	var demRecs, lostRecs, thrRecs, rejRecs, putUnits, odBytes, odHours float64
	for m := range min(len(op.Timeline), len(od.Timeline)) {
		now := t.Start.Add(time.Duration(m) * time.Minute)
		if m > 0 && m%autoDecideEvery == 0 {
			d := capacity.Decide(mode, lastWeek(samples, now), held, now, pricing)
			if ok, _ := capacity.SwitchAllowed(switches, now); ok && d.Mode != mode {
				mode, switches = d.Mode, append(capacity.PruneSwitches(switches, now), now)
				res.ModeSwitches++
			}
		}
		p, o := op.Timeline[m], od.Timeline[m]
		held = capacity.RecordHeld(held, now, mode, p.OpenShards) // the open count each pass sees
		dem := p.OfferedMiBps * scaling.MiB / cfg.RecordBytes * 60
		sent := dem * (1 - p.ProducerRejectedPercent/100) // the operator's tasks in both modes
		demRecs += dem
		rejRecs += dem - sent
		var acc float64
		if mode == capacity.OnDemand {
			acc = sent * (1 - o.ThrottledPercent/100)
			odBytes += acc * billedBytes
			odHours += 1.0 / 60
		} else {
			acc = p.AcceptedMiBps * scaling.MiB / cfg.RecordBytes * 60
			putUnits += acc * unitsPerRecord
			res.ShardHours += float64(p.BilledShards) / 60
			res.MaxShards = max(res.MaxShards, p.BilledShards)
			if p.ReshardTo > 0 {
				res.ReshardCalls++
			}
		}
		thrRecs += sent - acc
		lostRecs += dem - acc
		cur = addToSample(&samples, cur, now, acc*cfg.RecordBytes, acc)
	}
	res.ThrottledPercent, res.ProducerRejectedPercent, res.LostPercent = pct(thrRecs, demRecs), pct(rejRecs, demRecs), pct(lostRecs, demRecs)
	res.OnDemandHours = odHours
	res.StreamCostUSD = res.ShardHours*PriceShardHour + putUnits/1e6*PricePutUnitsMillion +
		odHours*PriceOnDemandStreamHour + odBytes/GB*(PriceOnDemandWriteGB+PriceOnDemandReadGB)
	res.CostUSD = res.StreamCostUSD + res.TaskCostUSD
	return res
}

// addToSample adds one minute's accepted load at now to the 5-minute sample
// cur, appending cur to samples when now starts the next period; CloudWatch
// has no point for a period without traffic.
func addToSample(samples *[]capacity.Sample, cur capacity.Sample, now time.Time, bytes, recs float64) capacity.Sample {
	start := now.Truncate(5 * time.Minute)
	if !cur.Start.Equal(start) {
		if cur.Records > 0 {
			*samples = append(*samples, cur)
		}
		cur = capacity.Sample{Start: start, Period: 5 * time.Minute}
	}
	cur.Bytes += bytes
	cur.Records += recs
	return cur
}

// lastWeek is the tail of samples (oldest first) that started within the
// week before now.
func lastWeek(samples []capacity.Sample, now time.Time) []capacity.Sample {
	from := now.Add(-capacity.Week)
	i := len(samples)
	for i > 0 && !samples[i-1].Start.Before(from) {
		i--
	}
	return samples[i:]
}
