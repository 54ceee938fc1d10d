package controllers

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
)

// streamMode is the stream's capacity mode as kinesis-local reports it.
func streamMode(g Gomega, sp *streamingv1alpha1.StreamProcessor) string {
	out, err := suite.kinesis.DescribeStreamSummary(context.Background(), &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(streamName(sp))})
	g.Expect(err).NotTo(HaveOccurred())
	if d := out.StreamDescriptionSummary.StreamModeDetails; d != nil {
		return string(d.StreamMode)
	}
	return ""
}

// TestCapacityModeSwitchesWithinAWSLimit: a StreamProcessor created
// OnDemand gets an on-demand stream; switched to Provisioned and back, each
// by one UpdateStreamMode recorded in status.stream.modeSwitches; the third
// switch within 24 hours is not made (kinesis-local does not enforce AWS's
// limit: the operator's ledger does) and is reported on StreamReady and in a
// Warning event, while the stream and services stay as they are.
func TestCapacityModeSwitchesWithinAWSLimit(t *testing.T) {
	requireSuite(t)
	g := NewWithT(t)
	op := startOperator(t)
	sp := sample(newNamespace(t), "modes")
	sp.Spec.Stream.CapacityMode = streamingv1alpha1.CapacityOnDemand
	g.Expect(suite.k8s.Create(context.Background(), sp)).To(Succeed())
	t.Cleanup(func() { deleteAndWait(t, sp) })

	got := waitReady(t, sp, 60*time.Second)
	g.Expect(streamMode(g, sp)).To(Equal("ON_DEMAND"))
	g.Expect(got.Status.Stream.Mode).To(Equal("ON_DEMAND"))
	g.Expect(got.Status.Stream.ModeSwitches).To(BeEmpty())
	g.Expect(eventNotes(g, sp, EventStreamCreated)).To(ContainElement(ContainSubstring("on-demand")))

	switchTo := func(mode streamingv1alpha1.CapacityMode, want string, ledger int) {
		t.Helper()
		update(t, sp, func(cur *streamingv1alpha1.StreamProcessor) { cur.Spec.Stream.CapacityMode = mode })
		NewWithT(t).Eventually(func(g Gomega) {
			g.Expect(streamMode(g, sp)).To(Equal(want))
			cur := get(g, sp)
			g.Expect(cur.Status.Stream.Mode).To(Equal(want))
			g.Expect(cur.Status.Stream.ModeSwitches).To(HaveLen(ledger))
			g.Expect(cur.Status.ObservedGeneration).To(Equal(cur.Generation))
			g.Expect(conditionStatus(cur, ConditionReady)).To(Equal(metav1.ConditionTrue), "Ready: %+v", cur.Status.Conditions)
		}, 60*time.Second, 200*time.Millisecond).Should(Succeed())
	}
	switchTo(streamingv1alpha1.CapacityProvisioned, "PROVISIONED", 1)
	switchTo(streamingv1alpha1.CapacityOnDemand, "ON_DEMAND", 2)
	g.Eventually(func(g Gomega) []string { return eventNotes(g, sp, EventModeSwitched) }, 10*time.Second).Should(HaveLen(2))

	update(t, sp, func(cur *streamingv1alpha1.StreamProcessor) {
		cur.Spec.Stream.CapacityMode = streamingv1alpha1.CapacityProvisioned
	})
	g.Eventually(func(g Gomega) {
		cur := get(g, sp)
		c := findCondition(cur, ConditionStreamReady)
		g.Expect(c).NotTo(BeNil())
		g.Expect(c.Reason).To(Equal(ReasonModeSwitchBudgetSpent))
		g.Expect(c.Message).To(ContainSubstring("2 capacity-mode switches per stream per rolling 24 hours"))
		g.Expect(conditionStatus(cur, ConditionReady)).To(Equal(metav1.ConditionFalse))
	}, 30*time.Second, 200*time.Millisecond).Should(Succeed())
	g.Eventually(func(g Gomega) []string { return eventNotes(g, sp, EventModeSwitchWaiting) }, 10*time.Second).Should(
		ContainElement(ContainSubstring("the next is possible at")))
	g.Consistently(func(g Gomega) string { return streamMode(g, sp) }, 3*time.Second, 250*time.Millisecond).Should(Equal("ON_DEMAND"))
	g.Expect(get(g, sp).Status.Stream.ModeSwitches).To(HaveLen(2))
	g.Expect(op.callCount("Kinesis", "UpdateStreamMode", "ok")).To(Equal(2))
	for _, outcome := range []string{"InUse", "LimitExceeded", "Invalid", "Other"} {
		g.Expect(op.callCount("Kinesis", "UpdateStreamMode", outcome)).To(BeZero(), "UpdateStreamMode calls refused with %s", outcome)
	}
	g.Expect(strings.Join(eventReasons(g, sp), ",")).NotTo(ContainSubstring(EventInvalidSpec))
}
