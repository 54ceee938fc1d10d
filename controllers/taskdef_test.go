package controllers

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	etypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
)

func unitSample() *streamingv1alpha1.StreamProcessor {
	return &streamingv1alpha1.StreamProcessor{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "clicks.v2"},
		Spec: streamingv1alpha1.StreamProcessorSpec{
			Stream: streamingv1alpha1.StreamSpec{MinShards: 1, MaxShards: 8},
			ECS: streamingv1alpha1.ECSSpec{
				Cluster: "c", Subnets: []string{"subnet-1"},
				ExecutionRoleARN: "arn:aws:iam::123456789012:role/exec", TaskRoleARN: "arn:aws:iam::123456789012:role/task",
			},
			Producer: streamingv1alpha1.ProducerSpec{
				WorkloadSpec:  streamingv1alpha1.WorkloadSpec{Image: "p:1", CPU: 512, Memory: 1024, MinTasks: 1, MaxTasks: 4, Env: []streamingv1alpha1.EnvVar{{Name: "LINGER", Value: "20ms"}}},
				ContainerPort: 8080,
			},
			Consumer: streamingv1alpha1.ConsumerSpec{WorkloadSpec: streamingv1alpha1.WorkloadSpec{Image: "c:1", CPU: 256, Memory: 512, MinTasks: 1, MaxTasks: 4}},
		},
	}
}

// registered turns a desired task definition into what ECS would return for
// it: same fields, environment in another order, defaults filled in.
func registered(sp *streamingv1alpha1.StreamProcessor, w workload) *etypes.TaskDefinition {
	in := taskDefinitionInput(sp, w)
	c := in.ContainerDefinitions[0]
	env := append([]etypes.KeyValuePair(nil), c.Environment...)
	for i, j := 0, len(env)-1; i < j; i, j = i+1, j-1 {
		env[i], env[j] = env[j], env[i]
	}
	c.Environment = env
	c.Secrets = slices.Clone(c.Secrets)
	slices.Reverse(c.Secrets)
	c.Cpu = 0
	for i := range c.PortMappings {
		c.PortMappings[i].Protocol = ""
		c.PortMappings[i].HostPort = c.PortMappings[i].ContainerPort
	}
	return &etypes.TaskDefinition{
		Family: in.Family, Cpu: in.Cpu, Memory: in.Memory, NetworkMode: in.NetworkMode,
		RequiresCompatibilities: in.RequiresCompatibilities, ExecutionRoleArn: in.ExecutionRoleArn, TaskRoleArn: in.TaskRoleArn,
		ContainerDefinitions: []etypes.ContainerDefinition{c}, Revision: 3, Status: etypes.TaskDefinitionStatusActive,
		TaskDefinitionArn: aws.String("arn:aws:ecs:us-east-1:123456789012:task-definition/x:3"),
	}
}

func TestTaskDefinitionInput(t *testing.T) {
	sp := unitSample()
	in := taskDefinitionInput(sp, producerWorkload(sp, "eu-west-1"))
	if got := aws.ToString(in.Family); got != "team-clicks-v2-98975f83-producer" {
		t.Errorf("family = %q", got)
	}
	if tags := ecsTagMap(in.Tags); tags[TagOwnerNamespace] != "team" || tags[TagOwnerName] != "clicks.v2" || tags[TagManagedBy] != managedByValue {
		t.Errorf("task definition tags = %v, want the owner tags", tags)
	}
	if got := aws.ToString(in.Family); strings.Contains(got, ".") {
		t.Errorf("family %q contains '.', which ECS refuses", got)
	}
	env := map[string]string{}
	for _, kv := range in.ContainerDefinitions[0].Environment {
		env[aws.ToString(kv.Name)] = aws.ToString(kv.Value)
	}
	for k, v := range map[string]string{"STREAM_NAME": "team-clicks.v2-98975f83", "AWS_REGION": "eu-west-1", "PORT": "8080", "LINGER": "20ms"} {
		if env[k] != v {
			t.Errorf("env %s = %q, want %q", k, env[k], v)
		}
	}
	if aws.ToString(in.Cpu) != "512" || aws.ToString(in.Memory) != "1024" || in.NetworkMode != etypes.NetworkModeAwsvpc {
		t.Errorf("cpu/memory/network = %s/%s/%s", aws.ToString(in.Cpu), aws.ToString(in.Memory), in.NetworkMode)
	}
	if pm := in.ContainerDefinitions[0].PortMappings; len(pm) != 1 || aws.ToInt32(pm[0].ContainerPort) != 8080 {
		t.Errorf("port mappings = %+v", pm)
	}
	cin := taskDefinitionInput(sp, consumerWorkload(sp, "eu-west-1"))
	if len(cin.ContainerDefinitions[0].PortMappings) != 0 {
		t.Errorf("consumer has port mappings")
	}
}

func TestTaskDefinitionDiff(t *testing.T) {
	tests := []struct {
		name   string
		change func(*streamingv1alpha1.StreamProcessor)
		want   string // "" = no new revision
	}{
		{"unchanged", func(*streamingv1alpha1.StreamProcessor) {}, ""},
		{"task counts do not matter", func(s *streamingv1alpha1.StreamProcessor) { s.Spec.Producer.MaxTasks = 9 }, ""},
		{"image", func(s *streamingv1alpha1.StreamProcessor) { s.Spec.Producer.Image = "p:2" }, "image"},
		{"cpu", func(s *streamingv1alpha1.StreamProcessor) { s.Spec.Producer.CPU = 1024 }, "cpu 512, want 1024"},
		{"memory", func(s *streamingv1alpha1.StreamProcessor) { s.Spec.Producer.Memory = 2048 }, "memory 1024, want 2048"},
		{"env value", func(s *streamingv1alpha1.StreamProcessor) { s.Spec.Producer.Env[0].Value = "50ms" }, "environment differs"},
		{"env added", func(s *streamingv1alpha1.StreamProcessor) {
			s.Spec.Producer.Env = append(s.Spec.Producer.Env, streamingv1alpha1.EnvVar{Name: "X", Value: "1"})
		}, "environment differs"},
		{"port", func(s *streamingv1alpha1.StreamProcessor) { s.Spec.Producer.ContainerPort = 9090 }, "port mappings differ"},
		{"task role", func(s *streamingv1alpha1.StreamProcessor) { s.Spec.ECS.TaskRoleARN = "" }, "task role"},
		{"execution role", func(s *streamingv1alpha1.StreamProcessor) {
			s.Spec.ECS.ExecutionRoleARN = "arn:aws:iam::123456789012:role/other"
		}, "execution role"},
		{"producer's own task role", func(s *streamingv1alpha1.StreamProcessor) {
			s.Spec.Producer.TaskRoleARN = "arn:aws:iam::123456789012:role/producer"
		}, `task role "arn:aws:iam::123456789012:role/task", want "arn:aws:iam::123456789012:role/producer"`},
		{"consumer's task role does not touch the producer", func(s *streamingv1alpha1.StreamProcessor) {
			s.Spec.Consumer.TaskRoleARN = "arn:aws:iam::123456789012:role/consumer"
		}, ""},
		{"secret source", func(s *streamingv1alpha1.StreamProcessor) { s.Spec.Producer.Secrets[0].ValueFrom = ssmParam }, "secrets differ"},
		{"secret added", func(s *streamingv1alpha1.StreamProcessor) {
			s.Spec.Producer.Secrets = append(s.Spec.Producer.Secrets, streamingv1alpha1.SecretVar{Name: "DB_PASSWORD", ValueFrom: ssmParam})
		}, "secrets differ"},
		{"secret removed", func(s *streamingv1alpha1.StreamProcessor) { s.Spec.Producer.Secrets = nil }, "secrets differ"},
		{"logs added", func(s *streamingv1alpha1.StreamProcessor) { s.Spec.Logs = &streamingv1alpha1.LogsSpec{Group: "team-a"} }, "log configuration differs"},
		{"memory changes TASK_MEMORY_MIB too", func(s *streamingv1alpha1.StreamProcessor) {
			have := taskDefinitionInput(s, producerWorkload(s, "us-east-1"))
			s.Spec.Producer.Memory = 2048
			want := taskDefinitionInput(s, producerWorkload(s, "us-east-1"))
			if d := containerDiff(&want.ContainerDefinitions[0], &have.ContainerDefinitions[0]); !strings.Contains(d, "environment differs") {
				t.Errorf("a new memory size must change the environment (TASK_MEMORY_MIB), diff %q", d)
			}
		}, "memory 1024, want 2048"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sp := unitSample()
			sp.Spec.Producer.Secrets = []streamingv1alpha1.SecretVar{{Name: "AUTH_TOKEN", ValueFrom: smSecret}}
			have := registered(sp, producerWorkload(sp, "us-east-1"))
			tt.change(sp)
			got := taskDefinitionDiff(taskDefinitionInput(sp, producerWorkload(sp, "us-east-1")), have)
			if (got == "") != (tt.want == "") || !strings.Contains(got, tt.want) {
				t.Errorf("diff = %q, want %q", got, tt.want)
			}
		})
	}
	if got := taskDefinitionDiff(taskDefinitionInput(unitSample(), producerWorkload(unitSample(), "r")), nil); got == "" {
		t.Error("no registered task definition must need one")
	}
}

func TestPausedTargetsAreTheCurrentCounts(t *testing.T) {
	sp := unitSample()
	sp.Spec.Stream.MinShards, sp.Spec.Stream.MaxShards = 8, 16
	// Observed in this pass: 3 open shards, the producer at 7, no consumer
	// yet. Status from an earlier pass says otherwise and must not count.
	sp.Status.Stream.OpenShards = 5
	sp.Status.Producer = streamingv1alpha1.ServiceStatus{ServiceARN: "arn:p", DesiredTasks: 4, TargetTasks: 3}
	got, reason := pausedTargets(sp, 3, map[string]serviceObservation{
		producer: {svc: &etypes.Service{DesiredCount: 7, RunningCount: 6}},
	})
	// Outside the new bounds and away from the old target: nothing moves.
	if want := (Targets{3, 7, 1}); got != want {
		t.Errorf("paused targets = %+v, want %+v", got, want)
	}
	if !strings.Contains(reason, "paused") {
		t.Errorf("reason %q does not say paused", reason)
	}
}

func TestCurrentTargetIgnoresHandEdits(t *testing.T) {
	if got := currentTarget(streamingv1alpha1.ServiceStatus{}, 2); got != 2 {
		t.Errorf("before the service exists: %d, want the minimum 2", got)
	}
	if got := currentTarget(streamingv1alpha1.ServiceStatus{ServiceARN: "arn", DesiredTasks: 9, TargetTasks: 3}, 1); got != 3 {
		t.Errorf("with a hand-edited desiredCount 9: %d, want the operator's target 3", got)
	}
}

func TestSameKMSKey(t *testing.T) {
	tests := []struct {
		have, want string
		same       bool
	}{
		{"alias/aws/kinesis", "alias/aws/kinesis", true},
		{"arn:aws:kms:us-east-1:123456789012:alias/aws/kinesis", "alias/aws/kinesis", true},
		{"arn:aws:kms:us-east-1:123456789012:key/abc", "alias/aws/kinesis", false},
		{"", "alias/aws/kinesis", false},
	}
	for _, tt := range tests {
		if got := sameKMSKey(tt.have, tt.want); got != tt.same {
			t.Errorf("sameKMSKey(%q, %q) = %v", tt.have, tt.want, got)
		}
	}
}

func TestServiceNames(t *testing.T) {
	sp := unitSample()
	if got := streamName(sp); got != "team-clicks.v2-98975f83" {
		t.Errorf("stream name = %q", got)
	}
	if got := serviceName(sp, producer); got != "team-clicks-v2-98975f83-producer" {
		t.Errorf("service name = %q", got)
	}
	// An explicit stream name names the stream only: services and the lease
	// table stay the object's, so two objects naming one stream never share them.
	sp.Spec.Stream.Name = "explicit"
	if got := streamName(sp); got != "explicit" {
		t.Errorf("stream name = %q", got)
	}
	if got := applicationName(sp); got != "team-clicks-v2-98975f83-consumer" {
		t.Errorf("application name = %q", got)
	}
}

func TestTaskDefinitionRevision(t *testing.T) {
	tests := []struct {
		arn    string
		family string
		rev    int
		ok     bool
	}{
		{"arn:aws:ecs:us-east-1:123456789012:task-definition/ns-a-1234abcd-producer:12", "ns-a-1234abcd-producer", 12, true},
		{"arn:aws:ecs:us-east-1:123456789012:task-definition/x:y", "", 0, false},
		{"arn:aws:ecs:us-east-1:123456789012:service/c/x", "", 0, false},
	}
	for _, tt := range tests {
		f, rev, ok := taskDefinitionRevision(tt.arn)
		if f != tt.family || rev != tt.rev || ok != tt.ok {
			t.Errorf("taskDefinitionRevision(%q) = %q, %d, %v; want %q, %d, %v", tt.arn, f, rev, ok, tt.family, tt.rev, tt.ok)
		}
	}
}

const (
	smSecret = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:team/auth-token-AbCdEf"
	ssmParam = "arn:aws:ssm:eu-west-1:123456789012:parameter/team/db-password"
)

// TestTaskDefinitionRolesSecretsAndMemory: each workload gets its own task
// role when the spec names one and spec.ecs.taskRoleArn otherwise; secrets
// become the container's secrets, never its environment; both workloads are
// told their task memory.
func TestTaskDefinitionRolesSecretsAndMemory(t *testing.T) {
	sp := unitSample()
	sp.Spec.Producer.TaskRoleARN = "arn:aws:iam::123456789012:role/producer"
	sp.Spec.Producer.Secrets = []streamingv1alpha1.SecretVar{{Name: "AUTH_TOKEN", ValueFrom: smSecret}, {Name: "DB_PASSWORD", ValueFrom: ssmParam}}
	// A reserved name (the CRD refuses it; an object stored before that rule) stays the operator's.
	sp.Spec.Consumer.Secrets = []streamingv1alpha1.SecretVar{{Name: "STREAM_NAME", ValueFrom: ssmParam}}

	pin := taskDefinitionInput(sp, producerWorkload(sp, "eu-west-1"))
	cin := taskDefinitionInput(sp, consumerWorkload(sp, "eu-west-1"))
	if got := aws.ToString(pin.TaskRoleArn); got != "arn:aws:iam::123456789012:role/producer" {
		t.Errorf("producer task role = %q, want its own", got)
	}
	if got := aws.ToString(cin.TaskRoleArn); got != "arn:aws:iam::123456789012:role/task" {
		t.Errorf("consumer task role = %q, want spec.ecs.taskRoleArn", got)
	}
	sp.Spec.ECS.TaskRoleARN = ""
	if got := taskDefinitionInput(sp, consumerWorkload(sp, "eu-west-1")).TaskRoleArn; got != nil {
		t.Errorf("consumer task role = %q with none in the spec, want none", aws.ToString(got))
	}

	pc, cc := pin.ContainerDefinitions[0], cin.ContainerDefinitions[0]
	secrets := map[string]string{}
	for _, s := range pc.Secrets {
		secrets[aws.ToString(s.Name)] = aws.ToString(s.ValueFrom)
	}
	if len(secrets) != 2 || secrets["AUTH_TOKEN"] != smSecret || secrets["DB_PASSWORD"] != ssmParam {
		t.Errorf("producer secrets = %v", secrets)
	}
	if len(cc.Secrets) != 0 {
		t.Errorf("consumer secrets = %+v, want the reserved STREAM_NAME left out", cc.Secrets)
	}
	envOf := func(c etypes.ContainerDefinition) map[string]string {
		env := map[string]string{}
		for _, kv := range c.Environment {
			env[aws.ToString(kv.Name)] = aws.ToString(kv.Value)
		}
		return env
	}
	penv, cenv := envOf(pc), envOf(cc)
	if _, ok := penv["AUTH_TOKEN"]; ok {
		t.Error("a secret is in the producer's environment in clear")
	}
	if penv["TASK_MEMORY_MIB"] != "1024" || cenv["TASK_MEMORY_MIB"] != "512" {
		t.Errorf("TASK_MEMORY_MIB = %q (producer), %q (consumer); want 1024, 512", penv["TASK_MEMORY_MIB"], cenv["TASK_MEMORY_MIB"])
	}
	if cenv["STREAM_NAME"] != streamName(sp) {
		t.Errorf("consumer STREAM_NAME = %q", cenv["STREAM_NAME"])
	}
}

func TestTaskDefinitionLogs(t *testing.T) {
	sp := unitSample()
	role := sp.Spec.ECS.ExecutionRoleARN
	sp.Spec.ECS.ExecutionRoleARN = ""
	for _, w := range []workload{producerWorkload(sp, "eu-west-1"), consumerWorkload(sp, "eu-west-1")} {
		if lc := taskDefinitionInput(sp, w).ContainerDefinitions[0].LogConfiguration; lc != nil {
			t.Errorf("%s: log configuration %+v without an execution role, want none", w.name, lc)
		}
	}
	sp.Spec.ECS.ExecutionRoleARN = role
	sp.Spec.Logs = &streamingv1alpha1.LogsSpec{Group: "/kdp/team-a"}
	for _, w := range []workload{producerWorkload(sp, "eu-west-1"), consumerWorkload(sp, "eu-west-1")} {
		lc := taskDefinitionInput(sp, w).ContainerDefinitions[0].LogConfiguration
		want := map[string]string{"awslogs-group": "/kdp/team-a", "awslogs-region": "eu-west-1", "awslogs-stream-prefix": w.name}
		if lc == nil || lc.LogDriver != etypes.LogDriverAwslogs || !maps.Equal(lc.Options, want) {
			t.Errorf("%s: log configuration %+v, want awslogs with %v", w.name, lc, want)
		}
	}
	// Another group is a new revision; the same one is not.
	have := registered(sp, consumerWorkload(sp, "eu-west-1"))
	if d := taskDefinitionDiff(taskDefinitionInput(sp, consumerWorkload(sp, "eu-west-1")), have); d != "" {
		t.Errorf("same logs: diff %q, want none", d)
	}
	sp.Spec.Logs.Group = "/kdp/team-b"
	if d := taskDefinitionDiff(taskDefinitionInput(sp, consumerWorkload(sp, "eu-west-1")), have); !strings.Contains(d, "log configuration differs") {
		t.Errorf("new group: diff %q, want the log configuration to differ", d)
	}
}

// TestTaskDefinitionProcessor: spec.consumer.processor becomes the consumer's
// PROCESSOR_COMMAND and PROPERTIES_FILE, never the producer's; without it the
// consumer runs the built-in mode; changing it is a new revision.
func TestTaskDefinitionProcessor(t *testing.T) {
	envOf := func(sp *streamingv1alpha1.StreamProcessor, w workload) map[string]string {
		env := map[string]string{}
		for _, kv := range taskDefinitionInput(sp, w).ContainerDefinitions[0].Environment {
			env[aws.ToString(kv.Name)] = aws.ToString(kv.Value)
		}
		return env
	}
	tests := []struct {
		name      string
		processor *streamingv1alpha1.ProcessorSpec
		env       []streamingv1alpha1.EnvVar // spec.consumer.env, e.g. stored before the CRD rule
		want      map[string]string          // "" = absent
	}{
		{"none: built-in mode", nil, nil, map[string]string{"PROCESSOR_COMMAND": "", "PROPERTIES_FILE": ""}},
		{"command", &streamingv1alpha1.ProcessorSpec{Command: "python3 /app/app.py --verbose"}, nil,
			map[string]string{"PROCESSOR_COMMAND": "python3 /app/app.py --verbose", "PROPERTIES_FILE": ""}},
		{"command and properties", &streamingv1alpha1.ProcessorSpec{Command: "/app/record_processor.py", PropertiesFile: "/app/sample.properties"}, nil,
			map[string]string{"PROCESSOR_COMMAND": "/app/record_processor.py", "PROPERTIES_FILE": "/app/sample.properties"}},
		{"properties alone: executableName is the command", &streamingv1alpha1.ProcessorSpec{PropertiesFile: "/app/sample.properties"}, nil,
			map[string]string{"PROCESSOR_COMMAND": "", "PROPERTIES_FILE": "/app/sample.properties"}},
		{"env without processor: kept as the user's", nil, []streamingv1alpha1.EnvVar{{Name: "PROCESSOR_COMMAND", Value: "/bin/p"}},
			map[string]string{"PROCESSOR_COMMAND": "/bin/p"}},
		{"processor wins over the same name in env", &streamingv1alpha1.ProcessorSpec{Command: "/app/p.py"},
			[]streamingv1alpha1.EnvVar{{Name: "PROCESSOR_COMMAND", Value: "/bin/other"}},
			map[string]string{"PROCESSOR_COMMAND": "/app/p.py"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sp := unitSample()
			sp.Spec.Consumer.Processor, sp.Spec.Consumer.Env = tt.processor, tt.env
			cenv := envOf(sp, consumerWorkload(sp, "eu-west-1"))
			for k, v := range tt.want {
				if got, ok := cenv[k]; got != v || ok != (v != "") {
					t.Errorf("consumer %s = %q (set %v), want %q", k, got, ok, v)
				}
			}
			if n := len(taskDefinitionInput(sp, consumerWorkload(sp, "eu-west-1")).ContainerDefinitions[0].Environment); n != len(cenv) {
				t.Errorf("consumer environment has %d entries for %d names: a variable is set twice", n, len(cenv))
			}
			penv := envOf(sp, producerWorkload(sp, "eu-west-1"))
			if _, ok := penv["PROCESSOR_COMMAND"]; ok {
				t.Error("the producer got PROCESSOR_COMMAND")
			}
		})
	}
	sp := unitSample()
	have := registered(sp, consumerWorkload(sp, "eu-west-1"))
	sp.Spec.Consumer.Processor = &streamingv1alpha1.ProcessorSpec{Command: "/app/record_processor.py"}
	if d := taskDefinitionDiff(taskDefinitionInput(sp, consumerWorkload(sp, "eu-west-1")), have); !strings.Contains(d, "environment differs") {
		t.Errorf("processor added: diff %q, want the environment to differ", d)
	}
	have = registered(sp, consumerWorkload(sp, "eu-west-1"))
	if d := taskDefinitionDiff(taskDefinitionInput(sp, consumerWorkload(sp, "eu-west-1")), have); d != "" {
		t.Errorf("same processor: diff %q, want none", d)
	}
}
