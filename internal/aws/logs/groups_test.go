package logs

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/smithy-go"

	"github.com/kdp-io/streamprocessor-operator/internal/awsapi"
)

// fakeAPI serves pages of DescribeLogGroups (one page per call, in order),
// the tags of ARNs, and answers every other call with err.
type fakeAPI struct {
	pages [][]types.LogGroup
	tags  map[string]map[string]string
	err   error
	calls *int
}

func (f fakeAPI) CreateLogGroup(context.Context, *cloudwatchlogs.CreateLogGroupInput, ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.CreateLogGroupOutput, error) {
	return &cloudwatchlogs.CreateLogGroupOutput{}, f.err
}

func (f fakeAPI) DescribeLogGroups(_ context.Context, in *cloudwatchlogs.DescribeLogGroupsInput, _ ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.DescribeLogGroupsOutput, error) {
	if f.err != nil {
		return nil, f.err
	}
	i := 0
	if in.NextToken != nil {
		i = int(aws.ToString(in.NextToken)[0] - '0')
	}
	*f.calls++
	out := &cloudwatchlogs.DescribeLogGroupsOutput{}
	if i < len(f.pages) {
		out.LogGroups = f.pages[i]
	}
	if i+1 < len(f.pages) {
		out.NextToken = aws.String(string(rune('0' + i + 1)))
	}
	return out, nil
}

func (f fakeAPI) ListTagsForResource(_ context.Context, in *cloudwatchlogs.ListTagsForResourceInput, _ ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.ListTagsForResourceOutput, error) {
	return &cloudwatchlogs.ListTagsForResourceOutput{Tags: f.tags[aws.ToString(in.ResourceArn)]}, nil
}

func (f fakeAPI) PutRetentionPolicy(context.Context, *cloudwatchlogs.PutRetentionPolicyInput, ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.PutRetentionPolicyOutput, error) {
	return &cloudwatchlogs.PutRetentionPolicyOutput{}, f.err
}

func (f fakeAPI) DeleteLogGroup(context.Context, *cloudwatchlogs.DeleteLogGroupInput, ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.DeleteLogGroupOutput, error) {
	return &cloudwatchlogs.DeleteLogGroupOutput{}, f.err
}

func group(name string, days int32) types.LogGroup {
	arn := "arn:aws:logs:us-east-1:123456789012:log-group:" + name
	lg := types.LogGroup{LogGroupName: aws.String(name), Arn: aws.String(arn + ":*")}
	if days > 0 {
		lg.RetentionInDays = aws.Int32(days)
	}
	return lg
}

// TestDescribeFindsTheExactName: DescribeLogGroups lists by prefix; Describe
// returns the group of exactly that name (on whatever page), with its
// retention and tags (read with the ARN without ":*"), or nil when the list
// ends without it.
func TestDescribeFindsTheExactName(t *testing.T) {
	ctx := context.Background()
	arn := "arn:aws:logs:us-east-1:123456789012:log-group:a-b"
	for _, tc := range []struct {
		name  string
		pages [][]types.LogGroup
		want  *Group
		calls int
	}{
		{"missing", [][]types.LogGroup{{group("a-bc", 7)}}, nil, 1},
		{"first page", [][]types.LogGroup{{group("a-b", 7), group("a-bc", 1)}}, &Group{Name: "a-b", ARN: arn, RetentionDays: 7, Tags: map[string]string{"k": "v"}}, 1},
		{"second page", [][]types.LogGroup{{group("a-b-1", 3)}, {group("a-b", 0)}}, &Group{Name: "a-b", ARN: arn, Tags: map[string]string{"k": "v"}}, 2},
		{"prefix matches only", [][]types.LogGroup{{group("a-b-1", 3)}, {group("a-b-2", 3)}}, nil, 2},
	} {
		calls := 0
		g := Groups{API: fakeAPI{pages: tc.pages, tags: map[string]map[string]string{arn: {"k": "v"}}, calls: &calls}}
		got, err := g.Describe(ctx, "a-b")
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		switch {
		case (got == nil) != (tc.want == nil):
			t.Errorf("%s: Describe = %+v, want %+v", tc.name, got, tc.want)
		case got != nil && (got.Name != tc.want.Name || got.ARN != tc.want.ARN || got.RetentionDays != tc.want.RetentionDays || got.Tags["k"] != "v"):
			t.Errorf("%s: Describe = %+v, want %+v", tc.name, got, tc.want)
		}
		if calls != tc.calls {
			t.Errorf("%s: %d DescribeLogGroups calls, want %d", tc.name, calls, tc.calls)
		}
	}
}

// TestErrorsAreMappedOnce: an existing group is created already, a missing
// one is deleted already; anything else is an error that keeps its kind and
// says what was being done.
func TestErrorsAreMappedOnce(t *testing.T) {
	ctx := context.Background()
	exists := Groups{API: fakeAPI{err: &types.ResourceAlreadyExistsException{Message: aws.String("exists")}}}
	if created, err := exists.Create(ctx, "g", nil); created || err != nil {
		t.Errorf("Create of an existing group = %v, %v; want not created, no error", created, err)
	}
	generic := Groups{API: fakeAPI{err: &smithy.GenericAPIError{Code: "ResourceAlreadyExistsException"}}}
	if created, err := generic.Create(ctx, "g", nil); created || err != nil {
		t.Errorf("Create with a generic ResourceAlreadyExistsException = %v, %v", created, err)
	}
	if created, err := (Groups{API: fakeAPI{}}).Create(ctx, "g", nil); !created || err != nil {
		t.Errorf("Create = %v, %v; want created", created, err)
	}
	missing := Groups{API: fakeAPI{err: &types.ResourceNotFoundException{Message: aws.String("gone")}}}
	if existed, err := missing.Delete(ctx, "g"); existed || err != nil {
		t.Errorf("Delete of a missing group = %v, %v; want gone, no error", existed, err)
	}
	denied := Groups{API: fakeAPI{err: &smithy.GenericAPIError{Code: "AccessDeniedException"}}}
	if existed, err := denied.Delete(ctx, "g"); existed || !awsapi.Is(err, awsapi.KindDenied) || !strings.Contains(err.Error(), `delete log group "g"`) {
		t.Errorf("Delete denied = %v, %v; want an access-denied error, not gone", existed, err)
	}
	if _, err := denied.Describe(ctx, "g"); !awsapi.Is(err, awsapi.KindDenied) {
		t.Errorf("Describe denied = %v", err)
	}
	if _, err := denied.Create(ctx, "g", nil); !awsapi.Is(err, awsapi.KindDenied) {
		t.Errorf("Create denied = %v", err)
	}
	busy := Groups{API: fakeAPI{err: &types.OperationAbortedException{Message: aws.String("busy")}}}
	if err := busy.SetRetention(ctx, "g", 7); !awsapi.Is(err, awsapi.KindInUse) || !strings.Contains(err.Error(), "7 days") {
		t.Errorf("SetRetention aborted = %v; want an in-use error", err)
	}
}
