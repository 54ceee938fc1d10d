package consumer

import (
	"context"
	"errors"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
)

// CountAWSCalls returns an SDK client option (for the APIOptions of any
// service client) that counts every call in
// streamprocessor_consumer_aws_calls_total{service,operation,outcome}, where
// outcome is success, throttled, conflict (a failed DynamoDB condition: a lease
// moved) or error.
func (m *Metrics) CountAWSCalls(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("CountAWSCalls",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			out, md, err := next.HandleInitialize(ctx, in)
			m.awsCalls.WithLabelValues(awsmiddleware.GetServiceID(ctx), awsmiddleware.GetOperationName(ctx), outcome(err)).Inc()
			return out, md, err
		}), middleware.After)
}

func outcome(err error) string {
	if err == nil {
		return "success"
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "ProvisionedThroughputExceededException", "LimitExceededException", "ThrottlingException", "RequestLimitExceeded", "KMSThrottlingException":
			return "throttled"
		case "ConditionalCheckFailedException":
			return "conflict"
		}
	}
	return "error"
}
