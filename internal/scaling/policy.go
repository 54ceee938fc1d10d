package scaling

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Per-shard write limits of a provisioned Kinesis data stream. After KPL
// aggregation the record limit counts Kinesis records, not user records.
const (
	MiB                     = 1 << 20
	ShardWriteBytesPerSec   = 1 * MiB
	ShardWriteRecordsPerSec = 1000
)

// Timing of CloudWatch data as the policy assumes it: one datapoint per
// minute, stamped with the start of its minute, published 1–3 minutes late;
// the newest published point may still be partial.
const (
	// MetricPeriod is the GetMetricData period the caller must request.
	MetricPeriod = time.Minute
	// MetricLookback is how far back the caller must query (StartTime =
	// now - MetricLookback, EndTime = now).
	MetricLookback = 15 * time.Minute
	// CompleteAfter is how long after its minute ends a datapoint is taken
	// as final. Newer points are partial: lower bounds of the load, good
	// for deciding to scale up and never used to scale down.
	CompleteAfter = 3 * time.Minute
	// StaleAfter: with no datapoint starting within this long before now,
	// the metric counts as missing and the targets it drives are held.
	StaleAfter = 10 * time.Minute
	// upWindow is how far back the newest load is looked for when scaling
	// up: the four newest complete minutes plus any partial ones.
	upWindow = CompleteAfter + 4*time.Minute
)

// Point is one CloudWatch datapoint: Time is the start of its one-minute
// period, Value the statistic (Sum for Kinesis counters, Average for CPU,
// Maximum for iterator age).
type Point struct {
	Time  time.Time
	Value float64
}

// StreamMetrics are the AWS/Kinesis series of the stream, Sum per minute
// except IteratorAgeMs (Maximum per minute). A nil or empty series means
// CloudWatch returned nothing, which is treated as missing, not as zero.
type StreamMetrics struct {
	IncomingBytes   []Point // IncomingBytes, Sum
	IncomingRecords []Point // IncomingRecords, Sum
	WriteThrottled  []Point // WriteProvisionedThroughputExceeded, Sum (records)
	IteratorAgeMs   []Point // GetRecords.IteratorAgeMilliseconds, Maximum
	// ReadThrottled (optional): ReadProvisionedThroughputExceeded, Sum
	// (GetRecords calls refused); any in the fresh minutes, with the
	// consumer at a task per open shard, makes the read side add shards.
	ReadThrottled []Point
	// IngestBytes (optional) is the producer's own count of bytes accepted
	// from clients (StreamProcessor/Producer IngestBytes, Sum per minute over
	// all tasks). It is the demand before Kinesis throttling, so when it is
	// higher than IncomingBytes it is what the shards must carry. The
	// producers publish it at high resolution, so a minute appears here
	// seconds after it ends, before AWS/Kinesis has it (1–3 minutes):
	// withIngestOnly.
	IngestBytes []Point
}

// StreamConfig comes from spec.stream.
type StreamConfig struct {
	MinShards, MaxShards int32
	// TargetUtilization is spec.stream.targetUtilizationPercent / 100, in
	// (0, 1]; the fraction of the per-shard write limits the policy aims to
	// use, leaving the rest for bursts inside a minute and for the time a
	// reshard takes.
	TargetUtilization float64
	// ScaleDownStabilization: shards fall only to the highest need seen
	// over this window (DefaultShardScaleDown when zero).
	ScaleDownStabilization time.Duration
	// ReshardReserve is how many reshard calls a scale-down must leave
	// unspent beyond those needed to climb back to the highest need of the
	// last 24 hours (DefaultReshardReserve, none, when zero or negative).
	// One more is kept while calls were spent faster than evenly over the
	// 24 h window (see aheadOfPace).
	ReshardReserve int
	// Planner picks the shard planner: PlannerRules ("" or "rules", the
	// default: decideShards) or PlannerHorizon (the receding-horizon
	// planner, decideShardsHorizon).
	Planner string
	// NoReadSide turns the read side's shard rule off (no spec field sets
	// it; the simulator does, to measure the rule).
	NoReadSide bool
}

// Shard planners (StreamConfig.Planner).
const (
	PlannerRules   = "rules"
	PlannerHorizon = "horizon"
)

// TaskConfig comes from spec.producer or spec.consumer.
type TaskConfig struct {
	MinTasks, MaxTasks int32
	TargetCPUPercent   float64 // (0, 100]
	// MaxIteratorAgeSeconds (consumer only): the iterator age the consumer
	// must stay under; 0 disables the iterator-age rule.
	MaxIteratorAgeSeconds float64
	// TargetRequestsPerTask (optional, producer): requests per second one
	// task should serve; with TaskObservation.Requests it adds the HPA rule
	// on request rate, and the higher of the CPU and rate answers wins.
	TargetRequestsPerTask float64
	// ScaleDownStabilization (DefaultTaskScaleDown when zero) and
	// ScaleUpStabilization (none when zero) as in the HPA's behavior.
	ScaleDownStabilization, ScaleUpStabilization time.Duration
}

// TaskObservation is what ECS and CloudWatch say about one service.
type TaskObservation struct {
	Desired, Running int32
	CPUPercent       []Point // AWS/ECS CPUUtilization, Average per minute
	// Requests (optional) are the requests served per minute by all tasks
	// (Sum), e.g. the producer's StreamProcessor/Producer IngestRecords,
	// which counts only records accepted into the buffer.
	Requests []Point
	// Refused (optional) are the requests of the same unit refused per
	// minute by all tasks for lack of capacity (Sum; HTTP 429/503). Served
	// is capped by what the tasks can carry, like their CPU; served plus
	// refused is the demand. The CPU rule scales a minute's CPU by
	// demand ÷ served (hpaDemand, with or without a target rate), and the
	// rate rule, with TargetRequestsPerTask, sizes for the demand.
	Refused []Point
}

// Defaults used when a config field is zero.
const (
	DefaultShardScaleDown = 15 * time.Minute
	DefaultReshardReserve = 0
	DefaultTaskScaleDown  = 5 * time.Minute
	// TaskTolerance: no change while observed/target is within ±10 %, as
	// the HPA does.
	TaskTolerance = 0.10
)

// Inputs is everything Decide needs for one StreamProcessor in one pass.
type Inputs struct {
	Stream   StreamConfig
	Producer TaskConfig
	Consumer TaskConfig

	OpenShards     int32       // open shards now (DescribeStreamSummary)
	StreamUpdating bool        // stream status UPDATING or CREATING
	ReshardHistory []time.Time // status.stream.reshards
	Metrics        StreamMetrics
	ProducerTasks  TaskObservation
	ConsumerTasks  TaskObservation
}

// Rec is one past recommendation kept for a stabilization window. At is in
// Unix seconds so the state serialises without time-zone or CRD-schema
// questions.
type Rec struct {
	At int64 `json:"at"`
	N  int32 `json:"n"`
}

// State is what Decide remembers between passes. It is small (a few dozen
// numbers), JSON-serialisable, and must be persisted in the object's status
// so a restarted operator keeps its stabilization windows. The zero State
// is valid (a fresh object).
type State struct {
	Shards []Rec `json:"shards,omitempty"`
	// ShardPeaks holds the highest shard recommendation of each hour of the
	// last 24 hours: scale-down keeps the budget to climb back to it.
	ShardPeaks []Rec `json:"shardPeaks,omitempty"`
	Producer   []Rec `json:"producer,omitempty"`
	Consumer   []Rec `json:"consumer,omitempty"`
	// ProducerRunning holds the running producer tasks seen by each pass
	// (one entry a minute, the highest) for runningKept: the CPU rule
	// counting refused records scales the tasks that ran in the minute it
	// measured, not the ones running now (runningDuring).
	ProducerRunning []Rec `json:"producerRunning,omitempty"`
	// ProducerSurges holds the largest surge of the producers' work in
	// each hour of the last day, in tasks at the CPU target
	// (taskheadroom.go): while surges recur, the producer holds the second
	// largest as headroom. At most 25 entries.
	ProducerSurges []Rec `json:"producerSurges,omitempty"`
	// ConsumerRunning holds the running consumer tasks seen by each pass,
	// as ProducerRunning: the consumer's CPU rule scales the tasks that ran
	// in the minute it measured.
	ConsumerRunning []Rec `json:"consumerRunning,omitempty"`
	// WeekPeaks holds the highest write demand of each hour of the last
	// week, in 1/DemandPerShard shards at 100 % (week.go): the horizon
	// planner's same hour of the previous week, and the rule stack's test
	// of a one-off top (oneOffTop) and of a rise out of a quiet day
	// (risesOutOfQuiet). At most 169 entries.
	WeekPeaks []Rec `json:"weekPeaks,omitempty"`
	// MergeFrom and MergeSince: the open count at the start of the halving
	// by MergeShards under way, and when it started (Unix seconds; both 0:
	// none). Until it ends the stream carries only as MergeFrom/2 shards.
	MergeFrom  int32 `json:"mergeFrom,omitempty"`
	MergeSince int64 `json:"mergeSince,omitempty"`
	// UpdatingSeen is the newest pass that saw the stream UPDATING (Unix
	// seconds; 0: none): how long the last call kept it UPDATING
	// (cutShortNeed).
	UpdatingSeen int64 `json:"updatingSeen,omitempty"`
}

// DeepCopyInto copies s into out, so API types can embed a State.
func (s *State) DeepCopyInto(out *State) {
	*out = *s // the scalar fields; the lists are cloned below
	out.Shards = slices.Clone(s.Shards)
	out.ShardPeaks = slices.Clone(s.ShardPeaks)
	out.Producer = slices.Clone(s.Producer)
	out.Consumer = slices.Clone(s.Consumer)
	out.ProducerRunning = slices.Clone(s.ProducerRunning)
	out.ProducerSurges = slices.Clone(s.ProducerSurges)
	out.ConsumerRunning = slices.Clone(s.ConsumerRunning)
	out.WeekPeaks = slices.Clone(s.WeekPeaks)
}

// DeepCopy returns a copy of s.
func (s *State) DeepCopy() *State {
	if s == nil {
		return nil
	}
	out := new(State)
	s.DeepCopyInto(out)
	return out
}

// Used are the metric values a decision rested on, for status.
type Used struct {
	BytesPerSec      float64 `json:"bytesPerSec"`      // demand incl. throttled, newest window max
	RecordsPerSec    float64 `json:"recordsPerSec"`    // Kinesis records, demand incl. throttled
	ThrottledPercent float64 `json:"throttledPercent"` // of records in the newest window
	NeededShards     float64 `json:"neededShards"`     // before rounding
	IteratorAgeSec   float64 `json:"iteratorAgeSeconds"`
	ProducerCPU      float64 `json:"producerCPUPercent"`
	ConsumerCPU      float64 `json:"consumerCPUPercent"`
	// ProducerRecordsPerTask is the producer's ingest rate per running task,
	// when a target rate per task is set and the producer publishes it.
	ProducerRecordsPerTask float64 `json:"producerRecordsPerSecondPerTask,omitempty"`
	// ProducerDemandCPU is the producer's CPU counting the records it
	// refused (cpu × (accepted + refused) ÷ accepted), when the minute the
	// CPU rule rests on refused any; the rule ran on it.
	ProducerDemandCPU float64 `json:"producerDemandCPUPercent,omitempty"`
	// ProducerProjectedCPU is the CPU the running producer tasks would
	// need now by the trend of the newest complete minutes, when that rule
	// decided (risingAnswer).
	ProducerProjectedCPU float64 `json:"producerProjectedCPUPercent,omitempty"`
	// ProducerHeadroomTasks is the producer tasks added to the rules'
	// answer for recurring surges (taskheadroom.go), when any.
	ProducerHeadroomTasks int32 `json:"producerHeadroomTasks,omitempty"`
	BudgetLeft            int   `json:"reshardBudgetLeft"`
	NewestPoint           int64 `json:"newestPoint,omitempty"` // Unix seconds of the newest Kinesis datapoint
	// ShardSide says which side decided the shard target: SideWrite (the
	// producers' load) or SideRead (consumers at full width falling behind).
	ShardSide string `json:"shardSide,omitempty"`
}

// Map renders the inputs as strings for status.lastDecision.inputs.
func (u Used) Map() map[string]string {
	f := func(v float64, prec int) string { return strconv.FormatFloat(v, 'f', prec, 64) }
	m := map[string]string{
		"incomingMiBPerSec":     f(u.BytesPerSec/MiB, 3),
		"incomingRecordsPerSec": f(u.RecordsPerSec, 0),
		"throttledPercent":      f(u.ThrottledPercent, 3),
		"neededShards":          f(u.NeededShards, 2),
		"iteratorAgeSeconds":    f(u.IteratorAgeSec, 1),
		"producerCPUPercent":    f(u.ProducerCPU, 1),
		"consumerCPUPercent":    f(u.ConsumerCPU, 1),
		"reshardCallsLeftIn24h": strconv.Itoa(u.BudgetLeft),
	}
	if u.ProducerRecordsPerTask > 0 {
		m["producerRecordsPerSecondPerTask"] = f(u.ProducerRecordsPerTask, 0)
	}
	if u.ProducerDemandCPU > 0 {
		m["producerDemandCPUPercent"] = f(u.ProducerDemandCPU, 1)
	}
	if u.ProducerProjectedCPU > 0 {
		m["producerProjectedCPUPercent"] = f(u.ProducerProjectedCPU, 1)
	}
	if u.ProducerHeadroomTasks > 0 {
		m["producerHeadroomTasks"] = strconv.Itoa(int(u.ProducerHeadroomTasks))
	}
	if u.ShardSide != "" {
		m["shardSide"] = u.ShardSide
	}
	if u.NewestPoint != 0 {
		m["newestKinesisDatapoint"] = time.Unix(u.NewestPoint, 0).UTC().Format(time.RFC3339)
	}
	return m
}

// Decision is the outcome of one Decide call.
type Decision struct {
	Shards, ProducerTasks, ConsumerTasks int32
	// Held is true when some target was held because its metrics are missing.
	Held bool
	// ShardReason, ProducerReason and ConsumerReason are one sentence each;
	// Reason joins them for status.lastDecision.
	ShardReason, ProducerReason, ConsumerReason, Reason string
	// ShardRule is the rule that set Shards (ShardReason in a word).
	ShardRule ShardRule
	// ByMerge says Shards is reached by MergeShards, not UpdateShardCount:
	// Shards is below the open count and at least half of it, and the
	// actor merges one adjacent pair of open shards per pass while the
	// stream is ACTIVE (the pair with the narrowest joint hash-key range, so
	// that a halving ends with even shards). Merges spend none of the
	// UpdateShardCount calls of the 24 h window.
	ByMerge bool
	Used    Used
}

// Decide computes the three targets for one StreamProcessor from one pass's
// observations and the State of the previous pass, and returns the State to
// persist. It is pure: the same arguments give the same result.
//
// Contracts:
//   - Shards stay in [MinShards, MaxShards] (and 1..MaxShardsPerStream);
//     tasks in [MinTasks, MaxTasks]; consumer tasks never above the open
//     shard count (or the shard target while scaling up), since a worker
//     without a lease does nothing.
//   - Missing metrics hold the affected target at its current value and
//     set Held, with the reason saying which metric is missing.
//   - Shards rise as soon as the newest data (partial points included: they
//     are lower bounds) needs more, by a step that grows as the reshard
//     budget shrinks. They fall only to the highest need over the
//     stabilization window (projected an hour ahead while it rises, and not
//     below the coming hour's need yesterday when today matches yesterday),
//     by at least a quarter, not within a window of the last reshard, not
//     while the need rises hour over hour, and only while the calls left
//     (plus those leaving the 24 h window during the climb) could climb
//     back to the last 24 hours' peak by doublings (before a whole day of
//     hourly peaks is recorded and while the need rises, to the open count
//     when higher: climbLevel), plus ReshardReserve and one more while calls
//     were spent faster than evenly.
//   - Producer tasks follow the HPA rule on CPU counting the records the
//     producer refused (cpu × (accepted + refused) ÷ accepted for a minute
//     with refusals, hpaDemand), and the rate rule when a target rate is
//     set; the higher answer wins.
//   - Passes may come at any rate: State keeps one entry per minute per
//     window, hourly peaks for 25 hours and the hourly demand peaks
//     (WeekPeaks) of a day, or of a week for the horizon planner.
//   - The shard target may be more than one legal step away; PlanReshard
//     turns it into calls.
//   - StreamConfig.Planner "horizon" replaces the shard rules above with the
//     receding-horizon planner (decideShardsHorizon); the default is the
//     rules.
//   - With the consumer at a task per open shard and its iterator age
//     growing (or reads refused while it rises), the read side raises the
//     shard target (readside.go); Used.ShardSide says which side decided.
func Decide(in Inputs, prev State, now time.Time) (Decision, State) {
	var d Decision
	var next State
	// Both planners read the week: the horizon planner its same hour, the
	// rules whether the day's top was a one-off (oneOffTop).
	h := halvingOf(prev)
	plan := rulesPlanner(prev.WeekPeaks, h, prev.UpdatingSeen)
	if in.Stream.Planner == PlannerHorizon {
		plan = horizonPlanner(prev.WeekPeaks)
	}
	d.Shards, d.ShardReason, next.Shards, next.ShardPeaks = plan(in, prev.Shards, prev.ShardPeaks, now, &d)
	next.WeekPeaks = keepWeek(prev.WeekPeaks, now, d.Used, weekHours)
	d.Shards, d.ShardReason = applyReadSide(in, now, d.Shards, d.ShardReason, &d)
	d.ByMerge = d.ByMerge && d.ShardRule == ShardMergeDown // the read side may raise it
	h = h.next(d, in, now)
	next.MergeFrom, next.MergeSince = h.from, h.since
	next.UpdatingSeen = prev.UpdatingSeen
	if in.StreamUpdating {
		next.UpdatingSeen = now.Unix()
	}
	next.ProducerRunning = keepRecs(prev.ProducerRunning, now, runningKept, in.ProducerTasks.Running)
	work := newestWork(in.ProducerTasks, next.ProducerRunning, now)
	next.ProducerSurges = recordSurge(in, prev.ProducerSurges, next.ProducerRunning, work, now)
	d.ProducerTasks, d.ProducerReason, next.Producer = decideProducer(in, prev.Producer, next.ProducerRunning, work, surgeHeadroom(next.ProducerSurges), now, &d)
	next.ConsumerRunning = keepRecs(prev.ConsumerRunning, now, runningKept, in.ConsumerTasks.Running)
	d.ConsumerTasks, d.ConsumerReason, next.Consumer = decideConsumer(in, d.Shards, prev.Consumer, next.ConsumerRunning, now, &d)
	d.Reason = strings.Join([]string{"shards: " + d.ShardReason, "producer: " + d.ProducerReason, "consumer: " + d.ConsumerReason}, "; ")
	return d, next
}

func clamp32(n, lo, hi int32) int32 {
	if hi < lo {
		hi = lo
	}
	return min(max(n, lo), hi)
}

// ceil32 rounds up and saturates at the int32 range.
func ceil32(x float64) int32 {
	if math.IsNaN(x) || x <= 0 {
		return 0
	}
	if x >= math.MaxInt32 {
		return math.MaxInt32
	}
	return int32(math.Ceil(x - 1e-9))
}

// keepRecs drops recommendations older than window and appends the new one.
// Passes within the same minute share one entry (the highest), so the
// state stays small however often the reconciler runs.
func keepRecs(prev []Rec, now time.Time, window time.Duration, n int32) []Rec {
	cut := now.Add(-window).Unix()
	out := make([]Rec, 0, len(prev)+1)
	for _, r := range prev {
		if r.At > cut && r.At <= now.Unix() {
			out = append(out, r)
		}
	}
	if k := len(out) - 1; k >= 0 && out[k].At/60 == now.Unix()/60 {
		out[k].N = max(out[k].N, n)
		return out
	}
	return append(out, Rec{At: now.Unix(), N: n})
}

func maxRec(recs []Rec) int32 {
	var m int32
	for _, r := range recs {
		m = max(m, r.N)
	}
	return m
}

func minRec(recs []Rec) int32 {
	m := int32(math.MaxInt32)
	for _, r := range recs {
		m = min(m, r.N)
	}
	return m
}

// minuteLoad is the stream's load in one minute.
type minuteLoad struct {
	at                     time.Time
	bytes, recs, throttled float64 // per second
	ingest                 float64 // producer's ingest bytes per second, 0 if unknown
	// refusedFactor is the producer's (accepted + refused) ÷ accepted of
	// the minute when it refused records (refusedneed.go), 0 otherwise.
	refusedFactor float64
	complete      bool
}

func isComplete(p time.Time, now time.Time) bool {
	return !p.Add(MetricPeriod + CompleteAfter).After(now)
}

// minuteOf keys a datapoint by its minute, so series whose timestamps are
// not aligned to the second (emulators, PutMetricData) still join.
func minuteOf(t time.Time) int64 { return t.Unix() / 60 }

// loads joins the Kinesis series by minute. A minute needs IncomingBytes;
// a missing records or throttle point in it counts as 0 (CloudWatch omits
// zero-valued Kinesis points within a minute that has traffic). Minutes
// only the producers have published yet follow (withIngestOnly).
func loads(m StreamMetrics, now time.Time) []minuteLoad {
	byMin := map[int64]*minuteLoad{}
	for _, p := range m.IncomingBytes {
		if p.Time.After(now) || !(p.Value >= 0) {
			continue
		}
		k := minuteOf(p.Time)
		byMin[k] = &minuteLoad{at: p.Time, bytes: p.Value / 60, complete: isComplete(p.Time, now)}
	}
	for _, p := range m.IncomingRecords {
		if l := byMin[minuteOf(p.Time)]; l != nil && p.Value >= 0 {
			l.recs = p.Value / 60
		}
	}
	for _, p := range m.WriteThrottled {
		if l := byMin[minuteOf(p.Time)]; l != nil && p.Value >= 0 {
			l.throttled = p.Value / 60
		}
	}
	for _, p := range m.IngestBytes {
		if l := byMin[minuteOf(p.Time)]; l != nil && p.Value >= 0 {
			l.ingest = p.Value / 60
		}
	}
	out := make([]minuteLoad, 0, len(byMin))
	for _, l := range byMin {
		out = append(out, *l)
	}
	slices.SortFunc(out, func(a, b minuteLoad) int { return a.at.Compare(b.at) })
	return withIngestOnly(out, m.IngestBytes, now)
}

// shardsFor is the shard need of one minute at utilization u. Throttled
// records were refused, so they are added back to the demand; their bytes
// are estimated at the minute's mean record size. Records the producers
// refused count too (refusedFactor).
func shardsFor(l minuteLoad, u float64) (need, bytes, recs float64) {
	bytes, recs = l.bytes, l.recs
	if l.throttled > 0 {
		if recs > 0 {
			bytes *= (recs + l.throttled) / recs
		}
		recs += l.throttled
	}
	if l.ingest > bytes && bytes > 0 {
		// The producer took more than Kinesis shows: scale records alike.
		recs *= l.ingest / bytes
		bytes = l.ingest
	}
	if l.refusedFactor > 1 {
		// Records the producers refused reach the stream once tasks start.
		bytes *= l.refusedFactor
		recs *= l.refusedFactor
	}
	need = max(bytes/(ShardWriteBytesPerSec*u), recs/(ShardWriteRecordsPerSec*u))
	return need, bytes, recs
}

// throttleMargin is how much target utilization drops while writes are
// being throttled: throttling at an average below the limit means bursts
// or uneven keys that the average does not show.
const throttleMargin = 0.10

// keepPeaks records n in the bucket of the current hour and keeps the
// buckets of the last 25 hours (the day's peak, and the same and the next
// hour yesterday).
func keepPeaks(prev []Rec, now time.Time, n int32) []Rec {
	hour := now.Truncate(time.Hour).Unix()
	cut := now.Truncate(time.Hour).Add(-25 * time.Hour).Unix()
	out := make([]Rec, 0, len(prev)+1)
	for _, r := range prev {
		if r.At > cut && r.At < hour {
			out = append(out, r)
		} else if r.At == hour {
			n = max(n, r.N)
		}
	}
	return append(out, Rec{At: hour, N: n})
}

// upStep is the smallest relative increase a scale-up makes, by reshard
// budget left: with few calls left, a rising load must not spend the rest
// on small steps.
func upStep(budgetLeft int) float64 {
	switch {
	case budgetLeft >= 8:
		return 0.25
	case budgetLeft >= 5:
		return 0.5
	default:
		return 1
	}
}

// callsUp is how many calls it takes to go from n up to peak shards.
func callsUp(n, peak int32) int {
	if peak <= n {
		return 0
	}
	return len(PlanReshardPath(n, peak))
}

// aheadOfPace reports whether calls were spent faster than evenly over the
// window: more than k calls within the last k/ReshardsPerWindow of it, for
// some k.
func aheadOfPace(calls []time.Time, now time.Time) bool {
	pace := ReshardWindow / ReshardsPerWindow
	for k := 1; k <= len(calls); k++ {
		n := 0
		for _, c := range calls {
			if now.Sub(c) < time.Duration(k)*pace {
				n++
			}
		}
		if n > k {
			return true
		}
	}
	return false
}

// climbStep is the shortest time between two calls of a climb: the stream
// is UPDATING for at least 3 minutes after each call, and the next pass
// sees it ACTIVE a little later. Calls leaving the 24 h window within a
// climb count for its later steps only, at this pace.
const climbStep = 4 * time.Minute

// canClimb reports whether a climb from n to peak shards started now could
// make every call of its doubling path when it is due, given left calls
// unspent now and the window's calls (oldest first) of which some leave the
// window during the climb: call i of the path is due at now + i·climbStep
// and needs left + (calls gone by then) − i ≥ 1. With left < 0 (calls that
// are planned but not made yet) the climb is judged the same way.
func canClimb(left int, calls []time.Time, now time.Time, n, peak int32) bool {
	steps := callsUp(n, peak)
	for i := range steps {
		due := now.Add(time.Duration(i) * climbStep)
		gone := 0
		for _, c := range calls {
			if !c.Add(ReshardWindow).After(due) {
				gone++
			}
		}
		if left+gone-i < 1 {
			return false
		}
	}
	return true
}

// snapQuarter moves n up to the next multiple of 25 % of open when that
// costs at most 10 % more shards: AWS finishes such reshards faster.
func snapQuarter(n, open int32) int32 {
	if open < 4 {
		return n
	}
	q := float64(open) / 4
	k := math.Ceil(float64(n)/q - 1e-9)
	s := k * q
	if s == math.Trunc(s) && s <= float64(n)*1.10 {
		return int32(s)
	}
	return n
}

// snapDown rounds a scale-down target up to a multiple of 25 % of the count
// its last call starts from (open itself for a one-call move, else the
// step before it on the halving path) when that costs at most 10 % more
// shards, as snapQuarter does, so the last call is one AWS completes
// faster. The result is never above three quarters of open.
func snapDown(t, open int32) int32 {
	path := PlanReshardPath(open, t)
	if len(path) == 0 {
		return t
	}
	from := open
	if len(path) > 1 {
		from = path[len(path)-2]
	}
	if s := snapQuarter(t, from); s <= open*3/4 {
		return s
	}
	return t
}

// shardView is what both shard planners start from: the bounds, the
// budget, the newest need and the stabilization and hourly-peak records
// (already updated with this pass's recommendation).
type shardView struct {
	lo, hi, open int32
	u, uEff      float64
	throttled    bool // more than 0.1 % of the newest minutes' records throttled
	window       time.Duration
	reserve      int
	budget       int
	upNeed       float64
	want         int32 // the newest need, rounded up, within the bounds
	readNeed     int32 // the read side's need this pass (readNeed; 0 without one)
	kept, recs   []Rec // stabilization records kept, and those in the window
	peaks        []Rec // hourly peaks of the last 25 h
	peak         int32 // the highest hourly peak of the last 24 h
	// pace100 and paceU: the newest minute's need carried ahead at its
	// rise (paceNeed), at 100 % and at u.
	pace100, paceU float64
	// outOfQuiet: the newest minutes rise out of a quiet stretch
	// (risesOutOfQuiet).
	outOfQuiet bool
	// cutShort: the need the last call fell short of, when it raised want
	// (cutShortNeed); 0 otherwise.
	cutShort int32
	// week: State.WeekPeaks of the previous pass (oneOffTop).
	week []Rec
}

// observeShards reads the pass's inputs into a shardView. When the target
// must be held (no open shards yet, no fresh IncomingBytes) it returns
// held with the target, the reason and the records to keep instead.
func observeShards(in Inputs, prev, prevPeaks, week []Rec, now time.Time, d *Decision) (v shardView, held *heldShards) {
	v = shardSettings(in.Stream)
	v.open = in.OpenShards
	v.budget = BudgetLeft(in.ReshardHistory, now)
	d.Used.BudgetLeft = v.budget

	fresh := withRefused(freshLoads(in.Metrics, now), in.ProducerTasks)
	if held := holdShards(v, fresh, prev, prevPeaks, now); held != nil {
		d.Held = true
		return shardView{}, held
	}
	d.Used.NewestPoint = fresh[len(fresh)-1].at.Unix()

	v.uEff, v.throttled = effectiveUtilization(fresh, v.u, now, d)
	upNeed, downNeed := shardNeeds(fresh, v.u, v.uEff, now, d)
	v.upNeed = upNeed
	v.want = clamp32(ceil32(upNeed), v.lo, v.hi)
	v.pace100, v.paceU = paceNeed(fresh, v.u)
	v.outOfQuiet = risesOutOfQuiet(fresh, v.pace100, v.open, week, now)
	v.week = week
	// The recommendation remembered for the stabilization window and the
	// day's peak is the higher of the complete minutes' need and the newest
	// need: a partial point may only keep shards up, never bring them down.
	// The read side's need (consumers at full width and falling behind)
	// counts too, so the write side does not take back what it added.
	v.readNeed = readNeed(in, now)
	rec := clamp32(max(ceil32(downNeed), ceil32(upNeed), v.readNeed), v.lo, v.hi)
	v.kept = keepShardRecs(prev, now, v.window, rec)
	v.recs = inWindow(v.kept, now, v.window)
	v.peaks = keepPeaks(prevPeaks, now, rec)
	v.peak = dayPeak(v.peaks, now)
	return v, nil
}

// shardSettings reads the stream's settings with their defaults: the shard
// bounds, the target utilization, the scale-down window and the reserve.
func shardSettings(cfg StreamConfig) shardView {
	lo := clamp32(cfg.MinShards, 1, MaxShardsPerStream)
	hi := clamp32(cfg.MaxShards, lo, MaxShardsPerStream)
	if cfg.MaxShards <= 0 {
		hi = MaxShardsPerStream
	}
	u := cfg.TargetUtilization
	if !(u > 0 && u <= 1) {
		u = 0.7
	}
	window := cfg.ScaleDownStabilization
	if window <= 0 {
		window = DefaultShardScaleDown
	}
	reserve := cfg.ReshardReserve
	if reserve == 0 {
		reserve = DefaultReshardReserve
	}
	return shardView{lo: lo, hi: hi, u: u, window: window, reserve: max(reserve, 0)}
}

// freshLoads is the per-minute loads no older than StaleAfter, oldest first.
func freshLoads(ms StreamMetrics, now time.Time) []minuteLoad {
	var fresh []minuteLoad
	for _, l := range loads(ms, now) {
		if now.Sub(l.at) <= StaleAfter {
			fresh = append(fresh, l)
		}
	}
	return fresh
}

// holdShards says whether the target must be held for lack of data: with
// no open shards yet it holds at the lower bound, with no fresh
// IncomingBytes at the open count. Nil when there is data to plan from.
func holdShards(v shardView, fresh []minuteLoad, prev, prevPeaks []Rec, now time.Time) *heldShards {
	if v.open < 1 {
		return &heldShards{clamp32(max(v.lo, 1), v.lo, v.hi), "holding: stream has no open shards yet", keepOnly(prev, now, v.window), prevPeaks}
	}
	if len(fresh) == 0 {
		t := clamp32(v.open, v.lo, v.hi)
		return &heldShards{t, fmt.Sprintf("holding at %d: no IncomingBytes data in the last %v (missing data is not zero load)", t, StaleAfter), keepOnly(prev, now, v.window), prevPeaks}
	}
	return nil
}

// effectiveUtilization is the target utilization to size for: u, or u less
// the throttle margin (not below 0.1) when more than 0.1 % of the records
// of the newest minutes were throttled (throttled). It records the
// throttled share.
func effectiveUtilization(fresh []minuteLoad, u float64, now time.Time, d *Decision) (uEff float64, throttled bool) {
	var thr, tot float64
	for _, l := range fresh {
		if now.Sub(l.at) <= upWindow {
			thr += l.throttled
			tot += l.recs + l.throttled
		}
	}
	if tot > 0 {
		d.Used.ThrottledPercent = 100 * thr / tot
	}
	if tot > 0 && thr/tot > 0.001 {
		return max(u-throttleMargin, 0.1), true
	}
	return u, false
}

// shardNeeds is the shards the newest minutes need: up, the highest at
// uEff, partial minutes included (a partial point only under-states the
// load); down, the highest of the complete minutes at u. It records the
// up need and the load behind it.
func shardNeeds(fresh []minuteLoad, u, uEff float64, now time.Time, d *Decision) (upNeed, downNeed float64) {
	for _, l := range fresh {
		if now.Sub(l.at) > upWindow {
			continue
		}
		need, b, r := shardsFor(l, uEff)
		if need > upNeed {
			upNeed = need
			d.Used.BytesPerSec, d.Used.RecordsPerSec = b, r
		}
		if l.complete {
			n, _, _ := shardsFor(l, u)
			downNeed = max(downNeed, n)
		}
	}
	d.Used.NeededShards = upNeed
	return upNeed, downNeed
}

// dayPeak is the highest hourly peak of the last 24 h: a peak record is
// stamped with its hour's start, so the hour the window starts in counts.
func dayPeak(peaks []Rec, now time.Time) int32 {
	var peak int32
	for _, r := range peaks {
		if r.At > now.Add(-ReshardWindow).Unix()-3600 {
			peak = max(peak, r.N)
		}
	}
	return peak
}

// heldShards is a shard target held for lack of data.
type heldShards struct {
	target      int32
	reason      string
	kept, peaks []Rec
}

// keepShardRecs is keepRecs for the shard window, except that the record of
// the minute the window's start falls in is kept until that whole minute has
// left the window. Records are one per minute, stamped with the minute's
// first pass; dropping one as soon as that pass leaves the window forgets
// that the minute's later passes are still inside it. Decisions read only
// the records inside the window (inWindow); the kept one says how long the
// passes have run without a gap (coveredSince).
func keepShardRecs(prev []Rec, now time.Time, window time.Duration, n int32) []Rec {
	cut := now.Add(-window).Unix()
	var edge []Rec
	for _, r := range prev {
		if r.At <= cut && (r.At/60+1)*60 > cut {
			edge = []Rec{r}
		}
	}
	return append(edge, keepRecs(prev, now, window, n)...)
}

// inWindow are the records of recs stamped within the window before now.
func inWindow(recs []Rec, now time.Time, window time.Duration) []Rec {
	cut := now.Add(-window).Unix()
	for i, r := range recs {
		if r.At > cut {
			return recs[i:]
		}
	}
	return nil
}

// coveredSince is when the passes behind the window's records began, for
// the "less than a window of data" hold: the first record in the window, or
// the record of the minute just before it when that minute is still kept
// (the passes ran on without a gap). Without the latter, with a window of a
// few minutes and passes every few seconds the first record in the window
// was younger than 3/4 of the window at most passes of every minute, and the
// hold re-armed each minute: shards stalled on the way down in the closed
// loop (10 s passes, 60 s window). For windows of 8 minutes and more the
// answer is unchanged: such a record is then always old enough itself.
func coveredSince(kept, recs []Rec) int64 {
	since := recs[0].At
	if len(kept) > len(recs) && kept[0].At/60 == since/60-1 {
		since = kept[0].At
	}
	return since
}

// trendHorizon is how far ahead a rising need is projected before a
// scale-down.
const trendHorizon = time.Hour

// keepOnly drops expired recommendations without adding one (used when a
// pass has no data to recommend from).
func keepOnly(prev []Rec, now time.Time, window time.Duration) []Rec {
	r := keepRecs(prev, now, window, 0)
	return r[:len(r)-1]
}

// latest returns the highest value among the points that started within
// the last d before now, and whether there was any.
func latest(ps []Point, now time.Time, d time.Duration) (float64, bool) {
	v, ok := 0.0, false
	for _, p := range ps {
		if p.Time.After(now) || now.Sub(p.Time) > d || math.IsNaN(p.Value) {
			continue
		}
		if !ok || p.Value > v {
			v, ok = p.Value, true
		}
	}
	return v, ok
}

// newestComplete is the highest value among the complete points of the
// newest minutes. Averages and Sums of a partial minute are not usable: a
// partial Average is no bound, and a partial Sum understates the rate and
// would scale down.
func newestComplete(ps []Point, now time.Time) (float64, bool) {
	var done []Point
	for _, p := range ps {
		if isComplete(p.Time, now) {
			done = append(done, p)
		}
	}
	return latest(done, now, CompleteAfter+3*time.Minute)
}

// hpaRule is the HPA's rule: desired = ceil(running × observed ÷ target),
// and no change (desired stays) within TaskTolerance of the target.
func hpaRule(running, desired int32, observed, target float64) int32 {
	if ratio := observed / target; math.Abs(ratio-1) > TaskTolerance {
		return ceil32(float64(running) * ratio)
	}
	return desired
}

// hpaRate applies the HPA's rule to the rate per task the tasks are asked
// to serve (the producer's own IngestRecords, a Sum per minute, plus the
// refused ones when Refused is given), when a target per task is set. The
// newest complete minute decides; younger partial minutes are lower bounds
// of their demand, so they may only raise the answer: a burst is covered in
// one step (ceil(demand ÷ target)) a minute or two before its point is
// complete.
func hpaRate(cfg TaskConfig, obs TaskObservation, now time.Time) (int32, float64, bool) {
	if cfg.TargetRequestsPerTask <= 0 || obs.Running < 1 {
		return obs.Desired, 0, false
	}
	demand := addByMinute(obs.Requests, obs.Refused)
	perMin, ok := newestComplete(demand, now)
	var partial []Point
	for _, p := range demand {
		if !isComplete(p.Time, now) {
			partial = append(partial, p)
		}
	}
	lower, lowerOK := latest(partial, now, CompleteAfter)
	if !ok && !lowerOK {
		return obs.Desired, 0, false
	}
	rec := obs.Desired
	perTask := perMin / 60 / float64(obs.Running)
	if ok {
		rec = hpaRule(obs.Running, obs.Desired, perTask, cfg.TargetRequestsPerTask)
	}
	if lowerOK {
		perTaskLow := lower / 60 / float64(obs.Running)
		if up := hpaRule(obs.Running, obs.Desired, perTaskLow, cfg.TargetRequestsPerTask); up > max(rec, obs.Desired) {
			rec, perTask = up, perTaskLow
		}
	}
	return rec, perTask, true
}

// addByMinute returns served with the refused value of the same minute
// added (the usable Sums, as the CPU rule reads them: countsByMinute). A
// minute with no served point is left out: the demand of a minute the
// tasks reported nothing for is unknown.
func addByMinute(served, refused []Point) []Point {
	if len(refused) == 0 {
		return served
	}
	byMinute := countsByMinute(refused)
	out := slices.Clone(served)
	for i := range out {
		out[i].Value += byMinute[minuteOf(out[i].Time)]
	}
	return out
}

// stabilize picks the HPA-style stabilized value: up to the lowest
// recommendation of the up window, down to the highest of the down window.
func stabilize(cfg TaskConfig, prev []Rec, now time.Time, rec, current int32) (int32, []Rec) {
	down := cfg.ScaleDownStabilization
	if down <= 0 {
		down = DefaultTaskScaleDown
	}
	up := cfg.ScaleUpStabilization
	recs := keepRecs(prev, now, max(down, up), rec)
	// This pass's recommendation is in both windows whatever the records
	// hold: a second pass in one minute merges it into the minute's earlier
	// record, whose time is not now, and an empty up window would read as
	// "no limit" and send the count to its maximum.
	inDown, inUp := []Rec{{At: now.Unix(), N: rec}}, []Rec{{At: now.Unix(), N: rec}}
	for _, r := range recs {
		if now.Unix()-r.At < int64(down/time.Second) {
			inDown = append(inDown, r)
		}
		if now.Unix()-r.At < int64(up/time.Second) {
			inUp = append(inUp, r)
		}
	}
	t := current
	if upTo := minRec(inUp); upTo > current {
		t = upTo
	}
	if downTo := maxRec(inDown); downTo < current {
		t = downTo
	}
	return t, recs
}

// decideProducer sizes the producer service: the HPA rule on CPU counting
// refused records (hpaDemand), raised by the trend rule on a rising load
// (risingAnswer) or by the rate rule when it asks more, plus the headroom
// held for recurring surges, through the stabilization windows. work is
// the newest complete minutes' work (newestWork), read once a pass.
func decideProducer(in Inputs, prev, running []Rec, work []minuteWork, headroom int32, now time.Time, d *Decision) (int32, string, []Rec) {
	cfg, obs := in.Producer, in.ProducerTasks
	cfg.ScaleDownStabilization = producerScaleDown(in)
	lo := max(cfg.MinTasks, 0)
	hi := max(cfg.MaxTasks, lo)
	cur := clamp32(obs.Desired, lo, hi)
	a := producerAnswers{byCPU: hpaDemand(cfg, obs, running, now)}
	rec, cpuOK := a.byCPU.rec, a.byCPU.ok
	byRate, rate, rateOK := hpaRate(cfg, obs, now)
	a.rate = rate
	d.Used.ProducerCPU, d.Used.ProducerRecordsPerTask = a.byCPU.used.cpu, rate
	if a.byCPU.used.refused > 0 {
		d.Used.ProducerDemandCPU = a.byCPU.used.demand
	}
	var trendOK bool
	a.byTrend, a.projected, trendOK = risingAnswer(cfg, obs, work, now)
	a.trendWins = trendOK && a.byTrend.rec > rec
	if a.trendWins {
		rec, d.Used.ProducerProjectedCPU = a.byTrend.rec, a.projected
	}
	if !cpuOK && !rateOK {
		d.Held = true
		return cur, fmt.Sprintf("holding at %d: no CPUUtilization data for the producer service", cur), keepOnly(prev, now, max(cfg.ScaleDownStabilization, DefaultTaskScaleDown))
	}
	// With both rules, the higher answer wins (as the HPA does with
	// several metrics); a rate within tolerance holds against a CPU
	// scale-down, because its answer is the current count.
	a.rateWins = rateOK && (!cpuOK || byRate > rec)
	if a.rateWins {
		rec, a.trendWins, d.Used.ProducerProjectedCPU = byRate, false, 0
	}
	rec, extra := withHeadroom(rec, headroom)
	t, recs := stabilize(cfg, prev, now, clamp32(rec, lo, hi), cur)
	t = clamp32(t, lo, hi)
	d.Used.ProducerHeadroomTasks = extra
	return t, a.reason(obs.Desired, t, cfg, now) + headroomReason(extra), recs
}

// producerAnswers is what the producer's rules answered on a pass, and
// which of them won: what its reason reports.
type producerAnswers struct {
	byCPU, byTrend      cpuAnswer
	rate, projected     float64 // records/s per task; CPU projected by the trend rule
	rateWins, trendWins bool
}

// reason says which producer rule decided.
func (a producerAnswers) reason(from, t int32, cfg TaskConfig, now time.Time) string {
	if a.rateWins {
		return rateReason(from, t, a.rate, cfg.TargetRequestsPerTask)
	}
	if a.trendWins {
		return risingReason(from, t, a.byTrend.used, a.projected, cpuTarget(cfg))
	}
	if a.byCPU.used.refused > 0 {
		return demandReason(from, t, a.byCPU.used, cpuTarget(cfg), now)
	}
	return taskReason(from, t, a.byCPU.used.cpu, cfg.TargetCPUPercent)
}

// scaleVerb is how a task reason starts: "scaling up 2→3", "scaling down
// 3→2" or "holding at 3".
func scaleVerb(from, to int32) string {
	switch {
	case to > from:
		return fmt.Sprintf("scaling up %d→%d", from, to)
	case to < from:
		return fmt.Sprintf("scaling down %d→%d", from, to)
	default:
		return fmt.Sprintf("holding at %d", to)
	}
}

func rateReason(from, to int32, perTask, target float64) string {
	return fmt.Sprintf("%s: %.0f records/s per task against a target of %.0f", scaleVerb(from, to), perTask, target)
}

func taskReason(from, to int32, cpu, target float64) string {
	if target <= 0 {
		target = 65
	}
	return fmt.Sprintf("%s: CPU %.0f%% against a target of %.0f%%", scaleVerb(from, to), cpu, target)
}

// decideConsumer sizes the consumer service: the HPA rule on CPU, applied
// as the producer's to the tasks that ran in the minute measured (running:
// State.ConsumerRunning; hpaDemand), raised when the iterator age passes
// half of maxIteratorAgeSeconds (by half again) or all of it (doubled), and
// capped at the shard count, because each shard is leased to one worker.
func decideConsumer(in Inputs, shardTarget int32, prev, running []Rec, now time.Time, d *Decision) (int32, string, []Rec) {
	cfg, obs := in.Consumer, in.ConsumerTasks
	lo := max(cfg.MinTasks, 0)
	hi := max(cfg.MaxTasks, lo)
	// Workers beyond the shards that will be open have nothing to lease;
	// while shards rise, the cap follows the target so consumers start
	// while the reshard runs.
	shardCap := max(in.OpenShards, 1)
	if shardTarget > in.OpenShards {
		shardCap = shardTarget
	}
	hi = min(hi, shardCap)
	cur := clamp32(obs.Desired, min(lo, hi), hi)
	byCPU := hpaDemand(cfg, obs, running, now)
	rec, cpu, ok := byCPU.rec, byCPU.used.cpu, byCPU.ok
	d.Used.ConsumerCPU = cpu
	age, ageOK := latest(in.Metrics.IteratorAgeMs, now, StaleAfter)
	age /= 1000
	d.Used.IteratorAgeSec = age
	window := max(cfg.ScaleDownStabilization, DefaultTaskScaleDown)
	if !ok && !ageOK {
		d.Held = true
		return cur, fmt.Sprintf("holding at %d: no CPUUtilization or iterator-age data for the consumer service", cur), keepOnly(prev, now, window)
	}
	if !ok {
		rec = obs.Desired
	}
	why := fmt.Sprintf("CPU %.0f%%, iterator age %.0fs", cpu, age)
	if maxAge := cfg.MaxIteratorAgeSeconds; maxAge > 0 && ageOK {
		base := max(obs.Running, obs.Desired, 1)
		switch {
		case age > maxAge:
			rec = max(rec, 2*base)
			why += fmt.Sprintf(" over the maximum of %.0fs", maxAge)
		case age > maxAge/2:
			rec = max(rec, ceil32(1.5*float64(base)))
			why += fmt.Sprintf(" over half the maximum of %.0fs", maxAge)
		case age > maxAge/4 && rec < obs.Desired:
			// Not yet caught up: do not shrink.
			rec = obs.Desired
		}
	}
	t, recs := stabilize(cfg, prev, now, clamp32(rec, lo, hi), cur)
	t = clamp32(t, min(lo, hi), hi)
	verb := "holding at"
	switch {
	case t > obs.Desired:
		verb = fmt.Sprintf("scaling up %d→", obs.Desired)
	case t < obs.Desired:
		verb = fmt.Sprintf("scaling down %d→", obs.Desired)
	}
	if verb == "holding at" {
		return t, fmt.Sprintf("holding at %d: %s (cap %d shards)", t, why, shardCap), recs
	}
	return t, fmt.Sprintf("%s%d: %s (cap %d shards)", verb, t, why, shardCap), recs
}
