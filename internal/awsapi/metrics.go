package awsapi

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"
	"github.com/prometheus/client_golang/prometheus"
)

// CallsMetricName is the Prometheus counter of AWS calls.
const CallsMetricName = "streamprocessor_aws_calls_total"

// NewCallsCounter returns the counter of AWS calls by service, operation and
// outcome (ok, or the error's Kind). Register it once per process.
func NewCallsCounter() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: CallsMetricName,
		Help: "AWS API calls by service, operation and outcome (ok or an error kind: NotFound, Throttled, InUse, LimitExceeded, Invalid, Other).",
	}, []string{"service", "operation", "outcome"})
}

// Instrument adds a middleware to cfg that counts every call made by clients
// built from cfg — once per call, after the SDK's retries.
func Instrument(cfg *aws.Config, calls *prometheus.CounterVec) {
	cfg.APIOptions = append(cfg.APIOptions, func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("CountAWSCalls",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				out, md, err := next.HandleInitialize(ctx, in)
				outcome := "ok"
				if err != nil {
					outcome = string(Classify(err))
					if errors.Is(err, context.Canceled) {
						outcome = "Canceled"
					}
				}
				calls.WithLabelValues(awsmiddleware.GetServiceID(ctx), awsmiddleware.GetOperationName(ctx), outcome).Inc()
				return out, md, err
			}), middleware.After)
	})
}
