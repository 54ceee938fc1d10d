// Package iam checks the IAM policies of config/iam against the code: every
// AWS operation a binary calls (found in the source of every package it
// links) is listed in config/iam/operations.yaml, and the binary's policy
// allows it on the resources a StreamProcessor's default names give — and no
// more than a few things it must not do. The README's permission list is
// checked against the operator's policy.
package iam

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

const (
	root   = "../.."
	module = "github.com/kdp-io/streamprocessor-operator"
	sdk    = "github.com/aws/aws-sdk-go-v2/service/"
)

// iamPrefix maps an SDK service package to its IAM action prefix.
var iamPrefix = map[string]string{
	"kinesis": "kinesis", "ecs": "ecs", "dynamodb": "dynamodb", "cloudwatch": "cloudwatch",
	"cloudwatchlogs": "logs", "ec2": "ec2", "elasticloadbalancingv2": "elasticloadbalancing", "iam": "iam", "sts": "sts",
}

// Placeholder values the policies' ${…} (CloudFormation Fn::Sub) take here.
var subs = map[string]string{
	"AWS::Partition": "aws", "AWS::Region": "us-east-1", "AWS::AccountId": "123456789012",
	"Cluster": "streaming", "NamePrefix": "team-a-", "LogGroup": "/streamprocessor/streaming",
	"ExecutionRole.Arn":    "arn:aws:iam::123456789012:role/sp-execution",
	"ProducerTaskRole.Arn": "arn:aws:iam::123456789012:role/sp-producer",
	"ConsumerTaskRole.Arn": "arn:aws:iam::123456789012:role/sp-consumer",
}

// A StreamProcessor team-a/clickstream with default names.
const (
	base       = "team-a-clickstream-1a2b3c4d"
	streamARN  = "arn:aws:kinesis:us-east-1:123456789012:stream/" + base
	deadLetter = "arn:aws:kinesis:us-east-1:123456789012:stream/" + base + "-dead-letter"
	tableARN   = "arn:aws:dynamodb:us-east-1:123456789012:table/" + base + "-consumer"
	serviceARN = "arn:aws:ecs:us-east-1:123456789012:service/streaming/" + base + "-producer"
	taskDefARN = "arn:aws:ecs:us-east-1:123456789012:task-definition/" + base + "-producer:3"
	// CloudWatch dashboards are global to the account: no region in the ARN.
	dashboardARN = "arn:aws:cloudwatch::123456789012:dashboard/" + base
	// The operator's log group has the stream's default name. IAM checks
	// the tagging calls on the ARN without ":*", the others on the one with.
	logGroupARN = "arn:aws:logs:us-east-1:123456789012:log-group:" + base
)

type request struct {
	action, resource string
	context          map[string]string
}

// requests are the calls behind one operation of a binary: the operation on
// the resource it touches, and the actions AWS also checks for it.
func requests(binary, op string) []request {
	svc, _, _ := strings.Cut(op, ":")
	owned := map[string]string{"aws:RequestTag/kdp.io/managed-by": "streamprocessor-operator"}
	switch {
	case op == "ecs:RegisterTaskDefinition":
		return []request{{op, "*", owned},
			{"ecs:TagResource", taskDefARN, map[string]string{"ecs:CreateAction": "RegisterTaskDefinition"}},
			{"iam:PassRole", subs["ExecutionRole.Arn"], map[string]string{"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
			{"iam:PassRole", subs["ProducerTaskRole.Arn"], map[string]string{"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
			{"iam:PassRole", subs["ConsumerTaskRole.Arn"], map[string]string{"iam:PassedToService": "ecs-tasks.amazonaws.com"}}}
	case op == "ecs:CreateService":
		return []request{{op, serviceARN, nil}, {"ecs:TagResource", serviceARN, map[string]string{"ecs:CreateAction": "CreateService"}}}
	case op == "ecs:ListTagsForResource":
		return []request{{op, serviceARN, nil}, {op, taskDefARN, nil}}
	case op == "kinesis:CreateStream":
		return []request{{op, streamARN, nil}, {"kinesis:AddTagsToStream", streamARN, nil}}
	case op == "kinesis:PutRecord" && binary == "consumer":
		return []request{{op, deadLetter, nil}}
	case svc == "kinesis":
		return []request{{op, streamARN, nil}}
	case svc == "dynamodb":
		return []request{{op, tableARN, nil}}
	case op == "logs:CreateLogGroup":
		return []request{{op, logGroupARN + ":*", nil}, {"logs:TagResource", logGroupARN, nil}}
	case op == "logs:ListTagsForResource":
		return []request{{op, logGroupARN, nil}}
	case op == "logs:DescribeLogGroups":
		return []request{{op, "arn:aws:logs:us-east-1:123456789012:log-group:*", nil}}
	case svc == "logs":
		return []request{{op, logGroupARN + ":*", nil}}
	case strings.HasSuffix(op, "Dashboard") || strings.HasSuffix(op, "Dashboards"):
		return []request{{op, dashboardARN, nil}}
	case op == "cloudwatch:PutMetricData":
		ns := map[string]string{"producer": "StreamProcessor/Producer", "consumer": "StreamProcessor/Consumer", "manager": "StreamProcessor/Operator"}[binary]
		return []request{{op, "*", map[string]string{"cloudwatch:namespace": ns}}}
	case svc == "ecs" && strings.Contains(op, "Service"):
		return []request{{op, serviceARN, nil}}
	case svc == "ecs":
		return []request{{op, taskDefARN, nil}}
	}
	return []request{{op, "*", nil}}
}

// denied are requests each policy must refuse: the producer cannot read, the
// consumer cannot write to its stream, nobody leaves its names or namespace.
var denied = map[string][]request{
	"manager": {
		{"kinesis:DeleteStream", "arn:aws:kinesis:us-east-1:123456789012:stream/team-b-orders-00000000", nil},
		{"ecs:UpdateService", "arn:aws:ecs:us-east-1:123456789012:service/other-cluster/" + base + "-producer", nil},
		{"ecs:RegisterTaskDefinition", "*", nil},
		{"ecs:TagResource", serviceARN, nil},
		{"iam:PassRole", subs["ProducerTaskRole.Arn"], map[string]string{"iam:PassedToService": "lambda.amazonaws.com"}},
		{"iam:PassRole", "arn:aws:iam::123456789012:role/admin", map[string]string{"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
		{"dynamodb:DeleteTable", "arn:aws:dynamodb:us-east-1:123456789012:table/team-a-billing", nil},
		{"kinesis:PutRecords", streamARN, nil},
		{"cloudwatch:PutDashboard", "arn:aws:cloudwatch::123456789012:dashboard/team-b-billing", nil},
		{"cloudwatch:DeleteDashboards", "arn:aws:cloudwatch::123456789012:dashboard/team-b-orders-00000000", nil},
		{"logs:DeleteLogGroup", "arn:aws:logs:us-east-1:123456789012:log-group:team-b-orders-00000000:*", nil},
		{"logs:DeleteLogGroup", "arn:aws:logs:us-east-1:123456789012:log-group:/streamprocessor/streaming:*", nil},
		{"logs:PutRetentionPolicy", "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/billing:*", nil},
		{"cloudwatch:PutMetricData", "*", map[string]string{"cloudwatch:namespace": "StreamProcessor/Producer"}},
	},
	"producer": {
		{"kinesis:GetRecords", streamARN, nil},
		{"kinesis:GetShardIterator", streamARN, nil},
		{"kinesis:PutRecords", "arn:aws:kinesis:us-east-1:123456789012:stream/team-b-orders-00000000", nil},
		{"cloudwatch:PutMetricData", "*", map[string]string{"cloudwatch:namespace": "AWS/Kinesis"}},
		{"dynamodb:Scan", tableARN, nil},
	},
	"consumer": {
		{"kinesis:PutRecords", streamARN, nil},
		{"kinesis:PutRecord", streamARN, nil},
		{"kinesis:DeleteStream", streamARN, nil},
		{"dynamodb:DeleteTable", tableARN, nil},
		{"dynamodb:Scan", "arn:aws:dynamodb:us-east-1:123456789012:table/team-a-billing", nil},
		{"cloudwatch:PutMetricData", "*", map[string]string{"cloudwatch:namespace": "StreamProcessor/Producer"}},
	},
}

type binaryOps struct {
	Policy     string   `json:"policy"`
	Operations []string `json:"operations"`
}

func loadOperations(t *testing.T) map[string]binaryOps {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "config/iam/operations.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var ops map[string]binaryOps
	if err := yaml.Unmarshal(b, &ops); err != nil {
		t.Fatalf("config/iam/operations.yaml: %v", err)
	}
	return ops
}

// TestOperationsListMatchesCode fails when a binary's code names an SDK
// operation that config/iam/operations.yaml does not list for it, or the list
// names one the code no longer calls.
func TestOperationsListMatchesCode(t *testing.T) {
	for binary, listed := range loadOperations(t) {
		t.Run(binary, func(t *testing.T) {
			inCode := operationsInCode(t, "./cmd/"+binary)
			want := map[string]bool{}
			for _, op := range listed.Operations {
				want[op] = true
			}
			for op, where := range inCode {
				if !want[op] {
					t.Errorf("%s calls %s (%s) but config/iam/operations.yaml does not list it for %s: add it and allow it in config/iam/%s", binary, op, where, binary, listed.Policy)
				}
			}
			for op := range want {
				if _, ok := inCode[op]; !ok {
					t.Errorf("config/iam/operations.yaml lists %s for %s, but its code no longer calls it: remove it (and from config/iam/%s if nothing else needs it)", op, binary, listed.Policy)
				}
			}
		})
	}
}

// TestPoliciesAllowEveryOperation evaluates each binary's policy for every
// operation it calls, on the resources of a StreamProcessor with default
// names, and checks the requests it must refuse.
func TestPoliciesAllowEveryOperation(t *testing.T) {
	for binary, listed := range loadOperations(t) {
		t.Run(binary, func(t *testing.T) {
			p := loadPolicy(t, listed.Policy)
			for _, op := range listed.Operations {
				for _, r := range requests(binary, op) {
					if !p.allows(t, r) {
						t.Errorf("config/iam/%s does not allow %s on %s (context %v), which %s needs for %s", listed.Policy, r.action, r.resource, r.context, binary, op)
					}
				}
			}
			for _, r := range denied[binary] {
				if p.allows(t, r) {
					t.Errorf("config/iam/%s allows %s on %s (context %v); it must not", listed.Policy, r.action, r.resource, r.context)
				}
			}
		})
	}
}

// TestREADMEPermissionListMatchesPolicy checks the README's list of the
// operator's permissions against config/iam/operator-policy.json.
func TestREADMEPermissionListMatchesPolicy(t *testing.T) {
	p := loadPolicy(t, "operator-policy.json")
	var actions []string
	seen := map[string]bool{}
	for _, s := range p.Statement {
		for _, a := range s.Action {
			if !seen[a] {
				seen[a] = true
				actions = append(actions, "`"+a+"`")
			}
		}
	}
	sort.Strings(actions)
	want := strings.Join(actions, ", ")
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)<!-- iam:operator-actions -->(.*?)<!-- /iam -->`).FindSubmatch(readme)
	if m == nil {
		t.Fatal("README.md has no <!-- iam:operator-actions --> … <!-- /iam --> list")
	}
	if got := strings.Join(strings.Fields(string(m[1])), " "); got != want {
		t.Errorf("README's operator permissions differ from config/iam/operator-policy.json; put this between the markers:\n%s", want)
	}
}

// operationsInCode returns service:Operation for every SDK <Operation>Input
// type named in the non-test Go files of the module's packages that pkg links,
// with one file that names it.
func operationsInCode(t *testing.T, pkg string) map[string]string {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}\t{{.Dir}}\t{{join .GoFiles \",\"}}", pkg)
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	ops := map[string]string{}
	fset := token.NewFileSet()
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 3 || !strings.HasPrefix(f[0], module) || f[2] == "" {
			continue
		}
		for _, name := range strings.Split(f[2], ",") {
			path := filepath.Join(f[1], name)
			file, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
			if err != nil {
				t.Fatal(err)
			}
			services := map[string]string{} // local import name → IAM prefix
			for _, imp := range file.Imports {
				p, _ := strconv.Unquote(imp.Path.Value)
				svc, ok := strings.CutPrefix(p, sdk)
				if !ok || strings.Contains(svc, "/") {
					continue
				}
				prefix, known := iamPrefix[svc]
				if !known {
					t.Errorf("%s imports %s: add its IAM prefix to iamPrefix", path, p)
					continue
				}
				local := svc
				if imp.Name != nil {
					local = imp.Name.Name
				}
				services[local] = prefix
			}
			ast.Inspect(file, func(n ast.Node) bool {
				sel, ok := n.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				id, ok := sel.X.(*ast.Ident)
				if !ok {
					return true
				}
				if prefix, ok := services[id.Name]; ok && strings.HasSuffix(sel.Sel.Name, "Input") {
					rel, _ := filepath.Rel(root, path)
					ops[prefix+":"+strings.TrimSuffix(sel.Sel.Name, "Input")] = rel
				}
				return true
			})
		}
	}
	return ops
}

// policy is an IAM identity policy with Allow statements only.
type policy struct {
	Version   string
	Statement []statement
}

type statement struct {
	Sid       string
	Effect    string
	Action    stringList
	Resource  stringList
	Condition map[string]map[string]stringList
}

// stringList is an IAM string or list of strings.
type stringList []string

func (s *stringList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*s = []string{one}
		return nil
	}
	return json.Unmarshal(b, (*[]string)(s))
}

func loadPolicy(t *testing.T, name string) policy {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "config/iam", name))
	if err != nil {
		t.Fatal(err)
	}
	text := regexp.MustCompile(`\$\{([^}]+)\}`).ReplaceAllStringFunc(string(b), func(m string) string {
		v, ok := subs[m[2:len(m)-1]]
		if !ok {
			t.Errorf("config/iam/%s: unknown placeholder %s", name, m)
		}
		return v
	})
	var p policy
	dec := json.NewDecoder(strings.NewReader(text))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("config/iam/%s: %v", name, err)
	}
	for _, s := range p.Statement {
		if s.Effect != "Allow" {
			t.Fatalf("config/iam/%s: statement %s: only Allow statements are expected", name, s.Sid)
		}
	}
	return p
}

// allows reports whether some statement allows r: the action and the resource
// match (IAM's * and ? wildcards) and every condition holds in r's context.
func (p policy) allows(t *testing.T, r request) bool {
	for _, s := range p.Statement {
		if matchAny(s.Action, r.action, true) && matchAny(s.Resource, r.resource, false) && conditionsHold(t, s.Condition, r.context) {
			return true
		}
	}
	return false
}

func conditionsHold(t *testing.T, conds map[string]map[string]stringList, ctx map[string]string) bool {
	for op, keys := range conds {
		for key, values := range keys {
			v, ok := ctx[key]
			if !ok {
				return false
			}
			var hold bool
			switch op {
			case "StringEquals", "ArnEquals":
				hold = contains(values, v)
			case "StringLike", "ArnLike":
				hold = matchAny(values, v, false)
			default:
				t.Fatalf("condition operator %s is not evaluated by this test: add it", op)
			}
			if !hold {
				return false
			}
		}
	}
	return true
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func matchAny(patterns []string, v string, foldCase bool) bool {
	for _, p := range patterns {
		expr := "^" + strings.NewReplacer(`\*`, ".*", `\?`, ".").Replace(regexp.QuoteMeta(p)) + "$"
		if foldCase {
			expr = "(?i)" + expr
		}
		if regexp.MustCompile(expr).MatchString(v) {
			return true
		}
	}
	return false
}

// TestExecutionRoleReadsTaskSecrets: ECS resolves a task definition's secrets
// (spec.producer.secrets, spec.consumer.secrets) with the execution role,
// calling secretsmanager:GetSecretValue or ssm:GetParameters, and kms:Decrypt
// through those services for a customer managed key. The role allows them
// for names that begin with NamePrefix, and nothing beyond.
func TestExecutionRoleReadsTaskSecrets(t *testing.T) {
	p := loadPolicy(t, "execution-role-policy.json")
	const acct = "arn:aws:%s:us-east-1:123456789012:%s"
	via := func(svc string) map[string]string {
		return map[string]string{"kms:ViaService": svc + ".us-east-1.amazonaws.com"}
	}
	key := fmt.Sprintf(acct, "kms", "key/1234abcd-12ab-34cd-56ef-1234567890ab")
	for _, r := range []request{
		{"secretsmanager:GetSecretValue", fmt.Sprintf(acct, "secretsmanager", "secret:team-a-auth-token-AbCdEf"), nil},
		{"ssm:GetParameters", fmt.Sprintf(acct, "ssm", "parameter/team-a-clicks/db-password"), nil},
		{"kms:Decrypt", key, via("secretsmanager")},
		{"kms:Decrypt", key, via("ssm")},
	} {
		if !p.allows(t, r) {
			t.Errorf("config/iam/execution-role-policy.json does not allow %s on %s (context %v), which ECS needs for a task's secrets", r.action, r.resource, r.context)
		}
	}
	for _, r := range []request{
		{"secretsmanager:GetSecretValue", fmt.Sprintf(acct, "secretsmanager", "secret:team-b-auth-token-AbCdEf"), nil},
		{"ssm:GetParameters", fmt.Sprintf(acct, "ssm", "parameter/prod/db-password"), nil},
		{"secretsmanager:GetSecretValue", "arn:aws:secretsmanager:us-east-1:210987654321:secret:team-a-x", nil},
		{"kms:Decrypt", key, nil},
		{"kms:Decrypt", key, via("s3")},
		{"secretsmanager:ListSecrets", "*", nil},
	} {
		if p.allows(t, r) {
			t.Errorf("config/iam/execution-role-policy.json allows %s on %s (context %v); it must not", r.action, r.resource, r.context)
		}
	}
}

// TestExecutionRoleWritesTaskLogs: the awslogs driver writes with the
// execution role (logs:CreateLogStream, logs:PutLogEvents on the group's
// streams). The role allows it in the prerequisites stack's group and in the
// groups the operator creates (its NamePrefix), and nowhere else.
func TestExecutionRoleWritesTaskLogs(t *testing.T) {
	p := loadPolicy(t, "execution-role-policy.json")
	stream := func(group string) string {
		return "arn:aws:logs:us-east-1:123456789012:log-group:" + group + ":log-stream:producer/producer/0123"
	}
	for _, group := range []string{base, "/streamprocessor/streaming"} {
		for _, action := range []string{"logs:CreateLogStream", "logs:PutLogEvents"} {
			if r := (request{action, stream(group), nil}); !p.allows(t, r) {
				t.Errorf("config/iam/execution-role-policy.json does not allow %s on %s, which the awslogs driver needs", r.action, r.resource)
			}
		}
	}
	for _, r := range []request{
		{"logs:PutLogEvents", stream("team-b-orders-00000000"), nil},
		{"logs:PutLogEvents", stream("/aws/lambda/billing"), nil},
		{"logs:DeleteLogGroup", "arn:aws:logs:us-east-1:123456789012:log-group:" + base + ":*", nil},
	} {
		if p.allows(t, r) {
			t.Errorf("config/iam/execution-role-policy.json allows %s on %s; it must not", r.action, r.resource)
		}
	}
}
