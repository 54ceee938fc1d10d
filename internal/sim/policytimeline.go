package sim

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// TimelinePolicies are the rows of RunAll that keep a timeline, in its
// order: operator-auto (composed from two runs) and clairvoyant (computed,
// not run) keep none. On-demand's rows have no shards or tasks.
var TimelinePolicies = []string{"operator", "seed", "seed-raised", "oracle-reactive", "fixed-peak", "on-demand"}

// TimelineRow is one minute of PolicyTimeline: the trace's timestamp of
// the minute's start and the model's Minute.
type TimelineRow struct {
	Time time.Time `json:"time"`
	Minute
}

// PolicyTimeline runs policy on t as RunAll runs it, with its timeline,
// and returns its result (without the trace's floors) and its minutes
// from..to (minute indices from the trace's start, both included, clipped
// to the trace). It is for reading what a policy did minute by minute; it
// decides nothing. A policy not in TimelinePolicies is an error.
func PolicyTimeline(cfg Config, t Trace, policy string, from, to int) (Result, []TimelineRow, error) {
	if !slices.Contains(TimelinePolicies, policy) {
		return Result{}, nil, fmt.Errorf("policy %q: want one of %s", policy, strings.Join(TimelinePolicies, ", "))
	}
	cfg.Timeline = true
	res := timelineRunners[policy](cfg.withDefaults(), t)
	if len(res.Timeline) == 0 {
		return res, nil, fmt.Errorf("policy %s keeps no minute-by-minute timeline", policy)
	}
	return res, timelineRows(t, res.Timeline, from, to), nil
}

// timelineRunners run each of TimelinePolicies alone, built as RunAll
// builds it; cfg has its defaults.
var timelineRunners = map[string]func(Config, Trace) Result{
	"operator":        runOperator,
	"seed":            runSeed,
	"seed-raised":     runSeedRaised,
	"oracle-reactive": runOracleReactive,
	"fixed-peak":      runFixedPeak,
	"on-demand":       OnDemand,
}

// timelineRows are tl's minutes from..to (both included, clipped), each
// with its timestamp on t.
func timelineRows(t Trace, tl []Minute, from, to int) []TimelineRow {
	from, to = max(from, 0), min(to, len(tl)-1)
	var rows []TimelineRow
	for m := from; m <= to; m++ {
		rows = append(rows, TimelineRow{Time: t.Start.Add(time.Duration(m) * time.Minute), Minute: tl[m]})
	}
	return rows
}

// WriteTimeline prints rows as a table, one line a minute: the time,
// offered and accepted MiB/s, throttled and producer-refused percent, open
// and billed shards (U while UPDATING), the call accepted at the minute's
// end (→N, or mN for a MergeShards leaving N), the calls left in the rolling 24 h, producer and consumer tasks
// running/desired, and the operator's shard rule (with its reason on a
// call's row). A row without open shards is on-demand's, which models no
// shards or tasks: those columns are "-".
func WriteTimeline(w io.Writer, rows []TimelineRow) error {
	if _, err := fmt.Fprintf(w, "%-16s %8s %8s %6s %6s %9s %4s %4s %4s %7s %7s  %s\n",
		"time", "offered", "accepted", "thr%", "ref%", "open/bill", "upd", "call", "left", "prod", "cons", "rule"); err != nil {
		return err
	}
	for _, r := range rows {
		line := fmt.Sprintf("%-16s %8.3f %8.3f %6.2f %6.2f %9s %4s %4s %4s %7s %7s  %s",
			r.Time.Format("2006-01-02 15:04"), r.OfferedMiBps, r.AcceptedMiBps, r.ThrottledPercent, r.ProducerRejectedPercent,
			counts(r, r.OpenShards, r.BilledShards), mark(r.Updating, "U"), callTo(r.ReshardTo, r.MergedTo), counts(r, int32(r.CallsLeft), -1),
			counts(r, r.ProducerRunning, r.ProducerDesired), counts(r, r.ConsumerRunning, r.ConsumerDesired), ruleText(r.Minute))
		if _, err := fmt.Fprintln(w, strings.TrimRight(line, " ")); err != nil {
			return err
		}
	}
	return nil
}

// counts prints a/b (b < 0: a alone), or "-" on a row without open shards.
func counts(r TimelineRow, a, b int32) string {
	switch {
	case r.OpenShards == 0:
		return "-"
	case b < 0:
		return fmt.Sprint(a)
	}
	return fmt.Sprintf("%d/%d", a, b)
}

// mark is s when on.
func mark(on bool, s string) string {
	if on {
		return s
	}
	return ""
}

// callTo is an UpdateShardCount call's "→N", a MergeShards' "mN" (the
// count it leaves), or nothing.
func callTo(to, merged int32) string {
	switch {
	case to > 0:
		return fmt.Sprintf("→%d", to)
	case merged > 0:
		return fmt.Sprintf("m%d", merged)
	}
	return ""
}

// ruleText is the shard rule, with the reason when there is one.
func ruleText(m Minute) string {
	if m.ShardReason != "" {
		return m.ShardRule + ": " + m.ShardReason
	}
	return m.ShardRule
}

// OneTrace picks the trace named name from ts: the one whose name is name,
// else the only one whose name contains it; none or several is an error.
func OneTrace(ts []Trace, name string) (Trace, error) {
	var hits []Trace
	for _, t := range ts {
		if t.Name == name {
			return t, nil
		}
		if strings.Contains(t.Name, name) {
			hits = append(hits, t)
		}
	}
	switch len(hits) {
	case 0:
		return Trace{}, fmt.Errorf("no trace's name contains %q", name)
	case 1:
		return hits[0], nil
	}
	names := make([]string, len(hits))
	for i, t := range hits {
		names[i] = t.Name
	}
	return Trace{}, fmt.Errorf("%d traces' names contain %q (%s): want one", len(hits), name, strings.Join(names, ", "))
}
