package fargate_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/kdp-io/streamprocessor-operator/internal/devstack/fargate/fargatetest"
)

// taskServer is the test workload binary, built once by TestMain.
var taskServer string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "fargate-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if taskServer, err = fargatetest.BuildTaskServer(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}
