package alb_test

import (
	"testing"

	"github.com/kdp-io/streamprocessor-operator/internal/devstack/fargate/fargatetest"
)

// taskServer is the test workload binary, built once by TestMain.
var taskServer string

func TestMain(m *testing.M) { fargatetest.Main(m, &taskServer) }
