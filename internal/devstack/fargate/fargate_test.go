package fargate_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	etypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/kdp-io/streamprocessor-operator/internal/awsconfig"
	"github.com/kdp-io/streamprocessor-operator/internal/devstack/fargate"
	"github.com/kdp-io/streamprocessor-operator/internal/devstack/fargate/fargatetest"
	"github.com/kdp-io/streamprocessor-operator/internal/testenv"
)

func taskID(arn string) string { return arn[strings.LastIndex(arn, "/")+1:] }

func TestServiceRunsDesiredTasksWithExactEnvironment(t *testing.T) {
	s := fargatetest.Start(t, taskServer, fargate.Options{})
	env := map[string]string{"STREAM_NAME": "orders", "AWS_REGION": "eu-west-1", "PORT": "8080", "EXTRA": "x=y"}
	td := s.TaskDef("envsvc", "producer", fargatetest.ServerImage+":1", env, 5)
	s.Service("envsvc", td, 2)

	tasks := s.WaitRunning("envsvc", 2)
	for _, task := range tasks {
		if aws.ToString(task.Group) != "service:envsvc" || aws.ToString(task.TaskDefinitionArn) != td || aws.ToString(task.LastStatus) != "RUNNING" {
			t.Errorf("task %s: group %q, task definition %q, lastStatus %q", aws.ToString(task.TaskArn),
				aws.ToString(task.Group), aws.ToString(task.TaskDefinitionArn), aws.ToString(task.LastStatus))
		}
		if task.StartedAt == nil {
			t.Errorf("task %s: RUNNING without startedAt", aws.ToString(task.TaskArn))
		}
	}
	live := s.Live("envsvc")
	if len(live) != 2 {
		t.Fatalf("%d live tasks, want 2", len(live))
	}
	for _, tv := range live {
		if err := syscall.Kill(tv.PID, 0); err != nil {
			t.Errorf("task %s: process %d not alive: %v", tv.ID, tv.PID, err)
		}
		if want := filepath.Join(s.LogDir, "envsvc", tv.ID+".log"); tv.LogPath != want {
			t.Errorf("task %s logs to %s, want %s", tv.ID, tv.LogPath, want)
		}
		code, body, err := fargatetest.Get("http://" + net.JoinHostPort(tv.Address, strconv.Itoa(tv.Port)) + "/env")
		if err != nil || code != 200 {
			t.Fatalf("GET /env of task %s: %d %v", tv.ID, code, err)
		}
		got := map[string]string{}
		for line := range strings.SplitSeq(body, "\n") {
			k, v, _ := strings.Cut(line, "=")
			got[k] = v
		}
		want := maps.Clone(s.TaskEnv)
		maps.Copy(want, env) // the task definition wins (AWS_REGION)
		want["PORT"] = strconv.Itoa(tv.Port)
		want["WORKER_ID"] = tv.ID
		if !maps.Equal(got, want) {
			t.Errorf("task %s environment:\n got %v\nwant %v", tv.ID, got, want)
		}
	}
	if live[0].Address == live[1].Address && live[0].Port == live[1].Port {
		t.Errorf("both tasks listen on %s:%d", live[0].Address, live[0].Port)
	}
}

func TestConsumerStyleTaskGetsHTTPAddrAndExtraEnv(t *testing.T) {
	outDir := t.TempDir()
	s := fargatetest.Start(t, taskServer, fargate.Options{Runners: []fargate.Runner{{
		ContainerName: "consumer", Binary: taskServer, HealthPath: "/healthz", Port: fargate.HTTPAddrEnv,
		ExtraEnv: func(ti fargate.TaskInfo) map[string]string {
			return map[string]string{"OUTPUT": filepath.Join(outDir, ti.TaskID+".jsonl")}
		},
	}}})
	env := map[string]string{"STREAM_NAME": "orders", "APPLICATION_NAME": "app"}
	s.Service("conssvc", s.TaskDef("conssvc", "consumer", "123456789012.dkr.ecr.us-east-1.amazonaws.com/consumer:7", env, 5), 1)
	s.WaitRunning("conssvc", 1)
	tv := s.Live("conssvc")[0]
	addr := net.JoinHostPort(tv.Address, strconv.Itoa(tv.Port))
	_, body, err := fargatetest.Get("http://" + addr + "/env")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for line := range strings.SplitSeq(body, "\n") {
		k, v, _ := strings.Cut(line, "=")
		got[k] = v
	}
	want := maps.Clone(s.TaskEnv)
	maps.Copy(want, env)
	want["HTTP_ADDR"], want["WORKER_ID"], want["OUTPUT"] = addr, tv.ID, filepath.Join(outDir, tv.ID+".jsonl")
	if !maps.Equal(got, want) {
		t.Errorf("consumer task environment:\n got %v\nwant %v", got, want)
	}
}

func TestCreateAndUpdateServiceAnswersCarryLiveCounts(t *testing.T) {
	s := fargatetest.Start(t, taskServer, fargate.Options{StartDelay: time.Second})
	td := s.TaskDef("answersvc", "producer", fargatetest.ServerImage+":1", nil, 5)
	created, err := s.ECS.CreateService(context.Background(), &ecs.CreateServiceInput{
		Cluster: aws.String(s.Cluster), ServiceName: aws.String("answersvc"), TaskDefinition: aws.String(td),
		DesiredCount: aws.Int32(1), LaunchType: etypes.LaunchTypeFargate,
		NetworkConfiguration: &etypes.NetworkConfiguration{AwsvpcConfiguration: &etypes.AwsVpcConfiguration{
			Subnets: s.Account.SubnetIDs, SecurityGroups: s.Account.SecurityGroupIDs,
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	// moto answers pendingCount 1 for a task it never starts.
	if svc := created.Service; svc.RunningCount != 0 || svc.PendingCount != 0 {
		t.Errorf("CreateService answer: %s, want nothing running or pending yet", fargatetest.Counts(*svc))
	}
	s.WaitRunning("answersvc", 1)

	// moto answers runningCount = desiredCount to an UpdateService. The new
	// tasks spend StartDelay (1 s) provisioning, so none can run yet.
	updated, err := s.ECS.UpdateService(context.Background(), &ecs.UpdateServiceInput{
		Cluster: aws.String(s.Cluster), Service: aws.String("answersvc"), DesiredCount: aws.Int32(3),
	})
	if err != nil {
		t.Fatal(err)
	}
	if svc := updated.Service; svc.RunningCount != 1 || svc.DesiredCount != 3 || len(svc.Deployments) != 1 || svc.Deployments[0].DesiredCount != 3 {
		t.Errorf("UpdateService answer: %s, %d deployments; want 1 running of 3 desired in one deployment", fargatetest.Counts(*svc), len(svc.Deployments))
	}
	s.WaitRunning("answersvc", 3)
}

func TestKilledTaskCountsAsStoppedUntilReplacementIsHealthy(t *testing.T) {
	// A backoff long enough to see the gap between the kill and the start
	// of the replacement.
	s := fargatetest.Start(t, taskServer, fargate.Options{RestartBackoff: 5 * time.Second})
	s.Service("killsvc", s.TaskDef("killsvc", "producer", fargatetest.ServerImage+":1", nil, 5), 2)
	before := s.WaitRunning("killsvc", 2)

	victim := s.Live("killsvc")[0]
	if err := syscall.Kill(victim.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	fargatetest.Eventually(t, 10*time.Second, "runningCount drops to 1 after kill -9", func() string {
		if svc := s.Describe("killsvc"); svc.RunningCount != 1 {
			return fargatetest.Counts(svc)
		}
		return ""
	})
	stopped := s.Tasks("killsvc", etypes.DesiredStatusStopped)
	if len(stopped) != 1 || taskID(aws.ToString(stopped[0].TaskArn)) != victim.ID {
		t.Fatalf("STOPPED tasks %v, want the killed %s", stopped, victim.ID)
	}
	if st := stopped[0]; aws.ToString(st.LastStatus) != "STOPPED" || !strings.Contains(aws.ToString(st.StoppedReason), "exited") ||
		aws.ToInt32(st.Containers[0].ExitCode) != 137 {
		t.Errorf("killed task: lastStatus %s, stoppedReason %q, exit code %d; want STOPPED, an exit reason, 137",
			aws.ToString(st.LastStatus), aws.ToString(st.StoppedReason), aws.ToInt32(st.Containers[0].ExitCode))
	}

	after := s.WaitRunning("killsvc", 2)
	old := map[string]bool{}
	for _, task := range before {
		old[aws.ToString(task.TaskArn)] = true
	}
	var fresh []string
	for _, task := range after {
		if !old[aws.ToString(task.TaskArn)] {
			fresh = append(fresh, aws.ToString(task.TaskArn))
		}
		if taskID(aws.ToString(task.TaskArn)) == victim.ID {
			t.Errorf("the killed task %s is listed as running", victim.ID)
		}
	}
	if len(fresh) != 1 {
		t.Errorf("after the kill: new running tasks %v, want exactly one", fresh)
	}
}

func TestCrashLoopIsReplacedWithGrowingBackoff(t *testing.T) {
	const backoff = 200 * time.Millisecond
	s := fargatetest.Start(t, taskServer, fargate.Options{RestartBackoff: backoff})
	s.Service("crashsvc", s.TaskDef("crashsvc", "producer", fargatetest.ServerImage+":1", map[string]string{"EXIT_CODE": "3"}, 5), 1)
	fargatetest.Eventually(t, 30*time.Second, "crash-loop event", func() string {
		for _, e := range s.Describe("crashsvc").Events {
			if strings.Contains(aws.ToString(e.Message), "unable to consistently start tasks successfully") {
				return ""
			}
		}
		return "no event yet"
	})
	if svc := s.Describe("crashsvc"); svc.RunningCount != 0 {
		t.Errorf("crash-looping service: %s, want 0 running", fargatetest.Counts(svc))
	}
	tasks := s.Sup.Tasks()
	if len(tasks) < 3 {
		t.Fatalf("%d tasks made, want at least 3 before the crash-loop event", len(tasks))
	}
	for i, tv := range tasks {
		if tv.LastStatus == fargate.StatusStopped && (tv.ExitCode == nil || *tv.ExitCode != 3 || tv.StopCode != "EssentialContainerExited") {
			t.Errorf("task %d: exit code %v, stop code %q; want 3 and EssentialContainerExited", i, tv.ExitCode, tv.StopCode)
		}
		if i == 0 || tasks[i-1].StoppedAt.IsZero() {
			continue
		}
		// The k-th replacement waits at least backoff·2^(k-1) after the
		// failure before it.
		if gap, least := tv.CreatedAt.Sub(tasks[i-1].StoppedAt), backoff<<(i-1); gap < least {
			t.Errorf("replacement %d started %s after the failure before it, want at least %s", i, gap, least)
		}
	}
}

func TestScaleInSendsSIGTERMThenSIGKILLAfterStopTimeout(t *testing.T) {
	s := fargatetest.Start(t, taskServer, fargate.Options{})
	s.Service("polite", s.TaskDef("polite", "producer", fargatetest.ServerImage+":1", nil, 30), 1)
	s.Service("stubborn", s.TaskDef("stubborn", "producer", fargatetest.ServerImage+":1", map[string]string{"IGNORE_SIGTERM": "1"}, 1), 1)
	s.WaitRunning("polite", 1)
	s.WaitRunning("stubborn", 1)
	polite, stubborn := s.Live("polite")[0], s.Live("stubborn")[0]

	s.Update(&ecs.UpdateServiceInput{Service: aws.String("polite"), DesiredCount: aws.Int32(0)})
	s.Update(&ecs.UpdateServiceInput{Service: aws.String("stubborn"), DesiredCount: aws.Int32(0)})
	for _, name := range []string{"polite", "stubborn"} {
		fargatetest.Eventually(t, 30*time.Second, name+" scaled to 0", func() string {
			if svc := s.Describe(name); svc.RunningCount != 0 || svc.PendingCount != 0 {
				return fargatetest.Counts(svc)
			}
			if n := len(s.Live(name)); n != 0 {
				return fmt.Sprintf("%d live tasks", n)
			}
			return ""
		})
	}
	check := func(tv fargate.TaskView, logLine string, exit int) {
		t.Helper()
		var got fargate.TaskView
		for _, x := range s.Sup.Tasks() {
			if x.ID == tv.ID {
				got = x
			}
		}
		b, _ := os.ReadFile(tv.LogPath)
		if !strings.Contains(string(b), logLine) {
			t.Errorf("task %s (%s): log lacks %q:\n%s", tv.ID, tv.Service, logLine, b)
		}
		if got.ExitCode == nil || *got.ExitCode != exit {
			t.Errorf("task %s (%s): exit code %v, want %d", tv.ID, tv.Service, got.ExitCode, exit)
		}
		if got.StoppingAt.IsZero() || !strings.Contains(got.StoppedReason, "Scaling activity") {
			t.Errorf("task %s (%s): stoppingAt %v, stoppedReason %q", tv.ID, tv.Service, got.StoppingAt, got.StoppedReason)
		}
	}
	check(polite, "SIGTERM received", 0)
	check(stubborn, "SIGTERM ignored", 137)
	stopped := s.Tasks("stubborn", etypes.DesiredStatusStopped)
	if len(stopped) != 1 || !strings.Contains(aws.ToString(stopped[0].Containers[0].Reason), "SIGKILL") {
		t.Errorf("DescribeTasks of the stubborn task: %+v, want a container reason naming SIGKILL", stopped)
	}
}

func TestNewRevisionStartsNewTasksBeforeStoppingOld(t *testing.T) {
	s := fargatetest.Start(t, taskServer, fargate.Options{})
	rev1 := s.TaskDef("rollsvc", "producer", fargatetest.ServerImage+":1", map[string]string{"REV": "1"}, 5)
	s.Service("rollsvc", rev1, 2)
	s.WaitRunning("rollsvc", 2)
	old := s.Live("rollsvc")

	rev2 := s.TaskDef("rollsvc", "producer", fargatetest.ServerImage+":2", map[string]string{"REV": "2"}, 5)
	s.Update(&ecs.UpdateServiceInput{Service: aws.String("rollsvc"), TaskDefinition: aws.String(rev2)})
	sawTwoDeployments := false
	fargatetest.Eventually(t, 30*time.Second, "rollout of revision 2", func() string {
		svc := s.Describe("rollsvc")
		if len(svc.Deployments) > 1 {
			sawTwoDeployments = true
		}
		tasks := s.Tasks("rollsvc", etypes.DesiredStatusRunning)
		n := 0
		for _, task := range tasks {
			if aws.ToString(task.TaskDefinitionArn) == rev2 && aws.ToString(task.LastStatus) == "RUNNING" {
				n++
			}
		}
		if n != 2 || len(tasks) != 2 || svc.RunningCount != 2 || len(svc.Deployments) != 1 {
			return fmt.Sprintf("%d of %d tasks on revision 2, %s, %d deployments", n, len(tasks), fargatetest.Counts(svc), len(svc.Deployments))
		}
		if aws.ToString(svc.Deployments[0].TaskDefinition) != rev2 || svc.Deployments[0].RolloutState != etypes.DeploymentRolloutStateCompleted {
			return fmt.Sprintf("deployment %s %s", aws.ToString(svc.Deployments[0].TaskDefinition), svc.Deployments[0].RolloutState)
		}
		return ""
	})
	if !sawTwoDeployments {
		t.Log("never saw the two deployments during the rollout (it may have been quicker than a poll)")
	}
	fargatetest.Eventually(t, 30*time.Second, "old tasks stopped", func() string {
		for _, tv := range s.Sup.Tasks() {
			if tv.TaskDefinitionARN == rev1 && tv.LastStatus != fargate.StatusStopped {
				return "task " + tv.ID + " is " + tv.LastStatus
			}
		}
		return ""
	})
	// minimumHealthyPercent 100, as ECS keeps it: the k-th old task to stop
	// began stopping only after k new ones were RUNNING, so the running
	// count never fell below the desired count during the rollout.
	var newStarts, oldStops []time.Time
	for _, tv := range s.Sup.Tasks() {
		switch {
		case tv.TaskDefinitionARN == rev2 && !tv.StartedAt.IsZero():
			newStarts = append(newStarts, tv.StartedAt)
		case tv.TaskDefinitionARN == rev1 && slices.ContainsFunc(old, func(o fargate.TaskView) bool { return o.ID == tv.ID }):
			oldStops = append(oldStops, tv.StoppingAt)
		}
	}
	slices.SortFunc(newStarts, time.Time.Compare)
	slices.SortFunc(oldStops, time.Time.Compare)
	if len(newStarts) < 2 || len(oldStops) != len(old) {
		t.Fatalf("%d new tasks ever RUNNING and %d of %d old ones stopped, want 2 and all", len(newStarts), len(oldStops), len(old))
	}
	for k, stop := range oldStops {
		if stop.Before(newStarts[k]) {
			t.Errorf("old task %d of %d began stopping at %s, before new task %d ran at %s", k+1, len(oldStops), stop, k+1, newStarts[k])
		}
	}
}

func TestUnknownImageIsReportedAndNothingRuns(t *testing.T) {
	s := fargatetest.Start(t, taskServer, fargate.Options{})
	s.Service("nginxsvc", s.TaskDef("nginxsvc", "web", "public.ecr.aws/nginx/nginx:latest", nil, 5), 2)
	fargatetest.Eventually(t, 30*time.Second, "service event about the image", func() string {
		svc := s.Describe("nginxsvc")
		for _, e := range svc.Events {
			if strings.Contains(aws.ToString(e.Message), "nginx/nginx:latest") && strings.Contains(aws.ToString(e.Message), "no local binary") {
				return ""
			}
		}
		return fmt.Sprintf("%d events, none about the image", len(svc.Events))
	})
	// Several polls later still nothing runs.
	time.Sleep(time.Second)
	if svc := s.Describe("nginxsvc"); svc.RunningCount != 0 || svc.PendingCount != 0 {
		t.Errorf("unrunnable service: %s, want 0 running and 0 pending", fargatetest.Counts(svc))
	}
	if tasks := s.Tasks("nginxsvc", etypes.DesiredStatusRunning); len(tasks) != 0 {
		t.Errorf("ListTasks lists %d tasks of an unrunnable service", len(tasks))
	}
	if n := len(s.Sup.Tasks()); n != 0 {
		t.Errorf("supervisor made %d tasks for an unrunnable image", n)
	}
}

// recordingBalancer checks, at each Drain, that the task's process has not
// yet been sent SIGTERM.
type recordingBalancer struct {
	t       *testing.T
	s       **fargatetest.Stack
	mu      sync.Mutex
	changes []string
	drained []string
}

func (b *recordingBalancer) SyncServices([]fargate.Binding) {}

func (b *recordingBalancer) TaskChanged(tg fargate.Target) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.changes = append(b.changes, tg.TaskID+" "+tg.LastStatus)
}

func (b *recordingBalancer) Drain(_ context.Context, tg fargate.Target) {
	for _, tv := range (*b.s).Sup.Tasks() {
		if tv.ID != tg.TaskID {
			continue
		}
		if log, _ := os.ReadFile(tv.LogPath); strings.Contains(string(log), "SIGTERM") {
			b.t.Errorf("task %s had SIGTERM before its drain", tv.ID)
		}
		if err := syscall.Kill(tv.PID, 0); err != nil {
			b.t.Errorf("task %s process gone at its drain: %v", tv.ID, err)
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.drained = append(b.drained, tg.TaskID)
}

func TestStoppingTaskIsDrainedBeforeSIGTERM(t *testing.T) {
	var s *fargatetest.Stack
	rb := &recordingBalancer{t: t, s: &s}
	s = fargatetest.Start(t, taskServer, fargate.Options{Balancer: rb})
	tg := "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/x/1"
	s.Service("drainsvc", s.TaskDef("drainsvc", "producer", fargatetest.ServerImage+":1", nil, 5),
		1, etypes.LoadBalancer{TargetGroupArn: aws.String(tg), ContainerName: aws.String("producer"), ContainerPort: aws.Int32(8080)})
	s.WaitRunning("drainsvc", 1)
	id := s.Live("drainsvc")[0].ID
	s.Update(&ecs.UpdateServiceInput{Service: aws.String("drainsvc"), DesiredCount: aws.Int32(0)})
	fargatetest.Eventually(t, 30*time.Second, "task stopped", func() string {
		if n := len(s.Live("drainsvc")); n != 0 {
			return fmt.Sprintf("%d live", n)
		}
		return ""
	})
	rb.mu.Lock()
	defer rb.mu.Unlock()
	want := []string{id + " PENDING", id + " RUNNING", id + " STOPPED"}
	if !slices.Equal(rb.changes, want) || !slices.Equal(rb.drained, []string{id}) {
		t.Errorf("balancer saw changes %v and drains %v; want %v and [%s]", rb.changes, rb.drained, want, id)
	}
}

// fakeClock is a clock the test moves.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

func TestBusyTaskCPUUtilizationIsPublished(t *testing.T) {
	// A minute well in the past, so that no other test's data shares it.
	minute := time.Now().Add(-2 * time.Hour).Truncate(time.Minute)
	clock := &fakeClock{now: minute.Add(10 * time.Second)}
	published := make(chan time.Time, 10)
	cfg := loadCloudWatchConfig(t)
	cw := cloudwatch.NewFromConfig(cfg, awsconfig.CloudWatchQueryProtocol)
	flaky := &failOnce{CloudWatchAPI: cw}
	s := fargatetest.Start(t, taskServer, fargate.Options{
		CloudWatch: flaky, Now: clock.Now, MetricsSampleInterval: 100 * time.Millisecond,
		OnPublish: func(m time.Time) { published <- m },
	})
	s.Service("busysvc", s.TaskDef("busysvc", "producer", fargatetest.ServerImage+":1", map[string]string{"BUSY": "1"}, 5), 1)
	s.WaitRunning("busysvc", 1)
	time.Sleep(1500 * time.Millisecond) // let it burn some CPU between samples
	clock.Set(minute.Add(70 * time.Second))
	select {
	case got := <-published:
		if !got.Equal(minute) {
			t.Fatalf("published minute %s, want %s", got, minute)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no AWS/ECS metrics published after the minute closed")
	}
	if flaky.calls.Load() < 2 {
		t.Errorf("%d PutMetricData calls, want the failed one and its retry", flaky.calls.Load())
	}

	dims := []cwtypes.Dimension{
		{Name: aws.String("ClusterName"), Value: aws.String(s.Cluster)},
		{Name: aws.String("ServiceName"), Value: aws.String("busysvc")},
	}
	query := func(id, metric, stat string) cwtypes.MetricDataQuery {
		return cwtypes.MetricDataQuery{Id: aws.String(id), MetricStat: &cwtypes.MetricStat{
			Metric: &cwtypes.Metric{Namespace: aws.String("AWS/ECS"), MetricName: aws.String(metric), Dimensions: dims},
			Period: aws.Int32(60), Stat: aws.String(stat),
		}}
	}
	out, err := cw.GetMetricData(context.Background(), &cloudwatch.GetMetricDataInput{
		StartTime: aws.Time(minute), EndTime: aws.Time(minute.Add(time.Minute)),
		MetricDataQueries: []cwtypes.MetricDataQuery{
			query("cpu", "CPUUtilization", "Average"), query("n", "CPUUtilization", "SampleCount"),
			query("mem", "MemoryUtilization", "Average"),
		},
	})
	if err != nil {
		t.Fatalf("GetMetricData: %v", err)
	}
	got := map[string][]float64{}
	for _, r := range out.MetricDataResults {
		got[aws.ToString(r.Id)] = r.Values
	}
	if len(got["cpu"]) != 1 || got["cpu"][0] < 5 {
		t.Errorf("CPUUtilization Average of a busy 1-vCPU task = %v, want one value of at least 5 %%", got["cpu"])
	}
	if len(got["n"]) != 1 || got["n"][0] != 1 {
		t.Errorf("CPUUtilization SampleCount = %v, want [1] (one task)", got["n"])
	}
	if len(got["mem"]) != 1 || got["mem"][0] <= 0 || got["mem"][0] > 100 {
		t.Errorf("MemoryUtilization Average = %v, want one value in (0, 100]", got["mem"])
	}
}

// failOnce fails the first PutMetricData, as an unreachable CloudWatch
// would, and passes the others on.
type failOnce struct {
	fargate.CloudWatchAPI
	calls atomic.Int32
}

func (f *failOnce) PutMetricData(ctx context.Context, in *cloudwatch.PutMetricDataInput, o ...func(*cloudwatch.Options)) (*cloudwatch.PutMetricDataOutput, error) {
	if f.calls.Add(1) == 1 {
		return nil, errors.New("connection refused (test)")
	}
	return f.CloudWatchAPI.PutMetricData(ctx, in, o...)
}

func loadCloudWatchConfig(t *testing.T) aws.Config {
	t.Helper()
	testenv.Require(t, testenv.CloudWatch)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cfg, err := awsconfig.Load(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
