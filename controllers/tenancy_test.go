package controllers

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/smithy-go"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
)

// TestSecondStreamProcessorNamingTheSameStreamIsRefused: a StreamProcessor in
// another namespace that names the first one's stream — even with adopt and
// deletionPolicy Delete — is refused with OwnedByAnother naming the first,
// once (one Warning event, no hot loop), changes nothing, and deleting it
// leaves the first's stream, services and lease table as they were.
func TestSecondStreamProcessorNamingTheSameStreamIsRefused(t *testing.T) {
	requireSuite(t)
	g := NewWithT(t)
	op := startOperator(t)
	first := sample(newNamespace(t), "first")
	first.Spec.Stream.RetentionHours = 24
	g.Expect(suite.k8s.Create(context.Background(), first)).To(Succeed())
	ready := waitReady(t, first, 60*time.Second)
	createLeaseTable(t, applicationName(ready)) // as the first's consumer would

	second := sample(newNamespace(t), "second")
	second.Spec.Stream.Name = first.Spec.Stream.Name
	second.Spec.Stream.Adopt = true // a living owner's stream is never adopted
	second.Spec.Stream.RetentionHours = 72
	second.Spec.Stream.DeletionPolicy = streamingv1alpha1.DeletionPolicyDelete
	g.Expect(suite.k8s.Create(context.Background(), second)).To(Succeed())

	owner := first.Namespace + "/first"
	g.Eventually(func(g Gomega) {
		got := get(g, second)
		for _, ct := range []string{ConditionReady, ConditionStreamReady, ConditionProducerReady, ConditionConsumerReady} {
			c := findCondition(got, ct)
			g.Expect(c).NotTo(BeNil(), ct)
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse), ct)
			g.Expect(c.Reason).To(Equal(ReasonOwnedByAnother), ct)
			g.Expect(c.Message).To(ContainSubstring(owner), ct)
		}
	}, 30*time.Second, 200*time.Millisecond).Should(Succeed())

	// Terminal: no hot loop, one Warning event, nothing changed.
	tagCalls := op.callCount("Kinesis", "ListTagsForStream", "ok")
	g.Consistently(func(g Gomega) {
		g.Expect(streamTags(g, first.Spec.Stream.Name)).To(HaveKeyWithValue(TagOwnerUID, string(ready.UID)))
	}, 3*time.Second, 250*time.Millisecond).Should(Succeed())
	g.Expect(op.callCount("Kinesis", "ListTagsForStream", "ok")-tagCalls).To(BeNumerically("<=", 12),
		"the first's own passes only; the refused object is not retried in a loop")
	g.Expect(eventNotes(g, second, EventOwnedByAnother)).To(HaveLen(1))
	out, err := suite.kinesis.DescribeStreamSummary(context.Background(), &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(first.Spec.Stream.Name)})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(aws.ToInt32(out.StreamDescriptionSummary.RetentionPeriodHours)).To(Equal(int32(24)), "the second changed the first's retention")
	got := get(g, second)
	g.Expect(got.Status.Stream.ARN).To(BeEmpty(), "a refused stream is not recorded as the second's")
	g.Expect(got.Status.LeaseTable.Owned).To(BeFalse())
	g.Expect(got.Status.Producer.ServiceName).NotTo(Equal(ready.Status.Producer.ServiceName), "services are named after the object, not the stream")

	deleteAndWait(t, second)

	// The first's pipeline is intact and running.
	open, status := streamSummary(g, first)
	g.Expect(status).To(Equal("ACTIVE"))
	g.Expect(open).To(Equal(int32(1)))
	g.Expect(streamTags(g, first.Spec.Stream.Name)).To(HaveKeyWithValue(TagOwnerUID, string(ready.UID)))
	for _, w := range []string{producer, consumer} {
		svc := service(g, ready, w)
		g.Expect(aws.ToString(svc.Status)).To(Equal("ACTIVE"), w)
		g.Expect(svc.DesiredCount).To(Equal(int32(1)), w)
	}
	g.Expect(leaseTableExists(t, applicationName(ready))).To(BeTrue(), "the first's lease table")
	g.Expect(eventReasons(g, second)).NotTo(ContainElements(EventStreamDeleted, EventServiceDeleted, EventLeaseTableDeleted))
	update(t, first, func(s *streamingv1alpha1.StreamProcessor) { s.Annotations = map[string]string{"poke": "1"} })
	waitReady(t, first, 30*time.Second)

	deleteAndWait(t, first)
	g.Eventually(func() bool { return leaseTableExists(t, applicationName(ready)) }, 10*time.Second, 200*time.Millisecond).Should(BeFalse(), "the first's own deletion deletes its table")
}

// deniedECS is the real ECS client with DeleteService answering AccessDenied
// while deny is set: a fault injected over the emulator.
type deniedECS struct {
	ECSAPI
	deny *atomic.Bool
}

func (d deniedECS) DeleteService(ctx context.Context, in *ecs.DeleteServiceInput, optFns ...func(*ecs.Options)) (*ecs.DeleteServiceOutput, error) {
	if d.deny.Load() {
		return nil, fmt.Errorf("operation error ECS: DeleteService: %w", &smithy.GenericAPIError{
			Code: "AccessDeniedException", Message: "User is not authorized to perform: ecs:DeleteService",
		})
	}
	return d.ECSAPI.DeleteService(ctx, in, optFns...)
}

// TestFinalizerKeepsObjectWhenECSDeniesAccess: AccessDenied is not "gone":
// the finalizer stays, Ready says what is missing, the stream is kept, and
// once the permission is back the deletion completes.
func TestFinalizerKeepsObjectWhenECSDeniesAccess(t *testing.T) {
	requireSuite(t)
	g := NewWithT(t)
	deny := &atomic.Bool{}
	startOperator(t, func(r *StreamProcessorReconciler) {
		real := r.AWS
		r.AWS = func(ctx context.Context, region string) (Clients, error) {
			c, err := real(ctx, region)
			c.ECS = deniedECS{ECSAPI: c.ECS, deny: deny}
			return c, err
		}
	})
	sp := sample(newNamespace(t), "denied")
	g.Expect(suite.k8s.Create(context.Background(), sp)).To(Succeed())
	waitReady(t, sp, 60*time.Second)

	deny.Store(true)
	g.Expect(suite.k8s.Delete(context.Background(), sp)).To(Succeed())
	g.Eventually(func(g Gomega) {
		got := get(g, sp)
		c := findCondition(got, ConditionReady)
		g.Expect(c.Reason).To(Equal(ReasonAccessDenied))
		g.Expect(c.Message).To(And(ContainSubstring("delete service "+serviceName(sp, producer)), ContainSubstring("ecs:DeleteService")))
	}, 30*time.Second, 200*time.Millisecond).Should(Succeed())
	g.Consistently(func(g Gomega) {
		g.Expect(get(g, sp).Finalizers).To(ContainElement(Finalizer))
		_, status := streamSummary(g, sp)
		g.Expect(status).To(Equal("ACTIVE"), "the stream is not deleted while a service may still run")
		g.Expect(aws.ToString(service(g, sp, consumer).Status)).To(Equal("ACTIVE"))
	}, 3*time.Second, 250*time.Millisecond).Should(Succeed())
	g.Expect(eventNotes(g, sp, EventDeletionBlocked)).To(HaveLen(1))

	deny.Store(false) // the long retry (5 s in tests) finishes the deletion
	g.Eventually(func() bool {
		err := suite.k8s.Get(context.Background(), client.ObjectKeyFromObject(sp), &streamingv1alpha1.StreamProcessor{})
		return apierrors.IsNotFound(err)
	}, 60*time.Second, 200*time.Millisecond).Should(BeTrue())
	g.Eventually(func() error {
		_, err := suite.kinesis.DescribeStreamSummary(context.Background(), &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(streamName(sp))})
		return err
	}, 10*time.Second, 200*time.Millisecond).Should(MatchError(ContainSubstring("ResourceNotFoundException")))
}

// TestUnresolvableRegionWithNothingCreatedCanBeDeleted: deletion runs before
// any AWS client is built, so an object whose clients cannot be built, and
// that never created anything, is not stuck.
func TestUnresolvableRegionWithNothingCreatedCanBeDeleted(t *testing.T) {
	requireSuite(t)
	g := NewWithT(t)
	startOperator(t, func(r *StreamProcessorReconciler) {
		real := r.AWS
		r.AWS = func(ctx context.Context, region string) (Clients, error) {
			if region == "zz-nowhere-1" {
				return Clients{}, errors.New("no endpoint for region zz-nowhere-1")
			}
			return real(ctx, region)
		}
	})
	sp := sample(newNamespace(t), "nowhere")
	sp.Spec.Region = "zz-nowhere-1"
	g.Expect(suite.k8s.Create(context.Background(), sp)).To(Succeed())
	g.Eventually(func(g Gomega) {
		got := get(g, sp)
		g.Expect(got.Finalizers).To(BeEmpty(), "no finalizer before clients exist")
		g.Expect(findCondition(got, ConditionReady)).NotTo(BeNil())
		g.Expect(findCondition(got, ConditionReady).Message).To(ContainSubstring("zz-nowhere-1"))
	}, 30*time.Second, 200*time.Millisecond).Should(Succeed())

	// With a finalizer (added by an earlier pass, say) and nothing created.
	update(t, sp, func(s *streamingv1alpha1.StreamProcessor) { s.Finalizers = []string{Finalizer} })
	deleteAndWait(t, sp)
}
