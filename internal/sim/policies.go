package sim

import (
	"math"
	"time"

	"github.com/kdp-io/streamprocessor-operator/internal/scaling"
)

// needShards is the fewest shards that carry load l at utilization u.
func needShards(l Load, u float64) int32 {
	n := max(l.Bytes/(scaling.ShardWriteBytesPerSec*u), l.Records/(scaling.ShardWriteRecordsPerSec*u))
	return max(1, int32(math.Ceil(n-1e-9)))
}

func needTasks(bytes, perTask float64) int32 {
	return max(1, int32(math.Ceil(bytes/perTask-1e-9)))
}

// peakLoad is the trace's highest minute.
func peakLoad(cfg Config, t Trace) Load {
	var p Load
	for m := range t.Minutes() {
		if d := cfg.demand(t, m); d.Bytes > p.Bytes {
			p = d
		}
	}
	return p
}

// Operator runs the operator's policy exactly as the reconciler does each
// pass: scaling.Decide, then scaling.PlanReshard on its shard target.
type Operator struct {
	In    scaling.Inputs // config part; observations are filled per pass
	State scaling.State
	// LastDecision is kept for tests and debugging.
	LastDecision scaling.Decision
	// Interval (optional, under a minute) is spec.scaling.intervalSeconds:
	// the policy then passes every Interval within each minute, on that
	// minute's view, so its stabilization windows fill as the reconciler's
	// do; the model still acts on the minute's last pass only.
	Interval time.Duration
	// SeesRefused: the policy is given the producer's refused records, as
	// controllers/ read RefusedRecords for every object (unless
	// Config.HideProducerRefused); otherwise View.Producer.Refused is
	// dropped.
	SeesRefused bool
	start       func(Load) (int32, int32, int32)
}

// NewOperator configures the operator policy as a StreamProcessor spec
// would: shards in [1, maxShards], tasks in [1, 100].
func NewOperator(cfg Config, maxShards int32) *Operator {
	cfg = cfg.withDefaults()
	o := &Operator{In: scaling.Inputs{
		Stream:   scaling.StreamConfig{MinShards: 1, MaxShards: maxShards, TargetUtilization: cfg.TargetUtilization, ReshardReserve: cfg.ReshardReserve, Planner: cfg.Planner, NoReadSide: cfg.NoReadSide},
		Producer: scaling.TaskConfig{MinTasks: 1, MaxTasks: 100, TargetCPUPercent: cfg.TargetCPUPercent},
		Consumer: scaling.TaskConfig{MinTasks: 1, MaxTasks: 100, TargetCPUPercent: cfg.TargetCPUPercent, MaxIteratorAgeSeconds: cfg.MaxIteratorAgeSeconds},
	}}
	if t := cfg.ProducerTargetRecordsPerTask; t != 0 {
		if t < 0 {
			t = cfg.TargetCPUPercent / 100 * cfg.ProducerMiBpsPerTask * scaling.MiB / cfg.RecordBytes
		}
		o.In.Producer.TargetRequestsPerTask = t
	}
	o.SeesRefused = !cfg.HideProducerRefused
	o.start = warmStart(cfg, cfg.TargetUtilization)
	return o
}

// OperatorSpec is the part of a StreamProcessor's spec that the operator's
// policy reads, for running the model with an object's own settings (as
// controllers/targets.go builds scaling.Inputs from the spec). Zero fields
// take NewOperator's values.
type OperatorSpec struct {
	MinShards, MaxShards int32
	// TargetUtilization: spec.stream.targetUtilizationPercent / 100 (0:
	// Config.TargetUtilization).
	TargetUtilization float64
	// ShardScaleDown: spec.scaling.shardScaleDownSeconds (0: the policy's
	// default).
	ShardScaleDown time.Duration
	// Interval: spec.scaling.intervalSeconds (see Operator.Interval; 0 or
	// a minute and more: one pass a minute).
	Interval time.Duration
	// TaskScaleDown: spec.scaling.taskScaleDownSeconds; nil: the policy's
	// default; 0: no stabilization.
	TaskScaleDown      *time.Duration
	Producer, Consumer TaskSpec
	// StartShards, StartProducers, StartConsumers: the counts when the
	// trace begins (the object as it stands); 0: sized to the first minute
	// at the target utilization, within the min and max.
	StartShards, StartProducers, StartConsumers int32
}

// TaskSpec is spec.producer or spec.consumer's scaling part. Zero fields
// take NewOperator's values.
type TaskSpec struct {
	MinTasks, MaxTasks    int32
	TargetCPUPercent      float64
	MaxIteratorAgeSeconds float64 // consumer only
}

// NewOperatorFor configures the operator policy from a spec's settings.
func NewOperatorFor(cfg Config, s OperatorSpec) *Operator {
	cfg = cfg.withDefaults()
	if s.TargetUtilization > 0 {
		cfg.TargetUtilization = s.TargetUtilization
	}
	o := NewOperator(cfg, max(s.MaxShards, 1))
	st := &o.In.Stream
	if s.MinShards > 0 {
		st.MinShards = s.MinShards
	}
	if s.MaxShards == 0 {
		st.MaxShards = scaling.MaxShardsPerStream
	}
	st.ScaleDownStabilization = s.ShardScaleDown
	var taskDown time.Duration
	if s.TaskScaleDown != nil {
		taskDown = max(*s.TaskScaleDown, time.Nanosecond) // the policy's spelling of "none"
	}
	for _, p := range []struct {
		tc *scaling.TaskConfig
		ts TaskSpec
	}{{&o.In.Producer, s.Producer}, {&o.In.Consumer, s.Consumer}} {
		if p.ts.MinTasks > 0 {
			p.tc.MinTasks = p.ts.MinTasks
		}
		if p.ts.MaxTasks > 0 {
			p.tc.MaxTasks = p.ts.MaxTasks
		}
		if p.ts.TargetCPUPercent > 0 {
			p.tc.TargetCPUPercent = p.ts.TargetCPUPercent
		}
		if p.ts.MaxIteratorAgeSeconds > 0 && p.tc == &o.In.Consumer {
			p.tc.MaxIteratorAgeSeconds = p.ts.MaxIteratorAgeSeconds
		}
		p.tc.ScaleDownStabilization = taskDown
	}
	o.Interval = s.Interval
	in := o.In
	o.start = func(l Load) (int32, int32, int32) {
		u := in.Stream.TargetUtilization
		sh := min(max(needShards(l, u), in.Stream.MinShards), in.Stream.MaxShards)
		pr := min(max(needTasks(l.Bytes, cfg.ProducerMiBpsPerTask*scaling.MiB*in.Producer.TargetCPUPercent/100), in.Producer.MinTasks), in.Producer.MaxTasks)
		co := min(max(needTasks(l.Bytes, cfg.ConsumerMiBpsPerTask*scaling.MiB*in.Consumer.TargetCPUPercent/100), in.Consumer.MinTasks), in.Consumer.MaxTasks)
		if s.StartShards > 0 {
			sh = s.StartShards
		}
		if s.StartProducers > 0 {
			pr = s.StartProducers
		}
		if s.StartConsumers > 0 {
			co = s.StartConsumers
		}
		return sh, pr, co
	}
	return o
}

// OracleReactive is a reference, not a bound: a purely reactive policy
// without metric delay. At the end of each minute it knows that minute's
// demand exactly (what was refused included) and the tasks' capacity, and
// it knows nothing of the minutes to come. Shards: the need at the
// operator's target utilization, up at once (in legal steps, as
// PlanReshard makes them), down only to the highest need of the last
// 15 minutes (the operator's default window). Tasks: the demand at the
// operator's target CPU, down only to the highest of the last 5 minutes.
// It spends its 10 calls a day without planning them.
//
// The reactive family (frontier.go, NewReactive) generalises it: its
// target utilization, scale-down window and shard floor are fields here.
type OracleReactive struct {
	cfg               Config
	t                 Trace
	shards, prod, con []int32 // needs per minute so far
	start             func(Load) (int32, int32, int32)
	name              string
	u                 float64 // shard target utilization
	window            int     // shard scale-down window, minutes
	floor             int32   // fewest shards held
	taskScale         float64 // multiplies the tasks' target CPU
	taskWindow        int     // task scale-down window, minutes
	// lag, when set, is CloudWatch's delay of each minute (the model's
	// draws): the policy learns minute k's need only lag(k) minutes after
	// it ends. Nil: zero delay.
	lag  func(k int) int
	last [3]int32 // with lag: the last reading (shards, producers, consumers)
}

// NewOracleReactive returns the oracle-reactive policy for trace t.
func NewOracleReactive(cfg Config, t Trace) *OracleReactive {
	cfg = cfg.withDefaults()
	return &OracleReactive{cfg: cfg, t: t, start: warmStart(cfg, cfg.TargetUtilization), name: "oracle-reactive",
		u: cfg.TargetUtilization, window: int(scaling.DefaultShardScaleDown / time.Minute),
		taskScale: 1, taskWindow: int(scaling.DefaultTaskScaleDown / time.Minute)}
}

func (o *OracleReactive) Name() string { return o.name }

// Start sizes the policy for the first minute; with the lag, that first
// load is also its reading until CloudWatch publishes a minute.
func (o *OracleReactive) Start(first Load) (int32, int32, int32) {
	if o.lag != nil {
		sh, pr, co := o.needs(first)
		o.last = [3]int32{sh, pr, co}
	}
	return o.start(first)
}

// windowMax is the highest of the last n entries of xs.
func windowMax(xs []int32, n int) int32 {
	var m int32
	for _, x := range xs[max(0, len(xs)-n):] {
		m = max(m, x)
	}
	return m
}

func (o *OracleReactive) Control(v View) Command {
	m := int(v.Now.Sub(o.t.Start)/time.Minute) - 1 // the minute that just ended
	sh, pr, co := o.read(m)
	o.shards, o.prod, o.con = append(o.shards, sh), append(o.prod, pr), append(o.con, co)
	cmd := Command{ProducerDesired: windowMax(o.prod, o.taskWindow), ConsumerDesired: windowMax(o.con, o.taskWindow)}
	step := scaling.PlanReshard(scaling.ReshardState{Open: v.OpenShards, Target: max(windowMax(o.shards, o.window), o.floor),
		Updating: v.Updating, History: v.ReshardHistory, Now: v.Now})
	if step.Action == scaling.ReshardNow {
		cmd.ReshardTo = step.To
	}
	return cmd
}

// needs are the shards and tasks demand d needs at the policy's targets.
func (o *OracleReactive) needs(d Load) (shards, prod, con int32) {
	tu := o.cfg.TargetCPUPercent / 100 * o.taskScale
	return needShards(d, o.u), needTasks(d.Bytes, o.cfg.ProducerMiBpsPerTask*scaling.MiB*tu),
		needTasks(d.Bytes, o.cfg.ConsumerMiBpsPerTask*scaling.MiB*tu)
}

// read is what the policy learns at the end of minute m. Zero delay: that
// minute's needs. With the lag: the highest needs among the minutes
// CloudWatch publishes at m (minute k at k+lag(k)); when none is published,
// the last reading again, as a policy reading the newest point reads the
// same point twice.
func (o *OracleReactive) read(m int) (shards, prod, con int32) {
	if o.lag == nil {
		return o.needs(o.cfg.demand(o.t, min(max(m, 0), o.t.Minutes()-1)))
	}
	var got [3]int32
	seen := false
	for k := max(0, m-MaxMetricLagMinutes); k < m && k < o.t.Minutes(); k++ {
		if k+o.lag(k) != m {
			continue
		}
		sh, pr, co := o.needs(o.cfg.demand(o.t, k))
		got, seen = [3]int32{max(got[0], sh), max(got[1], pr), max(got[2], co)}, true
	}
	if seen {
		o.last = got
	}
	return o.last[0], o.last[1], o.last[2]
}

// warmStart sizes a policy for the first minute at utilization u, so that
// no policy is judged on a cold start the trace does not show.
func warmStart(cfg Config, u float64) func(Load) (int32, int32, int32) {
	return func(l Load) (int32, int32, int32) {
		tu := cfg.TargetCPUPercent / 100
		return needShards(l, u), needTasks(l.Bytes, cfg.ProducerMiBpsPerTask*scaling.MiB*tu),
			needTasks(l.Bytes, cfg.ConsumerMiBpsPerTask*scaling.MiB*tu)
	}
}

func (o *Operator) Name() string { return "operator" }

func (o *Operator) Start(first Load) (int32, int32, int32) { return o.start(first) }

func (o *Operator) Control(v View) Command {
	in := o.In
	in.OpenShards, in.StreamUpdating, in.ReshardHistory = v.OpenShards, v.Updating, v.ReshardHistory
	in.Metrics, in.ProducerTasks, in.ConsumerTasks = v.Metrics, v.Producer, v.Consumer
	if !o.SeesRefused {
		in.ProducerTasks.Refused = nil
	}
	at := v.Now
	if o.Interval > 0 && o.Interval < time.Minute {
		// Passes at the minute's start and every Interval after it; the
		// last one acts.
		at = v.Now.Add(-time.Minute)
		for ; at.Add(o.Interval).Before(v.Now); at = at.Add(o.Interval) {
			_, o.State = scaling.Decide(in, o.State, at)
		}
	}
	d, st := scaling.Decide(in, o.State, at)
	o.State, o.LastDecision = st, d
	cmd := Command{ProducerDesired: d.ProducerTasks, ConsumerDesired: d.ConsumerTasks}
	if d.ByMerge {
		// The actor merges one pair per pass while the stream is ACTIVE.
		if !v.Updating && d.Shards < v.OpenShards {
			cmd.MergeTo = d.Shards
		}
		return cmd
	}
	step := scaling.PlanReshard(scaling.ReshardState{Open: v.OpenShards, Target: d.Shards, Updating: v.Updating, History: v.ReshardHistory, Now: v.Now})
	if step.Action == scaling.ReshardNow {
		cmd.ReshardTo = step.To
	}
	return cmd
}

// shardDecision is the shard rule and reason of the last pass.
func (o *Operator) shardDecision() (scaling.ShardRule, string) {
	return o.LastDecision.ShardRule, o.LastDecision.ShardReason
}

// Seed is the seed as deployed: amazon-kinesis-scaling-utils tag V.9.6.0
// (the seed's Dockerfile clones that tag) with the seed's configuration
// (scaleOnOperation PUT and GET, minShards 1, maxShards 16,
// refreshShardsNumberAfterMin 5; up: over 75 % for 1 minute, +2 shards; down:
// under 25 % for 1 minute, −1 shard, 1 minute cool-off), and ECS target
// tracking at 65 % CPU for both services (min 1, max MaxTasks). Read from
// StreamMonitor, StreamMetricManager and StreamScaler at that tag:
//
//   - Each check asks CloudWatch for the last scaleAfterMins = 1 minute
//     (GetMetricStatistics, period 60, Sum; StartTime rounds down to the
//     minute). A metric with no datapoint there counts as low samples, so an
//     unpublished newest minute votes down; a partial one is used as is.
//   - Utilisation is the Sum per second over a capacity (open shards × 1 MiB/s
//     and 1000 records/s for PUT, × 2 MiB/s and 2000 records/s for GET)
//     loaded at start, after a check that returns a report (no action needed,
//     at the maximum, a split/merge) and every refreshShardsNumberAfterMin;
//     a successful UpdateShardCount returns no report, so the capacity stays
//     that of the old count until the next refresh.
//   - Per operation, the metric (bytes or records) with the higher newest
//     utilisation votes: up with a sample over 75 %, else down with one
//     under 25 %. Up wins if either operation votes up; none if both vote
//     none; otherwise down — so PUT between 25 and 50 % (GET under 25 %)
//     scales down.
//   - A target above maxShards (15 + 2 = 17) is refused by the tool
//     ("AlreadyAtMaximum"), so from an odd count it never reaches 16. A
//     target UpdateShardCount refuses (over 2× the open count, 1 → 3, or
//     the 10 calls per rolling 24 h spent) is reached by splitting and
//     merging shards instead, which has no daily limit (Command.SplitMerge).
//   - The monitor waits for the stream to be ACTIVE after each change, so
//     it does not check while the stream is UPDATING.
//
// The model checks once a minute (the tool checks every 45 s, so one or two
// checks fall in each minute), at the end of the minute: the window then
// holds the minute before, ended 59 s earlier, which it sees only when the
// model publishes that minute at its first opportunity (lag 1), at its
// partial value. GetRecords metrics are taken equal to what was written
// (the consumers keep up in the bench's model).
type Seed struct {
	name                 string
	MinShards, MaxShards int32
	MaxTasks             int32
	lastDown             time.Time
	capShards            int32     // open shards when the capacity was last loaded
	capAt                time.Time // when
	prod, cons           targetTracking
	start                func(Load) (int32, int32, int32)
}

// Seed's configuration and its tool's defaults (V.9.6.0).
const (
	seedUpPct, seedDownPct = 0.75, 0.25
	seedUpCount            = 2
	seedDownCount          = 1
	seedDownCoolOff        = time.Minute
	seedCapacityRefresh    = 5 * time.Minute
	// SeedShippedMaxShards is the seed configuration's maxShards.
	SeedShippedMaxShards = 16
)

// NewSeed configures the seed policy with maxShards (the seed ships 16) and
// maxTasks; the row is named "seed" at the shipped maximum and
// "seed-raised" otherwise.
func NewSeed(cfg Config, maxShards, maxTasks int32) *Seed {
	cfg = cfg.withDefaults()
	s := &Seed{name: "seed", MinShards: 1, MaxShards: maxShards, MaxTasks: maxTasks}
	if maxShards != SeedShippedMaxShards {
		s.name = "seed-raised"
	}
	s.prod = targetTracking{target: 65, min: 1, max: maxTasks}
	s.cons = targetTracking{target: 65, min: 1, max: maxTasks}
	c := cfg
	c.TargetCPUPercent = 65
	s.start = warmStart(c, 0.75)
	return s
}

func (s *Seed) Name() string { return s.name }

func (s *Seed) Start(first Load) (int32, int32, int32) {
	sh, p, c := s.start(first)
	// The seed starts within its own bounds.
	return min(max(sh, s.MinShards), s.MaxShards), p, c
}

func newest(ps []scaling.Point) (scaling.Point, bool) {
	if len(ps) == 0 {
		return scaling.Point{}, false
	}
	p := ps[0]
	for _, q := range ps[1:] {
		if q.Time.After(p.Time) {
			p = q
		}
	}
	return p, true
}

// seedVote is one operation's vote: +1 up, −1 down, 0 none.
func seedVote(bytes, recs float64, seen bool, capShards int32, perShardBytes, perShardRecs float64) int {
	if !seen {
		return -1 // no datapoint in the window: low samples
	}
	b := bytes / 60 / (float64(capShards) * perShardBytes)
	r := recs / 60 / (float64(capShards) * perShardRecs)
	u := b
	if r > b {
		u = r
	}
	switch {
	case u > seedUpPct:
		return 1
	case u < seedDownPct:
		return -1
	}
	return 0
}

func (s *Seed) Control(v View) Command {
	cmd := Command{
		ProducerDesired: s.prod.next(v.Producer),
		ConsumerDesired: s.cons.next(v.Consumer),
	}
	if v.Updating || v.OpenShards < 1 {
		return cmd // the monitor is waiting for ACTIVE
	}
	if s.capShards == 0 {
		s.capShards, s.capAt = v.OpenShards, v.Now
	}
	// The window [now-1m rounded down to the minute, now] at 59 s into the
	// minute that just ended holds the minute before it.
	var bytes, recs float64
	seen := false
	for _, p := range v.Metrics.IncomingBytes {
		if p.Time.Equal(v.Now.Add(-2 * time.Minute)) {
			bytes, seen = p.Value, true
		}
	}
	for _, p := range v.Metrics.IncomingRecords {
		if p.Time.Equal(v.Now.Add(-2 * time.Minute)) {
			recs = p.Value
		}
	}
	put := seedVote(bytes, recs, seen, s.capShards, scaling.ShardWriteBytesPerSec, scaling.ShardWriteRecordsPerSec)
	get := seedVote(bytes, recs, seen, s.capShards, ShardReadBytesPerSec, 2000)
	vote := -1
	switch {
	case put == 1 || get == 1:
		vote = 1
	case put == 0 && get == 0:
		vote = 0
	}
	report := false // whether the check returns a report (the capacity is then reloaded)
	open := v.OpenShards
	call := func(to int32) {
		switch {
		case to > s.MaxShards || to < s.MinShards:
			report = true // AlreadyAtMaximum / AlreadyAtMinimum
		case scaling.CheckStep(open, to) != nil || scaling.BudgetLeft(v.ReshardHistory, v.Now) == 0:
			cmd.ReshardTo, cmd.SplitMerge = to, true
			report = true
		default:
			cmd.ReshardTo = to // UpdateShardCount: no report
		}
	}
	switch vote {
	case 1:
		call(open + seedUpCount)
	case -1:
		if v.Now.Sub(s.lastDown) >= seedDownCoolOff && open-seedDownCount >= 1 {
			call(open - seedDownCount)
			s.lastDown = v.Now
		}
	default:
		report = true // NoActionRequired
	}
	if report || v.Now.Sub(s.capAt) > seedCapacityRefresh {
		s.capShards, s.capAt = open, v.Now
		if cmd.ReshardTo > 0 {
			s.capShards = cmd.ReshardTo // the tool reloads after waiting for ACTIVE
		}
	}
	return cmd
}

// targetTracking is Application Auto Scaling target tracking on average
// CPU as ECS configures it: scale out after 3 datapoints above the target,
// in after 15 datapoints below 90 % of it, to ceil(current × cpu / target).
type targetTracking struct {
	target   float64
	min, max int32
}

func (tt *targetTracking) next(o scaling.TaskObservation) int32 {
	cur := o.Desired
	pts := o.CPUPercent
	if len(pts) < 3 || o.Running < 1 {
		return cur
	}
	above, below := 0, 0
	for i := len(pts) - 1; i >= 0; i-- {
		if pts[i].Value > tt.target && below == 0 {
			above++
		} else if pts[i].Value < 0.9*tt.target && above == 0 {
			below++
		} else {
			break
		}
	}
	last := pts[len(pts)-1].Value
	want := int32(math.Ceil(float64(o.Running) * last / tt.target))
	switch {
	case above >= 3 && want > cur:
		return min(max(want, cur+1), tt.max)
	case below >= 15 && want < cur:
		return max(want, tt.min)
	}
	return cur
}

// fixed holds one shard count and task counts for the whole trace.
type fixed struct {
	name               string
	shards, prod, cons int32
}

func (f *fixed) Name() string                     { return f.name }
func (f *fixed) Start(Load) (int32, int32, int32) { return f.shards, f.prod, f.cons }
func (f *fixed) Control(View) Command {
	return Command{ProducerDesired: f.prod, ConsumerDesired: f.cons}
}

// NewFixedPeak is provisioned once for the trace's peak: the fewest shards
// and tasks that carry its highest minute.
func NewFixedPeak(cfg Config, t Trace) Controller {
	cfg = cfg.withDefaults()
	p := peakLoad(cfg, t)
	return &fixed{name: "fixed-peak", shards: needShards(p, 1),
		prod: needTasks(p.Bytes, cfg.ProducerMiBpsPerTask*scaling.MiB), cons: needTasks(p.Bytes, cfg.ConsumerMiBpsPerTask*scaling.MiB)}
}

// Clairvoyant is the lower bound: each minute exactly the fewest shards and
// tasks that carry it, ignoring every AWS limit and delay.
func Clairvoyant(cfg Config, t Trace) Result { return clairvoyantAt(cfg, t, 1) }

// ClairvoyantShardHoursAt is the clairvoyant's shard-hours when it may fill
// shards only to utilization u: what a perfect policy with the operator's
// target utilization would use. Its ratio to Clairvoyant's shard-hours is
// the best "vs clairvoyant" any policy at u can reach (about 1/u where the
// load needs more than a shard).
func ClairvoyantShardHoursAt(cfg Config, t Trace, u float64) float64 {
	return clairvoyantAt(cfg, t, u).ShardHours
}

func clairvoyantAt(cfg Config, t Trace, u float64) Result {
	cfg = cfg.withDefaults()
	res := Result{Policy: "clairvoyant"}
	var putUnits float64
	unitsPerRecord := math.Ceil(cfg.RecordBytes / PutPayloadUnitBytes)
	prev := int32(0)
	for m := range t.Minutes() {
		d := cfg.demand(t, m)
		s := needShards(d, u)
		if prev != 0 && s != prev {
			res.ReshardCalls++
		}
		prev = s
		res.MaxShards = max(res.MaxShards, s)
		res.ShardHours += float64(s) / 60
		res.TaskHours += float64(needTasks(d.Bytes, cfg.ProducerMiBpsPerTask*scaling.MiB)+needTasks(d.Bytes, cfg.ConsumerMiBpsPerTask*scaling.MiB)) / 60
		putUnits += d.Records * 60 * unitsPerRecord
	}
	res.StreamCostUSD = res.ShardHours*PriceShardHour + putUnits/1e6*PricePutUnitsMillion
	res.TaskCostUSD = res.TaskHours * cfg.taskHourPrice()
	res.CostUSD = res.StreamCostUSD + res.TaskCostUSD
	return res
}

// OnDemand models a Kinesis on-demand stream (AWS, "Choose the data stream
// capacity mode", docs.aws.amazon.com/streams/latest/dev/how-do-i-size-a-stream.html):
// it takes writes up to twice the highest write rate of the previous 30
// days, in bytes and in records (at least 4 MiB/s and 4000 records/s, a new
// stream's capacity), but a new peak raises that capacity only after 15
// minutes ("if your traffic grows more than double the previous peak within
// a 15-minute duration, you might experience throttling"), and never above
// the per-stream write quota (OnDemandMaxBytesPerSec, 10 GB/s in us-east-1;
// docs.aws.amazon.com/streams/latest/dev/service-sizes-and-limits.html).
// The rest is throttled. Priced
// per stream-hour and per GB written and read (each record rounded up to
// 1 KiB), with the clairvoyant task counts (so its cost is a lower bound:
// the comparison favours on-demand).
func OnDemand(cfg Config, t Trace) Result {
	cfg = cfg.withDefaults()
	res := Result{Policy: "on-demand"}
	const window = 30 * 24 * 60
	// A sliding-window maximum of the demand actually written, fed with
	// each minute's rate OnDemandScaleUpMinutes after it.
	type mv struct {
		m int
		b float64
	}
	// Warm start, as every policy: the stream has already carried the
	// first minute's rate within the last 30 days (a cold on-demand stream
	// would start at 4 MiB/s and throttle a busy first minute).
	var dq []mv
	if t.Minutes() > 0 {
		dq = append(dq, mv{-OnDemandScaleUpMinutes - 1, cfg.demand(t, 0).Bytes})
	}
	written := make([]float64, t.Minutes())
	var demRecs, thrRecs, writtenBytes float64
	rounded := math.Ceil(cfg.RecordBytes/OnDemandRecordRoundBytes) * OnDemandRecordRoundBytes
	for m := range t.Minutes() {
		if k := m - OnDemandScaleUpMinutes; k >= 0 {
			for len(dq) > 0 && dq[len(dq)-1].b <= written[k] {
				dq = dq[:len(dq)-1]
			}
			dq = append(dq, mv{k, written[k]})
		}
		for len(dq) > 0 && dq[0].m <= m-window {
			dq = dq[1:]
		}
		peak := 0.0
		if len(dq) > 0 {
			peak = dq[0].b
		}
		// Both limits follow the previous peak: 2× its bytes and 2× its
		// records (a new stream's 4 MiB/s and 4000 records/s at least). The
		// record size is fixed, so the records peak is the bytes peak over
		// it. (Deriving records/s from MiB/s, 1000 per MiB, throttled most
		// small records that the bytes limit allowed.)
		capB := min(max(4*scaling.MiB, 2*peak), OnDemandMaxBytesPerSec)
		capR := max(4000, 2*peak/cfg.RecordBytes)
		d := cfg.demand(t, m)
		f := 1.0
		if d.Bytes > 0 {
			f = min(1, capB/d.Bytes, capR/d.Records)
		}
		demRecs += d.Records * 60
		thrRecs += d.Records * (1 - f) * 60
		writtenBytes += d.Records * f * 60 * rounded
		written[m] = d.Bytes * f
		if cfg.Timeline {
			res.Timeline = append(res.Timeline, Minute{Minute: m, OfferedMiBps: d.Bytes / scaling.MiB, AcceptedMiBps: d.Bytes * f / scaling.MiB, ThrottledPercent: 100 * (1 - f)})
		}
		res.TaskHours += float64(needTasks(d.Bytes, cfg.ProducerMiBpsPerTask*scaling.MiB)+needTasks(d.Bytes, cfg.ConsumerMiBpsPerTask*scaling.MiB)) / 60
	}
	hours := float64(t.Minutes()) / 60
	res.ThrottledPercent = pct(thrRecs, demRecs)
	res.LostPercent = res.ThrottledPercent // clairvoyant tasks refuse nothing
	res.StreamCostUSD = hours*PriceOnDemandStreamHour + writtenBytes/GB*(PriceOnDemandWriteGB+PriceOnDemandReadGB)
	res.TaskCostUSD = res.TaskHours * cfg.taskHourPrice()
	res.CostUSD = res.StreamCostUSD + res.TaskCostUSD
	return res
}
