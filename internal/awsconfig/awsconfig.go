// Package awsconfig loads the AWS SDK configuration shared by every binary of the
// project: the default credential chain, the region from an explicit value or the
// environment, and endpoints from the SDK's standard AWS_ENDPOINT_URL and
// AWS_ENDPOINT_URL_<SERVICE> variables — the only switch between AWS and emulators.
package awsconfig

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwschemas "github.com/aws/aws-sdk-go-v2/service/cloudwatch/schemas"
	"github.com/aws/smithy-go/transport/http/protocol/awsquery"
)

// Load returns the SDK configuration for region, or for the environment's region
// (AWS_REGION, shared config) when region is empty. It fails when no region is
// known at all, because every service client needs one. Its clients send
// request bodies without io.WriterTo (requestbody.go says why).
func Load(ctx context.Context, region string, optFns ...func(*config.LoadOptions) error) (aws.Config, error) {
	opts := append([]func(*config.LoadOptions) error{}, optFns...)
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return aws.Config{}, fmt.Errorf("no AWS region: set spec.region, AWS_REGION or a region in the shared config")
	}
	cfg.APIOptions = append(cfg.APIOptions, AddRequestBodyWithoutWriteTo)
	return cfg, nil
}

// CloudWatchQueryProtocol makes a CloudWatch client speak the awsQuery protocol
// instead of the SDK's default rpcv2-cbor. Real CloudWatch accepts both; the moto
// emulator only the former. Use it as an option of cloudwatch.NewFromConfig.
func CloudWatchQueryProtocol(o *cloudwatch.Options) {
	o.Protocol = awsquery.New(cwschemas.GraniteServiceVersion20100801)
}
