package controllers

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
	"github.com/kdp-io/streamprocessor-operator/internal/awsapi"
)

// reconcileStream creates the stream, or takes on an existing one of that
// name only when it is this StreamProcessor's (its owner tags carry this
// object's uid) or adopted (spec.stream.adopt, and no living owner), and
// converges retention, encryption and tags. A stream owned by another
// StreamProcessor, or one not adopted, is refused and never changed: a
// terminal condition, retried only after the long delay. It stops the pass
// while the stream is CREATING or DELETING (the services wait for it), and
// returns a wait while a setting change leaves it UPDATING.
func (r *StreamProcessorReconciler) reconcileStream(ctx context.Context, p *pass) (result, error) {
	sp, st := p.sp, &p.sp.Status.Stream
	name := p.names.Stream
	out, err := p.aws.Kinesis.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: &name})
	if awsapi.Is(err, awsapi.KindNotFound) {
		return r.createStream(ctx, p, name)
	}
	if err != nil {
		return result{}, r.streamFailed(sp, fmt.Errorf("describe stream %q: %w", name, err))
	}
	d := out.StreamDescriptionSummary
	switch d.StreamStatus {
	case ktypes.StreamStatusCreating:
		r.setCondition(sp, ConditionStreamReady, metav1.ConditionFalse, ReasonCreating, "stream "+name+" is being created")
		return result{requeueAfter: r.pollInterval(), stop: true}, nil
	case ktypes.StreamStatusDeleting:
		r.setCondition(sp, ConditionStreamReady, metav1.ConditionFalse, ReasonStreamDeleting, "stream "+name+" is being deleted outside the operator; it will be created again")
		st.Status = ""
		return result{requeueAfter: r.pollInterval(), stop: true}, nil
	}
	have, err := listStreamTags(ctx, p.aws.Kinesis, name)
	if err != nil {
		return result{}, r.streamFailed(sp, err)
	}
	adopting, err := r.checkStreamOwner(ctx, p, name, have)
	if err != nil {
		return result{}, err
	}
	st.ARN, st.Status, st.OpenShards = aws.ToString(d.StreamARN), string(d.StreamStatus), aws.ToInt32(d.OpenShardCount)
	p.openShards = st.OpenShards
	if d.StreamModeDetails != nil && d.StreamModeDetails.StreamMode == ktypes.StreamModeOnDemand {
		msg := fmt.Sprintf("stream %s is ON_DEMAND; the operator scales provisioned streams: switch it with `aws kinesis update-stream-mode --stream-mode-details StreamMode=PROVISIONED` or set spec.stream.name to another stream", name)
		r.setCondition(sp, ConditionStreamReady, metav1.ConditionFalse, ReasonOnDemandStream, msg)
		return result{}, &invalidSpecError{err: fmt.Errorf("%s", msg)}
	}
	if adopting {
		log.FromContext(ctx).Info("Adopting stream", "stream", name)
		r.event(sp, EventStreamAdopted, "Adopted existing stream %s (%d open shards; spec.stream.adopt)", name, st.OpenShards)
	}
	if d.StreamStatus == ktypes.StreamStatusUpdating {
		p.streamActive, p.streamUpdating = true, true
		if adopting { // tag it now: the services may be created in this pass
			if err := r.convergeTags(ctx, p, name, have); err != nil {
				return result{}, r.streamFailed(sp, err)
			}
		}
		return result{requeueAfter: r.pollInterval()}, nil
	}
	p.streamActive = true
	if err := r.convergeTags(ctx, p, name, have); err != nil {
		return result{}, r.streamFailed(sp, err)
	}
	changed, err := r.convergeStreamSettings(ctx, p, d)
	if err != nil {
		return result{}, r.streamFailed(sp, err)
	}
	if changed {
		// Retention and encryption changes leave the stream UPDATING for a while.
		p.streamUpdating = true
		return result{requeueAfter: r.pollInterval()}, nil
	}
	return result{}, nil
}

// checkStreamOwner decides from its tags whether the existing stream may be
// used. It returns adopting=true for a stream taken over now (unowned, or its
// owner gone, and spec.stream.adopt), and a terminal error — with
// StreamReady, ProducerReady and ConsumerReady False, and a Warning event on
// the transition — for a stream that is not to be touched.
func (r *StreamProcessorReconciler) checkStreamOwner(ctx context.Context, p *pass, name string, tags map[string]string) (adopting bool, err error) {
	sp := p.sp
	o := ownerOf(sp, tags)
	if o.Ownership == Ours {
		return false, nil
	}
	gone := false
	if o.Ownership == Others {
		if gone, err = r.ownerGone(ctx, o); err != nil {
			return false, r.streamFailed(sp, fmt.Errorf("look up the owner %s of stream %q: %w", o, name, err))
		}
	}
	if (o.Ownership == Unowned || gone) && sp.Spec.Stream.Adopt {
		return true, nil
	}
	reason, event := ReasonAdoptionRequired, EventAdoptionRequired
	if o.Ownership == Others && !gone {
		reason, event = ReasonOwnedByAnother, EventOwnedByAnother
	}
	msg := refusal("stream", name, o, gone)
	return false, r.refuse(sp, reason, event, msg, ConditionStreamReady, ConditionProducerReady, ConditionConsumerReady)
}

// ownerGone reports whether the StreamProcessor that o names no longer
// exists (deleted, or deleted and created again: another uid).
func (r *StreamProcessorReconciler) ownerGone(ctx context.Context, o owner) (bool, error) {
	if o.Name == "" || o.Namespace == "" {
		return false, nil // unnamed: cannot tell; assume alive
	}
	other := &streamingv1alpha1.StreamProcessor{}
	err := r.Get(ctx, client.ObjectKey{Namespace: o.Namespace, Name: o.Name}, other)
	switch {
	case apierrors.IsNotFound(err):
		return true, nil
	case err != nil:
		return false, err
	}
	return o.UID != "" && string(other.UID) != o.UID, nil
}

// refuse sets the conditions ts False with reason and msg, emits a Warning
// event when StreamReady's or the first condition's reason or message
// changes (not on every pass), and returns a terminal error.
func (r *StreamProcessorReconciler) refuse(sp *streamingv1alpha1.StreamProcessor, reason, event, msg string, ts ...string) error {
	if conditionReason(sp, ts[0]) != reason || conditionMessage(sp, ts[0]) != msg {
		r.warning(sp, event, "%s", msg)
	}
	for _, t := range ts {
		r.setCondition(sp, t, metav1.ConditionFalse, reason, msg)
	}
	return &invalidSpecError{err: errors.New(msg)}
}

// createStream creates the stream in provisioned mode with minShards shards.
func (r *StreamProcessorReconciler) createStream(ctx context.Context, p *pass, name string) (result, error) {
	sp := p.sp
	shards := sp.Spec.Stream.MinShards
	_, err := p.aws.Kinesis.CreateStream(ctx, &kinesis.CreateStreamInput{
		StreamName:        &name,
		ShardCount:        aws.Int32(shards),
		StreamModeDetails: &ktypes.StreamModeDetails{StreamMode: ktypes.StreamModeProvisioned},
		// Born with the owner tags: a crash before the status write leaves
		// a stream the next pass recognises as this object's.
		Tags: desiredStreamTags(sp),
	})
	if err != nil && !awsapi.Is(err, awsapi.KindInUse) { // in use: created meanwhile; its tags decide next pass
		return result{}, r.streamFailed(sp, fmt.Errorf("create stream %q: %w", name, err))
	}
	if err == nil {
		log.FromContext(ctx).Info("Created stream", "stream", name, "shards", shards)
		r.event(sp, EventStreamCreated, "Created stream %s with %d shards", name, shards)
	}
	sp.Status.Stream.Status = string(ktypes.StreamStatusCreating)
	sp.Status.Stream.OpenShards = 0
	r.setCondition(sp, ConditionStreamReady, metav1.ConditionFalse, ReasonCreating, "stream "+name+" is being created")
	return result{requeueAfter: r.pollInterval(), stop: true}, nil
}

// convergeStreamSettings sets retention and encryption as the spec says, one
// change per pass (each leaves the stream UPDATING). It reports whether it
// changed anything.
func (r *StreamProcessorReconciler) convergeStreamSettings(ctx context.Context, p *pass, d *ktypes.StreamDescriptionSummary) (bool, error) {
	sp, k := p.sp, p.aws.Kinesis
	name := streamName(sp)
	want, have := sp.Spec.Stream.RetentionHours, aws.ToInt32(d.RetentionPeriodHours)
	if want > 0 && want != have {
		var err error
		if want > have {
			_, err = k.IncreaseStreamRetentionPeriod(ctx, &kinesis.IncreaseStreamRetentionPeriodInput{StreamName: &name, RetentionPeriodHours: aws.Int32(want)})
		} else {
			_, err = k.DecreaseStreamRetentionPeriod(ctx, &kinesis.DecreaseStreamRetentionPeriodInput{StreamName: &name, RetentionPeriodHours: aws.Int32(want)})
		}
		if err != nil {
			return false, fmt.Errorf("change retention of stream %q from %dh to %dh: %w", name, have, want, err)
		}
		r.event(sp, EventRetentionChanged, "Changed retention of stream %s from %dh to %dh", name, have, want)
		return true, nil
	}

	enc := sp.Spec.Stream.Encryption
	switch {
	case enc.Type == streamingv1alpha1.EncryptionNone && d.EncryptionType == ktypes.EncryptionTypeKms:
		if _, err := k.StopStreamEncryption(ctx, &kinesis.StopStreamEncryptionInput{StreamName: &name, EncryptionType: ktypes.EncryptionTypeKms, KeyId: d.KeyId}); err != nil {
			return false, fmt.Errorf("stop encryption of stream %q: %w", name, err)
		}
		r.event(sp, EventEncryptionChanged, "Stopped encryption of stream %s", name)
		return true, nil
	case enc.Type != streamingv1alpha1.EncryptionNone && (d.EncryptionType != ktypes.EncryptionTypeKms || !sameKMSKey(aws.ToString(d.KeyId), kmsKeyID(enc))):
		key := kmsKeyID(enc)
		if _, err := k.StartStreamEncryption(ctx, &kinesis.StartStreamEncryptionInput{StreamName: &name, EncryptionType: ktypes.EncryptionTypeKms, KeyId: &key}); err != nil {
			return false, fmt.Errorf("start encryption of stream %q with key %q: %w", name, key, err)
		}
		r.event(sp, EventEncryptionChanged, "Encrypted stream %s with KMS key %s", name, key)
		return true, nil
	}
	return false, nil
}

// convergeTags adds the spec's tags and the operator's owner tags to the
// stream, whose tags are have, and removes tags the operator set before that
// the spec no longer lists. Tags do not make the stream UPDATING.
func (r *StreamProcessorReconciler) convergeTags(ctx context.Context, p *pass, name string, have map[string]string) error {
	sp, k := p.sp, p.aws.Kinesis
	want := desiredStreamTags(sp)
	add := map[string]string{}
	for key, v := range want {
		if hv, ok := have[key]; !ok || hv != v {
			add[key] = v
		}
	}
	var remove []string
	for _, key := range sp.Status.Stream.ManagedTagKeys {
		if _, ok := want[key]; !ok {
			if _, ok := have[key]; ok {
				remove = append(remove, key)
			}
		}
	}
	// AWS takes at most 10 tags per call.
	for chunk := range slices.Chunk(slices.Sorted(maps.Keys(add)), 10) {
		tags := map[string]string{}
		for _, key := range chunk {
			tags[key] = add[key]
		}
		if _, err := k.AddTagsToStream(ctx, &kinesis.AddTagsToStreamInput{StreamName: &name, Tags: tags}); err != nil {
			return fmt.Errorf("tag stream %q: %w", name, err)
		}
	}
	for chunk := range slices.Chunk(remove, 10) {
		if _, err := k.RemoveTagsFromStream(ctx, &kinesis.RemoveTagsFromStreamInput{StreamName: &name, TagKeys: chunk}); err != nil {
			return fmt.Errorf("untag stream %q: %w", name, err)
		}
	}
	if len(add) > 0 || len(remove) > 0 {
		r.event(sp, EventTagsChanged, "Set %d and removed %d tags of stream %s", len(add), len(remove), name)
	}
	sp.Status.Stream.ManagedTagKeys = slices.Sorted(maps.Keys(want))
	return nil
}

// listStreamTags returns all tags of the stream.
func listStreamTags(ctx context.Context, k KinesisAPI, name string) (map[string]string, error) {
	have := map[string]string{}
	for start := (*string)(nil); ; {
		out, err := k.ListTagsForStream(ctx, &kinesis.ListTagsForStreamInput{StreamName: &name, ExclusiveStartTagKey: start})
		if err != nil {
			return nil, fmt.Errorf("list tags of stream %q: %w", name, err)
		}
		for _, t := range out.Tags {
			have[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
		if !aws.ToBool(out.HasMoreTags) || len(out.Tags) == 0 {
			return have, nil
		}
		start = out.Tags[len(out.Tags)-1].Key
	}
}

// desiredStreamTags are the spec's tags plus the operator's ownership tags.
func desiredStreamTags(sp *streamingv1alpha1.StreamProcessor) map[string]string {
	tags := maps.Clone(sp.Spec.Stream.Tags)
	if tags == nil {
		tags = map[string]string{}
	}
	maps.Copy(tags, ownerTags(sp))
	return tags
}

// streamFailed sets StreamReady from err and returns err classified for the
// requeue: waits for in-use, throttled and limit errors, invalid-spec for what
// only a user can fix.
func (r *StreamProcessorReconciler) streamFailed(sp *streamingv1alpha1.StreamProcessor, err error) error {
	return r.failed(sp, ConditionStreamReady, err)
}

// failed sets condition t False from err and classifies err for the requeue.
func (r *StreamProcessorReconciler) failed(sp *streamingv1alpha1.StreamProcessor, t string, err error) error {
	switch awsapi.Classify(err) {
	case awsapi.KindInUse:
		r.setCondition(sp, t, metav1.ConditionFalse, ReasonUpdating, awsapi.Message(err))
		return waitFor(r.pollInterval(), "%v", err)
	case awsapi.KindLimit:
		// An account or stream limit (the reshard budget, the shard
		// quota) does not lift in seconds: back off for minutes, say so,
		// and warn once.
		msg := fmt.Sprintf("%s; an AWS limit: retrying in %s", awsapi.Message(err), r.limitRetry())
		if conditionReason(sp, t) != ReasonLimitExceeded {
			r.warning(sp, EventLimitExceeded, "%s", err.Error())
		}
		r.setCondition(sp, t, metav1.ConditionFalse, ReasonLimitExceeded, msg)
		return waitFor(r.limitRetry(), "%v", err)
	case awsapi.KindThrottled:
		r.setCondition(sp, t, metav1.ConditionFalse, ReasonThrottled, awsapi.Message(err))
		return waitFor(2*r.pollInterval(), "%v", err)
	case awsapi.KindInvalid:
		prev := conditionMessage(sp, t)
		msg := awsapi.Message(err)
		r.setCondition(sp, t, metav1.ConditionFalse, ReasonInvalidSpec, msg)
		if prev != msg {
			r.warning(sp, EventInvalidSpec, "%s", err.Error())
		}
		return &invalidSpecError{err: err}
	case awsapi.KindDenied:
		// Only an IAM or credentials change helps: terminal, like a spec
		// mistake, until the long retry.
		prev := conditionMessage(sp, t)
		msg := awsapi.Message(err) + " (the operator's AWS credentials lack a permission or have expired)"
		r.setCondition(sp, t, metav1.ConditionFalse, ReasonAccessDenied, msg)
		if prev != msg {
			r.warning(sp, EventAccessDenied, "%s", err.Error())
		}
		return &invalidSpecError{err: err}
	}
	r.setCondition(sp, t, metav1.ConditionFalse, ReasonAWSError, awsapi.Message(err))
	return err
}

// kmsKeyID is the key to encrypt with.
func kmsKeyID(enc streamingv1alpha1.StreamEncryption) string {
	if enc.KMSKeyID == "" {
		return "alias/aws/kinesis"
	}
	return enc.KMSKeyID
}

// sameKMSKey reports whether two spellings name the same key: AWS may answer
// with an ARN where the spec gave an alias or key id.
func sameKMSKey(have, want string) bool {
	if have == want {
		return true
	}
	return have != "" && want != "" && (strings.HasSuffix(have, ":"+want) || strings.HasSuffix(want, ":"+have))
}
