package controllers

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
)

type countingDashboards struct{ gets int }

func (c *countingDashboards) GetDashboard(context.Context, *cloudwatch.GetDashboardInput, ...func(*cloudwatch.Options)) (*cloudwatch.GetDashboardOutput, error) {
	c.gets++
	return &cloudwatch.GetDashboardOutput{}, nil
}

func (c *countingDashboards) PutDashboard(context.Context, *cloudwatch.PutDashboardInput, ...func(*cloudwatch.Options)) (*cloudwatch.PutDashboardOutput, error) {
	return &cloudwatch.PutDashboardOutput{}, nil
}

func (c *countingDashboards) DeleteDashboards(context.Context, *cloudwatch.DeleteDashboardsInput, ...func(*cloudwatch.Options)) (*cloudwatch.DeleteDashboardsOutput, error) {
	return &cloudwatch.DeleteDashboardsOutput{}, nil
}

// TestDashboardCallsArePaced: GetDashboard runs every pass of every object,
// so it waits on its operation's bucket like every other AWS call.
func TestDashboardCallsArePaced(t *testing.T) {
	api := &countingDashboards{}
	c := RateLimitedClients(Clients{Dashboards: api}, map[string]AWSRate{"cloudwatch.GetDashboard": {PerSecond: 0.001, Burst: 1}})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := c.Dashboards.GetDashboard(ctx, &cloudwatch.GetDashboardInput{}); err != nil {
		t.Fatalf("first call within the burst: %v", err)
	}
	if _, err := c.Dashboards.GetDashboard(ctx, &cloudwatch.GetDashboardInput{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("second call over the rate: err %v, want it to wait until the deadline", err)
	}
	if api.gets != 1 {
		t.Errorf("%d GetDashboard calls reached AWS, want 1", api.gets)
	}
}
