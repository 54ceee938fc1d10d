package controllers

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// recheckDue is the one rule for what the operator reads only now and then
// (the dashboard, the log group, a stream's owner tags): read again when
// what is wanted changed since it was last found as wanted (!unchanged), when
// it never was (checkedAt zero), or when that was every ago
// (--drift-recheck-interval), to repair a change made outside the operator.
// Pure.
func recheckDue(checkedAt time.Time, unchanged bool, now time.Time, every time.Duration) bool {
	return !unchanged || checkedAt.IsZero() || now.Sub(checkedAt) >= every
}

// checkedTime is a status timestamp as a time, zero when unset.
func checkedTime(t *metav1.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.Time
}
