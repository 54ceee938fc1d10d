// Command samplefromstack writes a StreamProcessor for the prerequisites stack
// of config/aws/prerequisites.yaml, from the stack's Outputs:
//
//	go run ./hack/samplefromstack -stack streamprocessor > sample.yaml
//	kubectl apply -f sample.yaml
//
// Region, credentials and endpoints come from the environment as for every
// AWS client here (AWS_REGION, AWS_ENDPOINT_URL_CLOUDFORMATION, …).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"sigs.k8s.io/yaml"

	"github.com/kdp-io/streamprocessor-operator/internal/awsconfig"
)

// Options choose what the sample names besides the stack's outputs.
type Options struct {
	Name, Namespace string
	ProducerImage   string
	ConsumerImage   string
	Region          string
	// AuthTokenFrom is the ARN of a Secrets Manager secret or SSM parameter
	// holding the producer's AUTH_TOKEN; empty for none.
	AuthTokenFrom string
}

func main() {
	var (
		stack string
		o     Options
	)
	flag.StringVar(&stack, "stack", "streamprocessor", "Name of the prerequisites stack.")
	flag.StringVar(&o.Name, "name", "clickstream", "Name of the StreamProcessor.")
	flag.StringVar(&o.Namespace, "namespace", "default", "Its namespace (default names begin with it: match the stack's NamePrefix).")
	flag.StringVar(&o.AuthTokenFrom, "auth-token-from", "", "ARN of a Secrets Manager secret or SSM parameter with the producer's AUTH_TOKEN (spec.producer.secrets); its name must begin with the stack's NamePrefix.")
	flag.StringVar(&o.ProducerImage, "producer-image", "ghcr.io/kdp-io/streamprocessor-producer:v0.1.0", "Producer image.")
	flag.StringVar(&o.ConsumerImage, "consumer-image", "ghcr.io/kdp-io/streamprocessor-consumer:v0.1.0", "Consumer image.")
	flag.Parse()
	ctx := context.Background()
	cfg, err := awsconfig.Load(ctx, "")
	if err != nil {
		fatal(err)
	}
	o.Region = cfg.Region
	outputs, err := StackOutputs(ctx, cloudformation.NewFromConfig(cfg), stack)
	if err != nil {
		fatal(err)
	}
	b, err := Sample(outputs, o)
	if err != nil {
		fatal(err)
	}
	os.Stdout.Write(b)
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "samplefromstack:", err)
	os.Exit(1)
}

// StackOutputs returns the Outputs of stack by key.
func StackOutputs(ctx context.Context, cf *cloudformation.Client, stack string) (map[string]string, error) {
	out, err := cf.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: &stack})
	if err != nil {
		return nil, fmt.Errorf("describe stack %s: %w", stack, err)
	}
	if len(out.Stacks) != 1 {
		return nil, fmt.Errorf("describe stack %s: %d stacks", stack, len(out.Stacks))
	}
	m := map[string]string{}
	for _, o := range out.Stacks[0].Outputs {
		if o.OutputKey != nil && o.OutputValue != nil {
			m[*o.OutputKey] = *o.OutputValue
		}
	}
	return m, nil
}

// Sample is the StreamProcessor YAML for a stack's outputs.
func Sample(out map[string]string, o Options) ([]byte, error) {
	for _, k := range []string{"Subnets", "SecurityGroups", "Cluster", "TargetGroupArn", "ExecutionRoleArn", "ProducerTaskRoleArn", "ConsumerTaskRoleArn"} {
		if out[k] == "" {
			return nil, fmt.Errorf("the stack has no output %s: is it config/aws/prerequisites.yaml?", k)
		}
	}
	port := int64(8080)
	if p := out["ProducerPort"]; p != "" {
		n, err := strconv.ParseInt(p, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("output ProducerPort %q: %w", p, err)
		}
		port = n
	}
	spec := map[string]any{
		"stream": map[string]any{"minShards": 1, "maxShards": 16, "deletionPolicy": "Delete"},
		"ecs": map[string]any{
			"cluster":          out["Cluster"],
			"subnets":          strings.Split(out["Subnets"], ","),
			"securityGroups":   strings.Split(out["SecurityGroups"], ","),
			"assignPublicIp":   out["AssignPublicIp"] == "true",
			"executionRoleArn": out["ExecutionRoleArn"],
		},
		// A task role each: the producer's only writes the stream, the
		// consumer's only reads it and keeps its lease table.
		"producer": map[string]any{
			"image": o.ProducerImage, "cpu": 512, "memory": 1024, "minTasks": 1, "maxTasks": 4,
			"containerPort": port, "targetGroupArn": out["TargetGroupArn"], "taskRoleArn": out["ProducerTaskRoleArn"],
		},
		"consumer": map[string]any{
			"image": o.ConsumerImage, "cpu": 512, "memory": 1024, "minTasks": 1, "maxTasks": 4,
			"taskRoleArn": out["ConsumerTaskRoleArn"],
		},
	}
	if g := out["LogGroup"]; g != "" {
		// Both tasks log there, so the consumer's records show in
		// CloudWatch Logs as the seed's do.
		spec["logs"] = map[string]any{"group": g}
	}
	if o.Region != "" {
		spec["region"] = o.Region
	}
	if o.AuthTokenFrom != "" {
		spec["producer"].(map[string]any)["secrets"] = []map[string]any{{"name": "AUTH_TOKEN", "valueFrom": o.AuthTokenFrom}}
	}
	sp := map[string]any{
		"apiVersion": "streaming.kdp.io/v1alpha1",
		"kind":       "StreamProcessor",
		"metadata":   map[string]any{"name": o.Name, "namespace": o.Namespace},
		"spec":       spec,
	}
	b, err := yaml.Marshal(sp)
	if err != nil {
		return nil, err
	}
	head := "# Generated by hack/samplefromstack from the prerequisites stack's outputs.\n"
	if u := out["LoadBalancerUrl"]; u != "" {
		head += "# Records: curl -X POST " + u + " -H 'Content-Type: application/json' -d '{\"data\":\"hello\"}'\n"
	}
	return append([]byte(head), b...), nil
}
