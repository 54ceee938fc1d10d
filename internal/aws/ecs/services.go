// Package ecs is the operator's adapter to Amazon ECS: the calls the
// operator makes about its services and task definitions, in its terms.
// Errors say what was being done and wrap the AWS error, so
// internal/awsapi.Classify maps them to a kind; "not found" answers that
// mean "nothing there" are mapped here, once.
package ecs

import (
	"context"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/kdp-io/streamprocessor-operator/internal/awsapi"
)

// API is the part of the ECS API the operator calls, with the SDK's
// signatures: *ecs.Client satisfies it, and so do the rate-limited wrapper
// and the benchmark's fakes.
type API interface {
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

// Services calls ECS through an API.
type Services struct{ API API }

// Describe returns the named service with its tags, or nil when it does not
// exist (never created, or deleted: INACTIVE).
func (s Services) Describe(ctx context.Context, cluster, name string) (*types.Service, error) {
	found, err := s.DescribeAll(ctx, cluster, name)
	return found[name], err
}

// DescribeAll describes up to 10 services of a cluster in one
// DescribeServices call (its limit) and returns those that exist (not
// INACTIVE) by name, with their tags. A service described without tags has
// them confirmed by ListTagsForResource: on AWS an untagged service is rare,
// and moto 5.2.1 switches include=TAGS for the whole server, so a concurrent
// DescribeServices without it can strip them from this answer.
func (s Services) DescribeAll(ctx context.Context, cluster string, names ...string) (map[string]*types.Service, error) {
	if len(names) > maxServicesPerDescribe {
		return nil, fmt.Errorf("describe %d services in one call: DescribeServices takes at most %d", len(names), maxServicesPerDescribe)
	}
	out, err := s.API.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: &cluster, Services: names, Include: []types.ServiceField{types.ServiceFieldTags}})
	if err != nil {
		return nil, fmt.Errorf("describe services %q in cluster %q: %w", names, cluster, err)
	}
	found := make(map[string]*types.Service, len(names))
	for i := range out.Services {
		svc := &out.Services[i]
		name := aws.ToString(svc.ServiceName)
		if !slices.Contains(names, name) || aws.ToString(svc.Status) == "INACTIVE" {
			continue
		}
		if len(svc.Tags) == 0 && svc.ServiceArn != nil {
			tags, err := s.API.ListTagsForResource(ctx, &ecs.ListTagsForResourceInput{ResourceArn: svc.ServiceArn})
			if err != nil {
				return nil, fmt.Errorf("list tags of service %q: %w", name, err)
			}
			svc.Tags = tags.Tags
		}
		found[name] = svc
	}
	return found, nil
}

// maxServicesPerDescribe is DescribeServices's limit of services per call.
const maxServicesPerDescribe = 10

// TaskDefinition returns the task definition ref names (an ARN, or a family
// for its latest ACTIVE revision) with its tags, or nil when there is none:
// ECS answers a family with no active revision with ClientException.
func (s Services) TaskDefinition(ctx context.Context, ref string) (*types.TaskDefinition, []types.Tag, error) {
	out, err := s.API.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String(ref), Include: []types.TaskDefinitionField{types.TaskDefinitionFieldTags}})
	switch k := awsapi.Classify(err); {
	case k == awsapi.KindInvalid, k == awsapi.KindNotFound:
		return nil, nil, nil
	case err != nil:
		return nil, nil, fmt.Errorf("describe task definition %q: %w", ref, err)
	}
	return out.TaskDefinition, out.Tags, nil
}

// Register registers a task definition revision and returns its ARN, in
// one attempt (callOnce).
func (s Services) Register(ctx context.Context, in *ecs.RegisterTaskDefinitionInput) (string, error) {
	out, err := s.API.RegisterTaskDefinition(ctx, in, callOnce)
	if err != nil {
		return "", fmt.Errorf("register task definition %q: %w", aws.ToString(in.Family), err)
	}
	return aws.ToString(out.TaskDefinition.TaskDefinitionArn), nil
}

// Create creates a service and returns it, in one attempt (callOnce).
func (s Services) Create(ctx context.Context, in *ecs.CreateServiceInput) (*types.Service, error) {
	out, err := s.API.CreateService(ctx, in, callOnce)
	if err != nil {
		return nil, fmt.Errorf("create service %q in cluster %q: %w", aws.ToString(in.ServiceName), aws.ToString(in.Cluster), err)
	}
	return out.Service, nil
}

// Update updates a service and returns it.
func (s Services) Update(ctx context.Context, in *ecs.UpdateServiceInput) (*types.Service, error) {
	out, err := s.API.UpdateService(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("update service %q: %w", aws.ToString(in.Service), err)
	}
	return out.Service, nil
}

// ScaleToZero sets the service's desiredCount to 0; a service that is gone
// is no error.
func (s Services) ScaleToZero(ctx context.Context, cluster, name string) error {
	_, err := s.API.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: &cluster, Service: &name, DesiredCount: aws.Int32(0)})
	if err != nil && !awsapi.Is(err, awsapi.KindNotFound) {
		return fmt.Errorf("scale service %q to 0: %w", name, err)
	}
	return nil
}

// Delete deletes the service; a service that is gone is no error.
func (s Services) Delete(ctx context.Context, cluster, name string) error {
	_, err := s.API.DeleteService(ctx, &ecs.DeleteServiceInput{Cluster: &cluster, Service: &name})
	if err != nil && !awsapi.Is(err, awsapi.KindNotFound) {
		return fmt.Errorf("delete service %q: %w", name, err)
	}
	return nil
}

// ActiveRevisions returns the ARNs of the ACTIVE revisions whose family
// begins with prefix, in ECS's order.
func (s Services) ActiveRevisions(ctx context.Context, prefix string) ([]string, error) {
	var arns []string
	in := &ecs.ListTaskDefinitionsInput{FamilyPrefix: aws.String(prefix), Status: types.TaskDefinitionStatusActive}
	for {
		out, err := s.API.ListTaskDefinitions(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("list task definitions of %q: %w", prefix, err)
		}
		arns = append(arns, out.TaskDefinitionArns...)
		if out.NextToken == nil {
			return arns, nil
		}
		in.NextToken = out.NextToken
	}
}

// Deregister deregisters a task definition revision.
func (s Services) Deregister(ctx context.Context, arn string) error {
	_, err := s.API.DeregisterTaskDefinition(ctx, &ecs.DeregisterTaskDefinitionInput{TaskDefinition: aws.String(arn)})
	if err != nil {
		return fmt.Errorf("deregister task definition %q: %w", arn, err)
	}
	return nil
}

// callOnce makes a call that changes AWS and is not idempotent (a task
// definition revision, a service) with one attempt only. An attempt that
// timed out may have taken effect: an SDK retry would then apply it twice, or
// fail in a way that hides it. The next pass observes what happened and
// decides again.
func callOnce(o *ecs.Options) { o.RetryMaxAttempts = 1 }
