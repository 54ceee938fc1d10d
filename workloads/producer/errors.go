package producer

import (
	"errors"

	"github.com/aws/smithy-go"
)

// classify maps a PutRecords error to a metric outcome: "throttled" for
// throughput and rate limits (retry, Kinesis is healthy), "not_found" for a
// missing stream, "error" for everything else (network, server).
func classify(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode() {
		case "ProvisionedThroughputExceededException", "LimitExceededException", "ThrottlingException",
			"KMSThrottlingException", "RequestLimitExceeded":
			return "throttled"
		case "ResourceNotFoundException":
			return "not_found"
		}
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
