package fargate_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	cwltypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	etypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/kdp-io/streamprocessor-operator/internal/awsconfig"
	"github.com/kdp-io/streamprocessor-operator/internal/devstack/fargate"
	"github.com/kdp-io/streamprocessor-operator/internal/devstack/fargate/fargatetest"
	"github.com/kdp-io/streamprocessor-operator/internal/testenv"
)

// awslogsTaskDef registers a task definition whose container logs with the
// awslogs driver to group, as the operator's do.
func awslogsTaskDef(t *testing.T, s *fargatetest.Stack, family, group string) string {
	t.Helper()
	out, err := s.ECS.RegisterTaskDefinition(context.Background(), &ecs.RegisterTaskDefinitionInput{
		Family: aws.String(family), RequiresCompatibilities: []etypes.Compatibility{etypes.CompatibilityFargate},
		NetworkMode: etypes.NetworkModeAwsvpc, Cpu: aws.String("256"), Memory: aws.String("512"),
		ContainerDefinitions: []etypes.ContainerDefinition{{
			Name: aws.String("producer"), Image: aws.String(fargatetest.ServerImage + ":1"), Essential: aws.Bool(true),
			StopTimeout:  aws.Int32(5),
			PortMappings: []etypes.PortMapping{{ContainerPort: aws.Int32(8080), Protocol: etypes.TransportProtocolTcp}},
			LogConfiguration: &etypes.LogConfiguration{LogDriver: etypes.LogDriverAwslogs, Options: map[string]string{
				"awslogs-group": group, "awslogs-region": s.AWS.Region, "awslogs-stream-prefix": "producer",
			}},
		}},
	})
	if err != nil {
		t.Fatalf("register task definition %s: %v", family, err)
	}
	return aws.ToString(out.TaskDefinition.TaskDefinitionArn)
}

// TestAWSLogsOutputReachesCloudWatchLogs: local Fargate plays the awslogs
// driver. A task whose container logs with awslogs has its output, line by
// line, in the group's stream producer/producer/<task id> in moto's
// CloudWatch Logs (where `aws logs tail` reads it), besides its log file; a
// task whose group does not exist fails to start, as on Fargate.
func TestAWSLogsOutputReachesCloudWatchLogs(t *testing.T) {
	testenv.Require(t, testenv.Logs)
	ctx := context.Background()
	cfg, err := awsconfig.Load(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	logs := cloudwatchlogs.NewFromConfig(cfg)
	cwl := func() *cloudwatchlogs.Client { return logs }
	s := fargatetest.Start(t, taskServer, fargate.Options{Logs: logs, LogFlushInterval: 200 * time.Millisecond})
	group := testenv.UniqueName("sp-tasklogs")
	if _, err := cwl().CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String(group)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = cwl().DeleteLogGroup(context.Background(), &cloudwatchlogs.DeleteLogGroupInput{LogGroupName: aws.String(group)})
	})

	s.Service("logsvc", awslogsTaskDef(t, s, "logsvc", group), 1)
	s.WaitRunning("logsvc", 1)
	live := s.Live("logsvc")
	if len(live) != 1 {
		t.Fatalf("%d live tasks, want 1", len(live))
	}
	stream := "producer/producer/" + live[0].ID
	fargatetest.Eventually(t, 20*time.Second, "the task's output in "+group+"/"+stream, func() string {
		out, err := cwl().GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String(group), LogStreamName: aws.String(stream), StartFromHead: aws.Bool(true)})
		if err != nil {
			return err.Error()
		}
		for _, e := range out.Events {
			if strings.HasPrefix(aws.ToString(e.Message), "taskserver: listening on") {
				return ""
			}
		}
		return "no line 'taskserver: listening on' among " + strings.Join(messages(out.Events), " | ")
	})

	missing := testenv.UniqueName("sp-nogroup")
	s.Service("nologsvc", awslogsTaskDef(t, s, "nologsvc", missing), 1)
	fargatetest.Eventually(t, 30*time.Second, "a task stopped for its missing log group", func() string {
		for _, task := range s.Tasks("nologsvc", etypes.DesiredStatusStopped) {
			reason := aws.ToString(task.StoppedReason)
			if task.StopCode == etypes.TaskStopCodeTaskFailedToStart && strings.HasPrefix(reason, "ResourceInitializationError: failed to validate logger args") && strings.Contains(reason, missing) {
				return ""
			}
		}
		return "no STOPPED task with TaskFailedToStart and a logger-args reason naming " + missing
	})
	for _, tv := range s.Live("nologsvc") {
		if tv.PID != 0 {
			t.Errorf("task %s has a process (%d) though its log group does not exist", tv.ID, tv.PID)
		}
	}
}

func messages(events []cwltypes.OutputLogEvent) []string {
	out := make([]string, 0, len(events))
	for _, e := range events {
		out = append(out, aws.ToString(e.Message))
	}
	return out
}
