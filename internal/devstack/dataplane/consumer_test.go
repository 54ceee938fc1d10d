package dataplane_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/go-logr/logr/testr"

	"github.com/kdp-io/streamprocessor-operator/internal/awsconfig"
	"github.com/kdp-io/streamprocessor-operator/internal/devstack/dataplane"
	"github.com/kdp-io/streamprocessor-operator/internal/devstack/fargate"
	"github.com/kdp-io/streamprocessor-operator/internal/devstack/fargate/fargatetest"
	"github.com/kdp-io/streamprocessor-operator/internal/devstack/localimage"
	"github.com/kdp-io/streamprocessor-operator/internal/testenv"
	"github.com/kdp-io/streamprocessor-operator/internal/testenv/plane"
)

// TestSeedProcessorRunsOnLocalFargate: a consumer task definition as the
// operator registers it for config/samples' MultiLang sample (image of the
// seed's processor, PROCESSOR_COMMAND and PROPERTIES_FILE as image paths)
// runs on local Fargate as our consumer binary with the seed's unmodified
// record_processor.py (log path redirected) under the host's python3, through
// the image's local stand-in; every record put into the stream is in the
// processor's log, and the task got no OUTPUT.
func TestSeedProcessorRunsOnLocalFargate(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the consumer and runs it on the emulators")
	}
	testenv.Require(t, testenv.Kinesis, testenv.DynamoDB)
	compat := testenv.CompatFixtures(t)
	testenv.Python3(t)
	bin := filepath.Join(t.TempDir(), "consumer")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/kdp-io/streamprocessor-operator/cmd/consumer").CombinedOutput(); err != nil {
		t.Fatalf("build consumer: %v\n%s", err, out)
	}
	const image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/seed-record-processor:v1"
	images, outDir := t.TempDir(), t.TempDir()
	img, err := localimage.BuildSeedProcessor(compat, images, image)
	if err != nil {
		t.Fatal(err)
	}
	s := fargatetest.Start(t, "", fargate.Options{
		Runners: []fargate.Runner{dataplane.ConsumerRunner(bin, outDir, images, testr.New(t))},
		TaskEnv: dataplane.AWSEnv(os.Environ()),
	})

	ctx := context.Background()
	cfg, err := awsconfig.Load(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	kin, db := kinesis.NewFromConfig(cfg), dynamodb.NewFromConfig(cfg)
	stream, app := testenv.UniqueName("seedproc"), testenv.UniqueName("seedproc-app")
	if _, err := kin.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(stream), ShardCount: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = kin.DeleteStream(context.Background(), &kinesis.DeleteStreamInput{StreamName: aws.String(stream)})
		_, _ = db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(app)})
	})
	waitActive(t, kin, stream)

	env := map[string]string{
		"STREAM_NAME": stream, "APPLICATION_NAME": app, "AWS_REGION": cfg.Region, "TASK_MEMORY_MIB": "1024",
		"PROCESSOR_COMMAND": "python3 /app/record_processor.py", "PROPERTIES_FILE": "/app/sample.properties",
	}
	s.Service("seedproc", s.TaskDef("seedproc", "consumer", image, env, 10), 1)
	s.WaitRunning("seedproc", 1)

	var want []string
	for i := range 30 {
		data := fmt.Sprintf("seed-local-%s-%02d", stream, i)
		want = append(want, data)
		if _, err := kin.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String(stream), PartitionKey: aws.String(data), Data: []byte(data)}); err != nil {
			t.Fatal(err)
		}
	}
	plane.WaitForLines(t, filepath.Join(img.Root, "app", "logs", "record_processor.log"), want, time.Minute)
	if entries, _ := os.ReadDir(outDir); len(entries) != 0 {
		t.Errorf("a processor task wrote built-in output: %v", entries)
	}
}

func waitActive(t *testing.T, kin *kinesis.Client, stream string) {
	t.Helper()
	for range 100 {
		out, err := kin.DescribeStreamSummary(context.Background(), &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(stream)})
		if err == nil && out.StreamDescriptionSummary.StreamStatus == ktypes.StreamStatusActive {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("stream %s not ACTIVE", stream)
}
