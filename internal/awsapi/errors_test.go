package awsapi

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/aws/smithy-go"
)

func TestClassify(t *testing.T) {
	api := func(code string) error {
		return fmt.Errorf("update shard count: %w", &smithy.GenericAPIError{Code: code, Message: "m"})
	}
	tests := []struct {
		err  error
		want Kind
	}{
		{nil, KindNone},
		{errors.New("dial tcp: connection refused"), KindOther},
		{context.DeadlineExceeded, KindOther},
		{api("ResourceNotFoundException"), KindNotFound},
		{api("ServiceNotFoundException"), KindNotFound},
		{api("SomethingNotFoundException"), KindNotFound},
		{api("ResourceInUseException"), KindInUse},
		{api("LimitExceededException"), KindLimit},
		{api("ThrottlingException"), KindThrottled},
		{api("ProvisionedThroughputExceededException"), KindThrottled},
		{api("InvalidArgumentException"), KindInvalid},
		{api("InvalidParameterException"), KindInvalid},
		{api("ClusterNotFoundException"), KindInvalid},
		{api("ConditionalCheckFailedException"), KindConflict},
		{api("AccessDeniedException"), KindDenied},
		{api("AccessDenied"), KindDenied},
		{api("ExpiredTokenException"), KindDenied},
		{api("UnrecognizedClientException"), KindDenied},
		{api("InternalFailure"), KindOther},
	}
	for _, tt := range tests {
		if got := Classify(tt.err); got != tt.want {
			t.Errorf("Classify(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

func TestMessage(t *testing.T) {
	err := fmt.Errorf("create service: %w", &smithy.GenericAPIError{Code: "InvalidParameterException", Message: "subnet-1 not found"})
	if got, want := Message(err), "InvalidParameterException: subnet-1 not found"; got != want {
		t.Errorf("Message = %q, want %q", got, want)
	}
	if got := Message(errors.New("boom")); got != "boom" {
		t.Errorf("Message = %q, want boom", got)
	}
}
