// Package dataplane runs the local stack's data plane in one process: the
// metered Kinesis (package meter) in front of kinesis-local, local Fargate
// (package fargate: the ECS proxy in front of moto and the supervisor that runs
// each service's tasks as processes of this repository's workload binaries),
// and the local load balancer (package alb). `devstack dataplane` (make dev)
// and the closed-loop end-to-end test both start it with Start.
//
// Clients of the stack — the operator and the tasks — reach Kinesis through
// the meter and ECS through the proxy; Env says which endpoints to use.
package dataplane

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/go-logr/logr"

	"github.com/kdp-io/streamprocessor-operator/internal/awsconfig"
	"github.com/kdp-io/streamprocessor-operator/internal/devstack/alb"
	"github.com/kdp-io/streamprocessor-operator/internal/devstack/ecstask"
	"github.com/kdp-io/streamprocessor-operator/internal/devstack/fargate"
	"github.com/kdp-io/streamprocessor-operator/internal/devstack/meter"
)

// Options of a data plane. The upstream endpoints and binaries are required.
type Options struct {
	// KinesisUpstream and ECSUpstream are the emulators' endpoints
	// (kinesis-local, moto), e.g. http://127.0.0.1:4568.
	KinesisUpstream, ECSUpstream string
	// AWS is the configuration the data plane's own clients use: credentials,
	// region and the emulators' endpoints (from the environment the
	// emulators wrote). Its Kinesis and ECS clients are pointed at the
	// upstreams above.
	AWS aws.Config
	// Clusters whose services are run locally.
	Clusters []string
	// ProducerBinary and ConsumerBinary run the containers named "producer"
	// and "consumer" (the names the operator registers).
	ProducerBinary, ConsumerBinary string
	// StateDir holds the tasks' logs (<StateDir>/tasks/<service>/<task>.log),
	// the consumers' output (<StateDir>/consumer-output/<task>.jsonl) and
	// local stand-ins of processor images (<StateDir>/images/<name>/<tag>).
	StateDir string
	// TaskEnv is what every task gets besides its task definition's
	// environment: credentials, region and the emulators' endpoints. The
	// Kinesis endpoint is replaced by the meter's.
	TaskEnv map[string]string
	// MeterAddr, ECSAddr and ALBAddr are where the meter, the ECS proxy and
	// the first load-balancer listener listen (127.0.0.1:0 picks a port).
	MeterAddr, ECSAddr, ALBAddr string
	// StartDelay stands in for Fargate's task start (see fargate.Options).
	StartDelay time.Duration
	// PublishDelay is how late each minute's AWS/Kinesis metrics are published.
	PublishDelay time.Duration
	Log          logr.Logger
}

// Plane is a running data plane.
type Plane struct {
	// MeterURL and ECSURL are the endpoints clients must use for Kinesis and ECS.
	MeterURL, ECSURL string
	// ConsumerOutputDir holds one JSON-lines file per consumer task.
	ConsumerOutputDir string
	// TaskLogDir holds the tasks' logs.
	TaskLogDir string
	// ImagesDir holds local stand-ins of images with a record processor
	// (package localimage; devstack seed-image writes the seed's).
	ImagesDir string

	Meter      *meter.Meter
	Supervisor *fargate.Supervisor
	Balancer   *alb.ALB

	servers []*http.Server
	cancel  context.CancelFunc
	done    chan struct{}
	errMu   sync.Mutex
	err     error
}

// Start starts the meter, the ECS proxy, the supervisor and the load balancer
// and returns once all listen. They run until ctx ends or Stop is called.
func Start(ctx context.Context, o Options) (p *Plane, err error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	if o.Log.GetSink() == nil {
		o.Log = logr.Discard()
	}
	p = &Plane{
		ConsumerOutputDir: filepath.Join(o.StateDir, "consumer-output"),
		TaskLogDir:        filepath.Join(o.StateDir, "tasks"),
		ImagesDir:         filepath.Join(o.StateDir, "images"),
		done:              make(chan struct{}),
	}
	for _, dir := range []string{p.ConsumerOutputDir, p.TaskLogDir} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("data plane state: %w", err)
		}
	}
	meterLn, err := net.Listen("tcp", o.MeterAddr)
	if err != nil {
		return nil, fmt.Errorf("meter listener: %w", err)
	}
	ecsLn, err := net.Listen("tcp", o.ECSAddr)
	if err != nil {
		meterLn.Close()
		return nil, fmt.Errorf("ECS proxy listener: %w", err)
	}
	p.MeterURL, p.ECSURL = "http://"+meterLn.Addr().String(), "http://"+ecsLn.Addr().String()
	proxy, err := p.build(o)
	if err != nil {
		meterLn.Close()
		ecsLn.Close()
		return nil, err
	}
	ctx, p.cancel = context.WithCancel(ctx)
	p.serve(ctx, map[net.Listener]http.Handler{meterLn: p.Meter, ecsLn: proxy})
	return p, nil
}

// build makes the meter, the load balancer (which opens its first listener),
// the supervisor and the ECS proxy in front of the emulator.
func (p *Plane) build(o Options) (*fargate.Proxy, error) {
	cw := cloudwatch.NewFromConfig(o.AWS, awsconfig.CloudWatchQueryProtocol)
	upstream, _ := url.Parse(o.KinesisUpstream)
	p.Meter = meter.New(meter.Options{
		Upstream: upstream, CloudWatch: cw, PublishDelay: o.PublishDelay, Log: o.Log.WithName("meter"),
		Kinesis: kinesis.NewFromConfig(o.AWS, func(k *kinesis.Options) { k.BaseEndpoint = aws.String(o.KinesisUpstream) }),
	})
	taskEnv := maps.Clone(o.TaskEnv)
	if taskEnv == nil {
		taskEnv = map[string]string{}
	}
	taskEnv["AWS_ENDPOINT_URL_KINESIS"] = p.MeterURL
	fo := fargate.Options{
		ECS:        ecs.NewFromConfig(o.AWS, func(e *ecs.Options) { e.BaseEndpoint = aws.String(o.ECSUpstream) }),
		Clusters:   o.Clusters,
		TaskEnv:    taskEnv,
		LogDir:     p.TaskLogDir,
		CloudWatch: cw,
		// The awslogs driver: task output into the emulator's CloudWatch
		// Logs (AWS_ENDPOINT_URL_LOGS), where `aws logs tail` reads it.
		Logs: cloudwatchlogs.NewFromConfig(o.AWS),
		// Container secrets from the emulator (AWS_ENDPOINT_URL_SECRETS_MANAGER, _SSM).
		Secrets:    &ecstask.SecretResolver{SecretsManager: secretsmanager.NewFromConfig(o.AWS), SSM: ssm.NewFromConfig(o.AWS)},
		StartDelay: o.StartDelay,
		Logger:     o.Log.WithName("fargate"),
		Runners: []fargate.Runner{
			{ContainerName: "producer", Binary: o.ProducerBinary, HealthPath: "/healthcheck", Port: fargate.PortEnv},
			ConsumerRunner(o.ConsumerBinary, p.ConsumerOutputDir, p.ImagesDir, o.Log.WithName("fargate")),
		},
	}
	// The balancer opens its first listener; validate checked what the
	// parts after it could refuse.
	var err error
	if p.Balancer, err = alb.New(alb.Options{
		Addr: o.ALBAddr, Logger: o.Log.WithName("alb"),
		ELB: elb.NewFromConfig(o.AWS, func(e *elb.Options) { e.BaseEndpoint = aws.String(o.ECSUpstream) }),
	}); err != nil {
		return nil, fmt.Errorf("load balancer: %w", err)
	}
	fo.Balancer = p.Balancer
	if p.Supervisor, err = fargate.New(fo); err != nil {
		return nil, err
	}
	return fargate.NewProxy(o.ECSUpstream, p.Supervisor)
}

// serve runs the HTTP servers and the parts' loops until ctx ends; Wait
// returns once all have stopped.
func (p *Plane) serve(ctx context.Context, handlers map[net.Listener]http.Handler) {
	var wg sync.WaitGroup
	for ln, h := range handlers {
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
		p.servers = append(p.servers, srv)
		wg.Go(func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				p.fail(err)
			}
		})
	}
	for _, run := range []func(context.Context) error{p.Meter.Run, p.Supervisor.Run, p.Balancer.Run} {
		wg.Go(func() {
			if err := run(ctx); err != nil && ctx.Err() == nil {
				p.fail(err)
				p.cancel()
			}
		})
	}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, srv := range p.servers {
			_ = srv.Shutdown(shutdown)
		}
	}()
	go func() {
		wg.Wait()
		close(p.done)
	}()
}
func (o *Options) validate() error {
	var missing []string
	for name, v := range map[string]string{
		"KinesisUpstream": o.KinesisUpstream, "ECSUpstream": o.ECSUpstream, "StateDir": o.StateDir,
		"ProducerBinary": o.ProducerBinary, "ConsumerBinary": o.ConsumerBinary,
	} {
		if v == "" {
			missing = append(missing, name)
		}
	}
	if len(o.Clusters) == 0 {
		missing = append(missing, "Clusters")
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return fmt.Errorf("data plane: missing %s", strings.Join(missing, ", "))
	}
	for _, u := range []string{o.KinesisUpstream, o.ECSUpstream} {
		if p, err := url.Parse(u); err != nil || p.Scheme == "" || p.Host == "" {
			return fmt.Errorf("data plane: upstream endpoint %q is not an absolute URL", u)
		}
	}
	for _, bin := range []string{o.ProducerBinary, o.ConsumerBinary} {
		if st, err := os.Stat(bin); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			return fmt.Errorf("data plane: %s is not an executable (build it: go build -o DIR/ ./cmd/producer ./cmd/consumer)", bin)
		}
	}
	for _, addr := range []*string{&o.MeterAddr, &o.ECSAddr, &o.ALBAddr} {
		if *addr == "" {
			*addr = "127.0.0.1:0"
		}
	}
	return nil
}

func (p *Plane) fail(err error) {
	p.errMu.Lock()
	defer p.errMu.Unlock()
	if p.err == nil {
		p.err = err
	}
}

// Stop stops every task (drain, SIGTERM, SIGKILL after its stop timeout) and
// the servers, and returns the first error any part failed with.
func (p *Plane) Stop() error {
	p.cancel()
	return p.Wait()
}

// Wait returns once every part has stopped, with the first error.
func (p *Plane) Wait() error {
	<-p.done
	p.errMu.Lock()
	defer p.errMu.Unlock()
	return p.err
}

// Env is what clients of the stack need besides the emulators' own
// environment: the meter as the Kinesis endpoint, the proxy as the ECS
// endpoint, the consumers' output and the tasks' log directories,
// LOCAL_PRODUCER_URL (the load balancer's first listener, which serves the
// first target group a service names) and LOCAL_PRODUCER_URLS (every listener
// open now, as targetGroupArn=url, space-separated).
func (p *Plane) Env() map[string]string {
	ls := p.Balancer.Listeners()
	pairs := make([]string, 0, len(ls))
	for _, arn := range slices.Sorted(maps.Keys(ls)) {
		pairs = append(pairs, arn+"="+ls[arn])
	}
	return map[string]string{
		"AWS_ENDPOINT_URL_KINESIS":  p.MeterURL,
		"AWS_ENDPOINT_URL_ECS":      p.ECSURL,
		"LOCAL_CONSUMER_OUTPUT_DIR": p.ConsumerOutputDir,
		"LOCAL_TASK_LOG_DIR":        p.TaskLogDir,
		"LOCAL_IMAGES_DIR":          p.ImagesDir,
		"LOCAL_PRODUCER_URL":        p.Balancer.URL(),
		"LOCAL_PRODUCER_URLS":       strings.Join(pairs, " "),
	}
}

// AWSEnv picks the AWS_* variables of environ (os.Environ's form): the
// credentials, region and emulator endpoints a task gets as Options.TaskEnv.
func AWSEnv(environ []string) map[string]string {
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "AWS_") {
			env[k] = v
		}
	}
	return env
}
