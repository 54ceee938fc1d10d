package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/yaml"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
	"github.com/kdp-io/streamprocessor-operator/internal/awsconfig"
	"github.com/kdp-io/streamprocessor-operator/internal/testenv"
	"github.com/kdp-io/streamprocessor-operator/internal/testenv/operator"
)

const (
	root     = "../.."
	template = root + "/config/aws/prerequisites.yaml"
)

// TestTemplatePoliciesAreConfigIAM fails when a role's inline policy in the
// template differs from its document in config/iam (Fn::Sub unwrapped).
func TestTemplatePoliciesAreConfigIAM(t *testing.T) {
	b, err := os.ReadFile(template)
	if err != nil {
		t.Fatal(err)
	}
	var tpl struct {
		Resources map[string]struct {
			Properties struct {
				Policies []struct {
					PolicyName     string
					PolicyDocument any
				}
			}
		}
	}
	if err := yaml.Unmarshal(b, &tpl); err != nil {
		t.Fatalf("parse template: %v", err)
	}
	want := map[string][]string{
		"ExecutionRole":    {"execution-role-policy.json"},
		"ProducerTaskRole": {"producer-task-policy.json"},
		"ConsumerTaskRole": {"consumer-task-policy.json"},
		"OperatorRole":     {"operator-policy.json"},
	}
	for role, files := range want {
		policies := tpl.Resources[role].Properties.Policies
		if len(policies) != len(files) {
			t.Errorf("%s has %d policies, want %d (%v)", role, len(policies), len(files), files)
			continue
		}
		for i, f := range files {
			jb, err := os.ReadFile(filepath.Join(root, "config/iam", f))
			if err != nil {
				t.Fatal(err)
			}
			var doc any
			if err := json.Unmarshal(jb, &doc); err != nil {
				t.Fatal(err)
			}
			if got := unwrapSub(policies[i].PolicyDocument); !reflect.DeepEqual(got, doc) {
				gj, _ := json.MarshalIndent(got, "", "  ")
				t.Errorf("%s's policy %s is not config/iam/%s; the template has:\n%s", role, policies[i].PolicyName, f, gj)
			}
		}
	}
}

func unwrapSub(v any) any {
	switch v := v.(type) {
	case map[string]any:
		if s, ok := v["Fn::Sub"].(string); ok && len(v) == 1 {
			return s
		}
		m := map[string]any{}
		for k, x := range v {
			m[k] = unwrapSub(x)
		}
		return m
	case []any:
		l := make([]any, len(v))
		for i, x := range v {
			l[i] = unwrapSub(x)
		}
		return l
	}
	return v
}

// TestTemplateLints runs cfn-lint on the template.
func TestTemplateLints(t *testing.T) {
	lint, err := exec.LookPath("cfn-lint")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("cfn-lint is not installed (pip install cfn-lint==1.51.*)")
		}
		t.Skip("cfn-lint is not installed (pip install cfn-lint==1.51.*): template not linted")
	}
	if out, err := exec.Command(lint, template).CombinedOutput(); err != nil {
		t.Fatalf("cfn-lint %s: %v\n%s", template, err, out)
	}
}

// TestStackGivesARunningSample creates the stack with its default parameters
// in the CloudFormation emulator, writes the sample from its outputs, applies
// it to a real kube-apiserver with the operator running, and checks that both
// services are created in the stack's subnets and security group, the producer
// in its target group, with the stack's roles.
func TestStackGivesARunningSample(t *testing.T) {
	testenv.Require(t, "AWS_ENDPOINT_URL_CLOUDFORMATION", testenv.ECS, testenv.EC2, testenv.Kinesis, testenv.DynamoDB, testenv.CloudWatch)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cfg, err := awsconfig.Load(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	body, err := os.ReadFile(template)
	if err != nil {
		t.Fatal(err)
	}
	cf := cloudformation.NewFromConfig(cfg)
	name := testenv.UniqueName("sp-prereq")
	cluster := name + "-cluster"
	if _, err := cf.CreateStack(ctx, &cloudformation.CreateStackInput{
		StackName:    &name,
		TemplateBody: aws.String(string(body)),
		Parameters:   []cftypes.Parameter{{ParameterKey: aws.String("ClusterName"), ParameterValue: &cluster}},
		Capabilities: []cftypes.Capability{cftypes.CapabilityCapabilityIam},
	}); err != nil {
		t.Fatalf("create stack: %v", err)
	}
	t.Cleanup(func() {
		_, _ = cf.DeleteStack(context.Background(), &cloudformation.DeleteStackInput{StackName: &name})
	})
	var status cftypes.StackStatus
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		out, err := cf.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: &name})
		if err != nil {
			t.Fatal(err)
		}
		if status = out.Stacks[0].StackStatus; status != cftypes.StackStatusCreateInProgress {
			break
		}
	}
	if status != cftypes.StackStatusCreateComplete {
		t.Fatalf("stack %s: %s", name, status)
	}
	outputs, err := StackOutputs(ctx, cf, name)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"Subnets", "SecurityGroups", "Cluster", "TargetGroupArn", "ExecutionRoleArn", "ProducerTaskRoleArn", "ConsumerTaskRoleArn", "OperatorRoleArn", "LoadBalancerUrl", "LogGroup"} {
		if outputs[k] == "" {
			t.Errorf("stack output %s is missing or empty (outputs %v)", k, outputs)
		}
	}
	if len(strings.Split(outputs["Subnets"], ",")) != 2 {
		t.Errorf("Subnets %q: want two", outputs["Subnets"])
	}

	authToken := "arn:aws:secretsmanager:" + cfg.Region + ":123456789012:secret:auth-token-AbCdEf"
	sample, err := Sample(outputs, Options{Name: testenv.UniqueName("from-stack"), Namespace: "default",
		ProducerImage: "example.com/producer:v1", ConsumerImage: "example.com/consumer:v1", Region: cfg.Region,
		AuthTokenFrom: authToken})
	if err != nil {
		t.Fatal(err)
	}
	c := startOperator(t)
	var sp streamingv1alpha1.StreamProcessor
	if err := yaml.UnmarshalStrict(sample, &sp); err != nil {
		t.Fatalf("sample does not fit the API: %v\n%s", err, sample)
	}
	if err := c.Create(ctx, &sp); err != nil {
		t.Fatalf("apply the sample: %v\n%s", err, sample)
	}
	t.Cleanup(func() {
		// Delete while the operator runs, so its finalizer removes the stream and services.
		key := client.ObjectKeyFromObject(&sp)
		_ = c.Delete(context.Background(), &sp)
		for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
			if err := c.Get(context.Background(), key, &streamingv1alpha1.StreamProcessor{}); err != nil {
				return
			}
		}
		t.Errorf("StreamProcessor %s not deleted within a minute", key)
	})

	ecsc := ecs.NewFromConfig(cfg)
	subnets := strings.Split(outputs["Subnets"], ",")
	sort.Strings(subnets)
	for _, workload := range []string{"producer", "consumer"} {
		var svc *ecs.DescribeServicesOutput
		for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(500 * time.Millisecond) {
			if err := c.Get(ctx, client.ObjectKeyFromObject(&sp), &sp); err != nil {
				t.Fatal(err)
			}
			st := sp.Status.Producer
			if workload == "consumer" {
				st = sp.Status.Consumer
			}
			if st.ServiceName != "" {
				svc, err = ecsc.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: &cluster, Services: []string{st.ServiceName}})
				if err == nil && len(svc.Services) == 1 {
					break
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("no %s service in cluster %s after 90 s; status %+v", workload, cluster, sp.Status)
			}
		}
		s := svc.Services[0]
		if s.NetworkConfiguration == nil || s.NetworkConfiguration.AwsvpcConfiguration == nil {
			t.Fatalf("%s service has no awsvpc configuration", workload)
		}
		got := append([]string(nil), s.NetworkConfiguration.AwsvpcConfiguration.Subnets...)
		sort.Strings(got)
		if !reflect.DeepEqual(got, subnets) {
			t.Errorf("%s service subnets %v, want the stack's %v", workload, got, subnets)
		}
		if sg := s.NetworkConfiguration.AwsvpcConfiguration.SecurityGroups; !reflect.DeepEqual(sg, []string{outputs["SecurityGroups"]}) {
			t.Errorf("%s service security groups %v, want %s", workload, sg, outputs["SecurityGroups"])
		}
		if workload == "producer" {
			if len(s.LoadBalancers) != 1 || aws.ToString(s.LoadBalancers[0].TargetGroupArn) != outputs["TargetGroupArn"] {
				t.Errorf("producer load balancers %+v, want target group %s", s.LoadBalancers, outputs["TargetGroupArn"])
			}
		}
		td, err := ecsc.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: s.TaskDefinition})
		if err != nil {
			t.Fatal(err)
		}
		if lc := td.TaskDefinition.ContainerDefinitions[0].LogConfiguration; lc == nil || lc.Options["awslogs-group"] != outputs["LogGroup"] || lc.Options["awslogs-stream-prefix"] != workload {
			t.Errorf("%s task definition log configuration %+v, want awslogs to the stack's group %s with prefix %s", workload, lc, outputs["LogGroup"], workload)
		}
		var secrets []string
		for _, sec := range td.TaskDefinition.ContainerDefinitions[0].Secrets {
			secrets = append(secrets, aws.ToString(sec.Name)+"="+aws.ToString(sec.ValueFrom))
		}
		if want := map[string][]string{"producer": {"AUTH_TOKEN=" + authToken}}[workload]; !reflect.DeepEqual(secrets, want) {
			t.Errorf("%s task definition secrets %v, want %v", workload, secrets, want)
		}
		// Each workload runs with its own task role: the producer's cannot
		// read the stream, the consumer's cannot write to it.
		taskRole := outputs[map[string]string{"producer": "ProducerTaskRoleArn", "consumer": "ConsumerTaskRoleArn"}[workload]]
		if aws.ToString(td.TaskDefinition.ExecutionRoleArn) != outputs["ExecutionRoleArn"] || aws.ToString(td.TaskDefinition.TaskRoleArn) != taskRole {
			t.Errorf("%s task definition roles %s / %s, want the stack's %s / %s", workload,
				aws.ToString(td.TaskDefinition.ExecutionRoleArn), aws.ToString(td.TaskDefinition.TaskRoleArn), outputs["ExecutionRoleArn"], taskRole)
		}
	}
}

// startOperator starts a kube-apiserver (envtest) with the CRD and the
// operator's reconciler on it, and returns a client.
func startOperator(t *testing.T) client.Client {
	t.Helper()
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		assets = filepath.Join(root, "bin", "k8s", "v1.35.4")
	}
	if _, err := os.Stat(filepath.Join(assets, "kube-apiserver")); err != nil {
		msg := "no kube-apiserver in " + assets + ": run `make test` (or hack/control-plane.sh)"
		if os.Getenv("SP_REQUIRE_EMULATORS") == "1" || os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     []string{filepath.Join(root, "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	rc, err := env.Start()
	if err != nil {
		t.Fatalf("start envtest: %v", err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := streamingv1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	logf.SetLogger(zap.New(zap.WriteTo(os.Stderr)))
	operator.Start(t, rc, scheme, operator.Options{PollInterval: 300 * time.Millisecond, MetricsMaxAge: time.Second})
	c, err := client.New(rc, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
