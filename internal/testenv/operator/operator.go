// Package operator runs the StreamProcessor manager inside a test process,
// wired as cmd/manager wires it, for the suites outside package controllers
// (which cannot import this package: it imports controllers).
package operator

import (
	"context"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/kdp-io/streamprocessor-operator/controllers"
	"github.com/kdp-io/streamprocessor-operator/internal/awsapi"
)

// Options shorten the manager's timing for tests.
type Options struct {
	// PollInterval is how soon a pass that waits on AWS looks again.
	PollInterval time.Duration
	// MetricsMaxAge is how long one GetMetricData answer serves (cmd/manager: 30 s).
	MetricsMaxAge time.Duration
}

// Start runs a manager with the StreamProcessor reconciler against cfg until t
// ends. AWS clients come from the environment's AWS_ENDPOINT_URL_* variables,
// as in cmd/manager.
func Start(t *testing.T, cfg *rest.Config, scheme *runtime.Scheme, o Options) {
	t.Helper()
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		// Tests may start more than one manager in this process.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatalf("new manager: %v", err)
	}
	r := &controllers.StreamProcessorReconciler{
		Client:       mgr.GetClient(),
		Recorder:     mgr.GetEventRecorder("streamprocessor-operator"),
		AWS:          controllers.NewClientFactory(awsapi.NewCallsCounter(), controllers.WithCallTimeout(15*time.Second)),
		Metrics:      controllers.NewMetricsBatcher(o.MetricsMaxAge),
		Clock:        clock.RealClock{},
		PollInterval: o.PollInterval,
	}
	if err := r.SetupWithManager(mgr); err != nil {
		t.Fatalf("set up reconciler: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := mgr.Start(ctx); err != nil {
			t.Errorf("manager: %v", err)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
}
