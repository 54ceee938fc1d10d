package controllers

import (
	"context"
	"encoding/json"
	"fmt"

	"sigs.k8s.io/controller-runtime/pkg/client"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
)

// statusPatcher writes the status subresource with a merge patch computed
// against the last status it wrote (or read), so a pass writes once at the end
// — or, where a crash must not lose a fact (the reshard ledger), once more
// before the AWS call that the fact records.
type statusPatcher struct {
	c    client.Client
	base *streamingv1alpha1.StreamProcessor
}

func newStatusPatcher(c client.Client, sp *streamingv1alpha1.StreamProcessor) *statusPatcher {
	return &statusPatcher{c: c, base: sp.DeepCopy()}
}

// patch writes sp's status if it differs from the last one written.
func (p *statusPatcher) patch(ctx context.Context, sp *streamingv1alpha1.StreamProcessor) error {
	// Optimistic lock: a pass that started from a stale read (the cache lags
	// the API server) must not overwrite what a newer pass wrote — above all
	// the reshard ledger. A conflict fails the pass, and the retry reads anew.
	patch := client.MergeFromWithOptions(p.base, client.MergeFromWithOptimisticLock{})
	data, err := patch.Data(sp)
	if err != nil {
		return fmt.Errorf("compute status patch: %w", err)
	}
	if !statusChanged(data) {
		return nil
	}
	if err := p.c.Status().Patch(ctx, sp, patch); err != nil {
		return err
	}
	p.base = sp.DeepCopy()
	return nil
}

// reset makes sp, as just returned by the API server, the base of the next patch.
func (p *statusPatcher) reset(sp *streamingv1alpha1.StreamProcessor) {
	p.base = sp.DeepCopy()
}

// statusChanged reports whether a merge patch changes more than the
// resourceVersion it carries for the optimistic lock.
func statusChanged(patch []byte) bool {
	var m map[string]any
	if err := json.Unmarshal(patch, &m); err != nil {
		return true
	}
	if md, ok := m["metadata"].(map[string]any); ok {
		delete(md, "resourceVersion")
		if len(md) == 0 {
			delete(m, "metadata")
		}
	}
	return len(m) > 0
}
