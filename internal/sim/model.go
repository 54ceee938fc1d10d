// Package sim replays a traffic trace against a model of AWS (a provisioned
// Kinesis data stream, CloudWatch, two Fargate services) under several
// scaling policies and reports throttling, iterator age, shard-hours,
// task-hours, reshard calls and cost for each. It is the benchmark behind
// cmd/simulate. Only LoadTraceFile reads files.
package sim

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/kdp-io/streamprocessor-operator/internal/scaling"
)

// Config sizes the workload and the model. Zero fields take the defaults of
// DefaultConfig.
type Config struct {
	PeakMiBps   float64 // write rate at the trace's peak
	RecordBytes float64 // mean size of a Kinesis record as written (after KPL aggregation)
	// ProducerMiBpsPerTask and ConsumerMiBpsPerTask: what one 2 vCPU task
	// carries at 100 % CPU.
	ProducerMiBpsPerTask, ConsumerMiBpsPerTask float64
	TaskVCPU, TaskGB                           float64
	// TargetUtilization of the operator policy (spec.stream.targetUtilizationPercent/100).
	TargetUtilization float64
	// CompareUtilization (optional): Bench also runs the operator at this
	// target utilization, as the row "operator@NN%" (goals are judged on the
	// "operator" row at TargetUtilization). 0 or equal to TargetUtilization:
	// no extra row.
	CompareUtilization float64
	// TargetCPUPercent of both services for the operator (and 65 for seed).
	TargetCPUPercent float64
	// MaxIteratorAgeSeconds of the consumer for the operator.
	MaxIteratorAgeSeconds float64
	// ReshardReserve of the operator policy (0: the policy's default).
	ReshardReserve int
	// Planner is the operator's shard planner (scaling.StreamConfig.Planner:
	// "" or "rules", the default; "horizon").
	Planner string
	// SeedMaxShards is the seed's shard maximum; 0 fits it to the trace
	// (max(16, fixed-peak shards)).
	SeedMaxShards int32
	// Seed drives CloudWatch's delays and partial points.
	Seed uint64
	// MetricLagMinutes (sensitivity switch): when 1–3, every minute is
	// published that many minutes after it ends instead of 1–3 at random.
	MetricLagMinutes int
	// ProducerMetricLagMinutes (sensitivity switch): when the producers'
	// own minutes (IngestBytes, IngestRecords, RefusedRecords) are visible.
	// 0, the default: complete at the minute's end (they publish
	// high-resolution points every 10 s); 1–3: that many minutes after;
	// -1: like AWS/Kinesis's (MetricLagMinutes), as when they published
	// standard-resolution points once a minute.
	ProducerMetricLagMinutes int
	// TaskStartMinutes (sensitivity switch): how long a Fargate task takes
	// from being asked for to serving (0: DefaultTaskStartMinutes).
	TaskStartMinutes int
	// UpdatingScale (sensitivity switch) multiplies every UPDATING time of
	// UpdatingMinutes, rounded up (0: 1).
	UpdatingScale float64
	// BurstPeakToMean (≥ 1; 0: 1) shapes the load within each minute: a
	// tenth of its seconds run at this multiple of the minute's mean, the
	// rest lower, same total; Kinesis limits are applied per second. 1 is
	// a flat minute (no per-second data is at hand to justify another
	// default).
	BurstPeakToMean float64
	// MergeMinutes (sensitivity switch): how long one MergeShards keeps
	// the stream UPDATING (Command.MergeTo). 0: UpdatingMinutes for one
	// shard's change, scaled by UpdatingScale (AWS documents no duration).
	MergeMinutes int `json:",omitempty"`
	// KeySkew (≥ 0; 0: uniform) spreads the records over the open shards
	// Zipf-like: shard i (from 0) gets a share proportional to (i+1)^-KeySkew.
	// Uniform is the seed's and the operator's producers' case (a random
	// UUID partition key per record).
	KeySkew float64
	// ProducerTargetRecordsPerTask is the operator's
	// spec.producer.targetRecordsPerSecondPerTask in the model's records:
	// 0 leaves it unset (CPU only, the CRD's default); below 0 takes
	// TargetCPUPercent of what one task carries at 100 % CPU.
	ProducerTargetRecordsPerTask float64
	// HideProducerRefused: the operator does not see the records the
	// producers refused for lack of tasks (scaling.TaskObservation.Refused),
	// as before the producer published RefusedRecords and controllers read
	// it for every object. Off (the default): it sees them, so its CPU rule
	// counts them (and the rate rule, with a target rate).
	HideProducerRefused bool
	// NoReadSide turns the operator's read-side shard rule off
	// (scaling.StreamConfig.NoReadSide), to measure what it does.
	NoReadSide bool
	// Timeline makes Run fill Result.Timeline with one Minute per minute of
	// the trace (off for the bench: it changes no other field).
	Timeline bool
}

// DefaultConfig is the benchmark's workload: 40 MiB/s at peak in 1000-byte
// Kinesis records, seed-sized tasks (2 vCPU, 4 GB).
func DefaultConfig() Config {
	return Config{
		PeakMiBps: 40, RecordBytes: 1000,
		ProducerMiBpsPerTask: 5, ConsumerMiBpsPerTask: 4,
		TaskVCPU: 2, TaskGB: 4,
		// The CRD's default targetUtilizationPercent is 70; the bench also
		// shows the operator at 85 % for comparison.
		TargetUtilization: 0.70, CompareUtilization: 0.85, TargetCPUPercent: 65, MaxIteratorAgeSeconds: 60,
		Seed: 1,
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	set := func(v *float64, def float64) {
		if !(*v > 0) {
			*v = def
		}
	}
	set(&c.PeakMiBps, d.PeakMiBps)
	set(&c.RecordBytes, d.RecordBytes)
	set(&c.ProducerMiBpsPerTask, d.ProducerMiBpsPerTask)
	set(&c.ConsumerMiBpsPerTask, d.ConsumerMiBpsPerTask)
	set(&c.TaskVCPU, d.TaskVCPU)
	set(&c.TaskGB, d.TaskGB)
	set(&c.TargetUtilization, d.TargetUtilization)
	set(&c.TargetCPUPercent, d.TargetCPUPercent)
	set(&c.MaxIteratorAgeSeconds, d.MaxIteratorAgeSeconds)
	set(&c.UpdatingScale, 1)
	if c.TaskStartMinutes < 1 {
		c.TaskStartMinutes = DefaultTaskStartMinutes
	}
	return c
}

// Model constants of AWS behaviour.
const (
	// ShardReadBytesPerSec: a shard serves at most 2 MiB/s to readers.
	ShardReadBytesPerSec = 2 * scaling.MiB
	// DefaultTaskStartMinutes: a Fargate task serves this long after it is
	// asked for. AWS documents no figure; the 2–3 minutes are not
	// sourced either, so the bench keeps 1 and Config.TaskStartMinutes
	// (-task-start) shows what a slower start changes.
	DefaultTaskStartMinutes = 1
	// MaxMetricLagMinutes: CloudWatch publishes a minute 1 to this many
	// minutes after it ends (cloudWatch.lag; -metric-lag's range).
	MaxMetricLagMinutes = 3
	// MaxIteratorAge caps the modelled iterator age at the 24 h retention.
	MaxIteratorAge = 24 * 3600
	// OnDemandScaleUpMinutes: an on-demand stream takes twice its previous
	// peak at once, but a new peak raises its capacity only this long after
	// (AWS: traffic growing more than 2x the previous peak within 15 minutes
	// may be throttled).
	OnDemandScaleUpMinutes = 15
	// OnDemandMaxBytesPerSec: an on-demand stream's write quota in
	// us-east-1, whose prices the model uses (AWS, "Quotas and limits": up
	// to 10 GB/s of writes in N. Virginia, Oregon and Ireland, 200 MB/s in
	// other Regions). The page states no records/s quota, so none is
	// modelled beyond the previous-peak rule.
	OnDemandMaxBytesPerSec = 10 * 1000 * 1000 * 1000
)

// UpdatingMinutes is how long a stream stays UPDATING after a call from
// open to to. AWS's UpdateShardCount reference says only that the action
// "could take a few minutes", depending on the size of the stream, and that
// a target that is not a multiple of 25 % "might take longer": 3 and 5
// minutes and a minute per 200 shards are this model's figures for those
// words, not AWS's (Config.UpdatingScale, -updating-scale, varies them).
func UpdatingMinutes(open, to int32) int {
	m := 5
	if (4*int64(to))%int64(open) == 0 {
		m = 3
	}
	d := int64(to) - int64(open)
	if d < 0 {
		d = -d
	}
	return m + int(min(d/200, 30))
}

// View is what a policy sees at the end of a minute: the stream as
// DescribeStreamSummary reports it and CloudWatch data as GetMetricData would
// return it (1–3 minutes late, the newest point possibly partial).
type View struct {
	Now            time.Time
	OpenShards     int32
	Updating       bool
	ReshardHistory []time.Time
	Metrics        scaling.StreamMetrics
	Producer       scaling.TaskObservation
	Consumer       scaling.TaskObservation
}

// Command is a policy's answer: an UpdateShardCount call (ReshardTo > 0)
// and the services' desired counts.
type Command struct {
	ReshardTo int32
	// SplitMerge reaches ReshardTo by SplitShard and MergeShards calls
	// instead of UpdateShardCount (as scaling-utils does when
	// UpdateShardCount refuses): any count, no daily limit, not while
	// UPDATING. The model gives it the same UPDATING time as one
	// UpdateShardCount call (AWS documents neither; a real re-partition takes
	// several split and merge operations, so this favours the caller).
	SplitMerge bool
	// MergeTo > 0 asks for one MergeShards of two adjacent open shards,
	// toward MergeTo shards (below the open count): no UpdateShardCount
	// call is spent, AWS refuses it while the stream is UPDATING, and the
	// stream is UPDATING while it runs (Config.MergeMinutes). Ignored with
	// ReshardTo set.
	MergeTo                          int32
	ProducerDesired, ConsumerDesired int32
}

// Controller is a scaling policy run against the model once a minute.
type Controller interface {
	Name() string
	// Start returns the shard and task counts at the start of the trace.
	Start(first Load) (shards, producers, consumers int32)
	Control(v View) Command
}

// Load is the demand in one minute.
type Load struct {
	Bytes, Records float64 // per second
}

// Result is one policy's outcome on one trace.
type Result struct {
	Policy           string  `json:"policy"`
	ThrottledPercent float64 `json:"throttledPercent"`
	// LostPercent is every record of the demand that never reached the
	// stream: refused by Kinesis (ThrottledPercent; the model's producers do
	// not retry) plus refused at the producers for lack of tasks
	// (ProducerRejectedPercent, HTTP 429/503 to the client).
	LostPercent           float64 `json:"lostPercent"`
	P99IteratorAgeSeconds float64 `json:"p99IteratorAgeSeconds"`
	ShardHours            float64 `json:"shardHours"`
	TaskHours             float64 `json:"taskHours"`
	ReshardCalls          int     `json:"reshardCalls"`
	CostUSD               float64 `json:"costUSD"`
	// Extra detail beyond the fixed fields.
	RejectedCalls   int `json:"rejectedCalls"`
	SplitMergeCalls int `json:"splitMergeCalls,omitempty"` // reshards by split/merge (seed)
	// MergeCalls: MergeShards calls accepted (Command.MergeTo), each one
	// pair; refused ones count in RejectedCalls.
	MergeCalls int `json:"mergeCalls,omitempty"`
	// FloorShardHours and FloorShardHours100 are the trace's legal floor
	// (LegalFloorShardHours) at the operator's target utilization and at
	// 100 %, the same for every policy of a trace (set by RunAll; 0 when a
	// minute needs more shards than a stream may have).
	FloorShardHours         float64 `json:"floorShardHours"`
	FloorShardHours100      float64 `json:"floorShardHours100"`
	ProducerRejectedPercent float64 `json:"producerRejectedPercent"`
	MaxShards               int32   `json:"maxShards"`
	// ModeSwitches and OnDemandHours: operator-auto's capacity-mode
	// switches and the hours it spent on-demand.
	ModeSwitches  int     `json:"modeSwitches,omitempty"`
	OnDemandHours float64 `json:"onDemandHours,omitempty"`
	StreamCostUSD float64 `json:"streamCostUSD"`
	TaskCostUSD   float64 `json:"taskCostUSD"`
	// Timeline is minute by minute what the model did, only when
	// Config.Timeline is set.
	Timeline []Minute `json:"timeline,omitempty"`
}

// Minute is one minute of a Run: the load, what Kinesis took, and the
// counts that carried it. Counts are those in force during the minute (a
// policy's answer at its end shows in the next minute).
type Minute struct {
	Minute        int     `json:"minute"`        // from the trace's start
	OfferedMiBps  float64 `json:"offeredMiBps"`  // the trace's demand
	AcceptedMiBps float64 `json:"acceptedMiBps"` // written to Kinesis (IncomingBytes/60)
	// ThrottledPercent: records Kinesis refused, of those the producers
	// sent it (WriteProvisionedThroughputExceeded / (IncomingRecords +
	// WriteProvisionedThroughputExceeded)). ProducerRejectedPercent: of
	// the demand, refused at the producers for lack of tasks.
	ThrottledPercent        float64 `json:"throttledPercent"`
	ProducerRejectedPercent float64 `json:"producerRejectedPercent"`
	// OpenShards is what DescribeStreamSummary reports; BilledShards the
	// shards paid for (while UPDATING the larger of the old and new counts).
	OpenShards   int32 `json:"openShards"`
	BilledShards int32 `json:"billedShards"`
	Updating     bool  `json:"updating"`
	// Tasks running (serving) and desired (the service's desiredCount).
	ProducerRunning int32 `json:"producerRunning"`
	ProducerDesired int32 `json:"producerDesired"`
	ConsumerRunning int32 `json:"consumerRunning"`
	ConsumerDesired int32 `json:"consumerDesired"`
	// CPU per task, percent of a task, as AWS/ECS CPUUtilization Average.
	ProducerCPUPercent float64 `json:"producerCPUPercent"`
	ConsumerCPUPercent float64 `json:"consumerCPUPercent"`
	IteratorAgeSeconds float64 `json:"iteratorAgeSeconds"`
	// ReshardTo is the UpdateShardCount call accepted at the minute's end
	// (0: none).
	ReshardTo int32 `json:"reshardTo,omitempty"`
	// MergedTo is the open count a MergeShards accepted at the minute's
	// end leaves when done (0: none).
	MergedTo int32 `json:"mergedTo,omitempty"`
	// CarryShards is the shards the stream relied on in the minute: the
	// open count, or the smaller of the old and new counts while an
	// UpdateShardCount runs. During a halving by merges these shards are
	// uneven and each throttles on its own, so CarryShards is not a
	// capacity then (ThrottledPercent is what they refused).
	CarryShards int32 `json:"carryShards,omitempty"`
	// CallsLeft is how many UpdateShardCount calls AWS still accepts in
	// the rolling 24 h after the minute's end (scaling.BudgetLeft), the
	// minute's own call counted.
	CallsLeft int `json:"callsLeft"`
	// ShardRule and ShardReason are, for the operator, the rule and reason
	// of the pass at the minute's end (scaling.Decision's ShardRule and
	// ShardReason); ShardReason only when that pass made an accepted call.
	ShardRule   string `json:"shardRule,omitempty"`
	ShardReason string `json:"shardReason,omitempty"`
}

// demand returns minute m's load.
func (c Config) demand(t Trace, m int) Load {
	b := t.Load[m] * c.PeakMiBps * scaling.MiB
	return Load{Bytes: b, Records: b / c.RecordBytes}
}

// hash64 is a small deterministic mixer (splitmix64) for per-minute jitter.
func hash64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func unit(seed uint64, k int, salt uint64) float64 {
	return float64(hash64(seed^uint64(k)*0x100000001b3^salt)>>11) / (1 << 53)
}

// minuteMetrics is what CloudWatch holds for one minute.
type minuteMetrics struct {
	bytes, recs, throttled, ageMs, prodCPU, consCPU float64
	ingest                                          float64 // producer's IngestBytes
	// The producer's IngestRecords (records accepted into its buffer) and
	// the records it refused for lack of tasks, per minute over all tasks.
	ingestRecs, refusedRecs float64
	// readThrottled: records left unread for the shards' 2 MiB/s read
	// limit (ReadProvisionedThroughputExceeded stands for them).
	readThrottled float64
}

// cloudWatch models publication (the producer's custom IngestBytes alike):
// minute k appears lag(k) ∈ {1,2,3} minutes
// after it ends; while younger than 3 minutes its Sum and Maximum values are
// only a fraction of the final ones.
type cloudWatch struct {
	seed        uint64
	fixedLag    int // 1–3: every minute's lag; else pseudo-random per minute
	producerLag int // Config.ProducerMetricLagMinutes
	start       time.Time
	data        []minuteMetrics
}

func (cw *cloudWatch) lag(k int) int {
	if cw.fixedLag >= 1 && cw.fixedLag <= MaxMetricLagMinutes {
		return cw.fixedLag
	}
	return 1 + int(hash64(cw.seed^uint64(k))%MaxMetricLagMinutes)
}

// partial is the share of minute k's final Sums and Maximums visible age
// minutes after it ends, while CloudWatch still aggregates it.
func (cw *cloudWatch) partial(k, age int) float64 {
	switch age {
	case 1:
		return 0.5 + 0.4*unit(cw.seed, k, 1)
	case 2:
		return 0.85 + 0.15*unit(cw.seed, k, 2)
	}
	return 1
}

// producerShare is the share of minute k's producer Sums visible age
// minutes after it ends (0: not yet). High-resolution points are complete
// when visible; standard-resolution ones age like AWS/Kinesis's.
func (cw *cloudWatch) producerShare(k, age int) float64 {
	switch {
	case cw.producerLag < 0 && age >= cw.lag(k):
		return cw.partial(k, age)
	case cw.producerLag >= 0 && age >= cw.producerLag:
		return 1
	}
	return 0
}

// view returns the points visible at the end of minute m (now = start+m+1):
// the stream's, and the producer's and consumer's task metrics (CPU; the
// producer's IngestRecords as Requests and its refused records as Refused,
// with IngestBytes visible as producerShare says).
func (cw *cloudWatch) view(m int) (scaling.StreamMetrics, scaling.TaskObservation, scaling.TaskObservation) {
	var s scaling.StreamMetrics
	var po, co scaling.TaskObservation
	lookback := int(scaling.MetricLookback / time.Minute)
	for k := max(0, m-lookback); k <= m; k++ {
		age := m - k // minutes since minute k ended
		d := cw.data[k]
		t := cw.start.Add(time.Duration(k) * time.Minute)
		if p := cw.producerShare(k, age); p > 0 {
			s.IngestBytes = append(s.IngestBytes, scaling.Point{Time: t, Value: d.ingest * p})
			po.Requests = append(po.Requests, scaling.Point{Time: t, Value: d.ingestRecs * p})
			po.Refused = append(po.Refused, scaling.Point{Time: t, Value: d.refusedRecs * p})
		}
		if age < cw.lag(k) {
			continue
		}
		f := cw.partial(k, age)
		s.IncomingBytes = append(s.IncomingBytes, scaling.Point{Time: t, Value: d.bytes * f})
		s.IncomingRecords = append(s.IncomingRecords, scaling.Point{Time: t, Value: d.recs * f})
		s.WriteThrottled = append(s.WriteThrottled, scaling.Point{Time: t, Value: d.throttled * f})
		s.IteratorAgeMs = append(s.IteratorAgeMs, scaling.Point{Time: t, Value: d.ageMs * f})
		if d.readThrottled > 0 {
			s.ReadThrottled = append(s.ReadThrottled, scaling.Point{Time: t, Value: d.readThrottled * f})
		}
		po.CPUPercent = append(po.CPUPercent, scaling.Point{Time: t, Value: d.prodCPU})
		co.CPUPercent = append(co.CPUPercent, scaling.Point{Time: t, Value: d.consCPU})
	}
	return s, po, co
}

// service models a Fargate service: desired count, tasks starting, running.
type service struct {
	desired, running int32
	starting         []int // minute at which each starting task runs
	startMinutes     int   // how long a task takes to start
}

func (s *service) setDesired(n int32, m int) {
	n = max(n, 0)
	for s.running+int32(len(s.starting)) < n {
		s.starting = append(s.starting, m+max(s.startMinutes, 1))
	}
	// Scale-in stops starting tasks first, then running ones.
	for s.running+int32(len(s.starting)) > n {
		if len(s.starting) > 0 {
			s.starting = s.starting[:len(s.starting)-1]
		} else {
			s.running--
		}
	}
	s.desired = n
}

func (s *service) tick(m int) {
	kept := s.starting[:0]
	for _, at := range s.starting {
		if at <= m {
			s.running++
		} else {
			kept = append(kept, at)
		}
	}
	s.starting = kept
}

// Run replays trace t against the provisioned-stream model under policy c.
// Calls that break UpdateShardCount's rules are refused as AWS would refuse
// them and counted in RejectedCalls. Each minute runs in the order the
// world does: the stream settles a finished reshard and tasks start
// (settle), the load flows through producers, Kinesis and consumers
// (serve), CloudWatch and the timeline record it (record), and at the
// minute's end the policy observes and its command is applied (control).
func Run(cfg Config, t Trace, c Controller) Result {
	r := newRun(cfg.withDefaults(), t, c)
	for m := range r.n {
		r.settle(m)
		f := r.serve(m)
		r.record(m, f)
		r.control(m)
	}
	return r.result()
}

// run is the model's state during one Run.
type run struct {
	cfg Config
	t   Trace
	c   Controller
	n   int
	res Result
	cw  *cloudWatch

	open       int32
	prod, cons service
	// The reshard in flight: UPDATING until minute updUntil, then updTo
	// shards open. merging: it is one MergeShards (updTo = open−1).
	updating, merging bool
	updTo             int32
	updUntil          int
	// halfFrom is the open count at the first merge of the halving under
	// way (0: none): until the open count reaches ceil(halfFrom/2), or an
	// UpdateShardCount re-evens the shards, the halfFrom−open merged
	// shards own two of the halving's halfFrom slots each and the others
	// one (halvingShares), and each throttles on its own.
	halfFrom int32
	history  []time.Time // accepted UpdateShardCount calls

	backlog, ageSec float64
	ages            []float64
	// Records over the run: demanded, throttled by Kinesis, refused at
	// the producers; PUT payload units billed.
	demRecs, thrRecs, prodRej, putUnits float64
	unitsPerRecord, prodCap, consCap    float64
	row                                 *Minute // this minute's timeline row (nil without Config.Timeline)
}

// flow is what one minute's load did, per second.
type flow struct {
	dem, in, acc        Load    // demanded, taken by the producers, accepted by Kinesis
	thr                 float64 // records/s Kinesis refused
	billed, carry       int32
	pcpu, ccpu, readThr float64
}

func newRun(cfg Config, t Trace, c Controller) *run {
	n := t.Minutes()
	r := &run{
		cfg: cfg, t: t, c: c, n: n, res: Result{Policy: c.Name()},
		cw:             &cloudWatch{seed: cfg.Seed, fixedLag: cfg.MetricLagMinutes, producerLag: cfg.ProducerMetricLagMinutes, start: t.Start, data: make([]minuteMetrics, n)},
		prod:           service{startMinutes: cfg.TaskStartMinutes},
		cons:           service{startMinutes: cfg.TaskStartMinutes},
		ages:           make([]float64, 0, n),
		unitsPerRecord: math.Ceil(cfg.RecordBytes / PutPayloadUnitBytes),
		prodCap:        cfg.ProducerMiBpsPerTask * scaling.MiB,
		consCap:        cfg.ConsumerMiBpsPerTask * scaling.MiB,
	}
	s0, p0, c0 := c.Start(cfg.demand(t, 0))
	r.open = min(max(s0, 1), scaling.MaxShardsPerStream)
	r.prod.desired, r.prod.running = p0, p0
	r.cons.desired, r.cons.running = c0, c0
	return r
}

// settle ends a reshard whose UPDATING time is over and starts the tasks
// due this minute.
func (r *run) settle(m int) {
	if r.updating && m >= r.updUntil {
		r.open, r.updating = r.updTo, false
		if !r.merging || r.open <= scaling.HalvingEnd(r.halfFrom) {
			r.halfFrom = 0 // an UpdateShardCount re-evens; a halving is done
		}
		r.merging = false
	}
	r.prod.tick(m)
	r.cons.tick(m)
}

// serve passes minute m's demand through the producers, the stream and the
// consumers.
func (r *run) serve(m int) flow {
	f := flow{dem: r.cfg.demand(r.t, m)}
	r.demRecs += f.dem.Records * 60
	r.produce(&f)
	r.write(&f)
	r.consume(&f)
	return f
}

// produce: what the producers cannot carry is refused at the front door.
func (r *run) produce(f *flow) {
	f.in = f.dem
	if f.dem.Bytes <= 0 {
		return
	}
	capB := float64(r.prod.running) * r.prodCap
	if capB < f.dem.Bytes {
		k := capB / f.dem.Bytes
		r.prodRej += f.dem.Records * (1 - k) * 60
		f.in = Load{f.dem.Bytes * k, f.dem.Records * k}
		f.pcpu = 100
	} else {
		f.pcpu = 100 * f.dem.Bytes / capB
	}
}

// carrying is the shards the stream relies on and bills: while UPDATING
// by an UpdateShardCount only the smaller of the old and new counts is
// relied on, and both are billed. A merge bills and relies on the open
// count: two parents until it is done, then one child. During a halving by
// merges the open shards are uneven; accepted says what they accept.
func (r *run) carrying() (carry, billed int32) {
	carry, billed = r.open, r.open
	if r.updating && !r.merging {
		carry, billed = min(r.open, r.updTo), max(r.open, r.updTo)
	}
	return carry, billed
}

// write applies Kinesis's per-shard write limits; the excess is throttled.
func (r *run) write(f *flow) {
	carry, billed := r.carrying()
	f.billed, f.carry = billed, carry
	r.res.MaxShards = max(r.res.MaxShards, billed)
	k := r.accepted(carry, f.in)
	f.acc = Load{f.in.Bytes * k, f.in.Records * k}
	f.thr = f.in.Records * (1 - k)
	r.thrRecs += f.thr * 60
	r.putUnits += f.acc.Records * 60 * r.unitsPerRecord
}

// accepted is the share of in the stream accepts this minute: carry even
// shards' (acceptedFraction) or, once a merge of a halving is done, the
// open shards' by their shares of the records (halvingShares), each shard
// limited on its own as Kinesis limits it. An UpdateShardCount that
// re-evens a halving relies meanwhile on the smaller of what the uneven
// old shards and the even new ones accept.
func (r *run) accepted(carry int32, in Load) float64 {
	if r.halfFrom == 0 || r.open >= r.halfFrom {
		return r.cfg.acceptedFraction(carry, in)
	}
	k := r.cfg.acceptedByShares(halvingShares(r.halfFrom, r.open, r.cfg.KeySkew), in)
	if r.updating && !r.merging {
		k = min(k, r.cfg.acceptedFraction(r.updTo, in))
	}
	return k
}

// halvingShares are the shares of the records that the open shards of a
// halving by merges from h shards receive: the h shards' shares
// (keyShares) are its slots, and each of the h−open merges done joined two
// adjacent slots. The operator merges the narrowest adjacent pair
// (controllers/merge.go, mergePairOf), so with uniform keys the merged
// shards own 2/h and the others 1/h whichever pairs merged; with skewed
// keys the pairing is not known, and the hottest slots are taken to merge
// first (slots 0+1, then 2+3, …), the least favourable to the stream.
func halvingShares(h, open int32, skew float64) []float64 {
	slots := keyShares(h, skew)
	done := int(h - open)
	w := make([]float64, 0, open)
	for i := range done {
		w = append(w, slots[2*i]+slots[2*i+1])
	}
	return append(w, slots[2*done:]...)
}

// consume: the open shards are leased out among the running tasks; each
// shard serves at most 2 MiB/s and each task processes up to consCap; the
// rest waits in the stream.
func (r *run) consume(f *flow) {
	carry, _ := r.carrying()
	running := float64(r.cons.running)
	readCap := 0.0
	if r.cons.running > 0 {
		readCap = min(running*r.consCap, float64(carry)*ShardReadBytesPerSec)
	}
	arrived := f.acc.Bytes * 60
	done := min(r.backlog+arrived, readCap*60)
	r.backlog += arrived - done
	// What the tasks could have read beyond the shards' read limit and
	// left in the stream: GetRecords calls refused.
	if taskCap := running * r.consCap; taskCap > readCap && r.backlog > 1 {
		f.readThr = min(r.backlog, (taskCap-readCap)*60) / r.cfg.RecordBytes
	}
	if r.cons.running > 0 {
		f.ccpu = min(100, 100*done/60/(running*r.consCap))
	}
	switch {
	case r.backlog <= 1:
		r.backlog, r.ageSec = 0, 0
	case f.acc.Bytes > 0:
		r.ageSec = min(r.backlog/f.acc.Bytes, MaxIteratorAge)
	default:
		r.ageSec = min(r.ageSec+60, MaxIteratorAge)
	}
	r.ages = append(r.ages, r.ageSec)
}

// record publishes minute m to the model's CloudWatch, adds its timeline
// row, and bills its shard- and task-minutes.
func (r *run) record(m int, f flow) {
	r.cw.data[m] = minuteMetrics{bytes: f.acc.Bytes * 60, recs: f.acc.Records * 60, throttled: f.thr * 60,
		ageMs: r.ageSec * 1000, prodCPU: f.pcpu, consCPU: f.ccpu, ingest: f.in.Bytes * 60,
		ingestRecs: f.in.Records * 60, refusedRecs: (f.dem.Records - f.in.Records) * 60, readThrottled: f.readThr}
	r.row = nil
	if r.cfg.Timeline {
		r.res.Timeline = append(r.res.Timeline, Minute{
			Minute: m, OfferedMiBps: f.dem.Bytes / scaling.MiB, AcceptedMiBps: f.acc.Bytes / scaling.MiB,
			ThrottledPercent: pct(f.thr, f.acc.Records+f.thr), ProducerRejectedPercent: pct(f.dem.Records-f.in.Records, f.dem.Records),
			OpenShards: r.open, BilledShards: f.billed, Updating: r.updating,
			ProducerRunning: r.prod.running, ProducerDesired: r.prod.desired,
			ConsumerRunning: r.cons.running, ConsumerDesired: r.cons.desired,
			ProducerCPUPercent: f.pcpu, ConsumerCPUPercent: f.ccpu, IteratorAgeSeconds: r.ageSec,
			CarryShards: f.carry,
		})
		r.row = &r.res.Timeline[len(r.res.Timeline)-1]
	}
	r.res.ShardHours += float64(f.billed) / 60
	r.res.TaskHours += float64(r.prod.running+int32(len(r.prod.starting))+r.cons.running+int32(len(r.cons.starting))) / 60
}

// control runs the policy at the end of minute m on what it can observe
// and applies its command.
func (r *run) control(m int) {
	now := r.t.Start.Add(time.Duration(m+1) * time.Minute)
	cmd := r.c.Control(r.view(m, now))
	r.reshard(m, now, cmd)
	r.prod.setDesired(cmd.ProducerDesired, m+1)
	r.cons.setDesired(cmd.ConsumerDesired, m+1)
	r.annotate(now)
}

// shardDecider is a controller that can say which shard rule, and why,
// set its last pass's target (the operator).
type shardDecider interface {
	shardDecision() (scaling.ShardRule, string)
}

// annotate adds to this minute's timeline row (if any) the calls left
// after the pass at now and, for a shardDecider, the pass's shard rule
// (and its reason when the pass made a call).
func (r *run) annotate(now time.Time) {
	if r.row == nil {
		return
	}
	r.row.CallsLeft = scaling.BudgetLeft(r.history, now)
	d, ok := r.c.(shardDecider)
	if !ok {
		return
	}
	rule, reason := d.shardDecision()
	r.row.ShardRule = rule.String()
	if r.row.ReshardTo > 0 {
		r.row.ShardReason = reason
	}
}

// view is what the policy observes at now, the end of minute m.
func (r *run) view(m int, now time.Time) View {
	sm, po, co := r.cw.view(m)
	po.Desired, po.Running = r.prod.desired, r.prod.running
	co.Desired, co.Running = r.cons.desired, r.cons.running
	return View{
		Now: now, OpenShards: r.open, Updating: r.updating, ReshardHistory: slices.Clone(r.history),
		Metrics: sm, Producer: po, Consumer: co,
	}
}

// reshard applies the command's reshard, if any, or refuses it as AWS
// would.
func (r *run) reshard(m int, now time.Time, cmd Command) {
	if cmd.ReshardTo <= 0 {
		r.merge(m, cmd.MergeTo)
		return
	}
	if cmd.SplitMerge {
		if r.updating || cmd.ReshardTo == r.open || cmd.ReshardTo > scaling.MaxShardsPerStream {
			r.res.RejectedCalls++
			return
		}
		r.res.SplitMergeCalls++
	} else {
		if err := checkCall(r.open, cmd.ReshardTo, r.updating, r.history, now); err != nil {
			r.res.RejectedCalls++
			return
		}
		r.history = append(scaling.PruneHistory(r.history, now), now)
		r.res.ReshardCalls++
	}
	r.updating, r.updTo, r.updUntil = true, cmd.ReshardTo, m+1+r.updatingMinutes(r.open, cmd.ReshardTo)
	if r.row != nil {
		r.row.ReshardTo = cmd.ReshardTo
	}
}

// merge starts one MergeShards toward to shards, or refuses it as AWS
// would: not while UPDATING (ResourceInUseException), and only below the
// open count (two adjacent open shards). The first merge of a halving
// records its start count (halfFrom); one past the halving starts the
// next.
func (r *run) merge(m int, to int32) {
	if to <= 0 {
		return
	}
	if r.updating || to >= r.open || r.open < 2 {
		r.res.RejectedCalls++
		return
	}
	if r.halfFrom == 0 || r.open <= scaling.HalvingEnd(r.halfFrom) {
		r.halfFrom = r.open
	}
	r.res.MergeCalls++
	r.updating, r.merging, r.updTo, r.updUntil = true, true, r.open-1, m+1+r.mergeMinutes()
	if r.row != nil {
		r.row.MergedTo = r.open - 1
	}
}

// mergeMinutes is how long one merge keeps the stream UPDATING:
// Config.MergeMinutes, else the model's UPDATING time for one shard's
// change (AWS's MergeShards reference gives none).
func (r *run) mergeMinutes() int {
	if r.cfg.MergeMinutes > 0 {
		return r.cfg.MergeMinutes
	}
	return r.updatingMinutes(r.open, r.open-1)
}

// updatingMinutes is UpdatingMinutes scaled by Config.UpdatingScale.
func (r *run) updatingMinutes(open, to int32) int {
	return int(math.Ceil(float64(UpdatingMinutes(open, to)) * r.cfg.UpdatingScale))
}

// result is the run's totals.
func (r *run) result() Result {
	res := r.res
	res.ThrottledPercent = pct(r.thrRecs, r.demRecs)
	res.ProducerRejectedPercent = pct(r.prodRej, r.demRecs)
	res.LostPercent = pct(r.thrRecs+r.prodRej, r.demRecs)
	res.P99IteratorAgeSeconds = p99(r.ages)
	res.StreamCostUSD = res.ShardHours*PriceShardHour + r.putUnits/1e6*PricePutUnitsMillion
	res.TaskCostUSD = res.TaskHours * r.cfg.taskHourPrice()
	res.CostUSD = res.StreamCostUSD + res.TaskCostUSD
	return res
}

// burstShare is the fraction of a minute's seconds that run at
// BurstPeakToMean times the minute's mean.
const burstShare = 0.1

// acceptedFraction is the share of in that carry even shards accept: each
// shard takes at most 1 MiB/s and 1000 records/s in every second. With a
// flat minute and uniform keys it is min(1, capacity / load); bursts within
// the minute and skewed keys (keyShares) make it smaller at the same minute
// average (acceptedByShares).
func (c Config) acceptedFraction(carry int32, in Load) float64 {
	if in.Bytes <= 0 || carry < 1 {
		if in.Bytes <= 0 {
			return 1
		}
		return 0
	}
	if c.burstPeak() == 1 && c.KeySkew <= 0 {
		return min(1, float64(carry)*scaling.ShardWriteBytesPerSec/in.Bytes, float64(carry)*scaling.ShardWriteRecordsPerSec/in.Records)
	}
	return c.acceptedByShares(keyShares(carry, c.KeySkew), in)
}

// burstPeak is BurstPeakToMean within [1, 1/burstShare].
func (c Config) burstPeak() float64 {
	return min(max(c.BurstPeakToMean, 1), 1/burstShare)
}

// acceptedByShares is the share of in that shards receiving the given
// shares of the records (summing to 1; even or not) accept, each shard
// limited per second on its own.
func (c Config) acceptedByShares(shares []float64, in Load) float64 {
	if in.Bytes <= 0 {
		return 1
	}
	if len(shares) == 0 {
		return 0
	}
	p := c.burstPeak()
	// Per second, the load is p×mean on a tenth of the seconds and
	// lo×mean on the rest (lo ≥ 0 keeps the total).
	lo := (1 - burstShare*p) / (1 - burstShare)
	// The tightest of the two limits, as load over capacity for the
	// whole stream at the minute's mean.
	n := float64(len(shares))
	load := max(in.Bytes/(n*scaling.ShardWriteBytesPerSec), in.Records/(n*scaling.ShardWriteRecordsPerSec))
	acc := 0.0
	for _, w := range shares {
		// This shard's mean load over its capacity.
		x := load * w * n
		if x <= 0 {
			continue
		}
		// Accepted share of this shard's records over the minute.
		a := (burstShare*min(p*x, 1) + (1-burstShare)*min(lo*x, 1)) / x
		acc += w * a
	}
	return min(acc, 1)
}

// keyShares are the shares of the records each of n shards receives.
func keyShares(n int32, skew float64) []float64 {
	w := make([]float64, n)
	if skew <= 0 {
		for i := range w {
			w[i] = 1 / float64(n)
		}
		return w
	}
	sum := 0.0
	for i := range w {
		w[i] = math.Pow(float64(i+1), -skew)
		sum += w[i]
	}
	for i := range w {
		w[i] /= sum
	}
	return w
}

// checkCall applies UpdateShardCount's rules as AWS does.
func checkCall(open, to int32, updating bool, history []time.Time, now time.Time) error {
	if updating {
		return fmt.Errorf("stream is UPDATING")
	}
	if scaling.BudgetLeft(history, now) == 0 {
		return fmt.Errorf("%d calls in 24h already", scaling.ReshardsPerWindow)
	}
	return scaling.CheckStep(open, to)
}

func (c Config) taskHourPrice() float64 {
	return c.TaskVCPU*PriceFargateVCPUHour + c.TaskGB*PriceFargateGBHour
}

func pct(part, whole float64) float64 {
	if whole <= 0 {
		return 0
	}
	return 100 * part / whole
}

func p99(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[min(len(s)-1, int(math.Ceil(0.99*float64(len(s))))-1)]
}
