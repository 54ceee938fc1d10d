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
	SplitMerge                       bool
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
	seed     uint64
	fixedLag int // 1–3: every minute's lag; else pseudo-random per minute
	start    time.Time
	data     []minuteMetrics
}

func (cw *cloudWatch) lag(k int) int {
	if cw.fixedLag >= 1 && cw.fixedLag <= 3 {
		return cw.fixedLag
	}
	return 1 + int(hash64(cw.seed^uint64(k))%3)
}

// view returns the points visible at the end of minute m (now = start+m+1):
// the stream's, and the producer's and consumer's task metrics (CPU; the
// producer's IngestRecords as Requests and its refused records as Refused,
// Sums published like IngestBytes).
func (cw *cloudWatch) view(m int) (scaling.StreamMetrics, scaling.TaskObservation, scaling.TaskObservation) {
	var s scaling.StreamMetrics
	var po, co scaling.TaskObservation
	lookback := int(scaling.MetricLookback / time.Minute)
	for k := max(0, m-lookback); k <= m; k++ {
		age := m - k // minutes since minute k ended
		if age < cw.lag(k) {
			continue
		}
		f := 1.0
		switch age {
		case 1:
			f = 0.5 + 0.4*unit(cw.seed, k, 1)
		case 2:
			f = 0.85 + 0.15*unit(cw.seed, k, 2)
		}
		d := cw.data[k]
		t := cw.start.Add(time.Duration(k) * time.Minute)
		s.IncomingBytes = append(s.IncomingBytes, scaling.Point{Time: t, Value: d.bytes * f})
		s.IncomingRecords = append(s.IncomingRecords, scaling.Point{Time: t, Value: d.recs * f})
		s.WriteThrottled = append(s.WriteThrottled, scaling.Point{Time: t, Value: d.throttled * f})
		s.IteratorAgeMs = append(s.IteratorAgeMs, scaling.Point{Time: t, Value: d.ageMs * f})
		s.IngestBytes = append(s.IngestBytes, scaling.Point{Time: t, Value: d.ingest * f})
		if d.readThrottled > 0 {
			s.ReadThrottled = append(s.ReadThrottled, scaling.Point{Time: t, Value: d.readThrottled * f})
		}
		po.CPUPercent = append(po.CPUPercent, scaling.Point{Time: t, Value: d.prodCPU})
		po.Requests = append(po.Requests, scaling.Point{Time: t, Value: d.ingestRecs * f})
		po.Refused = append(po.Refused, scaling.Point{Time: t, Value: d.refusedRecs * f})
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
// them and counted in RejectedCalls.
func Run(cfg Config, t Trace, c Controller) Result {
	cfg = cfg.withDefaults()
	n := t.Minutes()
	res := Result{Policy: c.Name()}
	cw := &cloudWatch{seed: cfg.Seed, fixedLag: cfg.MetricLagMinutes, start: t.Start, data: make([]minuteMetrics, n)}

	s0, p0, c0 := c.Start(cfg.demand(t, 0))
	open := min(max(s0, 1), scaling.MaxShardsPerStream)
	prod := service{startMinutes: cfg.TaskStartMinutes}
	cons := service{startMinutes: cfg.TaskStartMinutes}
	updatingMinutes := func(open, to int32) int {
		return int(math.Ceil(float64(UpdatingMinutes(open, to)) * cfg.UpdatingScale))
	}
	prod.desired, prod.running = p0, p0
	cons.desired, cons.running = c0, c0
	var updating bool
	var updTo int32
	var updUntil int
	var history []time.Time
	var backlog, ageSec float64
	ages := make([]float64, 0, n)
	var demRecs, thrRecs, prodRej, putUnits float64
	unitsPerRecord := math.Ceil(cfg.RecordBytes / PutPayloadUnitBytes)
	prodCap := cfg.ProducerMiBpsPerTask * scaling.MiB
	consCap := cfg.ConsumerMiBpsPerTask * scaling.MiB

	for m := range n {
		if updating && m >= updUntil {
			open, updating = updTo, false
		}
		prod.tick(m)
		cons.tick(m)
		dem := cfg.demand(t, m)
		demRecs += dem.Records * 60

		// Producers: what they cannot carry is refused at the front door.
		in := dem
		pcpu := 0.0
		if dem.Bytes > 0 {
			capB := float64(prod.running) * prodCap
			if capB < dem.Bytes {
				f := capB / dem.Bytes
				prodRej += dem.Records * (1 - f) * 60
				in = Load{dem.Bytes * f, dem.Records * f}
				pcpu = 100
			} else {
				pcpu = 100 * dem.Bytes / capB
			}
		}

		// Kinesis: per-shard write limits; the excess is throttled. While
		// UPDATING only the smaller of the old and new counts is relied on,
		// and both are billed.
		carry := open
		billed := open
		if updating {
			carry, billed = min(open, updTo), max(open, updTo)
		}
		res.MaxShards = max(res.MaxShards, billed)
		f := cfg.acceptedFraction(carry, in)
		acc := Load{in.Bytes * f, in.Records * f}
		thr := in.Records * (1 - f)
		thrRecs += thr * 60
		putUnits += acc.Records * 60 * unitsPerRecord

		// Consumers: the open shards are leased out among the running tasks;
		// each shard serves at most 2 MiB/s and each task processes up to
		// consCap; the rest waits in the stream.
		readCap := 0.0
		if cons.running > 0 {
			readCap = min(float64(cons.running)*consCap, float64(carry)*ShardReadBytesPerSec)
		}
		arrived := acc.Bytes * 60
		done := min(backlog+arrived, readCap*60)
		backlog += arrived - done
		// What the tasks could have read beyond the shards' read limit and
		// left in the stream: GetRecords calls refused.
		readThr := 0.0
		if taskCap := float64(cons.running) * consCap; taskCap > readCap && backlog > 1 {
			readThr = min(backlog, (taskCap-readCap)*60) / cfg.RecordBytes
		}
		ccpu := 0.0
		if cons.running > 0 {
			ccpu = min(100, 100*done/60/(float64(cons.running)*consCap))
		}
		switch {
		case backlog <= 1:
			backlog, ageSec = 0, 0
		case acc.Bytes > 0:
			ageSec = min(backlog/acc.Bytes, MaxIteratorAge)
		default:
			ageSec = min(ageSec+60, MaxIteratorAge)
		}
		ages = append(ages, ageSec)

		cw.data[m] = minuteMetrics{bytes: acc.Bytes * 60, recs: acc.Records * 60, throttled: thr * 60,
			ageMs: ageSec * 1000, prodCPU: pcpu, consCPU: ccpu, ingest: in.Bytes * 60,
			ingestRecs: in.Records * 60, refusedRecs: (dem.Records - in.Records) * 60, readThrottled: readThr}
		var row *Minute
		if cfg.Timeline {
			res.Timeline = append(res.Timeline, Minute{
				Minute: m, OfferedMiBps: dem.Bytes / scaling.MiB, AcceptedMiBps: acc.Bytes / scaling.MiB,
				ThrottledPercent: pct(thr, acc.Records+thr), ProducerRejectedPercent: pct(dem.Records-in.Records, dem.Records),
				OpenShards: open, BilledShards: billed, Updating: updating,
				ProducerRunning: prod.running, ProducerDesired: prod.desired,
				ConsumerRunning: cons.running, ConsumerDesired: cons.desired,
				ProducerCPUPercent: pcpu, ConsumerCPUPercent: ccpu, IteratorAgeSeconds: ageSec,
			})
			row = &res.Timeline[len(res.Timeline)-1]
		}
		res.ShardHours += float64(billed) / 60
		res.TaskHours += float64(prod.running+int32(len(prod.starting))+cons.running+int32(len(cons.starting))) / 60

		// The policy runs at the end of the minute.
		now := t.Start.Add(time.Duration(m+1) * time.Minute)
		sm, po, co := cw.view(m)
		po.Desired, po.Running = prod.desired, prod.running
		co.Desired, co.Running = cons.desired, cons.running
		cmd := c.Control(View{
			Now: now, OpenShards: open, Updating: updating, ReshardHistory: slices.Clone(history),
			Metrics: sm, Producer: po, Consumer: co,
		})
		if cmd.ReshardTo > 0 && cmd.SplitMerge {
			if updating || cmd.ReshardTo == open || cmd.ReshardTo > scaling.MaxShardsPerStream {
				res.RejectedCalls++
			} else {
				res.SplitMergeCalls++
				updating, updTo, updUntil = true, cmd.ReshardTo, m+1+updatingMinutes(open, cmd.ReshardTo)
				if row != nil {
					row.ReshardTo = cmd.ReshardTo
				}
			}
		} else if cmd.ReshardTo > 0 {
			if err := checkCall(open, cmd.ReshardTo, updating, history, now); err != nil {
				res.RejectedCalls++
			} else {
				history = append(scaling.PruneHistory(history, now), now)
				res.ReshardCalls++
				updating, updTo, updUntil = true, cmd.ReshardTo, m+1+updatingMinutes(open, cmd.ReshardTo)
				if row != nil {
					row.ReshardTo = cmd.ReshardTo
				}
			}
		}
		prod.setDesired(cmd.ProducerDesired, m+1)
		cons.setDesired(cmd.ConsumerDesired, m+1)
	}

	res.ThrottledPercent = pct(thrRecs, demRecs)
	res.ProducerRejectedPercent = pct(prodRej, demRecs)
	res.LostPercent = pct(thrRecs+prodRej, demRecs)
	res.P99IteratorAgeSeconds = p99(ages)
	res.StreamCostUSD = res.ShardHours*PriceShardHour + putUnits/1e6*PricePutUnitsMillion
	res.TaskCostUSD = res.TaskHours * cfg.taskHourPrice()
	res.CostUSD = res.StreamCostUSD + res.TaskCostUSD
	return res
}

// burstShare is the fraction of a minute's seconds that run at
// BurstPeakToMean times the minute's mean.
const burstShare = 0.1

// acceptedFraction is the share of in that carry shards accept: each shard
// takes at most 1 MiB/s and 1000 records/s in every second. With a flat
// minute and uniform keys it is min(1, capacity / load); bursts within the
// minute and skewed keys make it smaller at the same minute average.
func (c Config) acceptedFraction(carry int32, in Load) float64 {
	if in.Bytes <= 0 || carry < 1 {
		if in.Bytes <= 0 {
			return 1
		}
		return 0
	}
	p := min(max(c.BurstPeakToMean, 1), 1/burstShare)
	if p == 1 && c.KeySkew <= 0 {
		return min(1, float64(carry)*scaling.ShardWriteBytesPerSec/in.Bytes, float64(carry)*scaling.ShardWriteRecordsPerSec/in.Records)
	}
	// Per second, the load is p×mean on a tenth of the seconds and
	// lo×mean on the rest (lo ≥ 0 keeps the total).
	lo := (1 - burstShare*p) / (1 - burstShare)
	// The tightest of the two limits, as load over capacity for the
	// whole stream at the minute's mean.
	load := max(in.Bytes/(float64(carry)*scaling.ShardWriteBytesPerSec), in.Records/(float64(carry)*scaling.ShardWriteRecordsPerSec))
	acc := 0.0
	for _, w := range keyShares(carry, c.KeySkew) {
		// This shard's mean load over its capacity.
		x := load * w * float64(carry)
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
