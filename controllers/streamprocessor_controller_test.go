package controllers

import (
	"context"
	"fmt"
	"math/big"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	etypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
)

func TestCreateStreamAndServicesBecomesReady(t *testing.T) {
	requireSuite(t)
	g := NewWithT(t)
	op := startOperator(t)
	sp := sample(newNamespace(t), "orders")
	sp.Spec.Stream.MinShards = 2
	sp.Spec.Producer.MinTasks = 2
	g.Expect(suite.k8s.Create(context.Background(), sp)).To(Succeed())

	got := waitReady(t, sp, 60*time.Second)
	g.Expect(got.Finalizers).To(ContainElement(Finalizer))
	g.Expect(got.Status.Stream.ARN).To(ContainSubstring(":stream/" + streamName(sp)))
	g.Expect(got.Status.Stream.Shards).To(Equal("2/2"))
	g.Expect(got.Status.Producer.Tasks).To(Equal("2/2"))
	g.Expect(got.Status.Consumer.Tasks).To(Equal("1/1"))
	g.Expect(got.Status.LastDecision).NotTo(BeNil())
	for _, ct := range []string{ConditionStreamReady, ConditionProducerReady, ConditionConsumerReady} {
		g.Expect(conditionStatus(got, ct)).To(Equal(metav1.ConditionTrue), ct)
	}

	open, status := streamSummary(g, sp)
	g.Expect(open).To(Equal(int32(2)))
	g.Expect(status).To(Equal("ACTIVE"))
	tags, err := suite.kinesis.ListTagsForStream(context.Background(), &kinesis.ListTagsForStreamInput{StreamName: aws.String(streamName(sp))})
	g.Expect(err).NotTo(HaveOccurred())
	tagMap := map[string]string{}
	for _, tg := range tags.Tags {
		tagMap[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	g.Expect(tagMap).To(HaveKeyWithValue("team", "data"))
	g.Expect(tagMap).To(HaveKeyWithValue(TagManagedBy, "streamprocessor-operator"))

	prod := service(g, sp, producer)
	g.Expect(prod.DesiredCount).To(Equal(int32(2)))
	g.Expect(prod.LaunchType).To(Equal(etypes.LaunchTypeFargate))
	g.Expect(prod.NetworkConfiguration.AwsvpcConfiguration.Subnets).To(ConsistOf(suite.account.SubnetIDs))
	g.Expect(prod.LoadBalancers).To(HaveLen(1))
	g.Expect(aws.ToString(prod.LoadBalancers[0].TargetGroupArn)).To(Equal(suite.account.TargetGroupARN))
	g.Expect(aws.ToString(prod.TaskDefinition)).To(Equal(got.Status.Producer.TaskDefinitionARN))
	cons := service(g, sp, consumer)
	g.Expect(cons.DesiredCount).To(Equal(int32(1)))
	g.Expect(cons.LoadBalancers).To(BeEmpty())

	td, err := suite.ecs.DescribeTaskDefinition(context.Background(), &ecs.DescribeTaskDefinitionInput{TaskDefinition: prod.TaskDefinition})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(aws.ToString(td.TaskDefinition.Cpu)).To(Equal("512"))
	g.Expect(td.TaskDefinition.NetworkMode).To(Equal(etypes.NetworkModeAwsvpc))
	env := map[string]string{}
	for _, kv := range td.TaskDefinition.ContainerDefinitions[0].Environment {
		env[aws.ToString(kv.Name)] = aws.ToString(kv.Value)
	}
	g.Expect(env).To(HaveKeyWithValue("STREAM_NAME", streamName(sp)))
	g.Expect(env).To(HaveKeyWithValue("PORT", "8080"))

	g.Eventually(func(g Gomega) []string { return eventReasons(g, sp) }, 10*time.Second).Should(
		ContainElements(EventStreamCreated, EventServiceCreated, EventTaskDefinitionCreated))
	// Each workload's event is its own series: one reason, two notes (a
	// shared action would merge them into one series with one note).
	g.Eventually(func(g Gomega) []string { return eventNotes(g, sp, EventServiceCreated) }, 10*time.Second).Should(ContainElements(
		HavePrefix("Created producer service"), HavePrefix("Created consumer service")))

	// A pass with nothing to change makes no change: no new task definition
	// revision, no UpdateService, no UpdateShardCount.
	registered := op.callCount("ECS", "RegisterTaskDefinition", "ok")
	update(t, sp, func(s *streamingv1alpha1.StreamProcessor) { s.Annotations = map[string]string{"poke": "1"} })
	g.Consistently(func() int { return op.callCount("ECS", "RegisterTaskDefinition", "ok") }, 2*time.Second).Should(Equal(registered))
	g.Expect(op.callCount("ECS", "UpdateService", "ok")).To(BeZero())
	g.Expect(op.callCount("Kinesis", "UpdateShardCount", "ok")).To(BeZero())

	// Changing the image registers one new revision and rolls the service to it.
	update(t, sp, func(s *streamingv1alpha1.StreamProcessor) { s.Spec.Producer.Image = "example.com/producer:2" })
	g.Eventually(func(g Gomega) {
		got := get(g, sp)
		g.Expect(got.Status.Producer.TaskDefinitionARN).NotTo(Equal(aws.ToString(prod.TaskDefinition)))
		g.Expect(aws.ToString(service(g, sp, producer).TaskDefinition)).To(Equal(got.Status.Producer.TaskDefinitionARN))
	}, 30*time.Second, 200*time.Millisecond).Should(Succeed())
	g.Expect(op.callCount("ECS", "RegisterTaskDefinition", "ok")).To(Equal(registered + 1))

	deleteAndWait(t, sp)
}

func TestReshardOneToTwentyTakesOnlyLegalSteps(t *testing.T) {
	requireSuite(t)
	g := NewWithT(t)
	op := startOperator(t)
	sp := sample(newNamespace(t), "clicks")
	g.Expect(suite.k8s.Create(context.Background(), sp)).To(Succeed())
	waitReady(t, sp, 60*time.Second)

	update(t, sp, func(s *streamingv1alpha1.StreamProcessor) { s.Spec.Stream.MinShards = 20 })
	got := waitReady(t, sp, 3*time.Minute)
	g.Expect(got.Status.Stream.OpenShards).To(Equal(int32(20)))
	open, _ := streamSummary(g, sp)
	g.Expect(open).To(Equal(int32(20)))

	// 1→2→4→8→16→20: five calls, each accepted by kinesis-local, which
	// refuses anything beyond 2x or while UPDATING.
	g.Expect(op.callCount("Kinesis", "UpdateShardCount", "ok")).To(Equal(5))
	op.expectNoRefusedReshards(g)
	g.Expect(got.Status.Stream.Reshards).To(HaveLen(5))
	notes := eventNotes(g, sp, EventStreamResharded)
	g.Expect(strings.Join(notes, "\n")).To(And(
		ContainSubstring("1→2 on the way to 20"), ContainSubstring("2→4"), ContainSubstring("4→8"),
		ContainSubstring("8→16"), ContainSubstring("16→20 (call 5 of 10")))

	// The lineage kinesis-local kept: 20 open shards that cover the hash key
	// space exactly, each descending from closed shards of the same stream.
	checkLineage(g, streamName(sp), 20)

	deleteAndWait(t, sp)
}

func TestTaskBoundsAndHandEditedDesiredCount(t *testing.T) {
	requireSuite(t)
	g := NewWithT(t)
	startOperator(t)
	sp := sample(newNamespace(t), "payments")
	g.Expect(suite.k8s.Create(context.Background(), sp)).To(Succeed())
	waitReady(t, sp, 60*time.Second)

	// Raising the lower bound raises the producer; lowering the upper bound lowers the consumer.
	update(t, sp, func(s *streamingv1alpha1.StreamProcessor) {
		s.Spec.Producer.MinTasks, s.Spec.Producer.MaxTasks = 3, 6
		s.Spec.Consumer.MinTasks, s.Spec.Consumer.MaxTasks = 0, 0
	})
	g.Eventually(func(g Gomega) {
		g.Expect(service(g, sp, producer).DesiredCount).To(Equal(int32(3)))
		g.Expect(service(g, sp, consumer).DesiredCount).To(Equal(int32(0)))
	}, 30*time.Second, 200*time.Millisecond).Should(Succeed())
	got := waitReady(t, sp, 30*time.Second)
	g.Expect(got.Status.Producer.TargetTasks).To(Equal(int32(3)))
	g.Expect(got.Status.Producer.Tasks).To(Equal("3/3"))

	// Someone scales the producer by hand: the operator sets it back.
	_, err := suite.ecs.UpdateService(context.Background(), &ecs.UpdateServiceInput{
		Cluster: aws.String(suite.account.Cluster), Service: aws.String(serviceName(sp, producer)), DesiredCount: aws.Int32(9),
	})
	g.Expect(err).NotTo(HaveOccurred())
	update(t, sp, func(s *streamingv1alpha1.StreamProcessor) { s.Annotations = map[string]string{"poke": "1"} })
	g.Eventually(func(g Gomega) int32 { return service(g, sp, producer).DesiredCount }, 30*time.Second, 200*time.Millisecond).Should(Equal(int32(3)))
	g.Eventually(func(g Gomega) []string { return eventReasons(g, sp) }, 10*time.Second).Should(ContainElement(EventDesiredCountRestored))

	deleteAndWait(t, sp)
}

func TestPausedAndDryRunDoNotAct(t *testing.T) {
	requireSuite(t)
	g := NewWithT(t)
	op := startOperator(t)
	sp := sample(newNamespace(t), "audit")
	g.Expect(suite.k8s.Create(context.Background(), sp)).To(Succeed())
	waitReady(t, sp, 60*time.Second)

	update(t, sp, func(s *streamingv1alpha1.StreamProcessor) {
		s.Spec.Scaling.DryRun = true
		s.Spec.Stream.MinShards = 4
		s.Spec.Producer.MinTasks = 2
	})
	g.Eventually(func(g Gomega) {
		got := get(g, sp)
		g.Expect(got.Status.ObservedGeneration).To(Equal(got.Generation))
		g.Expect(got.Status.LastDecision).NotTo(BeNil())
		g.Expect(got.Status.LastDecision.DryRun).To(BeTrue())
		g.Expect(got.Status.LastDecision.Shards).To(Equal(int32(4)))
		g.Expect(got.Status.Stream.TargetShards).To(Equal(int32(4)))
	}, 30*time.Second, 200*time.Millisecond).Should(Succeed())
	g.Consistently(func(g Gomega) {
		open, _ := streamSummary(g, sp)
		g.Expect(open).To(Equal(int32(1)))
		g.Expect(service(g, sp, producer).DesiredCount).To(Equal(int32(1)))
	}, 3*time.Second, 500*time.Millisecond).Should(Succeed())
	g.Expect(op.callCount("Kinesis", "UpdateShardCount", "ok")).To(BeZero())

	// Paused freezes the targets where they are, even with new bounds.
	update(t, sp, func(s *streamingv1alpha1.StreamProcessor) {
		s.Spec.Scaling.DryRun, s.Spec.Scaling.Paused = false, true
		s.Spec.Stream.MinShards = 1
	})
	g.Eventually(func(g Gomega) {
		got := get(g, sp)
		g.Expect(got.Status.ObservedGeneration).To(Equal(got.Generation))
	}, 30*time.Second).Should(Succeed())
	update(t, sp, func(s *streamingv1alpha1.StreamProcessor) { s.Spec.Stream.MinShards = 8 })
	g.Consistently(func(g Gomega) {
		open, _ := streamSummary(g, sp)
		g.Expect(open).To(Equal(int32(1)))
	}, 3*time.Second, 500*time.Millisecond).Should(Succeed())
	g.Expect(get(g, sp).Status.LastDecision.Reason).To(ContainSubstring("paused"))

	deleteAndWait(t, sp)
}

func TestDeleteRetainsOrDeletesTheStream(t *testing.T) {
	requireSuite(t)
	g := NewWithT(t)
	startOperator(t)
	ns := newNamespace(t)
	keep, drop := sample(ns, "keep"), sample(ns, "drop")
	keep.Spec.Stream.DeletionPolicy = streamingv1alpha1.DeletionPolicyRetain
	for _, sp := range []*streamingv1alpha1.StreamProcessor{keep, drop} {
		g.Expect(suite.k8s.Create(context.Background(), sp)).To(Succeed())
	}
	for _, sp := range []*streamingv1alpha1.StreamProcessor{keep, drop} {
		waitReady(t, sp, 60*time.Second)
		createLeaseTable(t, applicationName(sp)) // as the consumer would
		deleteAndWait(t, sp)
		// Both services are deleted whatever the policy.
		for _, w := range []string{producer, consumer} {
			out, err := suite.ecs.DescribeServices(context.Background(), &ecs.DescribeServicesInput{
				Cluster: aws.String(suite.account.Cluster), Services: []string{serviceName(sp, w)},
			})
			g.Expect(err).NotTo(HaveOccurred())
			for _, s := range out.Services {
				g.Expect(aws.ToString(s.Status)).NotTo(Equal("ACTIVE"), "service %s", serviceName(sp, w))
			}
		}
	}
	open, status := streamSummary(g, keep)
	g.Expect(status).To(Equal("ACTIVE"))
	g.Expect(open).To(Equal(int32(1)))
	g.Eventually(func() error {
		_, err := suite.kinesis.DescribeStreamSummary(context.Background(), &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(streamName(drop))})
		return err
	}, 10*time.Second, 200*time.Millisecond).Should(MatchError(ContainSubstring("ResourceNotFoundException")))

	// The lease table goes with the stream, and stays with it.
	g.Expect(leaseTableExists(t, applicationName(keep))).To(BeTrue(), "Retain keeps the lease table")
	g.Eventually(func() bool { return leaseTableExists(t, applicationName(drop)) }, 10*time.Second, 200*time.Millisecond).Should(BeFalse(), "Delete deletes the lease table")
	g.Expect(eventReasons(g, drop)).To(ContainElement(EventLeaseTableDeleted))
}

// TestAdoptsExistingStreamOnlyWhenAsked: a stream that exists without owner
// tags is refused and left untouched until spec.stream.adopt; then it is
// tagged as this object's and converged.
func TestAdoptsExistingStreamOnlyWhenAsked(t *testing.T) {
	requireSuite(t)
	g := NewWithT(t)
	startOperator(t)
	sp := sample(newNamespace(t), "legacy")
	_, err := suite.kinesis.CreateStream(context.Background(), &kinesis.CreateStreamInput{StreamName: aws.String(sp.Spec.Stream.Name), ShardCount: aws.Int32(3)})
	g.Expect(err).NotTo(HaveOccurred())
	sp.Spec.Stream.RetentionHours = 48
	g.Expect(suite.k8s.Create(context.Background(), sp)).To(Succeed())

	g.Eventually(func(g Gomega) {
		got := get(g, sp)
		c := findCondition(got, ConditionStreamReady)
		g.Expect(c).NotTo(BeNil())
		g.Expect(c.Reason).To(Equal(ReasonAdoptionRequired))
		g.Expect(c.Message).To(ContainSubstring("spec.stream.adopt: true"))
		g.Expect(findCondition(got, ConditionReady).Reason).To(Equal(ReasonAdoptionRequired))
	}, 60*time.Second, 200*time.Millisecond).Should(Succeed())
	g.Consistently(func(g Gomega) {
		out, err := suite.kinesis.DescribeStreamSummary(context.Background(), &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(streamName(sp))})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(aws.ToInt32(out.StreamDescriptionSummary.RetentionPeriodHours)).To(Equal(int32(24)), "a stream not adopted is not changed")
		g.Expect(streamTags(g, streamName(sp))).To(BeEmpty(), "a stream not adopted is not tagged")
	}, 2*time.Second, 250*time.Millisecond).Should(Succeed())
	g.Expect(eventReasons(g, sp)).To(ContainElement(EventAdoptionRequired))
	g.Expect(eventReasons(g, sp)).NotTo(ContainElement(EventServiceCreated), "no services for a refused stream")

	update(t, sp, func(s *streamingv1alpha1.StreamProcessor) { s.Spec.Stream.Adopt = true })
	got := waitReady(t, sp, 60*time.Second)
	g.Expect(streamTags(g, streamName(sp))).To(HaveKeyWithValue(TagOwnerUID, string(got.UID)))
	// 3 open shards are within [1, 32]: kept, not resharded to the minimum.
	g.Expect(got.Status.Stream.Shards).To(Equal("3/3"))
	g.Expect(eventReasons(g, sp)).To(ContainElements(EventStreamAdopted, EventRetentionChanged))
	out, err := suite.kinesis.DescribeStreamSummary(context.Background(), &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(streamName(sp))})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(aws.ToInt32(out.StreamDescriptionSummary.RetentionPeriodHours)).To(Equal(int32(48)))
	g.Expect(string(out.StreamDescriptionSummary.EncryptionType)).To(Equal("KMS"))

	deleteAndWait(t, sp)
}

func TestRestartMidReshardKeepsLedger(t *testing.T) {
	requireSuite(t)
	g := NewWithT(t)
	first := startOperator(t)
	sp := sample(newNamespace(t), "restart")
	g.Expect(suite.k8s.Create(context.Background(), sp)).To(Succeed())
	waitReady(t, sp, 60*time.Second)

	update(t, sp, func(s *streamingv1alpha1.StreamProcessor) { s.Spec.Stream.MinShards = 8 })
	// Stop the operator right after its first UpdateShardCount call, while
	// the stream is UPDATING, and start a new one.
	g.Eventually(func() int { return first.callCount("Kinesis", "UpdateShardCount", "ok") }, 30*time.Second, 20*time.Millisecond).Should(Equal(1))
	first.stop()
	g.Expect(get(g, sp).Status.Stream.Reshards).To(HaveLen(1), "the call is in the ledger before it is made")

	second := startOperator(t)
	got := waitReady(t, sp, 2*time.Minute)
	g.Expect(got.Status.Stream.OpenShards).To(Equal(int32(8)))
	// 1→2 by the first operator, 2→4→8 by the second; nothing repeated or refused.
	g.Expect(first.callCount("Kinesis", "UpdateShardCount", "ok") + second.callCount("Kinesis", "UpdateShardCount", "ok")).To(Equal(3))
	g.Expect(second.callCount("Kinesis", "UpdateShardCount", "InUse")).To(BeZero())
	g.Expect(got.Status.Stream.Reshards).To(HaveLen(3))

	deleteAndWait(t, sp)
}

func TestInvalidAWSReferenceIsReportedNotRetriedHot(t *testing.T) {
	requireSuite(t)
	g := NewWithT(t)
	op := startOperator(t)
	sp := sample(newNamespace(t), "badnet")
	sp.Spec.ECS.Subnets = []string{"subnet-0000000000deadbeef"}
	g.Expect(suite.k8s.Create(context.Background(), sp)).To(Succeed())

	g.Eventually(func(g Gomega) {
		got := get(g, sp)
		c := findCondition(got, ConditionProducerReady)
		g.Expect(c).NotTo(BeNil())
		g.Expect(c.Reason).To(Equal(ReasonInvalidSpec))
		g.Expect(c.Message).To(ContainSubstring("subnet"))
		g.Expect(conditionStatus(got, ConditionReady)).To(Equal(metav1.ConditionFalse))
	}, 60*time.Second, 200*time.Millisecond).Should(Succeed())
	g.Eventually(func(g Gomega) []string { return eventReasons(g, sp) }, 10*time.Second).Should(ContainElement(EventInvalidSpec))
	// Not a hot loop: both services were attempted (they are independent),
	// and neither refused call is made again before the retry delay (5 s
	// here), however often other steps poll.
	creates := op.callCount("ECS", "CreateService", "Invalid")
	g.Expect(creates).To(BeNumerically(">=", 2))
	time.Sleep(2 * time.Second)
	g.Expect(op.callCount("ECS", "CreateService", "Invalid")).To(Equal(creates))
	g.Expect(findCondition(get(g, sp), ConditionConsumerReady).Reason).To(Equal(ReasonInvalidSpec), "the consumer is attempted and reported too")

	// Fixing the spec fixes the pipeline.
	update(t, sp, func(s *streamingv1alpha1.StreamProcessor) { s.Spec.ECS.Subnets = suite.account.SubnetIDs })
	waitReady(t, sp, 60*time.Second)
	deleteAndWait(t, sp)
}

// checkLineage asserts that stream has exactly open open shards whose hash
// key ranges tile [0, 2^128) without gap or overlap, and that every parent
// named by a shard is a closed shard of the stream.
func checkLineage(g Gomega, stream string, open int) {
	var shards []ktypes.Shard
	in := &kinesis.ListShardsInput{StreamName: aws.String(stream)}
	for {
		page, err := suite.kinesis.ListShards(context.Background(), in)
		g.Expect(err).NotTo(HaveOccurred())
		shards = append(shards, page.Shards...)
		if page.NextToken == nil {
			break
		}
		in = &kinesis.ListShardsInput{NextToken: page.NextToken}
	}
	closed := map[string]bool{}
	var opened []ktypes.Shard
	for _, s := range shards {
		if s.SequenceNumberRange.EndingSequenceNumber != nil {
			closed[aws.ToString(s.ShardId)] = true
		} else {
			opened = append(opened, s)
		}
	}
	g.Expect(opened).To(HaveLen(open))
	for _, s := range shards {
		for _, parent := range []*string{s.ParentShardId, s.AdjacentParentShardId} {
			if parent != nil {
				g.Expect(closed).To(HaveKey(aws.ToString(parent)), "parent of %s", aws.ToString(s.ShardId))
			}
		}
	}
	num := func(s *string) *big.Int { n, _ := new(big.Int).SetString(aws.ToString(s), 10); return n }
	sort.Slice(opened, func(i, j int) bool {
		return num(opened[i].HashKeyRange.StartingHashKey).Cmp(num(opened[j].HashKeyRange.StartingHashKey)) < 0
	})
	next := big.NewInt(0)
	for _, s := range opened {
		g.Expect(num(s.HashKeyRange.StartingHashKey).String()).To(Equal(next.String()), "gap or overlap before %s", aws.ToString(s.ShardId))
		next = new(big.Int).Add(num(s.HashKeyRange.EndingHashKey), big.NewInt(1))
	}
	g.Expect(next.String()).To(Equal(new(big.Int).Lsh(big.NewInt(1), 128).String()), "open shards do not reach the end of the key space")
}

// TestOldTaskDefinitionsAreDeregistered: after five images the producer's
// family keeps only the newest keptRevisions revisions ACTIVE, the one the
// service runs among them; the older ones are deregistered.
func TestOldTaskDefinitionsAreDeregistered(t *testing.T) {
	requireSuite(t)
	g := NewWithT(t)
	startOperator(t)
	sp := sample(newNamespace(t), "revisions")
	g.Expect(suite.k8s.Create(context.Background(), sp)).To(Succeed())
	waitReady(t, sp, 60*time.Second)
	for i := 2; i <= 5; i++ {
		image := fmt.Sprintf("example.com/producer:%d", i)
		update(t, sp, func(s *streamingv1alpha1.StreamProcessor) { s.Spec.Producer.Image = image })
		g.Eventually(func(g Gomega) {
			td, err := suite.ecs.DescribeTaskDefinition(context.Background(), &ecs.DescribeTaskDefinitionInput{TaskDefinition: service(g, sp, producer).TaskDefinition})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(aws.ToString(td.TaskDefinition.ContainerDefinitions[0].Image)).To(Equal(image))
		}, 30*time.Second, 200*time.Millisecond).Should(Succeed())
	}
	family := serviceName(sp, producer)
	out, err := suite.ecs.ListTaskDefinitions(context.Background(), &ecs.ListTaskDefinitionsInput{FamilyPrefix: aws.String(family), Status: etypes.TaskDefinitionStatusActive})
	g.Expect(err).NotTo(HaveOccurred())
	var revisions []int
	for _, arn := range out.TaskDefinitionArns {
		if f, rev, ok := taskDefinitionRevision(arn); ok && f == family {
			revisions = append(revisions, rev)
		}
	}
	g.Expect(revisions).To(ConsistOf(3, 4, 5), "ACTIVE revisions of %s", family)
	for _, rev := range []int{1, 2} {
		td, err := suite.ecs.DescribeTaskDefinition(context.Background(), &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String(fmt.Sprintf("%s:%d", family, rev))})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(td.TaskDefinition.Status).To(Equal(etypes.TaskDefinitionStatusInactive), "revision %d", rev)
	}
	deleteAndWait(t, sp)
}

// TestTaskDefinitionsCarryRolesSecretsAndMemory reads the registered task
// definitions back from the ECS emulator: the producer runs with its own task
// role, the consumer with spec.ecs.taskRoleArn; secrets are the containers'
// secrets with their ARNs and absent from the environment; TASK_MEMORY_MIB
// is each task's memory; both log to spec.logs.group with awslogs. A valid
// secret spec is accepted by the API server.
func TestTaskDefinitionsCarryRolesSecretsAndMemory(t *testing.T) {
	requireSuite(t)
	g := NewWithT(t)
	startOperator(t)
	const (
		producerRole = "arn:aws:iam::123456789012:role/sp-producer"
		token        = "arn:aws:secretsmanager:us-east-1:123456789012:secret:team-a/auth-token-AbCdEf"
		password     = "arn:aws:ssm:us-east-1:123456789012:parameter/team-a/db-password"
	)
	sp := sample(newNamespace(t), "secrets")
	sp.Spec.Producer.TaskRoleARN = producerRole
	sp.Spec.Producer.Secrets = []streamingv1alpha1.SecretVar{{Name: "AUTH_TOKEN", ValueFrom: token}}
	sp.Spec.Consumer.Secrets = []streamingv1alpha1.SecretVar{{Name: "DB_PASSWORD", ValueFrom: password}, {Name: "AUTH_TOKEN", ValueFrom: token}}
	sp.Spec.Logs = &streamingv1alpha1.LogsSpec{Group: "/kdp/team-a"}
	g.Expect(suite.k8s.Create(context.Background(), sp)).To(Succeed())
	waitReady(t, sp, 60*time.Second)

	for _, tt := range []struct {
		workload, role, memory string
		secrets                map[string]string
	}{
		{producer, producerRole, "1024", map[string]string{"AUTH_TOKEN": token}},
		{consumer, suite.account.TaskRoleARN, "512", map[string]string{"DB_PASSWORD": password, "AUTH_TOKEN": token}},
	} {
		td, err := suite.ecs.DescribeTaskDefinition(context.Background(), &ecs.DescribeTaskDefinitionInput{TaskDefinition: service(g, sp, tt.workload).TaskDefinition})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(aws.ToString(td.TaskDefinition.TaskRoleArn)).To(Equal(tt.role), tt.workload)
		g.Expect(aws.ToString(td.TaskDefinition.ExecutionRoleArn)).To(Equal(suite.account.ExecutionRoleARN), tt.workload)
		c := td.TaskDefinition.ContainerDefinitions[0]
		secrets := map[string]string{}
		for _, s := range c.Secrets {
			secrets[aws.ToString(s.Name)] = aws.ToString(s.ValueFrom)
		}
		g.Expect(secrets).To(Equal(tt.secrets), tt.workload)
		env := map[string]string{}
		for _, kv := range c.Environment {
			env[aws.ToString(kv.Name)] = aws.ToString(kv.Value)
		}
		g.Expect(env).To(HaveKeyWithValue("TASK_MEMORY_MIB", tt.memory), tt.workload)
		g.Expect(env).NotTo(HaveKey("AUTH_TOKEN"), tt.workload)
		g.Expect(aws.ToString(td.TaskDefinition.Memory)).To(Equal(tt.memory), tt.workload)
		g.Expect(c.LogConfiguration).NotTo(BeNil(), tt.workload)
		g.Expect(c.LogConfiguration.LogDriver).To(Equal(etypes.LogDriverAwslogs), tt.workload)
		g.Expect(c.LogConfiguration.Options).To(Equal(map[string]string{
			"awslogs-group": "/kdp/team-a", "awslogs-region": os.Getenv("AWS_REGION"), "awslogs-stream-prefix": tt.workload,
		}), tt.workload)
	}
	// The pass after Ready registers no new revision: the log configuration
	// ECS answers with is the one asked for.
	g.Consistently(func(g Gomega) string { return get(g, sp).Status.Producer.TaskDefinitionARN }, 3*time.Second, 300*time.Millisecond).Should(HaveSuffix(":1"))
	deleteAndWait(t, sp)
}
