// Command devworkloads prints the environment an ECS service's task runs
// with, read from ECS (on the local stack: moto), so that hack/dev-workloads.sh
// can start the workload binary as a local process standing in for the task
// that moto never starts.
//
//	devworkloads -cluster local -service <name or ARN> [-set KEY=VALUE]...
//
// Output: the container's environment from the service's current task
// definition, the host's AWS credential and endpoint variables, then the -set
// overrides, one KEY=VALUE per line, sorted. Task details go to stderr.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ecs"

	"github.com/kdp-io/streamprocessor-operator/internal/awsconfig"
	"github.com/kdp-io/streamprocessor-operator/internal/devstack/ecstask"
)

// overrides collects repeated -set KEY=VALUE flags.
type overrides map[string]string

func (o overrides) String() string { return fmt.Sprint(map[string]string(o)) }

func (o overrides) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want KEY=VALUE, got %q", s)
	}
	o[k] = v
	return nil
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "devworkloads:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("devworkloads", flag.ContinueOnError)
	cluster := fs.String("cluster", "", "ECS cluster of the service (spec.ecs.cluster)")
	service := fs.String("service", "", "ECS service name or ARN (status.producer.serviceArn, status.consumer.serviceArn)")
	region := fs.String("region", "", "region of the cluster (default: the environment's)")
	set := overrides{}
	fs.Var(set, "set", "KEY=VALUE to add or override (repeatable), e.g. a port or output file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cluster == "" || *service == "" {
		return errors.New("-cluster and -service are required")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg, err := awsconfig.Load(ctx, *region)
	if err != nil {
		return err
	}
	task, err := ecstask.Lookup(ctx, ecs.NewFromConfig(cfg), *cluster, *service)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "devworkloads: service %s runs %s (container %s, %d desired, stop timeout %s)\n",
		task.Service, task.TaskDefinitionARN, task.Container, task.DesiredCount, task.StopTimeout)
	var out strings.Builder
	for _, kv := range task.Environ(os.Environ(), set) {
		// One variable per line: a value with a newline cannot be passed on.
		if strings.ContainsAny(kv, "\n\x00") {
			name, _, _ := strings.Cut(kv, "=")
			return fmt.Errorf("variable %s of %s has a newline or NUL in its value", name, task.TaskDefinitionARN)
		}
		out.WriteString(kv + "\n")
	}
	_, err = os.Stdout.WriteString(out.String())
	return err
}
