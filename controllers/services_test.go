package controllers

import (
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	etypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
)

// converged is the producer service of unitSample as the operator left it:
// task definition td:1, the spec's network, 2 tasks, recorded in status.
func converged(sp *streamingv1alpha1.StreamProcessor) *etypes.Service {
	sp.Status.Producer = streamingv1alpha1.ServiceStatus{ServiceARN: "arn:svc", DesiredTasks: 2}
	return &etypes.Service{
		ServiceName: aws.String("svc"), TaskDefinition: aws.String("td:1"), DesiredCount: 2, RunningCount: 2,
		NetworkConfiguration: networkConfiguration(sp),
	}
}

// TestPlanServiceUpdate: drift between the service and the spec becomes one
// UpdateService call with exactly the fields that differ; a desiredCount
// changed by hand is set back and said to be; dry run leaves desiredCount.
func TestPlanServiceUpdate(t *testing.T) {
	tests := []struct {
		name         string
		change       func(sp *streamingv1alpha1.StreamProcessor, svc *etypes.Service) (taskDef string, target int32)
		wantChanges  []string // prefixes, in order; none: no call
		wantRestored bool
	}{
		{"converged: no call", func(*streamingv1alpha1.StreamProcessor, *etypes.Service) (string, int32) { return "td:1", 2 }, nil, false},
		{"new image: the new revision", func(*streamingv1alpha1.StreamProcessor, *etypes.Service) (string, int32) { return "td:2", 2 }, []string{"task definition td:2"}, false},
		{"new target: scale", func(*streamingv1alpha1.StreamProcessor, *etypes.Service) (string, int32) { return "td:1", 3 }, []string{"desiredCount 2→3"}, false},
		{"hand-edited desiredCount: set back", func(_ *streamingv1alpha1.StreamProcessor, svc *etypes.Service) (string, int32) {
			svc.DesiredCount = 9
			return "td:1", 2
		}, []string{"desiredCount 9→2"}, true},
		{"dry run: desiredCount left alone", func(sp *streamingv1alpha1.StreamProcessor, _ *etypes.Service) (string, int32) {
			sp.Spec.Scaling.DryRun = true
			return "td:1", 5
		}, nil, false},
		{"subnets changed outside: network set back", func(_ *streamingv1alpha1.StreamProcessor, svc *etypes.Service) (string, int32) {
			svc.NetworkConfiguration = &etypes.NetworkConfiguration{AwsvpcConfiguration: &etypes.AwsVpcConfiguration{Subnets: []string{"subnet-other"}}}
			return "td:1", 2
		}, []string{"network configuration"}, false},
		{"target group removed from the spec", func(_ *streamingv1alpha1.StreamProcessor, svc *etypes.Service) (string, int32) {
			svc.LoadBalancers = []etypes.LoadBalancer{{TargetGroupArn: aws.String("arn:tg"), ContainerName: aws.String(producer), ContainerPort: aws.Int32(8080)}}
			return "td:1", 2
		}, []string{"load balancer"}, false},
		{"several at once: one call", func(_ *streamingv1alpha1.StreamProcessor, svc *etypes.Service) (string, int32) {
			svc.NetworkConfiguration = nil
			return "td:2", 4
		}, []string{"task definition", "network configuration", "desiredCount 2→4"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sp := unitSample()
			svc := converged(sp)
			taskDef, target := tt.change(sp, svc)
			in, changes, restored := planServiceUpdate(sp, producerWorkload(sp, "r"), svc, taskDef, target)
			if tt.wantChanges == nil {
				if in != nil {
					t.Fatalf("UpdateService %v, want no call", changes)
				}
				return
			}
			if in == nil || len(changes) != len(tt.wantChanges) {
				t.Fatalf("changes %v, want %v", changes, tt.wantChanges)
			}
			for i, w := range tt.wantChanges {
				if !strings.HasPrefix(changes[i], w) {
					t.Errorf("change %d = %q, want %q", i, changes[i], w)
				}
			}
			if restored != tt.wantRestored {
				t.Errorf("restored = %v, want %v", restored, tt.wantRestored)
			}
			if (in.DesiredCount != nil) != slices.ContainsFunc(changes, func(c string) bool { return strings.HasPrefix(c, "desiredCount") }) {
				t.Errorf("DesiredCount %v does not match the changes %v", in.DesiredCount, changes)
			}
			if in.LoadBalancers != nil && len(in.LoadBalancers) != 0 {
				t.Errorf("load balancers %v, want none (removed)", in.LoadBalancers)
			}
		})
	}
}

// TestServiceCondition: a rollout and starting tasks are waits; dry run
// reports the target without waiting; all running is ready.
func TestServiceCondition(t *testing.T) {
	tests := []struct {
		name       string
		svc        etypes.Service
		target     int32
		dryRun     bool
		wantStatus metav1.ConditionStatus
		wantReason string
		wantWait   bool
	}{
		{"ready", etypes.Service{DesiredCount: 2, RunningCount: 2}, 2, false, metav1.ConditionTrue, ReasonReady, false},
		{"tasks starting", etypes.Service{DesiredCount: 3, RunningCount: 2, PendingCount: 1}, 3, false, metav1.ConditionFalse, ReasonTasksPending, true},
		{"rolling out", etypes.Service{DesiredCount: 2, RunningCount: 2, Deployments: make([]etypes.Deployment, 2)}, 2, false, metav1.ConditionFalse, ReasonDeploying, true},
		{"dry run away from the target", etypes.Service{DesiredCount: 2, RunningCount: 2}, 5, true, metav1.ConditionTrue, ReasonReady, false},
	}
	for _, tt := range tests {
		status, reason, msg, wait := serviceCondition("svc", &tt.svc, "td:1", tt.target, tt.dryRun)
		if status != tt.wantStatus || reason != tt.wantReason || wait != tt.wantWait {
			t.Errorf("%s: %s/%s wait=%v (%s), want %s/%s wait=%v", tt.name, status, reason, wait, msg, tt.wantStatus, tt.wantReason, tt.wantWait)
		}
	}
}
