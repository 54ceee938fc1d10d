package controllers

import (
	"hash/fnv"
	"time"
)

// MetricSettle is how long after a minute ends the producers' points of that
// minute are all readable in CloudWatch. The producers publish IngestBytes at
// high resolution every 10 s on wall-clock boundaries, each point stamped
// with the start of its interval (docs/producer.md, "High resolution,
// aligned intervals"), so the minute's last point is sent when the minute
// ends, its PutMetricData bounded by a 10 s timeout; CloudWatch shows
// high-resolution points "seconds after they are published" (AWS News Blog,
// "New – High-Resolution Custom Metrics and Alarms for Amazon CloudWatch",
// 2017; high-resolution alarms evaluate every 10 s), for which we allow
// another 10 s. AWS gives no firmer figure: 20 s is an allowance.
const MetricSettle = 20 * time.Second

// passWindow is how long after MetricSettle the healthy passes of all objects
// are spread over (passOffset): late enough after the boundary that the
// minute is complete, spread enough that hundreds of objects do not call AWS
// in the same second. The client-side pacing (pacing.go) still bounds every
// operation's rate; objects beyond what the pace allows in the window get
// their turns later in the minute.
const passWindow = 20 * time.Second

// lateSlack is how late a pass may start after its instant and still keep
// its place on the grid: the workqueue fires at or after the instant, and a
// pass's own AWS calls (paced ones included) take time, so the next instant
// is the one nearest a whole interval after now, not the first one a whole
// interval or more away (which would skip a minute after every pass).
const lateSlack = 30 * time.Second

// passOffset is the object's point after each minute boundary where its
// healthy passes land: MetricSettle plus a part of passWindow from FNV-1a of
// namespace/name, to the millisecond. The same for the object on every pass
// and after a restart; no state, no randomness. Pure.
func passOffset(namespace, name string) time.Duration {
	h := fnv.New64a()
	h.Write([]byte(namespace + "/" + name))
	return MetricSettle + time.Duration(h.Sum64()%uint64(passWindow/time.Millisecond))*time.Millisecond
}

// alignedRequeue returns how long after now the next healthy pass comes when
// interval is a whole number of minutes: at the instant k minutes + offset
// (counted from Go's zero time, so on UTC minute boundaries) nearest to
// now + interval, ties going later. A pass that starts on its instant, or less
// than lateSlack after it, keeps a period of exactly interval; one that comes
// at another moment (a spec change, a retry after an error) joins the grid
// within half a minute of the interval. ok is false for intervals that are
// not whole minutes (including those under a minute): their passes are not
// tied to the minute's end. Pure.
func alignedRequeue(now time.Time, interval, offset time.Duration) (d time.Duration, ok bool) {
	if interval < time.Minute || interval%time.Minute != 0 {
		return 0, false
	}
	target := now.Add(interval)
	at := target.Add(-offset).Add(lateSlack).Truncate(time.Minute).Add(offset)
	return at.Sub(now), true
}

// lastSettled is the latest instant at or before t that lies MetricSettle
// (settle) after a minute boundary: from it on, the minute that ended at
// that boundary is complete. Pure.
func lastSettled(t time.Time, settle time.Duration) time.Time {
	return t.Add(-settle).Truncate(time.Minute).Add(settle)
}
