package controllers

import (
	"context"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kdp-io/streamprocessor-operator/internal/awsapi"
	"github.com/kdp-io/streamprocessor-operator/internal/awsconfig"
)

// KinesisAPI is the part of the Kinesis API the stream reconciler uses, with
// the SDK's signatures; *kinesis.Client satisfies it.
type KinesisAPI interface {
	CreateStream(ctx context.Context, in *kinesis.CreateStreamInput, optFns ...func(*kinesis.Options)) (*kinesis.CreateStreamOutput, error)
	DescribeStreamSummary(ctx context.Context, in *kinesis.DescribeStreamSummaryInput, optFns ...func(*kinesis.Options)) (*kinesis.DescribeStreamSummaryOutput, error)
	DeleteStream(ctx context.Context, in *kinesis.DeleteStreamInput, optFns ...func(*kinesis.Options)) (*kinesis.DeleteStreamOutput, error)
	UpdateShardCount(ctx context.Context, in *kinesis.UpdateShardCountInput, optFns ...func(*kinesis.Options)) (*kinesis.UpdateShardCountOutput, error)
	IncreaseStreamRetentionPeriod(ctx context.Context, in *kinesis.IncreaseStreamRetentionPeriodInput, optFns ...func(*kinesis.Options)) (*kinesis.IncreaseStreamRetentionPeriodOutput, error)
	DecreaseStreamRetentionPeriod(ctx context.Context, in *kinesis.DecreaseStreamRetentionPeriodInput, optFns ...func(*kinesis.Options)) (*kinesis.DecreaseStreamRetentionPeriodOutput, error)
	StartStreamEncryption(ctx context.Context, in *kinesis.StartStreamEncryptionInput, optFns ...func(*kinesis.Options)) (*kinesis.StartStreamEncryptionOutput, error)
	StopStreamEncryption(ctx context.Context, in *kinesis.StopStreamEncryptionInput, optFns ...func(*kinesis.Options)) (*kinesis.StopStreamEncryptionOutput, error)
	ListTagsForStream(ctx context.Context, in *kinesis.ListTagsForStreamInput, optFns ...func(*kinesis.Options)) (*kinesis.ListTagsForStreamOutput, error)
	AddTagsToStream(ctx context.Context, in *kinesis.AddTagsToStreamInput, optFns ...func(*kinesis.Options)) (*kinesis.AddTagsToStreamOutput, error)
	RemoveTagsFromStream(ctx context.Context, in *kinesis.RemoveTagsFromStreamInput, optFns ...func(*kinesis.Options)) (*kinesis.RemoveTagsFromStreamOutput, error)
}

// ECSAPI is the part of the ECS API the service reconcilers use, with the
// SDK's signatures; *ecs.Client satisfies it.
type ECSAPI interface {
	RegisterTaskDefinition(ctx context.Context, in *ecs.RegisterTaskDefinitionInput, optFns ...func(*ecs.Options)) (*ecs.RegisterTaskDefinitionOutput, error)
	DescribeTaskDefinition(ctx context.Context, in *ecs.DescribeTaskDefinitionInput, optFns ...func(*ecs.Options)) (*ecs.DescribeTaskDefinitionOutput, error)
	CreateService(ctx context.Context, in *ecs.CreateServiceInput, optFns ...func(*ecs.Options)) (*ecs.CreateServiceOutput, error)
	UpdateService(ctx context.Context, in *ecs.UpdateServiceInput, optFns ...func(*ecs.Options)) (*ecs.UpdateServiceOutput, error)
	DescribeServices(ctx context.Context, in *ecs.DescribeServicesInput, optFns ...func(*ecs.Options)) (*ecs.DescribeServicesOutput, error)
	DeleteService(ctx context.Context, in *ecs.DeleteServiceInput, optFns ...func(*ecs.Options)) (*ecs.DeleteServiceOutput, error)
	ListTagsForResource(ctx context.Context, in *ecs.ListTagsForResourceInput, optFns ...func(*ecs.Options)) (*ecs.ListTagsForResourceOutput, error)
	ListTaskDefinitions(ctx context.Context, in *ecs.ListTaskDefinitionsInput, optFns ...func(*ecs.Options)) (*ecs.ListTaskDefinitionsOutput, error)
	DeregisterTaskDefinition(ctx context.Context, in *ecs.DeregisterTaskDefinitionInput, optFns ...func(*ecs.Options)) (*ecs.DeregisterTaskDefinitionOutput, error)
}

// DynamoDBAPI is the part of DynamoDB the finalizer uses (the consumer's
// lease table), with the SDK's signature; *dynamodb.Client satisfies it.
type DynamoDBAPI interface {
	DeleteTable(ctx context.Context, in *dynamodb.DeleteTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteTableOutput, error)
}

// Clients are the AWS clients of one region.
type Clients struct {
	// Region the clients call.
	Region     string
	Kinesis    KinesisAPI
	ECS        ECSAPI
	CloudWatch CloudWatchAPI
	DynamoDB   DynamoDBAPI
}

// ClientFactory returns the clients for a region ("" = the environment's).
type ClientFactory func(ctx context.Context, region string) (Clients, error)

// NewClientFactory returns a ClientFactory that builds real SDK clients from
// the default credential chain, once per region, counting every call in calls.
// Endpoints come from the SDK's AWS_ENDPOINT_URL_<SERVICE> variables.
func NewClientFactory(calls *prometheus.CounterVec) ClientFactory {
	var mu sync.Mutex
	cache := map[string]Clients{}
	return func(ctx context.Context, region string) (Clients, error) {
		mu.Lock()
		defer mu.Unlock()
		if c, ok := cache[region]; ok {
			return c, nil
		}
		cfg, err := awsconfig.Load(ctx, region)
		if err != nil {
			return Clients{}, fmt.Errorf("AWS clients for region %q: %w", region, err)
		}
		awsapi.Instrument(&cfg, calls)
		c := Clients{
			Region:  cfg.Region,
			Kinesis: kinesis.NewFromConfig(cfg),
			ECS:     ecs.NewFromConfig(cfg, func(o *ecs.Options) { o.RetryMaxAttempts = 5 }),
			// awsQuery: real CloudWatch accepts it, and so does moto, which
			// does not speak the SDK's default rpcv2-cbor.
			CloudWatch: cloudwatch.NewFromConfig(cfg, awsconfig.CloudWatchQueryProtocol),
			DynamoDB:   dynamodb.NewFromConfig(cfg),
		}
		cache[region] = c
		return c, nil
	}
}
