package controllers

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/log"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
	logsaws "github.com/kdp-io/streamprocessor-operator/internal/aws/logs"
)

// logsPart names the log group's part of a pass in errors and actions.
const logsPart = "logs"

// DefaultLogRetentionDays is how long the operator's log group keeps the
// tasks' output when spec.logs.retentionDays is not set.
const DefaultLogRetentionDays = 7

// operatorLogGroup reports whether the tasks log to a group the operator
// creates: there is an execution role (the awslogs driver writes with it)
// and spec.logs names no group of the user's.
func operatorLogGroup(sp *streamingv1alpha1.StreamProcessor) bool {
	return sp.Spec.ECS.ExecutionRoleARN != "" && (sp.Spec.Logs == nil || sp.Spec.Logs.Group == "")
}

// taskLogGroup is the group both task definitions log to: spec.logs.group,
// else the operator's own, else "" (no execution role: nothing is collected).
func taskLogGroup(sp *streamingv1alpha1.StreamProcessor) string {
	switch {
	case sp.Spec.Logs != nil && sp.Spec.Logs.Group != "":
		return sp.Spec.Logs.Group
	case operatorLogGroup(sp):
		return namesOf(sp).LogGroup
	}
	return ""
}

// logRetentionDays is the retention the operator's group should have.
func logRetentionDays(sp *streamingv1alpha1.StreamProcessor) int32 {
	if sp.Spec.Logs != nil && sp.Spec.Logs.RetentionDays > 0 {
		return sp.Spec.Logs.RetentionDays
	}
	return DefaultLogRetentionDays
}

// logGroupObservation is the operator's log group as read in this pass.
type logGroupObservation struct {
	err     error
	group   *logsaws.Group // nil: no group of that name
	skipped bool           // not read: found as wanted recently (logGroupReadNeeded)
}

// observeLogGroup reads the operator's log group with its tags; nil when
// there is no CloudWatch Logs client or the tasks do not log to a group of
// the operator's (nothing is planned for it then).
func observeLogGroup(ctx context.Context, sp *streamingv1alpha1.StreamProcessor, c Clients, now time.Time, recheck time.Duration) *logGroupObservation {
	if c.Logs == nil || !operatorLogGroup(sp) {
		return nil
	}
	if !logGroupReadNeeded(sp, now, recheck) {
		return &logGroupObservation{skipped: true}
	}
	o := &logGroupObservation{}
	o.group, o.err = logsaws.Groups{API: c.Logs}.Describe(ctx, namesOf(sp).LogGroup)
	return o
}

// logGroupReadNeeded reports whether this pass must read the operator's log
// group: LogsReady does not say it was found as this generation of the spec
// wants it (ours with the retention, or another's and left alone), or that
// the object's recheck moment (recheckDue) has come since. Pure.
func logGroupReadNeeded(sp *streamingv1alpha1.StreamProcessor, now time.Time, recheck time.Duration) bool {
	c := meta.FindStatusCondition(sp.Status.Conditions, ConditionLogsReady)
	unchanged := c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == sp.Generation &&
		(c.Reason == ReasonReady || c.Reason == ReasonLogGroupNotOwned)
	return recheckDue(checkedTime(sp.Status.LogGroupCheckedAt), unchanged, now, recheck, recheckPhase(sp.UID, recheckLogGroup, recheck))
}

// createLogGroup creates the operator's log group, born with the owner
// tags, and sets its retention.
type createLogGroup struct {
	name      string
	tags      map[string]string
	retention int32
}

// setLogRetention sets the retention of the operator's log group back to the
// spec's.
type setLogRetention struct {
	name     string
	from, to int32
}

func (createLogGroup) part() string  { return logsPart }
func (setLogRetention) part() string { return logsPart }

// planLogGroup plans the tasks' log group and sets LogsReady (not part of
// Ready: the services' conditions show tasks that cannot start). A group of
// the user's (spec.logs.group) is only reported; without an execution role
// nothing is collected and LogsReady says so, warning once. For the
// operator's group: a create when it is missing; nothing but a report when a
// group of that name is not this object's (the tasks log to it, the operator
// never changes it); else a retention set back to the spec's. Nothing is
// planned without a CloudWatch Logs client (o nil).
func planLogGroup(n *notes, pl *plan, o *logGroupObservation) {
	sp := n.sp
	switch {
	case sp.Spec.Logs != nil && sp.Spec.Logs.Group != "":
		n.set(ConditionLogsReady, metav1.ConditionTrue, ReasonUserLogGroup,
			"the tasks log to log group "+sp.Spec.Logs.Group+" (spec.logs.group), which the operator does not manage")
		return
	case !operatorLogGroup(sp):
		msg := "the tasks' output is not collected: the awslogs driver writes with the task execution role; set spec.ecs.executionRoleArn and the operator creates a log group"
		if conditionReason(sp, ConditionLogsReady) != ReasonNoExecutionRole {
			n.warn(EventLogsNotCollected, "%s", msg)
		}
		n.set(ConditionLogsReady, metav1.ConditionFalse, ReasonNoExecutionRole, msg)
		return
	case o == nil || o.skipped:
		return
	}
	name, want := namesOf(sp).LogGroup, logRetentionDays(sp)
	switch {
	case o.err != nil:
		if err := dashboardError(n.failed(ConditionLogsReady, o.err)); err != nil { // the dashboard's rule: a refusal does not fail the pass
			pl.fail(logsPart, err, false)
		}
	case o.group == nil:
		pl.actions = append(pl.actions, createLogGroup{name: name, tags: ownerTags(sp), retention: want})
	case ownerOf(sp, o.group.Tags).Ownership != Ours:
		markLogGroupChecked(n)
		n.set(ConditionLogsReady, metav1.ConditionTrue, ReasonLogGroupNotOwned, fmt.Sprintf(
			"the tasks log to log group %s, which exists and is not this StreamProcessor's (%s): the operator leaves its retention and tags alone and never deletes it",
			name, ownerDescription(ownerOf(sp, o.group.Tags))))
	case o.group.RetentionDays != want:
		pl.actions = append(pl.actions, setLogRetention{name: name, from: o.group.RetentionDays, to: want})
	default:
		logGroupReady(n, name, want)
	}
}

// ownerDescription says whose a resource is, for a message.
func ownerDescription(o owner) string {
	if o.Ownership == Others {
		return "it belongs to StreamProcessor " + o.String()
	}
	return "it carries no owner tags"
}

// markLogGroupChecked records that the log group was found as wanted now.
func markLogGroupChecked(n *notes) {
	t := metav1.NewTime(n.now)
	n.sp.Status.LogGroupCheckedAt = &t
}

func logGroupReady(n *notes, name string, days int32) {
	markLogGroupChecked(n)
	n.set(ConditionLogsReady, metav1.ConditionTrue, ReasonReady, fmt.Sprintf("the tasks log to log group %s, kept %d days", name, days))
}

// logGroupOutcome runs a createLogGroup or setLogRetention. A create that
// finds the group existing sets nothing: its tags decide next pass.
func logGroupOutcome(ctx context.Context, c Clients, a action) outcome {
	o := outcome{action: a}
	groups := logsaws.Groups{API: c.Logs}
	switch a := a.(type) {
	case createLogGroup:
		var created bool
		if created, o.err = groups.Create(ctx, a.name, a.tags); o.err != nil || !created {
			o.existed = o.err == nil
			return o
		}
		log.FromContext(ctx).Info("Created log group", "logGroup", a.name)
		o.err = groups.SetRetention(ctx, a.name, a.retention)
	case setLogRetention:
		if o.err = groups.SetRetention(ctx, a.name, a.to); o.err == nil {
			log.FromContext(ctx).Info("Set log group retention back", "logGroup", a.name, "from", a.from, "to", a.to)
		}
	}
	return o
}

// applyLogGroup reports a log group action on LogsReady alone.
func (o outcome) applyLogGroup(n *notes) error {
	switch a := o.action.(type) {
	case createLogGroup:
		if o.existed {
			return nil // created meanwhile: its tags decide next pass
		}
		if o.err != nil {
			return dashboardError(n.failed(ConditionLogsReady, o.err))
		}
		n.normal(EventLogGroupCreated, "Created log group %s, kept %d days", a.name, a.retention)
		logGroupReady(n, a.name, a.retention)
	case setLogRetention:
		if o.err != nil {
			return dashboardError(n.failed(ConditionLogsReady, o.err))
		}
		n.warn(EventLogRetentionRestored, "Log group %s kept events %d days (0: never expire), set outside the operator; set back to %d", a.name, a.from, a.to)
		logGroupReady(n, a.name, a.to)
	}
	return nil
}

// deleteLogGroup decides whether the finalizer deletes the operator's log
// group, whose tags are tags, and says why not: only with deletionPolicy
// Delete, and only a group carrying sp's owner tags.
func deleteLogGroup(sp *streamingv1alpha1.StreamProcessor, tags map[string]string) (bool, string) {
	switch o := ownerOf(sp, tags); {
	case sp.Spec.Stream.DeletionPolicy != streamingv1alpha1.DeletionPolicyDelete:
		return false, "deletionPolicy Retain"
	case o.Ownership != Ours:
		return false, ownerDescription(o)
	}
	return true, ""
}
