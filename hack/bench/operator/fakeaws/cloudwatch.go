package fakeaws

import (
	"context"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// CloudWatch answers GetMetricData with an empty series for every query (no
// traffic: the scaler holds its minimums), checking AWS's 500-query limit.
type CloudWatch struct {
	a *Account
}

func (c *CloudWatch) GetMetricData(ctx context.Context, in *cloudwatch.GetMetricDataInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricDataOutput, error) {
	if err := c.a.call(ctx, "cloudwatch.GetMetricData"); err != nil {
		return nil, err
	}
	if len(in.MetricDataQueries) > 500 {
		return nil, apiErr("ValidationError", "The collection MetricDataQueries must not have a size greater than 500.")
	}
	if in.NextToken != nil {
		return nil, c.a.notImplemented("cloudwatch.GetMetricData", "NextToken paging")
	}
	out := &cloudwatch.GetMetricDataOutput{}
	for _, q := range in.MetricDataQueries {
		out.MetricDataResults = append(out.MetricDataResults, cwtypes.MetricDataResult{Id: q.Id, Label: q.Label, StatusCode: cwtypes.StatusCodeComplete})
	}
	return out, nil
}

// Dashboards holds CloudWatch dashboards by name (GetDashboard,
// PutDashboard, DeleteDashboards), each call on its operation's rate.
type Dashboards struct {
	a      *Account
	mu     sync.Mutex
	bodies map[string]string
}

func (d *Dashboards) GetDashboard(ctx context.Context, in *cloudwatch.GetDashboardInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.GetDashboardOutput, error) {
	if err := d.a.call(ctx, "cloudwatch.GetDashboard"); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	body, ok := d.bodies[aws.ToString(in.DashboardName)]
	if !ok {
		return nil, apiErr("ResourceNotFound", "Dashboard does not exist")
	}
	return &cloudwatch.GetDashboardOutput{DashboardName: in.DashboardName, DashboardBody: aws.String(body)}, nil
}

func (d *Dashboards) PutDashboard(ctx context.Context, in *cloudwatch.PutDashboardInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.PutDashboardOutput, error) {
	if err := d.a.call(ctx, "cloudwatch.PutDashboard"); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.bodies[aws.ToString(in.DashboardName)] = aws.ToString(in.DashboardBody)
	return &cloudwatch.PutDashboardOutput{}, nil
}

func (d *Dashboards) DeleteDashboards(ctx context.Context, in *cloudwatch.DeleteDashboardsInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.DeleteDashboardsOutput, error) {
	if err := d.a.call(ctx, "cloudwatch.DeleteDashboards"); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, n := range in.DashboardNames {
		if _, ok := d.bodies[n]; !ok {
			return nil, apiErr("ResourceNotFound", "Dashboard %s does not exist", n)
		}
	}
	for _, n := range in.DashboardNames {
		delete(d.bodies, n)
	}
	return &cloudwatch.DeleteDashboardsOutput{}, nil
}

// DynamoDB holds the consumers' lease tables (only deleted by the operator).
type DynamoDB struct {
	a      *Account
	tables map[string]bool
}

func (d *DynamoDB) DeleteTable(ctx context.Context, in *dynamodb.DeleteTableInput, _ ...func(*dynamodb.Options)) (*dynamodb.DeleteTableOutput, error) {
	if err := d.a.call(ctx, "dynamodb.DeleteTable"); err != nil {
		return nil, err
	}
	// The operator never creates tables (the consumer does): every delete
	// answers not found, as AWS does for a table that was never made.
	return nil, apiErr("ResourceNotFoundException", "Requested resource not found")
}
