// Command consumer runs the stream consumer service: a KCL-compatible worker
// that processes every record of a Kinesis stream (see docs/consumer.md).
// Configuration comes from the environment, with flags of the same meaning.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/kdp-io/streamprocessor-operator/internal/awsconfig"
	"github.com/kdp-io/streamprocessor-operator/workloads/consumer"
)

// version is set at build time: -ldflags "-X main.version=v0.1.0".
var version = "dev"

func main() {
	if len(os.Args) == 2 && (os.Args[1] == "-version" || os.Args[1] == "--version") {
		fmt.Println("consumer", version)
		return
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if err := run(log); err != nil {
		log.Error("Consumer failed", "error", err)
		os.Exit(1)
	}
}

func run(log *slog.Logger) error {
	cfg, err := consumer.LoadConfig(os.Args[1:], os.Getenv)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	awsCfg, err := awsconfig.Load(ctx, cfg.Region)
	if err != nil {
		return err
	}
	metrics := consumer.NewMetrics()
	svc, err := consumer.New(cfg, consumer.Deps{
		Kinesis:  kinesis.NewFromConfig(awsCfg, func(o *kinesis.Options) { o.APIOptions = append(o.APIOptions, metrics.CountAWSCalls) }),
		DynamoDB: dynamodb.NewFromConfig(awsCfg, func(o *dynamodb.Options) { o.APIOptions = append(o.APIOptions, metrics.CountAWSCalls) }),
		CloudWatch: cloudwatch.NewFromConfig(awsCfg, awsconfig.CloudWatchQueryProtocol,
			func(o *cloudwatch.Options) { o.APIOptions = append(o.APIOptions, metrics.CountAWSCalls) }),
		Metrics: metrics,
		Logger:  log,
	})
	if err != nil {
		return fmt.Errorf("set up consumer: %w", err)
	}
	return svc.Run(ctx)
}
