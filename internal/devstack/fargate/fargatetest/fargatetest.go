// Package fargatetest starts local Fargate for the integration tests of
// packages fargate and alb: a Supervisor on a cluster of its own in an
// emulated account (moto), its Proxy, an ECS client that goes through the
// proxy as the operator's does, and the test workload binary (taskserver:
// see ../testdata/taskserver).
package fargatetest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	etypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/go-logr/logr"
	"github.com/go-logr/logr/testr"

	"github.com/kdp-io/streamprocessor-operator/internal/awsconfig"
	"github.com/kdp-io/streamprocessor-operator/internal/devstack"
	"github.com/kdp-io/streamprocessor-operator/internal/devstack/ecstask"
	"github.com/kdp-io/streamprocessor-operator/internal/devstack/fargate"
	"github.com/kdp-io/streamprocessor-operator/internal/testenv"
)

// ServerImage is the image prefix Start maps to the task server by default.
const ServerImage = "local/taskserver"

// Endpoint variables PrepareAccount needs besides testenv's.
const (
	ELBEndpoint = "AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2"
	IAMEndpoint = "AWS_ENDPOINT_URL_IAM"
)

// BuildTaskServer builds the task server into dir and returns its path. Call
// it from a TestMain: it runs `go build`, so the working directory must be
// inside the module.
func BuildTaskServer(dir string) (string, error) {
	bin := filepath.Join(dir, "taskserver")
	out, err := exec.Command("go", "build", "-o", bin,
		"github.com/kdp-io/streamprocessor-operator/internal/devstack/fargate/testdata/taskserver").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("build taskserver: %w\n%s", err, out)
	}
	return bin, nil
}

// Main is the body of a TestMain: it builds the task server into a
// temporary directory, stores its path in *taskServer, runs the tests and
// exits with their code.
func Main(m *testing.M, taskServer *string) {
	dir, err := os.MkdirTemp("", "taskserver-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if *taskServer, err = BuildTaskServer(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		_ = os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

var (
	accountOnce sync.Once
	account     devstack.Account
	accountErr  error
)

// Stack is a running supervisor on its own cluster.
type Stack struct {
	T       *testing.T
	AWS     aws.Config
	Account devstack.Account
	Cluster string
	Sup     *fargate.Supervisor
	// ECS goes through the proxy; ProxyURL is the proxy's address.
	ECS      *ecs.Client
	ProxyURL string
	LogDir   string
	// TaskEnv is what tasks get besides their container's environment.
	TaskEnv map[string]string
}

// Start prepares (once per test binary) an emulated account, creates a
// cluster for t, and runs a supervisor with opts on it until t ends; then it
// checks that every task has stopped. Empty ECS, Runners (taskserver for
// ServerImage), TaskEnv, LogDir, Logger and timings are filled in, with
// short timings. It skips t (fails it under SP_REQUIRE_EMULATORS=1) without
// the emulators.
func Start(t *testing.T, taskServer string, opts fargate.Options) *Stack {
	t.Helper()
	testenv.Require(t, testenv.ECS, testenv.EC2, testenv.CloudWatch, ELBEndpoint, IAMEndpoint)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg, err := awsconfig.Load(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	accountOnce.Do(func() {
		name := testenv.UniqueName("fargate")
		// PrepareAccount is idempotent; a retry heals a create that moto
		// did but whose answer was lost to a client retry under load
		// (seen: DuplicateTargetGroupName from the retried call).
		for range 3 {
			if account, accountErr = devstack.PrepareAccount(ctx, cfg, name); accountErr == nil {
				break
			}
		}
	})
	if accountErr != nil {
		t.Fatal(accountErr)
	}
	direct := ecs.NewFromConfig(cfg)
	cluster := testenv.UniqueName("fg")
	if _, err := direct.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String(cluster)}); err != nil {
		t.Fatalf("create cluster: %v", err)
	}
	s := &Stack{T: t, AWS: cfg, Account: account, Cluster: cluster}
	if opts.ECS == nil {
		opts.ECS = direct
	}
	opts.Clusters = append(opts.Clusters, cluster)
	if opts.Runners == nil {
		opts.Runners = []fargate.Runner{{ImagePrefix: ServerImage, Binary: taskServer, HealthPath: "/healthcheck"}}
	}
	if opts.Secrets == nil {
		opts.Secrets = &ecstask.SecretResolver{SecretsManager: secretsmanager.NewFromConfig(cfg), SSM: ssm.NewFromConfig(cfg)}
	}
	if opts.TaskEnv == nil {
		opts.TaskEnv = map[string]string{
			"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": cfg.Region,
			"AWS_ENDPOINT_URL_KINESIS": "http://127.0.0.1:4568",
		}
	}
	s.TaskEnv = opts.TaskEnv
	if opts.LogDir == "" {
		opts.LogDir = t.TempDir()
	}
	s.LogDir = opts.LogDir
	short := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	short(&opts.PollInterval, 200*time.Millisecond)
	short(&opts.StartDelay, 50*time.Millisecond)
	short(&opts.HealthInterval, 50*time.Millisecond)
	short(&opts.RestartBackoff, 100*time.Millisecond)
	if opts.Logger == (logr.Logger{}) {
		opts.Logger = testr.New(t)
	}
	if s.Sup, err = fargate.New(opts); err != nil {
		t.Fatal(err)
	}
	proxy, err := fargate.NewProxy(os.Getenv(testenv.ECS), s.Sup)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(proxy)
	s.ProxyURL = srv.URL
	s.ECS = ecs.NewFromConfig(cfg, func(o *ecs.Options) { o.BaseEndpoint = aws.String(srv.URL) })

	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := s.Sup.Run(runCtx); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	t.Cleanup(func() {
		stop()
		<-done
		srv.Close()
		for _, tv := range s.Sup.Tasks() {
			if tv.LastStatus != fargate.StatusStopped {
				t.Errorf("task %s is %s after Run returned", tv.ID, tv.LastStatus)
			}
		}
		if t.Failed() {
			for _, tv := range s.Sup.Tasks() {
				b, _ := os.ReadFile(tv.LogPath)
				t.Logf("task %s (%s, %s): log:\n%s", tv.ID, tv.Service, tv.LastStatus, tail(string(b), 15))
			}
		}
	})
	return s
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// TaskDef registers, through the proxy, a task definition shaped as the
// operator's (controllers/taskdef.go): one essential container with port
// 8080, 1 vCPU, 2 GiB. It returns its ARN.
func (s *Stack) TaskDef(family, container, image string, env map[string]string, stopTimeout int32) string {
	s.T.Helper()
	return s.TaskDefWithSecrets(family, container, image, env, nil, stopTimeout)
}

// TaskDefWithSecrets is TaskDef with container secrets: variable name →
// valueFrom (a Secrets Manager or SSM ARN, or a parameter name).
func (s *Stack) TaskDefWithSecrets(family, container, image string, env, secrets map[string]string, stopTimeout int32) string {
	s.T.Helper()
	var sec []etypes.Secret
	for k, v := range secrets {
		sec = append(sec, etypes.Secret{Name: aws.String(k), ValueFrom: aws.String(v)})
	}
	var kv []etypes.KeyValuePair
	for k, v := range env {
		kv = append(kv, etypes.KeyValuePair{Name: aws.String(k), Value: aws.String(v)})
	}
	out, err := s.ECS.RegisterTaskDefinition(context.Background(), &ecs.RegisterTaskDefinitionInput{
		Family:                  aws.String(family),
		RequiresCompatibilities: []etypes.Compatibility{etypes.CompatibilityFargate},
		NetworkMode:             etypes.NetworkModeAwsvpc,
		Cpu:                     aws.String("1024"),
		Memory:                  aws.String("2048"),
		ContainerDefinitions: []etypes.ContainerDefinition{{
			Name: aws.String(container), Image: aws.String(image), Essential: aws.Bool(true),
			Environment: kv, Secrets: sec, StopTimeout: aws.Int32(stopTimeout),
			PortMappings: []etypes.PortMapping{{ContainerPort: aws.Int32(8080), Protocol: etypes.TransportProtocolTcp}},
		}},
	})
	if err != nil {
		s.T.Fatalf("register task definition %s: %v", family, err)
	}
	return aws.ToString(out.TaskDefinition.TaskDefinitionArn)
}

// Service creates a Fargate service through the proxy, as the operator does
// (controllers/services.go).
func (s *Stack) Service(name, taskDef string, desired int32, lbs ...etypes.LoadBalancer) {
	s.T.Helper()
	in := &ecs.CreateServiceInput{
		Cluster: aws.String(s.Cluster), ServiceName: aws.String(name), TaskDefinition: aws.String(taskDef),
		DesiredCount: aws.Int32(desired), LaunchType: etypes.LaunchTypeFargate,
		NetworkConfiguration: &etypes.NetworkConfiguration{AwsvpcConfiguration: &etypes.AwsVpcConfiguration{
			Subnets: s.Account.SubnetIDs, SecurityGroups: s.Account.SecurityGroupIDs, AssignPublicIp: etypes.AssignPublicIpDisabled,
		}},
		LoadBalancers: lbs,
		DeploymentConfiguration: &etypes.DeploymentConfiguration{
			MinimumHealthyPercent: aws.Int32(100), MaximumPercent: aws.Int32(200),
		},
	}
	if len(lbs) > 0 {
		in.HealthCheckGracePeriodSeconds = aws.Int32(60)
	}
	if _, err := s.ECS.CreateService(context.Background(), in); err != nil {
		s.T.Fatalf("create service %s: %v", name, err)
	}
}

// Update calls UpdateService through the proxy on the stack's cluster.
func (s *Stack) Update(in *ecs.UpdateServiceInput) {
	s.T.Helper()
	in.Cluster = aws.String(s.Cluster)
	if _, err := s.ECS.UpdateService(context.Background(), in); err != nil {
		s.T.Fatalf("update service %s: %v", aws.ToString(in.Service), err)
	}
}

// Describe returns the service as the proxy reports it.
func (s *Stack) Describe(name string) etypes.Service {
	s.T.Helper()
	out, err := s.ECS.DescribeServices(context.Background(), &ecs.DescribeServicesInput{Cluster: aws.String(s.Cluster), Services: []string{name}})
	if err != nil {
		s.T.Fatalf("describe service %s: %v", name, err)
	}
	if len(out.Services) != 1 {
		s.T.Fatalf("describe service %s: %d services", name, len(out.Services))
	}
	return out.Services[0]
}

// Tasks returns the service's tasks with desired status (RUNNING or
// STOPPED) as ListTasks and DescribeTasks through the proxy report them.
func (s *Stack) Tasks(name string, desired etypes.DesiredStatus) []etypes.Task {
	s.T.Helper()
	ctx := context.Background()
	list, err := s.ECS.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String(s.Cluster), ServiceName: aws.String(name), DesiredStatus: desired})
	if err != nil {
		s.T.Fatalf("list tasks of %s: %v", name, err)
	}
	if len(list.TaskArns) == 0 {
		return nil
	}
	out, err := s.ECS.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String(s.Cluster), Tasks: list.TaskArns})
	if err != nil {
		s.T.Fatalf("describe tasks of %s: %v", name, err)
	}
	if len(out.Failures) > 0 {
		s.T.Fatalf("describe tasks of %s: failures %+v", name, out.Failures)
	}
	return out.Tasks
}

// Live returns the supervisor's tasks of service that are not STOPPED.
func (s *Stack) Live(service string) []fargate.TaskView {
	var out []fargate.TaskView
	for _, t := range s.Sup.Tasks() {
		if t.Service == service && t.LastStatus != fargate.StatusStopped {
			out = append(out, t)
		}
	}
	return out
}

// Counts formats a service's counts for a failure message.
func Counts(svc etypes.Service) string {
	return fmt.Sprintf("running %d pending %d desired %d", svc.RunningCount, svc.PendingCount, svc.DesiredCount)
}

// WaitRunning waits until the proxy reports want running tasks of service and
// none pending, and returns the RUNNING tasks.
func (s *Stack) WaitRunning(service string, want int32) []etypes.Task {
	s.T.Helper()
	var tasks []etypes.Task
	Eventually(s.T, 30*time.Second, fmt.Sprintf("service %s runs %d tasks", service, want), func() string {
		svc := s.Describe(service)
		if svc.RunningCount != want || svc.PendingCount != 0 {
			return Counts(svc)
		}
		tasks = s.Tasks(service, etypes.DesiredStatusRunning)
		if len(tasks) != int(want) {
			return fmt.Sprintf("ListTasks lists %d", len(tasks))
		}
		return ""
	})
	return tasks
}

// Eventually retries cond every 100 ms until it returns "" or timeout
// passes; then it fails t with cond's last answer.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		msg := cond()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %s: %s", what, timeout, msg)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Get returns the status and body of GET url.
func Get(url string) (int, string, error) {
	hc := &http.Client{Timeout: 3 * time.Second}
	resp, err := hc.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}
