package controllers

import (
	"context"
	"maps"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
)

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

// desiredStreamTags are the spec's tags plus the operator's ownership tags.
func desiredStreamTags(sp *streamingv1alpha1.StreamProcessor) map[string]string {
	tags := make(map[string]string, len(sp.Spec.Stream.Tags)+4)
	for k, v := range sp.Spec.Stream.Tags {
		tags[k] = string(v)
	}
	maps.Copy(tags, ownerTags(sp))
	return tags
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
