package devstack_test

import (
	"context"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/kdp-io/streamprocessor-operator/internal/awsconfig"
	"github.com/kdp-io/streamprocessor-operator/internal/devstack"
	"github.com/kdp-io/streamprocessor-operator/internal/testenv"
)

const (
	elbEndpoint = "AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2"
	iamEndpoint = "AWS_ENDPOINT_URL_IAM"
)

func loadConfig(t *testing.T) aws.Config {
	t.Helper()
	testenv.Require(t, testenv.ECS, testenv.EC2, elbEndpoint, iamEndpoint)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cfg, err := awsconfig.Load(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestPrepareAccountCreatesEverythingAndIsIdempotent(t *testing.T) {
	cfg := loadConfig(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	name := testenv.UniqueName("lsacct")

	first, err := devstack.PrepareAccount(ctx, cfg, name)
	if err != nil {
		t.Fatalf("first PrepareAccount: %v", err)
	}
	assertAccount(ctx, t, cfg, name, first)

	second, err := devstack.PrepareAccount(ctx, cfg, name)
	if err != nil {
		t.Fatalf("second PrepareAccount: %v", err)
	}
	if !reflect.DeepEqual(first, second) {
		t.Errorf("second call returned other objects:\nfirst  %+v\nsecond %+v", first, second)
	}
	assertCounts(ctx, t, cfg, name, first)
}

func TestPrepareAccountConcurrentNames(t *testing.T) {
	cfg := loadConfig(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	names := []string{testenv.UniqueName("lsconc-a"), testenv.UniqueName("lsconc-b"), testenv.UniqueName("lsconc-c")}
	accounts := make([]devstack.Account, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		wg.Go(func() { accounts[i], errs[i] = devstack.PrepareAccount(ctx, cfg, n) })
	}
	wg.Wait()
	seen := map[string]string{}
	for i, n := range names {
		if errs[i] != nil {
			t.Fatalf("PrepareAccount(%q): %v", n, errs[i])
		}
		assertAccount(ctx, t, cfg, n, accounts[i])
		for _, id := range []string{accounts[i].VPCID, accounts[i].TargetGroupARN, accounts[i].LoadBalancerARN, accounts[i].ExecutionRoleARN} {
			if other, dup := seen[id]; dup {
				t.Errorf("%s shared by accounts %q and %q", id, other, n)
			}
			seen[id] = n
		}
	}
}

func TestPrepareAccountRejectsBadName(t *testing.T) {
	for _, name := range []string{"", "-lead", "trail-", "has_underscore", strings.Repeat("x", 30)} {
		if _, err := devstack.PrepareAccount(context.Background(), aws.Config{}, name); err == nil {
			t.Errorf("PrepareAccount(%q) succeeded, want a name error", name)
		}
	}
}

// assertAccount checks through Describe calls that every object a exists and has
// the promised shape.
func assertAccount(ctx context.Context, t *testing.T, cfg aws.Config, name string, a devstack.Account) {
	t.Helper()
	ec2c, ecsc, elbc, iamc := ec2.NewFromConfig(cfg), ecs.NewFromConfig(cfg), elb.NewFromConfig(cfg), iam.NewFromConfig(cfg)

	vpcs, err := ec2c.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{VpcIds: []string{a.VPCID}})
	if err != nil || len(vpcs.Vpcs) != 1 {
		t.Fatalf("describe VPC %q: %v (%d found)", a.VPCID, err, lenOr(vpcs, func(o *ec2.DescribeVpcsOutput) int { return len(o.Vpcs) }))
	}

	if len(a.SubnetIDs) != 2 {
		t.Fatalf("subnets = %v, want two", a.SubnetIDs)
	}
	subnets, err := ec2c.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: a.SubnetIDs})
	if err != nil || len(subnets.Subnets) != 2 {
		t.Fatalf("describe subnets %v: %v", a.SubnetIDs, err)
	}
	zones := map[string]bool{}
	for _, s := range subnets.Subnets {
		if aws.ToString(s.VpcId) != a.VPCID {
			t.Errorf("subnet %s is in VPC %s, want %s", aws.ToString(s.SubnetId), aws.ToString(s.VpcId), a.VPCID)
		}
		zones[aws.ToString(s.AvailabilityZone)] = true
	}
	if len(zones) != 2 {
		t.Errorf("subnets span zones %v, want two different zones", zones)
	}

	if len(a.SecurityGroupIDs) != 1 {
		t.Fatalf("security groups = %v, want one", a.SecurityGroupIDs)
	}
	sgs, err := ec2c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: a.SecurityGroupIDs})
	if err != nil || len(sgs.SecurityGroups) != 1 {
		t.Fatalf("describe security group %v: %v", a.SecurityGroupIDs, err)
	}
	if sg := sgs.SecurityGroups[0]; aws.ToString(sg.VpcId) != a.VPCID || !ingressOn(sg.IpPermissions, 8080) || !ingressOn(sg.IpPermissions, 80) {
		t.Errorf("security group %s: vpc %s, ingress %+v; want VPC %s with ingress on 80 and 8080", aws.ToString(sg.GroupId), aws.ToString(sg.VpcId), sg.IpPermissions, a.VPCID)
	}

	clusters, err := ecsc.DescribeClusters(ctx, &ecs.DescribeClustersInput{Clusters: []string{a.Cluster}})
	if err != nil || len(clusters.Clusters) != 1 || aws.ToString(clusters.Clusters[0].Status) != "ACTIVE" {
		t.Fatalf("describe ECS cluster %q: %v %+v", a.Cluster, err, clusters)
	}
	if a.Cluster != name {
		t.Errorf("cluster = %q, want %q", a.Cluster, name)
	}

	for _, roleARN := range []string{a.ExecutionRoleARN, a.TaskRoleARN} {
		roleName := roleARN[strings.LastIndex(roleARN, "/")+1:]
		role, err := iamc.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(roleName)})
		if err != nil {
			t.Fatalf("get IAM role %q: %v", roleName, err)
		}
		if aws.ToString(role.Role.Arn) != roleARN {
			t.Errorf("role %q has ARN %s, want %s", roleName, aws.ToString(role.Role.Arn), roleARN)
		}
		trust, _ := url.QueryUnescape(aws.ToString(role.Role.AssumeRolePolicyDocument))
		if !strings.Contains(trust, "ecs-tasks.amazonaws.com") {
			t.Errorf("role %q trust policy %s does not name ecs-tasks.amazonaws.com", roleName, trust)
		}
	}
	if a.ExecutionRoleARN == a.TaskRoleARN {
		t.Errorf("execution and task role are the same: %s", a.TaskRoleARN)
	}

	lbs, err := elbc.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{LoadBalancerArns: []string{a.LoadBalancerARN}})
	if err != nil || len(lbs.LoadBalancers) != 1 {
		t.Fatalf("describe load balancer %q: %v", a.LoadBalancerARN, err)
	}
	lb := lbs.LoadBalancers[0]
	if lb.Scheme != "internet-facing" || lb.Type != "application" || aws.ToString(lb.VpcId) != a.VPCID || aws.ToString(lb.DNSName) != a.LoadBalancerDNS || a.LoadBalancerDNS == "" {
		t.Errorf("load balancer: scheme %s type %s vpc %s dns %q; want internet-facing application in %s with DNS %q",
			lb.Scheme, lb.Type, aws.ToString(lb.VpcId), aws.ToString(lb.DNSName), a.VPCID, a.LoadBalancerDNS)
	}

	tgs, err := elbc.DescribeTargetGroups(ctx, &elb.DescribeTargetGroupsInput{TargetGroupArns: []string{a.TargetGroupARN}})
	if err != nil || len(tgs.TargetGroups) != 1 {
		t.Fatalf("describe target group %q: %v", a.TargetGroupARN, err)
	}
	tg := tgs.TargetGroups[0]
	if tg.TargetType != "ip" || aws.ToInt32(tg.Port) != 8080 || tg.Protocol != "HTTP" || aws.ToString(tg.HealthCheckPath) != "/healthcheck" || aws.ToString(tg.VpcId) != a.VPCID {
		t.Errorf("target group: type %s port %d protocol %s health %q vpc %s; want ip HTTP:8080 /healthcheck in %s",
			tg.TargetType, aws.ToInt32(tg.Port), tg.Protocol, aws.ToString(tg.HealthCheckPath), aws.ToString(tg.VpcId), a.VPCID)
	}

	ls, err := elbc.DescribeListeners(ctx, &elb.DescribeListenersInput{LoadBalancerArn: aws.String(a.LoadBalancerARN)})
	if err != nil || len(ls.Listeners) != 1 {
		t.Fatalf("describe listeners of %q: %v (%+v)", a.LoadBalancerARN, err, ls)
	}
	l := ls.Listeners[0]
	if aws.ToInt32(l.Port) != 80 || l.Protocol != "HTTP" || len(l.DefaultActions) != 1 ||
		l.DefaultActions[0].Type != "forward" || aws.ToString(l.DefaultActions[0].TargetGroupArn) != a.TargetGroupARN {
		t.Errorf("listener: %s:%d actions %+v; want HTTP:80 forwarding to %s", l.Protocol, aws.ToInt32(l.Port), l.DefaultActions, a.TargetGroupARN)
	}
}

// assertCounts checks that no object was created twice under name.
func assertCounts(ctx context.Context, t *testing.T, cfg aws.Config, name string, a devstack.Account) {
	t.Helper()
	ec2c := ec2.NewFromConfig(cfg)
	vpcs, err := ec2c.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{Filters: []ec2types.Filter{{Name: aws.String("tag:Name"), Values: []string{name}}}})
	if err != nil || len(vpcs.Vpcs) != 1 {
		t.Errorf("VPCs named %q: %v, %d found, want 1", name, err, lenOr(vpcs, func(o *ec2.DescribeVpcsOutput) int { return len(o.Vpcs) }))
	}
	subnets, err := ec2c.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: []ec2types.Filter{{Name: aws.String("vpc-id"), Values: []string{a.VPCID}}}})
	if err != nil || len(subnets.Subnets) != 2 {
		t.Errorf("subnets in %s: %v, %d found, want 2", a.VPCID, err, lenOr(subnets, func(o *ec2.DescribeSubnetsOutput) int { return len(o.Subnets) }))
	}
	igws, err := ec2c.DescribeInternetGateways(ctx, &ec2.DescribeInternetGatewaysInput{Filters: []ec2types.Filter{{Name: aws.String("attachment.vpc-id"), Values: []string{a.VPCID}}}})
	if err != nil || len(igws.InternetGateways) != 1 {
		t.Errorf("internet gateways attached to %s: %v, %d found, want 1", a.VPCID, err, lenOr(igws, func(o *ec2.DescribeInternetGatewaysOutput) int { return len(o.InternetGateways) }))
	}
}

func ingressOn(perms []ec2types.IpPermission, port int32) bool {
	for _, p := range perms {
		if aws.ToInt32(p.FromPort) <= port && port <= aws.ToInt32(p.ToPort) {
			return true
		}
	}
	return false
}

func lenOr[T any](out *T, n func(*T) int) int {
	if out == nil {
		return -1
	}
	return n(out)
}
