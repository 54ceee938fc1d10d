package controllers

import (
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// testUID is the i-th of a set of uids shaped like the API server's (v4
// UUIDs), fixed so that the test does not depend on random state.
func testUID(i int) types.UID {
	s := sha256.Sum256([]byte(fmt.Sprint(i)))
	return types.UID(fmt.Sprintf("%x-%x-4%x-a%x-%x", s[0:4], s[4:6], s[6:8], s[8:10], s[10:16])[:36])
}

// firstDuePass is the first pass, of passes every step after checkedAt, at
// which recheckDue says uid's what is due; 0 when none within limit passes.
func firstDuePass(uid types.UID, what string, checkedAt time.Time, every, step time.Duration, limit int) int {
	for k := 1; k <= limit; k++ {
		if recheckDue(checkedAt, true, checkedAt.Add(time.Duration(k)*step), recheckAfter(uid, what, every)) {
			return k
		}
	}
	return 0
}

// TestRecheckSpreadsObjectsCheckedTogether: 1,000 objects checked at one
// moment (a restart, objects created together), passes a minute apart, a
// 10-minute interval: none is due before half the interval, all are due by
// the interval, and no pass has more than about a fifth of them (the spread
// covers five of the ten passes) where without the spread all 1,000 fall in
// the tenth pass.
func TestRecheckSpreadsObjectsCheckedTogether(t *testing.T) {
	const n, every, step = 1000, 10 * time.Minute, time.Minute
	passes := int(every / step)
	for _, what := range []string{recheckDashboard, recheckLogGroup, recheckStreamOwner} {
		perPass := make([]int, passes+1)
		for i := range n {
			k := firstDuePass(testUID(i), what, planNow, every, step, passes)
			if k == 0 {
				t.Fatalf("%s: %s not due after the interval", what, testUID(i))
			}
			perPass[k]++
		}
		t.Logf("%s: due per pass %v", what, perPass)
		if early := sumInts(perPass[:passes/2]); early != 0 {
			t.Errorf("%s: %d objects due before half the interval: %v", what, early, perPass)
		}
		limit := n / (passes / 2) * 5 / 4 // a fifth, with 25 % slack for the hash
		for k, c := range perPass {
			if c > limit {
				t.Errorf("%s: %d of %d due at pass %d, want at most %d; per pass %v", what, c, n, k, limit, perPass)
			}
		}
	}
}

func sumInts(xs []int) int {
	s := 0
	for _, x := range xs {
		s += x
	}
	return s
}

// TestRecheckAfterIsStablePerObject: an object's wait is the same on every
// pass, whenever it was checked; different objects and different checks of
// one object wait differently; every wait is in (every/2, every].
func TestRecheckAfterIsStablePerObject(t *testing.T) {
	every := 10 * time.Minute
	for _, tc := range []struct {
		name     string
		a, b     types.UID
		wa, wb   string
		sameWait bool
	}{
		{"same object, same check", "uid-1", "uid-1", recheckDashboard, recheckDashboard, true},
		{"two objects", testUID(1), testUID(2), recheckDashboard, recheckDashboard, false},
		{"one object's dashboard and log group", testUID(1), testUID(1), recheckDashboard, recheckLogGroup, false},
		{"one object's log group and stream owner", testUID(1), testUID(1), recheckLogGroup, recheckStreamOwner, false},
	} {
		a, b := recheckAfter(tc.a, tc.wa, every), recheckAfter(tc.b, tc.wb, every)
		if (a == b) != tc.sameWait {
			t.Errorf("%s: waits %s and %s, same %v, want %v", tc.name, a, b, a == b, tc.sameWait)
		}
		for _, w := range []time.Duration{a, b} {
			if w <= every/2 || w > every {
				t.Errorf("%s: wait %s outside (%s, %s]", tc.name, w, every/2, every)
			}
		}
	}
	// Through the dashboard's rule, over passes a second apart: the object
	// falls due the same time after each check, on the first and a later
	// round, and before the interval.
	sp := planObject()
	sp.UID = testUID(7)
	var offsets []time.Duration
	for _, checked := range []time.Time{planNow, planNow.Add(7*time.Minute + 13*time.Second), planNow.Add(3 * time.Hour)} {
		markDashboardCurrent(sp, dashboardBody(sp, nil), checked)
		for d := time.Second; d <= every; d += time.Second {
			if dashboardReadNeeded(sp, "us-east-1", false, checked.Add(d), every) {
				offsets = append(offsets, d)
				break
			}
		}
	}
	if len(offsets) != 3 || offsets[0] != offsets[1] || offsets[1] != offsets[2] || offsets[0] >= every-time.Second {
		t.Errorf("dashboard due %v after each of three checks, want one offset, before the interval", offsets)
	}
}

// TestLogGroupAndStreamOwnerUseTheSpread: the log group's rule and the
// stream-owner memory hold a check for recheckAfter, not the whole interval.
func TestLogGroupAndStreamOwnerUseTheSpread(t *testing.T) {
	every := 10 * time.Minute
	sp := planObject()
	sp.UID = testUID(3)
	o := activeStream(sp, 1)
	o.summary.StreamARN = aws.String("arn:aws:kinesis:us-east-1:123456789012:stream/s")
	o.summary.StreamCreationTimestamp = aws.Time(planNow)
	o.tags = desiredStreamTags(sp)
	o.owner = ownerOf(sp, o.tags)
	s := newStreamOwners()
	s.remember(sp, o, planNow, every)
	wait := recheckAfter(sp.UID, recheckStreamOwner, every)
	if wait >= every {
		t.Fatalf("stream owner wait %s, want under %s for this uid", wait, every)
	}
	if _, ok := s.recall(sp, o.summary, planNow.Add(wait-time.Second), every); !ok {
		t.Errorf("stream owner: not recalled a second before its recheck (%s)", wait)
	}
	if _, ok := s.recall(sp, o.summary, planNow.Add(wait), every); ok {
		t.Errorf("stream owner: still recalled at its recheck (%s), want read", wait)
	}

	ready := planObject()
	ready.UID = testUID(3)
	ready.Status.Conditions = []metav1.Condition{{Type: ConditionLogsReady, Status: metav1.ConditionTrue, Reason: ReasonReady, ObservedGeneration: ready.Generation}}
	checked := metav1.NewTime(planNow)
	ready.Status.LogGroupCheckedAt = &checked
	lw := recheckAfter(ready.UID, recheckLogGroup, every)
	if logGroupReadNeeded(ready, planNow.Add(lw-time.Second), every) || !logGroupReadNeeded(ready, planNow.Add(lw), every) {
		t.Errorf("log group: want not read a second before %s and read at it", lw)
	}
	if lw >= every {
		t.Errorf("log group wait %s, want under %s for this uid", lw, every)
	}
}
