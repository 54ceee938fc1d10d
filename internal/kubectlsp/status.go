package kubectlsp

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
	"github.com/kdp-io/streamprocessor-operator/internal/gauges"
	"github.com/kdp-io/streamprocessor-operator/internal/override"
	"github.com/kdp-io/streamprocessor-operator/internal/scaling"
)

// recentEvents is how many events status shows (history shows them all).
const recentEvents = 5

func reshardBudget(sp *streamingv1alpha1.StreamProcessor, now time.Time) gauges.Budget {
	return gauges.ReshardBudget(sp.Status.Stream.Reshards, now)
}

// Status prints one StreamProcessor: stream, shards, tasks, scaling mode and
// override, reshard budget, the last decision, conditions and recent events;
// with Output json or yaml, the object itself.
func (c *CLI) Status(ctx context.Context, name string) error {
	sp, err := c.get(ctx, name)
	if err != nil {
		return err
	}
	if c.Output != "" {
		return printObject(c.Out, sp, c.Output)
	}
	now := c.Now()
	st, spec := &sp.Status, &sp.Spec
	w := tabwriter.NewWriter(c.Out, 0, 4, 2, ' ', 0)
	line := func(k, format string, a ...any) { fmt.Fprintf(w, "%s:\t%s\n", k, fmt.Sprintf(format, a...)) }

	line("StreamProcessor", "%s/%s (generation %d, observed %d)", sp.Namespace, sp.Name, sp.Generation, st.ObservedGeneration)
	region := spec.Region
	if region == "" {
		region = "the operator's region"
	}
	line("Stream", "%s %s in %s", orDash(st.Stream.Name), orDash(st.Stream.Status), region)
	line("Shards", "open %d, target %d (bounds %d–%d)", st.Stream.OpenShards, st.Stream.TargetShards, spec.Stream.MinShards, spec.Stream.MaxShards)
	b := reshardBudget(sp, now)
	next := "now"
	if b.Left == 0 {
		next = fmt.Sprintf("%s (in %s)", b.NextAllowed.UTC().Format(time.RFC3339), b.NextAllowed.Sub(now).Round(time.Second))
	}
	line("Reshard budget", "%d of %d UpdateShardCount calls left in the rolling 24 h; next call allowed %s", b.Left, scaling.ReshardsPerWindow, next)
	if h, ok := halving(st.Scaling, now); ok {
		line("Merging", "%s", h)
	}
	for _, s := range []struct {
		name string
		st   streamingv1alpha1.ServiceStatus
		w    streamingv1alpha1.WorkloadSpec
	}{{"Producer", st.Producer, spec.Producer.WorkloadSpec}, {"Consumer", st.Consumer, spec.Consumer.WorkloadSpec}} {
		line(s.name, "%s: running %d, desired %d, pending %d, target %d (bounds %d–%d)",
			orDash(s.st.ServiceName), s.st.RunningTasks, s.st.DesiredTasks, s.st.PendingTasks, s.st.TargetTasks, s.w.MinTasks, s.w.MaxTasks)
	}
	line("Scaling", "%s", scalingMode(spec.Scaling))
	if o, err := override.Get(sp); err != nil {
		line("Pinned", "unreadable: %v", err)
	} else if o != nil {
		line("Pinned", "%s %s", describePins(o), describeUntil(o, sp.Name, now))
	}
	lastDecision(line, st.LastDecision, now)
	line("Dashboard", "%s", orDash(st.DashboardURL))
	line("Logs", "%s", logGroup(sp))
	if err := w.Flush(); err != nil {
		return err
	}

	fmt.Fprintln(c.Out, "\nConditions:")
	if len(st.Conditions) == 0 {
		fmt.Fprintln(c.Out, "  none yet")
	} else {
		w = tabwriter.NewWriter(c.Out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "  TYPE\tSTATUS\tREASON\tSINCE\tMESSAGE")
		for _, cond := range st.Conditions {
			fmt.Fprintf(w, "  %s\t%s\t%s\t%s\t%s\n", cond.Type, cond.Status, cond.Reason, now.Sub(cond.LastTransitionTime.Time).Round(time.Second), cond.Message)
		}
		if err := w.Flush(); err != nil {
			return err
		}
	}

	events, err := c.events(ctx, sp)
	if err != nil {
		return err
	}
	fmt.Fprintln(c.Out, "\nRecent events:")
	if len(events) == 0 {
		fmt.Fprintln(c.Out, "  none")
		return nil
	}
	w = tabwriter.NewWriter(c.Out, 0, 4, 2, ' ', 0)
	for _, e := range events[max(0, len(events)-recentEvents):] {
		fmt.Fprintf(w, "  %s\t%s\t%s\t%s\n", e.at.UTC().Format(time.RFC3339), e.kind, e.reason, e.note)
	}
	return w.Flush()
}

func scalingMode(s streamingv1alpha1.ScalingSpec) string {
	var parts []string
	switch {
	case s.Paused:
		parts = append(parts, "paused (counts frozen)")
	default:
		parts = append(parts, "active")
	}
	if s.DryRun {
		parts = append(parts, "dry run (targets reported, not acted on)")
	}
	return fmt.Sprintf("%s, every %ds", strings.Join(parts, ", "), s.IntervalSeconds)
}

// inputs renders the decision's inputs sorted by name.
func inputs(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return strings.Join(parts, " ")
}

// logGroup says where the tasks' output goes (docs/logs.md): the user's
// group, the operator's, or nowhere without an execution role.
func logGroup(sp *streamingv1alpha1.StreamProcessor) string {
	switch {
	case sp.Spec.Logs != nil && sp.Spec.Logs.Group != "":
		return sp.Spec.Logs.Group + " (spec.logs.group)"
	case sp.Spec.ECS.ExecutionRoleARN == "":
		return "not collected: no spec.ecs.executionRoleArn"
	}
	return orDash(sp.Status.LogGroupName)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func printObject(out io.Writer, sp *streamingv1alpha1.StreamProcessor, format string) error {
	sp = sp.DeepCopy()
	sp.APIVersion, sp.Kind = streamingv1alpha1.GroupVersion.String(), "StreamProcessor"
	sp.ManagedFields = nil
	return writeAs(out, sp, format)
}

func printList(out io.Writer, list *streamingv1alpha1.StreamProcessorList, format string) error {
	list = list.DeepCopy()
	list.APIVersion, list.Kind = streamingv1alpha1.GroupVersion.String(), "StreamProcessorList"
	for i := range list.Items {
		list.Items[i].APIVersion, list.Items[i].Kind = streamingv1alpha1.GroupVersion.String(), "StreamProcessor"
		list.Items[i].ManagedFields = nil
	}
	return writeAs(out, list, format)
}

// writeAs writes v as indented json or as yaml.
func writeAs(out io.Writer, v any, format string) error {
	var (
		b   []byte
		err error
	)
	if format == "json" {
		b, err = json.MarshalIndent(v, "", "  ")
		b = append(b, '\n')
	} else {
		b, err = yaml.Marshal(v)
	}
	if err != nil {
		return err
	}
	_, err = out.Write(b)
	return err
}

// entry is one line of history: a reshard call, a decision or an event.
type entry struct {
	at                 time.Time
	kind, reason, note string
}

// events returns the events about sp (events.k8s.io/v1, regarding its uid),
// oldest first.
func (c *CLI) events(ctx context.Context, sp *streamingv1alpha1.StreamProcessor) ([]entry, error) {
	var list eventsv1.EventList
	if err := c.Client.List(ctx, &list, client.InNamespace(sp.Namespace)); err != nil {
		return nil, fmt.Errorf("list events of %s/%s: %w", sp.Namespace, sp.Name, err)
	}
	var out []entry
	for _, e := range list.Items {
		if e.Regarding.UID != sp.UID || sp.UID == types.UID("") {
			continue
		}
		note := e.Note
		if n := seriesCount(&e); n > 1 {
			note += fmt.Sprintf(" (×%d)", n)
		}
		out = append(out, entry{at: eventTime(&e), kind: e.Type, reason: e.Reason, note: note})
	}
	slices.SortStableFunc(out, func(a, b entry) int { return a.at.Compare(b.at) })
	return out, nil
}

// eventTime is when an event last happened.
func eventTime(e *eventsv1.Event) time.Time {
	switch {
	case e.Series != nil && !e.Series.LastObservedTime.IsZero():
		return e.Series.LastObservedTime.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	case !e.DeprecatedLastTimestamp.IsZero():
		return e.DeprecatedLastTimestamp.Time
	default:
		return e.CreationTimestamp.Time
	}
}

func seriesCount(e *eventsv1.Event) int32 {
	if e.Series != nil {
		return e.Series.Count
	}
	return e.DeprecatedCount
}

// halving describes the scale-down by MergeShards under way that the
// policy's state records (status.scaling.mergeFrom/mergeSince), if any: it
// spends no UpdateShardCount call, and until it ends the merged shards,
// which own twice a plain shard's hash range, throttle once the load is
// above half the start count's worth (scaling.HalvingCarry).
func halving(s *streamingv1alpha1.ScalingState, now time.Time) (string, bool) {
	if s == nil || s.MergeFrom < 2 {
		return "", false
	}
	since := time.Unix(s.MergeSince, 0)
	return fmt.Sprintf("halving %d → %d shards by MergeShards since %s (%s ago), one adjacent pair at a time; until done, its merged shards throttle above %d shards' worth of load; spends no UpdateShardCount call",
		s.MergeFrom, scaling.HalvingEnd(s.MergeFrom), since.UTC().Format(time.RFC3339), now.Sub(since).Round(time.Second), scaling.HalvingCarry(s.MergeFrom)), true
}

// lastDecision prints status.lastDecision: when, the three targets, the
// reason and the inputs.
func lastDecision(line func(k, format string, a ...any), d *streamingv1alpha1.ScalingDecision, now time.Time) {
	if d == nil {
		line("Last decision", "none yet")
		return
	}
	dry := ""
	if d.DryRun {
		dry = " (dry run: reported, not acted on)"
	}
	line("Last decision", "%s (%s ago): %d shards, %d producer tasks, %d consumer tasks%s",
		d.Time.UTC().Format(time.RFC3339), now.Sub(d.Time.Time).Round(time.Second), d.Shards, d.ProducerTasks, d.ConsumerTasks, dry)
	line("  reason", "%s", d.Reason)
	if len(d.Inputs) > 0 {
		line("  inputs", "%s", inputs(d.Inputs))
	}
}
