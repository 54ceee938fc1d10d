package controllers

import (
	"hash/fnv"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// recheckDue is the one rule for what the operator reads only now and then
// (the dashboard, the log group, a stream's owner tags): read again when
// what is wanted changed since it was last found as wanted (!unchanged), when
// it never was (checkedAt zero), or when that was every ago. Callers pass
// recheckAfter of --drift-recheck-interval as every, so that objects checked
// together are not all due together. Pure.
func recheckDue(checkedAt time.Time, unchanged bool, now time.Time, every time.Duration) bool {
	return !unchanged || checkedAt.IsZero() || now.Sub(checkedAt) >= every
}

// What is rechecked, part of the spread's hash: the checks of one object
// fall due at different times too.
const (
	recheckDashboard   = "dashboard"
	recheckLogGroup    = "log-group"
	recheckStreamOwner = "stream-owner"
)

// recheckSpread is the largest share of the interval taken off an object's
// recheck: its checks hold between half the interval and all of it.
const recheckSpread = 0.5

// recheckAfter is how long a check of what on the object uid holds:
// every × (1 − f), with f in [0, recheckSpread) from a hash of uid and what.
// The same object and what get the same wait on every pass and after a
// restart; objects checked at one moment (created together, or all read
// after a restart) fall due spread over the second half of the interval, and
// none waits longer than every. No state, no randomness. Pure.
func recheckAfter(uid types.UID, what string, every time.Duration) time.Duration {
	return every - time.Duration(float64(every)*recheckFraction(uid, what))
}

// recheckFraction is f of recheckAfter: in [0, recheckSpread), uniform over
// uids, from the top 53 bits of FNV-1a of uid and what.
func recheckFraction(uid types.UID, what string) float64 {
	h := fnv.New64a()
	h.Write([]byte(uid))
	h.Write([]byte{0})
	h.Write([]byte(what))
	return float64(h.Sum64()>>11) / (1 << 53) * recheckSpread
}

// checkedTime is a status timestamp as a time, zero when unset.
func checkedTime(t *metav1.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.Time
}
