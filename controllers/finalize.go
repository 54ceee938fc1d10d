package controllers

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
	cloudwatchaws "github.com/kdp-io/streamprocessor-operator/internal/aws/cloudwatch"
	ecsaws "github.com/kdp-io/streamprocessor-operator/internal/aws/ecs"
	kinesisaws "github.com/kdp-io/streamprocessor-operator/internal/aws/kinesis"
	"github.com/kdp-io/streamprocessor-operator/internal/awsapi"
)

// finalize deletes what the StreamProcessor owns, then removes the finalizer.
// Only what carries this object's owner tags (its uid) is touched: both
// services are scaled to 0 and deleted (the producer first, so no record is
// written that no consumer reads); with deletionPolicy Delete the stream, if
// it is this object's (created or adopted), and then the consumer's lease
// table, if this object's consumer used it, are deleted too (with Retain the
// table keeps the checkpoints into the kept stream). The CloudWatch dashboard
// is deleted whatever the policy. A resource is gone only
// when AWS says it is not found: any other error — access denied, expired
// credentials, throttling — keeps the finalizer, with Ready False saying what
// is missing.
func (r *StreamProcessorReconciler) finalize(ctx context.Context, sp *streamingv1alpha1.StreamProcessor) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(sp, Finalizer) {
		return ctrl.Result{}, nil
	}
	clients, err := r.AWS(ctx, sp.Spec.Region)
	if err != nil {
		if createdNothing(sp) {
			log.FromContext(ctx).Info("No AWS clients, but nothing was created; removing the finalizer", "error", err.Error())
			return r.removeFinalizer(ctx, sp)
		}
		return r.deletionBlocked(ctx, sp, "build AWS clients", err)
	}
	names := namesOf(sp)
	deleteStream := sp.Spec.Stream.DeletionPolicy == streamingv1alpha1.DeletionPolicyDelete
	if reason := conditionReason(sp, ConditionReady); reason != ReasonAccessDenied && reason != ReasonDeletionBlocked {
		// A blocked deletion keeps saying why until it moves on, and warns once.
		r.setCondition(sp, ConditionReady, metav1.ConditionFalse, ReasonDeleting, "deleting the services"+map[bool]string{true: " and the stream", false: ""}[deleteStream])
	}
	for _, svc := range []string{names.Producer, names.Consumer} {
		if err := r.deleteService(ctx, sp, clients.ECS, svc, svc == names.Consumer); err != nil {
			return r.deletionBlocked(ctx, sp, "delete service "+svc, err)
		}
	}
	// The dashboard shows this object's pipeline and nothing else: it goes
	// whatever the deletionPolicy. Its name (<namespace>-<name>-<hash>) is
	// this object's alone.
	if err := r.deleteDashboard(ctx, sp, clients, names.Dashboard); err != nil {
		return r.deletionBlocked(ctx, sp, "delete dashboard "+names.Dashboard, err)
	}
	// The log group, after the services (their tasks write to it): see
	// finalizeLogGroup (logs.go) for the policy and the owner check.
	if err := r.finalizeLogGroup(ctx, sp, clients); err != nil {
		return r.deletionBlocked(ctx, sp, "delete log group "+names.LogGroup, err)
	}
	if !deleteStream {
		r.event(sp, EventStreamRetained, "Kept stream %s (deletionPolicy Retain)", names.Stream)
		return r.removeFinalizer(ctx, sp)
	}
	gone, err := r.deleteStream(ctx, sp, clients.Kinesis, names.Stream)
	if err != nil {
		return r.deletionBlocked(ctx, sp, "delete stream "+names.Stream, err)
	}
	// The consumer's lease table holds checkpoints into the deleted stream:
	// useless, billed, and harmful to a stream created later under the same
	// name. Only a table this object's consumer used is ours to delete.
	if gone && sp.Status.LeaseTable.Owned {
		table := names.LeaseTable
		_, err = clients.DynamoDB.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: &table})
		switch {
		case awsapi.Is(err, awsapi.KindNotFound):
		case err != nil: // in use (still being created) is a wait
			return r.deletionBlocked(ctx, sp, "delete lease table "+table, err)
		default:
			r.event(sp, EventLeaseTableDeleted, "Deleted the consumer's lease table %s", table)
		}
	}
	return r.removeFinalizer(ctx, sp)
}

// deleteDashboard deletes the dashboard; one that does not exist is gone.
func (r *StreamProcessorReconciler) deleteDashboard(ctx context.Context, sp *streamingv1alpha1.StreamProcessor, c Clients, name string) error {
	if c.Dashboards == nil {
		return nil
	}
	existed, err := cloudwatchaws.Dashboards{API: c.Dashboards}.Delete(ctx, name)
	if err != nil {
		return err
	}
	if existed {
		log.FromContext(ctx).Info("Deleted dashboard", "dashboard", name)
		r.event(sp, EventDashboardDeleted, "Deleted CloudWatch dashboard %s", name)
	}
	return nil
}

// createdNothing reports whether status shows that no AWS resource was ever
// created for sp (no create call answered, no ARN recorded).
func createdNothing(sp *streamingv1alpha1.StreamProcessor) bool {
	st := &sp.Status
	return st.Stream.ARN == "" && st.Stream.Status == "" &&
		st.Producer.ServiceARN == "" && st.Producer.TaskDefinitionARN == "" &&
		st.Consumer.ServiceARN == "" && st.Consumer.TaskDefinitionARN == ""
}

func (r *StreamProcessorReconciler) removeFinalizer(ctx context.Context, sp *streamingv1alpha1.StreamProcessor) (ctrl.Result, error) {
	orig := sp.DeepCopy()
	controllerutil.RemoveFinalizer(sp, Finalizer)
	if err := r.Patch(ctx, sp, client.MergeFrom(orig)); err != nil {
		return ctrl.Result{}, fmt.Errorf("remove finalizer: %w", err)
	}
	r.refused.forget(sp.UID)
	return ctrl.Result{}, nil
}

// deletionBlocked keeps the finalizer after step failed with err: Ready False
// says what failed and what is missing, a Warning event marks the change, and
// the requeue follows the error's kind — throttling and busy resources are
// waits, denied access and refused requests are retried after the long
// delay (only a change outside the cluster helps), anything else backs off.
func (r *StreamProcessorReconciler) deletionBlocked(ctx context.Context, sp *streamingv1alpha1.StreamProcessor, step string, err error) (ctrl.Result, error) {
	kind := awsapi.Classify(err)
	reason, msg := ReasonDeletionBlocked, fmt.Sprintf("deletion blocked: %s: %s", step, awsapi.Message(err))
	var res ctrl.Result
	switch kind {
	case awsapi.KindDenied:
		reason = ReasonAccessDenied
		msg += "; the operator's AWS credentials lack this permission or have expired: grant it (or renew them); the finalizer stays until then"
		res.RequeueAfter = r.invalidSpecRetry()
	case awsapi.KindThrottled, awsapi.KindInUse, awsapi.KindLimit:
		res.RequeueAfter = jitter(2 * r.pollInterval())
	case awsapi.KindInvalid, awsapi.KindNone, awsapi.KindNotFound:
		res.RequeueAfter = r.invalidSpecRetry()
	}
	if conditionMessage(sp, ConditionReady) != msg {
		r.warning(sp, EventDeletionBlocked, "%s", msg)
	}
	r.setCondition(sp, ConditionReady, metav1.ConditionFalse, reason, msg)
	if res.RequeueAfter > 0 {
		log.FromContext(ctx).Info("Deletion blocked", "step", step, "error", err.Error(), "after", res.RequeueAfter)
		return res, nil
	}
	return ctrl.Result{}, fmt.Errorf("%s: %w", step, err)
}

// deleteService scales the named service to 0 and deletes it, if it is sp's.
// A service or cluster that does not exist is already deleted; a service that
// is not sp's is left alone. Finding its own consumer service marks the lease
// table sp's (objects from before that was recorded).
func (r *StreamProcessorReconciler) deleteService(ctx context.Context, sp *streamingv1alpha1.StreamProcessor, e ECSAPI, name string, isConsumer bool) error {
	cluster := sp.Spec.ECS.Cluster
	services := ecsaws.Services{API: e}
	svc, err := services.Describe(ctx, cluster, name)
	switch {
	case awsapi.Code(err) == "ClusterNotFoundException": // the cluster is gone: so are its services
		return nil
	case err != nil:
		return err
	case svc == nil:
		return nil
	}
	if o := ownerOf(sp, ecsTagMap(svc.Tags)); o.Ownership != Ours {
		log.FromContext(ctx).Info("Leaving a service that is not this StreamProcessor's", "service", name, "owner", o.String())
		r.event(sp, EventServiceKept, "Kept service %s: it is not this StreamProcessor's", name)
		return nil
	}
	if isConsumer {
		sp.Status.LeaseTable.Owned = true
	}
	if aws.ToString(svc.Status) == "DRAINING" {
		return nil
	}
	if svc.DesiredCount > 0 {
		if err := services.ScaleToZero(ctx, cluster, name); err != nil {
			return err
		}
	}
	if err := services.Delete(ctx, cluster, name); err != nil {
		return err
	}
	log.FromContext(ctx).Info("Deleted service", "service", name)
	r.event(sp, EventServiceDeleted, "Deleted service %s", name)
	return nil
}

// deleteStream deletes the named stream if it is sp's, and reports whether it
// is gone (deleted now, or not found). A stream that is not sp's — another
// StreamProcessor's, or one never adopted — is kept.
func (r *StreamProcessorReconciler) deleteStream(ctx context.Context, sp *streamingv1alpha1.StreamProcessor, k KinesisAPI, name string) (bool, error) {
	// A stream being deleted (by an earlier pass whose next step failed)
	// is gone already; its tags may no longer be readable.
	streams := kinesisaws.Streams{API: k}
	d, err := streams.Describe(ctx, name)
	switch {
	case err != nil:
		return false, err
	case d == nil, d.StreamStatus == ktypes.StreamStatusDeleting:
		return true, nil
	}
	tags, err := streams.Tags(ctx, name)
	switch {
	case awsapi.Is(err, awsapi.KindNotFound):
		return true, nil
	case err != nil:
		return false, err
	}
	if o := ownerOf(sp, tags); o.Ownership != Ours {
		log.FromContext(ctx).Info("Leaving a stream that is not this StreamProcessor's", "stream", name, "owner", o.String())
		r.event(sp, EventStreamRetained, "Kept stream %s: it is not this StreamProcessor's", name)
		return false, nil
	}
	switch existed, err := streams.Delete(ctx, name); {
	case err != nil:
		return false, err
	case !existed:
		return true, nil
	}
	log.FromContext(ctx).Info("Deleted stream", "stream", name)
	r.event(sp, EventStreamDeleted, "Deleted stream %s (deletionPolicy Delete)", name)
	return true, nil
}
