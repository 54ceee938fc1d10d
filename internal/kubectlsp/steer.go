package kubectlsp

import (
	"context"
	"fmt"
	"strings"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
	"github.com/kdp-io/streamprocessor-operator/internal/override"
	"github.com/kdp-io/streamprocessor-operator/internal/scaling"
)

// SetPaused sets spec.scaling.paused and prints the new state. Pausing an
// object that is paused already changes nothing and says so.
func (c *CLI) SetPaused(ctx context.Context, name string, paused bool) error {
	sp, changed, err := c.setScaling(ctx, name, "paused", func(s *streamingv1alpha1.ScalingSpec) *bool { return &s.Paused }, paused)
	if err != nil {
		return err
	}
	id := sp.Namespace + "/" + sp.Name
	switch {
	case !changed:
		fmt.Fprintf(c.Out, "StreamProcessor %s is already %s; nothing changed.\n", id, pausedWord(paused))
	case paused:
		fmt.Fprintf(c.Out, "StreamProcessor %s paused: the operator reshards nothing and changes no task count (now %d open shards, producer %s, consumer %s running/desired); images, retention, encryption and tags still converge.\n",
			id, sp.Status.Stream.OpenShards, tasks(sp.Status.Producer), tasks(sp.Status.Consumer))
	default:
		fmt.Fprintf(c.Out, "StreamProcessor %s resumed: the scaler acts again from its next pass (every %ds).\n", id, sp.Spec.Scaling.IntervalSeconds)
	}
	return nil
}

// SetDryRun sets spec.scaling.dryRun and prints the new state.
func (c *CLI) SetDryRun(ctx context.Context, name string, on bool) error {
	sp, changed, err := c.setScaling(ctx, name, "dryRun", func(s *streamingv1alpha1.ScalingSpec) *bool { return &s.DryRun }, on)
	if err != nil {
		return err
	}
	id := sp.Namespace + "/" + sp.Name
	switch {
	case !changed:
		fmt.Fprintf(c.Out, "StreamProcessor %s: dry run is already %s; nothing changed.\n", id, onOff(on))
	case on:
		fmt.Fprintf(c.Out, "StreamProcessor %s: dry run on: targets are computed and reported (status.lastDecision, events) but not acted on.\n", id)
	default:
		fmt.Fprintf(c.Out, "StreamProcessor %s: dry run off: the operator acts on its targets again.\n", id)
	}
	return nil
}

// setScaling sets the spec.scaling switch field (found by flag) to v with a
// merge patch, unless it has that value already (changed false).
func (c *CLI) setScaling(ctx context.Context, name, field string, flag func(*streamingv1alpha1.ScalingSpec) *bool, v bool) (*streamingv1alpha1.StreamProcessor, bool, error) {
	sp, err := c.get(ctx, name)
	if err != nil {
		return nil, false, err
	}
	if *flag(&sp.Spec.Scaling) == v {
		return sp, false, nil
	}
	base := sp.DeepCopy()
	*flag(&sp.Spec.Scaling) = v
	if err := c.Client.Patch(ctx, sp, client.MergeFrom(base)); err != nil {
		return nil, false, fmt.Errorf("patch spec.scaling.%s of %s/%s: %w", field, sp.Namespace, sp.Name, err)
	}
	return sp, true, nil
}

// Scale pins the counts req names for d (0: until ResetPins) with
// override.Apply, and prints the pins, the UpdateShardCount calls the
// operator needs to reach a pinned shard count and the 24 h budget they come
// out of.
func (c *CLI) Scale(ctx context.Context, name string, req override.Request, d time.Duration) error {
	sp, err := c.get(ctx, name)
	if err != nil {
		return err
	}
	id := sp.Namespace + "/" + sp.Name
	base := sp.DeepCopy()
	var until time.Time
	if d > 0 {
		until = c.Now().Add(d)
	}
	o, err := override.Apply(sp, req, until)
	if err != nil {
		return fmt.Errorf("scale %s: %w", id, err)
	}
	// Optimistic lock: the bounds saved in the annotation are the ones read.
	if err := c.Client.Patch(ctx, sp, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("patch the scale override of %s: %w", id, err)
	}
	fmt.Fprintf(c.Out, "StreamProcessor %s: %s %s.\n", id, describePins(o), describeUntil(o, sp.Name, c.Now()))
	if req.Shards != nil {
		fmt.Fprintln(c.Out, reshardPlan(sp, *req.Shards, c.Now()))
	}
	if sp.Spec.Scaling.Paused {
		fmt.Fprintln(c.Out, "Note: scaling is paused; the operator changes no count until `kubectl sp resume "+sp.Name+"`.")
	}
	return nil
}

// ResetPins lifts the scale override now.
func (c *CLI) ResetPins(ctx context.Context, name string) error {
	sp, err := c.get(ctx, name)
	if err != nil {
		return err
	}
	id := sp.Namespace + "/" + sp.Name
	base := sp.DeepCopy()
	changed, err := override.Clear(sp)
	if err != nil {
		return err
	}
	if !changed {
		fmt.Fprintf(c.Out, "StreamProcessor %s has no pinned counts; nothing changed.\n", id)
		return nil
	}
	if err := c.Client.Patch(ctx, sp, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("lift the scale override of %s: %w", id, err)
	}
	fmt.Fprintf(c.Out, "StreamProcessor %s: pins lifted; shards %d–%d, producer tasks %d–%d, consumer tasks %d–%d.\n", id,
		sp.Spec.Stream.MinShards, sp.Spec.Stream.MaxShards, sp.Spec.Producer.MinTasks, sp.Spec.Producer.MaxTasks, sp.Spec.Consumer.MinTasks, sp.Spec.Consumer.MaxTasks)
	return nil
}

// describePins is "shards pinned at 8 (bounds 1–16 after), …".
func describePins(o *override.Override) string {
	var parts []string
	for _, d := range override.Dimensions {
		if p := *d.Pin(o); p != nil {
			parts = append(parts, fmt.Sprintf("%s pinned at %d (bounds %d–%d after)", strings.ReplaceAll(d.Flag, "-", " "), p.N, p.Min, p.Max))
		}
	}
	return strings.Join(parts, ", ")
}

func describeUntil(o *override.Override, name string, now time.Time) string {
	if o.Until == nil {
		return "until `kubectl sp scale " + name + " --reset`"
	}
	return fmt.Sprintf("until %s (in %s)", o.Until.Format(time.RFC3339), max(0, o.Until.Sub(now)).Round(time.Second))
}

// reshardPlan says how the operator will reach n from the open count: the
// UNIFORM_SCALING steps (each within 2x / ½) and the 24 h budget.
func reshardPlan(sp *streamingv1alpha1.StreamProcessor, n int32, now time.Time) string {
	open := sp.Status.Stream.OpenShards
	if open < 1 {
		return "The stream reports no open shards yet; the operator reshards once it is ACTIVE."
	}
	if open == n {
		return fmt.Sprintf("The stream has %d open shards already.", n)
	}
	path := scaling.PlanReshardPath(open, n)
	steps := []string{fmt.Sprint(open)}
	for _, p := range path {
		steps = append(steps, fmt.Sprint(p))
	}
	b := reshardBudget(sp, now)
	msg := fmt.Sprintf("The operator needs %d UpdateShardCount call(s), %s; %d of %d calls are left in the rolling 24 h.",
		len(path), strings.Join(steps, "→"), b.Left, scaling.ReshardsPerWindow)
	if b.Left < len(path) {
		msg += fmt.Sprintf(" Not enough: the next call is allowed at %s.", b.NextAllowed.UTC().Format(time.RFC3339))
	}
	return msg
}

func pausedWord(p bool) string {
	if p {
		return "paused"
	}
	return "running (not paused)"
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func tasks(s streamingv1alpha1.ServiceStatus) string {
	return fmt.Sprintf("%d/%d", s.RunningTasks, s.DesiredTasks)
}
