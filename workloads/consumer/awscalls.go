package consumer

import (
	"github.com/aws/smithy-go/middleware"

	"github.com/kdp-io/streamprocessor-operator/internal/awsapi"
)

// CountAWSCalls is an SDK client option (for the APIOptions of any service
// client) that counts every call in
// streamprocessor_aws_calls_total{service,operation,outcome}, the same metric
// the operator exports (internal/awsapi): outcome ok, or the error's kind —
// Conflict for a lost conditional write (a lease moved), Throttled,
// LimitExceeded, NotFound, Invalid, Other.
func (m *Metrics) CountAWSCalls(stack *middleware.Stack) error {
	return awsapi.CountCalls(m.awsCalls)(stack)
}
