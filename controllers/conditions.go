package controllers

import (
	"k8s.io/apimachinery/pkg/api/meta"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
)

// Condition types of a StreamProcessor.
const (
	// ConditionReady is True when the stream and both services are ready.
	ConditionReady = "Ready"
	// ConditionStreamReady is True when the stream is ACTIVE with its target open shard count.
	ConditionStreamReady = "StreamReady"
	// ConditionProducerReady is True when the producer service runs its target task count.
	ConditionProducerReady = "ProducerReady"
	// ConditionConsumerReady is True when the consumer service runs its target task count.
	ConditionConsumerReady = "ConsumerReady"
	// ConditionDashboardReady is True when the CloudWatch dashboard is
	// current. It is not part of Ready: a dashboard CloudWatch refuses never
	// holds back the stream or the services.
	ConditionDashboardReady = "DashboardReady"
	// ConditionLogsReady is True when the tasks' output goes to a log group
	// (the operator's, current, or the user's). Not part of Ready: tasks
	// that cannot log fail to start, which the services' conditions show.
	ConditionLogsReady = "LogsReady"
)

// Condition reasons (CamelCase, stable: users and alerts match on them).
const (
	ReasonReady              = "Ready"
	ReasonCreating           = "Creating"
	ReasonUpdating           = "Updating"
	ReasonResharding         = "Resharding"
	ReasonReshardBudgetSpent = "ReshardBudgetSpent"
	// ReasonMergingShards: the open shards go down to the target by
	// MergeShards, one adjacent pair per pass while the stream is ACTIVE;
	// no UpdateShardCount call is spent.
	ReasonMergingShards  = "MergingShards"
	ReasonStreamDeleting = "StreamDeleting"
	// ReasonSwitchingMode: an UpdateStreamMode call is being applied.
	ReasonSwitchingMode = "SwitchingCapacityMode"
	// ReasonModeSwitchBudgetSpent: the wanted capacity mode waits for
	// AWS's two switches per rolling 24 hours.
	ReasonModeSwitchBudgetSpent = "ModeSwitchBudgetSpent"
	ReasonInvalidSpec           = "InvalidSpec"
	ReasonAWSError              = "AWSError"
	ReasonThrottled             = "Throttled"
	ReasonStreamNotReady        = "StreamNotReady"
	ReasonDeploying             = "Deploying"
	ReasonScaling               = "Scaling"
	ReasonTasksPending          = "TasksPending"
	ReasonPaused                = "Paused"
	ReasonNotReady              = "NotReady"
	ReasonDeleting              = "Deleting"
	// ReasonOwnedByAnother: a resource of this name carries the owner tags of
	// another StreamProcessor; it is left untouched.
	ReasonOwnedByAnother = "OwnedByAnother"
	// ReasonAdoptionRequired: a stream of this name exists without this
	// object's owner tags; spec.stream.adopt takes it over.
	ReasonAdoptionRequired = "AdoptionRequired"
	// ReasonAccessDenied: AWS refused the operator's credentials for a call.
	ReasonAccessDenied = "AccessDenied"
	// ReasonLimitExceeded: a call hit an AWS limit; retried after minutes.
	ReasonLimitExceeded = "LimitExceeded"
	// ReasonDeletionBlocked: the finalizer cannot finish; the message says why.
	ReasonDeletionBlocked = "DeletionBlocked"
	// ReasonUserLogGroup: the tasks log to spec.logs.group, not managed.
	ReasonUserLogGroup = "UserLogGroup"
	// ReasonNoExecutionRole: no execution role, so no awslogs: nothing collected.
	ReasonNoExecutionRole = "NoExecutionRole"
	// ReasonLogGroupNotOwned: the log group of the operator's name exists
	// and is not this object's; the tasks log to it, it is left alone.
	ReasonLogGroupNotOwned = "NotOwned"
)

// blockingReasons are reasons only the user can clear; Ready shows them as
// they are instead of NotReady.
var blockingReasons = map[string]bool{
	ReasonOwnedByAnother: true, ReasonAdoptionRequired: true, ReasonInvalidSpec: true, ReasonAccessDenied: true,
}

// Event reasons, emitted only on transitions.
const (
	EventStreamCreated         = "StreamCreated"
	EventStreamAdopted         = "StreamAdopted"
	EventStreamResharded       = "StreamResharded"
	EventShardsMerged          = "ShardsMerged"
	EventReshardWaiting        = "ReshardWaiting"
	EventModeSwitched          = "CapacityModeSwitched"
	EventModeSwitchWaiting     = "CapacityModeSwitchWaiting"
	EventRetentionChanged      = "RetentionChanged"
	EventEncryptionChanged     = "EncryptionChanged"
	EventTagsChanged           = "TagsChanged"
	EventTaskDefinitionCreated = "TaskDefinitionRegistered"
	EventServiceCreated        = "ServiceCreated"
	EventServiceUpdated        = "ServiceUpdated"
	EventServiceScaled         = "ServiceScaled"
	EventDesiredCountRestored  = "DesiredCountRestored"
	EventServiceDeleted        = "ServiceDeleted"
	EventStreamDeleted         = "StreamDeleted"
	EventStreamRetained        = "StreamRetained"
	EventLeaseTableDeleted     = "LeaseTableDeleted"
	EventInvalidSpec           = "InvalidSpec"
	EventAWSError              = "AWSError"
	EventTargetsChanged        = "TargetsChanged"
	EventOwnedByAnother        = "OwnedByAnother"
	EventAdoptionRequired      = "AdoptionRequired"
	EventAccessDenied          = "AccessDenied"
	EventDeletionBlocked       = "DeletionBlocked"
	EventLimitExceeded         = "LimitExceeded"
	EventServiceKept           = "ServiceKept"
	EventDashboardUpdated      = "DashboardUpdated"
	EventDashboardDeleted      = "DashboardDeleted"
	EventLogGroupCreated       = "LogGroupCreated"
	EventLogGroupDeleted       = "LogGroupDeleted"
	EventLogGroupRetained      = "LogGroupRetained"
	EventLogRetentionRestored  = "LogRetentionRestored"
	EventLogsNotCollected      = "LogsNotCollected"
)

// conditionReason returns the reason of condition t, or "".
func conditionReason(sp *streamingv1alpha1.StreamProcessor, t string) string {
	if c := meta.FindStatusCondition(sp.Status.Conditions, t); c != nil {
		return c.Reason
	}
	return ""
}

// conditionMessage returns the message of condition t, or "".
func conditionMessage(sp *streamingv1alpha1.StreamProcessor, t string) string {
	if c := meta.FindStatusCondition(sp.Status.Conditions, t); c != nil {
		return c.Message
	}
	return ""
}
