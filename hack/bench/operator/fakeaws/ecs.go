package fakeaws

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	etypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// ECS is the account's ECS control plane: task definitions and Fargate
// services whose tasks reach the desiredCount TaskDelay after a change.
type ECS struct {
	a        *Account
	families map[string][]*taskDef // revision i+1 at index i
	services map[string]*service   // cluster/name
}

type taskDef struct {
	def  etypes.TaskDefinition
	tags []etypes.Tag
}

type service struct {
	svc                    etypes.Service
	running                int32     // tasks before the last change
	changedAt, deployUntil time.Time // last desiredCount change; end of a rollout
}

const ecsPrefix = "arn:aws:ecs:us-east-1:000000000000:"

func lastSegment(s string) string {
	if i := strings.LastIndex(s, "/"); i >= 0 {
		return s[i+1:]
	}
	return s
}

func serviceKey(cluster, svc *string) string {
	c := lastSegment(aws.ToString(cluster))
	if c == "" {
		c = "default"
	}
	return c + "/" + lastSegment(aws.ToString(svc))
}

// taskDefRef resolves family, family:revision or an ARN; the caller holds a.mu.
func (e *ECS) taskDefRef(ref string) *taskDef {
	ref = strings.TrimPrefix(ref, ecsPrefix+"task-definition/")
	family, rev, hasRev := strings.Cut(ref, ":")
	revs := e.families[family]
	if hasRev {
		n, err := strconv.Atoi(rev)
		if err != nil || n < 1 || n > len(revs) {
			return nil
		}
		return revs[n-1]
	}
	for i := len(revs) - 1; i >= 0; i-- {
		if revs[i].def.Status == etypes.TaskDefinitionStatusActive {
			return revs[i]
		}
	}
	return nil
}

// view is the service as AWS would describe it now; the caller holds a.mu.
func (s *service) view(now time.Time, withTags bool) etypes.Service {
	v := s.svc
	v.RunningCount = s.running
	v.PendingCount = max(0, v.DesiredCount-v.RunningCount)
	d := etypes.Deployment{Id: aws.String("ecs-svc/1"), Status: aws.String("PRIMARY"), TaskDefinition: v.TaskDefinition,
		DesiredCount: v.DesiredCount, RunningCount: v.RunningCount, PendingCount: v.PendingCount, RolloutState: etypes.DeploymentRolloutStateCompleted}
	v.Deployments = []etypes.Deployment{d}
	if now.Before(s.deployUntil) {
		d.RolloutState = etypes.DeploymentRolloutStateInProgress
		v.Deployments = []etypes.Deployment{d, {Id: aws.String("ecs-svc/0"), Status: aws.String("ACTIVE")}}
	}
	if !withTags {
		v.Tags = nil
	}
	return v
}

// settle moves running tasks to desiredCount once TaskDelay has passed.
func (e *ECS) settle(s *service, now time.Time) {
	if now.Sub(s.changedAt) >= e.a.TaskDelay {
		s.running = s.svc.DesiredCount
	}
}

func (e *ECS) RegisterTaskDefinition(ctx context.Context, in *ecs.RegisterTaskDefinitionInput, _ ...func(*ecs.Options)) (*ecs.RegisterTaskDefinitionOutput, error) {
	if err := e.a.call(ctx, "ecs.RegisterTaskDefinition"); err != nil {
		return nil, err
	}
	e.a.mu.Lock()
	defer e.a.mu.Unlock()
	family := aws.ToString(in.Family)
	if family == "" || len(in.ContainerDefinitions) == 0 {
		return nil, apiErr("ClientException", "family and containerDefinitions are required")
	}
	rev := int32(len(e.families[family]) + 1)
	td := &taskDef{def: etypes.TaskDefinition{
		TaskDefinitionArn:       aws.String(fmt.Sprintf("%stask-definition/%s:%d", ecsPrefix, family, rev)),
		Family:                  in.Family,
		Revision:                rev,
		Status:                  etypes.TaskDefinitionStatusActive,
		Cpu:                     in.Cpu,
		Memory:                  in.Memory,
		NetworkMode:             in.NetworkMode,
		RequiresCompatibilities: slices.Clone(in.RequiresCompatibilities),
		Compatibilities:         []etypes.Compatibility{etypes.CompatibilityEc2, etypes.CompatibilityFargate},
		ExecutionRoleArn:        in.ExecutionRoleArn,
		TaskRoleArn:             in.TaskRoleArn,
		ContainerDefinitions:    slices.Clone(in.ContainerDefinitions),
		RuntimePlatform:         in.RuntimePlatform,
		RegisteredAt:            aws.Time(e.a.now()),
	}, tags: slices.Clone(in.Tags)}
	e.families[family] = append(e.families[family], td)
	return &ecs.RegisterTaskDefinitionOutput{TaskDefinition: &td.def, Tags: td.tags}, nil
}

func (e *ECS) DescribeTaskDefinition(ctx context.Context, in *ecs.DescribeTaskDefinitionInput, _ ...func(*ecs.Options)) (*ecs.DescribeTaskDefinitionOutput, error) {
	if err := e.a.call(ctx, "ecs.DescribeTaskDefinition"); err != nil {
		return nil, err
	}
	e.a.mu.Lock()
	defer e.a.mu.Unlock()
	td := e.taskDefRef(aws.ToString(in.TaskDefinition))
	if td == nil {
		return nil, apiErr("ClientException", "Unable to describe task definition.")
	}
	def := td.def
	out := &ecs.DescribeTaskDefinitionOutput{TaskDefinition: &def}
	if slices.Contains(in.Include, etypes.TaskDefinitionFieldTags) {
		out.Tags = slices.Clone(td.tags)
	}
	return out, nil
}

// ListTaskDefinitions lists a family's revisions (FamilyPrefix, Status),
// oldest first, MaxResults (100 by default) a page.
func (e *ECS) ListTaskDefinitions(ctx context.Context, in *ecs.ListTaskDefinitionsInput, _ ...func(*ecs.Options)) (*ecs.ListTaskDefinitionsOutput, error) {
	if err := e.a.call(ctx, "ecs.ListTaskDefinitions"); err != nil {
		return nil, err
	}
	if in.FamilyPrefix == nil {
		return nil, e.a.notImplemented("ecs.ListTaskDefinitions", "listing without FamilyPrefix")
	}
	e.a.mu.Lock()
	defer e.a.mu.Unlock()
	var arns []string
	for family, revs := range e.families {
		if !strings.HasPrefix(family, aws.ToString(in.FamilyPrefix)) {
			continue
		}
		for _, td := range revs {
			if in.Status == "" || td.def.Status == in.Status {
				arns = append(arns, aws.ToString(td.def.TaskDefinitionArn))
			}
		}
	}
	sort.Strings(arns)
	start, _ := strconv.Atoi(aws.ToString(in.NextToken))
	limit := int(aws.ToInt32(in.MaxResults))
	if limit <= 0 {
		limit = 100
	}
	start = min(start, len(arns))
	end := min(start+limit, len(arns))
	out := &ecs.ListTaskDefinitionsOutput{TaskDefinitionArns: arns[start:end]}
	if end < len(arns) {
		out.NextToken = aws.String(strconv.Itoa(end))
	}
	return out, nil
}

func (e *ECS) DeregisterTaskDefinition(ctx context.Context, in *ecs.DeregisterTaskDefinitionInput, _ ...func(*ecs.Options)) (*ecs.DeregisterTaskDefinitionOutput, error) {
	if err := e.a.call(ctx, "ecs.DeregisterTaskDefinition"); err != nil {
		return nil, err
	}
	e.a.mu.Lock()
	defer e.a.mu.Unlock()
	ref := aws.ToString(in.TaskDefinition)
	if !strings.Contains(ref, ":") {
		return nil, apiErr("ClientException", "a revision is required")
	}
	td := e.taskDefRef(ref)
	if td == nil {
		return nil, apiErr("ClientException", "Unable to describe task definition.")
	}
	td.def.Status = etypes.TaskDefinitionStatusInactive
	def := td.def
	return &ecs.DeregisterTaskDefinitionOutput{TaskDefinition: &def}, nil
}

func (e *ECS) CreateService(ctx context.Context, in *ecs.CreateServiceInput, _ ...func(*ecs.Options)) (*ecs.CreateServiceOutput, error) {
	if err := e.a.call(ctx, "ecs.CreateService"); err != nil {
		return nil, err
	}
	e.a.mu.Lock()
	defer e.a.mu.Unlock()
	key := serviceKey(in.Cluster, in.ServiceName)
	if s := e.services[key]; s != nil && aws.ToString(s.svc.Status) != "INACTIVE" {
		return nil, apiErr("InvalidParameterException", "Creation of service was not idempotent.")
	}
	td := e.taskDefRef(aws.ToString(in.TaskDefinition))
	if td == nil || td.def.Status != etypes.TaskDefinitionStatusActive {
		return nil, apiErr("ClientException", "TaskDefinition not found.")
	}
	now := e.a.now()
	cluster, _, _ := strings.Cut(key, "/")
	s := &service{svc: etypes.Service{
		ServiceName:             in.ServiceName,
		ServiceArn:              aws.String(ecsPrefix + "service/" + key),
		ClusterArn:              aws.String(ecsPrefix + "cluster/" + cluster),
		Status:                  aws.String("ACTIVE"),
		DesiredCount:            aws.ToInt32(in.DesiredCount),
		TaskDefinition:          td.def.TaskDefinitionArn,
		LaunchType:              in.LaunchType,
		NetworkConfiguration:    in.NetworkConfiguration,
		LoadBalancers:           slices.Clone(in.LoadBalancers),
		DeploymentConfiguration: in.DeploymentConfiguration,
		PropagateTags:           in.PropagateTags,
		EnableECSManagedTags:    in.EnableECSManagedTags,
		Tags:                    slices.Clone(in.Tags),
		CreatedAt:               aws.Time(now),
	}, changedAt: now}
	e.services[key] = s
	v := s.view(now, true)
	return &ecs.CreateServiceOutput{Service: &v}, nil
}

func (e *ECS) UpdateService(ctx context.Context, in *ecs.UpdateServiceInput, _ ...func(*ecs.Options)) (*ecs.UpdateServiceOutput, error) {
	if err := e.a.call(ctx, "ecs.UpdateService"); err != nil {
		return nil, err
	}
	e.a.mu.Lock()
	defer e.a.mu.Unlock()
	s := e.services[serviceKey(in.Cluster, in.Service)]
	if s == nil || aws.ToString(s.svc.Status) != "ACTIVE" {
		return nil, apiErr("ServiceNotActiveException", "Service was not ACTIVE.")
	}
	now := e.a.now()
	e.settle(s, now)
	if in.TaskDefinition != nil {
		td := e.taskDefRef(aws.ToString(in.TaskDefinition))
		if td == nil || td.def.Status != etypes.TaskDefinitionStatusActive {
			return nil, apiErr("ClientException", "TaskDefinition not found.")
		}
		if aws.ToString(td.def.TaskDefinitionArn) != aws.ToString(s.svc.TaskDefinition) {
			s.svc.TaskDefinition, s.deployUntil = td.def.TaskDefinitionArn, now.Add(e.a.TaskDelay)
		}
	}
	if in.DesiredCount != nil {
		s.svc.DesiredCount, s.changedAt = *in.DesiredCount, now
	}
	if in.NetworkConfiguration != nil {
		s.svc.NetworkConfiguration = in.NetworkConfiguration
	}
	if in.LoadBalancers != nil {
		s.svc.LoadBalancers = slices.Clone(in.LoadBalancers)
	}
	v := s.view(now, false)
	return &ecs.UpdateServiceOutput{Service: &v}, nil
}

func (e *ECS) DescribeServices(ctx context.Context, in *ecs.DescribeServicesInput, _ ...func(*ecs.Options)) (*ecs.DescribeServicesOutput, error) {
	if err := e.a.call(ctx, "ecs.DescribeServices"); err != nil {
		return nil, err
	}
	if len(in.Services) > 10 {
		return nil, apiErr("InvalidParameterException", "at most 10 services a call")
	}
	e.a.mu.Lock()
	defer e.a.mu.Unlock()
	now := e.a.now()
	out := &ecs.DescribeServicesOutput{}
	for _, name := range in.Services {
		s := e.services[serviceKey(in.Cluster, aws.String(name))]
		if s == nil {
			out.Failures = append(out.Failures, etypes.Failure{Arn: aws.String(ecsPrefix + "service/" + serviceKey(in.Cluster, aws.String(name))), Reason: aws.String("MISSING")})
			continue
		}
		e.settle(s, now)
		out.Services = append(out.Services, s.view(now, slices.Contains(in.Include, etypes.ServiceFieldTags)))
	}
	return out, nil
}

func (e *ECS) DeleteService(ctx context.Context, in *ecs.DeleteServiceInput, _ ...func(*ecs.Options)) (*ecs.DeleteServiceOutput, error) {
	if err := e.a.call(ctx, "ecs.DeleteService"); err != nil {
		return nil, err
	}
	e.a.mu.Lock()
	defer e.a.mu.Unlock()
	s := e.services[serviceKey(in.Cluster, in.Service)]
	if s == nil || aws.ToString(s.svc.Status) == "INACTIVE" {
		return nil, apiErr("ServiceNotFoundException", "Service not found.")
	}
	if s.svc.DesiredCount > 0 && !aws.ToBool(in.Force) {
		return nil, apiErr("InvalidParameterException", "The service cannot be stopped while it is scaled above 0.")
	}
	s.svc.Status = aws.String("INACTIVE") // the fake drains at once
	v := s.view(e.a.now(), false)
	return &ecs.DeleteServiceOutput{Service: &v}, nil
}

func (e *ECS) ListTagsForResource(ctx context.Context, in *ecs.ListTagsForResourceInput, _ ...func(*ecs.Options)) (*ecs.ListTagsForResourceOutput, error) {
	if err := e.a.call(ctx, "ecs.ListTagsForResource"); err != nil {
		return nil, err
	}
	e.a.mu.Lock()
	defer e.a.mu.Unlock()
	arn := aws.ToString(in.ResourceArn)
	switch {
	case strings.HasPrefix(arn, ecsPrefix+"service/"):
		if s := e.services[strings.TrimPrefix(arn, ecsPrefix+"service/")]; s != nil {
			return &ecs.ListTagsForResourceOutput{Tags: slices.Clone(s.svc.Tags)}, nil
		}
	case strings.HasPrefix(arn, ecsPrefix+"task-definition/"):
		if td := e.taskDefRef(arn); td != nil {
			return &ecs.ListTagsForResourceOutput{Tags: slices.Clone(td.tags)}, nil
		}
	default:
		return nil, e.a.notImplementedLocked("ecs.ListTagsForResource", "resource "+arn)
	}
	return nil, apiErr("InvalidParameterException", "The specified resource could not be found.")
}
