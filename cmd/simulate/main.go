// Command simulate replays traffic traces against a model of Kinesis,
// CloudWatch and Fargate under the operator's scaling policy and the
// alternatives (seed, fixed-peak, on-demand, clairvoyant).
//
//	go run ./cmd/simulate -trace FILE.csv [-peak-mibps N] [-record-bytes N] [-json]
//	go run ./cmd/simulate -bench [-traces ../shared/traces] [-json]
//	go run ./cmd/simulate -frontier [-traces ../shared/traces] [-peak-mibps N] [-frontier-lag [-seed N]] [-json]
//	go run ./cmd/simulate -onset [-traces ../shared/traces] [-only NAME] [-peak-mibps N] [-first-onset-stride N]
//	go run ./cmd/simulate -onset-budget [-traces ../shared/traces] [-only NAME] [-peak-mibps N] [-calls-per-day 10]
//	go run ./cmd/simulate -first-onset-budget [-traces ""] [-only NAME] [-peak-mibps N] [-calls-per-day 10] [-first-onset-stride N]
//	go run ./cmd/simulate -next-size [-traces ../shared/traces] [-only NAME] [-peak-mibps N] [-next-size-scales 0,1,2] [-next-size-members 4]
//	go run ./cmd/simulate -judge [-traces DIR] [-peaks 5,40,400] [-seeds 1] [-only NAME] [-workers N] [-baseline FILE] [-json]
//	go run ./cmd/simulate -judge -judged FILE [-baseline FILE] [-json]
//	go run ./cmd/simulate -episodes [-traces DIR] [-only NAME] [-peak-mibps N] [-seed N]
//	go run ./cmd/simulate -timeline [-traces DIR] -only NAME [-peak-mibps N] [-seed N] [-policy operator] [-from 2014-04-15T16:30|MINUTE] [-to ...] [-json]
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/kdp-io/streamprocessor-operator/internal/scaling"
	"github.com/kdp-io/streamprocessor-operator/internal/sim"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "simulate:", err)
		os.Exit(1)
	}
}

func run() error {
	o, err := parseOptions(flag.CommandLine, os.Args[1:])
	if err != nil {
		return err
	}
	switch {
	case o.judge.on:
		return runJudge(o)
	case o.frontier:
		return runFrontier(o.cfg, o.traces, o.only, o.asJSON, o.frontierLag)
	case o.onsetBudget:
		return runOnsetBudget(o.cfg, o.traces, o.only, o.callsPerDay)
	case o.firstOnsetBudget:
		return runFirstOnsetBudget(o.cfg, o.traces, o.only, o.callsPerDay, o.firstOnsetStride)
	case o.nextSize:
		return runNextSize(o.cfg, o.traces, o.only, o.nextSizeScales, o.nextSizeMembers)
	case o.onset:
		return runOnset(o.cfg, o.traces, o.only, o.firstOnsetStride)
	case o.refusals:
		return runRefusals(o)
	case o.excess:
		return runExcess(o)
	case o.mergeFloor:
		return runMergeFloor(o)
	case o.episodes:
		return runEpisodes(o)
	case o.timeline.on:
		return runTimeline(o)
	case o.bench:
		return runBench(o)
	case o.trace != "":
		return runTrace(o)
	default:
		flag.Usage()
		return fmt.Errorf("need -trace FILE.csv, -bench, -frontier, -onset, -onset-budget, -first-onset-budget, -next-size, -judge, -excess, -refusals, -episodes or -timeline")
	}
}

// options is the command line: the model's configuration and which mode
// to run on which traces.
type options struct {
	cfg                    sim.Config
	trace, traces, only    string
	asJSON                 bool
	bench, frontier, onset bool
	frontierLag            bool
	onsetBudget            bool
	firstOnsetBudget       bool
	nextSize               bool
	nextSizeScales         []float64
	nextSizeMembers        int
	callsPerDay            int
	refusals, excess       bool
	mergeFloor             bool
	episodes               bool
	firstOnsetStride       int
	judge                  judgeOptions
	timeline               timelineOptions
}

// parseOptions parses args into fs's flags and validates them; a bad
// value is an error naming its flag.
func parseOptions(fs *flag.FlagSet, args []string) (options, error) {
	o := options{cfg: sim.DefaultConfig()}
	scales := o.registerModes(fs)
	model := registerModel(fs, &o.cfg)
	o.judge.register(fs)
	o.timeline.register(fs)
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	model.apply(&o.cfg)
	var err error
	if o.nextSizeScales, err = sim.ParseScales(*scales); err != nil {
		return o, fmt.Errorf("-next-size-scales: %w", err)
	}
	return o, o.validate(fs)
}

// registerModes adds the modes' flags and the options they read to fs; it
// returns -next-size-scales's text, parsed after fs.Parse.
func (o *options) registerModes(fs *flag.FlagSet) (scales *string) {
	fs.StringVar(&o.trace, "trace", "", "CSV trace with header timestamp,value")
	fs.BoolVar(&o.bench, "bench", false, "run every trace in -traces plus the synthetic traces and print one table")
	fs.BoolVar(&o.frontier, "frontier", false, "run the idealised reactive family on every trace in -traces (and -only) plus the synthetic traces and print, per trace, what issue 13's goals ask against the best members, and the onset argument on the spiky traces (surges: the generator's on synthetic ones, detected on the files)")
	fs.BoolVar(&o.frontierLag, "frontier-lag", false, "with -frontier, every member reads the load with CloudWatch's lag, the operator's draws for -seed (or -metric-lag); goals stay the zero-delay oracle-reactive's, and the onset argument (which has no lag) is not printed")
	fs.BoolVar(&o.onset, "onset", false, "the onset argument of -frontier alone (its goals from oracle-reactive and the floor, without the family): every spiky trace in -traces (and -only) plus the synthetic ones; surges detected on the trace files")
	fs.BoolVar(&o.onsetBudget, "onset-budget", false, "the onset argument with the calls counted (OnsetBudgetBound): per spiky trace of -onset, the least loss any policy within 2x the floor at 100 % can reach with -calls-per-day calls per UTC day, against the loss goal (a few minutes a peak)")
	fs.BoolVar(&o.firstOnsetBudget, "first-onset-budget", false, "the first-onset argument and the calls-counted bound together: on the step and the flash crowd moved to every -first-onset-stride-th minute of the calm window (S_m), OnsetBudgetBound with the first surge met at most at the count the smooth goal leaves (`held`), against the loss goal on S_m; and the bursts' ceiling (minutes a peak)")
	fs.BoolVar(&o.nextSize, "next-size", false, "the next-size argument (BoundNextSize): per spiky trace of -onset, each surge's rise scaled by one of -next-size-scales drawn independently, the level held before a surge fixed before its size is drawn; the least expected loss within the expected shard-hour goal against the expected loss goal, both estimated on -next-size-members members (minutes a trace)")
	scales = fs.String("next-size-scales", "0,1,2", "with -next-size, the factors a surge's rise over its calm level may be scaled by (0: removed)")
	fs.IntVar(&o.nextSizeMembers, "next-size-members", 4, "with -next-size, the members drawn per trace to estimate the expected goals (each runs oracle-reactive, the operator and the legal floor)")
	fs.IntVar(&o.callsPerDay, "calls-per-day", scaling.ReshardsPerWindow, "with -onset-budget or -first-onset-budget, UpdateShardCount calls per calendar day (AWS: 10 per rolling 24 h)")
	fs.StringVar(&o.traces, "traces", "../shared/traces", "folder of CSV traces for -bench and the other modes over the bench's traces (empty: synthetic only)")
	fs.BoolVar(&o.asJSON, "json", false, "print JSON instead of a table")
	fs.IntVar(&o.firstOnsetStride, "first-onset-stride", 30, "with -onset or -first-onset-budget, the first-onset table checks oracle-reactive on the step and flash crowd moved to every this-many-th minute of the calm window (1: every minute; slow)")
	fs.StringVar(&o.only, "only", "", "with -bench, -excess, -refusals, -episodes, -frontier, -onset, -onset-budget, -first-onset-budget, -next-size or -judge, only the traces whose name contains this; with -timeline (required), the one trace: the name equal to this, else the only one containing it")
	fs.BoolVar(&o.refusals, "refusals", false, "for the bench's traces (-traces, -only): where the operator's producers refused records, by cause (tasks starting, scaled down within 15 minutes, load no higher than 15–60 minutes before, a new high)")
	fs.BoolVar(&o.episodes, "episodes", false, "for the bench's traces (-traces, -only): the operator's loss episodes, largest first — when, the share of the trace's records lost, the shards open as each began and for how long, the calm load before it, its peak, and the first reshard call")
	fs.BoolVar(&o.mergeFloor, "merge-floor", false, "for the bench's traces (-traces, -only): the legal floor at the target utilization and at 100 %, and the same with every decrease free (a lower bound when MergeShards may scale down without a call)")
	fs.BoolVar(&o.excess, "excess", false, "for the bench's traces (-traces, -only): the operator's shard-hours above the legal floor's schedule at its target utilization, split by the rule that held each minute's count")
	return scales
}

// modelFlags are the model's flags that are not read straight into
// sim.Config: switches stated the other way round, percentages, a count.
type modelFlags struct {
	readSide, seesRefused *bool
	seedMax               *int
	util, cmpUtil         *float64
}

// registerModel adds the model's and the operator's flags to fs, reading
// into cfg; the rest are set by apply after fs.Parse.
func registerModel(fs *flag.FlagSet, cfg *sim.Config) modelFlags {
	fs.Float64Var(&cfg.PeakMiBps, "peak-mibps", cfg.PeakMiBps, "write rate at the trace's peak, MiB/s")
	fs.Float64Var(&cfg.RecordBytes, "record-bytes", cfg.RecordBytes, "mean Kinesis record size as written (after KPL aggregation), bytes")
	fs.IntVar(&cfg.ReshardReserve, "reshard-reserve", 0, "operator's reshard calls kept beyond the climb to the day's peak (0: policy default, -1: none)")
	fs.StringVar(&cfg.Planner, "planner", "rules", "operator's shard planner: rules (the rule stack, the default) or horizon (the receding-horizon planner)")
	fs.Float64Var(&cfg.ConsumerMiBpsPerTask, "consumer-mibps", cfg.ConsumerMiBpsPerTask, "what one consumer task processes at 100 % CPU, MiB/s (below the 0.7 MiB/s a shard carries at 70 %, the consumer cannot keep up at a task per shard: the read side must add shards)")
	fs.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "seed of CloudWatch's delays and partial points and of the synthetic traces' noise")
	fs.IntVar(&cfg.MetricLagMinutes, "metric-lag", 0, "sensitivity: publish every CloudWatch minute this many minutes (1-3) after it ends (0: 1-3 at random per minute)")
	fs.IntVar(&cfg.ProducerMetricLagMinutes, "producer-metric-lag", 0, "sensitivity: minutes after its end a minute of the producers' own metrics (IngestBytes, IngestRecords, RefusedRecords) is visible: 0 (high-resolution points, the default), 1-3, or -1 for AWS/Kinesis's lag (standard resolution, once a minute)")
	fs.IntVar(&cfg.TaskStartMinutes, "task-start", 0, "sensitivity: minutes a Fargate task takes to start (0: 1)")
	fs.Float64Var(&cfg.UpdatingScale, "updating-scale", 0, "sensitivity: multiply every UPDATING time of the model (0: 1)")
	fs.IntVar(&cfg.MergeMinutes, "merge-minutes", 0, "sensitivity: minutes one MergeShards keeps the stream UPDATING (0: the model's UPDATING time for one shard's change, scaled by -updating-scale; AWS documents none)")
	fs.Float64Var(&cfg.BurstPeakToMean, "burst", 0, "peak-to-mean of the load within each minute: a tenth of the seconds at this multiple of the mean, Kinesis limits per second (0 or 1: a flat minute)")
	fs.Float64Var(&cfg.KeySkew, "key-skew", 0, "Zipf exponent of the records' spread over shards (0: uniform, as random UUID keys give)")
	fs.Float64Var(&cfg.ProducerTargetRecordsPerTask, "producer-target-rate", 0, "operator's spec.producer.targetRecordsPerSecondPerTask in the model's records/s (0: unset, CPU only, the CRD default; -1: the target CPU share of a task's capacity)")
	return modelFlags{
		readSide:    fs.Bool("read-side", true, "operator's read-side shard rule (false: off, to measure it)"),
		seesRefused: fs.Bool("producer-refused", true, "the operator sees the records the producers refused (their RefusedRecords, which controllers read for every object): its CPU rule counts them, and the rate rule with -producer-target-rate (false: hidden, as before 2026-11-27)"),
		seedMax:     fs.Int("seed-max", 0, "seed-raised's maximum shards (0: max(16, what the trace's peak needs)); the row seed keeps the shipped 16"),
		util:        fs.Float64("target-util", 100*cfg.TargetUtilization, "operator's spec.stream.targetUtilizationPercent (the CRD default is 70)"),
		cmpUtil:     fs.Float64("compare-util", 100*cfg.CompareUtilization, "with -bench, also run the operator at this targetUtilizationPercent as row operator@N% (0: no extra row)"),
	}
}

// apply sets what the parsed flags say in cfg.
func (m modelFlags) apply(cfg *sim.Config) {
	cfg.TargetUtilization = *m.util / 100
	cfg.CompareUtilization = *m.cmpUtil / 100
	cfg.SeedMaxShards = int32(*m.seedMax)
	cfg.NoReadSide = !*m.readSide
	cfg.HideProducerRefused = !*m.seesRefused
}

// validate refuses values out of range, stray arguments, more than one
// mode and flags the chosen mode would not read.
func (o *options) validate(fs *flag.FlagSet) error {
	cfg := o.cfg
	if cfg.Planner != scaling.PlannerRules && cfg.Planner != scaling.PlannerHorizon {
		return fmt.Errorf("-planner %q: want %s or %s", cfg.Planner, scaling.PlannerRules, scaling.PlannerHorizon)
	}
	if o.nextSizeMembers < 2 {
		return fmt.Errorf("-next-size-members %d: want 2 or more (the goals' standard error needs two)", o.nextSizeMembers)
	}
	if o.firstOnsetStride < 1 {
		return fmt.Errorf("-first-onset-stride %d: want 1 or more minutes", o.firstOnsetStride)
	}
	if cfg.MetricLagMinutes < 0 || cfg.MetricLagMinutes > sim.MaxMetricLagMinutes {
		return fmt.Errorf("-metric-lag %d: want 1 to %d minutes, or 0 for 1-%d at random", cfg.MetricLagMinutes, sim.MaxMetricLagMinutes, sim.MaxMetricLagMinutes)
	}
	if cfg.ProducerMetricLagMinutes < -1 || cfg.ProducerMetricLagMinutes > sim.MaxMetricLagMinutes {
		return fmt.Errorf("-producer-metric-lag %d: want 0 to %d minutes, or -1 for AWS/Kinesis's lag", cfg.ProducerMetricLagMinutes, sim.MaxMetricLagMinutes)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if m := o.modes(); len(m) > 1 {
		return fmt.Errorf("%s: one mode at a time (each prints its own report; run them one after the other)", strings.Join(m, ", "))
	}
	if err := o.judge.validate(fs, *o); err != nil {
		return err
	}
	return o.timeline.validate(fs, *o)
}

// modes are the mode flags set, as written on the command line.
func (o *options) modes() []string {
	var set []string
	for _, m := range []struct {
		name string
		on   bool
	}{
		{"-trace", o.trace != ""}, {"-bench", o.bench}, {"-frontier", o.frontier}, {"-onset", o.onset},
		{"-onset-budget", o.onsetBudget}, {"-first-onset-budget", o.firstOnsetBudget}, {"-next-size", o.nextSize},
		{"-judge", o.judge.on}, {"-refusals", o.refusals}, {"-excess", o.excess}, {"-merge-floor", o.mergeFloor},
		{"-episodes", o.episodes}, {"-timeline", o.timeline.on},
	} {
		if m.on {
			set = append(set, m.name)
		}
	}
	return set
}

// runRefusals prints where the operator's producers refused records on the
// bench's traces.
func runRefusals(o options) error {
	trs, err := sim.BenchTraces(o.cfg, o.traces, o.only)
	if err != nil {
		return err
	}
	writeRefusals(o.cfg, trs)
	return nil
}

// runExcess prints the operator's shard-hours above the legal floor's
// schedule on the bench's traces.
func runExcess(o options) error {
	trs, err := sim.BenchTraces(o.cfg, o.traces, o.only)
	if err != nil {
		return err
	}
	return writeExcess(o.cfg, trs)
}

// runMergeFloor prints, per trace, the legal floor and the free-down floor
// (sim.FreeDownFloorShardHours) at the target utilization and at 100 %.
func runMergeFloor(o options) error {
	trs, err := sim.BenchTraces(o.cfg, o.traces, o.only)
	if err != nil {
		return err
	}
	u := o.cfg.TargetUtilization
	fmt.Printf("legal floor and free-down floor (merges: any decrease free), shard-h; peak %.0f MiB/s\n", o.cfg.PeakMiBps)
	for _, t := range trs {
		l, f := sim.LegalFloorShardHours(o.cfg, t, u), sim.FreeDownFloorShardHours(o.cfg, t, u)
		l1, f1 := sim.LegalFloorShardHours(o.cfg, t, 1), sim.FreeDownFloorShardHours(o.cfg, t, 1)
		fmt.Printf("%-26s at %.0f%%: %.0f → %.0f (%.3fx)   at 100%%: %.0f → %.0f (%.3fx)\n", t.Name, 100*u, l, f, f/l, l1, f1, f1/l1)
	}
	return nil
}

// runEpisodes prints the operator's loss episodes on the bench's traces.
func runEpisodes(o options) error {
	ts, err := sim.BenchTraces(o.cfg, o.traces, o.only)
	if err != nil {
		return err
	}
	fmt.Printf("operator's loss episodes (lossy minutes with gaps of at most %d), largest first; peak %.0f MiB/s, seed %d\n", sim.EpisodeGap, o.cfg.PeakMiBps, o.cfg.Seed)
	for _, t := range ts {
		res, eps := sim.OperatorEpisodes(o.cfg, t)
		fmt.Printf("%s: lost %.3f%%, %.0f shard-h, %d calls, %d episodes\n", t.Name, res.LostPercent, res.ShardHours, res.ReshardCalls, len(eps))
		var cum float64
		for _, e := range eps {
			cum += e.LostPercent
			call := "no call"
			if e.FirstCall >= 0 {
				call = fmt.Sprintf("first call %s →%d", t.Start.Add(time.Duration(e.FirstCall)*time.Minute).Format("15:04"), e.CallTo)
			}
			fmt.Printf("  %s–%s  lost %.4f%% (cum %.3f%%)  %d open for %s  calm %.3f → peak %.2f MiB/s  %s\n",
				t.Start.Add(time.Duration(e.Start)*time.Minute).Format("01-02 15:04"), t.Start.Add(time.Duration(e.End)*time.Minute).Format("15:04"), e.LostPercent, cum, e.OpenAtStart, heldFor(e.HeldMinutes), e.CalmMiBps, e.PeakMiBps, call)
		}
	}
	return nil
}

// heldFor prints minutes as minutes, hours or days.
func heldFor(m int) string {
	switch {
	case m < 120:
		return fmt.Sprintf("%d min", m)
	case m < 48*60:
		return fmt.Sprintf("%.1f h", float64(m)/60)
	}
	return fmt.Sprintf("%.1f d", float64(m)/(24*60))
}

// runBench runs every policy on the bench's traces and prints one table
// (or, with -json, one object per trace).
func runBench(o options) error {
	ts, err := sim.BenchTraces(o.cfg, o.traces, o.only)
	if err != nil {
		return err
	}
	trs := sim.RunBench(o.cfg, ts)
	if !o.asJSON {
		return sim.WriteTable(os.Stdout, o.cfg, trs)
	}
	type row struct {
		Trace   string       `json:"trace"`
		Source  string       `json:"source"`
		Goals   string       `json:"goals"`
		Results []sim.Result `json:"results"`
	}
	var rows []row
	for _, tr := range trs {
		rows = append(rows, row{tr.Trace.Name, tr.Trace.Source, tr.Goals.String(), tr.Results})
	}
	return writeJSON(rows)
}

// runTrace runs every policy on the one trace of -trace.
func runTrace(o options) error {
	t, err := sim.LoadTraceFile(o.trace)
	if err != nil {
		return err
	}
	rs := sim.RunAll(o.cfg, t)
	if o.asJSON {
		return writeJSON(rs)
	}
	sm, _ := sim.SeedLimits(o.cfg, t)
	return sim.WriteTable(os.Stdout, o.cfg, []sim.TraceResults{{Trace: t, Results: rs, Goals: sim.CheckGoals(rs), SeedMax: sm}})
}

// writeRefusals prints sim.RefusalBreakdown for each trace whose
// producers refused records: one line, the run's loss and task-hours, then
// each cause's share of the refused records.
func writeRefusals(cfg sim.Config, ts []sim.Trace) {
	fmt.Printf("operator's producer refusals by cause (share of the records refused at the producers); peak %.0f MiB/s\n", cfg.PeakMiBps)
	for _, t := range ts {
		r := sim.RefusalBreakdown(cfg, t)
		fmt.Printf("%-26s lost %.3f%% producers %.3f%% task-h %.0f:", t.Name, r.LostPercent, r.ProducerRejectedPercent, r.TaskHours)
		for _, c := range sim.RefusalCauses {
			if v := r.ByCause[c]; v > 0 {
				fmt.Printf(" %s %.0f%%", c, 100*v)
			}
		}
		fmt.Println()
	}
}

// writeExcess prints sim.ExcessBreakdown for each trace: one line, the
// operator's and the floor schedule's shard-hours, then each cause's
// shard-hours and share of the difference.
func writeExcess(cfg sim.Config, ts []sim.Trace) error {
	fmt.Printf("operator's shard-hours above the legal floor's schedule at %.0f%%, by what held the count (shard-h, share of the excess); peak %.0f MiB/s\n", 100*cfg.TargetUtilization, cfg.PeakMiBps)
	for _, t := range ts {
		ex := sim.ExcessBreakdown(cfg, t)
		d := ex.OperatorShardHours - ex.FloorShardHours
		fmt.Printf("%-26s operator %.0f floor %.0f (%.2fx) excess %.0f:", t.Name, ex.OperatorShardHours, ex.FloorShardHours, ex.OperatorShardHours/ex.FloorShardHours, d)
		for _, c := range sim.ExcessCauses {
			if v := ex.ByCause[c]; v != 0 {
				fmt.Printf(" %s %.0f (%.0f%%)", c, v, 100*v/d)
			}
		}
		fmt.Println()
	}
	return nil
}

// runFrontier runs the reactive family on two goroutines (the machine's
// share) and prints the frontier and the onset argument.
func runFrontier(cfg sim.Config, dir, only string, asJSON, lagged bool) error {
	ts, err := sim.BenchTraces(cfg, dir, only)
	if err != nil {
		return err
	}
	run := sim.RunFrontier
	if lagged {
		run = sim.RunFrontierLagged
	}
	tfs := run(cfg, ts, 2)
	if asJSON {
		return writeJSON(tfs)
	}
	if err := sim.WriteFrontier(os.Stdout, cfg, tfs); err != nil || lagged {
		return err
	}
	return sim.WriteOnset(os.Stdout, cfg, ts, tfs)
}

// runOnset prints the onset argument alone, its goals from oracle-reactive
// and the legal floor on two goroutines.
func runOnset(cfg sim.Config, dir, only string, stride int) error {
	ts, err := sim.BenchTraces(cfg, dir, only)
	if err != nil {
		return err
	}
	goals := sim.RunOnsetGoals(cfg, ts, 2)
	if err := sim.WriteOnset(os.Stdout, cfg, ts, goals); err != nil {
		return err
	}
	return sim.WriteFirstOnset(os.Stdout, cfg, ts, goals, stride, 2)
}

// runOnsetBudget prints the onset argument with the calls counted, its
// goals as -onset's, on two goroutines.
func runOnsetBudget(cfg sim.Config, dir, only string, callsPerDay int) error {
	if callsPerDay < 1 {
		return fmt.Errorf("-calls-per-day %d: want at least 1", callsPerDay)
	}
	ts, err := sim.BenchTraces(cfg, dir, only)
	if err != nil {
		return err
	}
	rows := sim.RunOnsetBudget(cfg, ts, sim.RunOnsetGoals(cfg, ts, 2), callsPerDay, 2)
	return sim.WriteOnsetBudget(os.Stdout, cfg, rows, callsPerDay)
}

// runFirstOnsetBudget prints the first-onset argument with the calls
// counted (the bursts' goal from oracle-reactive and the floor), on two
// goroutines.
func runFirstOnsetBudget(cfg sim.Config, dir, only string, callsPerDay, stride int) error {
	if callsPerDay < 1 {
		return fmt.Errorf("-calls-per-day %d: want at least 1", callsPerDay)
	}
	ts, err := sim.BenchTraces(cfg, dir, only)
	if err != nil {
		return err
	}
	var bursts []sim.Trace
	for _, t := range ts {
		if t.Name == "synthetic-bursts" {
			bursts = append(bursts, t)
		}
	}
	return sim.WriteFirstOnsetBudget(os.Stdout, cfg, ts, sim.RunOnsetGoals(cfg, bursts, 1), stride, callsPerDay, 2)
}

// runNextSize prints the next-size argument on two goroutines.
func runNextSize(cfg sim.Config, dir, only string, scales []float64, members int) error {
	ts, err := sim.BenchTraces(cfg, dir, only)
	if err != nil {
		return err
	}
	rows := sim.RunNextSize(cfg, ts, scales, members, 2)
	return sim.WriteNextSize(os.Stdout, cfg, rows, scales)
}

func writeJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
