package controllers

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
	"github.com/kdp-io/streamprocessor-operator/internal/awsapi"
)

// finalize deletes what the StreamProcessor owns, then removes the finalizer:
// both services are scaled to 0 and deleted (the producer first, so no record
// is written that no consumer reads); the stream and the consumer's lease
// table are deleted only with deletionPolicy Delete (with Retain the table
// keeps the checkpoints into the kept stream). A resource already gone is not
// an error.
func (r *StreamProcessorReconciler) finalize(ctx context.Context, p *pass) (ctrl.Result, error) {
	sp := p.sp
	if !controllerutil.ContainsFinalizer(sp, Finalizer) {
		return ctrl.Result{}, nil
	}
	r.setCondition(sp, ConditionReady, metav1.ConditionFalse, ReasonDeleting, "deleting the services"+map[bool]string{true: " and the stream", false: ""}[sp.Spec.Stream.DeletionPolicy == streamingv1alpha1.DeletionPolicyDelete])
	for _, w := range []string{producer, consumer} {
		if err := r.deleteService(ctx, p, serviceName(sp, w)); err != nil {
			return r.handleError(ctx, sp, r.failed(sp, ConditionReady, err))
		}
	}
	name := streamName(sp)
	if sp.Spec.Stream.DeletionPolicy == streamingv1alpha1.DeletionPolicyDelete {
		_, err := p.aws.Kinesis.DeleteStream(ctx, &kinesis.DeleteStreamInput{StreamName: &name, EnforceConsumerDeletion: aws.Bool(true)})
		switch {
		case awsapi.Is(err, awsapi.KindNotFound):
		case err != nil:
			return r.handleError(ctx, sp, r.failed(sp, ConditionReady, fmt.Errorf("delete stream %q: %w", name, err)))
		default:
			log.FromContext(ctx).Info("Deleted stream", "stream", name)
			r.event(sp, EventStreamDeleted, "Deleted stream %s (deletionPolicy Delete)", name)
		}
		// The consumer's lease table holds checkpoints into the deleted
		// stream: useless, billed, and harmful to a stream created later
		// under the same name.
		table := applicationName(sp)
		_, err = p.aws.DynamoDB.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: &table})
		switch {
		case awsapi.Is(err, awsapi.KindNotFound):
		case err != nil: // in use (still being created): a wait
			return r.handleError(ctx, sp, r.failed(sp, ConditionReady, fmt.Errorf("delete lease table %q: %w", table, err)))
		default:
			r.event(sp, EventLeaseTableDeleted, "Deleted the consumer's lease table %s", table)
		}
	} else {
		r.event(sp, EventStreamRetained, "Kept stream %s (deletionPolicy Retain)", name)
	}
	orig := sp.DeepCopy()
	controllerutil.RemoveFinalizer(sp, Finalizer)
	if err := r.Patch(ctx, sp, client.MergeFrom(orig)); err != nil {
		return ctrl.Result{}, fmt.Errorf("remove finalizer: %w", err)
	}
	return ctrl.Result{}, nil
}

// deleteService scales a service to 0 and deletes it; a missing service or
// cluster is already deleted.
func (r *StreamProcessorReconciler) deleteService(ctx context.Context, p *pass, name string) error {
	cluster := p.sp.Spec.ECS.Cluster
	svc, err := r.describeService(ctx, p.aws.ECS, cluster, name)
	if awsapi.Is(err, awsapi.KindNotFound) || (err == nil && svc == nil) {
		return nil
	}
	if err != nil {
		if awsapi.Is(err, awsapi.KindInvalid) { // the cluster is gone: so are its services
			return nil
		}
		return err
	}
	if aws.ToString(svc.Status) == "DRAINING" {
		return nil
	}
	if svc.DesiredCount > 0 {
		_, err := p.aws.ECS.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: &cluster, Service: &name, DesiredCount: aws.Int32(0)})
		if err != nil && !awsapi.Is(err, awsapi.KindNotFound) {
			return fmt.Errorf("scale service %q to 0: %w", name, err)
		}
	}
	_, err = p.aws.ECS.DeleteService(ctx, &ecs.DeleteServiceInput{Cluster: &cluster, Service: &name})
	if err != nil && !awsapi.Is(err, awsapi.KindNotFound) {
		return fmt.Errorf("delete service %q: %w", name, err)
	}
	log.FromContext(ctx).Info("Deleted service", "service", name)
	r.event(p.sp, EventServiceDeleted, "Deleted service %s", name)
	return nil
}
