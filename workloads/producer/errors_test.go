package producer

import (
	"errors"
	"fmt"
	"testing"

	"github.com/aws/smithy-go"
)

func TestClassify(t *testing.T) {
	api := func(code string) error {
		return fmt.Errorf("put records: %w", &smithy.GenericAPIError{Code: code})
	}
	for _, tt := range []struct {
		err  error
		want string
	}{
		{nil, "ok"},
		{api("ProvisionedThroughputExceededException"), "throttled"},
		{api("LimitExceededException"), "throttled"},
		{api("KMSThrottlingException"), "throttled"},
		{api("ResourceNotFoundException"), "not_found"},
		{api("InternalFailure"), "error"},
		{errors.New("connection refused"), "error"},
	} {
		if got := classifyOutcome(tt.err); got != tt.want {
			t.Errorf("classifyOutcome(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}
