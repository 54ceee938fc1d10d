// Command manager runs the StreamProcessor operator.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
	"github.com/kdp-io/streamprocessor-operator/controllers"
	"github.com/kdp-io/streamprocessor-operator/internal/awsapi"
	"github.com/kdp-io/streamprocessor-operator/internal/gauges"
	"github.com/kdp-io/streamprocessor-operator/internal/metricsendpoint"
	"github.com/kdp-io/streamprocessor-operator/internal/override"
)

// version is set at build time: -ldflags "-X main.version=v0.1.0".
var version = "dev"

func main() {
	var (
		probeAddr     string
		leaderElect   bool
		concurrency   int
		pollInterval  time.Duration
		metricsMaxAge time.Duration
	)
	metricsOpts := metricsendpoint.Defaults()
	metricsOpts.BindFlags(flag.CommandLine)
	flag.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "Address of the /healthz and /readyz probes.")
	flag.BoolVar(&leaderElect, "leader-elect", true, "Elect a leader so that only one replica reconciles at a time.")
	flag.IntVar(&concurrency, "max-concurrent-reconciles", 4, "StreamProcessors reconciled in parallel.")
	flag.DurationVar(&metricsMaxAge, "metrics-max-age", 60*time.Second, "How long one batched CloudWatch GetMetricData answer serves every StreamProcessor of a region (equal to the scaling interval: ⌈objects × queries per object ÷ 500⌉ calls per interval; CloudWatch data is 1–3 min late anyway).")
	flag.DurationVar(&pollInterval, "poll-interval", controllers.DefaultPollInterval, "How soon to look again while AWS is busy (stream CREATING/UPDATING, tasks starting).")
	driftRecheck := flag.Duration("drift-recheck-interval", controllers.DefaultDriftRecheck, "How often a CloudWatch dashboard or log group found as wanted is read again to repair changes made outside the operator (they are read at once when the spec changes).")
	awsCallTimeout := flag.Duration("aws-call-timeout", 30*time.Second, "Bound on each attempt of an AWS call; an attempt not answered in time is retried (0: no bound).")
	awsRateLimit := flag.Bool("aws-rate-limit", true, "Pace AWS calls under each operation's default per-account rate (controllers.DefaultAWSRates), shared by all reconciles of a region.")
	leaderNamespace := flag.String("leader-election-namespace", "", "Namespace of the leader election Lease; empty means the pod's own namespace, which only exists in a cluster: set it when running outside one.")
	leaseDuration := flag.Duration("leader-election-lease-duration", 15*time.Second, "How long a leader's Lease holds without renewal before another replica may take it.")
	renewDeadline := flag.Duration("leader-election-renew-deadline", 10*time.Second, "How long the leader keeps trying to renew before it gives up leading (and exits).")
	retryPeriod := flag.Duration("leader-election-retry-period", 2*time.Second, "How often replicas try to acquire or renew the Lease.")
	cloudWatchMetrics := flag.Bool("cloudwatch-metrics", false, "Publish each StreamProcessor's open and target shards, reshard calls left and target tasks to CloudWatch (namespace StreamProcessor/Operator, one batched PutMetricData per region per minute) and plot them on its dashboard. Off by default: CloudWatch bills custom metrics per metric per month (docs/observability.md).")
	showVersion := flag.Bool("version", false, "Print the version and exit.")
	opts := zap.Options{}
	opts.BindFlags(flag.CommandLine)
	flag.Parse()
	if *showVersion {
		fmt.Println("manager", version)
		return
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts)))
	log := ctrl.Log.WithName("setup")

	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(streamingv1alpha1.AddToScheme(scheme))

	metricsServer, certWatcher, err := metricsOpts.ServerOptions()
	if err != nil {
		log.Error(err, "Unable to configure the metrics endpoint")
		os.Exit(1)
	}
	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{
		Scheme:                        scheme,
		Metrics:                       metricsServer,
		HealthProbeBindAddress:        probeAddr,
		LeaderElection:                leaderElect,
		LeaderElectionID:              "streamprocessor-operator.streaming.kdp.io",
		LeaderElectionReleaseOnCancel: true,
		LeaderElectionNamespace:       *leaderNamespace,
		LeaseDuration:                 leaseDuration,
		RenewDeadline:                 renewDeadline,
		RetryPeriod:                   retryPeriod,
		Controller:                    config.Controller{MaxConcurrentReconciles: concurrency},
	})
	if err != nil {
		log.Error(err, "Unable to create manager")
		os.Exit(1)
	}
	if certWatcher != nil {
		utilruntime.Must(mgr.Add(certWatcher))
	}

	calls := awsapi.NewCallsCounter()
	metrics.Registry.MustRegister(calls)
	awsClients := controllers.NewClientFactory(calls, awsClientOptions(*awsRateLimit, *awsCallTimeout)...)
	var publisher *controllers.MetricsPublisher
	if *cloudWatchMetrics {
		publisher = controllers.NewMetricsPublisher(time.Minute, controllers.PutMetricsOf(awsClients))
		utilruntime.Must(mgr.Add(publisher))
	}
	if err := (&controllers.StreamProcessorReconciler{
		Client:       mgr.GetClient(),
		Recorder:     mgr.GetEventRecorder("streamprocessor-operator"),
		AWS:          awsClients,
		Publisher:    publisher,
		Metrics:      controllers.NewMetricsBatcher(metricsMaxAge),
		LoadHistory:  controllers.NewLoadHistory(time.Hour),
		Clock:        clock.RealClock{},
		PollInterval: pollInterval,
		DriftRecheck: *driftRecheck,
	}).SetupWithManager(mgr); err != nil {
		log.Error(err, "Unable to set up controller")
		os.Exit(1)
	}
	// Lifts the pins of `kubectl sp scale --for` when they expire.
	if err := (&override.Reconciler{Client: mgr.GetClient(), Clock: clock.RealClock{}}).SetupWithManager(mgr); err != nil {
		log.Error(err, "Unable to set up the scale override controller")
		os.Exit(1)
	}
	// Per-StreamProcessor gauges, read from the manager's cache at scrape time.
	if err := gauges.Register(mgr, metrics.Registry); err != nil {
		log.Error(err, "Unable to register gauges")
		os.Exit(1)
	}
	utilruntime.Must(mgr.AddHealthzCheck("healthz", healthz.Ping))
	utilruntime.Must(mgr.AddReadyzCheck("readyz", healthz.Ping))

	log.Info("Starting manager")
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		log.Error(err, "Manager stopped with an error")
		os.Exit(1)
	}
}

func awsClientOptions(rateLimit bool, callTimeout time.Duration) []controllers.ClientOption {
	opts := []controllers.ClientOption{controllers.WithCallTimeout(callTimeout)}
	if !rateLimit {
		opts = append(opts, controllers.WithoutRateLimit())
	}
	return opts
}
