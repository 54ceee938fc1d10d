package controllers

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
)

// TestAPIServerRefusesInvalidSpecs creates invalid StreamProcessors against
// the real API server with the generated CRD: each must be refused with a
// message that names the field and says what to fix.
func TestAPIServerRefusesInvalidSpecs(t *testing.T) {
	requireSuite(t)
	ns := newNamespace(t)
	tests := []struct {
		name   string
		change func(*streamingv1alpha1.StreamProcessor)
		want   string
	}{
		{"min shards above max", func(s *streamingv1alpha1.StreamProcessor) { s.Spec.Stream.MinShards, s.Spec.Stream.MaxShards = 8, 4 },
			"stream.minShards must be less than or equal to stream.maxShards"},
		{"too many shards", func(s *streamingv1alpha1.StreamProcessor) { s.Spec.Stream.MaxShards = 10001 },
			"spec.stream.maxShards: Invalid value: 10001: spec.stream.maxShards in body should be less than or equal to 10000"},
		{"zero shards", func(s *streamingv1alpha1.StreamProcessor) { s.Spec.Stream.MinShards = -1 },
			"spec.stream.minShards in body should be greater than or equal to 1"},
		{"negative tasks", func(s *streamingv1alpha1.StreamProcessor) { s.Spec.Consumer.MinTasks = -1 },
			"spec.consumer.minTasks in body should be greater than or equal to 0"},
		{"producer min above max", func(s *streamingv1alpha1.StreamProcessor) { s.Spec.Producer.MinTasks, s.Spec.Producer.MaxTasks = 5, 2 },
			"producer.minTasks must be less than or equal to producer.maxTasks"},
		{"consumer min above max", func(s *streamingv1alpha1.StreamProcessor) { s.Spec.Consumer.MinTasks, s.Spec.Consumer.MaxTasks = 5, 2 },
			"consumer.minTasks must be less than or equal to consumer.maxTasks"},
		{"missing image", func(s *streamingv1alpha1.StreamProcessor) { s.Spec.Producer.Image = "" },
			"spec.producer.image"},
		{"missing cluster", func(s *streamingv1alpha1.StreamProcessor) { s.Spec.ECS.Cluster = "" },
			"spec.ecs.cluster"},
		{"no subnets", func(s *streamingv1alpha1.StreamProcessor) { s.Spec.ECS.Subnets = nil },
			"spec.ecs.subnets: Required value"},
		{"malformed subnet", func(s *streamingv1alpha1.StreamProcessor) { s.Spec.ECS.Subnets = []string{"10.0.0.0/24"} },
			"spec.ecs.subnets[0] in body should match '^subnet-[0-9a-f]+$'"},
		{"memory not a Fargate size", func(s *streamingv1alpha1.StreamProcessor) { s.Spec.Consumer.CPU, s.Spec.Consumer.Memory = 256, 4096 },
			"consumer.memory is not a Fargate size for consumer.cpu"},
		{"cpu not a Fargate size", func(s *streamingv1alpha1.StreamProcessor) { s.Spec.Producer.CPU = 300 },
			"spec.producer.cpu: Unsupported value: 300"},
		{"reserved env", func(s *streamingv1alpha1.StreamProcessor) {
			s.Spec.Producer.Env = []streamingv1alpha1.EnvVar{{Name: "STREAM_NAME", Value: "other"}}
		}, "STREAM_NAME, APPLICATION_NAME, AWS_REGION and TASK_MEMORY_MIB are set by the operator; remove them from env"},
		{"TASK_MEMORY_MIB in env", func(s *streamingv1alpha1.StreamProcessor) {
			s.Spec.Consumer.Env = []streamingv1alpha1.EnvVar{{Name: "TASK_MEMORY_MIB", Value: "64"}}
		}, "spec.consumer.env[0].name: Invalid value: \"TASK_MEMORY_MIB\": STREAM_NAME, APPLICATION_NAME, AWS_REGION and TASK_MEMORY_MIB are set by the operator"},
		{"producer task role not an ARN", func(s *streamingv1alpha1.StreamProcessor) { s.Spec.Producer.TaskRoleARN = "producer-role" },
			"spec.producer.taskRoleArn: Invalid value: \"producer-role\": taskRoleArn must be an IAM role ARN: arn:aws:iam::<12-digit account id>:role/<name>"},
		{"consumer task role of a user", func(s *streamingv1alpha1.StreamProcessor) {
			s.Spec.Consumer.TaskRoleARN = "arn:aws:iam::123456789012:user/consumer"
		}, "spec.consumer.taskRoleArn: Invalid value: \"arn:aws:iam::123456789012:user/consumer\": taskRoleArn must be an IAM role ARN"},
		{"secret from a plain value", func(s *streamingv1alpha1.StreamProcessor) {
			s.Spec.Producer.Secrets = []streamingv1alpha1.SecretVar{{Name: "AUTH_TOKEN", ValueFrom: "hunter2"}}
		}, "spec.producer.secrets[0].valueFrom: Invalid value: \"hunter2\": valueFrom must be the ARN of a Secrets Manager secret"},
		{"secret from an S3 object", func(s *streamingv1alpha1.StreamProcessor) {
			s.Spec.Consumer.Secrets = []streamingv1alpha1.SecretVar{{Name: "AUTH_TOKEN", ValueFrom: "arn:aws:s3:::bucket/token"}}
		}, "or of an SSM parameter (arn:aws:ssm:<region>:<account>:parameter/<name>)"},
		{"secret also in env", func(s *streamingv1alpha1.StreamProcessor) {
			s.Spec.Producer.Env = []streamingv1alpha1.EnvVar{{Name: "AUTH_TOKEN", Value: "x"}}
			s.Spec.Producer.Secrets = []streamingv1alpha1.SecretVar{{Name: "AUTH_TOKEN", ValueFrom: "arn:aws:ssm:us-east-1:123456789012:parameter/auth"}}
		}, "producer: a name in secrets may not also be in env"},
		{"secret with a reserved name", func(s *streamingv1alpha1.StreamProcessor) {
			s.Spec.Consumer.Secrets = []streamingv1alpha1.SecretVar{{Name: "AWS_REGION", ValueFrom: "arn:aws:ssm:us-east-1:123456789012:parameter/r"}}
		}, "are set by the operator; remove them from secrets"},
		{"secret twice", func(s *streamingv1alpha1.StreamProcessor) {
			v := "arn:aws:ssm:us-east-1:123456789012:parameter/a"
			s.Spec.Consumer.Secrets = []streamingv1alpha1.SecretVar{{Name: "A", ValueFrom: v}, {Name: "A", ValueFrom: v}}
		}, "spec.consumer.secrets[1]: Duplicate value"},
		{"secrets without an execution role", func(s *streamingv1alpha1.StreamProcessor) {
			s.Spec.ECS.ExecutionRoleARN = ""
			s.Spec.Consumer.Secrets = []streamingv1alpha1.SecretVar{{Name: "A", ValueFrom: "arn:aws:ssm:us-east-1:123456789012:parameter/a"}}
		}, "producer.secrets and consumer.secrets need spec.ecs.executionRoleArn"},
		{"logs without an execution role", func(s *streamingv1alpha1.StreamProcessor) {
			s.Spec.ECS.ExecutionRoleARN = ""
			s.Spec.Logs = &streamingv1alpha1.LogsSpec{Group: "team-a"}
		}, "spec.logs needs spec.ecs.executionRoleArn: the awslogs driver writes with the task execution role"},
		{"bad log group name", func(s *streamingv1alpha1.StreamProcessor) { s.Spec.Logs = &streamingv1alpha1.LogsSpec{Group: "team a"} },
			"logs.group must be a CloudWatch Logs group name"},
		{"log retention CloudWatch Logs does not accept", func(s *streamingv1alpha1.StreamProcessor) {
			s.Spec.Logs = &streamingv1alpha1.LogsSpec{RetentionDays: 8}
		},
			"spec.logs.retentionDays: Unsupported value: 8"},
		{"log retention for the user's group", func(s *streamingv1alpha1.StreamProcessor) {
			s.Spec.Logs = &streamingv1alpha1.LogsSpec{Group: "team-a", RetentionDays: 14}
		}, "logs.retentionDays is the retention of the log group the operator creates"},
		{"processor with neither command nor properties", func(s *streamingv1alpha1.StreamProcessor) {
			s.Spec.Consumer.Processor = &streamingv1alpha1.ProcessorSpec{}
		}, "consumer.processor needs command or propertiesFile"},
		{"processor command starting blank", func(s *streamingv1alpha1.StreamProcessor) {
			s.Spec.Consumer.Processor = &streamingv1alpha1.ProcessorSpec{Command: " /app/p.py"}
		}, "spec.consumer.processor.command: Invalid value: \" /app/p.py\": consumer.processor.command must be one line starting with the executable"},
		{"processor command on two lines", func(s *streamingv1alpha1.StreamProcessor) {
			s.Spec.Consumer.Processor = &streamingv1alpha1.ProcessorSpec{Command: "/app/p.py\n--x"}
		}, "consumer.processor.command must be one line"},
		{"processor properties file relative", func(s *streamingv1alpha1.StreamProcessor) {
			s.Spec.Consumer.Processor = &streamingv1alpha1.ProcessorSpec{PropertiesFile: "sample.properties"}
		}, "consumer.processor.propertiesFile must be an absolute path in the image"},
		{"processor and PROCESSOR_COMMAND in env", func(s *streamingv1alpha1.StreamProcessor) {
			s.Spec.Consumer.Processor = &streamingv1alpha1.ProcessorSpec{Command: "/app/p.py"}
			s.Spec.Consumer.Env = []streamingv1alpha1.EnvVar{{Name: "PROCESSOR_COMMAND", Value: "/app/q.py"}}
		}, "consumer: with processor, env and secrets may not set PROCESSOR_COMMAND or PROPERTIES_FILE"},
		{"processor and OUTPUT in env", func(s *streamingv1alpha1.StreamProcessor) {
			s.Spec.Consumer.Processor = &streamingv1alpha1.ProcessorSpec{Command: "/app/p.py"}
			s.Spec.Consumer.Env = []streamingv1alpha1.EnvVar{{Name: "OUTPUT", Value: "/tmp/x"}}
		}, "nor OUTPUT, DEAD_LETTER_FILE or DEAD_LETTER_STREAM (the processor handles records and their failures)"},
		{"processor and a dead-letter secret", func(s *streamingv1alpha1.StreamProcessor) {
			s.Spec.Consumer.Processor = &streamingv1alpha1.ProcessorSpec{Command: "/app/p.py"}
			s.Spec.Consumer.Secrets = []streamingv1alpha1.SecretVar{{Name: "DEAD_LETTER_STREAM", ValueFrom: "arn:aws:ssm:us-east-1:123456789012:parameter/d"}}
		}, "consumer: with processor, env and secrets may not set"},
		{"bad stream name", func(s *streamingv1alpha1.StreamProcessor) { s.Spec.Stream.Name = "has space" },
			"spec.stream.name in body should match"},
		{"retention below a day", func(s *streamingv1alpha1.StreamProcessor) { s.Spec.Stream.RetentionHours = 12 },
			"spec.stream.retentionHours in body should be greater than or equal to 24"},
		{"bad deletion policy", func(s *streamingv1alpha1.StreamProcessor) { s.Spec.Stream.DeletionPolicy = "Orphan" },
			`spec.stream.deletionPolicy: Unsupported value: "Orphan": supported values: "Retain", "Delete"`},
		{"bad role ARN", func(s *streamingv1alpha1.StreamProcessor) { s.Spec.ECS.TaskRoleARN = "task-role" },
			"spec.ecs.taskRoleArn in body should match"},
		{"operator's tag key", func(s *streamingv1alpha1.StreamProcessor) {
			s.Spec.Stream.Tags = map[string]streamingv1alpha1.TagValue{TagOwnerUID: "x"}
		},
			"stream.tags keys may not start with kdp.io/"},
		{"image longer than ECS allows", func(s *streamingv1alpha1.StreamProcessor) {
			s.Spec.Consumer.Image = "example.com/" + strings.Repeat("i", 250)
		},
			"spec.consumer.image: Too long: may not be more than 255"},
		{"tag value longer than Kinesis allows", func(s *streamingv1alpha1.StreamProcessor) {
			s.Spec.Stream.Tags = map[string]streamingv1alpha1.TagValue{"team": streamingv1alpha1.TagValue(strings.Repeat("v", 257))}
		},
			"spec.stream.tags.team: Too long: may not be more than 256 bytes"},
		{"aws tag key", func(s *streamingv1alpha1.StreamProcessor) {
			s.Spec.Stream.Tags = map[string]streamingv1alpha1.TagValue{"aws:cloudformation:stack-name": "x"}
		},
			"or aws: (reserved by AWS)"},
		{"tag key longer than Kinesis allows", func(s *streamingv1alpha1.StreamProcessor) {
			s.Spec.Stream.Tags = map[string]streamingv1alpha1.TagValue{strings.Repeat("k", 129): "x"}
		}, "Kinesis allows keys of 1 to 128 characters"},
		{"tag value character Kinesis refuses", func(s *streamingv1alpha1.StreamProcessor) {
			s.Spec.Stream.Tags = map[string]streamingv1alpha1.TagValue{"team": "a!b"}
		},
			`spec.stream.tags.team in body should match`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			sp := sample(ns, "invalid")
			tt.change(sp)
			err := suite.k8s.Create(context.Background(), sp)
			g.Expect(err).To(HaveOccurred(), "the API server accepted an invalid spec")
			g.Expect(err.Error()).To(ContainSubstring(tt.want))
		})
	}
}

// TestAPIServerAcceptsKinesisTagCharacters: letters of any script, digits,
// spaces and every symbol Kinesis allows pass the tag value pattern.
func TestAPIServerAcceptsKinesisTagCharacters(t *testing.T) {
	requireSuite(t)
	g := NewWithT(t)
	sp := sample(newNamespace(t), "tags")
	sp.Spec.Stream.Tags = map[string]streamingv1alpha1.TagValue{"équipe données": "Zürich 2026", "a_b.c:d/e=f+g-h@i%j": "日本 123"}
	g.Expect(suite.k8s.Create(context.Background(), sp)).To(Succeed())
	g.Expect(suite.k8s.Delete(context.Background(), sp)).To(Succeed())
}

func TestStreamNameIsImmutable(t *testing.T) {
	requireSuite(t)
	g := NewWithT(t)
	sp := sample(newNamespace(t), "immutable")
	g.Expect(suite.k8s.Create(context.Background(), sp)).To(Succeed())
	sp.Spec.Stream.Name = "renamed"
	err := suite.k8s.Update(context.Background(), sp)
	g.Expect(err).To(HaveOccurred())
	g.Expect(err.Error()).To(ContainSubstring("stream.name is immutable"))

	// Defaults are applied by the API server.
	got := get(g, sp)
	g.Expect(got.Spec.Stream.TargetUtilizationPercent).To(Equal(int32(70)))
	g.Expect(got.Spec.Stream.Encryption.KMSKeyID).To(Equal("alias/aws/kinesis"))
	g.Expect(got.Spec.Producer.ContainerPort).To(Equal(int32(8080)))
	g.Expect(got.Spec.Consumer.MaxIteratorAgeSeconds).To(Equal(int32(60)))
	g.Expect(suite.k8s.Delete(context.Background(), got)).To(Succeed())
}

// TestRegionAndClusterAreImmutable: the API server refuses a change of
// spec.region (set, changed or removed) or spec.ecs.cluster, which would
// leave the old pipeline running unowned; other fields still change.
func TestRegionAndClusterAreImmutable(t *testing.T) {
	requireSuite(t)
	ns := newNamespace(t)
	tests := []struct {
		name          string
		before, after func(*streamingv1alpha1.StreamProcessor)
		want          string
	}{
		{"set region", func(*streamingv1alpha1.StreamProcessor) {}, func(s *streamingv1alpha1.StreamProcessor) { s.Spec.Region = "eu-west-1" }, "spec.region is immutable"},
		{"change region", func(s *streamingv1alpha1.StreamProcessor) { s.Spec.Region = "us-east-1" }, func(s *streamingv1alpha1.StreamProcessor) { s.Spec.Region = "eu-west-1" }, "spec.region is immutable"},
		{"remove region", func(s *streamingv1alpha1.StreamProcessor) { s.Spec.Region = "us-east-1" }, func(s *streamingv1alpha1.StreamProcessor) { s.Spec.Region = "" }, "spec.region is immutable"},
		{"change cluster", func(*streamingv1alpha1.StreamProcessor) {}, func(s *streamingv1alpha1.StreamProcessor) { s.Spec.ECS.Cluster = "other" }, "spec.ecs.cluster is immutable"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			sp := sample(ns, fmt.Sprintf("immutable-%d", i))
			tt.before(sp)
			g.Expect(suite.k8s.Create(context.Background(), sp)).To(Succeed())
			tt.after(sp)
			err := suite.k8s.Update(context.Background(), sp)
			g.Expect(err).To(HaveOccurred(), "the API server accepted the change")
			g.Expect(err.Error()).To(ContainSubstring(tt.want))

			got := get(g, sp)
			got.Spec.Producer.Image = "example.com/producer:2"
			g.Expect(suite.k8s.Update(context.Background(), got)).To(Succeed(), "other fields still change")
			g.Expect(suite.k8s.Delete(context.Background(), got)).To(Succeed())
		})
	}
}

// TestSamplesAreValid sends the shipped sample (and the README's example, which
// is the same spec) to the API server: documentation that the API refuses
// would be worse than none.
func TestSamplesAreValid(t *testing.T) {
	requireSuite(t)
	g := NewWithT(t)
	data, err := os.ReadFile(filepath.Join("..", "config", "samples", "streaming_v1alpha1_streamprocessor.yaml"))
	g.Expect(err).NotTo(HaveOccurred())
	sp := &streamingv1alpha1.StreamProcessor{}
	g.Expect(yaml.UnmarshalStrict(data, sp)).To(Succeed(), "the sample has fields the API does not know")
	ns := newNamespace(t)
	sp.Namespace = ns
	g.Expect(suite.k8s.Create(context.Background(), sp, client.DryRunAll)).To(Succeed())
	g.Expect(sp.Spec.Stream.Encryption.Type).To(Equal(streamingv1alpha1.EncryptionKMS))

	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	g.Expect(err).NotTo(HaveOccurred())
	_, rest, found := strings.Cut(string(readme), "```yaml\n")
	g.Expect(found).To(BeTrue(), "README has a yaml example")
	example, _, _ := strings.Cut(rest, "```")
	fromReadme := &streamingv1alpha1.StreamProcessor{}
	g.Expect(yaml.UnmarshalStrict([]byte(example), fromReadme)).To(Succeed(), "the README's example has fields the API does not know")
	fromReadme.Namespace = ns
	g.Expect(suite.k8s.Create(context.Background(), fromReadme, client.DryRunAll)).To(Succeed())

	data, err = os.ReadFile(filepath.Join("..", "config", "samples", "streaming_v1alpha1_streamprocessor_multilang.yaml"))
	g.Expect(err).NotTo(HaveOccurred())
	python := &streamingv1alpha1.StreamProcessor{}
	g.Expect(yaml.UnmarshalStrict(data, python)).To(Succeed(), "the MultiLang sample has fields the API does not know")
	python.Namespace = ns
	g.Expect(suite.k8s.Create(context.Background(), python, client.DryRunAll)).To(Succeed())
	g.Expect(python.Spec.Consumer.Processor).NotTo(BeNil(), "the MultiLang sample sets spec.consumer.processor")
}
