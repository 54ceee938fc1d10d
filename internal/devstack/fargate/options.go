package fargate

import (
	"context"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/go-logr/logr"

	"github.com/kdp-io/streamprocessor-operator/internal/devstack/ecstask"
)

// ECSAPI is the part of the ECS client the supervisor reads services with. It
// must talk to the ECS emulator directly, not through the Proxy.
type ECSAPI interface {
	ListServices(ctx context.Context, in *ecs.ListServicesInput, optFns ...func(*ecs.Options)) (*ecs.ListServicesOutput, error)
	DescribeServices(ctx context.Context, in *ecs.DescribeServicesInput, optFns ...func(*ecs.Options)) (*ecs.DescribeServicesOutput, error)
	DescribeTaskDefinition(ctx context.Context, in *ecs.DescribeTaskDefinitionInput, optFns ...func(*ecs.Options)) (*ecs.DescribeTaskDefinitionOutput, error)
}

// CloudWatchAPI is what the AWS/ECS metrics are published with. Against moto
// the client needs awsconfig.CloudWatchQueryProtocol.
type CloudWatchAPI interface {
	PutMetricData(ctx context.Context, in *cloudwatch.PutMetricDataInput, optFns ...func(*cloudwatch.Options)) (*cloudwatch.PutMetricDataOutput, error)
}

// SecretSource resolves container secrets to their values by variable name;
// *ecstask.SecretResolver is one.
type SecretSource interface {
	Resolve(ctx context.Context, secrets []ecstask.Secret) (map[string]string, error)
}

// PortStyle is how a task process is told the port it must listen on.
type PortStyle int

const (
	// PortEnv sets PORT=<port>; the process listens on every interface
	// (the producer).
	PortEnv PortStyle = iota
	// HTTPAddrEnv sets HTTP_ADDR=<task address>:<port> (the consumer).
	HTTPAddrEnv
)

// Runner says which local binary runs a container. A container matches when
// its name equals ContainerName or its image starts with ImagePrefix (either
// may be empty, not both); the first matching Runner wins.
type Runner struct {
	ContainerName string
	ImagePrefix   string
	// Binary is the path of the executable started for each task.
	Binary string
	// Args are its arguments (none by default).
	Args []string
	// HealthPath is GET-polled on the task's port until it answers 2xx; the
	// task is RUNNING from then on. Default "/healthcheck".
	HealthPath string
	// Port is how the task's port is passed to the process.
	Port PortStyle
	// ExtraEnv, when set, returns variables added to the task's environment
	// (after the task definition's, so they win), e.g. the consumer's OUTPUT
	// file under a directory of the caller's choosing.
	ExtraEnv func(TaskInfo) map[string]string
}

// TaskInfo describes a task to a Runner's ExtraEnv hook.
type TaskInfo struct {
	TaskID, Cluster, Service, Container, Image, TaskDefinitionARN string
	// Address and Port are where the task listens.
	Address string
	Port    int
	// Env is the container's environment from the task definition (read
	// only), e.g. for a runner that runs a processor the variables name.
	Env map[string]string
}

func (r Runner) matches(container, image string) bool {
	return (r.ContainerName != "" && r.ContainerName == container) ||
		(r.ImagePrefix != "" && strings.HasPrefix(image, r.ImagePrefix))
}

// Options configure a Supervisor. Zero values take the documented defaults.
type Options struct {
	// ECS reads services and task definitions from the emulator (required).
	ECS ECSAPI
	// Clusters are the names of the clusters whose services are run locally
	// (required). The Proxy answers ListTasks/DescribeTasks for these only.
	Clusters []string
	// Runners map containers to binaries (see Runner).
	Runners []Runner
	// TaskEnv is what every task gets besides its container's environment:
	// the emulators' AWS_ENDPOINT_URL_* variables, credentials and a default
	// region. Only these — the host's environment is not passed on.
	// Variables of the task definition win over it.
	TaskEnv map[string]string
	// Secrets reads the container secrets of a task when it starts (see
	// ecstask.SecretResolver); a task whose secrets cannot all be read
	// stops before its process starts, as on ECS. Nil: a task with secrets
	// fails to start.
	Secrets SecretSource
	// LogDir holds each task's stdout and stderr in
	// <LogDir>/<service>/<task id>.log (required).
	LogDir string
	// Balancer, when set, learns the tasks of services with load balancers
	// and is asked to drain a task before its SIGTERM (see package alb).
	Balancer Balancer
	// CloudWatch, when set, receives AWS/ECS CPUUtilization and
	// MemoryUtilization per service for each closed minute.
	CloudWatch CloudWatchAPI
	// Logs, when set, plays the awslogs driver: the output of a task whose
	// container has an awslogs log configuration also goes, line by line,
	// to its group in stream <prefix>/<container>/<task id>; a task whose
	// stream cannot be created (no such group) fails to start, as on
	// Fargate. The log file gets the output either way.
	Logs LogsAPI
	// LogFlushInterval is how often a task's output is put into CloudWatch
	// Logs (the awslogs driver sends about every 5 s). Default 1 s.
	LogFlushInterval time.Duration

	// PollInterval is how often services are read from ECS. Default 1 s.
	PollInterval time.Duration
	// StartDelay stands in for Fargate's provisioning time (about a minute
	// on AWS): a task stays PROVISIONING this long. Default 200 ms.
	StartDelay time.Duration
	// HealthInterval is how often a starting task's health path is polled.
	// Default 250 ms.
	HealthInterval time.Duration
	// RestartBackoff is the delay before replacing a task that exited by
	// itself; it doubles with each further failure of the service, up to
	// MaxRestartBackoff, and resets once a task stays RUNNING for StableAfter.
	// Defaults 1 s, 1 min, 30 s.
	RestartBackoff    time.Duration
	MaxRestartBackoff time.Duration
	StableAfter       time.Duration
	// StoppedRetention is how long a STOPPED task stays visible to
	// ListTasks/DescribeTasks (ECS: about an hour). Default 15 min.
	StoppedRetention time.Duration
	// DrainTimeout bounds how long a task waits for the Balancer to drain it
	// before its SIGTERM. Default 30 s.
	DrainTimeout time.Duration
	// SharedAddress puts every task on 127.0.0.1. By default each task gets
	// its own loopback address 127.0.<x>.<y> (Linux answers on all of
	// 127/8), as each Fargate task has its own private IP, so that the
	// ELBv2 emulator (which keys targets by IP) keeps every target.
	SharedAddress bool

	// MetricsSampleInterval is how often task CPU and memory are sampled.
	// Default 5 s.
	MetricsSampleInterval time.Duration
	// Now is the clock that decides minute boundaries for metrics. Default
	// time.Now. CPU rates are measured on the monotonic clock regardless.
	Now func() time.Time
	// OnPublish, when set, is called after each successful PutMetricData
	// with the minute it covered.
	OnPublish func(minute time.Time)

	// Logger logs state changes (V(0)) and detail (V(1)). Default: discard.
	Logger logr.Logger
}

func (o *Options) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.PollInterval, time.Second)
	def(&o.StartDelay, 200*time.Millisecond)
	def(&o.HealthInterval, 250*time.Millisecond)
	def(&o.RestartBackoff, time.Second)
	def(&o.MaxRestartBackoff, time.Minute)
	def(&o.StableAfter, 30*time.Second)
	def(&o.StoppedRetention, 15*time.Minute)
	def(&o.DrainTimeout, 30*time.Second)
	def(&o.MetricsSampleInterval, 5*time.Second)
	def(&o.LogFlushInterval, time.Second)
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger.GetSink() == nil {
		o.Logger = logr.Discard()
	}
}
