package controllers

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
)

// TestTaskDefinitionsLogToTheGroup: both task definitions log with awslogs to
// the user's group, else the operator's own, in streams prefixed with the
// workload; without an execution role, nowhere.
func TestTaskDefinitionsLogToTheGroup(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(sp *streamingv1alpha1.StreamProcessor)
		want  string // awslogs-group; "" for no log configuration
	}{
		{"execution role, no spec.logs: the operator's group", func(*streamingv1alpha1.StreamProcessor) {}, defaultNames("team", "clicks.v2").LogGroup},
		{"spec.logs with a retention only: the operator's group", func(sp *streamingv1alpha1.StreamProcessor) {
			sp.Spec.Logs = &streamingv1alpha1.LogsSpec{RetentionDays: 30}
		}, defaultNames("team", "clicks.v2").LogGroup},
		{"spec.logs.group: the user's", func(sp *streamingv1alpha1.StreamProcessor) {
			sp.Spec.Logs = &streamingv1alpha1.LogsSpec{Group: "/streamprocessor/streaming"}
		}, "/streamprocessor/streaming"},
		{"recorded name kept", func(sp *streamingv1alpha1.StreamProcessor) { sp.Status.LogGroupName = "team-clicks.v2-old" }, "team-clicks.v2-old"},
		{"no execution role: no logs", func(sp *streamingv1alpha1.StreamProcessor) { sp.Spec.ECS.ExecutionRoleARN = "" }, ""},
	} {
		sp := unitSample()
		tc.setup(sp)
		for _, w := range []workload{producerWorkload(sp, "eu-west-1"), consumerWorkload(sp, "eu-west-1")} {
			lc := taskDefinitionInput(sp, w).ContainerDefinitions[0].LogConfiguration
			switch {
			case tc.want == "" && lc != nil:
				t.Errorf("%s: %s logs to %v, want nowhere", tc.name, w.name, lc.Options)
			case tc.want == "":
			case lc == nil:
				t.Errorf("%s: %s has no log configuration, want %s", tc.name, w.name, tc.want)
			case lc.LogDriver != "awslogs" || lc.Options["awslogs-group"] != tc.want || lc.Options["awslogs-stream-prefix"] != w.name || lc.Options["awslogs-region"] != "eu-west-1":
				t.Errorf("%s: %s logs with %s to %v, want awslogs to %s, prefix %s, eu-west-1", tc.name, w.name, lc.LogDriver, lc.Options, tc.want, w.name)
			}
		}
	}
}

// TestLogGroupNameIsChosenOnce: the name is recorded when the operator's
// group is in use, kept afterwards (even when spec.logs.group takes over),
// and differs between (namespace, name) pairs that read the same joined.
func TestLogGroupNameIsChosenOnce(t *testing.T) {
	sp := unitSample()
	if n := recordNames(sp); sp.Status.LogGroupName != n.LogGroup || n.LogGroup != defaultNames("team", "clicks.v2").LogGroup {
		t.Fatalf("recorded %q, names %q", sp.Status.LogGroupName, n.LogGroup)
	}
	sp.Status.LogGroupName = "chosen-before"
	sp.Spec.Logs = &streamingv1alpha1.LogsSpec{Group: "/user"}
	if recordNames(sp); sp.Status.LogGroupName != "chosen-before" || namesOf(sp).LogGroup != "chosen-before" {
		t.Errorf("recorded name changed to %q", sp.Status.LogGroupName)
	}
	user := unitSample()
	user.Spec.Logs = &streamingv1alpha1.LogsSpec{Group: "/user"}
	if recordNames(user); user.Status.LogGroupName != "" {
		t.Errorf("with spec.logs.group, %q was recorded as the operator's", user.Status.LogGroupName)
	}
	if a, b := defaultNames("a-b", "c").LogGroup, defaultNames("a", "b-c").LogGroup; a == b {
		t.Errorf("a-b/c and a/b-c share log group %q", a)
	}
	long := defaultNames(string(make([]byte, 63)), string(make([]byte, 253))).LogGroup
	if len(long) > 512 {
		t.Errorf("log group name of %d characters", len(long))
	}
}

// TestDeleteLogGroupDecision: the finalizer deletes the operator's group only
// with deletionPolicy Delete and only when it carries this object's uid.
func TestDeleteLogGroupDecision(t *testing.T) {
	sp := planObject()
	others := ownerTags(sp)
	others[TagOwnerUID] = "uid-0"
	for _, tc := range []struct {
		name   string
		policy streamingv1alpha1.DeletionPolicy
		tags   map[string]string
		want   bool
	}{
		{"Delete, ours", streamingv1alpha1.DeletionPolicyDelete, ownerTags(sp), true},
		{"Delete, another object's", streamingv1alpha1.DeletionPolicyDelete, others, false},
		{"Delete, no owner tags", streamingv1alpha1.DeletionPolicyDelete, map[string]string{}, false},
		{"Retain, ours", streamingv1alpha1.DeletionPolicyRetain, ownerTags(sp), false},
		{"no policy (Retain), ours", "", ownerTags(sp), false},
	} {
		sp.Spec.Stream.DeletionPolicy = tc.policy
		if got, why := deleteLogGroup(sp, tc.tags); got != tc.want || (!got && why == "") {
			t.Errorf("%s: delete = %v (%q), want %v", tc.name, got, why, tc.want)
		}
	}
}

type countingLogs struct{ describes int }

func (c *countingLogs) CreateLogGroup(context.Context, *cloudwatchlogs.CreateLogGroupInput, ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.CreateLogGroupOutput, error) {
	return &cloudwatchlogs.CreateLogGroupOutput{}, nil
}

func (c *countingLogs) DescribeLogGroups(context.Context, *cloudwatchlogs.DescribeLogGroupsInput, ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.DescribeLogGroupsOutput, error) {
	c.describes++
	return &cloudwatchlogs.DescribeLogGroupsOutput{}, nil
}

func (c *countingLogs) ListTagsForResource(context.Context, *cloudwatchlogs.ListTagsForResourceInput, ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.ListTagsForResourceOutput, error) {
	return &cloudwatchlogs.ListTagsForResourceOutput{}, nil
}

func (c *countingLogs) PutRetentionPolicy(context.Context, *cloudwatchlogs.PutRetentionPolicyInput, ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.PutRetentionPolicyOutput, error) {
	return &cloudwatchlogs.PutRetentionPolicyOutput{}, nil
}

func (c *countingLogs) DeleteLogGroup(context.Context, *cloudwatchlogs.DeleteLogGroupInput, ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.DeleteLogGroupOutput, error) {
	return &cloudwatchlogs.DeleteLogGroupOutput{}, nil
}

// TestLogCallsArePaced: the log group calls go through the client-side
// pacer, and every one the operator makes has a default rate.
func TestLogCallsArePaced(t *testing.T) {
	api := &countingLogs{}
	c := RateLimitedClients(Clients{Logs: api}, map[string]AWSRate{"logs.DescribeLogGroups": {PerSecond: 0.001, Burst: 1}})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := c.Logs.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Logs.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("second call within the burst of 1 = %v, want it held until the deadline", err)
	}
	if api.describes != 1 {
		t.Errorf("%d calls reached CloudWatch Logs, want 1", api.describes)
	}
	for _, op := range []string{"CreateLogGroup", "DescribeLogGroups", "ListTagsForResource", "PutRetentionPolicy", "DeleteLogGroup"} {
		if DefaultAWSRates["logs."+op].PerSecond <= 0 {
			t.Errorf("logs.%s has no default rate", op)
		}
	}
}

// TestLogGroupIsReadOnlyWhenItMayHaveChanged: a pass reads the operator's
// log group unless LogsReady says this generation found it as wanted (ours
// with the retention, or another's left alone) less than the recheck interval ago.
// Checks "recently" are at the object's point of the interval, a minute
// before now, for uids with early, late and middle points (phaseUIDs).
func TestLogGroupIsReadOnlyWhenItMayHaveChanged(t *testing.T) {
	for _, uid := range phaseUIDs(recheckLogGroup, DefaultDriftRecheck) {
		t.Run(string(uid), func(t *testing.T) { checkLogGroupReadOnlyWhenItMayHaveChanged(t, uid) })
	}
}

// checkLogGroupReadOnlyWhenItMayHaveChanged is the test for one uid.
func checkLogGroupReadOnlyWhenItMayHaveChanged(t *testing.T, uid types.UID) {
	checked := pointAfterPlanNow(uid, recheckLogGroup, DefaultDriftRecheck)
	now := checked.Add(time.Minute)
	fresh := metav1.NewTime(checked)
	stale := metav1.NewTime(now.Add(-DefaultDriftRecheck))
	for _, tc := range []struct {
		name    string
		checked *metav1.Time
		cond    *metav1.Condition
		gen     int64
		read    bool
	}{
		{"never checked", nil, nil, 1, true},
		{"found ours recently", &fresh, &metav1.Condition{Status: metav1.ConditionTrue, Reason: ReasonReady, ObservedGeneration: 1}, 1, false},
		{"found another's recently", &fresh, &metav1.Condition{Status: metav1.ConditionTrue, Reason: ReasonLogGroupNotOwned, ObservedGeneration: 1}, 1, false},
		{"checked 10 minutes ago", &stale, &metav1.Condition{Status: metav1.ConditionTrue, Reason: ReasonReady, ObservedGeneration: 1}, 1, true},
		{"spec changed since (retention may differ)", &fresh, &metav1.Condition{Status: metav1.ConditionTrue, Reason: ReasonReady, ObservedGeneration: 1}, 2, true},
		{"last attempt failed", &fresh, &metav1.Condition{Status: metav1.ConditionFalse, Reason: ReasonAccessDenied, ObservedGeneration: 1}, 1, true},
	} {
		sp := unitSample()
		sp.UID, sp.Generation = uid, tc.gen
		sp.Status.LogGroupCheckedAt = tc.checked
		if tc.cond != nil {
			c := *tc.cond
			c.Type = ConditionLogsReady
			sp.Status.Conditions = []metav1.Condition{c}
		}
		if got := logGroupReadNeeded(sp, now, DefaultDriftRecheck); got != tc.read {
			t.Errorf("%s: read = %t, want %t", tc.name, got, tc.read)
		}
		api := &countingLogs{}
		o := observeLogGroup(context.Background(), sp, Clients{Logs: api}, now, DefaultDriftRecheck)
		if o == nil || o.skipped == tc.read || (api.describes > 0) != tc.read {
			t.Errorf("%s: observation %+v after %d DescribeLogGroups calls, want read %t", tc.name, o, api.describes, tc.read)
		}
	}
	// Finding it as wanted records the time.
	sp := unitSample()
	n := &notes{sp: sp, now: now}
	logGroupReady(n, "g", 7)
	if sp.Status.LogGroupCheckedAt == nil || !sp.Status.LogGroupCheckedAt.Time.Equal(now) {
		t.Errorf("LogGroupCheckedAt = %v after the group was found as wanted, want %s", sp.Status.LogGroupCheckedAt, now)
	}
}
