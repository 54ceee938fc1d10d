package controllers

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	. "github.com/onsi/gomega"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
)

// TestProcessorReachesTheConsumerTaskDefinition: spec.consumer.processor is
// in the consumer task definition ECS (moto) stores, as PROCESSOR_COMMAND and
// PROPERTIES_FILE; removing it registers a revision without them (the
// built-in mode) and the service moves to it.
func TestProcessorReachesTheConsumerTaskDefinition(t *testing.T) {
	requireSuite(t)
	g := NewWithT(t)
	startOperator(t)
	sp := sample(newNamespace(t), "python")
	sp.Spec.Consumer.Processor = &streamingv1alpha1.ProcessorSpec{Command: "/app/record_processor.py", PropertiesFile: "/app/sample.properties"}
	g.Expect(suite.k8s.Create(context.Background(), sp)).To(Succeed())
	waitReady(t, sp, 60*time.Second)

	envOf := func(g Gomega, workload string) map[string]string {
		td, err := suite.ecs.DescribeTaskDefinition(context.Background(), &ecs.DescribeTaskDefinitionInput{TaskDefinition: service(g, sp, workload).TaskDefinition})
		g.Expect(err).NotTo(HaveOccurred())
		env := map[string]string{}
		for _, kv := range td.TaskDefinition.ContainerDefinitions[0].Environment {
			env[aws.ToString(kv.Name)] = aws.ToString(kv.Value)
		}
		return env
	}
	cenv := envOf(g, consumer)
	g.Expect(cenv).To(HaveKeyWithValue("PROCESSOR_COMMAND", "/app/record_processor.py"))
	g.Expect(cenv).To(HaveKeyWithValue("PROPERTIES_FILE", "/app/sample.properties"))
	g.Expect(cenv).To(HaveKey("STREAM_NAME"), "the operator's variables fill the properties file's placeholders")
	g.Expect(envOf(g, producer)).NotTo(HaveKey("PROCESSOR_COMMAND"))

	latest := get(g, sp)
	latest.Spec.Consumer.Processor = nil
	g.Expect(suite.k8s.Update(context.Background(), latest)).To(Succeed())
	g.Eventually(func(g Gomega) map[string]string { return envOf(g, consumer) }, 30*time.Second, 500*time.Millisecond).
		ShouldNot(Or(HaveKey("PROCESSOR_COMMAND"), HaveKey("PROPERTIES_FILE")))
	deleteAndWait(t, sp)
}
