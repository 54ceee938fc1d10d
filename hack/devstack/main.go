// Command devstack runs the Go parts of the local stack for hack/local-up.sh:
//
//	devstack control-plane --kubeconfig .local/kubeconfig --assets bin/k8s/v1.35.4 --crds config/crd/bases
//	    run etcd + kube-apiserver in the foreground until SIGTERM/SIGINT
//	devstack prepare-account --name local --env-out .local/account.env --sample-out .local/sample.yaml
//	    find or create the emulated AWS account and write its LOCAL_* exports
//	devstack dataplane --cluster local --state-dir .local --env-out .local/dataplane.env
//	    run the metered Kinesis, local Fargate and the local ALB in the foreground
//	    until SIGTERM/SIGINT (then every task is stopped as ECS stops tasks)
//	devstack seed-image --images-dir .local/images
//	    write the local stand-in of the MultiLang sample's consumer image (the
//	    seed's Python processor, from the compatibility fixtures)
//
// The logic lives in internal/devstack; this main only parses flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/kdp-io/streamprocessor-operator/internal/awsconfig"
	"github.com/kdp-io/streamprocessor-operator/internal/compatfixtures"
	"github.com/kdp-io/streamprocessor-operator/internal/devstack"
	"github.com/kdp-io/streamprocessor-operator/internal/devstack/dataplane"
	"github.com/kdp-io/streamprocessor-operator/internal/devstack/localimage"
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
	case "dataplane":
		err = dataPlane(ctx, log, os.Args[2:])
	case "seed-image":
		err = seedImage(log.WithName("seed-image"), os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "devstack:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: devstack control-plane|prepare-account|dataplane|seed-image [flags]  (-h for flags)")
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
	localize := fs.String("localize", "", "a config/samples StreamProcessor to point at the account, as IN=OUT (optional)")
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
	if *localize != "" {
		in, out, ok := strings.Cut(*localize, "=")
		if !ok {
			return fmt.Errorf("--localize %q: want IN=OUT", *localize)
		}
		data, err := os.ReadFile(in)
		if err != nil {
			return err
		}
		local, err := devstack.LocalizeSample(data, acct, cfg.Region)
		if err != nil {
			return fmt.Errorf("%s: %w", in, err)
		}
		if err := writeOut(out, "# "+in+" pointed at the local account by devstack prepare-account\n"+string(local)); err != nil {
			return fmt.Errorf("write localized sample: %w", err)
		}
	}
	return nil
}

// seedImage writes the local stand-in of the seed processor's image (package
// localimage) for the consumer image a sample names.
func seedImage(log logr.Logger, args []string) error {
	fs := flag.NewFlagSet("seed-image", flag.ExitOnError)
	imagesDir := fs.String("images-dir", ".local/images", "local images directory (the data plane's <state dir>/images)")
	sample := fs.String("sample", "config/samples/streaming_v1alpha1_streamprocessor_multilang.yaml", "StreamProcessor whose spec.consumer.image it stands for")
	compat := fs.String("compat", "", "compatibility fixtures (default: found as the tests find them, internal/compatfixtures)")
	_ = fs.Parse(args)

	data, err := os.ReadFile(*sample)
	if err != nil {
		return err
	}
	image, err := devstack.SampleConsumerImage(data)
	if err != nil || image == "" {
		return fmt.Errorf("%s names no spec.consumer.image (%v)", *sample, err)
	}
	dir := *compat
	if dir == "" {
		wd, _ := os.Getwd()
		if dir, err = compatfixtures.Find(wd, os.Getenv); err != nil {
			return err
		}
	}
	img, err := localimage.BuildSeedProcessor(dir, *imagesDir, image)
	if err != nil {
		return fmt.Errorf("local image %s: %w", image, err)
	}
	log.Info("Local image ready", "image", image, "dir", img.Dir, "processorLog", filepath.Join(img.Root, "app", "logs", "record_processor.log"), "fixtures", dir)
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

func dataPlane(ctx context.Context, log logr.Logger, args []string) error {
	fs := flag.NewFlagSet("dataplane", flag.ExitOnError)
	o := dataplane.Options{Log: log}
	cluster := fs.String("cluster", "local", "ECS cluster whose services run locally")
	envOut := fs.String("env-out", "", "file to write the endpoints and LOCAL_* exports to once listening (default: stdout)")
	fs.StringVar(&o.StateDir, "state-dir", ".local", "directory for task logs (tasks/) and consumer output (consumer-output/)")
	fs.StringVar(&o.ProducerBinary, "producer-bin", ".local/bin/producer", "binary run for producer containers")
	fs.StringVar(&o.ConsumerBinary, "consumer-bin", ".local/bin/consumer", "binary run for consumer containers")
	fs.StringVar(&o.MeterAddr, "meter-addr", "127.0.0.1:4570", "listen address of the metered Kinesis endpoint")
	fs.StringVar(&o.ECSAddr, "ecs-addr", "127.0.0.1:5006", "listen address of the ECS endpoint (local Fargate)")
	fs.StringVar(&o.ALBAddr, "alb-addr", "127.0.0.1:8080", "listen address of the first load-balancer listener")
	fs.DurationVar(&o.StartDelay, "task-start-delay", 2*time.Second, "time a task stays PROVISIONING (Fargate: about a minute)")
	fs.DurationVar(&o.PublishDelay, "metric-delay", 0, "how late each minute's AWS/Kinesis metrics are published (CloudWatch: 1–3 minutes)")
	_ = fs.Parse(args)
	o.Clusters = []string{*cluster}
	o.KinesisUpstream, o.ECSUpstream = os.Getenv("AWS_ENDPOINT_URL_KINESIS"), os.Getenv("AWS_ENDPOINT_URL_ECS")
	if o.KinesisUpstream == "" || o.ECSUpstream == "" {
		return errors.New("dataplane: AWS_ENDPOINT_URL_KINESIS and AWS_ENDPOINT_URL_ECS must name the emulators (source .local/emulators.env)")
	}
	o.TaskEnv = dataplane.AWSEnv(os.Environ())
	cfg, err := awsconfig.Load(ctx, "")
	if err != nil {
		return err
	}
	o.AWS = cfg
	p, err := dataplane.Start(ctx, o)
	if err != nil {
		return err
	}
	var exports strings.Builder
	env := p.Env()
	for _, k := range slices.Sorted(maps.Keys(env)) {
		fmt.Fprintf(&exports, "export %s=%s\n", k, devstack.ShellQuote(env[k]))
	}
	if err := writeOut(*envOut, exports.String()); err != nil {
		return fmt.Errorf("write data plane exports: %w", err)
	}
	log.Info("Data plane ready", "kinesis", p.MeterURL, "ecs", p.ECSURL, "producer", env["LOCAL_PRODUCER_URL"],
		"taskLogs", p.TaskLogDir, "consumerOutput", p.ConsumerOutputDir)
	<-ctx.Done()
	log.Info("Stopping the data plane: every task gets SIGTERM, then SIGKILL after its stop timeout")
	return p.Stop()
}
