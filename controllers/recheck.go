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
// it never was (checkedAt zero), or when the object's own recheck moment
// (nextRecheck with the object's phase, recheckPhase) has come since. Pure.
func recheckDue(checkedAt time.Time, unchanged bool, now time.Time, every, phase time.Duration) bool {
	return !unchanged || checkedAt.IsZero() || !now.Before(nextRecheck(checkedAt, every, phase))
}

// nextRecheck is the first moment after checkedAt that lies phase past a
// multiple of every (counted from the zero time): each object is rechecked
// once an interval at its own point of it, at most every after its last
// check. every <= 0: checkedAt (always due). Pure.
func nextRecheck(checkedAt time.Time, every, phase time.Duration) time.Time {
	if every <= 0 {
		return checkedAt
	}
	return checkedAt.Add(-phase).Truncate(every).Add(every + phase)
}

// What is rechecked, part of the phase's hash: the checks of one object
// fall due at different points of the interval too.
const (
	recheckDashboard   = "dashboard"
	recheckLogGroup    = "log-group"
	recheckStreamOwner = "stream-owner"
)

// recheckPhase is the object uid's point in the interval for rechecking
// what: whole seconds in [0, every), uniform over uids, from FNV-1a of uid
// and what. The same for the object on every pass and after a restart; no
// state, no randomness. Whole seconds because status times are stored to
// the second: a check stored as its second still lies at or after the phase
// point it followed. Pure.
func recheckPhase(uid types.UID, what string, every time.Duration) time.Duration {
	seconds := uint64(every / time.Second)
	if seconds == 0 {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(uid))
	h.Write([]byte{0})
	h.Write([]byte(what))
	return time.Duration(h.Sum64()%seconds) * time.Second
}

// checkedTime is a status timestamp as a time, zero when unset.
func checkedTime(t *metav1.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.Time
}
