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
		Help: "AWS API calls by service, operation and outcome (ok, Canceled, or an error kind: NotFound, Throttled, InUse, LimitExceeded, Conflict, Invalid, Other).",
	}, []string{"service", "operation", "outcome"})
}

// Instrument adds CountCalls(calls) to cfg, so every client built from cfg
// is counted.
func Instrument(cfg *aws.Config, calls *prometheus.CounterVec) {
	cfg.APIOptions = append(cfg.APIOptions, CountCalls(calls))
}

// CountCalls returns an SDK client option (for a client's APIOptions) that
// counts every call in calls by service, operation and outcome: once per
// call, after the SDK's retries.
func CountCalls(calls *prometheus.CounterVec) func(*middleware.Stack) error {
	return func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("CountAWSCalls",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				out, md, err := next.HandleInitialize(ctx, in)
				calls.WithLabelValues(awsmiddleware.GetServiceID(ctx), awsmiddleware.GetOperationName(ctx), Outcome(err)).Inc()
				return out, md, err
			}), middleware.After)
	}
}

// Outcome is the outcome label of a call's error: "ok", "Canceled", or its Kind.
func Outcome(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, context.Canceled):
		return "Canceled"
	}
	return string(Classify(err))
}
