package controllers

import (
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	etypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
)

// Tags the operator puts on every AWS resource it creates (stream, task
// definitions, services). The uid decides ownership: a StreamProcessor
// deleted and created again under the same name is another object.
const (
	TagManagedBy      = "kdp.io/managed-by"
	TagOwnerNamespace = "kdp.io/owner-namespace"
	TagOwnerName      = "kdp.io/owner-name"
	TagOwnerUID       = "kdp.io/owner-uid"
	// TagStreamProcessor ("<namespace>.<name>") is the owner tag of operator
	// versions before the uid tags; it is read, to keep what they created,
	// and no longer written.
	TagStreamProcessor = "kdp.io/streamprocessor"
	managedByValue     = "streamprocessor-operator"
)

// ownerTags are the tags that make a resource this StreamProcessor's.
func ownerTags(sp *streamingv1alpha1.StreamProcessor) map[string]string {
	return map[string]string{
		TagManagedBy:      managedByValue,
		TagOwnerNamespace: sp.Namespace,
		TagOwnerName:      sp.Name,
		TagOwnerUID:       string(sp.UID),
	}
}

// ecsOwnerTags are ownerTags in ECS's form.
func ecsOwnerTags(sp *streamingv1alpha1.StreamProcessor) []etypes.Tag {
	tags := ownerTags(sp)
	out := make([]etypes.Tag, 0, len(tags))
	for _, k := range []string{TagManagedBy, TagOwnerNamespace, TagOwnerName, TagOwnerUID} {
		out = append(out, etypes.Tag{Key: aws.String(k), Value: aws.String(tags[k])})
	}
	return out
}

// ecsTagMap turns ECS tags into a map.
func ecsTagMap(tags []etypes.Tag) map[string]string {
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m
}

// Ownership is whose a resource is, as its tags say.
type Ownership int

const (
	// Unowned: no owner tags; the resource existed before, or was made by hand.
	Unowned Ownership = iota
	// Ours: tagged with this StreamProcessor's uid (or, from older operator
	// versions without uid tags, its namespace and name).
	Ours
	// Others: tagged for another StreamProcessor.
	Others
)

// owner is the verdict on a resource's tags.
type owner struct {
	Ownership
	// Namespace, Name and UID of the StreamProcessor the tags name (Others).
	Namespace, Name, UID string
}

// String names the owner for messages: "namespace/name".
func (o owner) String() string { return o.Namespace + "/" + o.Name }

// ownerOf decides whose a resource with tags is, from sp's point of view.
// The uid tag decides when present; otherwise the older
// kdp.io/streamprocessor tag ("<namespace>.<name>"; a namespace has no '.').
func ownerOf(sp *streamingv1alpha1.StreamProcessor, tags map[string]string) owner {
	if uid := tags[TagOwnerUID]; uid != "" {
		o := owner{Namespace: tags[TagOwnerNamespace], Name: tags[TagOwnerName], UID: uid, Ownership: Others}
		if uid == string(sp.UID) {
			o.Ownership = Ours
		}
		return o
	}
	if legacy := tags[TagStreamProcessor]; legacy != "" {
		ns, name, _ := strings.Cut(legacy, ".")
		o := owner{Namespace: ns, Name: name, Ownership: Others}
		if ns == sp.Namespace && name == sp.Name {
			o.Ownership = Ours
		}
		return o
	}
	return owner{Ownership: Unowned}
}

// refusal says why a resource is not used, for a condition message.
func refusal(kind, name string, o owner, gone bool) string {
	switch {
	case o.Ownership == Others && !gone:
		return fmt.Sprintf("%s %s belongs to StreamProcessor %s; it is left untouched. Use another name for this StreamProcessor's %s", kind, name, o, kind)
	case o.Ownership == Others:
		return fmt.Sprintf("%s %s belonged to StreamProcessor %s, which no longer exists; set spec.stream.adopt: true to take it over, or use another name", kind, name, o)
	}
	return fmt.Sprintf("%s %s exists and was not created by this StreamProcessor; set spec.stream.adopt: true to take it over (it will be tagged as this StreamProcessor's and, with deletionPolicy Delete, deleted with it), or set spec.stream.name to another name", kind, name)
}
