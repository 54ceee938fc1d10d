// Package testenv gives integration tests the endpoints of the local emulators
// started by hack/emulators.sh (kinesis-local, moto, dynalite).
//
// A test that needs an emulator calls Require, which skips the test when the
// emulator's endpoint variable is not set — unless SP_REQUIRE_EMULATORS=1, which
// `make test` sets, so a CI run can never pass by skipping integration tests.
package testenv

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// Variables naming the emulator endpoints, as written by hack/emulators.sh.
const (
	Kinesis    = "AWS_ENDPOINT_URL_KINESIS"
	DynamoDB   = "AWS_ENDPOINT_URL_DYNAMODB"
	ECS        = "AWS_ENDPOINT_URL_ECS"
	EC2        = "AWS_ENDPOINT_URL_EC2"
	CloudWatch = "AWS_ENDPOINT_URL_CLOUDWATCH"
	Logs       = "AWS_ENDPOINT_URL_LOGS"
)

// Require skips (or, under SP_REQUIRE_EMULATORS=1, fails) t unless every named
// endpoint variable is set and AWS_REGION is known. With -short it always skips.
func Require(t testing.TB, vars ...string) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: skipped with -short")
	}
	var missing []string
	for _, v := range append([]string{"AWS_REGION"}, vars...) {
		if os.Getenv(v) == "" {
			missing = append(missing, v)
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := fmt.Sprintf("emulators not configured (%s unset): run `make test`, or `hack/emulators.sh up && source .local/emulators.env`", strings.Join(missing, ", "))
	if os.Getenv("SP_REQUIRE_EMULATORS") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// UniqueName returns prefix followed by a suffix unique to this run, for AWS
// resources (streams, tables, clusters) that tests share one emulator for.
func UniqueName(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano()%1_000_000_000)
}
