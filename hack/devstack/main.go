// Command devstack runs the Go parts of the local stack for hack/local-up.sh:
//
//	devstack control-plane --kubeconfig .local/kubeconfig --assets bin/k8s/v1.35.4 --crds config/crd/bases
//	    run etcd + kube-apiserver in the foreground until SIGTERM/SIGINT
//	devstack prepare-account --name local --env-out .local/account.env --sample-out .local/sample.yaml
//	    find or create the emulated AWS account and write its LOCAL_* exports
//
// The logic lives in internal/devstack; this main only parses flags.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/kdp-io/streamprocessor-operator/internal/awsconfig"
	"github.com/kdp-io/streamprocessor-operator/internal/devstack"
)

func main() {
	log := funcr.New(func(prefix, args string) {
		fmt.Fprintln(os.Stderr, time.Now().UTC().Format(time.RFC3339), prefix, args)
	}, funcr.Options{})
	ctrllog.SetLogger(log.WithName("envtest").V(1))

	if len(os.Args) < 2 {
		usage()
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	var err error
	switch os.Args[1] {
	case "control-plane":
		err = controlPlane(ctx, log.WithName("control-plane"), os.Args[2:])
	case "prepare-account":
		err = prepareAccount(ctx, log.WithName("prepare-account"), os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "devstack:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: devstack control-plane|prepare-account [flags]  (-h for flags)")
	os.Exit(2)
}

func controlPlane(ctx context.Context, log logr.Logger, args []string) error {
	fs := flag.NewFlagSet("control-plane", flag.ExitOnError)
	opts := devstack.ControlPlaneOptions{Log: log}
	fs.StringVar(&opts.Kubeconfig, "kubeconfig", ".local/kubeconfig", "file to write the admin kubeconfig to")
	fs.StringVar(&opts.AssetsDir, "assets", "", "directory holding kube-apiserver and etcd (output of hack/control-plane.sh)")
	fs.StringVar(&opts.CRDDir, "crds", "config/crd/bases", "directory of CRD manifests to install (optional)")
	fs.StringVar(&opts.ChildPIDFile, "child-pids", "", "file to write the PIDs of etcd and kube-apiserver to")
	fs.StringVar(&opts.LogDir, "log-dir", "", "directory for etcd.log and kube-apiserver.log (default: discard their output)")
	fs.StringVar(&opts.User, "user", "local-admin", "admin user name (member of system:masters)")
	_ = fs.Parse(args)
	return devstack.RunControlPlane(ctx, opts)
}

func prepareAccount(ctx context.Context, log logr.Logger, args []string) error {
	fs := flag.NewFlagSet("prepare-account", flag.ExitOnError)
	name := fs.String("name", "local", "account name: ECS cluster, VPC tag, load balancer")
	envOut := fs.String("env-out", "", "file to write the LOCAL_* exports to (default: stdout)")
	sampleOut := fs.String("sample-out", "", "file to write a ready StreamProcessor sample to (optional)")
	timeout := fs.Duration("timeout", 2*time.Minute, "give up after this long")
	_ = fs.Parse(args)

	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	cfg, err := awsconfig.Load(ctx, "")
	if err != nil {
		return err
	}
	acct, err := devstack.PrepareAccount(ctx, cfg, *name)
	if err != nil {
		return err
	}
	log.Info("Account ready", "name", *name, "vpc", acct.VPCID, "subnets", acct.SubnetIDs,
		"securityGroups", acct.SecurityGroupIDs, "cluster", acct.Cluster, "targetGroup", acct.TargetGroupARN)

	if err := writeOut(*envOut, devstack.EnvExports(acct)); err != nil {
		return fmt.Errorf("write account exports: %w", err)
	}
	if *sampleOut != "" {
		if err := writeOut(*sampleOut, devstack.SampleStreamProcessor(acct, cfg.Region)); err != nil {
			return fmt.Errorf("write sample: %w", err)
		}
	}
	return nil
}

// writeOut writes s to path, or to stdout when path is empty.
func writeOut(path, s string) error {
	if path == "" {
		_, err := os.Stdout.WriteString(s)
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(s), 0o644)
}
