package sim

import (
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kdp-io/streamprocessor-operator/internal/scaling"
)

// flat returns a trace of n minutes at a constant fraction of the peak.
func flat(n int, v float64) Trace {
	l := make([]float64, n)
	for i := range l {
		l[i] = v
	}
	return Trace{Name: "flat", Start: synthStart, Load: l}
}

// scripted is a controller that starts at given counts and issues the
// reshard calls of a script at given minutes (indexed by the pass).
type scripted struct {
	shards, tasks int32
	calls         map[int]int32
	pass          int
	views         []View
}

func (s *scripted) Name() string { return "scripted" }
func (s *scripted) Start(Load) (int32, int32, int32) {
	return s.shards, s.tasks, s.tasks
}
func (s *scripted) Control(v View) Command {
	s.views = append(s.views, v)
	to := s.calls[s.pass]
	s.pass++
	return Command{ReshardTo: to, ProducerDesired: s.tasks, ConsumerDesired: s.tasks}
}

func cfg1() Config {
	c := DefaultConfig()
	c.PeakMiBps = 2
	c.RecordBytes = 2048 // 1024 records/s: the byte limit binds
	return c
}

func TestModelRejectsIllegalCalls(t *testing.T) {
	tests := []struct {
		name              string
		calls             map[int]int32
		accepted, refused int
		maxShards         int32
	}{
		{"more than double", map[int]int32{0: 9}, 0, 1, 4},
		{"less than half", map[int]int32{0: 1}, 0, 1, 4},
		{"double is fine", map[int]int32{0: 8}, 1, 0, 8},
		{"half is fine", map[int]int32{0: 2}, 1, 0, 4},
		{"not while UPDATING", map[int]int32{0: 8, 1: 16}, 1, 1, 8},
		{"above the stream limit", map[int]int32{0: 10001}, 0, 1, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Run(cfg1(), flat(60, 0.1), &scripted{shards: 4, tasks: 4, calls: tt.calls})
			if r.ReshardCalls != tt.accepted || r.RejectedCalls != tt.refused || r.MaxShards != tt.maxShards {
				t.Fatalf("accepted %d refused %d max shards %d, want %d, %d, %d",
					r.ReshardCalls, r.RejectedCalls, r.MaxShards, tt.accepted, tt.refused, tt.maxShards)
			}
		})
	}
}

// TestModelDailyBudget: the 11th call within 24 hours is refused; after the
// first call leaves the window, calls are accepted again.
func TestModelDailyBudget(t *testing.T) {
	calls := map[int]int32{}
	to := int32(2)
	for i := range 11 {
		calls[i*20] = to // every 20 minutes, well after UPDATING ends
		if to == 2 {
			to = 1
		} else {
			to = 2
		}
	}
	calls[24*60+5] = 2 // the first call (minute 0, at now = 1 min) left at 24h+1min
	r := Run(cfg1(), flat(24*60+30, 0.01), &scripted{shards: 1, tasks: 1, calls: calls})
	if r.ReshardCalls != 11 || r.RejectedCalls != 1 {
		t.Fatalf("accepted %d refused %d, want 11 and 1", r.ReshardCalls, r.RejectedCalls)
	}
}

func TestModelThrottling(t *testing.T) {
	// 2 MiB/s against 1 shard: half the records are refused.
	r := Run(cfg1(), flat(60, 1), &scripted{shards: 1, tasks: 4})
	if math.Abs(r.ThrottledPercent-50) > 0.01 {
		t.Fatalf("throttled %.3f%%, want 50%%", r.ThrottledPercent)
	}
	// 2 MiB/s on 2 shards: nothing refused.
	if r := Run(cfg1(), flat(60, 1), &scripted{shards: 2, tasks: 4}); r.ThrottledPercent != 0 {
		t.Fatalf("throttled %.3f%% at capacity, want 0", r.ThrottledPercent)
	}
	// Small records: the 1000 records/s limit binds before 1 MiB/s.
	c := cfg1()
	c.RecordBytes = 100 // 2 MiB/s = 20972 records/s, 21 shards' worth
	if r := Run(c, flat(60, 1), &scripted{shards: 4, tasks: 4}); math.Abs(r.ThrottledPercent-(100-100*4000/(2*float64(scaling.MiB)/100))) > 0.01 {
		t.Fatalf("records limit: throttled %.3f%%", r.ThrottledPercent)
	}
	// While UPDATING 4→2 only 2 shards are relied on.
	c = cfg1()
	c.PeakMiBps = 3
	if r := Run(c, flat(30, 1), &scripted{shards: 4, tasks: 4}); r.ThrottledPercent != 0 {
		t.Fatalf("3 MiB/s on 4 shards throttled")
	}
	r = Run(c, flat(30, 1), &scripted{shards: 4, tasks: 4, calls: map[int]int32{0: 2}})
	if r.ThrottledPercent == 0 {
		t.Fatalf("no throttling after scaling down below the load")
	}
}

// TestModelCloudWatch: what a policy sees is 1–3 minutes late and the
// newest points may be partial but never more than the truth.
func TestModelCloudWatch(t *testing.T) {
	s := &scripted{shards: 4, tasks: 4}
	Run(cfg1(), flat(120, 1), s)
	truth := 2 * float64(scaling.MiB) * 60
	sawPartial, sawLag3 := false, false
	for _, v := range s.views[20:] {
		ps := v.Metrics.IncomingBytes
		if len(ps) == 0 {
			t.Fatalf("%v: no data", v.Now)
		}
		newest := ps[len(ps)-1]
		lag := v.Now.Sub(newest.Time.Add(time.Minute))
		if lag < time.Minute || lag > 3*time.Minute {
			t.Fatalf("%v: newest point ended %v ago, want 1–3 min", v.Now, lag)
		}
		sawLag3 = sawLag3 || lag == 3*time.Minute
		for _, p := range ps {
			if p.Value > truth*(1+1e-9) {
				t.Fatalf("point above the truth: %v > %v", p.Value, truth)
			}
			complete := !p.Time.Add(time.Minute + scaling.CompleteAfter).After(v.Now)
			if complete && math.Abs(p.Value-truth) > 1e-6*truth {
				t.Fatalf("complete point %v is %v, want %v", p.Time, p.Value, truth)
			}
			sawPartial = sawPartial || p.Value < truth*0.99
		}
	}
	if !sawPartial || !sawLag3 {
		t.Fatalf("partial points seen %v, 3-minute lag seen %v: the model lost a rule", sawPartial, sawLag3)
	}
}

func TestModelFargateStartAndIteratorAge(t *testing.T) {
	var sv service
	sv.setDesired(3, 10)
	sv.tick(10)
	if sv.running != 0 {
		t.Fatalf("tasks running at once; want a minute to start")
	}
	sv.tick(11)
	if sv.running != 3 {
		t.Fatalf("running %d after a minute, want 3", sv.running)
	}
	sv.setDesired(1, 12)
	if sv.running != 1 {
		t.Fatalf("scale-in left %d running", sv.running)
	}

	// One consumer task (4 MiB/s) against 8 MiB/s: the backlog and the
	// iterator age grow; with 2 tasks they do not.
	c := DefaultConfig()
	c.PeakMiBps = 8
	slow := Run(c, flat(60, 1), &scripted{shards: 8, tasks: 1})
	if slow.P99IteratorAgeSeconds < 20 {
		t.Fatalf("p99 iterator age %.0fs with half the consumer capacity, want growing", slow.P99IteratorAgeSeconds)
	}
	if r := Run(c, flat(60, 1), &scripted{shards: 8, tasks: 2}); r.P99IteratorAgeSeconds != 0 {
		t.Fatalf("p99 iterator age %.0fs with enough consumers, want 0", r.P99IteratorAgeSeconds)
	}
	// The shard read limit (2 MiB/s) binds too: 8 MiB/s on 2 shards cannot be
	// written in full, and what is written is read at most at 4 MiB/s.
	if r := Run(c, flat(60, 1), &scripted{shards: 2, tasks: 2}); r.ThrottledPercent < 74 {
		t.Fatalf("throttled %.1f%%, want 75%%", r.ThrottledPercent)
	}
}

func TestBaselines(t *testing.T) {
	c := DefaultConfig()
	tr := SyntheticTraces(1)[0] // the step
	cl, fp, od := Clairvoyant(c, tr), Run(c, tr, NewFixedPeak(c, tr)), OnDemand(c, tr)
	if cl.ThrottledPercent != 0 || fp.ThrottledPercent != 0 {
		t.Fatalf("clairvoyant %.3f%%, fixed-peak %.3f%% throttled, want 0", cl.ThrottledPercent, fp.ThrottledPercent)
	}
	if cl.ShardHours >= fp.ShardHours {
		t.Fatalf("clairvoyant %.0f shard-h ≥ fixed-peak %.0f", cl.ShardHours, fp.ShardHours)
	}
	// On-demand: a ×10 step above a 4 MiB/s start is more than twice the
	// previous peak, so it throttles for a moment.
	if od.ThrottledPercent == 0 {
		t.Fatalf("on-demand took a ×10 step above twice its previous peak without throttling")
	}
	hours := float64(tr.Minutes()) / 60
	if od.StreamCostUSD < hours*PriceOnDemandStreamHour {
		t.Fatalf("on-demand cost %.2f below its stream-hours", od.StreamCostUSD)
	}
}

// TestOperatorMakesOnlyLegalCalls: on every synthetic trace the operator's
// policy, run as the reconciler runs it, never has a call refused and stays
// within the daily budget; on the four that swing (step, ramp, crowds,
// diurnal) it throttles less than the seed and uses fewer shard-hours than
// provisioning for the peak. (On the flat noisy load the peak at 100 % is
// cheaper than any policy at 70 %.)
func TestOperatorMakesOnlyLegalCalls(t *testing.T) {
	c := DefaultConfig()
	for i, tr := range SyntheticTraces(7) {
		r := Run(c, tr, NewOperator(c, scaling.MaxShardsPerStream))
		if r.RejectedCalls != 0 {
			t.Errorf("%s: %d calls refused", tr.Name, r.RejectedCalls)
		}
		if r.ReshardCalls == 0 {
			t.Errorf("%s: operator never resharded", tr.Name)
		}
		days := math.Ceil(float64(tr.Minutes()) / (24 * 60))
		if float64(r.ReshardCalls) > days*scaling.ReshardsPerWindow+scaling.ReshardsPerWindow {
			t.Errorf("%s: %d calls in %.0f days", tr.Name, r.ReshardCalls, days)
		}
		if i >= 4 {
			continue
		}
		rs := RunAll(c, tr)
		op, seed, fp := find(rs, "operator"), find(rs, "seed"), find(rs, "fixed-peak")
		if op.ThrottledPercent >= seed.ThrottledPercent {
			t.Errorf("%s: operator throttles %.3f%%, seed %.3f%%", tr.Name, op.ThrottledPercent, seed.ThrottledPercent)
		}
		if op.ShardHours >= fp.ShardHours {
			t.Errorf("%s: operator %.0f shard-h, fixed-peak %.0f", tr.Name, op.ShardHours, fp.ShardHours)
		}
	}
}

func TestParseTrace(t *testing.T) {
	tr, err := ParseTrace(strings.NewReader("timestamp,value\n2015-01-01 00:00:00,10\n2015-01-01 00:05:00,20\n2015-01-01 00:10:00,0\n"), "t")
	if err != nil {
		t.Fatal(err)
	}
	if tr.Minutes() != 11 {
		t.Fatalf("%d minutes, want 11", tr.Minutes())
	}
	want := []float64{0.5, 0.6, 0.7, 0.8, 0.9, 1, 0.8, 0.6, 0.4, 0.2, 0}
	for i, w := range want {
		if math.Abs(tr.Load[i]-w) > 1e-9 {
			t.Fatalf("minute %d: %v, want %v (all: %v)", i, tr.Load[i], w, tr.Load)
		}
	}
	// The same shape with a byte-order mark, a capitalised header, CRLF and
	// Unix seconds or milliseconds.
	for _, in := range []string{
		"\ufeffTimestamp,Value\r\n1420070400,10\r\n1420070700,20\r\n1420071000,0\r\n",
		"timestamp,value\n1420070400000,10\n1420070700000,20\n1420071000000,0\n",
	} {
		tr2, err := ParseTrace(strings.NewReader(in), "t")
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		if !slices.Equal(tr2.Load, tr.Load) || !tr2.Start.Equal(tr.Start) {
			t.Errorf("%q: start %v load %v, want %v %v", in, tr2.Start, tr2.Load, tr.Start, tr.Load)
		}
	}
	for _, bad := range []string{
		"time,value\n2015-01-01 00:00:00,1\n2015-01-01 00:01:00,1\n",
		"timestamp,value\n2015-01-01 00:00:00,-1\n2015-01-01 00:01:00,1\n",
		"timestamp,value\nyesterday,1\n2015-01-01 00:01:00,1\n",
		"timestamp,value\n2015-01-01 00:00:00,1\n",
	} {
		if _, err := ParseTrace(strings.NewReader(bad), "bad"); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

// TestResultJSONFields: scripts read these exact field names from -json.
func TestResultJSONFields(t *testing.T) {
	raw, err := json.Marshal(Result{})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"policy", "throttledPercent", "lostPercent", "producerRejectedPercent", "floorShardHours", "floorShardHours100", "p99IteratorAgeSeconds", "shardHours", "taskHours", "reshardCalls", "costUSD"} {
		if _, ok := m[f]; !ok {
			t.Errorf("JSON lacks %q: %s", f, raw)
		}
	}
	rs := RunAll(DefaultConfig(), flat(120, 0.5))
	var names []string
	for _, r := range rs {
		names = append(names, r.Policy)
	}
	if got := strings.Join(names, ","); got != "operator,operator-auto,seed,seed-raised,oracle-reactive,fixed-peak,on-demand,clairvoyant" {
		t.Errorf("policies %s", got)
	}
	// Every policy carries the trace's legal floors: at 70 % they are above
	// the clairvoyant's (which ignores the call rules), at 100 % not below it.
	cl := find(rs, "clairvoyant").ShardHours
	for _, r := range rs {
		if r.FloorShardHours < cl*1.4 || r.FloorShardHours100 < cl-1e-9 || r.FloorShardHours100 > r.FloorShardHours {
			t.Errorf("%s: floors %.1f at 70%%, %.1f at 100%%; clairvoyant %.1f", r.Policy, r.FloorShardHours, r.FloorShardHours100, cl)
		}
	}
}

// TestOnDemandWarmStart: like every policy, on-demand starts as if it had
// already carried the first minute's rate, so a steady trace never throttles.
func TestOnDemandWarmStart(t *testing.T) {
	if od := OnDemand(DefaultConfig(), flat(120, 1)); od.ThrottledPercent != 0 {
		t.Fatalf("on-demand throttled %.3f%% of a steady 40 MiB/s", od.ThrottledPercent)
	}
}

// TestCompareRow: the bench's operator@85% row is judged by the same goals
// as the operator row when asked, and does not replace it.
func TestCompareRow(t *testing.T) {
	rs := []Result{
		{Policy: "operator", ThrottledPercent: 1, ShardHours: 200},
		{Policy: CompareName(0.85), ThrottledPercent: 0, ShardHours: 110, StreamCostUSD: 1},
		{Policy: "seed", ThrottledPercent: 5, ShardHours: 150},
		{Policy: "on-demand", StreamCostUSD: 10},
		{Policy: "clairvoyant", ShardHours: 100},
	}
	if g := CheckGoals(rs); g.All() {
		t.Fatalf("operator row meets all goals: %s", g)
	}
	if g := CompareGoals(rs, "operator@85%"); !g.All() {
		t.Fatalf("operator@85%% row misses goals: %s", g)
	}
	if DefaultConfig().TargetUtilization != 0.70 {
		t.Fatalf("bench default target utilization %.2f, want the CRD default 0.70", DefaultConfig().TargetUtilization)
	}
}

// TestClairvoyantAtUtilization: filling shards only to u costs about 1/u
// more shard-hours once the load needs more than a shard, and never less.
func TestClairvoyantAtUtilization(t *testing.T) {
	c := DefaultConfig()
	tr := flat(120, 1) // 40 MiB/s: 42 shards at 100 %, 60 at 70 %
	cl := Clairvoyant(c, tr).ShardHours
	if got := ClairvoyantShardHoursAt(c, tr, 1); got != cl {
		t.Fatalf("at u=1: %.1f, want the clairvoyant's %.1f", got, cl)
	}
	if got := ClairvoyantShardHoursAt(c, tr, 0.7) / cl; math.Abs(got-60.0/42) > 1e-9 {
		t.Fatalf("at u=0.7: %.3fx, want %.3fx", got, 60.0/42)
	}
}

// TestOnDemandSmallRecords: on-demand's records/s limit follows the previous
// records peak, so small records at a steady rate are not throttled (the
// records limit used to be derived from MiB/s at 1000 records per MiB).
func TestOnDemandSmallRecords(t *testing.T) {
	c := DefaultConfig()
	c.RecordBytes = 100
	od := OnDemand(c, flat(120, 1))
	if od.ThrottledPercent != 0 {
		t.Fatalf("on-demand throttled %.1f%% of steady 100-byte records", od.ThrottledPercent)
	}
	// Every record is billed as 1 KiB, written and read.
	want := 2.0*PriceOnDemandStreamHour + 40.0*scaling.MiB/100*7200*1024/GB*(PriceOnDemandWriteGB+PriceOnDemandReadGB)
	if math.Abs(od.StreamCostUSD-want) > 1e-6*want {
		t.Fatalf("stream cost %.2f, want %.2f", od.StreamCostUSD, want)
	}
}

// TestOperatorFlatNoisyLoad: a flat load with ±7.5 % noise every 5 minutes
// (the synthetic CPU-like week). The operator throttles nothing and stays
// within a tenth of the legal floor's shard-hours at its utilization, even
// though a wobble above the day's peak can buy a budget-sized step that the
// next scale-down takes back (80 shards at most where 60 carry the noisiest
// minute; see docs/scaling.md).
func TestOperatorFlatNoisyLoad(t *testing.T) {
	tr := SyntheticTraces(1)[4]
	cfg := DefaultConfig()
	res := Run(cfg, tr, NewOperator(cfg, 10000))
	floor := LegalFloorShardHours(cfg, tr, cfg.TargetUtilization)
	if res.ShardHours > 1.1*floor {
		t.Errorf("%.0f shard-h, more than 1.1 × the legal floor of %.0f at %.0f%%", res.ShardHours, floor, 100*cfg.TargetUtilization)
	}
	if res.ThrottledPercent > 0 {
		t.Errorf("throttled %.3f%%", res.ThrottledPercent)
	}
	t.Logf("%.0f shard-h (floor %.0f), max %d shards, %d calls", res.ShardHours, floor, res.MaxShards, res.ReshardCalls)
}

// TestLostCountsProducerRefusals: records the producers refuse for lack of
// tasks never reach Kinesis, so they are not in ThrottledPercent, but they
// are lost to the client and must be in LostPercent.
func TestLostCountsProducerRefusals(t *testing.T) {
	cfg := DefaultConfig() // 40 MiB/s at the peak, 5 MiB/s per producer task
	tr := flat(30, 1)
	// Shards for the whole load, one producer task: 35 of 40 MiB/s refused
	// at the front door, nothing throttled by Kinesis.
	r := Run(cfg, tr, &fixed{name: "short-of-producers", shards: 40, prod: 1, cons: 10})
	if r.ThrottledPercent != 0 {
		t.Errorf("throttled %.3f%%, want 0 with a shard per MiB/s", r.ThrottledPercent)
	}
	if want := 100 * 35.0 / 40; math.Abs(r.ProducerRejectedPercent-want) > 0.01 || math.Abs(r.LostPercent-want) > 0.01 {
		t.Errorf("producer refused %.3f%%, lost %.3f%%; want both %.3f%%", r.ProducerRejectedPercent, r.LostPercent, want)
	}
	// Too few shards as well: both parts add up.
	r = Run(cfg, tr, &fixed{name: "short-of-both", shards: 2, prod: 2, cons: 10})
	if got, want := r.LostPercent, r.ThrottledPercent+r.ProducerRejectedPercent; r.ThrottledPercent == 0 || math.Abs(got-want) > 1e-9 {
		t.Errorf("lost %.3f%%, want throttled %.3f%% + producer refused %.3f%%", got, r.ThrottledPercent, r.ProducerRejectedPercent)
	}
}

// TestOnDemandNewPeakTakesFifteenMinutes: on-demand takes twice the previous
// peak at once, but a jump beyond that is throttled until the new peak has
// stood for 15 minutes (AWS: traffic growing more than 2x the previous peak
// within 15 minutes may be throttled), not for one minute.
func TestOnDemandNewPeakTakesFifteenMinutes(t *testing.T) {
	l := make([]float64, 120)
	for m := range l {
		l[m] = 0.25 // 10 MiB/s
		if m >= 60 {
			l[m] = 1 // 40 MiB/s: 4x the previous peak
		}
	}
	od := OnDemand(DefaultConfig(), Trace{Name: "x4", Start: synthStart, Load: l})
	// Minutes 60–74 take 20 of 40 MiB/s; of 75 load-units, 7.5 are throttled.
	if want := 10.0; math.Abs(od.ThrottledPercent-want) > 0.01 || od.LostPercent != od.ThrottledPercent {
		t.Errorf("on-demand throttled %.3f%% (lost %.3f%%) of a 4x step, want %.1f%%", od.ThrottledPercent, od.LostPercent, want)
	}
	// Within 2x of the peak nothing is throttled, however fast it comes.
	for m := 60; m < 120; m++ {
		l[m] = 0.5
	}
	if od := OnDemand(DefaultConfig(), Trace{Name: "x2", Start: synthStart, Load: l}); od.ThrottledPercent != 0 {
		t.Errorf("on-demand throttled %.3f%% of a 2x step", od.ThrottledPercent)
	}
}

// TestIssueGoals: each goal is judged on its own figure.
func TestIssueGoals(t *testing.T) {
	rs := []Result{
		{Policy: "operator", LostPercent: 0.05, ShardHours: 120, FloorShardHours: 100, FloorShardHours100: 80},
		{Policy: "seed", LostPercent: 0.2},
		{Policy: "oracle-reactive", LostPercent: 0.2},
	}
	if got := IssueGoals("nyc_taxi", rs); got != "smooth: lost 0.050% ≤ 0.1 met; shard-h 1.20x floor ≤ 1.3x met; seed loses 0.2%, ≥ 5x the operator's MISSED" {
		t.Errorf("smooth: %s", got)
	}
	if got := IssueGoals("ec2_network_in_257a54", rs); got != "spiky: lost 0.050% ≤ 0.5x oracle-reactive's 0.200% met; shard-h 1.50x floor@100% ≤ 2x met; seed loses 0.2%, ≥ 5x the operator's MISSED" {
		t.Errorf("spiky: %s", got)
	}
	rs[1].LostPercent = 0.1
	if got := IssueGoals("ec2_network_in_257a54", rs); strings.Contains(got, "seed") {
		t.Errorf("seed at 0.1 %% is not judged: %s", got)
	}
}

// TestModelProducerRecords: the producer's IngestRecords counts the records
// it accepted (workloads/producer/cloudwatch.go publishes the accepted
// counter), so it is capped by its tasks like their CPU; the refused
// records are the rest of the demand. With the producers' high-resolution
// points (the default) every minute is visible, complete, at its end, while
// AWS/Kinesis lags; published once a minute (ProducerMetricLagMinutes -1)
// they share IncomingBytes' minutes, lag and partial values.
func TestModelProducerRecords(t *testing.T) {
	demand := 40 * float64(scaling.MiB) / 1000 * 60 // DefaultConfig: 40 MiB/s of 1000-byte records
	served := 5 * float64(scaling.MiB) / 1000 * 60  // one task of 5 MiB/s
	views := func(producerLag int) []View {
		cfg := DefaultConfig()
		cfg.ProducerMetricLagMinutes = producerLag
		s := &scripted{shards: 50, tasks: 1}
		Run(cfg, flat(60, 1), s)
		return s.views[20:]
	}
	exact := func(t *testing.T, at time.Time, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-6*want {
			t.Fatalf("minute %v: %.0f, want %.0f", at, got, want)
		}
	}
	t.Run("high resolution", func(t *testing.T) {
		ahead := false
		for _, v := range views(0) {
			req, ref, ingest := v.Producer.Requests, v.Producer.Refused, v.Metrics.IngestBytes
			if len(req) == 0 || len(req) != len(ref) || len(req) != len(ingest) {
				t.Fatalf("%v: %d served, %d refused, %d IngestBytes points; want the same minutes", v.Now, len(req), len(ref), len(ingest))
			}
			if newest := req[len(req)-1].Time; !newest.Equal(v.Now.Add(-time.Minute)) {
				t.Fatalf("%v: newest producer minute %v; want the one just ended", v.Now, newest)
			}
			for i, p := range req {
				exact(t, p.Time, p.Value, served)
				exact(t, p.Time, ref[i].Value, demand-served)
			}
			kin := v.Metrics.IncomingBytes
			ahead = ahead || len(kin) > 0 && kin[len(kin)-1].Time.Before(req[len(req)-1].Time)
		}
		if !ahead {
			t.Fatal("AWS/Kinesis never lagged the producers' minutes")
		}
	})
	t.Run("once a minute", func(t *testing.T) {
		sawPartial := false
		for _, v := range views(-1) {
			req, ref := v.Producer.Requests, v.Producer.Refused
			if len(req) == 0 || len(req) != len(ref) || len(req) != len(v.Metrics.IncomingBytes) {
				t.Fatalf("%v: %d served, %d refused, %d IncomingBytes points; want the same minutes", v.Now, len(req), len(ref), len(v.Metrics.IncomingBytes))
			}
			for i, p := range req {
				if !p.Time.Equal(ref[i].Time) || !p.Time.Equal(v.Metrics.IncomingBytes[i].Time) {
					t.Fatalf("%v: point %d at %v, refused at %v, IncomingBytes at %v", v.Now, i, p.Time, ref[i].Time, v.Metrics.IncomingBytes[i].Time)
				}
				if !p.Time.Add(time.Minute + scaling.CompleteAfter).After(v.Now) {
					exact(t, p.Time, p.Value, served)
					exact(t, p.Time, ref[i].Value, demand-served)
					continue
				}
				if p.Value > served*(1+1e-9) || ref[i].Value > (demand-served)*(1+1e-9) {
					t.Fatalf("partial minute %v above the truth", p.Time)
				}
				sawPartial = sawPartial || p.Value < 0.99*served
			}
		}
		if !sawPartial {
			t.Fatal("no partial point: the producer's records skip CloudWatch's publication rule")
		}
	})
}

// TestOperatorProducerRate: -producer-target-rate -1 sets the target per
// task at the target CPU share of a task's capacity; the policy sees the
// refused records unless HideProducerRefused, and then sizes the producers
// for the whole demand in one step.
func TestOperatorProducerRate(t *testing.T) {
	cfg := DefaultConfig()
	if o := NewOperator(cfg, 100); o.In.Producer.TargetRequestsPerTask != 0 {
		t.Fatalf("default target per task %v, want 0 (unset, as the CRD)", o.In.Producer.TargetRequestsPerTask)
	}
	cfg.ProducerTargetRecordsPerTask = -1
	perTask := 0.65 * 5 * float64(scaling.MiB) / 1000 // 3408 records/s
	now := synthStart.Add(time.Hour)
	var served, refused []scaling.Point
	for k := 14; k >= 4; k-- { // complete minutes only
		at := now.Add(-time.Duration(k) * time.Minute)
		served = append(served, scaling.Point{Time: at, Value: 2 * perTask / 0.65 * 60}) // 2 tasks saturated
		refused = append(refused, scaling.Point{Time: at, Value: 8 * perTask / 0.65 * 60})
	}
	v := View{Now: now, OpenShards: 50, Producer: scaling.TaskObservation{Desired: 2, Running: 2, Requests: served, Refused: refused}}
	for _, tt := range []struct {
		sees bool
		want int32
	}{{false, 4}, {true, 16}} { // ceil(2/0.65) and ceil(10/0.65)
		cfg.HideProducerRefused = !tt.sees
		o := NewOperator(cfg, 100)
		if math.Abs(o.In.Producer.TargetRequestsPerTask-perTask) > 1e-6 {
			t.Fatalf("target per task %v, want %v", o.In.Producer.TargetRequestsPerTask, perTask)
		}
		if got := o.Control(v).ProducerDesired; got != tt.want {
			t.Errorf("sees refused %v: producers %d (%s), want %d", tt.sees, got, o.LastDecision.ProducerReason, tt.want)
		}
	}
}

// TestOperatorSeesRefusedByDefault: with no target rate (the CRD's
// default), the operator sees the producers' refused records by default and
// its CPU rule counts them: 2 tasks saturated (100 % CPU) that served a
// fifth of the demand needed 500 %, ceil(2 × 500 ÷ 65) = 16 tasks in one
// step; with the records hidden, the CPU rule asks for ceil(2 × 100 ÷ 65) =
// 4.
func TestOperatorSeesRefusedByDefault(t *testing.T) {
	now := synthStart.Add(time.Hour)
	var cpu, served, refused []scaling.Point
	for k := 14; k >= 4; k-- { // complete minutes only
		at := now.Add(-time.Duration(k) * time.Minute)
		cpu = append(cpu, scaling.Point{Time: at, Value: 100})
		served = append(served, scaling.Point{Time: at, Value: 2000 * 60})
		refused = append(refused, scaling.Point{Time: at, Value: 8000 * 60})
	}
	v := View{Now: now, OpenShards: 50, Producer: scaling.TaskObservation{Desired: 2, Running: 2, CPUPercent: cpu, Requests: served, Refused: refused}}
	for _, tt := range []struct {
		hide bool
		want int32
	}{{false, 16}, {true, 4}} {
		cfg := DefaultConfig()
		cfg.HideProducerRefused = tt.hide
		o := NewOperator(cfg, 100)
		if got := o.Control(v).ProducerDesired; got != tt.want {
			t.Errorf("hidden %v: producers %d (%s), want %d", tt.hide, got, o.LastDecision.ProducerReason, tt.want)
		}
	}
}
