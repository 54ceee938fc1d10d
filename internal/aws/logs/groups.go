// Package logs is the operator's adapter to Amazon CloudWatch Logs: the only
// package of the operator that imports the SDK's CloudWatch Logs client. Its
// methods speak of one log group by name; every error they return says what
// was being done and keeps the AWS error, so internal/awsapi.Classify maps it
// to a kind. The two codes CloudWatch Logs answers that mean something
// particular here are mapped once, below: ResourceNotFoundException (no such
// group: gone) and ResourceAlreadyExistsException (a create that found the
// group: it exists).
package logs

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"

	"github.com/kdp-io/streamprocessor-operator/internal/awsapi"
)

// API is the part of the CloudWatch Logs API the operator calls, with the
// SDK's signatures: *cloudwatchlogs.Client satisfies it.
type API interface {
	CreateLogGroup(ctx context.Context, in *cloudwatchlogs.CreateLogGroupInput, optFns ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.CreateLogGroupOutput, error)
	DescribeLogGroups(ctx context.Context, in *cloudwatchlogs.DescribeLogGroupsInput, optFns ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.DescribeLogGroupsOutput, error)
	ListTagsForResource(ctx context.Context, in *cloudwatchlogs.ListTagsForResourceInput, optFns ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.ListTagsForResourceOutput, error)
	PutRetentionPolicy(ctx context.Context, in *cloudwatchlogs.PutRetentionPolicyInput, optFns ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.PutRetentionPolicyOutput, error)
	DeleteLogGroup(ctx context.Context, in *cloudwatchlogs.DeleteLogGroupInput, optFns ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.DeleteLogGroupOutput, error)
}

// Group is a log group as described.
type Group struct {
	Name string
	// ARN without the trailing ":*" (the form the tagging calls take).
	ARN string
	// RetentionDays is 0 when the group's events never expire.
	RetentionDays int32
	Tags          map[string]string
}

// Groups calls CloudWatch Logs through an API.
type Groups struct{ API API }

// Describe returns the named group with its tags, or nil and no error when
// no group of that name exists. DescribeLogGroups lists by prefix: the pages
// are read until the exact name is found or the list ends.
func (g Groups) Describe(ctx context.Context, name string) (*Group, error) {
	in := &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String(name)}
	for {
		out, err := g.API.DescribeLogGroups(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("describe log group %q: %w", name, err)
		}
		for _, lg := range out.LogGroups {
			if aws.ToString(lg.LogGroupName) == name {
				return g.withTags(ctx, lg)
			}
		}
		if aws.ToString(out.NextToken) == "" {
			return nil, nil
		}
		in.NextToken = out.NextToken
	}
}

func (g Groups) withTags(ctx context.Context, lg types.LogGroup) (*Group, error) {
	grp := &Group{Name: aws.ToString(lg.LogGroupName), ARN: groupARN(lg), RetentionDays: aws.ToInt32(lg.RetentionInDays)}
	out, err := g.API.ListTagsForResource(ctx, &cloudwatchlogs.ListTagsForResourceInput{ResourceArn: aws.String(grp.ARN)})
	if err != nil {
		return nil, fmt.Errorf("list tags of log group %q: %w", grp.Name, err)
	}
	grp.Tags = out.Tags
	if grp.Tags == nil {
		grp.Tags = map[string]string{}
	}
	return grp, nil
}

// groupARN is the group's ARN without ":*": logGroupArn, or arn with its
// ":*" cut off (older answers have only that).
func groupARN(lg types.LogGroup) string {
	if a := aws.ToString(lg.LogGroupArn); a != "" {
		return a
	}
	return strings.TrimSuffix(aws.ToString(lg.Arn), ":*")
}

// Create creates the group, born with tags, and reports whether it did: a
// group of that name that exists already is not an error (created false;
// its tags decide what happens to it).
func (g Groups) Create(ctx context.Context, name string, tags map[string]string) (created bool, err error) {
	_, err = g.API.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String(name), Tags: tags})
	switch {
	case alreadyExists(err):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("create log group %q: %w", name, err)
	}
	return true, nil
}

// SetRetention sets how many days the group keeps its events.
func (g Groups) SetRetention(ctx context.Context, name string, days int32) error {
	if _, err := g.API.PutRetentionPolicy(ctx, &cloudwatchlogs.PutRetentionPolicyInput{LogGroupName: aws.String(name), RetentionInDays: aws.Int32(days)}); err != nil {
		return fmt.Errorf("set retention of log group %q to %d days: %w", name, days, err)
	}
	return nil
}

// Delete deletes the group and its events, and reports whether there was
// one: a group that does not exist is gone, not an error.
func (g Groups) Delete(ctx context.Context, name string) (existed bool, err error) {
	_, err = g.API.DeleteLogGroup(ctx, &cloudwatchlogs.DeleteLogGroupInput{LogGroupName: aws.String(name)})
	switch {
	case awsapi.Is(err, awsapi.KindNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("delete log group %q: %w", name, err)
	}
	return true, nil
}

func alreadyExists(err error) bool {
	var ae *types.ResourceAlreadyExistsException
	return errors.As(err, &ae) || awsapi.Code(err) == "ResourceAlreadyExistsException"
}
