package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// StreamProcessorSpec is the desired pipeline: one Kinesis data stream and two
// ECS services on Fargate, a producer that writes into the stream and a consumer
// that reads it.
//
// +kubebuilder:validation:XValidation:rule="self.producer.minTasks <= self.producer.maxTasks",message="producer.minTasks must be less than or equal to producer.maxTasks"
// +kubebuilder:validation:XValidation:rule="self.consumer.minTasks <= self.consumer.maxTasks",message="consumer.minTasks must be less than or equal to consumer.maxTasks"
// +kubebuilder:validation:XValidation:rule="!has(self.logs) || has(self.ecs.executionRoleArn)",message="spec.logs needs spec.ecs.executionRoleArn: the awslogs driver writes with the task execution role"
// +kubebuilder:validation:XValidation:rule="(!has(self.producer.secrets) && !has(self.consumer.secrets)) || has(self.ecs.executionRoleArn)",message="producer.secrets and consumer.secrets need spec.ecs.executionRoleArn: ECS reads the secrets with the task execution role"
// +kubebuilder:validation:XValidation:rule="has(self.region) == has(oldSelf.region) && (!has(self.region) || self.region == oldSelf.region)",message="spec.region is immutable: the stream and the services stay in the region they were created in; to move the pipeline, create a new StreamProcessor in the new region and delete this one"
type StreamProcessorSpec struct {
	// Region is the AWS region of the stream and the services. Empty means the
	// operator's own region (AWS_REGION or its shared config). Immutable: a
	// change would leave the old pipeline running unowned.
	// +optional
	// +kubebuilder:validation:Pattern=`^[a-z]{2}(-[a-z]+)+-[0-9]+$`
	Region string `json:"region,omitempty"`

	// Stream configures the Kinesis data stream.
	// +kubebuilder:default={}
	Stream StreamSpec `json:"stream"`

	// ECS says where the producer and consumer tasks run.
	ECS ECSSpec `json:"ecs"`

	// Producer is the HTTP ingestion service that puts records into the stream.
	Producer ProducerSpec `json:"producer"`

	// Consumer is the service that reads and processes every record of the stream.
	Consumer ConsumerSpec `json:"consumer"`

	// Scaling controls how often and whether targets are recomputed.
	// +kubebuilder:default={}
	// +optional
	Scaling ScalingSpec `json:"scaling,omitempty"`

	// Logs says where the tasks' output goes. Both task definitions log with
	// the awslogs driver, which writes with the task execution role: with
	// spec.ecs.executionRoleArn and without logs.group, the operator creates
	// a log group of this object's own (status.logGroupName) and logs there;
	// with logs.group, there. Without an execution role nothing is
	// collected (the LogsReady condition says so), and spec.logs is refused.
	// +optional
	Logs *LogsSpec `json:"logs,omitempty"`
}

// LogsSpec sends both services' output to CloudWatch Logs with the awslogs
// driver, as the seed's task definitions do, in streams named
// producer/<container>/<task id> and consumer/<container>/<task id>.
// +kubebuilder:validation:XValidation:rule="!(has(self.group) && has(self.retentionDays))",message="logs.retentionDays is the retention of the log group the operator creates; with logs.group, set the retention of that group yourself"
type LogsSpec struct {
	// Group is an existing CloudWatch Logs group in the stream's region, for
	// example the prerequisites stack's LogGroup output, that the operator
	// logs to and never changes or deletes. Empty: the operator's own group.
	// The task execution role writes to it (logs:CreateLogStream and
	// logs:PutLogEvents on the group).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:XValidation:rule="self.matches('^[-._/#A-Za-z0-9]+$')",message="logs.group must be a CloudWatch Logs group name: 1 to 512 of the characters a-z A-Z 0-9 . - _ / #"
	// +optional
	Group string `json:"group,omitempty"`

	// RetentionDays is how long the log group the operator creates keeps
	// the tasks' output: one of the values CloudWatch Logs' PutRetentionPolicy
	// accepts. Default 7. A retention changed outside the operator is set
	// back.
	// +kubebuilder:validation:Enum=1;3;5;7;14;30;60;90;120;150;180;365;400;545;731;1096;1827;2192;2557;2922;3288;3653
	// +optional
	RetentionDays int32 `json:"retentionDays,omitempty"`
}

// TagValue is the value of a stream tag: at most 256 of the characters
// Kinesis allows in tags (letters of any script, digits, spaces and
// _ . : / = + - @ %).
// +kubebuilder:validation:MaxLength=256
// +kubebuilder:validation:Pattern=`^[\p{L}\p{Z}\p{N}_.:/=+@%-]*$`
type TagValue string

// DeletionPolicy says what happens to the stream when its StreamProcessor is deleted.
// +kubebuilder:validation:Enum=Retain;Delete
type DeletionPolicy string

const (
	// DeletionPolicyRetain keeps the stream and its data.
	DeletionPolicyRetain DeletionPolicy = "Retain"
	// DeletionPolicyDelete deletes the stream and its data.
	DeletionPolicyDelete DeletionPolicy = "Delete"
)

// StreamSpec configures the Kinesis data stream.
//
// +kubebuilder:validation:XValidation:rule="!has(self.minShards) || !has(self.maxShards) || self.minShards <= self.maxShards",message="stream.minShards must be less than or equal to stream.maxShards"
// +kubebuilder:validation:XValidation:rule="has(oldSelf.name) == has(self.name) && (!has(self.name) || self.name == oldSelf.name)",message="stream.name is immutable: it cannot be added, changed or removed after creation; create a new StreamProcessor for another stream"
type StreamSpec struct {
	// Name of the stream. Defaults to <namespace>-<name>-<hash>, where hash is
	// derived from the namespace and name, so that no two StreamProcessors get
	// the same default (shortened to fit Kinesis's 128 characters). The name
	// in use is recorded in status.stream.name. A stream of that name that
	// exists already is used only if it carries this StreamProcessor's owner
	// tags, or with adopt. Immutable.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:Pattern=`^[a-zA-Z0-9_.-]+$`
	Name string `json:"name,omitempty"`

	// Adopt takes over a stream of this name that exists already and was not
	// created by this StreamProcessor: one without owner tags, or one whose
	// owner tags name a StreamProcessor that no longer exists. The operator
	// then tags it as its own and converges its shards, retention,
	// encryption and tags; with deletionPolicy Delete an adopted stream is
	// deleted with this StreamProcessor like one it created. Without adopt
	// such a stream is refused (condition reason AdoptionRequired) and left
	// untouched. A stream owned by another existing StreamProcessor is never
	// taken over, adopt or not (reason OwnedByAnother).
	// +optional
	Adopt bool `json:"adopt,omitempty"`

	// CapacityMode is how the stream's capacity is managed and billed:
	// Provisioned (default) — the operator scales the shards; OnDemand —
	// Kinesis scales the stream, billed per GB, and the operator scales only
	// the tasks; Auto — the operator switches between the two when its cost
	// model, on the last day's and week's write load, finds the other mode
	// cheaper by a margin (status.cost says which and why). A stream is
	// created in the mode wanted and switched with UpdateStreamMode, which
	// AWS allows twice per rolling 24 hours per stream: a switch beyond that
	// waits (condition reason ModeSwitchBudgetSpent). minShards, maxShards
	// and targetUtilizationPercent apply in provisioned mode only.
	// +kubebuilder:default=Provisioned
	// +optional
	CapacityMode CapacityMode `json:"capacityMode,omitempty"`

	// MinShards is the fewest open shards the stream keeps.
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10000
	// +optional
	MinShards int32 `json:"minShards,omitempty"`

	// MaxShards is the most open shards the stream may have: a cost ceiling the
	// operator never exceeds.
	// +kubebuilder:default=16
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10000
	// +optional
	MaxShards int32 `json:"maxShards,omitempty"`

	// TargetUtilizationPercent is the share of a shard's write capacity
	// (1 MiB/s or 1000 records/s) the scaler aims for.
	// +kubebuilder:default=70
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	// +optional
	TargetUtilizationPercent int32 `json:"targetUtilizationPercent,omitempty"`

	// RetentionHours is how long records stay readable: 24 (one day) to 8760 (one year).
	// +kubebuilder:default=24
	// +kubebuilder:validation:Minimum=24
	// +kubebuilder:validation:Maximum=8760
	// +optional
	RetentionHours int32 `json:"retentionHours,omitempty"`

	// Encryption of the stream at rest. Defaults to KMS with the AWS managed key
	// alias/aws/kinesis.
	// +kubebuilder:default={}
	// +optional
	Encryption StreamEncryption `json:"encryption,omitempty"`

	// Tags to set on the stream. Tags the operator set earlier and that are no
	// longer listed are removed; tags set by others are left alone. At most
	// 40, so that with the operator's own 4 the stream stays within Kinesis's
	// 50.
	// +kubebuilder:validation:MaxProperties=40
	// +kubebuilder:validation:XValidation:rule="self.all(k, !k.startsWith('kdp.io/') && !k.startsWith('aws:'))",message="stream.tags keys may not start with kdp.io/ (the operator's owner tags) or aws: (reserved by AWS)"
	// +kubebuilder:validation:XValidation:rule="self.all(k, k.size() >= 1 && k.size() <= 128 && self[k].size() <= 256)",message="stream.tags: Kinesis allows keys of 1 to 128 characters and values of at most 256"
	// +optional
	Tags map[string]TagValue `json:"tags,omitempty"`

	// DeletionPolicy: Retain (default) keeps the stream when the StreamProcessor
	// is deleted; Delete deletes it with its data and the consumer's lease
	// table. Either way only what carries this StreamProcessor's owner tags
	// (its uid) is deleted.
	// +kubebuilder:default=Retain
	// +optional
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`
}

// CapacityMode is the stream's capacity mode as the spec asks for it.
// +kubebuilder:validation:Enum=Provisioned;OnDemand;Auto
type CapacityMode string

const (
	// CapacityProvisioned: shards, scaled by the operator.
	CapacityProvisioned CapacityMode = "Provisioned"
	// CapacityOnDemand: Kinesis on-demand; the operator scales the tasks only.
	CapacityOnDemand CapacityMode = "OnDemand"
	// CapacityAuto: whichever of the two the cost model finds cheaper.
	CapacityAuto CapacityMode = "Auto"
)

// EncryptionType is the stream's server-side encryption.
// +kubebuilder:validation:Enum=KMS;NONE
type EncryptionType string

const (
	// EncryptionKMS encrypts the stream with a KMS key.
	EncryptionKMS EncryptionType = "KMS"
	// EncryptionNone leaves the stream unencrypted.
	EncryptionNone EncryptionType = "NONE"
)

// StreamEncryption configures server-side encryption of the stream.
//
// +kubebuilder:validation:XValidation:rule="!has(self.type) || self.type == 'KMS' || !has(self.kmsKeyId) || self.kmsKeyId == 'alias/aws/kinesis'",message="encryption.kmsKeyId is only used with encryption.type KMS"
type StreamEncryption struct {
	// Type is KMS (default) or NONE.
	// +kubebuilder:default=KMS
	// +optional
	Type EncryptionType `json:"type,omitempty"`

	// KMSKeyID is the key's ARN, alias ARN, key id or alias name.
	// +kubebuilder:default="alias/aws/kinesis"
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	// +optional
	KMSKeyID string `json:"kmsKeyId,omitempty"`
}

// ECSSpec says where the tasks run: an ECS cluster and awsvpc networking.
//
// +kubebuilder:validation:XValidation:rule="self.cluster == oldSelf.cluster",message="spec.ecs.cluster is immutable: the services stay in the cluster they were created in; to move them, create a new StreamProcessor and delete this one"
type ECSSpec struct {
	// Cluster is the ECS cluster's name or ARN. Immutable.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	Cluster string `json:"cluster"`

	// Subnets for the tasks' network interfaces (awsvpc), at least one.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:Pattern=`^subnet-[0-9a-f]+$`
	// +listType=set
	Subnets []string `json:"subnets"`

	// SecurityGroups for the tasks; the VPC's default group when empty.
	// +kubebuilder:validation:MaxItems=5
	// +kubebuilder:validation:items:Pattern=`^sg-[0-9a-f]+$`
	// +listType=set
	// +optional
	SecurityGroups []string `json:"securityGroups,omitempty"`

	// AssignPublicIP gives each task a public IP (needed in public subnets
	// without a NAT gateway to pull images).
	// +optional
	AssignPublicIP bool `json:"assignPublicIp,omitempty"`

	// ExecutionRoleARN is the task execution role (image pulls, logs).
	// +kubebuilder:validation:Pattern=`^arn:aws[a-zA-Z-]*:iam::[0-9]{12}:role/.+$`
	// +optional
	ExecutionRoleARN string `json:"executionRoleArn,omitempty"`

	// TaskRoleARN is the role the producer and consumer use to call Kinesis,
	// DynamoDB and CloudWatch, unless producer.taskRoleArn or
	// consumer.taskRoleArn names one of their own.
	// +kubebuilder:validation:Pattern=`^arn:aws[a-zA-Z-]*:iam::[0-9]{12}:role/.+$`
	// +optional
	TaskRoleARN string `json:"taskRoleArn,omitempty"`
}

// WorkloadSpec is what the producer and the consumer have in common: one
// container on Fargate and the bounds of its task count.
type WorkloadSpec struct {
	// Image of the container (ECS allows at most 255 characters).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	Image string `json:"image"`

	// CPU units of a task (1024 = 1 vCPU): 256, 512, 1024, 2048, 4096, 8192 or 16384.
	// +kubebuilder:default=256
	// +kubebuilder:validation:Enum=256;512;1024;2048;4096;8192;16384
	// +optional
	CPU int32 `json:"cpu,omitempty"`

	// Memory of a task in MiB; must be a Fargate size allowed for CPU.
	// +kubebuilder:default=512
	// +kubebuilder:validation:Minimum=512
	// +kubebuilder:validation:Maximum=122880
	// +optional
	Memory int32 `json:"memory,omitempty"`

	// Env adds environment variables to the container.
	// +kubebuilder:validation:MaxItems=100
	// +listType=map
	// +listMapKey=name
	// +optional
	Env []EnvVar `json:"env,omitempty"`

	// Secrets are environment variables whose values ECS reads, when it
	// starts a task, from Secrets Manager or SSM Parameter Store (the task
	// definition's secrets): values such as AUTH_TOKEN then appear neither in
	// this spec nor in the task definition. ECS reads them with the task
	// execution role, so spec.ecs.executionRoleArn is required with them and
	// must allow secretsmanager:GetSecretValue or ssm:GetParameters (and
	// kms:Decrypt for a customer managed key); config/iam's execution role
	// does for names starting with its NamePrefix. A name may not be in env too.
	// +kubebuilder:validation:MaxItems=50
	// +listType=map
	// +listMapKey=name
	// +optional
	Secrets []SecretVar `json:"secrets,omitempty"`

	// TaskRoleARN is this workload's task role: the producer's needs only to
	// write the stream, the consumer's to read it and keep its lease table.
	// Empty means spec.ecs.taskRoleArn.
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="self.matches('^arn:aws[a-zA-Z-]*:iam::[0-9]{12}:role/.+$')",message="taskRoleArn must be an IAM role ARN: arn:aws:iam::<12-digit account id>:role/<name>"
	// +optional
	TaskRoleARN string `json:"taskRoleArn,omitempty"`

	// MinTasks is the fewest tasks the service runs; 0 allows scaling to zero.
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=5000
	// +optional
	MinTasks int32 `json:"minTasks"`

	// MaxTasks is the most tasks the service may run.
	// +kubebuilder:default=10
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=5000
	// +optional
	MaxTasks int32 `json:"maxTasks"`

	// TargetCPUPercent is the average task CPU the scaler aims for.
	// +kubebuilder:default=65
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	// +optional
	TargetCPUPercent int32 `json:"targetCPUPercent,omitempty"`
}

// EnvVar is one environment variable of a container.
type EnvVar struct {
	// Name of the variable. STREAM_NAME, APPLICATION_NAME, AWS_REGION and
	// TASK_MEMORY_MIB are set by the operator and cannot be overridden.
	// +kubebuilder:validation:Pattern=`^[A-Za-z_][A-Za-z0-9_]*$`
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:XValidation:rule="!(self in ['STREAM_NAME', 'APPLICATION_NAME', 'AWS_REGION', 'TASK_MEMORY_MIB'])",message="STREAM_NAME, APPLICATION_NAME, AWS_REGION and TASK_MEMORY_MIB are set by the operator; remove them from env"
	Name string `json:"name"`
	// Value of the variable.
	// +kubebuilder:validation:MaxLength=32768
	// +optional
	Value string `json:"value,omitempty"`
}

// SecretVar is one environment variable whose value ECS fetches from Secrets
// Manager or SSM Parameter Store when it starts a task.
type SecretVar struct {
	// Name of the variable.
	// +kubebuilder:validation:Pattern=`^[A-Za-z_][A-Za-z0-9_]*$`
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:XValidation:rule="!(self in ['STREAM_NAME', 'APPLICATION_NAME', 'AWS_REGION', 'TASK_MEMORY_MIB', 'PORT'])",message="STREAM_NAME, APPLICATION_NAME, AWS_REGION, TASK_MEMORY_MIB and PORT are set by the operator; remove them from secrets"
	Name string `json:"name"`

	// ValueFrom is the full ARN of a Secrets Manager secret
	// (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME, optionally followed
	// by :JSON_KEY:VERSION_STAGE:VERSION_ID as ECS allows) or of an SSM
	// parameter (arn:aws:ssm:REGION:ACCOUNT:parameter/NAME).
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="self.matches('^arn:aws[a-zA-Z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[^:]+') || self.matches('^arn:aws[a-zA-Z-]*:ssm:[a-z0-9-]+:[0-9]{12}:parameter/.+$')",message="valueFrom must be the ARN of a Secrets Manager secret (arn:aws:secretsmanager:<region>:<account>:secret:<name>[:<json-key>:<version-stage>:<version-id>]) or of an SSM parameter (arn:aws:ssm:<region>:<account>:parameter/<name>)"
	ValueFrom string `json:"valueFrom"`
}

// ProducerSpec configures the producer service.
//
// +kubebuilder:validation:XValidation:rule="(self.cpu == 256 && self.memory in [512, 1024, 2048]) || (self.cpu == 512 && self.memory >= 1024 && self.memory <= 4096 && self.memory % 1024 == 0) || (self.cpu == 1024 && self.memory >= 2048 && self.memory <= 8192 && self.memory % 1024 == 0) || (self.cpu == 2048 && self.memory >= 4096 && self.memory <= 16384 && self.memory % 1024 == 0) || (self.cpu == 4096 && self.memory >= 8192 && self.memory <= 30720 && self.memory % 1024 == 0) || (self.cpu == 8192 && self.memory >= 16384 && self.memory <= 61440 && self.memory % 4096 == 0) || (self.cpu == 16384 && self.memory >= 32768 && self.memory <= 122880 && self.memory % 8192 == 0)",message="producer.memory is not a Fargate size for producer.cpu: 256 → 512/1024/2048; 512 → 1024–4096; 1024 → 2048–8192; 2048 → 4096–16384; 4096 → 8192–30720 (steps of 1024); 8192 → 16384–61440 (steps of 4096); 16384 → 32768–122880 (steps of 8192)"
// +kubebuilder:validation:XValidation:rule="!has(self.secrets) || !has(self.env) || self.secrets.all(s, !self.env.exists(e, e.name == s.name))",message="producer: a name in secrets may not also be in env (ECS refuses a variable set twice)"
type ProducerSpec struct {
	WorkloadSpec `json:",inline"`

	// ContainerPort the producer listens on.
	// +kubebuilder:default=8080
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	// +optional
	ContainerPort int32 `json:"containerPort,omitempty"`

	// TargetGroupARN registers the producer's tasks with an ALB target group
	// (target type ip).
	// +kubebuilder:validation:Pattern=`^arn:aws[a-zA-Z-]*:elasticloadbalancing:[a-z0-9-]+:[0-9]{12}:targetgroup/.+$`
	// +optional
	TargetGroupARN string `json:"targetGroupArn,omitempty"`

	// TargetRecordsPerSecondPerTask is the ingest rate (user records per
	// second) one producer task should serve. When set, the scaler also
	// applies the HPA rule to the producer's own IngestRecords metric
	// (namespace StreamProcessor/Producer), and the higher of the CPU and
	// rate answers wins. Unset: CPU only.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10000000
	// +optional
	TargetRecordsPerSecondPerTask int32 `json:"targetRecordsPerSecondPerTask,omitempty"`
}

// ConsumerSpec configures the consumer service.
//
// +kubebuilder:validation:XValidation:rule="(self.cpu == 256 && self.memory in [512, 1024, 2048]) || (self.cpu == 512 && self.memory >= 1024 && self.memory <= 4096 && self.memory % 1024 == 0) || (self.cpu == 1024 && self.memory >= 2048 && self.memory <= 8192 && self.memory % 1024 == 0) || (self.cpu == 2048 && self.memory >= 4096 && self.memory <= 16384 && self.memory % 1024 == 0) || (self.cpu == 4096 && self.memory >= 8192 && self.memory <= 30720 && self.memory % 1024 == 0) || (self.cpu == 8192 && self.memory >= 16384 && self.memory <= 61440 && self.memory % 4096 == 0) || (self.cpu == 16384 && self.memory >= 32768 && self.memory <= 122880 && self.memory % 8192 == 0)",message="consumer.memory is not a Fargate size for consumer.cpu: 256 → 512/1024/2048; 512 → 1024–4096; 1024 → 2048–8192; 2048 → 4096–16384; 4096 → 8192–30720 (steps of 1024); 8192 → 16384–61440 (steps of 4096); 16384 → 32768–122880 (steps of 8192)"
// +kubebuilder:validation:XValidation:rule="!has(self.secrets) || !has(self.env) || self.secrets.all(s, !self.env.exists(e, e.name == s.name))",message="consumer: a name in secrets may not also be in env (ECS refuses a variable set twice)"
// +kubebuilder:validation:XValidation:rule="!has(self.processor) || ((!has(self.env) || !self.env.exists(e, e.name in ['PROCESSOR_COMMAND', 'PROPERTIES_FILE', 'OUTPUT', 'DEAD_LETTER_FILE', 'DEAD_LETTER_STREAM'])) && (!has(self.secrets) || !self.secrets.exists(e, e.name in ['PROCESSOR_COMMAND', 'PROPERTIES_FILE', 'OUTPUT', 'DEAD_LETTER_FILE', 'DEAD_LETTER_STREAM'])))",message="consumer: with processor, env and secrets may not set PROCESSOR_COMMAND or PROPERTIES_FILE (processor sets them) nor OUTPUT, DEAD_LETTER_FILE or DEAD_LETTER_STREAM (the processor handles records and their failures)"
type ConsumerSpec struct {
	WorkloadSpec `json:",inline"`

	// MaxIteratorAgeSeconds is how far behind the newest record the consumer
	// may fall before the scaler adds tasks.
	// +kubebuilder:default=60
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=604800
	// +optional
	MaxIteratorAgeSeconds int32 `json:"maxIteratorAgeSeconds,omitempty"`

	// Processor runs a KCL MultiLang record processor (Python, Node.js, …)
	// for the records instead of the built-in mode, which appends them as
	// JSON lines to OUTPUT. Empty: the built-in mode.
	// +optional
	Processor *ProcessorSpec `json:"processor,omitempty"`
}

// ScalingSpec controls the scaler.
type ScalingSpec struct {
	// IntervalSeconds between two reconciliations of a healthy pipeline.
	// +kubebuilder:default=60
	// +kubebuilder:validation:Minimum=10
	// +kubebuilder:validation:Maximum=3600
	// +optional
	IntervalSeconds int32 `json:"intervalSeconds,omitempty"`

	// Paused freezes the counts: the operator reshards nothing and changes no
	// desiredCount (the targets become the current counts). Everything else —
	// images, retention, encryption, tags — still converges.
	// +optional
	Paused bool `json:"paused,omitempty"`

	// DryRun computes and reports targets (status and events) without acting.
	// +optional
	DryRun bool `json:"dryRun,omitempty"`

	// ShardScaleDownSeconds is the shards' scale-down stabilization window:
	// the shard target falls only to the highest need seen over this long
	// (default 900, 15 minutes). Shorter windows spend the 10 daily reshard
	// calls faster; the local demo shortens it to see a scale-down quickly.
	// +kubebuilder:validation:Minimum=60
	// +kubebuilder:validation:Maximum=86400
	// +optional
	ShardScaleDownSeconds int32 `json:"shardScaleDownSeconds,omitempty"`

	// TaskScaleDownSeconds is the tasks' scale-down stabilization window, as
	// in the HorizontalPodAutoscaler's behavior. Unset, the consumers use 300
	// (5 minutes) and the producers the shards' window
	// (shardScaleDownSeconds, default 900): shards held for the load's
	// return are of no use without the producers in front of them.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=3600
	// +optional
	TaskScaleDownSeconds *int32 `json:"taskScaleDownSeconds,omitempty"`
}

// StreamProcessorStatus is the observed state of the pipeline and the
// operator's last decisions.
type StreamProcessorStatus struct {
	// ObservedGeneration is the generation of the spec the last complete pass acted on.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions: Ready, StreamReady, ProducerReady, ConsumerReady,
	// DashboardReady, LogsReady.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// Stream is the observed stream.
	// +optional
	Stream StreamStatus `json:"stream,omitempty"`

	// Producer is the observed producer service.
	// +optional
	Producer ServiceStatus `json:"producer,omitempty"`

	// Consumer is the observed consumer service.
	// +optional
	Consumer ServiceStatus `json:"consumer,omitempty"`

	// LeaseTable is the consumer's DynamoDB lease table.
	// +optional
	LeaseTable LeaseTableStatus `json:"leaseTable,omitempty"`

	// DashboardName is the CloudWatch dashboard of this object, chosen once
	// (<namespace>-<name>-<hash>, like the stream's default name) and never
	// changed; deleted with the object.
	// +optional
	DashboardName string `json:"dashboardName,omitempty"`

	// DashboardURL opens the dashboard in the CloudWatch console of the region.
	// +optional
	DashboardURL string `json:"dashboardURL,omitempty"`

	// LogGroupName is the CloudWatch Logs group the operator created for the
	// tasks' output (spec.logs without a group, or no spec.logs, with an
	// execution role), chosen once (<namespace>-<name>-<hash>, like the
	// stream's default name) and never changed. Deleted with the object
	// under deletionPolicy Delete, if it carries this object's owner tags.
	// +optional
	LogGroupName string `json:"logGroupName,omitempty"`

	// LogGroupCheckedAt is when the operator's log group was last read (or
	// created) and found as the spec wants it. While the spec is unchanged,
	// passes skip reading it until this is 10 minutes old (then it is read
	// again, to repair a change made outside the operator).
	// +optional
	LogGroupCheckedAt *metav1.Time `json:"logGroupCheckedAt,omitempty"`

	// DashboardHash is a hash of the dashboard body last put, or last read
	// and found current. While the body the spec gives has this hash, passes
	// skip GetDashboard until DashboardCheckedAt is 10 minutes old (then it
	// is read again, to repair a change made outside the operator).
	// +optional
	DashboardHash string `json:"dashboardHash,omitempty"`

	// DashboardCheckedAt is when the dashboard was last put or read.
	// +optional
	DashboardCheckedAt *metav1.Time `json:"dashboardCheckedAt,omitempty"`

	// LastDecision is the latest choice of targets, with its reason.
	// +optional
	LastDecision *ScalingDecision `json:"lastDecision,omitempty"`

	// Cost is the capacity mode's cost estimate and choice (capacityMode
	// Auto; the estimates are also shown for the other modes once load
	// history is known).
	// +optional
	Cost *CostStatus `json:"cost,omitempty"`

	// Scaling is the scaler's memory between passes (recent recommendations
	// for its stabilization windows and the day's peak need), kept here so a
	// restarted operator scales down no sooner than the one before it would.
	// +optional
	Scaling *ScalingState `json:"scaling,omitempty"`
}

// CostStatus is the stream's hourly cost in each capacity mode, estimated
// from its recent write load with the simulator's us-east-1 prices, and the
// mode chosen.
type CostStatus struct {
	// Time of the estimate.
	Time metav1.Time `json:"time"`
	// Mode the operator wants the stream in: PROVISIONED or ON_DEMAND.
	Mode string `json:"mode"`
	// ProvisionedPerHour is the estimated stream cost per hour in
	// provisioned mode over the last week (USD, decimal).
	// +optional
	ProvisionedPerHour string `json:"provisionedPerHour,omitempty"`
	// OnDemandPerHour is the estimated stream cost per hour in on-demand
	// mode over the last week (USD, decimal).
	// +optional
	OnDemandPerHour string `json:"onDemandPerHour,omitempty"`
	// Day is the same two estimates over the last day: "provisioned X, on-demand Y".
	// +optional
	Day string `json:"day,omitempty"`
	// HeldShards is, for each clock hour of the last week in which the
	// stream was provisioned while the spec said Auto, the most open shards
	// the operator saw (at: the hour's start, Unix seconds; n: shards). The
	// provisioned estimate prices those hours at what was held, not at its
	// model of a scaler. At most 169 entries.
	// +optional
	// +listType=atomic
	HeldShards []ScalingRecord `json:"heldShards,omitempty"`
	// Reason explains the mode in one sentence.
	Reason string `json:"reason"`
}

// ScalingState holds recent recommendations, newest last.
type ScalingState struct {
	// +optional
	// +listType=atomic
	Shards []ScalingRecord `json:"shards,omitempty"`
	// +optional
	// +listType=atomic
	ShardPeaks []ScalingRecord `json:"shardPeaks,omitempty"`
	// +optional
	// +listType=atomic
	Producer []ScalingRecord `json:"producer,omitempty"`
	// +optional
	// +listType=atomic
	Consumer []ScalingRecord `json:"consumer,omitempty"`
	// ProducerRunning holds the running producer tasks each pass saw (not
	// recommendations): the producer's CPU rule counting refused records
	// scales the tasks that ran in the minute it measured.
	// +optional
	// +listType=atomic
	ProducerRunning []ScalingRecord `json:"producerRunning,omitempty"`
	// ConsumerRunning holds the running consumer tasks each pass saw, as
	// ProducerRunning, for the consumer's CPU rule. At most 8 entries.
	// +optional
	// +listType=atomic
	ConsumerRunning []ScalingRecord `json:"consumerRunning,omitempty"`
	// ProducerSurges is the largest surge of the producers' work in each
	// hour of the last day (n in producer tasks at the CPU target; at the
	// start of the hour): while surges recur, the producer holds the second
	// largest as headroom. At most 25 entries.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=25
	ProducerSurges []ScalingRecord `json:"producerSurges,omitempty"`
	// WeekPeaks is the highest write demand of each hour of the last week
	// (n in hundredths of a shard at 100 % of its write limits; at the
	// start of the hour), for the horizon planner's same hour of the
	// previous week, and the rule stack's tests of a one-off top and of a
	// rise out of a quiet day. At most 169 entries.
	// +optional
	// +listType=atomic
	WeekPeaks []ScalingRecord `json:"weekPeaks,omitempty"`
	// MergeFrom and MergeSince: the open count at the start of the halving
	// by MergeShards under way, and when it started (Unix seconds); unset
	// when none runs. Until it ends the stream carries only as MergeFrom/2
	// shards.
	// +optional
	MergeFrom int32 `json:"mergeFrom,omitempty"`
	// +optional
	MergeSince int64 `json:"mergeSince,omitempty"`
	// UpdatingSeen is the newest pass that saw the stream UPDATING (Unix
	// seconds; unset: none): how long the last reshard call kept it UPDATING.
	// +optional
	UpdatingSeen int64 `json:"updatingSeen,omitempty"`
}

// ScalingRecord is one recommendation: a count at a time (Unix seconds).
type ScalingRecord struct {
	At int64 `json:"at"`
	N  int32 `json:"n"`
}

// StreamStatus is the observed state of the stream.
type StreamStatus struct {
	// Name of the stream, chosen once and never changed.
	// +optional
	Name string `json:"name,omitempty"`
	// ARN of the stream.
	// +optional
	ARN string `json:"arn,omitempty"`
	// Status as Kinesis reports it: CREATING, ACTIVE, UPDATING or DELETING.
	// +optional
	Status string `json:"status,omitempty"`
	// OpenShards is the number of open shards.
	// +optional
	OpenShards int32 `json:"openShards,omitempty"`
	// TargetShards is the open shard count the operator converges to.
	// +optional
	TargetShards int32 `json:"targetShards,omitempty"`
	// Shards is "open/target", for kubectl get.
	// +optional
	Shards string `json:"shards,omitempty"`
	// Reshards are the times of the UpdateShardCount calls in the last 24
	// hours. AWS allows 10 per rolling 24 hours; this ledger survives restarts.
	// +optional
	// +listType=atomic
	Reshards []metav1.Time `json:"reshards,omitempty"`
	// Mode is the capacity mode as Kinesis reports it: PROVISIONED or ON_DEMAND.
	// +optional
	Mode string `json:"mode,omitempty"`
	// ModeSwitches are the times of the UpdateStreamMode calls in the last
	// 24 hours. AWS allows 2 per rolling 24 hours; this ledger survives
	// restarts and is written before each call.
	// +optional
	// +listType=atomic
	ModeSwitches []metav1.Time `json:"modeSwitches,omitempty"`
	// ManagedTagKeys are the tag keys the operator set, so that tags removed
	// from the spec are removed from the stream and nobody else's are.
	// +optional
	// +listType=set
	ManagedTagKeys []string `json:"managedTagKeys,omitempty"`
}

// LeaseTableStatus names the consumer's lease table (created by the
// consumer tasks, named by the APPLICATION_NAME the operator gives them).
type LeaseTableStatus struct {
	// Name of the table, chosen once and never changed.
	// +optional
	Name string `json:"name,omitempty"`
	// Owned is true once this StreamProcessor's own consumer service uses the
	// table: only then does deletionPolicy Delete delete it.
	// +optional
	Owned bool `json:"owned,omitempty"`
}

// ServiceStatus is the observed state of an ECS service.
type ServiceStatus struct {
	// ServiceName of the ECS service, also its task definition family; chosen
	// once and never changed.
	// +optional
	ServiceName string `json:"serviceName,omitempty"`
	// ServiceARN of the ECS service.
	// +optional
	ServiceARN string `json:"serviceArn,omitempty"`
	// TaskDefinitionARN the service runs.
	// +optional
	TaskDefinitionARN string `json:"taskDefinitionArn,omitempty"`
	// DesiredTasks is the service's desiredCount.
	// +optional
	DesiredTasks int32 `json:"desiredTasks,omitempty"`
	// RunningTasks is the service's runningCount.
	// +optional
	RunningTasks int32 `json:"runningTasks,omitempty"`
	// PendingTasks is the service's pendingCount.
	// +optional
	PendingTasks int32 `json:"pendingTasks,omitempty"`
	// TargetTasks is the task count the operator converges to.
	// +optional
	TargetTasks int32 `json:"targetTasks,omitempty"`
	// Tasks is "running/desired", for kubectl get.
	// +optional
	Tasks string `json:"tasks,omitempty"`
}

// ScalingDecision is one choice of targets and why it was made.
type ScalingDecision struct {
	// Time of the decision.
	Time metav1.Time `json:"time"`
	// Shards is the target open shard count.
	Shards int32 `json:"shards"`
	// ProducerTasks is the target producer task count.
	ProducerTasks int32 `json:"producerTasks"`
	// ConsumerTasks is the target consumer task count.
	ConsumerTasks int32 `json:"consumerTasks"`
	// Reason explains the targets in one or two sentences.
	Reason string `json:"reason"`
	// Inputs are the observations the decision used (metric name → value).
	// +optional
	Inputs map[string]string `json:"inputs,omitempty"`
	// DryRun is true when the targets were only reported, not acted on.
	// +optional
	DryRun bool `json:"dryRun,omitempty"`
}

// StreamProcessor runs a Kinesis data pipeline: a stream, a producer service and
// a consumer service, kept right-sized by the operator.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=sp,categories=kdp
// +kubebuilder:printcolumn:name="Shards",type=string,JSONPath=`.status.stream.shards`,description="open/target shards"
// +kubebuilder:printcolumn:name="Producers",type=string,JSONPath=`.status.producer.tasks`,description="running/desired producer tasks"
// +kubebuilder:printcolumn:name="Consumers",type=string,JSONPath=`.status.consumer.tasks`,description="running/desired consumer tasks"
// +kubebuilder:printcolumn:name="Mode",type=string,JSONPath=`.status.stream.mode`,description="capacity mode as Kinesis reports it",priority=1
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type StreamProcessor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   StreamProcessorSpec   `json:"spec"`
	Status StreamProcessorStatus `json:"status,omitempty"`
}

// StreamProcessorList is a list of StreamProcessors.
//
// +kubebuilder:object:root=true
type StreamProcessorList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []StreamProcessor `json:"items"`
}

func init() {
	SchemeBuilder.Register(&StreamProcessor{}, &StreamProcessorList{})
}
