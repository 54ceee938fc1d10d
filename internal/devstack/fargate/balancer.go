package fargate

import "context"

// Balancer is what the supervisor tells a load balancer (package alb): which
// target groups services use, and where their tasks listen and in which
// state. Calls come from many goroutines; none is made with a lock held.
type Balancer interface {
	// SyncServices is called after every poll with each load balancer
	// binding of the supervised services (services without one are absent).
	SyncServices(bindings []Binding)
	// TaskChanged reports a task behind a target group: PENDING once its
	// process is started (register it and start health checks), RUNNING,
	// and STOPPED once the process has exited (remove it at once if still
	// there, e.g. after a kill -9).
	TaskChanged(t Target)
	// Drain takes a STOPPING task out of rotation at once, deregisters it
	// and returns when its in-flight requests are done or ctx ends. The
	// supervisor sends SIGTERM only after Drain returns.
	Drain(ctx context.Context, t Target)
}

// Binding is one entry of a service's loadBalancers.
type Binding struct {
	Cluster, Service string
	TargetGroupARN   string
	ContainerName    string
	ContainerPort    int32
}

// Target is one task as a target of one target group.
type Target struct {
	TaskID, TaskARN  string
	Cluster, Service string
	TargetGroupARN   string
	// Address and Port are where the task listens; Address is the target's
	// IP as registered in ELBv2.
	Address string
	Port    int
	// LastStatus is the task's ECS lastStatus.
	LastStatus string
}
