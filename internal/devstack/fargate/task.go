package fargate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/kdp-io/streamprocessor-operator/internal/devstack/ecstask"
)

// task is one local task. Fields below the line are guarded by
// Supervisor.mu; the others never change after newTask.
type task struct {
	id, arn string
	svc     *service
	spec    ecstask.Task
	runner  Runner
	addr    string
	stopReq chan struct{} // closed when the task is asked to stop
	once    sync.Once

	// guarded by Supervisor.mu
	port                                            int
	pid                                             int
	logPath                                         string
	lastStatus, desiredStatus                       string
	createdAt, pullStartedAt, startedAt, stoppingAt time.Time
	stoppedAt                                       time.Time
	stoppedReason, stopCode, containerReason        string
	exitCode                                        *int
}

// newTask creates a PROVISIONING task of svc and starts its lifecycle.
// Called with s.mu held.
func (s *Supervisor) newTask(svc *service, spec ecstask.Task, r Runner) *task {
	id := newID()
	t := &task{
		id: id, arn: taskARN(svc.arn, svc.cluster, id), svc: svc, spec: spec, runner: r,
		addr: s.nextAddress(), stopReq: make(chan struct{}),
		lastStatus: StatusProvisioning, desiredStatus: StatusRunning, createdAt: time.Now(),
	}
	s.tasks[id] = t
	s.wg.Add(1)
	go s.runTask(t)
	s.opts.Logger.Info("Starting task", "cluster", svc.cluster, "service", svc.name, "task", id, "taskDefinition", spec.TaskDefinitionARN)
	return t
}

// taskARN builds the task's ARN in the service's account and region.
func taskARN(serviceARN, cluster, id string) string {
	prefix, _, ok := strings.Cut(serviceARN, ":service/")
	if !ok {
		prefix = "arn:aws:ecs:us-east-1:000000000000"
	}
	return prefix + ":task/" + cluster + "/" + id
}

// nextAddress returns the next task address. Called with s.mu held.
func (s *Supervisor) nextAddress() string {
	if s.opts.SharedAddress {
		return "127.0.0.1"
	}
	n := s.addrSeq
	s.addrSeq++
	return fmt.Sprintf("127.0.%d.%d", 1+(n/250)%250, 1+n%250)
}

// requestStop asks t to stop with reason, once. Called with s.mu held.
func (s *Supervisor) requestStop(t *task, reason, code string) {
	if t.desiredStatus == StatusStopped {
		return
	}
	t.desiredStatus, t.stoppedReason, t.stopCode = StatusStopped, reason, code
	t.once.Do(func() { close(t.stopReq) })
}

// process is a started task process.
type process struct {
	cmd  *exec.Cmd
	done chan struct{}
	ws   syscall.WaitStatus
}

// runTask walks t through its lifecycle: PROVISIONING for StartDelay,
// PENDING once its process runs, RUNNING once healthy, then either STOPPED
// when the process exits by itself, or STOPPING (drain, SIGTERM, SIGKILL
// after the stop timeout) and STOPPED when asked to stop.
func (s *Supervisor) runTask(t *task) {
	defer s.wg.Done()
	select {
	case <-time.After(s.opts.StartDelay):
	case <-t.stopReq:
		s.finish(t, nil, "")
		return
	}
	secrets, err := s.resolveSecrets(t)
	if err != nil {
		s.cannotStart(t, "ResourceInitializationError: ", err)
		return
	}
	shipper, err := s.openLogs(t)
	if err != nil {
		s.cannotStart(t, "ResourceInitializationError: failed to validate logger args: ", err)
		return
	}
	p, err := s.startProcess(t, secrets, shipper)
	if err != nil {
		if shipper != nil {
			_ = shipper.Close()
		}
		s.cannotStart(t, "CannotStartContainerError: ", err)
		return
	}
	s.notify(t)

	if s.awaitHealthy(t, p) {
		s.mu.Lock()
		t.lastStatus, t.startedAt = StatusRunning, time.Now()
		s.mu.Unlock()
		s.opts.Logger.Info("Task running", "service", t.svc.name, "task", t.id, "address", t.addr, "port", t.port)
		s.notify(t)
		s.wake()
	}
	select {
	case <-p.done:
		s.mu.Lock()
		if t.desiredStatus == StatusRunning { // not asked to stop: it crashed or quit
			t.desiredStatus, t.stoppedReason, t.stopCode = StatusStopped, "Essential container in task exited", "EssentialContainerExited"
			s.failed(t)
		}
		s.mu.Unlock()
		s.finish(t, p, "")
	case <-t.stopReq:
		s.finish(t, p, s.stopProcess(t, p))
	}
	s.wake()
}

// cannotStart stops t, which never ran, with ECS's stoppedReason (reason
// kind + err) and a service event, and counts a failed start for the back-off.
func (s *Supervisor) cannotStart(t *task, kind string, err error) {
	s.mu.Lock()
	s.event(t.svc, fmt.Sprintf("(service %s) failed to start (task %s): %v.", t.svc.name, t.id, err))
	s.failed(t)
	if t.desiredStatus == StatusRunning {
		t.desiredStatus, t.stoppedReason, t.stopCode = StatusStopped, kind+err.Error(), "TaskFailedToStart"
	}
	s.mu.Unlock()
	s.opts.Logger.Error(err, "Cannot start task", "service", t.svc.name, "task", t.id)
	s.finish(t, nil, "")
}

// resolveSecrets reads t's container secrets from Options.Secrets, as ECS
// does with the execution role before it starts the container. Any secret
// that cannot be read fails the start.
func (s *Supervisor) resolveSecrets(t *task) (map[string]string, error) {
	if len(t.spec.Secrets) == 0 {
		return nil, nil
	}
	if s.opts.Secrets == nil {
		return nil, fmt.Errorf("unable to pull secrets: the container has %d secrets and local Fargate has no Options.Secrets to read them", len(t.spec.Secrets))
	}
	ctx, cancel := context.WithTimeout(context.Background(), secretTimeout)
	defer cancel()
	return s.opts.Secrets.Resolve(ctx, t.spec.Secrets)
}

// secretTimeout bounds reading a task's secrets.
const secretTimeout = 30 * time.Second

// openLogs opens t's awslogs stream when its container has an awslogs log
// configuration and there is a CloudWatch Logs client; nil otherwise.
func (s *Supervisor) openLogs(t *task) (*logShipper, error) {
	l := t.spec.AWSLogs
	if l == nil || s.opts.Logs == nil {
		return nil, nil
	}
	return openLogShipper(s.opts.Logs, l.Group, awslogsStream(l.StreamPrefix, t.spec.Container, t.id), s.opts.LogFlushInterval, time.Now,
		s.opts.Logger.WithValues("service", t.svc.name, "task", t.id))
}

// startProcess starts t's binary with its environment, its resolved secrets
// and its log file; with shipper (awslogs), its output goes there too, and
// the shipper is closed once the process has exited.
func (s *Supervisor) startProcess(t *task, secrets map[string]string, shipper *logShipper) (*process, error) {
	dir := filepath.Join(s.opts.LogDir, t.svc.name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create log directory: %w", err)
	}
	port, err := s.freePort(t.addr)
	if err != nil {
		return nil, err
	}
	info := TaskInfo{
		TaskID: t.id, Cluster: t.svc.cluster, Service: t.svc.name, Container: t.spec.Container,
		Image: t.spec.Image, TaskDefinitionARN: t.spec.TaskDefinitionARN, Address: t.addr, Port: port,
		Env: maps.Clone(t.spec.Env),
	}
	// Secrets come after the task definition's environment (ECS refuses a
	// name in both) and before what local Fargate sets per task.
	overrides := s.taskOverrides(t.runner, info)
	for k, v := range secrets {
		if _, ok := overrides[k]; !ok {
			overrides[k] = v
		}
	}
	env := t.spec.EnvironWith(s.opts.TaskEnv, overrides)
	logPath := filepath.Join(dir, t.id+".log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create log file: %w", err)
	}
	cmd := exec.Command(t.runner.Binary, t.runner.Args...)
	cmd.Env, cmd.Dir = env, dir
	var out io.Writer = logFile
	if shipper != nil {
		out = io.MultiWriter(logFile, shipper)
	}
	cmd.Stdout, cmd.Stderr = out, out
	// Its own process group, so that stopping it reaches its children too;
	// killed with the supervisor should that die without stopping its tasks
	// (kill -9, a test binary killed), so no task outlives local Fargate.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	s.mu.Lock()
	t.lastStatus, t.pullStartedAt, t.port, t.logPath = StatusPending, time.Now(), port, logPath
	s.mu.Unlock()
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		s.releasePort(port)
		return nil, fmt.Errorf("CannotStartContainerError: start %s: %w", t.runner.Binary, err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		_ = logFile.Close()
		if shipper != nil {
			_ = shipper.Close()
		}
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok {
			p.ws = ws
		}
		close(p.done)
	}()
	s.mu.Lock()
	t.pid = cmd.Process.Pid
	s.mu.Unlock()
	return p, nil
}

// taskOverrides are the variables a task gets beyond its task definition's
// and Options.TaskEnv: its port, its worker id and the runner's extras.
func (s *Supervisor) taskOverrides(r Runner, info TaskInfo) map[string]string {
	env := map[string]string{"WORKER_ID": info.TaskID}
	if r.ExtraEnv != nil {
		for k, v := range r.ExtraEnv(info) {
			env[k] = v
		}
	}
	switch r.Port {
	case HTTPAddrEnv:
		env["HTTP_ADDR"] = net.JoinHostPort(info.Address, strconv.Itoa(info.Port))
	default:
		env["PORT"] = strconv.Itoa(info.Port)
	}
	return env
}

// freePort returns a port nobody listens on and no live task holds.
func (s *Supervisor) freePort(addr string) (int, error) {
	for range 20 {
		ln, err := net.Listen("tcp", net.JoinHostPort(addr, "0"))
		if err != nil {
			return 0, fmt.Errorf("find a free port on %s: %w", addr, err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		_ = ln.Close()
		// A task listening with PORT binds every interface: the port must
		// also be free there.
		if ln2, err := net.Listen("tcp", ":"+strconv.Itoa(port)); err == nil {
			_ = ln2.Close()
		} else {
			continue
		}
		s.mu.Lock()
		taken := s.ports[port]
		if !taken {
			s.ports[port] = true
		}
		s.mu.Unlock()
		if !taken {
			return port, nil
		}
	}
	return 0, fmt.Errorf("find a free port on %s: none after 20 tries", addr)
}

func (s *Supervisor) releasePort(port int) {
	s.mu.Lock()
	delete(s.ports, port)
	s.mu.Unlock()
}

// awaitHealthy polls the health path until it answers 2xx (true), or the
// process exits or the task is asked to stop (false).
func (s *Supervisor) awaitHealthy(t *task, p *process) bool {
	url := "http://" + net.JoinHostPort(t.addr, strconv.Itoa(t.port)) + t.runner.HealthPath
	hc := &http.Client{Timeout: 2 * time.Second}
	tick := time.NewTicker(s.opts.HealthInterval)
	defer tick.Stop()
	for {
		if resp, err := hc.Get(url); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode >= 200 && resp.StatusCode < 300 {
				return true
			}
		}
		select {
		case <-p.done:
			return false
		case <-t.stopReq:
			return false
		case <-tick.C:
		}
	}
}

// stopProcess stops a task as ECS does: out of the load balancer first, then
// SIGTERM, then SIGKILL after the container's stop timeout. It returns the
// container's reason when it had to be killed.
func (s *Supervisor) stopProcess(t *task, p *process) string {
	s.mu.Lock()
	t.lastStatus, t.stoppingAt = StatusStopping, time.Now()
	s.mu.Unlock()
	if s.opts.Balancer != nil {
		ctx, cancel := context.WithTimeout(context.Background(), s.opts.DrainTimeout)
		for _, tg := range s.targets(t) {
			s.opts.Balancer.Drain(ctx, tg)
		}
		cancel()
	}
	log := s.opts.Logger.WithValues("service", t.svc.name, "task", t.id)
	pid := p.cmd.Process.Pid
	if err := syscall.Kill(-pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		log.Error(err, "Cannot send SIGTERM")
	}
	log.Info("Sent SIGTERM", "stopTimeout", t.spec.StopTimeout)
	select {
	case <-p.done:
		return ""
	case <-time.After(t.spec.StopTimeout):
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	<-p.done
	log.Info("Killed task after its stop timeout", "stopTimeout", t.spec.StopTimeout)
	return fmt.Sprintf("killed with SIGKILL %s after SIGTERM (stopTimeout)", t.spec.StopTimeout)
}

// finish marks t STOPPED with the exit of p (nil: never started).
func (s *Supervisor) finish(t *task, p *process, containerReason string) {
	s.mu.Lock()
	t.lastStatus = StatusStopped
	if t.stoppedAt.IsZero() { // failed set it already
		t.stoppedAt = time.Now()
	}
	if t.desiredStatus != StatusStopped {
		t.desiredStatus = StatusStopped
	}
	t.containerReason = containerReason
	if p != nil {
		code := exitCode(p.ws)
		t.exitCode = &code
		delete(s.ports, t.port)
	}
	if t.stoppedReason == "" {
		t.stoppedReason = "Task stopped"
	}
	s.event(t.svc, fmt.Sprintf("(service %s) has stopped 1 running tasks: (task %s).", t.svc.name, t.id))
	t.svc.steady = false
	reason := t.stoppedReason
	s.mu.Unlock()
	if p != nil {
		s.notify(t)
	}
	log := s.opts.Logger.WithValues("service", t.svc.name, "task", t.id, "reason", reason)
	if p != nil {
		log = log.WithValues("exitCode", exitCode(p.ws))
	}
	log.Info("Task stopped")
}

// exitCode is the container exit code ECS would report: the status, or 128
// plus the signal (137 for SIGKILL).
func exitCode(ws syscall.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// targets returns t as a target of each of its service's target groups that
// route to its container.
func (s *Supervisor) targets(t *task) []Target {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Target
	for _, b := range t.svc.bindings {
		if b.ContainerName != "" && b.ContainerName != t.spec.Container {
			continue
		}
		out = append(out, Target{
			TaskID: t.id, TaskARN: t.arn, Cluster: t.svc.cluster, Service: t.svc.name,
			TargetGroupARN: b.TargetGroupARN, Address: t.addr, Port: t.port, LastStatus: t.lastStatus,
		})
	}
	return out
}

// notify tells the balancer t's state.
func (s *Supervisor) notify(t *task) {
	if s.opts.Balancer == nil {
		return
	}
	for _, tg := range s.targets(t) {
		s.opts.Balancer.TaskChanged(tg)
	}
}
