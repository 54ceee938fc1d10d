package cloudwatch

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/smithy-go"

	"github.com/kdp-io/streamprocessor-operator/internal/awsapi"
)

// fakeAPI answers every call with err.
type fakeAPI struct{ err error }

func (f fakeAPI) PutDashboard(context.Context, *cloudwatch.PutDashboardInput, ...func(*cloudwatch.Options)) (*cloudwatch.PutDashboardOutput, error) {
	return &cloudwatch.PutDashboardOutput{}, f.err
}

func (f fakeAPI) GetDashboard(context.Context, *cloudwatch.GetDashboardInput, ...func(*cloudwatch.Options)) (*cloudwatch.GetDashboardOutput, error) {
	if f.err != nil {
		return nil, f.err
	}
	body := `{"widgets":[]}`
	return &cloudwatch.GetDashboardOutput{DashboardBody: &body}, nil
}

func (f fakeAPI) DeleteDashboards(context.Context, *cloudwatch.DeleteDashboardsInput, ...func(*cloudwatch.Options)) (*cloudwatch.DeleteDashboardsOutput, error) {
	return &cloudwatch.DeleteDashboardsOutput{}, f.err
}

// TestNotFoundIsGone: CloudWatch's ResourceNotFound (typed, or as a generic
// code from an emulator) means no dashboard; anything else is an error that
// keeps its kind and says what was being done.
func TestNotFoundIsGone(t *testing.T) {
	ctx := context.Background()
	for _, nf := range []error{&types.DashboardNotFoundError{Message: new(string)}, &smithy.GenericAPIError{Code: "ResourceNotFound"}} {
		d := Dashboards{API: fakeAPI{err: nf}}
		if body, found, err := d.Get(ctx, "d"); body != "" || found || err != nil {
			t.Errorf("Get with %v = %q, %v, %v; want not found, no error", nf, body, found, err)
		}
		if existed, err := d.Delete(ctx, "d"); existed || err != nil {
			t.Errorf("Delete with %v = %v, %v; want gone, no error", nf, existed, err)
		}
	}
	denied := Dashboards{API: fakeAPI{err: &smithy.GenericAPIError{Code: "AccessDenied"}}}
	if _, found, err := denied.Get(ctx, "d"); found || !awsapi.Is(err, awsapi.KindDenied) || !strings.Contains(err.Error(), `get dashboard "d"`) {
		t.Errorf("Get denied = %v, %v", found, err)
	}
	if existed, err := denied.Delete(ctx, "d"); existed || !awsapi.Is(err, awsapi.KindDenied) {
		t.Errorf("Delete denied = %v, %v; an error, not gone", existed, err)
	}
	invalid := Dashboards{API: fakeAPI{err: &smithy.GenericAPIError{Code: "InvalidParameterInput"}}}
	if err := invalid.Put(ctx, "d", "{"); !awsapi.Is(err, awsapi.KindInvalid) || !strings.Contains(err.Error(), `put dashboard "d"`) {
		t.Errorf("Put of an invalid body = %v; want an invalid-spec error", err)
	}
	if body, found, err := (Dashboards{API: fakeAPI{}}).Get(ctx, "d"); body != `{"widgets":[]}` || !found || err != nil {
		t.Errorf("Get = %q, %v, %v", body, found, err)
	}
}
