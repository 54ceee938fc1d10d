package controllers

import (
	"strings"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
)

// Workload names, used in service, family and container names.
const (
	producer = "producer"
	consumer = "consumer"
)

// streamName is the stream's name: spec.stream.name, or <namespace>-<name>.
// The CRD bounds the result to Kinesis's 128 characters.
func streamName(sp *streamingv1alpha1.StreamProcessor) string {
	if sp.Spec.Stream.Name != "" {
		return sp.Spec.Stream.Name
	}
	return sp.Namespace + "-" + sp.Name
}

// serviceName is the deterministic name of a workload's ECS service, also its
// task definition family: <stream>-<workload>, with the '.' that stream names
// allow and ECS names do not replaced by '-'. Deterministic names make a crash
// between create and status write harmless: the next pass finds and adopts it.
func serviceName(sp *streamingv1alpha1.StreamProcessor, workload string) string {
	return strings.ReplaceAll(streamName(sp), ".", "-") + "-" + workload
}

// applicationName is the consumer's KCL application name, which names its
// DynamoDB lease table.
func applicationName(sp *streamingv1alpha1.StreamProcessor) string {
	return serviceName(sp, consumer)
}
