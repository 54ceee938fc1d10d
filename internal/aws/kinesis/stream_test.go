package kinesis

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/smithy-go"

	"github.com/kdp-io/streamprocessor-operator/internal/awsapi"
)

// fakeAPI answers DescribeStreamSummary with err and records tag calls.
type fakeAPI struct {
	API
	err                  error
	addCalls, removeKeys []int
}

func (f *fakeAPI) DescribeStreamSummary(context.Context, *kinesis.DescribeStreamSummaryInput, ...func(*kinesis.Options)) (*kinesis.DescribeStreamSummaryOutput, error) {
	return nil, f.err
}

func (f *fakeAPI) AddTagsToStream(_ context.Context, in *kinesis.AddTagsToStreamInput, _ ...func(*kinesis.Options)) (*kinesis.AddTagsToStreamOutput, error) {
	f.addCalls = append(f.addCalls, len(in.Tags))
	return &kinesis.AddTagsToStreamOutput{}, nil
}

func (f *fakeAPI) RemoveTagsFromStream(_ context.Context, in *kinesis.RemoveTagsFromStreamInput, _ ...func(*kinesis.Options)) (*kinesis.RemoveTagsFromStreamOutput, error) {
	f.removeKeys = append(f.removeKeys, len(in.TagKeys))
	return &kinesis.RemoveTagsFromStreamOutput{}, f.err
}

func TestDescribeMapsNotFoundToNoStream(t *testing.T) {
	s := Streams{API: &fakeAPI{err: &smithy.GenericAPIError{Code: "ResourceNotFoundException"}}}
	if d, err := s.Describe(context.Background(), "s"); d != nil || err != nil {
		t.Errorf("Describe of a missing stream = %v, %v; want nil, nil", d, err)
	}
	s = Streams{API: &fakeAPI{err: &smithy.GenericAPIError{Code: "AccessDeniedException"}}}
	_, err := s.Describe(context.Background(), "s")
	if !awsapi.Is(err, awsapi.KindDenied) || !strings.Contains(err.Error(), `describe stream "s"`) {
		t.Errorf("Describe error = %v; want the denial, kept and said what was being done", err)
	}
}

func TestSetTagsAtMostTenPerCall(t *testing.T) {
	f := &fakeAPI{}
	add := map[string]string{}
	for i := range 23 {
		add[fmt.Sprintf("k%02d", i)] = "v"
	}
	remove := make([]string, 12)
	if err := (Streams{API: f}).SetTags(context.Background(), "s", add, remove); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(f.addCalls) != "[10 10 3]" || fmt.Sprint(f.removeKeys) != "[10 2]" {
		t.Errorf("add calls %v, remove calls %v; want [10 10 3] and [10 2]", f.addCalls, f.removeKeys)
	}
	f.err = errors.New("boom")
	if err := (Streams{API: f}).SetTags(context.Background(), "s", nil, []string{"a"}); err == nil || !strings.Contains(err.Error(), `untag stream "s"`) {
		t.Errorf("SetTags error = %v", err)
	}
}

type attemptsAPI struct {
	API
	attempts int
}

func (f *attemptsAPI) UpdateShardCount(_ context.Context, _ *kinesis.UpdateShardCountInput, optFns ...func(*kinesis.Options)) (*kinesis.UpdateShardCountOutput, error) {
	o := kinesis.Options{RetryMaxAttempts: 3}
	for _, fn := range optFns {
		fn(&o)
	}
	f.attempts = o.RetryMaxAttempts
	return &kinesis.UpdateShardCountOutput{}, nil
}

// TestReshardIsOneAttempt: a reshard is never retried by the SDK (a retry
// after a timed-out attempt could reshard twice or hide the first).
func TestReshardIsOneAttempt(t *testing.T) {
	f := &attemptsAPI{}
	if err := (Streams{API: f}).Reshard(context.Background(), "s", 1, 2); err != nil {
		t.Fatal(err)
	}
	if f.attempts != 1 {
		t.Errorf("UpdateShardCount allowed %d attempts, want 1", f.attempts)
	}
}
