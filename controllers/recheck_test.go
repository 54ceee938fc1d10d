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

// phaseUIDs are uids whose point of the interval for rechecking what
// falls early (in its first 30 s), late (its last 30 s) and in the middle,
// with planObject's uid-1: tests that count reads within minutes of a check
// run for each, so that none passes only for where uid-1's point lies.
func phaseUIDs(what string, every time.Duration) []types.UID {
	uids := []types.UID{"uid-1"}
	for _, in := range []func(time.Duration) bool{
		func(p time.Duration) bool { return p < 30*time.Second },
		func(p time.Duration) bool { return p >= every-30*time.Second },
		func(p time.Duration) bool { return p >= every*2/5 && p < every*3/5 },
	} {
		for i := 0; ; i++ {
			if in(recheckPhase(testUID(i), what, every)) {
				uids = append(uids, testUID(i))
				break
			}
		}
	}
	return uids
}

// pointAfterPlanNow is uid's first point of the interval for rechecking
// what at or after planNow (a multiple of every up to 10 minutes): a check
// made there is next due an interval later.
func pointAfterPlanNow(uid types.UID, what string, every time.Duration) time.Time {
	return planNow.Add(recheckPhase(uid, what, every))
}

// rechecksPerPass counts, for n objects all checked at checkedAt (a
// restart, objects created together) and passes every step after it, how
// many are rechecked at each pass over rounds intervals; a recheck moves the
// object's check to that pass. Returns the counts, index = pass.
func rechecksPerPass(n int, what string, checkedAt time.Time, every, step time.Duration, rounds int) []int {
	passes := rounds * int(every/step)
	perPass := make([]int, passes+1)
	for i := range n {
		uid, checked := testUID(i), checkedAt
		phase := recheckPhase(uid, what, every)
		for k := 1; k <= passes; k++ {
			now := checkedAt.Add(time.Duration(k) * step)
			if recheckDue(checked, true, now, every, phase) {
				perPass[k]++
				checked = now
			}
		}
	}
	return perPass
}

// TestRechecksSpreadOverTheInterval: 1,000 objects checked at one moment,
// passes a minute apart, a 10-minute interval, three intervals: each object
// is rechecked once an interval (never later than the interval after its
// check), and no pass has more than about a tenth of them (the hash's noise
// allowed: 150), where without the spread all 1,000 fall in every tenth pass.
func TestRechecksSpreadOverTheInterval(t *testing.T) {
	const n, every, step, rounds = 1000, 10 * time.Minute, time.Minute, 3
	for _, what := range []string{recheckDashboard, recheckLogGroup, recheckStreamOwner} {
		// Checked at planNow and at a moment off the minute (stored to the second).
		for _, at := range []time.Time{planNow, planNow.Add(17*time.Minute + 23*time.Second)} {
			perPass := rechecksPerPass(n, what, at, every, step, rounds)
			t.Logf("%s, checked at %s: rechecks per pass %v", what, at.Format(time.TimeOnly), perPass)
			if total := sumInts(perPass); total != n*rounds {
				t.Errorf("%s: %d rechecks in %d intervals, want %d (one per object per interval)", what, total, rounds, n*rounds)
			}
			for k, c := range perPass {
				if c > 150 {
					t.Errorf("%s: %d of %d rechecked at pass %d, want at most 150", what, c, n, k)
				}
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

// TestRecheckIsStablePerObject: an object's recheck falls at the same point
// of every interval, whenever it was checked and on every pass; no recheck
// is later than the interval after the check; different objects and
// different checks of one object have different points.
func TestRecheckIsStablePerObject(t *testing.T) {
	every := 10 * time.Minute
	for _, tc := range []struct {
		name   string
		a, b   types.UID
		wa, wb string
		same   bool
	}{
		{"same object, same check", "uid-1", "uid-1", recheckDashboard, recheckDashboard, true},
		{"two objects", testUID(1), testUID(2), recheckDashboard, recheckDashboard, false},
		{"one object's dashboard and log group", testUID(1), testUID(1), recheckDashboard, recheckLogGroup, false},
		{"one object's log group and stream owner", testUID(1), testUID(1), recheckLogGroup, recheckStreamOwner, false},
	} {
		a, b := recheckPhase(tc.a, tc.wa, every), recheckPhase(tc.b, tc.wb, every)
		if (a == b) != tc.same {
			t.Errorf("%s: phases %s and %s, same %v, want %v", tc.name, a, b, a == b, tc.same)
		}
	}
	// Through the dashboard's rule, over passes a second apart after three
	// checks: the recheck falls at one point of the interval each time.
	sp := planObject()
	sp.UID = testUID(7)
	var points []time.Duration
	for _, checked := range []time.Time{planNow, planNow.Add(7*time.Minute + 13*time.Second), planNow.Add(3 * time.Hour)} {
		markDashboardCurrent(sp, dashboardBody(sp, nil), checked)
		for d := time.Second; d <= every; d += time.Second {
			if now := checked.Add(d); dashboardReadNeeded(sp, "us-east-1", false, now, every) {
				points = append(points, now.Sub(now.Truncate(every)))
				break
			}
		}
	}
	if len(points) != 3 || points[0] != points[1] || points[1] != points[2] {
		t.Errorf("dashboard rechecked at %v into the interval after each of three checks, want one point each time, within the interval", points)
	}
}

// TestLogGroupAndStreamOwnerUseTheSpread: the log group's rule and the
// stream-owner memory recheck at the object's point of the interval.
func TestLogGroupAndStreamOwnerUseTheSpread(t *testing.T) {
	every := 10 * time.Minute // planNow is a multiple of it
	sp := planObject()
	sp.UID = testUID(3)
	o := activeStream(sp, 1)
	o.summary.StreamARN = aws.String("arn:aws:kinesis:us-east-1:123456789012:stream/s")
	o.summary.StreamCreationTimestamp = aws.Time(planNow)
	o.tags = desiredStreamTags(sp)
	o.owner = ownerOf(sp, o.tags)
	s := newStreamOwners()
	s.remember(sp, o, planNow, every)
	phase := recheckPhase(sp.UID, recheckStreamOwner, every)
	if phase < 2*time.Second {
		t.Fatalf("stream owner phase %s: pick a uid with a later one", phase)
	}
	if _, ok := s.recall(sp, o.summary, planNow.Add(phase-time.Second), every); !ok {
		t.Errorf("stream owner: not recalled a second before its point (%s)", phase)
	}
	if _, ok := s.recall(sp, o.summary, planNow.Add(phase), every); ok {
		t.Errorf("stream owner: still recalled at its point (%s), want read", phase)
	}

	ready := planObject()
	ready.UID = testUID(3)
	ready.Status.Conditions = []metav1.Condition{{Type: ConditionLogsReady, Status: metav1.ConditionTrue, Reason: ReasonReady, ObservedGeneration: ready.Generation}}
	checked := metav1.NewTime(planNow)
	ready.Status.LogGroupCheckedAt = &checked
	lp := recheckPhase(ready.UID, recheckLogGroup, every)
	if lp < 2*time.Second {
		t.Fatalf("log group phase %s: pick a uid with a later one", lp)
	}
	if logGroupReadNeeded(ready, planNow.Add(lp-time.Second), every) || !logGroupReadNeeded(ready, planNow.Add(lp), every) {
		t.Errorf("log group: want not read a second before its point %s and read at it", lp)
	}
}
