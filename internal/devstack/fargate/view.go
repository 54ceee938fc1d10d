package fargate

import (
	"slices"
	"strings"
	"time"
)

// TaskView is a snapshot of one local task, as DescribeTasks reports it.
type TaskView struct {
	ID, ARN, Cluster, Service, Container, Image, TaskDefinitionARN string
	LastStatus, DesiredStatus                                      string
	CPU, MemoryMiB                                                 int
	CreatedAt, PullStartedAt, StartedAt, StoppingAt, StoppedAt     time.Time
	StoppedReason, StopCode, ContainerReason                       string
	ExitCode                                                       *int
	// Address and Port are where it listens; PID is its process (0 before
	// it starts); LogPath its stdout and stderr.
	Address string
	Port    int
	PID     int
	LogPath string
}

// Tasks returns every task the supervisor knows, STOPPED ones within their
// retention included, oldest first.
func (s *Supervisor) Tasks() []TaskView {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]TaskView, 0, len(s.tasks))
	for _, t := range s.tasks {
		out = append(out, s.view(t))
	}
	slices.SortFunc(out, func(a, b TaskView) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out
}

// view copies t. Called with s.mu held.
func (s *Supervisor) view(t *task) TaskView {
	v := TaskView{
		ID: t.id, ARN: t.arn, Cluster: t.svc.cluster, Service: t.svc.name, Container: t.spec.Container,
		Image: t.spec.Image, TaskDefinitionARN: t.spec.TaskDefinitionARN,
		LastStatus: t.lastStatus, DesiredStatus: t.desiredStatus, CPU: t.spec.CPU, MemoryMiB: t.spec.MemoryMiB,
		CreatedAt: t.createdAt, PullStartedAt: t.pullStartedAt, StartedAt: t.startedAt,
		StoppingAt: t.stoppingAt, StoppedAt: t.stoppedAt,
		StoppedReason: t.stoppedReason, StopCode: t.stopCode, ContainerReason: t.containerReason,
		Address: t.addr, Port: t.port, PID: t.pid, LogPath: t.logPath,
	}
	if t.desiredStatus == StatusRunning {
		// The reason is set with the stop request; it is not one yet.
		v.StoppedReason, v.StopCode = "", ""
	}
	if t.exitCode != nil {
		c := *t.exitCode
		v.ExitCode = &c
	}
	return v
}

// deploymentView is one deployment of a service with its task counts.
type deploymentView struct {
	ID, TaskDefinition   string
	Primary              bool
	Desired              int
	Running, Pending     int
	Failed               int
	CreatedAt, UpdatedAt time.Time
}

// serviceView is what the proxy puts into a DescribeServices answer.
type serviceView struct {
	Running, Pending int
	Deployments      []deploymentView // PRIMARY first
	Events           []Event          // newest first
}

// manages reports whether cluster (a name or ARN) is supervised.
func (s *Supervisor) manages(cluster string) bool {
	return slices.Contains(s.opts.Clusters, clusterName(cluster))
}

// serviceView returns the live counts of a service whose current task
// definition is taskDef and desiredCount desired, as ECS just answered (they
// may be newer than the supervisor's last read). False when the supervisor
// has not read the service yet.
func (s *Supervisor) serviceView(cluster, name, taskDef string, desired int) (serviceView, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	svc := s.services[clusterName(cluster)+"/"+name]
	if svc == nil {
		return serviceView{}, false
	}
	v := serviceView{Events: slices.Clone(svc.events)}
	deps := []deployment{{id: deploymentID(svc.arn, taskDef), taskDef: taskDef, createdAt: time.Now(), updatedAt: time.Now()}}
	for _, d := range svc.deployments {
		if d.taskDef == taskDef {
			deps[0] = d
		} else {
			deps = append(deps, d)
		}
	}
	for i, d := range deps {
		dv := deploymentView{ID: d.id, TaskDefinition: d.taskDef, Primary: i == 0, CreatedAt: d.createdAt, UpdatedAt: d.updatedAt}
		live := 0
		for _, t := range s.tasks {
			if t.svc != svc || t.spec.TaskDefinitionARN != d.taskDef {
				continue
			}
			switch t.lastStatus {
			case StatusRunning:
				dv.Running++
			case StatusProvisioning, StatusPending:
				dv.Pending++
			}
			if t.lastStatus != StatusStopped {
				live++
			}
			if t.desiredStatus == StatusRunning {
				dv.Desired++
			}
		}
		if i == 0 {
			dv.Desired, dv.Failed = desired, svc.failures
		} else if live == 0 {
			continue // rolled out: ECS drops a drained deployment
		}
		v.Running += dv.Running
		v.Pending += dv.Pending
		v.Deployments = append(v.Deployments, dv)
	}
	return v, true
}

// clusterName returns the name in a cluster name or ARN ("default" for "").
func clusterName(c string) string {
	if c == "" {
		return "default"
	}
	if i := strings.LastIndex(c, ":cluster/"); i >= 0 {
		return c[i+len(":cluster/"):]
	}
	return c
}
