package ecstask

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	etypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

func TestEnviron(t *testing.T) {
	task := Task{Env: map[string]string{
		"STREAM_NAME": "s", "AWS_REGION": "eu-west-1", "PORT": "8080",
	}}
	host := []string{
		"PATH=/usr/bin", "HOME=/root", "AWS_REGION=us-east-1", "AWS_DEFAULT_REGION=us-east-1", "AWS_PROFILE=dev",
		"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=secret", "AWS_EC2_METADATA_DISABLED=true",
		"AWS_ENDPOINT_URL_KINESIS=http://127.0.0.1:4568", "AWS_ENDPOINT_URL=http://127.0.0.1:1", "STREAM_NAME=host",
	}
	got := task.Environ(host, map[string]string{"PORT": "40000", "OUTPUT": "/tmp/out"})
	want := []string{
		"AWS_ACCESS_KEY_ID=test",
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_ENDPOINT_URL=http://127.0.0.1:1",
		"AWS_ENDPOINT_URL_KINESIS=http://127.0.0.1:4568",
		"AWS_REGION=eu-west-1",
		"AWS_SECRET_ACCESS_KEY=secret",
		"OUTPUT=/tmp/out",
		"PORT=40000",
		"STREAM_NAME=s",
	}
	if !slices.Equal(got, want) {
		t.Errorf("Environ:\n got %q\nwant %q", got, want)
	}
}

func TestEnvironKeepsRegionOutUnlessTaskHasIt(t *testing.T) {
	got := Task{Env: map[string]string{"STREAM_NAME": "s"}}.Environ([]string{"AWS_REGION=us-east-1", "AWS_DEFAULT_REGION=us-east-1"}, nil)
	if !slices.Equal(got, []string{"STREAM_NAME=s"}) {
		t.Errorf("Environ = %q: the host's region must not stand in for the task definition's", got)
	}
}

func TestFromTaskDefinitionKeepsSecrets(t *testing.T) {
	td := &etypes.TaskDefinition{ContainerDefinitions: []etypes.ContainerDefinition{{
		Name:    aws.String("producer"),
		Secrets: []etypes.Secret{{Name: aws.String("AUTH_TOKEN"), ValueFrom: aws.String("arn:aws:ssm:us-east-1:1:parameter/t")}},
	}}}
	task, err := FromTaskDefinition(td)
	if err != nil {
		t.Fatal(err)
	}
	if want := []Secret{{"AUTH_TOKEN", "arn:aws:ssm:us-east-1:1:parameter/t"}}; !slices.Equal(task.Secrets, want) {
		t.Errorf("Secrets %v, want %v", task.Secrets, want)
	}
	if _, ok := task.Env["AUTH_TOKEN"]; ok {
		t.Error("a secret became a plain environment variable")
	}
}

// staticSecrets answers GetSecretValue with one JSON document and records the
// secret id asked for.
type staticSecrets struct{ asked []string }

func (s *staticSecrets) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	s.asked = append(s.asked, aws.ToString(in.SecretId))
	return &secretsmanager.GetSecretValueOutput{SecretString: aws.String(`{"a":"x"}`)}, nil
}

func TestResolveRefusesWhatECSRefuses(t *testing.T) {
	const arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"
	for _, tc := range []struct{ valueFrom, want string }{
		{arn + ":missing::", `json key "missing" not in the secret`},
		{arn + ":a", "malformed secret ARN"},
		{"arn:aws:s3:::bucket/key", "not a Secrets Manager secret or SSM parameter ARN"},
		{"/plain/name", "no SSM client configured"},
	} {
		sm := &staticSecrets{}
		_, err := SecretResolver{SecretsManager: sm}.Resolve(context.Background(), []Secret{{"DB", tc.valueFrom}})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.valueFrom) || !strings.Contains(err.Error(), "DB") {
			t.Errorf("Resolve(%s): %v; want an error naming DB and the source, with %q", tc.valueFrom, err, tc.want)
		}
	}
	sm := &staticSecrets{}
	got, err := SecretResolver{SecretsManager: sm}.Resolve(context.Background(), []Secret{{"A", arn + ":a:AWSCURRENT:"}})
	if err != nil || got["A"] != "x" || !slices.Equal(sm.asked, []string{arn}) {
		t.Errorf("Resolve with a JSON key: %v, %v, asked %v; want x from %s", got, err, sm.asked, arn)
	}
}
