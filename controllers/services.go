package controllers

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	etypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/log"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
	"github.com/kdp-io/streamprocessor-operator/internal/awsapi"
)

// reconcileProducer converges the producer service; see reconcileService.
func (r *StreamProcessorReconciler) reconcileProducer(ctx context.Context, p *pass) (result, error) {
	return r.reconcileService(ctx, p, producerWorkload(p.sp, p.aws.Region))
}

// reconcileConsumer converges the consumer service; see reconcileService.
func (r *StreamProcessorReconciler) reconcileConsumer(ctx context.Context, p *pass) (result, error) {
	return r.reconcileService(ctx, p, consumerWorkload(p.sp, p.aws.Region))
}

// reconcileService registers the workload's task definition (a new revision
// only when the container spec changed), creates its Fargate service or
// updates it (task definition, network, load balancer, desiredCount — a
// desiredCount changed by hand is set back) and reports its task counts. It
// waits, without acting, until the stream exists; it returns a wait while
// tasks start or a deployment rolls out.
func (r *StreamProcessorReconciler) reconcileService(ctx context.Context, p *pass, w workload) (result, error) {
	sp := p.sp
	if !p.streamActive {
		r.setCondition(sp, w.condition, metav1.ConditionFalse, ReasonStreamNotReady, "waiting for the stream to be created")
		return result{}, nil
	}
	name := serviceName(sp, w.name)
	obs := p.services[w.name]
	if obs.err != nil {
		return result{}, r.failed(sp, w.condition, obs.err)
	}
	svc := obs.svc
	if svc != nil {
		if o := ownerOf(sp, ecsTagMap(svc.Tags)); o.Ownership != Ours {
			return result{}, r.refuseService(sp, w, name, o)
		}
		if w.name == consumer {
			sp.Status.LeaseTable.Owned = true
		}
	}
	if svc != nil && aws.ToString(svc.Status) == "DRAINING" {
		r.setCondition(sp, w.condition, metav1.ConditionFalse, ReasonDeleting, "service "+name+" is being deleted; it will be created again")
		return result{requeueAfter: r.pollInterval()}, nil
	}
	// A call AWS refused as a mistake in this generation's spec is not made
	// again before the long retry, however often other steps poll; the
	// condition keeps saying why.
	refusal := refusalKey{uid: sp.UID, step: w.name}
	if err := r.refused.active(refusal, sp.Generation, r.Clock.Now()); err != nil {
		return result{}, &invalidSpecError{err: err}
	}
	fail := func(err error) (result, error) {
		err = r.failed(sp, w.condition, err)
		var invalid *invalidSpecError
		if errors.As(err, &invalid) {
			r.refused.record(refusal, sp.Generation, r.Clock.Now().Add(r.invalidSpecRetry()), invalid.err)
		}
		return result{}, err
	}
	taskDef, err := r.ensureTaskDefinition(ctx, p, w, svc)
	if err != nil {
		return fail(err)
	}
	target := p.targets.ProducerTasks
	if w.name == consumer {
		target = p.targets.ConsumerTasks
	}
	if svc == nil {
		if svc, err = r.createService(ctx, p, w, name, taskDef, target); err != nil {
			return fail(err)
		}
		if w.name == consumer { // its tasks create the lease table for this object
			sp.Status.LeaseTable.Owned = true
		}
	} else if svc, err = r.updateService(ctx, p, w, svc, taskDef, target); err != nil {
		return fail(err)
	}
	r.refused.forget(sp.UID, w.name)

	st := w.status
	st.ServiceARN, st.TaskDefinitionARN = aws.ToString(svc.ServiceArn), taskDef
	st.DesiredTasks, st.RunningTasks, st.PendingTasks = svc.DesiredCount, svc.RunningCount, svc.PendingCount
	status, reason, msg, wait := serviceCondition(name, svc, taskDef, target, sp.Spec.Scaling.DryRun)
	r.setCondition(sp, w.condition, status, reason, msg)
	if wait {
		return result{requeueAfter: r.pollInterval()}, nil
	}
	return result{}, nil
}

// serviceCondition is a workload's condition once its service is converged
// as far as this pass goes, and whether to look again soon: while a
// deployment rolls out or tasks start. In dry run a desiredCount away from
// the target is reported, not waited for. Pure.
func serviceCondition(name string, svc *etypes.Service, taskDef string, target int32, dryRun bool) (metav1.ConditionStatus, string, string, bool) {
	switch {
	case len(svc.Deployments) > 1:
		return metav1.ConditionFalse, ReasonDeploying, fmt.Sprintf("service %s is rolling out %s (%d deployments)", name, taskDef, len(svc.Deployments)), true
	case dryRun && svc.DesiredCount != target:
		return metav1.ConditionTrue, ReasonReady, fmt.Sprintf("dry run: service %s runs %d of %d tasks; target %d", name, svc.RunningCount, svc.DesiredCount, target), false
	case svc.RunningCount != svc.DesiredCount:
		return metav1.ConditionFalse, ReasonTasksPending, fmt.Sprintf("service %s runs %d of %d tasks (%d pending)", name, svc.RunningCount, svc.DesiredCount, svc.PendingCount), true
	}
	return metav1.ConditionTrue, ReasonReady, fmt.Sprintf("service %s runs %d of %d tasks", name, svc.RunningCount, svc.DesiredCount), false
}

// serviceObservation is a service as described in this pass.
type serviceObservation struct {
	svc *etypes.Service // nil: no such service
	err error           // the description failed
}

// running is the service's runningCount, 0 when unknown.
func (o serviceObservation) running() int32 {
	if o.svc == nil {
		return 0
	}
	return o.svc.RunningCount
}

// desired is the service's desiredCount, or initial before it exists.
func (o serviceObservation) desired(initial int32) int32 {
	if o.svc == nil {
		return initial
	}
	return o.svc.DesiredCount
}

// observeServices describes both services, with their tags, for the steps
// after it (targets need the running counts). A failed description is kept
// for the workload's own step to report; the other workload is unaffected.
// Nothing is described before the stream exists.
func (r *StreamProcessorReconciler) observeServices(ctx context.Context, p *pass) (result, error) {
	p.services = map[string]serviceObservation{}
	if !p.streamActive {
		return result{}, nil
	}
	for _, w := range []string{producer, consumer} {
		svc, err := r.describeService(ctx, p.aws.ECS, p.sp.Spec.ECS.Cluster, serviceName(p.sp, w))
		p.services[w] = serviceObservation{svc: svc, err: err}
	}
	return result{}, nil
}

// refuseService reports a service of this object's name that is not its own
// (another StreamProcessor's, or made outside the operator): it is never
// updated or deleted, and the workload stays not ready until it is gone.
func (r *StreamProcessorReconciler) refuseService(sp *streamingv1alpha1.StreamProcessor, w workload, name string, o owner) error {
	if o.Ownership == Others {
		return r.refuse(sp, ReasonOwnedByAnother, EventOwnedByAnother,
			fmt.Sprintf("service %s in cluster %s belongs to StreamProcessor %s; it is left untouched", name, sp.Spec.ECS.Cluster, o), w.condition)
	}
	return r.refuse(sp, ReasonAdoptionRequired, EventAdoptionRequired,
		fmt.Sprintf("service %s in cluster %s exists and was not created by this StreamProcessor (no owner tags); it is left untouched: delete it to let the operator create its own", name, sp.Spec.ECS.Cluster), w.condition)
}

// describeService returns the named service with its tags, or nil when it
// does not exist (never created, or deleted: INACTIVE). A service described
// without tags has them confirmed by ListTagsForResource: on AWS an untagged
// service is rare, and moto 5.2.1 switches include=TAGS for the whole server,
// so a concurrent DescribeServices without it can strip them from this answer.
func (r *StreamProcessorReconciler) describeService(ctx context.Context, e ECSAPI, cluster, name string) (*etypes.Service, error) {
	out, err := e.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: &cluster, Services: []string{name}, Include: []etypes.ServiceField{etypes.ServiceFieldTags}})
	if err != nil {
		return nil, fmt.Errorf("describe service %q in cluster %q: %w", name, cluster, err)
	}
	for i := range out.Services {
		s := &out.Services[i]
		if aws.ToString(s.ServiceName) != name || aws.ToString(s.Status) == "INACTIVE" {
			continue
		}
		if len(s.Tags) == 0 && s.ServiceArn != nil {
			tags, err := e.ListTagsForResource(ctx, &ecs.ListTagsForResourceInput{ResourceArn: s.ServiceArn})
			if err != nil {
				return nil, fmt.Errorf("list tags of service %q: %w", name, err)
			}
			s.Tags = tags.Tags
		}
		return s, nil
	}
	return nil, nil
}

// ensureTaskDefinition returns the ARN of a task definition revision matching
// the spec: the service's current one, else the family's latest, else a new
// registration. Looking at the family's latest makes a crash between register
// and create harmless.
func (r *StreamProcessorReconciler) ensureTaskDefinition(ctx context.Context, p *pass, w workload, svc *etypes.Service) (string, error) {
	want := taskDefinitionInput(p.sp, w)
	family := aws.ToString(want.Family)
	candidates := []string{family}
	if svc != nil && aws.ToString(svc.TaskDefinition) != "" {
		candidates = []string{aws.ToString(svc.TaskDefinition), family}
	}
	diff := ""
	for _, ref := range candidates {
		out, err := p.aws.ECS.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String(ref), Include: []etypes.TaskDefinitionField{etypes.TaskDefinitionFieldTags}})
		if err != nil {
			// ECS answers ClientException "Unable to describe task definition"
			// for a family with no active revision.
			if k := awsapi.Classify(err); k == awsapi.KindInvalid || k == awsapi.KindNotFound {
				continue
			}
			return "", fmt.Errorf("describe task definition %q: %w", ref, err)
		}
		if ownerOf(p.sp, ecsTagMap(out.Tags)).Ownership != Ours {
			continue // another's revision: register one of our own
		}
		if diff = taskDefinitionDiff(want, out.TaskDefinition); diff == "" {
			return aws.ToString(out.TaskDefinition.TaskDefinitionArn), nil
		}
	}
	out, err := p.aws.ECS.RegisterTaskDefinition(ctx, want, callOnceECS)
	if err != nil {
		return "", fmt.Errorf("register task definition %q: %w", family, err)
	}
	arn := aws.ToString(out.TaskDefinition.TaskDefinitionArn)
	if diff == "" {
		diff = "first revision"
	}
	log.FromContext(ctx).Info("Registered task definition", "workload", w.name, "taskDefinition", arn, "change", diff)
	r.event(p.sp, EventTaskDefinitionCreated, "Registered %s for the %s (%s)", arn, w.name, diff)
	inUse := ""
	if svc != nil {
		inUse = aws.ToString(svc.TaskDefinition)
	}
	r.pruneTaskDefinitions(ctx, p, family, inUse)
	return arn, nil
}

// createService creates the workload's service on Fargate.
func (r *StreamProcessorReconciler) createService(ctx context.Context, p *pass, w workload, name, taskDef string, target int32) (*etypes.Service, error) {
	sp := p.sp
	in := &ecs.CreateServiceInput{
		Cluster:              aws.String(sp.Spec.ECS.Cluster),
		ServiceName:          aws.String(name),
		TaskDefinition:       aws.String(taskDef),
		DesiredCount:         aws.Int32(target),
		LaunchType:           etypes.LaunchTypeFargate,
		NetworkConfiguration: networkConfiguration(sp),
		LoadBalancers:        loadBalancers(w),
		DeploymentConfiguration: &etypes.DeploymentConfiguration{
			MinimumHealthyPercent:    aws.Int32(100),
			MaximumPercent:           aws.Int32(200),
			DeploymentCircuitBreaker: &etypes.DeploymentCircuitBreaker{Enable: true, Rollback: true},
		},
		PropagateTags:        etypes.PropagateTagsService,
		EnableECSManagedTags: true,
		Tags:                 ecsOwnerTags(sp),
	}
	if len(in.LoadBalancers) > 0 {
		in.HealthCheckGracePeriodSeconds = aws.Int32(60)
	}
	out, err := p.aws.ECS.CreateService(ctx, in, callOnceECS)
	if err != nil {
		return nil, fmt.Errorf("create service %q in cluster %q: %w", name, sp.Spec.ECS.Cluster, err)
	}
	log.FromContext(ctx).Info("Created service", "service", name, "desiredCount", target)
	r.event(sp, EventServiceCreated, "Created %s service %s with %d tasks", w.name, name, target)
	return out.Service, nil
}

// updateService brings an existing service to the spec: task definition,
// network configuration, load balancer and desiredCount, in one call. In dry
// run the desiredCount is left alone.
func (r *StreamProcessorReconciler) updateService(ctx context.Context, p *pass, w workload, svc *etypes.Service, taskDef string, target int32) (*etypes.Service, error) {
	sp := p.sp
	in, changes, restored := planServiceUpdate(sp, w, svc, taskDef, target)
	if in == nil {
		return svc, nil
	}
	out, err := p.aws.ECS.UpdateService(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("update service %q: %w", aws.ToString(svc.ServiceName), err)
	}
	log.FromContext(ctx).Info("Updated service", "service", aws.ToString(svc.ServiceName), "changes", changes)
	switch {
	case restored:
		r.warning(sp, EventDesiredCountRestored, "Service %s had desiredCount %d set outside the operator; set back to %d",
			aws.ToString(svc.ServiceName), svc.DesiredCount, target)
	case in.DesiredCount != nil && len(changes) == 1:
		r.event(sp, EventServiceScaled, "Scaled %s service %s from %d to %d tasks", w.name, aws.ToString(svc.ServiceName), svc.DesiredCount, target)
	default:
		r.event(sp, EventServiceUpdated, "Updated %s service %s: %v", w.name, aws.ToString(svc.ServiceName), changes)
	}
	return out.Service, nil
}

// planServiceUpdate returns the UpdateService call that brings svc to the
// spec — task definition, network configuration, load balancer and (except in
// dry run) desiredCount — with the changes in words, or nil when nothing
// differs. restored is true when the desiredCount being overridden is not
// the one the operator last set: someone changed it by hand. Pure.
func planServiceUpdate(sp *streamingv1alpha1.StreamProcessor, w workload, svc *etypes.Service, taskDef string, target int32) (in *ecs.UpdateServiceInput, changes []string, restored bool) {
	in = &ecs.UpdateServiceInput{Cluster: aws.String(sp.Spec.ECS.Cluster), Service: svc.ServiceName}
	if aws.ToString(svc.TaskDefinition) != taskDef {
		in.TaskDefinition = aws.String(taskDef)
		changes = append(changes, "task definition "+taskDef)
	}
	if want := networkConfiguration(sp); !sameNetwork(svc.NetworkConfiguration, want) {
		in.NetworkConfiguration = want
		changes = append(changes, "network configuration")
	}
	if want := loadBalancers(w); !sameLoadBalancers(svc.LoadBalancers, want) {
		in.LoadBalancers = want
		if want == nil {
			in.LoadBalancers = []etypes.LoadBalancer{}
		}
		changes = append(changes, "load balancer")
	}
	if svc.DesiredCount != target && !sp.Spec.Scaling.DryRun {
		in.DesiredCount = aws.Int32(target)
		// A desiredCount that differs from what the operator last set was
		// changed outside it; say so, since it is being overridden.
		restored = w.status.ServiceARN != "" && svc.DesiredCount != w.status.DesiredTasks
		changes = append(changes, fmt.Sprintf("desiredCount %d→%d", svc.DesiredCount, target))
	}
	if len(changes) == 0 {
		return nil, nil, false
	}
	return in, changes, restored
}

func networkConfiguration(sp *streamingv1alpha1.StreamProcessor) *etypes.NetworkConfiguration {
	assign := etypes.AssignPublicIpDisabled
	if sp.Spec.ECS.AssignPublicIP {
		assign = etypes.AssignPublicIpEnabled
	}
	return &etypes.NetworkConfiguration{AwsvpcConfiguration: &etypes.AwsVpcConfiguration{
		Subnets: slices.Clone(sp.Spec.ECS.Subnets), SecurityGroups: slices.Clone(sp.Spec.ECS.SecurityGroups), AssignPublicIp: assign,
	}}
}

func sameNetwork(have, want *etypes.NetworkConfiguration) bool {
	if have == nil || have.AwsvpcConfiguration == nil {
		return false
	}
	h, w := have.AwsvpcConfiguration, want.AwsvpcConfiguration
	assign := h.AssignPublicIp
	if assign == "" {
		assign = etypes.AssignPublicIpDisabled
	}
	return assign == w.AssignPublicIp &&
		slices.Equal(slices.Sorted(slices.Values(h.Subnets)), slices.Sorted(slices.Values(w.Subnets))) &&
		slices.Equal(slices.Sorted(slices.Values(h.SecurityGroups)), slices.Sorted(slices.Values(w.SecurityGroups)))
}

func loadBalancers(w workload) []etypes.LoadBalancer {
	if w.targetGroup == "" {
		return nil
	}
	return []etypes.LoadBalancer{{TargetGroupArn: aws.String(w.targetGroup), ContainerName: aws.String(w.name), ContainerPort: aws.Int32(w.port)}}
}

func sameLoadBalancers(have, want []etypes.LoadBalancer) bool {
	key := func(lb etypes.LoadBalancer) string {
		return fmt.Sprintf("%s|%s|%d", aws.ToString(lb.TargetGroupArn), aws.ToString(lb.ContainerName), aws.ToInt32(lb.ContainerPort))
	}
	return slices.Equal(sortedKeys(have, key), sortedKeys(want, key))
}
