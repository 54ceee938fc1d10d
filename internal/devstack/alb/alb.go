// Package alb is the local stack's application load balancer: for each
// target group an ECS service's loadBalancers names, one HTTP listener on
// 127.0.0.1 that balances round-robin over the healthy tasks of the service,
// as local Fargate (package fargate) runs them.
//
// It implements fargate.Balancer: the supervisor reports each task's address
// and state, and asks for a drain before it sends SIGTERM. Targets are also
// registered in, and deregistered from, the ELBv2 emulator, so that
// DescribeTargetHealth lists the targets the balancer routes to (moto reports
// every registered target as healthy: the health this package acts on is in
// Targets).
//
// Health checks follow the seed's ALB: GET on the target group's health-check
// path (default /healthcheck) every 6 s with a 5 s timeout, 200 as success.
// A new target is healthy after its first passing check (AWS's default
// healthy threshold is 5; one keeps a local start short) and unhealthy after
// 2 consecutive failures (AWS's default).
package alb

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/go-logr/logr"

	"github.com/kdp-io/streamprocessor-operator/internal/devstack/fargate"
)

// Target health states, as ELBv2 names them.
const (
	HealthInitial   = "initial"
	HealthHealthy   = "healthy"
	HealthUnhealthy = "unhealthy"
	HealthDraining  = "draining"
)

// ELBAPI is the part of the ELBv2 client the balancer uses.
type ELBAPI interface {
	DescribeTargetGroups(ctx context.Context, in *elb.DescribeTargetGroupsInput, optFns ...func(*elb.Options)) (*elb.DescribeTargetGroupsOutput, error)
	RegisterTargets(ctx context.Context, in *elb.RegisterTargetsInput, optFns ...func(*elb.Options)) (*elb.RegisterTargetsOutput, error)
	DeregisterTargets(ctx context.Context, in *elb.DeregisterTargetsInput, optFns ...func(*elb.Options)) (*elb.DeregisterTargetsOutput, error)
}

// Options configure a balancer. Zero values take the documented defaults.
type Options struct {
	// Addr is the first target group's listener. Default 127.0.0.1:8080.
	Addr string
	// ExtraAddrs are the listeners of the next target groups, in the order
	// they appear; beyond them, free ports on 127.0.0.1.
	ExtraAddrs []string
	// ELB, when set, is the ELBv2 emulator: targets are registered there and
	// each target group's health-check path is read from it.
	ELB ELBAPI
	// HealthCheckPath is used when a target group names none (or without
	// ELB). Default /healthcheck.
	HealthCheckPath string
	// HealthInterval and HealthTimeout default to 6 s and 5 s.
	HealthInterval time.Duration
	HealthTimeout  time.Duration
	// HealthyThreshold and UnhealthyThreshold are the consecutive passing or
	// failing checks that change a target's health. Defaults 1 and 2.
	HealthyThreshold   int
	UnhealthyThreshold int
	// DeregistrationDelay bounds how long a drain waits for in-flight
	// requests. Default 5 s (AWS: 300 s).
	DeregistrationDelay time.Duration
	// Logger: default discard.
	Logger logr.Logger
}

// Listener is one listener, forwarding to one target group.
type Listener struct {
	TargetGroupARN string
	URL            string // http://127.0.0.1:<port>
	// Cluster and Service own the target group (the first service seen
	// naming it).
	Cluster, Service string
}

// TargetState is one target as the balancer sees it.
type TargetState struct {
	TaskID  string
	Address string
	Port    int
	Health  string
	// InFlight is the number of requests it is answering.
	InFlight int
}

// ALB is the local load balancer. Create it with New, pass it as
// fargate.Options.Balancer and run it with Run.
type ALB struct {
	opts Options

	mu     sync.Mutex
	first  *group            // the listener on Addr, open from New
	groups map[string]*group // by target group ARN
	order  []string          // target group ARNs in listener order
	done   chan struct{}     // closed when Run ends
	closed bool
	client *http.Client // health checks
}

type group struct {
	a   *ALB
	url string
	srv *http.Server

	mu sync.Mutex
	// Set when the listener is bound to its target group (for the first
	// listener, after New), before any target is added.
	arn              string
	cluster, service string
	healthPath       string
	targets          []*target
	next             int
}

type target struct {
	taskID  string
	address string
	port    int
	proxy   *httputil.ReverseProxy
	stop    chan struct{} // ends its health checks
	once    sync.Once

	// guarded by group.mu
	health        string
	passes, fails int
	registered    bool
	inflight      atomic.Int64
}

// New returns a balancer listening on Addr: that first listener serves the
// first target group a service names (503 until then). The listeners of
// further target groups open as SyncServices names them. It fails when Addr
// cannot be listened on.
func New(opts Options) (*ALB, error) {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:8080"
	}
	if opts.HealthCheckPath == "" {
		opts.HealthCheckPath = "/healthcheck"
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&opts.HealthInterval, 6*time.Second)
	def(&opts.HealthTimeout, 5*time.Second)
	def(&opts.DeregistrationDelay, 5*time.Second)
	if opts.HealthyThreshold <= 0 {
		opts.HealthyThreshold = 1
	}
	if opts.UnhealthyThreshold <= 0 {
		opts.UnhealthyThreshold = 2
	}
	if opts.Logger.GetSink() == nil {
		opts.Logger = logr.Discard()
	}
	a := &ALB{
		opts: opts, groups: map[string]*group{}, done: make(chan struct{}),
		client: &http.Client{Timeout: opts.HealthTimeout},
	}
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("local ALB: listen on %s: %w", opts.Addr, err)
	}
	a.first = a.serve(ln)
	return a, nil
}

// serve starts a listener's server.
func (a *ALB) serve(ln net.Listener) *group {
	g := &group{a: a, url: "http://" + ln.Addr().String()}
	g.srv = &http.Server{Handler: g, ReadHeaderTimeout: 30 * time.Second}
	go func() {
		if err := g.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.opts.Logger.Error(err, "Listener failed", "url", g.url)
		}
	}()
	return g
}

// URL is the first listener's, http://<Addr>: known from New, before any
// service names a target group.
func (a *ALB) URL() string { return a.first.url }

// Run serves until ctx ends, then closes every listener, stops the health
// checks and returns.
func (a *ALB) Run(ctx context.Context) error {
	<-ctx.Done()
	a.mu.Lock()
	a.closed = true
	close(a.done)
	groups := []*group{a.first}
	for _, g := range a.groups {
		if g != a.first {
			groups = append(groups, g)
		}
	}
	a.mu.Unlock()
	var errs []error
	for _, g := range groups {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := g.srv.Shutdown(sctx); err != nil {
			errs = append(errs, fmt.Errorf("close listener %s: %w", g.url, err))
		}
		cancel()
	}
	return errors.Join(errs...)
}

// Listeners maps the ARN of each target group with a listener to the
// listener's URL.
func (a *ALB) Listeners() map[string]string {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make(map[string]string, len(a.groups))
	for arn, g := range a.groups {
		out[arn] = g.url
	}
	return out
}

// Listener describes the listener of a target group, with the service that
// owns it; false when the target group has none (yet).
func (a *ALB) Listener(targetGroupARN string) (Listener, bool) {
	g := a.group(targetGroupARN)
	if g == nil {
		return Listener{}, false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return Listener{TargetGroupARN: g.arn, URL: g.url, Cluster: g.cluster, Service: g.service}, true
}

// Targets returns the targets of a target group with their health.
func (a *ALB) Targets(targetGroupARN string) []TargetState {
	a.mu.Lock()
	g := a.groups[targetGroupARN]
	a.mu.Unlock()
	if g == nil {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]TargetState, 0, len(g.targets))
	for _, t := range g.targets {
		out = append(out, TargetState{TaskID: t.taskID, Address: t.address, Port: t.port, Health: t.health, InFlight: int(t.inflight.Load())})
	}
	return out
}

// SyncServices opens a listener for each target group not seen before.
// A listener whose address is taken is opened on a free port instead, and
// the error logged: Listeners tells the address in use.
func (a *ALB) SyncServices(bindings []fargate.Binding) {
	for _, b := range bindings {
		a.mu.Lock()
		_, known := a.groups[b.TargetGroupARN]
		closed := a.closed
		a.mu.Unlock()
		if known || closed {
			continue
		}
		if err := a.open(b); err != nil {
			a.opts.Logger.Error(err, "Cannot open listener", "targetGroup", b.TargetGroupARN)
		}
	}
}

func (a *ALB) open(b fargate.Binding) error {
	path := a.healthPath(b.TargetGroupARN)
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, known := a.groups[b.TargetGroupARN]; known {
		return nil
	}
	var g *group
	if n := len(a.order); n == 0 {
		g = a.first
	} else {
		addr := "127.0.0.1:0"
		if n-1 < len(a.opts.ExtraAddrs) {
			addr = a.opts.ExtraAddrs[n-1]
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			a.opts.Logger.Error(err, "Listener address taken; using a free port", "address", addr, "targetGroup", b.TargetGroupARN)
			if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
				return fmt.Errorf("listen for target group %s: %w", b.TargetGroupARN, err)
			}
		}
		g = a.serve(ln)
	}
	g.mu.Lock()
	g.arn, g.cluster, g.service, g.healthPath = b.TargetGroupARN, b.Cluster, b.Service, path
	g.mu.Unlock()
	a.groups[b.TargetGroupARN] = g
	a.order = append(a.order, b.TargetGroupARN)
	a.opts.Logger.Info("Opened listener", "url", g.url, "targetGroup", b.TargetGroupARN, "service", b.Service, "healthCheckPath", path)
	return nil
}

// healthPath reads the target group's health-check path from ELBv2.
func (a *ALB) healthPath(arn string) string {
	if a.opts.ELB == nil {
		return a.opts.HealthCheckPath
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := a.opts.ELB.DescribeTargetGroups(ctx, &elb.DescribeTargetGroupsInput{TargetGroupArns: []string{arn}})
	if err != nil || len(out.TargetGroups) == 0 || aws.ToString(out.TargetGroups[0].HealthCheckPath) == "" {
		if err != nil {
			a.opts.Logger.Error(err, "Cannot read target group; using the default health-check path", "targetGroup", arn, "path", a.opts.HealthCheckPath)
		}
		return a.opts.HealthCheckPath
	}
	return aws.ToString(out.TargetGroups[0].HealthCheckPath)
}

func (a *ALB) group(arn string) *group {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.groups[arn]
}

// TaskChanged registers a task when it starts (PENDING), and removes it at
// once when it has STOPPED (e.g. killed).
func (a *ALB) TaskChanged(t fargate.Target) {
	g := a.group(t.TargetGroupARN)
	if g == nil {
		if t.LastStatus == fargate.StatusStopped {
			return
		}
		a.SyncServices([]fargate.Binding{{Cluster: t.Cluster, Service: t.Service, TargetGroupARN: t.TargetGroupARN}})
		if g = a.group(t.TargetGroupARN); g == nil {
			return
		}
	}
	switch t.LastStatus {
	case fargate.StatusPending, fargate.StatusRunning:
		g.add(t)
	case fargate.StatusStopping:
		g.drain(context.Background(), t.TaskID, false)
	case fargate.StatusStopped:
		g.remove(t.TaskID)
	}
}

// Drain takes the task out of rotation at once, deregisters it from ELBv2
// and waits for its in-flight requests (at most DeregistrationDelay).
func (a *ALB) Drain(ctx context.Context, t fargate.Target) {
	if g := a.group(t.TargetGroupARN); g != nil {
		g.drain(ctx, t.TaskID, true)
	}
}

func (g *group) find(taskID string) *target {
	for _, t := range g.targets {
		if t.taskID == taskID {
			return t
		}
	}
	return nil
}

func (g *group) add(ft fargate.Target) {
	g.mu.Lock()
	if g.find(ft.TaskID) != nil {
		g.mu.Unlock()
		return
	}
	u := &url.URL{Scheme: "http", Host: net.JoinHostPort(ft.Address, strconv.Itoa(ft.Port))}
	t := &target{taskID: ft.TaskID, address: ft.Address, port: ft.Port, health: HealthInitial, stop: make(chan struct{})}
	t.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.SetXForwarded()
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			http.Error(w, fmt.Sprintf("local ALB: target %s (task %s) failed: %v", u.Host, t.taskID, err), http.StatusBadGateway)
		},
	}
	g.targets = append(g.targets, t)
	g.mu.Unlock()
	g.a.opts.Logger.Info("Registered target", "targetGroup", g.arn, "task", ft.TaskID, "address", u.Host)
	g.register(t, true)
	go g.check(t)
}

// register (de)registers t in ELBv2, once each way.
func (g *group) register(t *target, on bool) {
	if g.a.opts.ELB == nil {
		return
	}
	g.mu.Lock()
	if t.registered == on {
		g.mu.Unlock()
		return
	}
	t.registered = on
	g.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	desc := []elbtypes.TargetDescription{{Id: aws.String(t.address), Port: aws.Int32(int32(t.port))}}
	var err error
	if on {
		_, err = g.a.opts.ELB.RegisterTargets(ctx, &elb.RegisterTargetsInput{TargetGroupArn: aws.String(g.arn), Targets: desc})
	} else {
		_, err = g.a.opts.ELB.DeregisterTargets(ctx, &elb.DeregisterTargetsInput{TargetGroupArn: aws.String(g.arn), Targets: desc})
	}
	if err != nil {
		g.a.opts.Logger.Error(err, "ELBv2 target (de)registration failed", "register", on, "targetGroup", g.arn, "task", t.taskID)
	}
}

// check health-checks t until it is drained or removed, or the ALB stops.
func (g *group) check(t *target) {
	o := g.a.opts
	u := "http://" + net.JoinHostPort(t.address, strconv.Itoa(t.port)) + g.healthPath
	tick := time.NewTicker(o.HealthInterval)
	defer tick.Stop()
	for {
		ok := false
		if resp, err := g.a.client.Get(u); err == nil {
			_ = resp.Body.Close()
			ok = resp.StatusCode == http.StatusOK
		}
		g.mu.Lock()
		before := t.health
		if t.health != HealthDraining {
			if ok {
				t.passes, t.fails = t.passes+1, 0
				if t.health != HealthHealthy && t.passes >= o.HealthyThreshold {
					t.health = HealthHealthy
				}
			} else {
				t.passes, t.fails = 0, t.fails+1
				if t.health != HealthUnhealthy && t.fails >= o.UnhealthyThreshold {
					t.health = HealthUnhealthy
				}
			}
		}
		after := t.health
		g.mu.Unlock()
		if before != after {
			o.Logger.Info("Target health changed", "targetGroup", g.arn, "task", t.taskID, "from", before, "to", after)
		}
		select {
		case <-t.stop:
			return
		case <-g.a.done:
			return
		case <-tick.C:
		}
	}
}

func (g *group) drain(ctx context.Context, taskID string, wait bool) {
	g.mu.Lock()
	t := g.find(taskID)
	if t == nil {
		g.mu.Unlock()
		return
	}
	first := t.health != HealthDraining
	t.health = HealthDraining
	g.mu.Unlock()
	t.once.Do(func() { close(t.stop) })
	if first {
		g.a.opts.Logger.Info("Draining target", "targetGroup", g.arn, "task", taskID)
	}
	g.register(t, false)
	if !wait {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, g.a.opts.DeregistrationDelay)
	defer cancel()
	for t.inflight.Load() > 0 {
		select {
		case <-ctx.Done():
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (g *group) remove(taskID string) {
	g.mu.Lock()
	t := g.find(taskID)
	if t != nil {
		g.targets = slices.DeleteFunc(g.targets, func(x *target) bool { return x == t })
	}
	g.mu.Unlock()
	if t == nil {
		return
	}
	t.once.Do(func() { close(t.stop) })
	g.register(t, false)
	g.a.opts.Logger.Info("Removed target", "targetGroup", g.arn, "task", taskID)
}

// pick returns the next healthy target, round-robin, or nil and why.
func (g *group) pick() (*target, string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.arn == "" {
		return nil, "local ALB: no ECS service names a target group for this listener yet\n"
	}
	n := len(g.targets)
	for i := range n {
		idx := (g.next + i) % n
		if t := g.targets[idx]; t.health == HealthHealthy {
			g.next = idx + 1
			t.inflight.Add(1)
			return t, ""
		}
	}
	return nil, fmt.Sprintf("local ALB: no healthy target in target group %s (service %s/%s): %d registered, 0 healthy\n",
		g.arn, g.cluster, g.service, n)
}

// ServeHTTP forwards a request to the next healthy target.
func (g *group) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t, why := g.pick()
	if t == nil {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, why)
		return
	}
	defer t.inflight.Add(-1)
	t.proxy.ServeHTTP(w, r)
}
