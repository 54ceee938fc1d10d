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
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/go-logr/logr"

	"github.com/kdp-io/streamprocessor-operator/internal/awsconfig"
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
	// StateDir holds the tasks' logs (<StateDir>/tasks/<service>/<task>.log)
	// and the consumers' output (<StateDir>/consumer-output/<task>.jsonl).
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

	Meter      *meter.Meter
	Supervisor *fargate.Supervisor
	Balancer   Balancer

	servers []*http.Server
	cancel  context.CancelFunc
	done    chan struct{}
	errMu   sync.Mutex
	err     error
}

// Balancer is the load balancer the plane runs (package alb): a
// fargate.Balancer that also reports its listeners.
type Balancer interface {
	fargate.Balancer
	// Listeners maps each target group's ARN to its listener's URL.
	Listeners() map[string]string
	// Run serves the listeners and health checks until ctx ends.
	Run(ctx context.Context) error
}

// NewBalancer builds the plane's load balancer; Start calls it when set, so
// that this package does not fix which implementation runs.
var NewBalancer func(o Options) (Balancer, error)

// Start starts the meter, the ECS proxy, the supervisor and the load balancer
// and returns once all listen. They run until ctx ends or Stop is called.
func Start(ctx context.Context, o Options) (*Plane, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	if o.Log.GetSink() == nil {
		o.Log = logr.Discard()
	}
	p := &Plane{
		ConsumerOutputDir: filepath.Join(o.StateDir, "consumer-output"),
		TaskLogDir:        filepath.Join(o.StateDir, "tasks"),
		done:              make(chan struct{}),
	}
	for _, dir := range []string{p.ConsumerOutputDir, p.TaskLogDir} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("data plane state: %w", err)
		}
	}
	cw := cloudwatch.NewFromConfig(o.AWS, awsconfig.CloudWatchQueryProtocol)

	upstream, _ := url.Parse(o.KinesisUpstream)
	p.Meter = meter.New(meter.Options{
		Upstream: upstream, CloudWatch: cw, PublishDelay: o.PublishDelay, Log: o.Log.WithName("meter"),
		Kinesis: kinesis.NewFromConfig(o.AWS, func(k *kinesis.Options) { k.BaseEndpoint = aws.String(o.KinesisUpstream) }),
	})
	meterLn, err := net.Listen("tcp", o.MeterAddr)
	if err != nil {
		return nil, fmt.Errorf("meter listener: %w", err)
	}
	p.MeterURL = "http://" + meterLn.Addr().String()

	if NewBalancer != nil {
		if p.Balancer, err = NewBalancer(o); err != nil {
			meterLn.Close()
			return nil, fmt.Errorf("load balancer: %w", err)
		}
	}
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
		StartDelay: o.StartDelay,
		Logger:     o.Log.WithName("fargate"),
		Runners: []fargate.Runner{
			{ContainerName: "producer", Binary: o.ProducerBinary, HealthPath: "/healthcheck", Port: fargate.PortEnv},
			{ContainerName: "consumer", Binary: o.ConsumerBinary, HealthPath: "/readyz", Port: fargate.HTTPAddrEnv,
				ExtraEnv: func(t fargate.TaskInfo) map[string]string {
					return map[string]string{"OUTPUT": filepath.Join(p.ConsumerOutputDir, t.TaskID+".jsonl")}
				}},
		},
	}
	if p.Balancer != nil {
		fo.Balancer = p.Balancer
	}
	if p.Supervisor, err = fargate.New(fo); err != nil {
		meterLn.Close()
		return nil, err
	}
	proxy, err := fargate.NewProxy(o.ECSUpstream, p.Supervisor)
	if err != nil {
		meterLn.Close()
		return nil, err
	}
	ecsLn, err := net.Listen("tcp", o.ECSAddr)
	if err != nil {
		meterLn.Close()
		return nil, fmt.Errorf("ECS proxy listener: %w", err)
	}
	p.ECSURL = "http://" + ecsLn.Addr().String()

	ctx, p.cancel = context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, s := range []struct {
		ln net.Listener
		h  http.Handler
	}{{meterLn, p.Meter}, {ecsLn, proxy}} {
		srv := &http.Server{Handler: s.h, ReadHeaderTimeout: 10 * time.Second}
		p.servers = append(p.servers, srv)
		wg.Go(func() {
			if err := srv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				p.fail(err)
			}
		})
	}
	runs := []func(context.Context) error{p.Meter.Run, p.Supervisor.Run}
	if p.Balancer != nil {
		runs = append(runs, p.Balancer.Run)
	}
	for _, run := range runs {
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
	return p, nil
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
// endpoint, the consumers' output directory and, when a load balancer runs,
// LOCAL_PRODUCER_URL (the first listener) and LOCAL_PRODUCER_URLS (every
// listener as targetGroupArn=url, space-separated).
func (p *Plane) Env() map[string]string {
	env := map[string]string{
		"AWS_ENDPOINT_URL_KINESIS":  p.MeterURL,
		"AWS_ENDPOINT_URL_ECS":      p.ECSURL,
		"LOCAL_CONSUMER_OUTPUT_DIR": p.ConsumerOutputDir,
		"LOCAL_TASK_LOG_DIR":        p.TaskLogDir,
	}
	if p.Balancer != nil {
		ls := p.Balancer.Listeners()
		arns := slices.Sorted(maps.Keys(ls))
		pairs := make([]string, 0, len(arns))
		for _, arn := range arns {
			pairs = append(pairs, arn+"="+ls[arn])
		}
		if len(arns) > 0 {
			env["LOCAL_PRODUCER_URL"] = ls[arns[0]]
		}
		env["LOCAL_PRODUCER_URLS"] = strings.Join(pairs, " ")
	}
	return env
}
