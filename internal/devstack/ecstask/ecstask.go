// Package ecstask runs what an ECS service would run, as a local process: it
// reads the service's task definition from ECS (or its emulator) and turns the
// container's environment into a process environment.
//
// moto, the ECS emulator, launches no containers. The end-to-end test
// (test/e2e) and local Fargate (internal/devstack/fargate) start the producer and consumer
// binaries themselves, and use this package so that those processes see
// exactly the environment the operator put in the task definitions — and
// nothing the host happens to have, except what ECS itself would provide
// (credentials, through the task role) and what points at the emulators.
package ecstask

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	etypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// DefaultStopTimeout is how long ECS waits after SIGTERM before SIGKILL when
// the container definition sets no stopTimeout (Fargate's default).
const DefaultStopTimeout = 30 * time.Second

// API is the part of the ECS client Lookup uses.
type API interface {
	DescribeServices(ctx context.Context, in *ecs.DescribeServicesInput, optFns ...func(*ecs.Options)) (*ecs.DescribeServicesOutput, error)
	DescribeTaskDefinition(ctx context.Context, in *ecs.DescribeTaskDefinitionInput, optFns ...func(*ecs.Options)) (*ecs.DescribeTaskDefinitionOutput, error)
}

// Task is one task of a service as ECS would start it: the essential
// container of the service's current task definition.
type Task struct {
	// Service is the service's name; DesiredCount its desiredCount.
	Service      string
	DesiredCount int32
	// TaskDefinitionARN is the revision the service runs.
	TaskDefinitionARN string
	// Container is the essential container's name; Image its image.
	Container string
	Image     string
	// CPU is the task's cpu in units (1024 = 1 vCPU) and MemoryMiB its
	// memory, both 0 when the task definition leaves them unset.
	CPU       int
	MemoryMiB int
	// Env is the container's environment, exactly as registered.
	Env map[string]string
	// Secrets are the container's secrets, unresolved: the runner reads
	// them when the task starts (SecretResolver), as ECS does.
	Secrets []Secret
	// Ports are the container ports of its port mappings.
	Ports []int32
	// StopTimeout is the time between SIGTERM and SIGKILL when ECS stops it.
	StopTimeout time.Duration
	// AWSLogs is the container's awslogs log configuration; nil when it has
	// none (or another driver).
	AWSLogs *AWSLogs
}

// AWSLogs is where the awslogs driver sends a container's output: the
// group, its region, and the prefix of the task's stream
// (<prefix>/<container>/<task id>).
type AWSLogs struct {
	Group, Region, StreamPrefix string
}

// Lookup describes service (a name or ARN) in cluster and its task
// definition. It fails unless the service is ACTIVE and its task definition
// has exactly one essential container, which is what the operator registers.
func Lookup(ctx context.Context, api API, cluster, service string) (Task, error) {
	out, err := api.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(cluster), Services: []string{service}})
	if err != nil {
		return Task{}, fmt.Errorf("describe service %q in cluster %q: %w", service, cluster, err)
	}
	if len(out.Services) != 1 {
		reasons := make([]string, 0, len(out.Failures))
		for _, f := range out.Failures {
			reasons = append(reasons, aws.ToString(f.Reason))
		}
		return Task{}, fmt.Errorf("service %q not found in cluster %q (%s)", service, cluster, strings.Join(reasons, ", "))
	}
	svc := out.Services[0]
	if st := aws.ToString(svc.Status); st != "ACTIVE" {
		return Task{}, fmt.Errorf("service %q is %s, not ACTIVE", aws.ToString(svc.ServiceName), st)
	}
	td, err := api.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: svc.TaskDefinition})
	if err != nil {
		return Task{}, fmt.Errorf("describe task definition %q of service %q: %w", aws.ToString(svc.TaskDefinition), aws.ToString(svc.ServiceName), err)
	}
	if td.TaskDefinition == nil {
		return Task{}, fmt.Errorf("task definition %q of service %q: empty answer", aws.ToString(svc.TaskDefinition), aws.ToString(svc.ServiceName))
	}
	t, err := FromTaskDefinition(td.TaskDefinition)
	if err != nil {
		return Task{}, err
	}
	t.Service, t.DesiredCount = aws.ToString(svc.ServiceName), svc.DesiredCount
	return t, nil
}

// FromTaskDefinition returns the task td describes, without a service
// (Service and DesiredCount unset). It fails unless td has exactly one
// essential container, which is what the operator registers.
func FromTaskDefinition(td *etypes.TaskDefinition) (Task, error) {
	var essential []etypes.ContainerDefinition
	for _, c := range td.ContainerDefinitions {
		// ECS treats a container without the flag as essential.
		if c.Essential == nil || *c.Essential {
			essential = append(essential, c)
		}
	}
	if len(essential) != 1 {
		return Task{}, fmt.Errorf("task definition %q has %d essential containers, want 1", aws.ToString(td.TaskDefinitionArn), len(essential))
	}
	c := essential[0]
	t := Task{
		TaskDefinitionARN: aws.ToString(td.TaskDefinitionArn),
		Container:         aws.ToString(c.Name),
		Image:             aws.ToString(c.Image),
		Env:               make(map[string]string, len(c.Environment)),
		StopTimeout:       DefaultStopTimeout,
	}
	// Fargate requires task-level cpu and memory; a malformed value stays 0.
	t.CPU, _ = strconv.Atoi(aws.ToString(td.Cpu))
	t.MemoryMiB, _ = strconv.Atoi(aws.ToString(td.Memory))
	for _, kv := range c.Environment {
		t.Env[aws.ToString(kv.Name)] = aws.ToString(kv.Value)
	}
	for _, sec := range c.Secrets {
		t.Secrets = append(t.Secrets, Secret{Name: aws.ToString(sec.Name), ValueFrom: aws.ToString(sec.ValueFrom)})
	}
	for _, p := range c.PortMappings {
		t.Ports = append(t.Ports, aws.ToInt32(p.ContainerPort))
	}
	if c.StopTimeout != nil {
		t.StopTimeout = time.Duration(*c.StopTimeout) * time.Second
	}
	if lc := c.LogConfiguration; lc != nil && lc.LogDriver == etypes.LogDriverAwslogs {
		t.AWSLogs = &AWSLogs{Group: lc.Options["awslogs-group"], Region: lc.Options["awslogs-region"], StreamPrefix: lc.Options["awslogs-stream-prefix"]}
	}
	return t, nil
}

// hostVars are what a local process takes from the host: the credentials ECS
// would provide through the task role, and the endpoint variables that point
// the SDK at the emulators. Nothing else — not AWS_REGION, which must come
// from the task definition.
func hostVar(name string) bool {
	switch name {
	case "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_EC2_METADATA_DISABLED", "AWS_ENDPOINT_URL":
		return true
	}
	return strings.HasPrefix(name, "AWS_ENDPOINT_URL_")
}

// Environ returns the environment of a local process standing in for the
// task: the container's environment, the credential and endpoint variables of
// host (an os.Environ-style list), then overrides, which win. Overrides are
// for what ECS provides per task and one host cannot (a port of its own, an
// output file). The result is sorted by name.
func (t Task) Environ(host []string, overrides map[string]string) []string {
	base := make(map[string]string, 8)
	for _, kv := range host {
		if k, v, ok := strings.Cut(kv, "="); ok && hostVar(k) {
			base[k] = v
		}
	}
	return t.EnvironWith(base, overrides)
}

// EnvironWith is Environ with the caller choosing every variable beyond the
// container's: base (taken as given, e.g. endpoints, credentials and a
// default region) under the container's environment, then overrides, which
// win. The result is sorted by name.
func (t Task) EnvironWith(base, overrides map[string]string) []string {
	env := make(map[string]string, len(base)+len(t.Env)+len(overrides))
	maps.Copy(env, base)
	maps.Copy(env, t.Env)
	maps.Copy(env, overrides)
	out := make([]string, 0, len(env))
	for _, k := range slices.Sorted(maps.Keys(env)) {
		out = append(out, k+"="+env[k])
	}
	return out
}
