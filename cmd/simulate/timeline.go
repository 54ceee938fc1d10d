package main

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kdp-io/streamprocessor-operator/internal/sim"
)

// timelineOptions are -timeline's flags.
type timelineOptions struct {
	on             bool
	fromArg, toArg string
	policy         string
	from, to       minuteBound // parsed from fromArg and toArg
}

// minuteBound is one end of -timeline's span: a minute index from the
// trace's start, or a time on the trace's clock; unset is the trace's end.
type minuteBound struct {
	set    bool
	index  int
	at     time.Time
	isTime bool
}

// timeLayouts are the forms -from and -to accept for a time (UTC, as the
// traces' timestamps).
var timeLayouts = []string{"2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02 15:04", "2006-01-02 15:04:05", time.RFC3339}

// register adds -timeline's flags to fs.
func (tl *timelineOptions) register(fs *flag.FlagSet) {
	fs.BoolVar(&tl.on, "timeline", false, "for the one bench trace -only names (-traces): one row per minute of -policy's run — the trace's time, offered and accepted MiB/s, throttled and producer-refused %, open/billed shards, UPDATING, the reshard call accepted (→N), the calls left in the rolling 24 h, producer and consumer tasks running/desired and, for the operator, the shard rule of the pass at the minute's end (with its reason when it made a call); -json adds every field, among them carryShards: the shards the stream relied on (the open count, or the smaller of the old and new counts while an UpdateShardCount runs; during a halving by merges the open shards are uneven and each throttles on its own, so it is no capacity then)")
	fs.StringVar(&tl.fromArg, "from", "", "with -timeline: the first minute printed, a time as 2014-04-15T16:30 (UTC) or a minute index from the trace's start")
	fs.StringVar(&tl.toArg, "to", "", "with -timeline: the last minute printed, as -from")
	fs.StringVar(&tl.policy, "policy", "operator", "with -timeline: the policy run ("+strings.Join(sim.TimelinePolicies, ", ")+")")
}

// validate parses -from and -to and refuses flags that only -timeline
// reads, a -timeline without one trace, and a span that ends before it
// begins.
func (tl *timelineOptions) validate(fs *flag.FlagSet, o options) error {
	var only []string
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "from", "to", "policy":
			only = append(only, "-"+f.Name)
		}
	})
	if !tl.on {
		if len(only) > 0 {
			return fmt.Errorf("%s: only with -timeline", strings.Join(only, ", "))
		}
		return nil
	}
	if o.only == "" {
		return fmt.Errorf("-timeline: needs -only NAME, the one trace to print")
	}
	if !slices.Contains(sim.TimelinePolicies, tl.policy) {
		return fmt.Errorf("-policy %q: want one of %s (the others keep no timeline)", tl.policy, strings.Join(sim.TimelinePolicies, ", "))
	}
	var err error
	if tl.from, err = parseMinuteBound(tl.fromArg); err != nil {
		return fmt.Errorf("-from: %w", err)
	}
	if tl.to, err = parseMinuteBound(tl.toArg); err != nil {
		return fmt.Errorf("-to: %w", err)
	}
	if tl.from.set && tl.to.set && tl.from.isTime == tl.to.isTime {
		if tl.to.isTime && tl.to.at.Before(tl.from.at) || !tl.to.isTime && tl.to.index < tl.from.index {
			return fmt.Errorf("-to %s is before -from %s", tl.toArg, tl.fromArg)
		}
	}
	return nil
}

// parseMinuteBound parses a minute index or a time; empty is unset.
func parseMinuteBound(s string) (minuteBound, error) {
	if s == "" {
		return minuteBound{}, nil
	}
	if n, err := strconv.Atoi(s); err == nil {
		if n < 0 {
			return minuteBound{}, fmt.Errorf("minute %d: want 0 or more", n)
		}
		return minuteBound{set: true, index: n}, nil
	}
	for _, l := range timeLayouts {
		if at, err := time.Parse(l, s); err == nil {
			return minuteBound{set: true, at: at.UTC(), isTime: true}, nil
		}
	}
	return minuteBound{}, fmt.Errorf("%q: want a minute index or a time as 2006-01-02T15:04", s)
}

// minute is b's minute index on t (the minute holding a time); unset is
// def.
func (b minuteBound) minute(t sim.Trace, def int) int {
	switch {
	case !b.set:
		return def
	case b.isTime:
		d := b.at.Sub(t.Start)
		m := int(d / time.Minute)
		if d < 0 && d%time.Minute != 0 {
			m-- // a time before the start is before minute 0
		}
		return m
	}
	return b.index
}

// span is -from and -to as minute indices on t, checked against the trace.
func (tl timelineOptions) span(t sim.Trace) (from, to int, err error) {
	from, to = tl.from.minute(t, 0), tl.to.minute(t, t.Minutes()-1)
	end := t.Start.Add(time.Duration(t.Minutes()-1) * time.Minute)
	switch {
	case from < 0 || from >= t.Minutes():
		return 0, 0, fmt.Errorf("-from %s: outside the trace %s (%s to %s, minutes 0 to %d)", tl.fromArg, t.Name, t.Start.Format(timeLayouts[0]), end.Format(timeLayouts[0]), t.Minutes()-1)
	case to < 0:
		return 0, 0, fmt.Errorf("-to %s: before the trace %s starts (%s)", tl.toArg, t.Name, t.Start.Format(timeLayouts[0]))
	case to < from:
		return 0, 0, fmt.Errorf("-to %s is before -from %s", tl.toArg, tl.fromArg)
	}
	return from, to, nil
}

// runTimeline prints -policy's minutes on the one trace -only names.
func runTimeline(o options) error {
	ts, err := sim.BenchTraces(o.cfg, o.traces, o.only)
	if err != nil {
		return err
	}
	t, err := sim.OneTrace(ts, o.only)
	if err != nil {
		return fmt.Errorf("-only: %w", err)
	}
	from, to, err := o.timeline.span(t)
	if err != nil {
		return err
	}
	res, rows, err := sim.PolicyTimeline(o.cfg, t, o.timeline.policy, from, to)
	if err != nil {
		return err
	}
	if o.asJSON {
		return writeJSON(rows)
	}
	fmt.Printf("%s on %s, peak %.0f MiB/s, seed %d: lost %.3f%%, %.0f shard-h, %d calls over the trace; minutes %d–%d\n",
		res.Policy, t.Name, o.cfg.PeakMiBps, o.cfg.Seed, res.LostPercent, res.ShardHours, res.ReshardCalls, from, to)
	return sim.WriteTimeline(os.Stdout, rows)
}
