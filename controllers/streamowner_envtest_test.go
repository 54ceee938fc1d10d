package controllers

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
)

// TestSteadyPassesSkipStreamTagsButNotBeforeAChange, on kinesis-local: once
// Ready, passes describe the stream but do not list its tags again (within
// the drift recheck interval); a stream retagged by hand for another object
// is found out by the first pass that would change it — the retention the
// spec then asks for is refused, not set — and deleting the object leaves
// the stream.
func TestSteadyPassesSkipStreamTagsButNotBeforeAChange(t *testing.T) {
	requireSuite(t)
	g := NewWithT(t)
	op := startOperator(t, func(r *StreamProcessorReconciler) { r.DriftRecheck = time.Hour })
	sp := sample(newNamespace(t), "steady-tags")
	sp.Spec.Stream.RetentionHours = 24
	created := time.Now()
	g.Expect(suite.k8s.Create(context.Background(), sp)).To(Succeed())
	ready := waitReady(t, sp, 60*time.Second)

	describes, tagReads := op.callCount("Kinesis", "DescribeStreamSummary", "ok"), op.callCount("Kinesis", "ListTagsForStream", "ok")
	for i := range 3 {
		before := op.callCount("Kinesis", "DescribeStreamSummary", "ok")
		update(t, sp, func(s *streamingv1alpha1.StreamProcessor) {
			s.Annotations = map[string]string{"poke": string(rune('a' + i))}
		})
		g.Eventually(func() int { return op.callCount("Kinesis", "DescribeStreamSummary", "ok") }, 10*time.Second, 50*time.Millisecond).Should(BeNumerically(">", before))
	}
	waitReady(t, sp, 10*time.Second)
	g.Expect(op.callCount("Kinesis", "DescribeStreamSummary", "ok") - describes).To(BeNumerically(">=", 3))
	// The uid is the API server's: its recheck point may fall (rarely)
	// within the test, and then one read is the rule, not a miss; a read
	// per pass is still three.
	allowed := 0
	if !nextRecheck(created, time.Hour, recheckPhase(ready.UID, recheckStreamOwner, time.Hour)).After(time.Now()) {
		allowed = 1
	}
	g.Expect(op.callCount("Kinesis", "ListTagsForStream", "ok")-tagReads).To(BeNumerically("<=", allowed), "steady passes listed the stream's tags")

	// Retagged by hand: the stream now names an object that does not exist.
	_, err := suite.kinesis.AddTagsToStream(context.Background(), &kinesis.AddTagsToStreamInput{
		StreamName: aws.String(streamName(ready)),
		Tags:       map[string]string{TagOwnerUID: "someone-else", TagOwnerName: "gone-owner"},
	})
	g.Expect(err).NotTo(HaveOccurred())
	update(t, sp, func(s *streamingv1alpha1.StreamProcessor) { s.Spec.Stream.RetentionHours = 48 })
	g.Eventually(func(g Gomega) {
		c := findCondition(get(g, sp), ConditionStreamReady)
		g.Expect(c).NotTo(BeNil())
		g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
		g.Expect(c.Reason).To(Equal(ReasonAdoptionRequired))
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())
	retention := func(g Gomega) int32 {
		out, err := suite.kinesis.DescribeStreamSummary(context.Background(), &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(streamName(ready))})
		g.Expect(err).NotTo(HaveOccurred())
		return aws.ToInt32(out.StreamDescriptionSummary.RetentionPeriodHours)
	}
	g.Consistently(retention, 2*time.Second, 250*time.Millisecond).Should(Equal(int32(24)), "retention of a stream that is no longer the object's")

	deleteAndWait(t, sp)
	g.Expect(retention(g)).To(Equal(int32(24)), "the stream outlives the object that no longer owns it")
	_, err = suite.kinesis.DeleteStream(context.Background(), &kinesis.DeleteStreamInput{StreamName: aws.String(streamName(ready))})
	g.Expect(err).NotTo(HaveOccurred())
}
