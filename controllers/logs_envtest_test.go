package controllers

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ecs"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
	logsaws "github.com/kdp-io/streamprocessor-operator/internal/aws/logs"
)

// readLogGroup returns the named log group in the emulator with its tags, or nil.
func readLogGroup(g Gomega, name string) *logsaws.Group {
	grp, err := logsaws.Groups{API: suite.logs}.Describe(context.Background(), name)
	g.Expect(err).NotTo(HaveOccurred())
	return grp
}

// taskLogOptions returns the awslogs options of the task definition sp's
// service of workload runs.
func taskLogOptions(g Gomega, sp *streamingv1alpha1.StreamProcessor, workload string) map[string]string {
	svc := service(g, sp, workload)
	out, err := suite.ecs.DescribeTaskDefinition(context.Background(), &ecs.DescribeTaskDefinitionInput{TaskDefinition: svc.TaskDefinition})
	g.Expect(err).NotTo(HaveOccurred())
	lc := out.TaskDefinition.ContainerDefinitions[0].LogConfiguration
	g.Expect(lc).NotTo(BeNil(), "%s task definition has no log configuration", workload)
	g.Expect(string(lc.LogDriver)).To(Equal("awslogs"))
	return lc.Options
}

// TestLogGroupFollowsTheObject: against moto's CloudWatch Logs, each object
// with an execution role gets a log group of its own, tagged as its own,
// with spec.logs.retentionDays (a retention changed by hand is set back),
// that both task definitions log to; deletionPolicy Delete deletes it,
// Retain keeps it; a group of that name that another object owns is used
// but never changed or deleted.
func TestLogGroupFollowsTheObject(t *testing.T) {
	requireSuite(t)
	g := NewWithT(t)
	ctx := context.Background()
	startOperator(t)

	deleted := sample(newNamespace(t), "logs-delete")
	deleted.Spec.Logs = &streamingv1alpha1.LogsSpec{RetentionDays: 14}
	retained := sample(newNamespace(t), "logs-retain")
	retained.Spec.Stream.DeletionPolicy = streamingv1alpha1.DeletionPolicyRetain
	others := sample(newNamespace(t), "logs-others")
	othersGroup := defaultNames(others.Namespace, others.Name).LogGroup
	_, err := logsaws.Groups{API: suite.logs}.Create(ctx, othersGroup, map[string]string{
		TagManagedBy: managedByValue, TagOwnerNamespace: others.Namespace, TagOwnerName: others.Name, TagOwnerUID: "uid-of-an-earlier-object",
	})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(logsaws.Groups{API: suite.logs}.SetRetention(ctx, othersGroup, 30)).To(Succeed())
	t.Cleanup(func() {
		for _, name := range []string{othersGroup, defaultNames(retained.Namespace, retained.Name).LogGroup} {
			_, _ = logsaws.Groups{API: suite.logs}.Delete(context.Background(), name)
		}
	})
	for _, sp := range []*streamingv1alpha1.StreamProcessor{deleted, retained, others} {
		g.Expect(suite.k8s.Create(ctx, sp)).To(Succeed())
	}

	for _, tc := range []struct {
		sp        *streamingv1alpha1.StreamProcessor
		retention int32
		owned     bool
	}{{deleted, 14, true}, {retained, 7, true}, {others, 30, false}} {
		got := waitReady(t, tc.sp, 120*time.Second)
		name := defaultNames(tc.sp.Namespace, tc.sp.Name).LogGroup
		g.Expect(got.Status.LogGroupName).To(Equal(name))
		g.Eventually(func(g Gomega) {
			cur := get(g, tc.sp)
			g.Expect(conditionStatus(cur, ConditionLogsReady)).To(Equal(metav1.ConditionTrue), "LogsReady: %+v", cur.Status.Conditions)
		}, 30*time.Second, 200*time.Millisecond).Should(Succeed())
		grp := readLogGroup(g, name)
		g.Expect(grp).NotTo(BeNil(), "log group %s", name)
		g.Expect(grp.RetentionDays).To(Equal(tc.retention), "retention of %s", name)
		g.Expect(grp.Tags[TagOwnerUID] == string(got.UID)).To(Equal(tc.owned), "tags of %s: %v", name, grp.Tags)
		for _, w := range []string{producer, consumer} {
			opts := taskLogOptions(g, got, w)
			g.Expect(opts).To(HaveKeyWithValue("awslogs-group", name))
			g.Expect(opts).To(HaveKeyWithValue("awslogs-stream-prefix", w))
		}
	}
	g.Expect(findCondition(get(g, others), ConditionLogsReady).Reason).To(Equal(ReasonLogGroupNotOwned))

	// Drift: a retention set by hand is set back within a scaling interval.
	deletedGroup := defaultNames(deleted.Namespace, deleted.Name).LogGroup
	g.Expect(logsaws.Groups{API: suite.logs}.SetRetention(ctx, deletedGroup, 1)).To(Succeed())
	g.Eventually(func(g Gomega) {
		g.Expect(readLogGroup(g, deletedGroup).RetentionDays).To(Equal(int32(14)))
	}, 40*time.Second, 500*time.Millisecond).Should(Succeed())
	g.Eventually(func(g Gomega) []string { return eventReasons(g, deleted) }, 10*time.Second, 200*time.Millisecond).
		Should(ContainElements(EventLogGroupCreated, EventLogRetentionRestored))

	for _, sp := range []*streamingv1alpha1.StreamProcessor{deleted, retained, others} {
		deleteAndWait(t, sp)
	}
	g.Expect(readLogGroup(g, deletedGroup)).To(BeNil(), "log group %s outlived its StreamProcessor (Delete)", deletedGroup)
	g.Expect(readLogGroup(g, defaultNames(retained.Namespace, retained.Name).LogGroup)).NotTo(BeNil(), "Retain deleted the log group")
	kept := readLogGroup(g, othersGroup)
	g.Expect(kept).NotTo(BeNil(), "another object's log group was deleted")
	g.Expect(kept.RetentionDays).To(Equal(int32(30)), "another object's log group was changed")
}
