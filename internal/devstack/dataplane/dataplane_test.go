package dataplane

import (
	"maps"
	"testing"
)

func TestAWSEnvKeepsOnlyAWSVariables(t *testing.T) {
	got := AWSEnv([]string{"AWS_REGION=us-east-1", "HOME=/root", "AWS_ENDPOINT_URL_KINESIS=http://x=y", "PATH=/bin"})
	want := map[string]string{"AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL_KINESIS": "http://x=y"}
	if !maps.Equal(got, want) {
		t.Errorf("AWSEnv = %v, want %v", got, want)
	}
}
