// Package demospec is the spec patch that `make demo` and `make bench-loop`
// put on a StreamProcessor of the local stack, so that a scale-up and the way
// back down fit in minutes and show what the emulator lets through.
package demospec

import (
	"context"
	"fmt"
	"os"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
)

// Shorten sets short windows (a pass every 10 s, shards down after 1 minute
// of lower need, tasks after 30 s), and — because kinesis-local carries only
// about 1 MiB/s in all on 2 cores — a stream aiming at 25 % of a shard and
// quarter-vCPU consumers with a 20 % CPU target.
func Shorten(sp *streamingv1alpha1.StreamProcessor) {
	sp.Spec.Scaling.IntervalSeconds = 10
	sp.Spec.Scaling.ShardScaleDownSeconds = 60
	sp.Spec.Scaling.TaskScaleDownSeconds = ptr.To[int32](30)
	sp.Spec.Scaling.Paused, sp.Spec.Scaling.DryRun = false, false
	sp.Spec.Consumer.CPU, sp.Spec.Consumer.Memory, sp.Spec.Consumer.TargetCPUPercent = 256, 512, 20
	sp.Spec.Stream.TargetUtilizationPercent = 25
	sp.Spec.Consumer.MaxTasks = max(sp.Spec.Consumer.MaxTasks, 4)
	sp.Spec.Stream.MaxShards = max(sp.Spec.Stream.MaxShards, 8)
}

// Apply patches the object at key with Shorten and returns the function that
// puts its spec back as it was (errors reported on stderr).
func Apply(ctx context.Context, c client.Client, key types.NamespacedName) (restore func(), err error) {
	sp := &streamingv1alpha1.StreamProcessor{}
	if err := c.Get(ctx, key, sp); err != nil {
		return nil, fmt.Errorf("get %s: %w (is the stack up? make dev)", key, err)
	}
	saved := sp.DeepCopy()
	Shorten(sp)
	if err := c.Patch(ctx, sp, client.MergeFrom(saved)); err != nil {
		return nil, fmt.Errorf("apply the demo's spec to %s: %w", key, err)
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		now := &streamingv1alpha1.StreamProcessor{}
		if err := c.Get(ctx, key, now); err != nil {
			return
		}
		orig := now.DeepCopy()
		now.Spec = saved.Spec
		if err := c.Patch(ctx, now, client.MergeFrom(orig)); err != nil {
			fmt.Fprintf(os.Stderr, "could not put back the spec of %s: %v\n", key, err)
		}
	}, nil
}
