package controllers

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	etypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"sigs.k8s.io/controller-runtime/pkg/log"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
	ecsaws "github.com/kdp-io/streamprocessor-operator/internal/aws/ecs"
)

// containerStopTimeout is the seconds ECS waits between SIGTERM and SIGKILL.
const containerStopTimeout = 45

// workload is one of the two ECS services of a StreamProcessor, seen the same
// way by the code that converges it.
type workload struct {
	name        string // producer or consumer: the container name and service suffix
	condition   string
	spec        *streamingv1alpha1.WorkloadSpec
	status      *streamingv1alpha1.ServiceStatus
	port        int32  // container port, 0 for none
	targetGroup string // ALB target group ARN, "" for none
	env         map[string]string
}

func producerWorkload(sp *streamingv1alpha1.StreamProcessor, region string) workload {
	return workload{
		name: producer, condition: ConditionProducerReady,
		spec: &sp.Spec.Producer.WorkloadSpec, status: &sp.Status.Producer,
		port: sp.Spec.Producer.ContainerPort, targetGroup: sp.Spec.Producer.TargetGroupARN,
		env: map[string]string{
			"STREAM_NAME": streamName(sp),
			"AWS_REGION":  region,
			"PORT":        strconv.Itoa(int(sp.Spec.Producer.ContainerPort)),
			// The task's memory: Fargate gives the container no cgroup
			// limit of its own, so the producer sets its Go memory limit
			// and byte admission from this.
			"TASK_MEMORY_MIB": strconv.Itoa(int(sp.Spec.Producer.Memory)),
		},
	}
}

func consumerWorkload(sp *streamingv1alpha1.StreamProcessor, region string) workload {
	env := map[string]string{
		"STREAM_NAME":      streamName(sp),
		"APPLICATION_NAME": applicationName(sp),
		"AWS_REGION":       region,
		"TASK_MEMORY_MIB":  strconv.Itoa(int(sp.Spec.Consumer.Memory)),
	}
	maps.Copy(env, processorEnv(sp.Spec.Consumer.Processor))
	return workload{
		name: consumer, condition: ConditionConsumerReady,
		spec: &sp.Spec.Consumer.WorkloadSpec, status: &sp.Status.Consumer,
		env: env,
	}
}

// processorEnv is how the consumer is told to run a KCL MultiLang record
// processor (workloads/consumer: PROCESSOR_COMMAND, PROPERTIES_FILE); none
// for the built-in JSON-lines mode. Being the operator's variables, they
// win over the same names in spec.consumer.env, which the CRD refuses
// alongside a processor anyway.
func processorEnv(p *streamingv1alpha1.ProcessorSpec) map[string]string {
	env := map[string]string{}
	if p == nil {
		return env
	}
	if p.Command != "" {
		env["PROCESSOR_COMMAND"] = p.Command
	}
	if p.PropertiesFile != "" {
		env["PROPERTIES_FILE"] = p.PropertiesFile
	}
	return env
}

// taskDefinitionInput is the task definition a workload should run: one
// essential container on Fargate with awsvpc networking. The operator's
// environment variables come first; the spec's env adds to them (the CRD
// refuses overriding the operator's); the spec's secrets become the
// container's secrets, which ECS resolves with the execution role. The task
// role is the workload's own, else spec.ecs.taskRoleArn.
func taskDefinitionInput(sp *streamingv1alpha1.StreamProcessor, w workload) *ecs.RegisterTaskDefinitionInput {
	env := make([]etypes.KeyValuePair, 0, len(w.env)+len(w.spec.Env))
	for _, k := range slices.Sorted(maps.Keys(w.env)) {
		env = append(env, etypes.KeyValuePair{Name: aws.String(k), Value: aws.String(w.env[k])})
	}
	for _, e := range w.spec.Env {
		if _, reserved := w.env[e.Name]; !reserved {
			env = append(env, etypes.KeyValuePair{Name: aws.String(e.Name), Value: aws.String(e.Value)})
		}
	}
	var secrets []etypes.Secret
	for _, s := range w.spec.Secrets {
		if _, reserved := w.env[s.Name]; !reserved {
			secrets = append(secrets, etypes.Secret{Name: aws.String(s.Name), ValueFrom: aws.String(s.ValueFrom)})
		}
	}
	container := etypes.ContainerDefinition{
		Name:        aws.String(w.name),
		Image:       aws.String(w.spec.Image),
		Essential:   aws.Bool(true),
		Environment: env,
		Secrets:     secrets,
		// Both workloads drain on SIGTERM within 25 s (flush the buffer;
		// finish the batch, checkpoint, release leases); ECS kills after
		// stopTimeout, 30 s by default: leave a margin.
		StopTimeout: aws.Int32(containerStopTimeout),
	}
	if w.port > 0 {
		container.PortMappings = []etypes.PortMapping{{ContainerPort: aws.Int32(w.port), Protocol: etypes.TransportProtocolTcp}}
	}
	container.LogConfiguration = logConfiguration(taskLogGroup(sp), w)
	in := &ecs.RegisterTaskDefinitionInput{
		Family:                  aws.String(serviceName(sp, w.name)),
		RequiresCompatibilities: []etypes.Compatibility{etypes.CompatibilityFargate},
		NetworkMode:             etypes.NetworkModeAwsvpc,
		Cpu:                     aws.String(strconv.Itoa(int(w.spec.CPU))),
		Memory:                  aws.String(strconv.Itoa(int(w.spec.Memory))),
		ContainerDefinitions:    []etypes.ContainerDefinition{container},
		Tags:                    ecsOwnerTags(sp),
	}
	if arn := sp.Spec.ECS.ExecutionRoleARN; arn != "" {
		in.ExecutionRoleArn = aws.String(arn)
	}
	if arn := cmp.Or(w.spec.TaskRoleARN, sp.Spec.ECS.TaskRoleARN); arn != "" {
		in.TaskRoleArn = aws.String(arn)
	}
	return in
}

// logConfiguration sends a workload's output to group (taskLogGroup) with
// the awslogs driver, in streams prefixed with the workload's name; nil (ECS
// collects nothing) without a group.
func logConfiguration(group string, w workload) *etypes.LogConfiguration {
	if group == "" {
		return nil
	}
	return &etypes.LogConfiguration{
		LogDriver: etypes.LogDriverAwslogs,
		Options: map[string]string{
			"awslogs-group":         group,
			"awslogs-region":        w.env["AWS_REGION"],
			"awslogs-stream-prefix": w.name,
		},
	}
}

// taskDefinitionDiff says how the registered task definition have differs from
// the desired one, or "" when a new revision is not needed. Only fields the
// operator sets are compared, so defaults ECS fills in do not cause churn.
func taskDefinitionDiff(want *ecs.RegisterTaskDefinitionInput, have *etypes.TaskDefinition) string {
	if have == nil {
		return "no task definition registered"
	}
	switch {
	case aws.ToString(have.Family) != aws.ToString(want.Family):
		return fmt.Sprintf("family %q, want %q", aws.ToString(have.Family), aws.ToString(want.Family))
	case aws.ToString(have.Cpu) != aws.ToString(want.Cpu):
		return fmt.Sprintf("cpu %s, want %s", aws.ToString(have.Cpu), aws.ToString(want.Cpu))
	case aws.ToString(have.Memory) != aws.ToString(want.Memory):
		return fmt.Sprintf("memory %s, want %s", aws.ToString(have.Memory), aws.ToString(want.Memory))
	case have.NetworkMode != want.NetworkMode:
		return fmt.Sprintf("network mode %s, want %s", have.NetworkMode, want.NetworkMode)
	case !slices.Contains(have.RequiresCompatibilities, etypes.CompatibilityFargate):
		return "not compatible with FARGATE"
	case aws.ToString(have.ExecutionRoleArn) != aws.ToString(want.ExecutionRoleArn):
		return fmt.Sprintf("execution role %q, want %q", aws.ToString(have.ExecutionRoleArn), aws.ToString(want.ExecutionRoleArn))
	case aws.ToString(have.TaskRoleArn) != aws.ToString(want.TaskRoleArn):
		return fmt.Sprintf("task role %q, want %q", aws.ToString(have.TaskRoleArn), aws.ToString(want.TaskRoleArn))
	case len(have.ContainerDefinitions) != len(want.ContainerDefinitions):
		return fmt.Sprintf("%d containers, want %d", len(have.ContainerDefinitions), len(want.ContainerDefinitions))
	}
	for i := range want.ContainerDefinitions {
		if d := containerDiff(&want.ContainerDefinitions[i], &have.ContainerDefinitions[i]); d != "" {
			return d
		}
	}
	return ""
}

func containerDiff(want, have *etypes.ContainerDefinition) string {
	name := aws.ToString(want.Name)
	switch {
	case aws.ToString(have.Name) != name:
		return fmt.Sprintf("container %q, want %q", aws.ToString(have.Name), name)
	case aws.ToString(have.Image) != aws.ToString(want.Image):
		return fmt.Sprintf("container %s image %q, want %q", name, aws.ToString(have.Image), aws.ToString(want.Image))
	case aws.ToInt32(have.StopTimeout) != aws.ToInt32(want.StopTimeout):
		return fmt.Sprintf("container %s stop timeout %ds, want %ds", name, aws.ToInt32(have.StopTimeout), aws.ToInt32(want.StopTimeout))
	case !samePorts(have.PortMappings, want.PortMappings):
		return fmt.Sprintf("container %s port mappings differ", name)
	case !sameEnv(have.Environment, want.Environment):
		return fmt.Sprintf("container %s environment differs", name)
	case !sameSecrets(have.Secrets, want.Secrets):
		return fmt.Sprintf("container %s secrets differ", name)
	case !sameLogs(have.LogConfiguration, want.LogConfiguration):
		return fmt.Sprintf("container %s log configuration differs", name)
	}
	return ""
}

func samePorts(a, b []etypes.PortMapping) bool {
	key := func(p etypes.PortMapping) string {
		proto := p.Protocol
		if proto == "" {
			proto = etypes.TransportProtocolTcp
		}
		return fmt.Sprintf("%d/%s", aws.ToInt32(p.ContainerPort), proto)
	}
	return slices.Equal(sortedKeys(a, key), sortedKeys(b, key))
}

// sameEnv compares environments as sets: ECS may return them in any order.
func sameEnv(a, b []etypes.KeyValuePair) bool {
	key := func(kv etypes.KeyValuePair) string { return aws.ToString(kv.Name) + "=" + aws.ToString(kv.Value) }
	return slices.Equal(sortedKeys(a, key), sortedKeys(b, key))
}

// sameSecrets compares secrets as sets of name and source, like sameEnv.
func sameSecrets(a, b []etypes.Secret) bool {
	key := func(s etypes.Secret) string { return aws.ToString(s.Name) + "=" + aws.ToString(s.ValueFrom) }
	return slices.Equal(sortedKeys(a, key), sortedKeys(b, key))
}

// sameLogs compares log drivers and their options.
func sameLogs(a, b *etypes.LogConfiguration) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.LogDriver == b.LogDriver && maps.Equal(a.Options, b.Options)
}

func sortedKeys[T any](items []T, key func(T) string) []string {
	out := make([]string, 0, len(items))
	for _, it := range items {
		out = append(out, key(it))
	}
	slices.Sort(out)
	return out
}

// keptRevisions is how many of a family's newest task definition revisions
// stay registered, for a rollback (ECS's deployment circuit breaker rolls
// back to the previous one) — besides the one the service runs.
const keptRevisions = 3

// pruneTaskDefinitions deregisters the family's ACTIVE revisions beyond the
// newest keptRevisions, except the one the service runs (inUse) and any
// revision not tagged as sp's. Best effort: a failure is logged, not
// returned — a revision left registered costs nothing and is pruned next time.
func pruneTaskDefinitions(ctx context.Context, services ecsaws.Services, sp *streamingv1alpha1.StreamProcessor, family, inUse string) {
	listed, err := services.ActiveRevisions(ctx, family)
	if err != nil {
		log.FromContext(ctx).Info("Listing task definitions to prune failed", "family", family, "error", err.Error())
		return
	}
	var arns []string
	for _, arn := range listed {
		if f, _, ok := taskDefinitionRevision(arn); ok && f == family {
			arns = append(arns, arn)
		}
	}
	slices.SortFunc(arns, func(a, b string) int { // newest first
		_, ra, _ := taskDefinitionRevision(a)
		_, rb, _ := taskDefinitionRevision(b)
		return rb - ra
	})
	for _, arn := range arns[min(keptRevisions, len(arns)):] {
		if arn == inUse {
			continue
		}
		td, tags, err := services.TaskDefinition(ctx, arn)
		if err != nil || td == nil || ownerOf(sp, ecsTagMap(tags)).Ownership != Ours {
			continue
		}
		if err := services.Deregister(ctx, arn); err != nil {
			log.FromContext(ctx).Info("Deregistering an old task definition failed", "taskDefinition", arn, "error", err.Error())
			continue
		}
		log.FromContext(ctx).V(1).Info("Deregistered old task definition", "taskDefinition", arn)
	}
}

// taskDefinitionRevision splits a task definition ARN
// (arn:aws:ecs:region:account:task-definition/family:revision).
func taskDefinitionRevision(arn string) (family string, revision int, ok bool) {
	_, rest, found := strings.Cut(arn, ":task-definition/")
	if !found {
		return "", 0, false
	}
	i := strings.LastIndexByte(rest, ':')
	if i < 0 {
		return "", 0, false
	}
	n, err := strconv.Atoi(rest[i+1:])
	if err != nil {
		return "", 0, false
	}
	return rest[:i], n, true
}
