package devstack_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kdp-io/streamprocessor-operator/internal/devstack"
	"sigs.k8s.io/yaml"
)

var acct = devstack.Account{
	VPCID:            "vpc-1",
	SubnetIDs:        []string{"subnet-a", "subnet-b"},
	SecurityGroupIDs: []string{"sg-1"},
	Cluster:          "local",
	TargetGroupARN:   "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/local-tg/abc",
	LoadBalancerARN:  "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/local/def",
	LoadBalancerDNS:  "local-1.us-east-1.elb.amazonaws.com",
	ExecutionRoleARN: "arn:aws:iam::123456789012:role/local-execution",
	TaskRoleARN:      "arn:aws:iam::123456789012:role/local-task",
}

func TestEnvExportsSourceable(t *testing.T) {
	file := filepath.Join(t.TempDir(), "env")
	if err := os.WriteFile(file, []byte(devstack.EnvExports(acct)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("bash", "-c", `set -eu; source "$1"; echo "$LOCAL_SUBNET_IDS|$LOCAL_SECURITY_GROUP_IDS|$LOCAL_ECS_CLUSTER|$LOCAL_TARGET_GROUP_ARN|$LOCAL_EXECUTION_ROLE_ARN|$LOCAL_TASK_ROLE_ARN"`, "bash", file).CombinedOutput()
	if err != nil {
		t.Fatalf("source exports: %v: %s", err, out)
	}
	want := strings.Join([]string{"subnet-a,subnet-b", "sg-1", "local", acct.TargetGroupARN, acct.ExecutionRoleARN, acct.TaskRoleARN}, "|")
	if got := strings.TrimSpace(string(out)); got != want {
		t.Errorf("sourced values\n got %s\nwant %s", got, want)
	}
}

func TestSampleStreamProcessorFieldPaths(t *testing.T) {
	var obj map[string]any
	if err := yaml.Unmarshal([]byte(devstack.SampleStreamProcessor(acct, "us-east-1")), &obj); err != nil {
		t.Fatalf("sample is not YAML: %v", err)
	}
	get := func(path ...string) any {
		var cur any = obj
		for _, p := range path {
			m, ok := cur.(map[string]any)
			if !ok {
				return nil
			}
			cur = m[p]
		}
		return cur
	}
	for _, c := range []struct {
		path []string
		want any
	}{
		{[]string{"apiVersion"}, "streaming.kdp.io/v1alpha1"},
		{[]string{"kind"}, "StreamProcessor"},
		{[]string{"spec", "region"}, "us-east-1"},
		{[]string{"spec", "ecs", "cluster"}, "local"},
		{[]string{"spec", "ecs", "subnets"}, []any{"subnet-a", "subnet-b"}},
		{[]string{"spec", "ecs", "securityGroups"}, []any{"sg-1"}},
		{[]string{"spec", "ecs", "assignPublicIp"}, false},
		{[]string{"spec", "ecs", "executionRoleArn"}, acct.ExecutionRoleARN},
		{[]string{"spec", "ecs", "taskRoleArn"}, acct.TaskRoleARN},
		{[]string{"spec", "producer", "targetGroupArn"}, acct.TargetGroupARN},
		{[]string{"spec", "producer", "containerPort"}, float64(8080)},
		{[]string{"spec", "stream", "deletionPolicy"}, "Delete"},
		{[]string{"spec", "consumer", "maxIteratorAgeSeconds"}, float64(60)},
		{[]string{"spec", "scaling", "intervalSeconds"}, float64(30)},
	} {
		got := get(c.path...)
		if !equalJSON(got, c.want) {
			t.Errorf("%s = %#v, want %#v", strings.Join(c.path, "."), got, c.want)
		}
	}
}

func equalJSON(a, b any) bool {
	x, _ := yaml.Marshal(a)
	y, _ := yaml.Marshal(b)
	return string(x) == string(y)
}
