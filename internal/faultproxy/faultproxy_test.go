package faultproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/kdp-io/streamprocessor-operator/internal/awsconfig"
)

// upstream answers every request with an empty JSON object and counts them.
func upstream(t *testing.T) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		n.Add(1)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		io.WriteString(w, `{}`)
	}))
	t.Cleanup(s.Close)
	return s, &n
}

func clients(url string) (*kinesis.Client, *dynamodb.Client) {
	cfg := aws.Config{Region: "us-east-1", Credentials: aws.AnonymousCredentials{}, RetryMaxAttempts: 1, APIOptions: []func(*middleware.Stack) error{awsconfig.AddRequestBodyWithoutWriteTo}}
	return kinesis.NewFromConfig(cfg, func(o *kinesis.Options) { o.BaseEndpoint = aws.String(url) }),
		dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(url) })
}

func TestFaults(t *testing.T) {
	up, forwarded := upstream(t)
	p, err := New(up.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	kin, db := clients(p.URL())
	key := map[string]dtypes.AttributeValue{"leaseKey": &dtypes.AttributeValueMemberS{Value: "k"}}
	ctx := context.Background()
	list := func(ctx context.Context) error {
		_, err := kin.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String("s")})
		return err
	}

	if err := list(ctx); err != nil || forwarded.Load() != 1 {
		t.Fatalf("pass-through: %v, %d forwarded", err, forwarded.Load())
	}

	// Throttling in each service's own shape, every second call, twice at most.
	p.Set(Rule{Op: "ListShards", Fault: Throttle, Every: 2, Limit: 2})
	var throttled int
	for i := 0; i < 6; i++ {
		var thr *ktypes.ProvisionedThroughputExceededException
		if err := list(ctx); errors.As(err, &thr) {
			throttled++
		} else if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if throttled != 2 || p.Injected()[Throttle] != 2 {
		t.Fatalf("%d throttled, %v injected; want 2 (every 2nd, limit 2)", throttled, p.Injected())
	}
	p.Set(Rule{Op: "UpdateItem", Fault: Throttle})
	_, err = db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String("t"), Key: key})
	var dthr *dtypes.ProvisionedThroughputExceededException
	if !errors.As(err, &dthr) {
		t.Fatalf("DynamoDB throttle: %v", err)
	}

	p.Set(Rule{Fault: ServerError})
	var api interface{ ErrorCode() string }
	if err := list(ctx); !errors.As(err, &api) || api.ErrorCode() != "InternalFailure" {
		t.Fatalf("5xx: %v", err)
	}

	p.Set(Rule{Fault: Reset})
	if err := list(ctx); err == nil {
		t.Fatal("reset: no error")
	}

	before := forwarded.Load()
	p.Set(Rule{Fault: BlackHole})
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	err = list(short)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) || forwarded.Load() != before {
		t.Fatalf("black hole: %v, %d forwarded; want a timeout and nothing forwarded", err, forwarded.Load()-before)
	}

	p.Set(Rule{Fault: Ambiguous})
	short, cancel = context.WithTimeout(ctx, 200*time.Millisecond)
	err = list(short)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) || forwarded.Load() != before+1 {
		t.Fatalf("ambiguous: %v, %d forwarded; want a timeout and the request forwarded", err, forwarded.Load()-before)
	}

	p.Set(Rule{Fault: Latency, Delay: 100 * time.Millisecond})
	start := time.Now()
	if err := list(ctx); err != nil || time.Since(start) < 100*time.Millisecond {
		t.Fatalf("latency: %v after %v", err, time.Since(start))
	}
	p.Set(Rule{Op: "UpdateItem", BodyContains: "checkpoint", Fault: ServerError})
	if _, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String("t"), Key: key, UpdateExpression: aws.String("SET leaseCounter = :n")}); err != nil {
		t.Fatalf("body not matching: %v", err)
	}
	if _, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String("t"), Key: key, UpdateExpression: aws.String("SET checkpoint = :cp")}); err == nil {
		t.Fatal("body matching: no error")
	}
	if p.Requests("ListShards") == 0 || p.Requests("UpdateItem") != 3 {
		t.Fatalf("requests counted: ListShards %d, UpdateItem %d", p.Requests("ListShards"), p.Requests("UpdateItem"))
	}
}

// ECS (JSON) and CloudWatch (query protocol) get throttling and 5xx in their
// own shapes: the SDK reports the services' error codes.
func TestFaultShapesOfOtherServices(t *testing.T) {
	up, _ := upstream(t)
	p, err := New(up.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	cfg := aws.Config{Region: "us-east-1", Credentials: aws.AnonymousCredentials{}, RetryMaxAttempts: 1, APIOptions: []func(*middleware.Stack) error{awsconfig.AddRequestBodyWithoutWriteTo}}
	e := ecs.NewFromConfig(cfg, func(o *ecs.Options) { o.BaseEndpoint = aws.String(p.URL()) })
	cw := cloudwatch.NewFromConfig(cfg, awsconfig.CloudWatchQueryProtocol, func(o *cloudwatch.Options) { o.BaseEndpoint = aws.String(p.URL()) })
	ctx := context.Background()
	code := func(err error) string {
		var api interface{ ErrorCode() string }
		if errors.As(err, &api) {
			return api.ErrorCode()
		}
		return fmt.Sprint(err)
	}
	p.Set(Rule{Op: "UpdateService", Fault: Throttle}, Rule{Op: "PutMetricData", Fault: Throttle, Limit: 1}, Rule{Op: "PutMetricData", Fault: ServerError})
	_, err = e.UpdateService(ctx, &ecs.UpdateServiceInput{Service: aws.String("s")})
	if got := code(err); got != "ThrottlingException" {
		t.Errorf("ECS throttle: %s", got)
	}
	put := &cloudwatch.PutMetricDataInput{Namespace: aws.String("n"), MetricData: []cwtypes.MetricDatum{{MetricName: aws.String("m"), Value: aws.Float64(1)}}}
	if _, err = cw.PutMetricData(ctx, put); code(err) != "Throttling" {
		t.Errorf("CloudWatch throttle: %s", code(err))
	}
	var fault *cwtypes.InternalServiceFault
	if _, err = cw.PutMetricData(ctx, put); !errors.As(err, &fault) {
		t.Errorf("CloudWatch 5xx: %v, want InternalServiceFault", err)
	}
	if p.Requests("PutMetricData") != 2 || p.Requests("UpdateService") != 1 {
		t.Errorf("operations not recognised: PutMetricData %d, UpdateService %d", p.Requests("PutMetricData"), p.Requests("UpdateService"))
	}
}

// Upstream counts what the service answered to the requests the proxy
// forwarded, ambiguous timeouts included, and nothing it answered itself.
func TestUpstreamCountsForwardedAnswers(t *testing.T) {
	up, _ := upstream(t)
	p, err := New(up.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	kin, _ := clients(p.URL())
	p.Set(Rule{Op: "ListShards", Fault: Throttle, Limit: 1}, Rule{Op: "ListShards", Fault: Ambiguous, Limit: 1})
	for i := 0; i < 4; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		_, _ = kin.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String("s")})
		cancel()
	}
	// 1 throttled by the proxy, 1 forwarded and unanswered, 2 passed through.
	if got := p.Upstream("ListShards"); len(got) != 1 || got[200] != 3 {
		t.Errorf("Upstream(ListShards) = %v, want map[200:3]", got)
	}
	if got := p.Requests("ListShards"); got != 4 {
		t.Errorf("Requests(ListShards) = %d, want 4", got)
	}
	if got := p.Upstream("PutRecords"); len(got) != 0 {
		t.Errorf("Upstream(PutRecords) = %v, want none", got)
	}
}
