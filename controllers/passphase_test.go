package controllers

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// minuteB is a minute boundary the tests count from.
var minuteB = time.Date(2026, 11, 28, 6, 0, 0, 0, time.UTC)

// TestAlignedRequeue: a healthy pass with an interval of whole minutes is
// requeued to the object's instant (offset past a minute boundary) nearest
// one interval from now; a pass that starts on its instant or a little after
// keeps a period of exactly the interval; intervals not of whole minutes are
// not aligned.
func TestAlignedRequeue(t *testing.T) {
	const off = 27 * time.Second // the object's point: MetricSettle + 7 s
	s := 1 * time.Second
	tests := []struct {
		name     string
		now      time.Duration // after minuteB
		interval time.Duration
		wantAt   time.Duration // after minuteB; ignored when !wantOK
		wantOK   bool
	}{
		{"60 s, on its instant", off, time.Minute, time.Minute + off, true},
		{"60 s, 300 ms late (workqueue, the pass's calls)", off + 300*time.Millisecond, time.Minute, time.Minute + off, true},
		{"60 s, 29 s late: keeps its place", off + 29*s, time.Minute, time.Minute + off, true},
		{"60 s, 31 s late: the instant after", off + 31*s, time.Minute, 2*time.Minute + off, true},
		{"60 s, on the boundary (a spec change)", 0, time.Minute, time.Minute + off, true},
		{"60 s, 1 s before its instant", off - s, time.Minute, time.Minute + off, true},
		{"60 s, 40 s before its instant: this minute's", off - 40*s, time.Minute, off, true},
		{"60 s, half a minute off: the later one", off + 30*s, time.Minute, 2*time.Minute + off, true},
		{"120 s, on its instant", off, 2 * time.Minute, 2*time.Minute + off, true},
		{"120 s, 10 s late", off + 10*s, 2 * time.Minute, 2*time.Minute + off, true},
		{"120 s, 45 s late", off + 45*s, 2 * time.Minute, 3*time.Minute + off, true},
		{"120 s, at 59 s", 59 * s, 2 * time.Minute, 3*time.Minute + off, true},
		{"300 s, on its instant", off, 5 * time.Minute, 5*time.Minute + off, true},
		{"30 s: not aligned", off, 30 * s, 0, false},
		{"90 s: not aligned", off, 90 * s, 0, false},
		{"1 s: not aligned", 0, s, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := minuteB.Add(tt.now)
			d, ok := alignedRequeue(now, tt.interval, off)
			if ok != tt.wantOK {
				t.Fatalf("aligned = %v, want %v", ok, tt.wantOK)
			}
			if !ok {
				return
			}
			if got := now.Add(d); !got.Equal(minuteB.Add(tt.wantAt)) {
				t.Errorf("next pass at B+%s, want B+%s", got.Sub(minuteB), tt.wantAt)
			}
			if d < tt.interval-lateSlack || d > tt.interval+lateSlack {
				t.Errorf("requeue after %s, want within %s of the interval %s", d, lateSlack, tt.interval)
			}
		})
	}
}

// TestHealthyRequeue: the requeue of a complete pass — a shorter wait of the
// plan first (jittered), the aligned instant for whole minutes, the
// jittered interval otherwise; and passes that each start a little after
// their instant stay on the object's point, one interval apart.
func TestHealthyRequeue(t *testing.T) {
	off := passOffset("team-a", "orders")
	now := minuteB.Add(off)
	if d := healthyRequeue(now, time.Minute, 5*time.Second, off); d < 5*time.Second || d > 6*time.Second {
		t.Errorf("a 5 s wait requeues after %s, want 5–6 s", d)
	}
	if d := healthyRequeue(now, 30*time.Second, 0, off); d < 30*time.Second || d > 36*time.Second {
		t.Errorf("a 30 s interval requeues after %s, want 30–36 s (jittered, as before)", d)
	}
	for _, interval := range []time.Duration{time.Minute, 2 * time.Minute} {
		at := minuteB.Add(13 * time.Second) // created at an arbitrary moment
		var prev time.Time                  // the instant the pass was requeued to
		for pass := range 10 {
			next := at.Add(healthyRequeue(at, interval, 0, off))
			if got := next.Sub(next.Truncate(time.Minute)); got != off {
				t.Fatalf("interval %s, pass %d: next pass %s past its minute, want the object's %s", interval, pass, got, off)
			}
			if !prev.IsZero() && next.Sub(prev) != interval {
				t.Errorf("interval %s, pass %d: instants %s apart, want the interval", interval, pass, next.Sub(prev))
			}
			// The pass starts and reports a little after its instant, as
			// real ones do (the workqueue, the pass's own AWS calls).
			prev, at = next, next.Add(time.Duration(200+300*pass)*time.Millisecond)
		}
	}
}

// TestPassOffsetIsStableAndSpread: an object's point is the same on every
// call, lies in [MetricSettle, MetricSettle+passWindow), and 1,000 objects'
// points fill the window evenly (each tenth of it holds 60–140 of them).
func TestPassOffsetIsStableAndSpread(t *testing.T) {
	const objects, buckets = 1000, 10
	counts := make([]int, buckets)
	seen := map[time.Duration]int{}
	for i := range objects {
		ns, name := fmt.Sprintf("ns-%d", i%7), fmt.Sprintf("sp-%d", i)
		off := passOffset(ns, name)
		if again := passOffset(ns, name); again != off {
			t.Fatalf("%s/%s: point %s, then %s", ns, name, off, again)
		}
		if off < MetricSettle || off >= MetricSettle+passWindow {
			t.Fatalf("%s/%s: point %s outside [%s, %s)", ns, name, off, MetricSettle, MetricSettle+passWindow)
		}
		counts[int((off-MetricSettle)*buckets/passWindow)]++
		seen[off]++
	}
	for b, n := range counts {
		if n < 60 || n > 140 {
			t.Errorf("tenth %d of the window holds %d of %d objects, want 60–140: %v", b, n, objects, counts)
		}
	}
	t.Logf("objects per tenth of the window: %v; %d distinct points", counts, len(seen))
	if len(seen) < objects*9/10 {
		t.Errorf("%d distinct points for %d objects: the points bunch", len(seen), objects)
	}
	if passOffset("a", "b-c") == passOffset("a-b", "c") && passOffset("x", "y") == passOffset("y", "x") {
		t.Error("the point ignores where the namespace ends")
	}
}

// TestMetricsBatcherRefetchesOnceAMinuteIsComplete: a batch fetched before a
// minute boundary + Settle is fetched again by the first pass after that
// instant, not before; MaxAge still caps its age.
func TestMetricsBatcherRefetchesOnceAMinuteIsComplete(t *testing.T) {
	key := metricsKey{region: "us-east-1", stream: "s", cluster: "c", producer: "p", consumer: "c", application: "a"}
	s := time.Second
	tests := []struct {
		name   string
		maxAge time.Duration
		passes []time.Duration // wall times after minuteB
		want   []bool          // fetched at that pass
	}{
		{"first pass fetches, then not before B+1m+settle", time.Minute,
			[]time.Duration{25 * s, 59 * s, 60 * s, 79*s + 999*time.Millisecond, 80 * s, 81 * s, 139 * s, 140 * s},
			[]bool{true, false, false, false, true, false, false, true}},
		{"fetched just before settle: refetched at settle", time.Minute,
			[]time.Duration{19 * s, 20 * s, 21 * s},
			[]bool{true, true, false}},
		{"sparse passes: one fetch per pass a minute apart", time.Minute,
			[]time.Duration{30 * s, 90 * s, 150 * s},
			[]bool{true, true, true}},
		{"MaxAge 30 s still caps", 30 * s,
			[]time.Duration{21 * s, 50 * s, 51 * s, 79 * s, 80 * s, 100 * s},
			[]bool{true, false, true, false, true, false}},
		{"MaxAge 10 min: the settled minute still refetches", 10 * time.Minute,
			[]time.Duration{21 * s, 70 * s, 81 * s},
			[]bool{true, false, true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cw := &fakeCloudWatch{pageSize: 500}
			b := NewMetricsBatcher(tt.maxAge)
			wall := &fakeWall{}
			b.wall = wall.now
			for i, at := range tt.passes {
				wall.t = minuteB.Add(at)
				before := len(cw.calls)
				if _, err := b.Fetch(context.Background(), cw, key, wall.t); err != nil {
					t.Fatal(err)
				}
				if got := len(cw.calls) > before; got != tt.want[i] {
					t.Errorf("pass at B+%s: fetched %v, want %v", at, got, tt.want[i])
				}
			}
		})
	}
}

// TestMetricsBatcherOneFetchPerSettledMinute: passes of 300 objects over 30
// minutes, at random moments and at their aligned points: with MaxAge a
// minute the region is fetched at most once between two consecutive
// boundary + Settle instants, once in each, and every pass reads a batch
// fetched after the newest such instant.
func TestMetricsBatcherOneFetchPerSettledMinute(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const objects, minutes = 300, 30
	for _, aligned := range []bool{false, true} {
		var passes []time.Time
		for m := range minutes {
			for range objects {
				at := time.Duration(rng.Int64N(int64(time.Minute)))
				if aligned {
					at = MetricSettle + time.Duration(rng.Int64N(int64(passWindow)))
				}
				passes = append(passes, minuteB.Add(time.Duration(m)*time.Minute+at))
			}
		}
		slices.SortFunc(passes, time.Time.Compare)
		cw := &fakeCloudWatch{pageSize: 500}
		b := NewMetricsBatcher(time.Minute)
		wall := &fakeWall{}
		b.wall = wall.now
		perWindow := map[time.Time]int{}
		for _, at := range passes {
			wall.t = at
			key := metricsKey{region: "r", stream: fmt.Sprintf("s%d", rng.IntN(objects))}
			before := len(cw.calls)
			if _, err := b.Fetch(context.Background(), cw, key, at); err != nil && !errors.Is(err, errMetricsPending) {
				t.Fatal(err)
			}
			if len(cw.calls) > before {
				perWindow[lastSettled(at, MetricSettle)]++
			}
			if fetched := b.regions["r"].fetchedAt; fetched.Before(lastSettled(at, MetricSettle)) {
				t.Fatalf("aligned %v: the pass at %s read a batch fetched at %s, before the newest minute was complete", aligned, at, fetched)
			}
		}
		for w, n := range perWindow {
			if n > 1 {
				t.Errorf("aligned %v: %d fetches between %s and a minute later, want 1", aligned, n, w)
			}
		}
		t.Logf("aligned %v: %d passes, %d fetches (%d GetMetricData calls) in %d minutes", aligned, len(passes), len(perWindow), len(cw.calls), minutes)
		if len(perWindow) < minutes {
			t.Errorf("aligned %v: fetches in %d windows of %d minutes, want one a minute", aligned, len(perWindow), minutes)
		}
	}
}

// TestNewestMinuteAgeAtDecision: 200 objects with a 60 s interval over two
// hours (the first 10 minutes left out), each pass taking 300 ms, one
// region's batch; how old is the newest complete producer minute (complete
// MetricSettle after it ends) that a pass decides on? With the aligned
// requeue and the settled-minute refetch: under MetricSettle+passWindow plus
// the pass, and every object decides on every minute. The rule before (the
// interval plus up to 20 % jitter, the batch reused for MaxAge) is logged
// beside it for docs/operator-scale.md.
func TestNewestMinuteAgeAtDecision(t *testing.T) {
	const objects, minutes, skip = 200, 120, 10
	for _, before := range []bool{true, false} {
		rng := rand.New(rand.NewPCG(7, 8))
		type pass struct {
			at  time.Time
			obj int
		}
		var queue []pass
		for i := range objects {
			queue = append(queue, pass{minuteB.Add(time.Duration(rng.Int64N(int64(time.Minute)))), i})
		}
		b := NewMetricsBatcher(time.Minute)
		var fetchedAt time.Time
		var ages []time.Duration
		decided := map[[2]int]bool{} // object, minute decided on
		end := minuteB.Add(minutes * time.Minute)
		for len(queue) > 0 {
			slices.SortFunc(queue, func(a, b pass) int { return a.at.Compare(b.at) })
			p := queue[0]
			queue = queue[1:]
			if p.at.After(end) {
				continue
			}
			if (before && p.at.Sub(fetchedAt) >= b.MaxAge) || (!before && b.stale(fetchedAt, p.at)) {
				fetchedAt = p.at
			}
			newest := lastSettled(fetchedAt, MetricSettle).Add(-MetricSettle) // the end of the batch's newest complete minute
			if p.at.After(minuteB.Add(skip * time.Minute)) {
				ages = append(ages, p.at.Sub(newest))
				decided[[2]int{p.obj, int(newest.Sub(minuteB) / time.Minute)}] = true
			}
			done := p.at.Add(300 * time.Millisecond)
			d := jitter(time.Minute)
			if !before {
				d = healthyRequeue(done, time.Minute, 0, passOffset("ns", fmt.Sprint(p.obj)))
			}
			queue = append(queue, pass{done.Add(d), p.obj})
		}
		slices.Sort(ages)
		var sum time.Duration
		for _, a := range ages {
			sum += a
		}
		n := len(ages)
		perObject := float64(len(decided)) / objects
		t.Logf("before %v: %d passes; age of the newest complete minute at decision: mean %s, median %s, p95 %s, max %s; minutes decided on per object %.1f of %d",
			before, n, (sum / time.Duration(n)).Round(time.Second), ages[n/2].Round(time.Second), ages[n*95/100].Round(time.Second), ages[n-1].Round(time.Second),
			perObject, minutes-skip)
		if !before {
			if limit := MetricSettle + passWindow + time.Second; ages[n-1] > limit {
				t.Errorf("the newest minute was %s old at a decision, want at most %s", ages[n-1], limit)
			}
			if perObject < minutes-skip {
				t.Errorf("%.1f minutes decided on per object, want every one of %d", perObject, minutes-skip)
			}
		}
	}
}
