package producer

import (
	"github.com/kdp-io/streamprocessor-operator/internal/awsapi"
)

// classify maps a Kinesis or CloudWatch error to the producer's metric
// outcome, on the project's one error mapping (internal/awsapi): "throttled"
// for throughput and rate limits (retry, Kinesis is healthy), "not_found" for
// a missing stream, "error" for everything else (network, server).
func classify(err error) string {
	switch awsapi.Classify(err) {
	case awsapi.KindThrottled, awsapi.KindLimit:
		return "throttled"
	case awsapi.KindNotFound:
		return "not_found"
	}
	return "error"
}

// classifyOutcome is classify, with "ok" for a nil error.
func classifyOutcome(err error) string {
	if err == nil {
		return "ok"
	}
	return classify(err)
}
