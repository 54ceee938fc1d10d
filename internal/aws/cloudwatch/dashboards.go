// Package cloudwatch is the operator's adapter to Amazon CloudWatch
// dashboards: the only package of the operator that calls the dashboard
// operations of the SDK's CloudWatch client (the scaler's GetMetricData reads
// go through controllers.MetricsBatcher). Its methods speak of one dashboard
// by name, and every error they return says what was being done and keeps the
// AWS error, so internal/awsapi.Classify maps it to a kind.
package cloudwatch

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/kdp-io/streamprocessor-operator/internal/awsapi"
)

// API is the part of the CloudWatch API the dashboards need, with the SDK's
// signatures: *cloudwatch.Client satisfies it.
type API interface {
	PutDashboard(ctx context.Context, in *cloudwatch.PutDashboardInput, optFns ...func(*cloudwatch.Options)) (*cloudwatch.PutDashboardOutput, error)
	GetDashboard(ctx context.Context, in *cloudwatch.GetDashboardInput, optFns ...func(*cloudwatch.Options)) (*cloudwatch.GetDashboardOutput, error)
	DeleteDashboards(ctx context.Context, in *cloudwatch.DeleteDashboardsInput, optFns ...func(*cloudwatch.Options)) (*cloudwatch.DeleteDashboardsOutput, error)
}

// Dashboards calls CloudWatch through an API.
type Dashboards struct{ API API }

// Get returns the dashboard's body, or found false and no error when no
// dashboard of that name exists.
func (d Dashboards) Get(ctx context.Context, name string) (body string, found bool, err error) {
	out, err := d.API.GetDashboard(ctx, &cloudwatch.GetDashboardInput{DashboardName: &name})
	switch {
	case notFound(err):
		return "", false, nil
	case err != nil:
		return "", false, fmt.Errorf("get dashboard %q: %w", name, err)
	}
	return aws.ToString(out.DashboardBody), true, nil
}

// Put creates or replaces the dashboard with body. CloudWatch refuses an
// invalid body (InvalidParameterInput, an invalid-spec kind); the warnings
// it may return with a body it accepted are ignored.
func (d Dashboards) Put(ctx context.Context, name, body string) error {
	if _, err := d.API.PutDashboard(ctx, &cloudwatch.PutDashboardInput{DashboardName: &name, DashboardBody: &body}); err != nil {
		return fmt.Errorf("put dashboard %q: %w", name, err)
	}
	return nil
}

// Delete deletes the dashboard and reports whether there was one: a dashboard
// that does not exist is gone, not an error. Any other error (access denied
// above all) means it may still be there.
func (d Dashboards) Delete(ctx context.Context, name string) (existed bool, err error) {
	_, err = d.API.DeleteDashboards(ctx, &cloudwatch.DeleteDashboardsInput{DashboardNames: []string{name}})
	switch {
	case notFound(err):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("delete dashboard %q: %w", name, err)
	}
	return true, nil
}

// notFound: CloudWatch answers a missing dashboard with ResourceNotFound
// (DashboardNotFoundError), not the ResourceNotFoundException of other
// services.
func notFound(err error) bool {
	var nf *types.DashboardNotFoundError
	return errors.As(err, &nf) || awsapi.Code(err) == "ResourceNotFound" || awsapi.Is(err, awsapi.KindNotFound)
}
