package alb_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	etypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/go-logr/logr/testr"

	"github.com/kdp-io/streamprocessor-operator/internal/devstack/alb"
	"github.com/kdp-io/streamprocessor-operator/internal/devstack/fargate"
	"github.com/kdp-io/streamprocessor-operator/internal/devstack/fargate/fargatetest"
	"github.com/kdp-io/streamprocessor-operator/internal/testenv"
)

// setup runs a balancer (on a free port, fast health checks) in front of a
// local Fargate stack, and creates a target group of the stack's account for
// the test.
type setup struct {
	*fargatetest.Stack
	alb *alb.ALB
	elb *elb.Client
	tg  string
}

func start(t *testing.T, opts fargate.Options) *setup {
	t.Helper()
	testenv.Require(t, testenv.ECS, fargatetest.ELBEndpoint)
	var su setup
	// Registered before the stack's own cleanup, so it runs after the
	// supervisor has stopped every task.
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("ALB Run: %v", err)
		}
	})
	var err error
	su.alb, err = alb.New(alb.Options{
		Addr: "127.0.0.1:0", HealthInterval: 200 * time.Millisecond, HealthTimeout: time.Second,
		Logger: testr.New(t), ELB: lazyELB{&su},
	})
	if err != nil {
		t.Fatal(err)
	}
	go func() { done <- su.alb.Run(ctx) }()
	opts.Balancer = su.alb
	su.Stack = fargatetest.Start(t, taskServer, opts)
	su.elb = elb.NewFromConfig(su.AWS)
	su.tg = su.targetGroup(t)
	return &su
}

// targetGroup creates a target group in the account's VPC, health-checked
// on /healthz.
func (su *setup) targetGroup(t *testing.T) string {
	t.Helper()
	out, err := su.elb.CreateTargetGroup(context.Background(), &elb.CreateTargetGroupInput{
		Name: aws.String(testenv.UniqueName("tg")), TargetType: elbtypes.TargetTypeEnumIp,
		Protocol: elbtypes.ProtocolEnumHttp, Port: aws.Int32(8080), VpcId: aws.String(su.Account.VPCID),
		HealthCheckProtocol: elbtypes.ProtocolEnumHttp, HealthCheckPath: aws.String("/healthz"),
	})
	if err != nil {
		t.Fatalf("create target group: %v", err)
	}
	return aws.ToString(out.TargetGroups[0].TargetGroupArn)
}

// lazyELB lets the ALB be made before the stack's AWS config exists.
type lazyELB struct{ su *setup }

func (l lazyELB) DescribeTargetGroups(ctx context.Context, in *elb.DescribeTargetGroupsInput, o ...func(*elb.Options)) (*elb.DescribeTargetGroupsOutput, error) {
	return l.su.elb.DescribeTargetGroups(ctx, in, o...)
}

func (l lazyELB) RegisterTargets(ctx context.Context, in *elb.RegisterTargetsInput, o ...func(*elb.Options)) (*elb.RegisterTargetsOutput, error) {
	return l.su.elb.RegisterTargets(ctx, in, o...)
}

func (l lazyELB) DeregisterTargets(ctx context.Context, in *elb.DeregisterTargetsInput, o ...func(*elb.Options)) (*elb.DeregisterTargetsOutput, error) {
	return l.su.elb.DeregisterTargets(ctx, in, o...)
}

func (su *setup) binding(container string) etypes.LoadBalancer {
	return etypes.LoadBalancer{TargetGroupArn: aws.String(su.tg), ContainerName: aws.String(container), ContainerPort: aws.Int32(8080)}
}

// listener returns the URL of the target group's listener, once it is open.
func (su *setup) listener(t *testing.T, service string) string {
	t.Helper()
	var url string
	fargatetest.Eventually(t, 10*time.Second, "listener for the target group", func() string {
		l, ok := su.alb.Listener(su.tg)
		if !ok {
			return fmt.Sprintf("listeners %v", su.alb.Listeners())
		}
		if l.Service != service || l.Cluster != su.Cluster || su.alb.Listeners()[su.tg] != l.URL {
			t.Fatalf("listener %+v, want one owned by %s/%s; all: %v", l, su.Cluster, service, su.alb.Listeners())
		}
		url = l.URL
		return ""
	})
	// The first target group gets the listener open since New.
	if url != su.alb.URL() {
		t.Errorf("the first target group's listener is %s, want the one on Addr, %s", url, su.alb.URL())
	}
	return url
}

// healthy waits until the target group has exactly the tasks ids, all
// healthy.
func (su *setup) healthy(t *testing.T, ids []string) {
	t.Helper()
	fargatetest.Eventually(t, 10*time.Second, "targets healthy", func() string {
		var got []string
		for _, ts := range su.alb.Targets(su.tg) {
			if ts.Health == alb.HealthHealthy {
				got = append(got, ts.TaskID)
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, ids) {
			return fmt.Sprintf("targets %+v, want %v healthy", su.alb.Targets(su.tg), ids)
		}
		return ""
	})
}

// registered returns address:port of each target moto lists.
func (su *setup) registered(t *testing.T) []string {
	t.Helper()
	out, err := su.elb.DescribeTargetHealth(context.Background(), &elb.DescribeTargetHealthInput{TargetGroupArn: aws.String(su.tg)})
	if err != nil {
		t.Fatalf("DescribeTargetHealth: %v", err)
	}
	var got []string
	for _, d := range out.TargetHealthDescriptions {
		got = append(got, fmt.Sprintf("%s:%d", aws.ToString(d.Target.Id), aws.ToInt32(d.Target.Port)))
	}
	slices.Sort(got)
	return got
}

func ids(views []fargate.TaskView) []string {
	var out []string
	for _, v := range views {
		out = append(out, v.ID)
	}
	slices.Sort(out)
	return out
}

func addrs(views []fargate.TaskView) []string {
	var out []string
	for _, v := range views {
		out = append(out, fmt.Sprintf("%s:%d", v.Address, v.Port))
	}
	slices.Sort(out)
	return out
}

func TestListenerBalancesOverHealthyTasksAndDropsAKilledOne(t *testing.T) {
	su := start(t, fargate.Options{RestartBackoff: 5 * time.Second})
	su.Service("web", su.TaskDef("web", "producer", fargatetest.ServerImage+":1", nil, 5), 2, su.binding("producer"))
	su.WaitRunning("web", 2)
	url := su.listener(t, "web")
	live := su.Live("web")
	su.healthy(t, ids(live))

	seen := map[string]int{}
	for range 10 {
		code, body, err := fargatetest.Get(url + "/whoami")
		if err != nil || code != 200 {
			t.Fatalf("GET %s/whoami: %d %v", url, code, err)
		}
		seen[body]++
	}
	if len(seen) != 2 || seen[live[0].ID] != 5 || seen[live[1].ID] != 5 {
		t.Errorf("10 requests reached %v, want 5 each on %v (round robin)", seen, ids(live))
	}
	if got, want := su.registered(t), addrs(live); !slices.Equal(got, want) {
		t.Errorf("moto lists targets %v, want %v", got, want)
	}

	victim := live[0]
	if err := syscall.Kill(victim.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	fargatetest.Eventually(t, 10*time.Second, "killed task out of rotation", func() string {
		for _, ts := range su.alb.Targets(su.tg) {
			if ts.TaskID == victim.ID {
				return "still a target: " + ts.Health
			}
		}
		return ""
	})
	for range 6 {
		code, body, err := fargatetest.Get(url + "/whoami")
		if err != nil || code != 200 || body != live[1].ID {
			t.Errorf("GET /whoami after the kill: %d %q %v, want 200 from %s", code, body, err, live[1].ID)
		}
	}
	if got := su.registered(t); slices.Contains(got, addrs(live[:1])[0]) {
		t.Errorf("moto still lists the killed task's target: %v", got)
	}
}

func TestNoHealthyTargetAnswers503(t *testing.T) {
	su := start(t, fargate.Options{})
	if code, body, err := fargatetest.Get(su.alb.URL() + "/"); err != nil || code != 503 || !strings.Contains(body, "no ECS service") {
		t.Errorf("GET before any service: %d %q %v; want 503 saying no service uses the listener", code, body, err)
	}
	su.Service("empty", su.TaskDef("empty", "producer", fargatetest.ServerImage+":1", nil, 5), 0, su.binding("producer"))
	url := su.listener(t, "empty")
	code, body, err := fargatetest.Get(url + "/")
	if err != nil || code != 503 || !strings.Contains(body, "no healthy target") || !strings.Contains(body, su.tg) {
		t.Errorf("GET with no task: %d %q %v; want 503 naming the target group", code, body, err)
	}
}

func TestScaleInDrainsInFlightRequestsBeforeSIGTERM(t *testing.T) {
	su := start(t, fargate.Options{})
	su.Service("drain", su.TaskDef("drain", "producer", fargatetest.ServerImage+":1", nil, 5), 1, su.binding("producer"))
	su.WaitRunning("drain", 1)
	url := su.listener(t, "drain")
	live := su.Live("drain")
	su.healthy(t, ids(live))

	// A slow request is in flight when the scale-in begins; the task's
	// process exits at once on SIGTERM, so it completes only if the drain
	// waited for it.
	var wg sync.WaitGroup
	var code int
	var body string
	var err error
	wg.Go(func() { code, body, err = fargatetest.Get(url + "/sleep?d=1500ms") })
	fargatetest.Eventually(t, 5*time.Second, "request in flight", func() string {
		if ts := su.alb.Targets(su.tg); len(ts) != 1 || ts[0].InFlight != 1 {
			return fmt.Sprintf("targets %+v", ts)
		}
		return ""
	})
	su.Update(&ecs.UpdateServiceInput{Service: aws.String("drain"), DesiredCount: aws.Int32(0)})
	fargatetest.Eventually(t, 10*time.Second, "target out of rotation", func() string {
		ts := su.alb.Targets(su.tg)
		if len(ts) == 0 || ts[0].Health == alb.HealthDraining {
			return ""
		}
		return fmt.Sprintf("targets %+v", ts)
	})
	if c, b, e := fargatetest.Get(url + "/whoami"); e != nil || c != 503 {
		t.Errorf("new request while the only target drains: %d %q %v, want 503", c, b, e)
	}
	wg.Wait()
	if err != nil || code != 200 || body != live[0].ID {
		t.Errorf("in-flight request across the scale-in: %d %q %v, want 200 from %s", code, body, err, live[0].ID)
	}
	fargatetest.Eventually(t, 10*time.Second, "task stopped after SIGTERM", func() string {
		if n := len(su.Live("drain")); n > 0 {
			return fmt.Sprintf("%d live", n)
		}
		if b, _ := os.ReadFile(live[0].LogPath); !strings.Contains(string(b), "SIGTERM received") {
			return "no SIGTERM in the log"
		}
		return ""
	})
	if got := su.registered(t); len(got) != 0 {
		t.Errorf("moto lists targets %v after the scale-in, want none", got)
	}
}

func TestEachTargetGroupGetsItsOwnListener(t *testing.T) {
	su := start(t, fargate.Options{})
	other := su.targetGroup(t)
	su.Service("first", su.TaskDef("first", "producer", fargatetest.ServerImage+":1", nil, 5), 1, su.binding("producer"))
	su.WaitRunning("first", 1)
	firstURL := su.listener(t, "first")
	su.Service("second", su.TaskDef("second", "producer", fargatetest.ServerImage+":1", nil, 5), 1,
		etypes.LoadBalancer{TargetGroupArn: aws.String(other), ContainerName: aws.String("producer"), ContainerPort: aws.Int32(8080)})
	su.WaitRunning("second", 1)
	var secondURL string
	fargatetest.Eventually(t, 10*time.Second, "second listener", func() string {
		l, ok := su.alb.Listener(other)
		if !ok {
			return fmt.Sprintf("listeners %v", su.alb.Listeners())
		}
		if l.Service != "second" {
			t.Fatalf("listener of the second target group: %+v", l)
		}
		secondURL = l.URL
		return ""
	})
	if secondURL == firstURL {
		t.Fatalf("both target groups on %s", firstURL)
	}
	for url, svc := range map[string]string{firstURL: "first", secondURL: "second"} {
		want := su.Live(svc)[0].ID
		fargatetest.Eventually(t, 10*time.Second, "listener "+url+" answers from "+svc, func() string {
			code, body, err := fargatetest.Get(url + "/whoami")
			if err != nil || code != 200 || body != want {
				return fmt.Sprintf("%d %q %v, want 200 from task %s", code, body, err, want)
			}
			return ""
		})
	}
}
