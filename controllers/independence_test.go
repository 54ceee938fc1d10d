package controllers

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/smithy-go"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
)

// refusedProducerECS is the real ECS client refusing to register the
// producer's task definitions while refuse is set, as ECS refuses a bad
// image or role: a fault injected over the emulator.
type refusedProducerECS struct {
	ECSAPI
	refuse *atomic.Bool
}

func (e refusedProducerECS) RegisterTaskDefinition(ctx context.Context, in *ecs.RegisterTaskDefinitionInput, optFns ...func(*ecs.Options)) (*ecs.RegisterTaskDefinitionOutput, error) {
	if e.refuse.Load() && strings.HasSuffix(aws.ToString(in.Family), "-"+producer) {
		return nil, fmt.Errorf("operation error ECS: RegisterTaskDefinition: %w", &smithy.GenericAPIError{
			Code: "ClientException", Message: "Invalid image reference for the producer",
		})
	}
	return e.ECSAPI.RegisterTaskDefinition(ctx, in, optFns...)
}

// TestFailingProducerDoesNotStopConsumerOrShards: while AWS refuses the
// producer's task definition, the producer's condition says so and the
// consumer and the shard count still converge; once it is accepted, the
// pipeline becomes Ready.
func TestFailingProducerDoesNotStopConsumerOrShards(t *testing.T) {
	requireSuite(t)
	g := NewWithT(t)
	refuse := &atomic.Bool{}
	refuse.Store(true)
	op := startOperator(t, func(r *StreamProcessorReconciler) {
		real := r.AWS
		r.AWS = func(ctx context.Context, region string) (Clients, error) {
			c, err := real(ctx, region)
			c.ECS = refusedProducerECS{ECSAPI: c.ECS, refuse: refuse}
			return c, err
		}
	})
	sp := sample(newNamespace(t), "independent")
	g.Expect(suite.k8s.Create(context.Background(), sp)).To(Succeed())

	g.Eventually(func(g Gomega) {
		got := get(g, sp)
		c := findCondition(got, ConditionProducerReady)
		g.Expect(c).NotTo(BeNil())
		g.Expect(c.Reason).To(Equal(ReasonInvalidSpec))
		g.Expect(c.Message).To(ContainSubstring("Invalid image reference"))
		g.Expect(conditionStatus(got, ConditionConsumerReady)).To(Equal(metav1.ConditionTrue))
		g.Expect(conditionStatus(got, ConditionStreamReady)).To(Equal(metav1.ConditionTrue))
	}, 60*time.Second, 200*time.Millisecond).Should(Succeed())

	// Changes to the consumer and the shards still happen.
	update(t, sp, func(s *streamingv1alpha1.StreamProcessor) {
		s.Spec.Stream.MinShards = 2
		s.Spec.Consumer.MinTasks = 2
	})
	g.Eventually(func(g Gomega) {
		open, _ := streamSummary(g, sp)
		g.Expect(open).To(Equal(int32(2)))
		g.Expect(service(g, sp, consumer).DesiredCount).To(Equal(int32(2)))
	}, 60*time.Second, 200*time.Millisecond).Should(Succeed())
	g.Expect(op.callCount("ECS", "CreateService", "ok")).To(Equal(1), "only the consumer's service")
	g.Expect(conditionStatus(get(g, sp), ConditionReady)).To(Equal(metav1.ConditionFalse))

	refuse.Store(false) // the long retry (5 s in tests) creates the producer
	waitReady(t, sp, 60*time.Second)
	g.Expect(service(g, sp, producer).DesiredCount).To(Equal(int32(1)))
	deleteAndWait(t, sp)
}
