package devstack

import (
	"fmt"
	"strings"
)

// EnvExports renders a as shell exports, to be sourced: LOCAL_SUBNET_IDS and
// LOCAL_SECURITY_GROUP_IDS comma-separated, then LOCAL_ECS_CLUSTER,
// LOCAL_TARGET_GROUP_ARN, LOCAL_EXECUTION_ROLE_ARN, LOCAL_TASK_ROLE_ARN,
// LOCAL_VPC_ID, LOCAL_LOAD_BALANCER_ARN and LOCAL_LOAD_BALANCER_DNS.
func EnvExports(a Account) string {
	var b strings.Builder
	for _, kv := range [][2]string{
		{"LOCAL_SUBNET_IDS", strings.Join(a.SubnetIDs, ",")},
		{"LOCAL_SECURITY_GROUP_IDS", strings.Join(a.SecurityGroupIDs, ",")},
		{"LOCAL_ECS_CLUSTER", a.Cluster},
		{"LOCAL_TARGET_GROUP_ARN", a.TargetGroupARN},
		{"LOCAL_EXECUTION_ROLE_ARN", a.ExecutionRoleARN},
		{"LOCAL_TASK_ROLE_ARN", a.TaskRoleARN},
		{"LOCAL_VPC_ID", a.VPCID},
		{"LOCAL_LOAD_BALANCER_ARN", a.LoadBalancerARN},
		{"LOCAL_LOAD_BALANCER_DNS", a.LoadBalancerDNS},
	} {
		fmt.Fprintf(&b, "export %s=%s\n", kv[0], ShellQuote(kv[1]))
	}
	return b.String()
}

// SampleStreamProcessor renders the README's StreamProcessor example,
// "clickstream" in namespace default, pointed at a in region.
func SampleStreamProcessor(a Account, region string) string {
	return fmt.Sprintf(`apiVersion: streaming.kdp.io/v1alpha1
kind: StreamProcessor
metadata: {name: clickstream, namespace: default}
spec:
  region: %s
  stream: {minShards: 1, maxShards: 8, targetUtilizationPercent: 70, retentionHours: 24, deletionPolicy: Delete}
  ecs:
    cluster: %s
    subnets: [%s]
    securityGroups: [%s]
    assignPublicIp: false
    executionRoleArn: %s
    taskRoleArn: %s
  producer: {image: ghcr.io/kdp-io/streamprocessor-producer:v0.1.0, cpu: 512, memory: 1024, minTasks: 1, maxTasks: 4, targetCPUPercent: 65, containerPort: 8080, targetGroupArn: %s}
  consumer: {image: ghcr.io/kdp-io/streamprocessor-consumer:v0.1.0, cpu: 512, memory: 1024, minTasks: 1, maxTasks: 4, targetCPUPercent: 65, maxIteratorAgeSeconds: 60}
  scaling: {intervalSeconds: 30}
`, region, a.Cluster, strings.Join(a.SubnetIDs, ", "), strings.Join(a.SecurityGroupIDs, ", "),
		a.ExecutionRoleARN, a.TaskRoleARN, a.TargetGroupARN)
}

// ShellQuote quotes s for POSIX shells.
func ShellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
