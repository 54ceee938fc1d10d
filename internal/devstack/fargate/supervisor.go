package fargate

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	etypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/kdp-io/streamprocessor-operator/internal/devstack/ecstask"
)

// ECS task states, as DescribeTasks reports them.
const (
	StatusProvisioning = "PROVISIONING"
	StatusPending      = "PENDING"
	StatusRunning      = "RUNNING"
	StatusStopping     = "STOPPING"
	StatusStopped      = "STOPPED"
)

// maxEvents is how many service events are kept (ECS shows the last 100).
const maxEvents = 100

// Supervisor keeps, for every service of its clusters in the ECS emulator,
// desiredCount local processes running the service's task definition. Create
// it with New, run it with Run, and put NewProxy(…, supervisor) in front of
// the emulator so that what ECS clients read comes from these processes.
type Supervisor struct {
	opts Options

	mu       sync.Mutex
	services map[string]*service // by cluster + "/" + name
	tasks    map[string]*task    // by task id
	taskDefs map[string]taskDef  // by task definition ARN; revisions never change
	ports    map[int]bool        // ports handed to live tasks
	addrSeq  int

	kick chan struct{} // asks the loop for an early converge
	wg   sync.WaitGroup
	stop chan struct{} // closed when Run's ctx ends: no more starts
}

type taskDef struct {
	spec ecstask.Task
	err  error // why it cannot run as one local process
}

// Event is a service event, as DescribeServices lists them.
type Event struct {
	ID        string
	CreatedAt time.Time
	Message   string
}

type deployment struct {
	id, taskDef          string
	createdAt, updatedAt time.Time
}

type service struct {
	cluster, name, arn string
	status             string // ACTIVE, DRAINING, INACTIVE; "" once gone from ECS
	desired            int
	taskDef            string
	maxPercent         int
	minHealthyPercent  int
	bindings           []Binding

	events      []Event      // newest first
	deployments []deployment // newest first: [0] is the PRIMARY one
	failures    int          // tasks that exited by themselves since the last stable one
	notBefore   time.Time    // no start before, after failures
	reported    string       // the last "cannot run" reason evented, to event once
	steady      bool
}

// New returns a supervisor; it does nothing until Run.
func New(opts Options) (*Supervisor, error) {
	opts.defaults()
	switch {
	case opts.ECS == nil:
		return nil, errors.New("fargate: Options.ECS is required")
	case len(opts.Clusters) == 0:
		return nil, errors.New("fargate: Options.Clusters is required")
	case opts.LogDir == "":
		return nil, errors.New("fargate: Options.LogDir is required")
	}
	for i, r := range opts.Runners {
		if r.Binary == "" || (r.ContainerName == "" && r.ImagePrefix == "") {
			return nil, fmt.Errorf("fargate: Runners[%d] needs Binary and ContainerName or ImagePrefix", i)
		}
		if r.HealthPath == "" {
			opts.Runners[i].HealthPath = "/healthcheck"
		}
	}
	return &Supervisor{
		opts:     opts,
		services: map[string]*service{},
		tasks:    map[string]*task{},
		taskDefs: map[string]taskDef{},
		ports:    map[int]bool{},
		kick:     make(chan struct{}, 1),
		stop:     make(chan struct{}),
	}, nil
}

// Run converges services every PollInterval, and publishes metrics when
// Options.CloudWatch is set, until ctx ends; then it stops every task (drain,
// SIGTERM, SIGKILL after the stop timeout) and returns once all have exited.
// A failing read of ECS is logged and retried; Run returns only then.
func (s *Supervisor) Run(ctx context.Context) error {
	log := s.opts.Logger
	var metricsDone chan struct{}
	if s.opts.CloudWatch != nil {
		metricsDone = make(chan struct{})
		go func() {
			defer close(metricsDone)
			newMeter(s).run(ctx)
		}()
	}
	tick := time.NewTicker(s.opts.PollInterval)
	defer tick.Stop()
	lastErr := ""
	for {
		// Log a failing read once, not every poll, and its recovery.
		switch err := s.poll(ctx); {
		case err != nil && ctx.Err() == nil && err.Error() != lastErr:
			lastErr = err.Error()
			log.Error(err, "Reading services from ECS failed; retrying every poll")
		case err == nil && lastErr != "":
			lastErr = ""
			log.Info("Reading services from ECS works again")
		}
		s.converge()
		select {
		case <-ctx.Done():
			s.shutdown()
			if metricsDone != nil {
				<-metricsDone
			}
			return nil
		case <-tick.C:
		case <-s.kick:
		}
	}
}

func (s *Supervisor) wake() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// shutdown stops every task and waits for all of them.
func (s *Supervisor) shutdown() {
	s.mu.Lock()
	close(s.stop)
	for _, t := range s.tasks {
		s.requestStop(t, "Local Fargate shut down", "ServiceSchedulerInitiated")
	}
	s.mu.Unlock()
	s.wg.Wait()
	s.opts.Logger.Info("Stopped all local tasks")
}

// poll reads every service of the clusters and their task definitions.
func (s *Supervisor) poll(ctx context.Context) error {
	var errs []error
	var bindings []Binding
	for _, cluster := range s.opts.Clusters {
		svcs, err := s.readCluster(ctx, cluster)
		if err != nil {
			errs = append(errs, err)
			continue // keep what is known; a later poll heals
		}
		s.mu.Lock()
		seen := map[string]bool{}
		for _, es := range svcs {
			svc := s.updateService(cluster, es)
			seen[svc.name] = true
			if svc.status == "ACTIVE" {
				bindings = append(bindings, svc.bindings...)
			}
		}
		for key, svc := range s.services {
			if svc.cluster == cluster && !seen[svc.name] {
				svc.status, svc.desired = "", 0
				if !s.hasTasks(svc) {
					delete(s.services, key)
				}
			}
		}
		s.mu.Unlock()
	}
	if s.opts.Balancer != nil {
		s.opts.Balancer.SyncServices(bindings)
	}
	return errors.Join(errs...)
}

func (s *Supervisor) readCluster(ctx context.Context, cluster string) ([]etypes.Service, error) {
	var arns []string
	pages := ecs.NewListServicesPaginator(s.opts.ECS, &ecs.ListServicesInput{Cluster: aws.String(cluster)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list services of cluster %q: %w", cluster, err)
		}
		arns = append(arns, page.ServiceArns...)
	}
	var out []etypes.Service
	for start := 0; start < len(arns); start += 10 { // DescribeServices takes 10 at most
		got, err := s.opts.ECS.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(cluster), Services: arns[start:min(start+10, len(arns))]})
		if err != nil {
			return nil, fmt.Errorf("describe services of cluster %q: %w", cluster, err)
		}
		out = append(out, got.Services...)
	}
	for _, svc := range out {
		if err := s.loadTaskDef(ctx, aws.ToString(svc.TaskDefinition)); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// loadTaskDef caches the task definition arn: revisions are immutable.
func (s *Supervisor) loadTaskDef(ctx context.Context, arn string) error {
	s.mu.Lock()
	_, ok := s.taskDefs[arn]
	s.mu.Unlock()
	if ok || arn == "" {
		return nil
	}
	out, err := s.opts.ECS.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String(arn)})
	if err != nil {
		return fmt.Errorf("describe task definition %q: %w", arn, err)
	}
	var td taskDef
	if out.TaskDefinition == nil {
		td.err = fmt.Errorf("task definition %q: empty answer", arn)
	} else {
		td.spec, td.err = ecstask.FromTaskDefinition(out.TaskDefinition)
	}
	s.mu.Lock()
	s.taskDefs[arn] = td
	s.mu.Unlock()
	return nil
}

// updateService records what ECS says of es. Called with s.mu held.
func (s *Supervisor) updateService(cluster string, es etypes.Service) *service {
	name := aws.ToString(es.ServiceName)
	key := cluster + "/" + name
	svc := s.services[key]
	if svc == nil {
		svc = &service{cluster: cluster, name: name}
		s.services[key] = svc
	}
	svc.arn, svc.status = aws.ToString(es.ServiceArn), aws.ToString(es.Status)
	svc.desired = int(es.DesiredCount)
	svc.maxPercent, svc.minHealthyPercent = 200, 100
	if dc := es.DeploymentConfiguration; dc != nil {
		if dc.MaximumPercent != nil {
			svc.maxPercent = int(*dc.MaximumPercent)
		}
		if dc.MinimumHealthyPercent != nil {
			svc.minHealthyPercent = int(*dc.MinimumHealthyPercent)
		}
	}
	svc.bindings = svc.bindings[:0]
	for _, lb := range es.LoadBalancers {
		if aws.ToString(lb.TargetGroupArn) == "" {
			continue // a classic load balancer: not emulated
		}
		svc.bindings = append(svc.bindings, Binding{
			Cluster: cluster, Service: name, TargetGroupARN: aws.ToString(lb.TargetGroupArn),
			ContainerName: aws.ToString(lb.ContainerName), ContainerPort: aws.ToInt32(lb.ContainerPort),
		})
	}
	if td := aws.ToString(es.TaskDefinition); td != svc.taskDef {
		now := time.Now()
		svc.taskDef = td
		svc.deployments = slices.DeleteFunc(svc.deployments, func(d deployment) bool { return d.taskDef == td })
		svc.deployments = append([]deployment{{id: deploymentID(svc.arn, td), taskDef: td, createdAt: now, updatedAt: now}}, svc.deployments...)
		svc.failures, svc.notBefore, svc.steady = 0, time.Time{}, false
	}
	return svc
}

// runner returns the runner of a task definition, or why there is none.
func (s *Supervisor) runner(td taskDef) (Runner, error) {
	if td.err != nil {
		return Runner{}, td.err
	}
	for _, r := range s.opts.Runners {
		if r.matches(td.spec.Container, td.spec.Image) {
			return r, nil
		}
	}
	var known []string
	for _, r := range s.opts.Runners {
		if r.ContainerName != "" {
			known = append(known, "container "+r.ContainerName)
		}
		if r.ImagePrefix != "" {
			known = append(known, "image "+r.ImagePrefix+"*")
		}
	}
	return Runner{}, fmt.Errorf("container %q with image %q has no local binary (local Fargate runs: %s)",
		td.spec.Container, td.spec.Image, strings.Join(known, ", "))
}

func (s *Supervisor) hasTasks(svc *service) bool {
	for _, t := range s.tasks {
		if t.svc == svc && t.lastStatus != StatusStopped {
			return true
		}
	}
	return false
}

// converge starts and stops tasks so that each service runs desiredCount
// tasks of its current task definition, rolling out a new revision within
// maximumPercent and minimumHealthyPercent (new tasks RUNNING before old
// ones stop). It also forgets STOPPED tasks past their retention.
func (s *Supervisor) converge() {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	for id, t := range s.tasks {
		if t.lastStatus == StatusStopped && now.Sub(t.stoppedAt) > s.opts.StoppedRetention {
			delete(s.tasks, id)
		}
	}
	stopping := false
	select {
	case <-s.stop:
		stopping = true
	default:
	}
	for _, svc := range s.services {
		s.convergeService(svc, now, stopping)
	}
}

func (s *Supervisor) convergeService(svc *service, now time.Time, shuttingDown bool) {
	desired := svc.desired
	if svc.status != "ACTIVE" {
		desired = 0
	}
	var cur, old []*task // tasks still meant to run
	for _, t := range s.tasks {
		if t.svc != svc || t.desiredStatus != StatusRunning {
			continue
		}
		if t.spec.TaskDefinitionARN == svc.taskDef {
			cur = append(cur, t)
		} else {
			old = append(old, t)
		}
	}
	deploymentID := ""
	if len(svc.deployments) > 0 {
		deploymentID = svc.deployments[0].id
	}
	reason := "Scaling activity initiated by (deployment " + deploymentID + ")"

	// Scale in: tasks not yet running first, then the newest.
	if extra := len(cur) - desired; extra > 0 {
		sortForStop(cur)
		for _, t := range cur[:extra] {
			s.requestStop(t, reason, "ServiceSchedulerInitiated")
		}
		cur = cur[extra:]
	}

	// Old revision: stop what is not running, then as many running ones as
	// minimumHealthyPercent allows.
	if len(old) > 0 {
		minHealthy := (desired*svc.minHealthyPercent + 99) / 100
		running := countStatus(cur, StatusRunning) + countStatus(old, StatusRunning)
		sortForStop(old)
		for _, t := range old {
			switch {
			case t.lastStatus != StatusRunning:
				s.requestStop(t, reason, "ServiceSchedulerInitiated")
			case running > minHealthy:
				s.requestStop(t, reason, "ServiceSchedulerInitiated")
				running--
			}
		}
	}

	// Start: up to desiredCount of the current revision, within maximumPercent.
	if shuttingDown || len(cur) >= desired {
		s.noteSteady(svc, cur, old, desired)
		return
	}
	td, ok := s.taskDefs[svc.taskDef]
	if !ok {
		return // not read yet
	}
	r, err := s.runner(td)
	if err != nil {
		if msg := err.Error(); svc.reported != svc.taskDef+msg {
			svc.reported = svc.taskDef + msg
			s.event(svc, fmt.Sprintf("(service %s) was unable to place a task. Reason: %s.", svc.name, msg))
			s.opts.Logger.Info("Cannot run service's tasks locally", "cluster", svc.cluster, "service", svc.name, "taskDefinition", svc.taskDef, "reason", msg)
		}
		return
	}
	if now.Before(svc.notBefore) {
		return
	}
	maxTotal := max(desired, desired*svc.maxPercent/100)
	active := len(cur)
	for _, t := range old {
		if t.desiredStatus == StatusRunning {
			active++
		}
	}
	var started []string
	for len(cur) < desired && active < maxTotal {
		t := s.newTask(svc, td.spec, r)
		cur = append(cur, t)
		active++
		started = append(started, t.id)
	}
	if len(started) > 0 {
		svc.steady = false
		s.event(svc, fmt.Sprintf("(service %s) has started %d tasks: %s.", svc.name, len(started), taskList(started)))
	}
}

// noteSteady events the steady state once, when desired tasks all run.
func (s *Supervisor) noteSteady(svc *service, cur, old []*task, desired int) {
	if len(old) == 0 && len(cur) == desired && countStatus(cur, StatusRunning) == desired && svc.status == "ACTIVE" {
		if !svc.steady {
			svc.steady = true
			s.event(svc, fmt.Sprintf("(service %s) has reached a steady state.", svc.name))
		}
		if svc.failures > 0 {
			for _, t := range cur {
				if time.Since(t.startedAt) >= s.opts.StableAfter {
					svc.failures = 0
					break
				}
			}
		}
	}
}

// sortForStop orders tasks so that the first are the ones to stop: not yet
// running before running, then the most recently created.
func sortForStop(ts []*task) {
	slices.SortFunc(ts, func(a, b *task) int {
		ar, br := a.lastStatus == StatusRunning, b.lastStatus == StatusRunning
		if ar != br {
			if ar {
				return 1
			}
			return -1
		}
		return b.createdAt.Compare(a.createdAt)
	})
}

func countStatus(ts []*task, status string) int {
	n := 0
	for _, t := range ts {
		if t.lastStatus == status {
			n++
		}
	}
	return n
}

func taskList(ids []string) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = "(task " + id + ")"
	}
	return strings.Join(parts, " ")
}

// event adds a service event. Called with s.mu held.
func (s *Supervisor) event(svc *service, msg string) {
	svc.events = append([]Event{{ID: newUUID(), CreatedAt: time.Now(), Message: msg}}, svc.events...)
	if len(svc.events) > maxEvents {
		svc.events = svc.events[:maxEvents]
	}
}

// failed counts t, which exited by itself, against its service and delays
// the service's next start; t is STOPPED from now on, so the back-off is
// measured from its stoppedAt. Called with s.mu held.
func (s *Supervisor) failed(t *task) {
	now := time.Now()
	t.stoppedAt = now
	svc := t.svc
	svc.failures++
	backoff := s.opts.RestartBackoff << min(svc.failures-1, 20)
	backoff = min(backoff, s.opts.MaxRestartBackoff)
	svc.notBefore = now.Add(backoff)
	svc.steady = false
	if svc.failures == 3 {
		s.event(svc, fmt.Sprintf("(service %s) is unable to consistently start tasks successfully.", svc.name))
	}
}

// deploymentID names the deployment of taskDef in a service. It is derived,
// not random, so that the proxy can name a deployment UpdateService has just
// made before the supervisor has read it.
func deploymentID(serviceARN, taskDef string) string {
	h := fnv.New64a()
	_, _ = h.Write([]byte(serviceARN + "|" + taskDef))
	return fmt.Sprintf("ecs-svc/%019d", h.Sum64()%1e19)
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func newUUID() string {
	id := newID()
	return id[:8] + "-" + id[8:12] + "-" + id[12:16] + "-" + id[16:20] + "-" + id[20:]
}
