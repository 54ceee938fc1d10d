// Command manager runs the StreamProcessor operator.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/go-logr/logr"
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

// options are the manager's flags.
type options struct {
	metrics                                      metricsendpoint.Options
	zap                                          zap.Options
	probeAddr, leaderNamespace                   string
	leaderElect, awsRateLimit, cloudWatchMetrics bool
	showVersion                                  bool
	concurrency                                  int
	pollInterval, metricsMaxAge, driftRecheck    time.Duration
	awsCallTimeout                               time.Duration
	leaseDuration, renewDeadline, retryPeriod    time.Duration
}

func main() {
	o := parseFlags()
	if o.showVersion {
		fmt.Println("manager", version)
		return
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&o.zap)))
	log := ctrl.Log.WithName("setup")

	mgr, err := newManager(o)
	exitIf(log, err, "Unable to create manager")
	exitIf(log, addReconcilers(mgr, o), "Unable to set up controller")
	log.Info("Starting manager")
	exitIf(log, mgr.Start(ctrl.SetupSignalHandler()), "Manager stopped with an error")
}

// parseFlags reads the command line.
func parseFlags() options {
	o := options{metrics: metricsendpoint.Defaults()}
	o.metrics.BindFlags(flag.CommandLine)
	flag.StringVar(&o.probeAddr, "health-probe-bind-address", ":8081", "Address of the /healthz and /readyz probes.")
	flag.BoolVar(&o.leaderElect, "leader-elect", true, "Elect a leader so that only one replica reconciles at a time.")
	flag.IntVar(&o.concurrency, "max-concurrent-reconciles", 4, "StreamProcessors reconciled in parallel.")
	flag.DurationVar(&o.metricsMaxAge, "metrics-max-age", 60*time.Second, "How long one batched CloudWatch GetMetricData answer serves every StreamProcessor of a region (at most; a batch is also refetched once a newer minute of the producers' points has settled, MetricSettle after the minute: ⌈objects × queries per object ÷ 500⌉ calls a minute per region).")
	flag.DurationVar(&o.pollInterval, "poll-interval", controllers.DefaultPollInterval, "How soon to look again while AWS is busy (stream CREATING/UPDATING, tasks starting).")
	flag.DurationVar(&o.driftRecheck, "drift-recheck-interval", controllers.DefaultDriftRecheck, "How often what was found as wanted is read again to repair changes made outside the operator: a CloudWatch dashboard, a log group, a stream's owner tags (they are read at once when the spec changes, and the stream's tags before any change to the stream).")
	flag.DurationVar(&o.awsCallTimeout, "aws-call-timeout", 30*time.Second, "Bound on each attempt of an AWS call; an attempt not answered in time is retried (0: no bound).")
	flag.BoolVar(&o.awsRateLimit, "aws-rate-limit", true, "Pace AWS calls under each operation's default per-account rate (controllers.DefaultAWSRates), shared by all reconciles of a region.")
	flag.StringVar(&o.leaderNamespace, "leader-election-namespace", "", "Namespace of the leader election Lease; empty means the pod's own namespace, which only exists in a cluster: set it when running outside one.")
	flag.DurationVar(&o.leaseDuration, "leader-election-lease-duration", 15*time.Second, "How long a leader's Lease holds without renewal before another replica may take it.")
	flag.DurationVar(&o.renewDeadline, "leader-election-renew-deadline", 10*time.Second, "How long the leader keeps trying to renew before it gives up leading (and exits).")
	flag.DurationVar(&o.retryPeriod, "leader-election-retry-period", 2*time.Second, "How often replicas try to acquire or renew the Lease.")
	flag.BoolVar(&o.cloudWatchMetrics, "cloudwatch-metrics", false, "Publish each StreamProcessor's open and target shards, reshard calls left and target tasks to CloudWatch (namespace StreamProcessor/Operator, one batched PutMetricData per region per minute) and plot them on its dashboard. Off by default: CloudWatch bills custom metrics per metric per month (docs/observability.md).")
	flag.BoolVar(&o.showVersion, "version", false, "Print the version and exit.")
	o.zap.BindFlags(flag.CommandLine)
	flag.Parse()
	return o
}

// newManager creates the manager: scheme, metrics endpoint (with its
// certificate watcher), probes, leader election, concurrency.
func newManager(o options) (ctrl.Manager, error) {
	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(streamingv1alpha1.AddToScheme(scheme))
	metricsServer, certWatcher, err := o.metrics.ServerOptions()
	if err != nil {
		return nil, fmt.Errorf("configure the metrics endpoint: %w", err)
	}
	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{
		Scheme:                        scheme,
		Metrics:                       metricsServer,
		HealthProbeBindAddress:        o.probeAddr,
		LeaderElection:                o.leaderElect,
		LeaderElectionID:              "streamprocessor-operator.streaming.kdp.io",
		LeaderElectionReleaseOnCancel: true,
		LeaderElectionNamespace:       o.leaderNamespace,
		LeaseDuration:                 &o.leaseDuration,
		RenewDeadline:                 &o.renewDeadline,
		RetryPeriod:                   &o.retryPeriod,
		Controller:                    config.Controller{MaxConcurrentReconciles: o.concurrency},
	})
	if err != nil {
		return nil, err
	}
	if certWatcher != nil {
		utilruntime.Must(mgr.Add(certWatcher))
	}
	return mgr, nil
}

// addReconcilers adds to mgr the StreamProcessor reconciler with its AWS
// clients (counted, paced) and metrics, the scale override controller, the
// per-object gauges and the probes.
func addReconcilers(mgr ctrl.Manager, o options) error {
	calls := awsapi.NewCallsCounter()
	merges := controllers.NewShardMergesCounter()
	metrics.Registry.MustRegister(calls, merges)
	awsClients := controllers.NewClientFactory(calls, awsClientOptions(o.awsRateLimit, o.awsCallTimeout)...)
	var publisher *controllers.MetricsPublisher
	if o.cloudWatchMetrics {
		publisher = controllers.NewMetricsPublisher(time.Minute, controllers.PutMetricsOf(awsClients))
		utilruntime.Must(mgr.Add(publisher))
	}
	if err := (&controllers.StreamProcessorReconciler{
		Client:       mgr.GetClient(),
		Recorder:     mgr.GetEventRecorder("streamprocessor-operator"),
		AWS:          awsClients,
		Publisher:    publisher,
		Metrics:      controllers.NewMetricsBatcher(o.metricsMaxAge),
		LoadHistory:  controllers.NewLoadHistory(time.Hour),
		Clock:        clock.RealClock{},
		PollInterval: o.pollInterval,
		DriftRecheck: o.driftRecheck,
		ShardMerges:  merges,
	}).SetupWithManager(mgr); err != nil {
		return err
	}
	// Lifts the pins of `kubectl sp scale --for` when they expire.
	if err := (&override.Reconciler{Client: mgr.GetClient(), Clock: clock.RealClock{}}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("set up the scale override controller: %w", err)
	}
	// Per-StreamProcessor gauges, read from the manager's cache at scrape time.
	if err := gauges.Register(mgr, metrics.Registry); err != nil {
		return fmt.Errorf("register gauges: %w", err)
	}
	utilruntime.Must(mgr.AddHealthzCheck("healthz", healthz.Ping))
	utilruntime.Must(mgr.AddReadyzCheck("readyz", healthz.Ping))
	return nil
}

// exitIf logs err with msg and exits 1; nothing when err is nil.
func exitIf(log logr.Logger, err error, msg string) {
	if err != nil {
		log.Error(err, msg)
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
