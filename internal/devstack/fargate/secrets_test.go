package fargate_test

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	etypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/kdp-io/streamprocessor-operator/internal/devstack/fargate"
	"github.com/kdp-io/streamprocessor-operator/internal/devstack/fargate/fargatetest"
	"github.com/kdp-io/streamprocessor-operator/internal/testenv"
)

const (
	secretsManagerEndpoint = "AWS_ENDPOINT_URL_SECRETS_MANAGER"
	ssmEndpoint            = "AWS_ENDPOINT_URL_SSM"
)

// TestSecretsReachTaskEnvironment registers a task definition with secrets
// of every form ECS takes — a Secrets Manager ARN, the same with a JSON key,
// an SSM SecureString by ARN and a parameter by name — stored in moto, and
// reads them back from the running task's environment.
func TestSecretsReachTaskEnvironment(t *testing.T) {
	testenv.Require(t, secretsManagerEndpoint, ssmEndpoint)
	s := fargatetest.Start(t, taskServer, fargate.Options{})
	ctx := context.Background()
	sm, ps := secretsmanager.NewFromConfig(s.AWS), ssm.NewFromConfig(s.AWS)
	name := testenv.UniqueName("sp-secret")

	plain, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name + "-token"), SecretString: aws.String("tok-123")})
	if err != nil {
		t.Fatal(err)
	}
	doc, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name + "-db"), SecretString: aws.String(`{"user":"u1","password":"p=w:2","port":5432}`)})
	if err != nil {
		t.Fatal(err)
	}
	path := "/" + name + "/api-key"
	if _, err := ps.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(path), Value: aws.String("key-456"), Type: ssmtypes.ParameterTypeSecureString}); err != nil {
		t.Fatal(err)
	}
	got, err := ps.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(path)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ps.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(name + "-region"), Value: aws.String("eu-west-1"), Type: ssmtypes.ParameterTypeString}); err != nil {
		t.Fatal(err)
	}

	secrets := map[string]string{
		"AUTH_TOKEN":  aws.ToString(plain.ARN),
		"DB_PASSWORD": aws.ToString(doc.ARN) + ":password::",
		"DB_PORT":     aws.ToString(doc.ARN) + ":port::",
		"API_KEY":     aws.ToString(got.Parameter.ARN),
		"HOME_REGION": name + "-region",
	}
	td := s.TaskDefWithSecrets("secretsvc", "producer", fargatetest.ServerImage+":1", map[string]string{"STREAM_NAME": "s"}, secrets, 5)
	s.Service("secretsvc", td, 1)
	s.WaitRunning("secretsvc", 1)

	live := s.Live("secretsvc")
	if len(live) != 1 {
		t.Fatalf("%d live tasks, want 1", len(live))
	}
	code, body, err := fargatetest.Get("http://" + net.JoinHostPort(live[0].Address, strconv.Itoa(live[0].Port)) + "/env")
	if err != nil || code != 200 {
		t.Fatalf("GET /env: %d %v", code, err)
	}
	env := map[string]string{}
	for line := range strings.SplitSeq(body, "\n") {
		k, v, _ := strings.Cut(line, "=")
		env[k] = v
	}
	for k, want := range map[string]string{
		"AUTH_TOKEN": "tok-123", "DB_PASSWORD": "p=w:2", "DB_PORT": "5432", "API_KEY": "key-456", "HOME_REGION": "eu-west-1", "STREAM_NAME": "s",
	} {
		if v, ok := env[k]; !ok || v != want {
			t.Errorf("task environment %s = %q (set %v), want %q", k, v, ok, want)
		}
	}
}

// TestUnresolvableSecretStopsTask: a secret that does not exist stops the
// task before its process starts, as ECS does — STOPPED, stopCode
// TaskFailedToStart, a stoppedReason and a service event naming the secret —
// and nothing runs with the variable empty.
func TestUnresolvableSecretStopsTask(t *testing.T) {
	testenv.Require(t, secretsManagerEndpoint, ssmEndpoint)
	s := fargatetest.Start(t, taskServer, fargate.Options{})
	missing := fmt.Sprintf("arn:aws:secretsmanager:%s:123456789012:secret:%s-AbCdEf", s.AWS.Region, testenv.UniqueName("sp-missing"))
	missingParam := "/" + testenv.UniqueName("sp-missing") + "/key"
	for svc, from := range map[string]string{"nosecret": missing, "noparam": missingParam} {
		td := s.TaskDefWithSecrets(svc, "producer", fargatetest.ServerImage+":1", nil, map[string]string{"AUTH_TOKEN": from}, 5)
		s.Service(svc, td, 1)
		fargatetest.Eventually(t, 30*time.Second, svc+": a task stopped for its secret", func() string {
			for _, task := range s.Tasks(svc, etypes.DesiredStatusStopped) {
				reason := aws.ToString(task.StoppedReason)
				if task.StopCode == etypes.TaskStopCodeTaskFailedToStart && strings.HasPrefix(reason, "ResourceInitializationError: ") &&
					strings.Contains(reason, from) && strings.Contains(reason, "AUTH_TOKEN") {
					return ""
				}
			}
			return "no STOPPED task with stopCode TaskFailedToStart and a reason naming " + from
		})
		var evented bool
		for _, e := range s.Describe(svc).Events {
			evented = evented || strings.Contains(aws.ToString(e.Message), from)
		}
		if !evented {
			t.Errorf("%s: no service event names %s", svc, from)
		}
		if svc := s.Describe(svc); svc.RunningCount != 0 {
			t.Errorf("a task runs without its secret: %s", fargatetest.Counts(svc))
		}
		for _, tv := range s.Live(svc) {
			if tv.PID != 0 {
				t.Errorf("%s: task %s has a process (%d) though its secret was not read", svc, tv.ID, tv.PID)
			}
		}
	}
}
