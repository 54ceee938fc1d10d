package ecs

import (
	"context"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// countingAPI counts DescribeTaskDefinition and DescribeServices calls.
type countingAPI struct {
	API
	describes, deregisters, describeServices int
}

func (c *countingAPI) DescribeTaskDefinition(_ context.Context, in *ecs.DescribeTaskDefinitionInput, _ ...func(*ecs.Options)) (*ecs.DescribeTaskDefinitionOutput, error) {
	c.describes++
	return &ecs.DescribeTaskDefinitionOutput{TaskDefinition: &types.TaskDefinition{TaskDefinitionArn: in.TaskDefinition, Status: types.TaskDefinitionStatusActive}}, nil
}

func (c *countingAPI) DeregisterTaskDefinition(context.Context, *ecs.DeregisterTaskDefinitionInput, ...func(*ecs.Options)) (*ecs.DeregisterTaskDefinitionOutput, error) {
	c.deregisters++
	return &ecs.DeregisterTaskDefinitionOutput{}, nil
}

func (c *countingAPI) DescribeServices(_ context.Context, in *ecs.DescribeServicesInput, _ ...func(*ecs.Options)) (*ecs.DescribeServicesOutput, error) {
	c.describeServices++
	out := &ecs.DescribeServicesOutput{}
	for _, n := range in.Services {
		out.Services = append(out.Services, types.Service{ServiceName: aws.String(n), Status: aws.String("ACTIVE"), Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}})
	}
	return out, nil
}

func revision(i int) string {
	return fmt.Sprintf("arn:aws:ecs:us-east-1:123456789012:task-definition/ns-sp-producer:%d", i)
}

// TestTaskDefinitionCache: a revision ARN is described once, a family every
// time; deregistering drops the revision; the cache holds at most its size.
func TestTaskDefinitionCache(t *testing.T) {
	api := &countingAPI{}
	cache := NewTaskDefinitionCache(3)
	s := Services{API: cache.Wrap(api)}
	ctx := context.Background()
	for range 5 {
		if td, _, err := s.TaskDefinition(ctx, revision(1)); err != nil || aws.ToString(td.TaskDefinitionArn) != revision(1) {
			t.Fatalf("describe = %v, %v", td, err)
		}
	}
	if api.describes != 1 {
		t.Errorf("5 descriptions of one revision made %d calls, want 1", api.describes)
	}
	for range 2 {
		_, _, _ = s.TaskDefinition(ctx, "ns-sp-producer") // the family's latest may change
	}
	if api.describes != 3 {
		t.Errorf("a family was answered from the cache (%d calls, want 3)", api.describes)
	}
	if err := s.Deregister(ctx, revision(1)); err != nil {
		t.Fatal(err)
	}
	_, _, _ = s.TaskDefinition(ctx, revision(1))
	if api.describes != 4 {
		t.Errorf("a deregistered revision was answered from the cache (%d calls, want 4)", api.describes)
	}
	for i := 2; i <= 10; i++ {
		_, _, _ = s.TaskDefinition(ctx, revision(i))
	}
	if n := cache.Len(); n != 3 {
		t.Errorf("cache holds %d revisions, want its size 3", n)
	}
	var none *TaskDefinitionCache
	if none.Wrap(api) != API(api) {
		t.Error("a nil cache must leave the API as it is")
	}
}

// TestDescribeAllIsOneCall: both services of an object in one
// DescribeServices call; more than ECS's 10 is refused before calling.
func TestDescribeAllIsOneCall(t *testing.T) {
	api := &countingAPI{}
	found, err := Services{API: api}.DescribeAll(context.Background(), "c", "p", "q")
	if err != nil || len(found) != 2 || found["p"] == nil || found["q"] == nil {
		t.Fatalf("DescribeAll = %v, %v", found, err)
	}
	if api.describeServices != 1 {
		t.Errorf("%d DescribeServices calls for two services, want 1", api.describeServices)
	}
	names := make([]string, 11)
	for i := range names {
		names[i] = fmt.Sprint(i)
	}
	if _, err := (Services{API: api}).DescribeAll(context.Background(), "c", names...); err == nil {
		t.Error("11 services in one call: want an error")
	}
}
