package ecs

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/smithy-go"

	"github.com/kdp-io/streamprocessor-operator/internal/awsapi"
)

type fakeAPI struct {
	API
	services []types.Service
	tags     []types.Tag
	err      error
}

func (f *fakeAPI) DescribeServices(context.Context, *ecs.DescribeServicesInput, ...func(*ecs.Options)) (*ecs.DescribeServicesOutput, error) {
	return &ecs.DescribeServicesOutput{Services: f.services}, nil
}

func (f *fakeAPI) ListTagsForResource(context.Context, *ecs.ListTagsForResourceInput, ...func(*ecs.Options)) (*ecs.ListTagsForResourceOutput, error) {
	return &ecs.ListTagsForResourceOutput{Tags: f.tags}, nil
}

func (f *fakeAPI) DescribeTaskDefinition(context.Context, *ecs.DescribeTaskDefinitionInput, ...func(*ecs.Options)) (*ecs.DescribeTaskDefinitionOutput, error) {
	return nil, f.err
}

func (f *fakeAPI) DeleteService(context.Context, *ecs.DeleteServiceInput, ...func(*ecs.Options)) (*ecs.DeleteServiceOutput, error) {
	return nil, f.err
}

func TestDescribeSkipsInactiveAndConfirmsMissingTags(t *testing.T) {
	f := &fakeAPI{
		services: []types.Service{{ServiceName: aws.String("a"), Status: aws.String("INACTIVE")}},
		tags:     []types.Tag{{Key: aws.String("owner"), Value: aws.String("x")}},
	}
	s := Services{API: f}
	if svc, err := s.Describe(context.Background(), "c", "a"); svc != nil || err != nil {
		t.Errorf("an INACTIVE service = %v, %v; want nil, nil (deleted)", svc, err)
	}
	f.services = []types.Service{{ServiceName: aws.String("a"), Status: aws.String("ACTIVE"), ServiceArn: aws.String("arn:a")}}
	svc, err := s.Describe(context.Background(), "c", "a")
	if err != nil || svc == nil || len(svc.Tags) != 1 {
		t.Errorf("an ACTIVE service described without tags = %+v, %v; want its tags read", svc, err)
	}
}

func TestTaskDefinitionAndDeleteMapNotFound(t *testing.T) {
	f := &fakeAPI{err: &smithy.GenericAPIError{Code: "ClientException", Message: "Unable to describe task definition."}}
	s := Services{API: f}
	if td, _, err := s.TaskDefinition(context.Background(), "family"); td != nil || err != nil {
		t.Errorf("a family without revisions = %v, %v; want nil, nil", td, err)
	}
	f.err = &smithy.GenericAPIError{Code: "ServiceNotFoundException"}
	if err := s.Delete(context.Background(), "c", "a"); err != nil {
		t.Errorf("deleting a service that is gone: %v", err)
	}
	f.err = &smithy.GenericAPIError{Code: "AccessDeniedException"}
	if _, _, err := s.TaskDefinition(context.Background(), "family"); !awsapi.Is(err, awsapi.KindDenied) || !strings.Contains(err.Error(), `describe task definition "family"`) {
		t.Errorf("TaskDefinition error = %v; want the denial, saying what was being done", err)
	}
	if err := s.Delete(context.Background(), "c", "a"); !awsapi.Is(err, awsapi.KindDenied) {
		t.Errorf("Delete error = %v; want the denial", err)
	}
}

type attemptsAPI struct {
	API
	attempts []int
}

func (f *attemptsAPI) note(optFns []func(*ecs.Options)) {
	o := ecs.Options{RetryMaxAttempts: 5}
	for _, fn := range optFns {
		fn(&o)
	}
	f.attempts = append(f.attempts, o.RetryMaxAttempts)
}

func (f *attemptsAPI) RegisterTaskDefinition(_ context.Context, _ *ecs.RegisterTaskDefinitionInput, optFns ...func(*ecs.Options)) (*ecs.RegisterTaskDefinitionOutput, error) {
	f.note(optFns)
	return &ecs.RegisterTaskDefinitionOutput{TaskDefinition: &types.TaskDefinition{TaskDefinitionArn: aws.String("arn:td:1")}}, nil
}

func (f *attemptsAPI) CreateService(_ context.Context, _ *ecs.CreateServiceInput, optFns ...func(*ecs.Options)) (*ecs.CreateServiceOutput, error) {
	f.note(optFns)
	return &ecs.CreateServiceOutput{Service: &types.Service{}}, nil
}

// TestRegisterAndCreateAreOneAttempt: neither is retried by the SDK (a retry
// after a timed-out attempt could register or create twice).
func TestRegisterAndCreateAreOneAttempt(t *testing.T) {
	f := &attemptsAPI{}
	s := Services{API: f}
	if _, err := s.Register(context.Background(), &ecs.RegisterTaskDefinitionInput{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(context.Background(), &ecs.CreateServiceInput{}); err != nil {
		t.Fatal(err)
	}
	if len(f.attempts) != 2 || f.attempts[0] != 1 || f.attempts[1] != 1 {
		t.Errorf("attempts allowed = %v, want [1 1]", f.attempts)
	}
}
