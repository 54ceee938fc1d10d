// Package devstack prepares and runs the real parts of the local stack: an
// emulated AWS account (network, ECS cluster, IAM roles, load balancer) that a
// StreamProcessor can point at, and an embedded kube-apiserver + etcd.
//
// Everything here talks to servers over HTTP; the AWS side reaches the emulators
// (or AWS) only through the SDK's standard AWS_ENDPOINT_URL_<SERVICE> variables.
package devstack

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go"
)

// Account names the AWS objects PrepareAccount made (or found) for one local
// account: everything a StreamProcessor's spec.ecs and spec.producer need.
type Account struct {
	VPCID            string
	SubnetIDs        []string
	SecurityGroupIDs []string
	Cluster          string
	TargetGroupARN   string
	LoadBalancerARN  string
	LoadBalancerDNS  string
	ExecutionRoleARN string
	TaskRoleARN      string
}

// Fixed shape of the prepared network and load balancer.
const (
	vpcCIDR         = "10.42.0.0/16"
	listenerPort    = 80
	targetPort      = 8080
	healthCheckPath = "/healthcheck"
	// managedByTag marks every object PrepareAccount creates, with the account
	// name as value, so they can be told apart from anything else in the account.
	managedByTag = "kdp.io/devstack"
)

var subnetCIDRs = [2]string{"10.42.0.0/24", "10.42.1.0/24"}

// validName keeps name usable as an ALB name and, with "-tg", as a target group
// name: both at most 32 characters of letters, digits and inner hyphens.
var validName = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9-]{0,27}[a-zA-Z0-9])?$`)

// inFlight serialises PrepareAccount calls for the same name within a process;
// calls for different names run fully in parallel.
var inFlight sync.Map // name → *sync.Mutex

// PrepareAccount finds or creates, in the account and region of cfg, the objects
// a StreamProcessor needs to run and returns their identifiers:
//
//   - a VPC (tag Name=name) with an internet gateway and a default route,
//   - two subnets in the first two available zones (Name=name-a, name-b),
//   - a security group named name admitting HTTP on 80 from anywhere and the
//     container port 8080 from inside the VPC,
//   - an ECS cluster named name,
//   - IAM roles name-execution and name-task that ecs-tasks.amazonaws.com may
//     assume; the execution role may pull images and write logs,
//   - an internet-facing application load balancer named name, with an HTTP:80
//     listener forwarding to the ip target group name-tg on port 8080 whose
//     health check is GET /healthcheck.
//
// It is idempotent: every object is looked up by its name before it is created,
// so a second call returns the same identifiers. Calls with different names are
// independent and safe to run concurrently; calls with the same name in one
// process are serialised. name must be 1–29 letters, digits or inner hyphens.
//
// Endpoints come from cfg, so against the emulators set AWS_ENDPOINT_URL_EC2,
// _ECS, _ELASTIC_LOAD_BALANCING_V2 and _IAM (hack/emulators.sh writes them).
func PrepareAccount(ctx context.Context, cfg aws.Config, name string) (Account, error) {
	if !validName.MatchString(name) {
		return Account{}, fmt.Errorf("prepare account %q: name must be 1-29 letters, digits or inner hyphens (it names the load balancer and %q)", name, name+"-tg")
	}
	mu, _ := inFlight.LoadOrStore(name, &sync.Mutex{})
	mu.(*sync.Mutex).Lock()
	defer mu.(*sync.Mutex).Unlock()

	p := preparer{
		name: name,
		ec2:  ec2.NewFromConfig(cfg),
		ecs:  ecs.NewFromConfig(cfg),
		elb:  elb.NewFromConfig(cfg),
		iam:  iam.NewFromConfig(cfg),
	}
	acct, err := p.run(ctx)
	if err != nil {
		return Account{}, fmt.Errorf("prepare account %q: %w", name, err)
	}
	return acct, nil
}

type preparer struct {
	name string
	ec2  *ec2.Client
	ecs  *ecs.Client
	elb  *elb.Client
	iam  *iam.Client
}

func (p *preparer) run(ctx context.Context) (Account, error) {
	var a Account
	var err error
	if a.VPCID, err = p.vpc(ctx); err != nil {
		return a, err
	}
	if err = p.internetRoute(ctx, a.VPCID); err != nil {
		return a, err
	}
	if a.SubnetIDs, err = p.subnets(ctx, a.VPCID); err != nil {
		return a, err
	}
	sg, err := p.securityGroup(ctx, a.VPCID)
	if err != nil {
		return a, err
	}
	a.SecurityGroupIDs = []string{sg}
	if a.Cluster, err = p.cluster(ctx); err != nil {
		return a, err
	}
	if a.ExecutionRoleARN, err = p.role(ctx, p.name+"-execution", executionPolicy); err != nil {
		return a, err
	}
	if a.TaskRoleARN, err = p.role(ctx, p.name+"-task", ""); err != nil {
		return a, err
	}
	lb, err := p.loadBalancer(ctx, a.VPCID, a.SubnetIDs, a.SecurityGroupIDs)
	if err != nil {
		return a, err
	}
	a.LoadBalancerARN, a.LoadBalancerDNS = aws.ToString(lb.LoadBalancerArn), aws.ToString(lb.DNSName)
	if a.TargetGroupARN, err = p.targetGroup(ctx, a.VPCID); err != nil {
		return a, err
	}
	if err = p.listener(ctx, a.LoadBalancerARN, a.TargetGroupARN); err != nil {
		return a, err
	}
	return a, nil
}

// tagSpec tags a new EC2 object with its Name and the managed-by marker.
func (p *preparer) tagSpec(rt ec2types.ResourceType, name string) []ec2types.TagSpecification {
	return []ec2types.TagSpecification{{
		ResourceType: rt,
		Tags: []ec2types.Tag{
			{Key: aws.String("Name"), Value: aws.String(name)},
			{Key: aws.String(managedByTag), Value: aws.String(p.name)},
		},
	}}
}

func filter(name string, values ...string) ec2types.Filter {
	return ec2types.Filter{Name: aws.String(name), Values: values}
}

func (p *preparer) vpc(ctx context.Context) (string, error) {
	out, err := p.ec2.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{
		Filters: []ec2types.Filter{filter("tag:Name", p.name), filter("tag:"+managedByTag, p.name)},
	})
	if err != nil {
		return "", fmt.Errorf("look up VPC %q: %w", p.name, err)
	}
	if len(out.Vpcs) > 0 {
		// Oldest first would need creation times EC2 does not report; the lowest
		// ID is at least a stable choice if a crash ever left two.
		ids := make([]string, 0, len(out.Vpcs))
		for _, v := range out.Vpcs {
			ids = append(ids, aws.ToString(v.VpcId))
		}
		return slices.Min(ids), nil
	}
	created, err := p.ec2.CreateVpc(ctx, &ec2.CreateVpcInput{
		CidrBlock:         aws.String(vpcCIDR),
		TagSpecifications: p.tagSpec(ec2types.ResourceTypeVpc, p.name),
	})
	if err != nil {
		return "", fmt.Errorf("create VPC %q: %w", p.name, err)
	}
	return aws.ToString(created.Vpc.VpcId), nil
}

// internetRoute gives the VPC an internet gateway and a default route in its
// main route table: AWS refuses an internet-facing load balancer without one.
func (p *preparer) internetRoute(ctx context.Context, vpcID string) error {
	igws, err := p.ec2.DescribeInternetGateways(ctx, &ec2.DescribeInternetGatewaysInput{
		Filters: []ec2types.Filter{filter("tag:Name", p.name), filter("tag:"+managedByTag, p.name)},
	})
	if err != nil {
		return fmt.Errorf("look up internet gateway %q: %w", p.name, err)
	}
	var igw ec2types.InternetGateway
	if len(igws.InternetGateways) > 0 {
		igw = igws.InternetGateways[0]
	} else {
		created, err := p.ec2.CreateInternetGateway(ctx, &ec2.CreateInternetGatewayInput{
			TagSpecifications: p.tagSpec(ec2types.ResourceTypeInternetGateway, p.name),
		})
		if err != nil {
			return fmt.Errorf("create internet gateway %q: %w", p.name, err)
		}
		igw = *created.InternetGateway
	}
	igwID := aws.ToString(igw.InternetGatewayId)
	attached := slices.ContainsFunc(igw.Attachments, func(a ec2types.InternetGatewayAttachment) bool {
		return aws.ToString(a.VpcId) == vpcID
	})
	if !attached {
		if _, err := p.ec2.AttachInternetGateway(ctx, &ec2.AttachInternetGatewayInput{
			InternetGatewayId: aws.String(igwID), VpcId: aws.String(vpcID),
		}); err != nil {
			return fmt.Errorf("attach internet gateway %s to VPC %s: %w", igwID, vpcID, err)
		}
	}

	rts, err := p.ec2.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{
		Filters: []ec2types.Filter{filter("vpc-id", vpcID), filter("association.main", "true")},
	})
	if err != nil {
		return fmt.Errorf("look up main route table of VPC %s: %w", vpcID, err)
	}
	if len(rts.RouteTables) == 0 {
		return fmt.Errorf("look up main route table of VPC %s: none found", vpcID)
	}
	rt := rts.RouteTables[0]
	if slices.ContainsFunc(rt.Routes, func(r ec2types.Route) bool {
		return aws.ToString(r.DestinationCidrBlock) == "0.0.0.0/0"
	}) {
		return nil
	}
	if _, err := p.ec2.CreateRoute(ctx, &ec2.CreateRouteInput{
		RouteTableId:         rt.RouteTableId,
		DestinationCidrBlock: aws.String("0.0.0.0/0"),
		GatewayId:            aws.String(igwID),
	}); err != nil {
		return fmt.Errorf("add default route via %s to route table %s: %w", igwID, aws.ToString(rt.RouteTableId), err)
	}
	return nil
}

func (p *preparer) subnets(ctx context.Context, vpcID string) ([]string, error) {
	zones, err := p.ec2.DescribeAvailabilityZones(ctx, &ec2.DescribeAvailabilityZonesInput{
		Filters: []ec2types.Filter{filter("state", "available"), filter("zone-type", "availability-zone")},
	})
	if err != nil {
		return nil, fmt.Errorf("list availability zones: %w", err)
	}
	var names []string
	for _, z := range zones.AvailabilityZones {
		names = append(names, aws.ToString(z.ZoneName))
	}
	slices.Sort(names)
	if len(names) < 2 {
		return nil, fmt.Errorf("list availability zones: need two, the region has %d", len(names))
	}

	ids := make([]string, 0, 2)
	for i, suffix := range []string{"a", "b"} {
		subnetName := p.name + "-" + suffix
		out, err := p.ec2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{
			Filters: []ec2types.Filter{filter("vpc-id", vpcID), filter("tag:Name", subnetName)},
		})
		if err != nil {
			return nil, fmt.Errorf("look up subnet %q: %w", subnetName, err)
		}
		if len(out.Subnets) > 0 {
			ids = append(ids, aws.ToString(out.Subnets[0].SubnetId))
			continue
		}
		created, err := p.ec2.CreateSubnet(ctx, &ec2.CreateSubnetInput{
			VpcId:             aws.String(vpcID),
			CidrBlock:         aws.String(subnetCIDRs[i]),
			AvailabilityZone:  aws.String(names[i]),
			TagSpecifications: p.tagSpec(ec2types.ResourceTypeSubnet, subnetName),
		})
		if err != nil {
			return nil, fmt.Errorf("create subnet %q in %s: %w", subnetName, names[i], err)
		}
		ids = append(ids, aws.ToString(created.Subnet.SubnetId))
	}
	return ids, nil
}

func (p *preparer) securityGroup(ctx context.Context, vpcID string) (string, error) {
	out, err := p.ec2.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{
		Filters: []ec2types.Filter{filter("vpc-id", vpcID), filter("group-name", p.name)},
	})
	if err != nil {
		return "", fmt.Errorf("look up security group %q: %w", p.name, err)
	}
	var sg ec2types.SecurityGroup
	if len(out.SecurityGroups) > 0 {
		sg = out.SecurityGroups[0]
	} else {
		created, err := p.ec2.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{
			GroupName:         aws.String(p.name),
			Description:       aws.String("StreamProcessor local stack " + p.name + ": ALB on 80, tasks on 8080"),
			VpcId:             aws.String(vpcID),
			TagSpecifications: p.tagSpec(ec2types.ResourceTypeSecurityGroup, p.name),
		})
		if err != nil {
			return "", fmt.Errorf("create security group %q: %w", p.name, err)
		}
		sg.GroupId = created.GroupId
	}
	id := aws.ToString(sg.GroupId)

	// Add only the rules that are missing, so a crash between creating the group
	// and authorising its rules heals on the next call.
	var missing []ec2types.IpPermission
	for _, want := range []struct {
		port int32
		cidr string
	}{{listenerPort, "0.0.0.0/0"}, {targetPort, vpcCIDR}} {
		if !hasIngress(sg.IpPermissions, want.port, want.cidr) {
			missing = append(missing, ec2types.IpPermission{
				IpProtocol: aws.String("tcp"),
				FromPort:   aws.Int32(want.port),
				ToPort:     aws.Int32(want.port),
				IpRanges:   []ec2types.IpRange{{CidrIp: aws.String(want.cidr)}},
			})
		}
	}
	if len(missing) > 0 {
		_, err := p.ec2.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{
			GroupId: aws.String(id), IpPermissions: missing,
		})
		if err != nil && !hasCode(err, "InvalidPermission.Duplicate") {
			return "", fmt.Errorf("authorise ingress to security group %s: %w", id, err)
		}
	}
	return id, nil
}

func hasIngress(perms []ec2types.IpPermission, port int32, cidr string) bool {
	for _, p := range perms {
		if aws.ToString(p.IpProtocol) != "tcp" || aws.ToInt32(p.FromPort) != port || aws.ToInt32(p.ToPort) != port {
			continue
		}
		for _, r := range p.IpRanges {
			if aws.ToString(r.CidrIp) == cidr {
				return true
			}
		}
	}
	return false
}

func (p *preparer) cluster(ctx context.Context) (string, error) {
	out, err := p.ecs.DescribeClusters(ctx, &ecs.DescribeClustersInput{Clusters: []string{p.name}})
	if err != nil {
		return "", fmt.Errorf("look up ECS cluster %q: %w", p.name, err)
	}
	for _, c := range out.Clusters {
		if aws.ToString(c.Status) == "ACTIVE" {
			return aws.ToString(c.ClusterName), nil
		}
	}
	created, err := p.ecs.CreateCluster(ctx, &ecs.CreateClusterInput{
		ClusterName: aws.String(p.name),
		Tags:        []ecstypes.Tag{{Key: aws.String(managedByTag), Value: aws.String(p.name)}},
	})
	if err != nil {
		return "", fmt.Errorf("create ECS cluster %q: %w", p.name, err)
	}
	return aws.ToString(created.Cluster.ClusterName), nil
}

// ecsTasksTrust lets ECS tasks assume a role.
const ecsTasksTrust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ecs-tasks.amazonaws.com"},"Action":"sts:AssumeRole"}]}`

// executionPolicy is what AmazonECSTaskExecutionRolePolicy grants. It is inlined
// rather than attached because moto does not load AWS managed policies by default.
const executionPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ecr:GetAuthorizationToken","ecr:BatchCheckLayerAvailability","ecr:GetDownloadUrlForLayer","ecr:BatchGetImage","logs:CreateLogStream","logs:PutLogEvents"],"Resource":"*"}]}`

// role finds or creates roleName with the ECS tasks trust policy and, when
// inline is set, (re)writes its inline policy; returns the role's ARN.
func (p *preparer) role(ctx context.Context, roleName, inline string) (string, error) {
	var arn string
	got, err := p.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(roleName)})
	var notFound *iamtypes.NoSuchEntityException
	switch {
	case err == nil:
		arn = aws.ToString(got.Role.Arn)
	case errors.As(err, &notFound):
		created, err := p.iam.CreateRole(ctx, &iam.CreateRoleInput{
			RoleName:                 aws.String(roleName),
			AssumeRolePolicyDocument: aws.String(ecsTasksTrust),
			Description:              aws.String("StreamProcessor local stack " + p.name),
			Tags:                     []iamtypes.Tag{{Key: aws.String(managedByTag), Value: aws.String(p.name)}},
		})
		if err != nil {
			return "", fmt.Errorf("create IAM role %q: %w", roleName, err)
		}
		arn = aws.ToString(created.Role.Arn)
	default:
		return "", fmt.Errorf("look up IAM role %q: %w", roleName, err)
	}
	if inline != "" {
		// PutRolePolicy replaces a policy of the same name, so it is idempotent.
		if _, err := p.iam.PutRolePolicy(ctx, &iam.PutRolePolicyInput{
			RoleName:       aws.String(roleName),
			PolicyName:     aws.String("ecs-task-execution"),
			PolicyDocument: aws.String(inline),
		}); err != nil {
			return "", fmt.Errorf("put inline policy on IAM role %q: %w", roleName, err)
		}
	}
	return arn, nil
}

func (p *preparer) loadBalancer(ctx context.Context, vpcID string, subnets, groups []string) (elbtypes.LoadBalancer, error) {
	out, err := p.elb.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{Names: []string{p.name}})
	switch {
	case err == nil && len(out.LoadBalancers) > 0:
		lb := out.LoadBalancers[0]
		if got := aws.ToString(lb.VpcId); got != vpcID {
			return lb, fmt.Errorf("load balancer %q exists in VPC %s, not in %s: delete it or pick another name", p.name, got, vpcID)
		}
		return lb, nil
	case err != nil && !hasCode(err, "LoadBalancerNotFound"):
		return elbtypes.LoadBalancer{}, fmt.Errorf("look up load balancer %q: %w", p.name, err)
	}
	created, err := p.elb.CreateLoadBalancer(ctx, &elb.CreateLoadBalancerInput{
		Name:           aws.String(p.name),
		Type:           elbtypes.LoadBalancerTypeEnumApplication,
		Scheme:         elbtypes.LoadBalancerSchemeEnumInternetFacing,
		IpAddressType:  elbtypes.IpAddressTypeIpv4,
		Subnets:        subnets,
		SecurityGroups: groups,
		Tags:           []elbtypes.Tag{{Key: aws.String(managedByTag), Value: aws.String(p.name)}},
	})
	if err != nil {
		return elbtypes.LoadBalancer{}, fmt.Errorf("create load balancer %q: %w", p.name, err)
	}
	if len(created.LoadBalancers) == 0 {
		return elbtypes.LoadBalancer{}, fmt.Errorf("create load balancer %q: response names no load balancer", p.name)
	}
	return created.LoadBalancers[0], nil
}

func (p *preparer) targetGroup(ctx context.Context, vpcID string) (string, error) {
	tgName := p.name + "-tg"
	out, err := p.elb.DescribeTargetGroups(ctx, &elb.DescribeTargetGroupsInput{Names: []string{tgName}})
	switch {
	case err == nil && len(out.TargetGroups) > 0:
		tg := out.TargetGroups[0]
		if got := aws.ToString(tg.VpcId); got != vpcID {
			return "", fmt.Errorf("target group %q exists in VPC %s, not in %s: delete it or pick another name", tgName, got, vpcID)
		}
		return aws.ToString(tg.TargetGroupArn), nil
	case err != nil && !hasCode(err, "TargetGroupNotFound"):
		return "", fmt.Errorf("look up target group %q: %w", tgName, err)
	}
	created, err := p.elb.CreateTargetGroup(ctx, &elb.CreateTargetGroupInput{
		Name:                aws.String(tgName),
		TargetType:          elbtypes.TargetTypeEnumIp,
		Protocol:            elbtypes.ProtocolEnumHttp,
		Port:                aws.Int32(targetPort),
		VpcId:               aws.String(vpcID),
		HealthCheckProtocol: elbtypes.ProtocolEnumHttp,
		HealthCheckPath:     aws.String(healthCheckPath),
		Tags:                []elbtypes.Tag{{Key: aws.String(managedByTag), Value: aws.String(p.name)}},
	})
	if err != nil {
		return "", fmt.Errorf("create target group %q: %w", tgName, err)
	}
	if len(created.TargetGroups) == 0 {
		return "", fmt.Errorf("create target group %q: response names no target group", tgName)
	}
	return aws.ToString(created.TargetGroups[0].TargetGroupArn), nil
}

func (p *preparer) listener(ctx context.Context, lbARN, tgARN string) error {
	out, err := p.elb.DescribeListeners(ctx, &elb.DescribeListenersInput{LoadBalancerArn: aws.String(lbARN)})
	if err != nil {
		return fmt.Errorf("list listeners of load balancer %q: %w", p.name, err)
	}
	for _, l := range out.Listeners {
		if aws.ToInt32(l.Port) == listenerPort {
			return nil
		}
	}
	if _, err := p.elb.CreateListener(ctx, &elb.CreateListenerInput{
		LoadBalancerArn: aws.String(lbARN),
		Protocol:        elbtypes.ProtocolEnumHttp,
		Port:            aws.Int32(listenerPort),
		DefaultActions: []elbtypes.Action{{
			Type:           elbtypes.ActionTypeEnumForward,
			TargetGroupArn: aws.String(tgARN),
		}},
	}); err != nil {
		return fmt.Errorf("create HTTP:%d listener on load balancer %q: %w", listenerPort, p.name, err)
	}
	return nil
}

// hasCode reports whether err is an AWS API error with one of codes.
func hasCode(err error, codes ...string) bool {
	var apiErr smithy.APIError
	return errors.As(err, &apiErr) && slices.Contains(codes, apiErr.ErrorCode())
}
