package controllers

import (
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	etypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
)

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

// refuseService reports a service of this object's name that is not its own
// (another StreamProcessor's, or made outside the operator): it is never
// updated or deleted, and the workload stays not ready until it is gone.
func refuseService(n *notes, w workload, name string, o owner) error {
	cluster := n.sp.Spec.ECS.Cluster
	if o.Ownership == Others {
		return n.refuse(ReasonOwnedByAnother, EventOwnedByAnother,
			fmt.Sprintf("service %s in cluster %s belongs to StreamProcessor %s; it is left untouched", name, cluster, o), w.condition)
	}
	return n.refuse(ReasonAdoptionRequired, EventAdoptionRequired,
		fmt.Sprintf("service %s in cluster %s exists and was not created by this StreamProcessor (no owner tags); it is left untouched: delete it to let the operator create its own", name, cluster), w.condition)
}

// createServiceInput is the CreateService call of the workload's service on
// Fargate, born with the owner tags.
func createServiceInput(sp *streamingv1alpha1.StreamProcessor, w workload, name, taskDef string, target int32) *ecs.CreateServiceInput {
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
	return in
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
