package fargate_test

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
	"github.com/go-logr/logr"
	"github.com/go-logr/logr/testr"

	"github.com/kdp-io/streamprocessor-operator/internal/awsconfig"
	"github.com/kdp-io/streamprocessor-operator/internal/devstack"
	"github.com/kdp-io/streamprocessor-operator/internal/devstack/fargate"
	"github.com/kdp-io/streamprocessor-operator/internal/testenv"
)

// taskServer is the test workload binary, built once by TestMain.
var taskServer string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "fargate-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	taskServer = filepath.Join(dir, "taskserver")
	out, err := exec.Command("go", "build", "-o", taskServer, "./testdata/taskserver").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build taskserver: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

const (
	elbEndpoint = "AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2"
	iamEndpoint = "AWS_ENDPOINT_URL_IAM"
	// serverImage is the image prefix the tests map to the task server.
	serverImage = "local/taskserver"
)

var (
	accountOnce sync.Once
	account     devstack.Account
	accountErr  error
)

// stack is a supervisor on its own cluster of a shared emulated account,
// with its proxy, and an ECS client that goes through the proxy as the
// operator's does.
type stack struct {
	t       *testing.T
	cfg     aws.Config
	account devstack.Account
	cluster string
	sup     *fargate.Supervisor
	ecs     *ecs.Client // through the proxy
	logDir  string
	taskEnv map[string]string
}

// newStack starts a supervisor with opts (ECS, Clusters, Runners, TaskEnv
// and LogDir are filled in when empty) and stops it when t ends.
func newStack(t *testing.T, opts fargate.Options) *stack {
	t.Helper()
	testenv.Require(t, testenv.ECS, testenv.EC2, testenv.CloudWatch, elbEndpoint, iamEndpoint)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg, err := awsconfig.Load(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	accountOnce.Do(func() { account, accountErr = devstack.PrepareAccount(ctx, cfg, testenv.UniqueName("fargate")) })
	if accountErr != nil {
		t.Fatal(accountErr)
	}
	direct := ecs.NewFromConfig(cfg)
	cluster := testenv.UniqueName("fg")
	if _, err := direct.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String(cluster)}); err != nil {
		t.Fatalf("create cluster: %v", err)
	}
	s := &stack{t: t, cfg: cfg, account: account, cluster: cluster, logDir: t.TempDir()}
	s.taskEnv = map[string]string{
		"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": cfg.Region,
		"AWS_ENDPOINT_URL_KINESIS": "http://127.0.0.1:4568",
	}
	if opts.ECS == nil {
		opts.ECS = direct
	}
	opts.Clusters = append(opts.Clusters, cluster)
	if opts.Runners == nil {
		opts.Runners = []fargate.Runner{{ImagePrefix: serverImage, Binary: taskServer, HealthPath: "/healthcheck"}}
	}
	if opts.TaskEnv == nil {
		opts.TaskEnv = s.taskEnv
	}
	if opts.LogDir == "" {
		opts.LogDir = s.logDir
	}
	s.logDir = opts.LogDir
	if opts.PollInterval == 0 {
		opts.PollInterval = 200 * time.Millisecond
	}
	if opts.StartDelay == 0 {
		opts.StartDelay = 50 * time.Millisecond
	}
	if opts.HealthInterval == 0 {
		opts.HealthInterval = 50 * time.Millisecond
	}
	if opts.RestartBackoff == 0 {
		opts.RestartBackoff = 100 * time.Millisecond
	}
	if opts.Logger == (logr.Logger{}) {
		opts.Logger = testr.New(t)
	}
	if s.sup, err = fargate.New(opts); err != nil {
		t.Fatal(err)
	}
	proxy, err := fargate.NewProxy(os.Getenv(testenv.ECS), s.sup)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(proxy)
	s.ecs = ecs.NewFromConfig(cfg, func(o *ecs.Options) { o.BaseEndpoint = aws.String(srv.URL) })

	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := s.sup.Run(runCtx); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	t.Cleanup(func() {
		stop()
		<-done
		srv.Close()
		for _, tv := range s.sup.Tasks() {
			if tv.LastStatus != fargate.StatusStopped {
				t.Errorf("task %s is %s after Run returned", tv.ID, tv.LastStatus)
			}
		}
		if t.Failed() {
			for _, tv := range s.sup.Tasks() {
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

// taskDef registers a task definition through the proxy, shaped as the
// operator's (controllers/taskdef.go), and returns its ARN.
func (s *stack) taskDef(family, container, image string, env map[string]string, stopTimeout int32) string {
	s.t.Helper()
	var kv []etypes.KeyValuePair
	for k, v := range env {
		kv = append(kv, etypes.KeyValuePair{Name: aws.String(k), Value: aws.String(v)})
	}
	out, err := s.ecs.RegisterTaskDefinition(context.Background(), &ecs.RegisterTaskDefinitionInput{
		Family:                  aws.String(family),
		RequiresCompatibilities: []etypes.Compatibility{etypes.CompatibilityFargate},
		NetworkMode:             etypes.NetworkModeAwsvpc,
		Cpu:                     aws.String("1024"),
		Memory:                  aws.String("2048"),
		ContainerDefinitions: []etypes.ContainerDefinition{{
			Name: aws.String(container), Image: aws.String(image), Essential: aws.Bool(true),
			Environment: kv, StopTimeout: aws.Int32(stopTimeout),
			PortMappings: []etypes.PortMapping{{ContainerPort: aws.Int32(8080), Protocol: etypes.TransportProtocolTcp}},
		}},
	})
	if err != nil {
		s.t.Fatalf("register task definition %s: %v", family, err)
	}
	return aws.ToString(out.TaskDefinition.TaskDefinitionArn)
}

// service creates a Fargate service through the proxy, as the operator does
// (controllers/services.go).
func (s *stack) service(name, taskDef string, desired int32, lbs ...etypes.LoadBalancer) {
	s.t.Helper()
	in := &ecs.CreateServiceInput{
		Cluster: aws.String(s.cluster), ServiceName: aws.String(name), TaskDefinition: aws.String(taskDef),
		DesiredCount: aws.Int32(desired), LaunchType: etypes.LaunchTypeFargate,
		NetworkConfiguration: &etypes.NetworkConfiguration{AwsvpcConfiguration: &etypes.AwsVpcConfiguration{
			Subnets: s.account.SubnetIDs, SecurityGroups: s.account.SecurityGroupIDs, AssignPublicIp: etypes.AssignPublicIpDisabled,
		}},
		LoadBalancers: lbs,
		DeploymentConfiguration: &etypes.DeploymentConfiguration{
			MinimumHealthyPercent: aws.Int32(100), MaximumPercent: aws.Int32(200),
		},
	}
	if len(lbs) > 0 {
		in.HealthCheckGracePeriodSeconds = aws.Int32(60)
	}
	if _, err := s.ecs.CreateService(context.Background(), in); err != nil {
		s.t.Fatalf("create service %s: %v", name, err)
	}
}

func (s *stack) update(in *ecs.UpdateServiceInput) {
	s.t.Helper()
	in.Cluster = aws.String(s.cluster)
	if _, err := s.ecs.UpdateService(context.Background(), in); err != nil {
		s.t.Fatalf("update service %s: %v", aws.ToString(in.Service), err)
	}
}

// describe returns the service as the proxy reports it.
func (s *stack) describe(name string) etypes.Service {
	s.t.Helper()
	out, err := s.ecs.DescribeServices(context.Background(), &ecs.DescribeServicesInput{Cluster: aws.String(s.cluster), Services: []string{name}})
	if err != nil {
		s.t.Fatalf("describe service %s: %v", name, err)
	}
	if len(out.Services) != 1 {
		s.t.Fatalf("describe service %s: %d services", name, len(out.Services))
	}
	return out.Services[0]
}

// tasks returns the service's tasks with desiredStatus (RUNNING or STOPPED)
// as ListTasks and DescribeTasks through the proxy report them.
func (s *stack) tasks(name string, desired etypes.DesiredStatus) []etypes.Task {
	s.t.Helper()
	ctx := context.Background()
	list, err := s.ecs.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String(s.cluster), ServiceName: aws.String(name), DesiredStatus: desired})
	if err != nil {
		s.t.Fatalf("list tasks of %s: %v", name, err)
	}
	if len(list.TaskArns) == 0 {
		return nil
	}
	out, err := s.ecs.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String(s.cluster), Tasks: list.TaskArns})
	if err != nil {
		s.t.Fatalf("describe tasks of %s: %v", name, err)
	}
	if len(out.Failures) > 0 {
		s.t.Fatalf("describe tasks of %s: failures %+v", name, out.Failures)
	}
	return out.Tasks
}

// eventually retries cond every 100 ms until it returns "" or timeout
// passes; then it fails t with cond's last answer.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() string) {
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

func httpGet(url string) (int, string, error) {
	hc := &http.Client{Timeout: 3 * time.Second}
	resp, err := hc.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}
