package controllers

import (
	"context"
	"fmt"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
)

type eventUpdate = event.UpdateEvent

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
	patch := client.MergeFrom(p.base)
	data, err := patch.Data(sp)
	if err != nil {
		return fmt.Errorf("compute status patch: %w", err)
	}
	if string(data) == "{}" {
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
