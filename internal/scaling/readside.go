package scaling

import (
	"fmt"
	"time"
)

// Read side of the shard target. Each shard is leased to one consumer task,
// so once the consumer runs a task per open shard it cannot go wider: if it
// still falls behind (the iterator age grows) or its reads are refused
// (ReadProvisionedThroughputExceeded), only more shards help.

// readPressure is what the read side saw in one pass.
type readPressure struct {
	ageSec, prevAgeSec float64 // newest iterator age and the one readAgeLookback before it
	hasPrev            bool    // whether there is a point readAgeLookback before the newest
	readThrottled      float64 // ReadProvisionedThroughputExceeded in the fresh minutes
	fullWidth          bool    // running consumer tasks ≥ open shards
}

// readAgeLookback is how far back the iterator age is compared to decide
// that it grows; it grows when it rose by at least readAgeGrowth of that
// time (a consumer that reads at three quarters of the write rate or less).
// A smaller rise is not taken: the age also rises a little when the write
// rate falls while a backlog drains.
const (
	readAgeLookback = 3 * time.Minute
	readAgeGrowth   = 0.25
)

// observeRead reads the read-side signals from the pass's inputs.
func observeRead(in Inputs, now time.Time) readPressure {
	p := readPressure{fullWidth: in.OpenShards > 0 && in.ConsumerTasks.Running >= in.OpenShards}
	var newest Point
	for _, q := range in.Metrics.IteratorAgeMs {
		if now.Sub(q.Time) <= StaleAfter && !q.Time.After(now) && !q.Time.Before(newest.Time) {
			newest = q
		}
	}
	p.ageSec = newest.Value / 1000
	for _, q := range in.Metrics.IteratorAgeMs {
		if !q.Time.After(newest.Time.Add(-readAgeLookback)) && now.Sub(q.Time) <= StaleAfter {
			p.prevAgeSec, p.hasPrev = q.Value/1000, true // the newest of those at least readAgeLookback older
		}
	}
	for _, q := range in.Metrics.ReadThrottled {
		if now.Sub(q.Time) <= StaleAfter && !q.Time.After(now) && q.Value > 0 {
			p.readThrottled += q.Value
		}
	}
	return p
}

// readTarget is the shard count the read side asks for (0: none) and why.
// Only with the consumer at full width: the iterator age over
// MaxIteratorAgeSeconds and growing doubles the open count; over half of
// it and growing, or reads refused by Kinesis while the age rises at all,
// adds half. (A consumer catching up on a backlog at full speed is refused
// reads too; while its age falls that is no reason for a call.)
func readTarget(maxAgeSec float64, open int32, p readPressure) (int32, string) {
	if !p.fullWidth {
		return 0, ""
	}
	grows := p.hasPrev && p.ageSec-p.prevAgeSec >= readAgeGrowth*readAgeLookback.Seconds()
	switch {
	case maxAgeSec > 0 && p.ageSec > maxAgeSec && grows:
		return 2 * open, fmt.Sprintf("iterator age %.0fs (over the maximum of %.0fs) grew from %.0fs with %d consumer tasks on %d shards", p.ageSec, maxAgeSec, p.prevAgeSec, open, open)
	case maxAgeSec > 0 && p.ageSec > maxAgeSec/2 && grows:
		return ceil32(1.5 * float64(open)), fmt.Sprintf("iterator age %.0fs (over half the maximum of %.0fs) grew from %.0fs with %d consumer tasks on %d shards", p.ageSec, maxAgeSec, p.prevAgeSec, open, open)
	case p.readThrottled > 0 && p.hasPrev && p.ageSec > p.prevAgeSec:
		return ceil32(1.5 * float64(open)), fmt.Sprintf("%.0f reads refused (ReadProvisionedThroughputExceeded) and iterator age rising (%.0fs from %.0fs) with %d consumer tasks on %d shards", p.readThrottled, p.ageSec, p.prevAgeSec, open, open)
	}
	return 0, ""
}

// readNeed is readTarget's count alone, for the stabilization records: while
// the read side needs more shards, the write side may not go below it.
func readNeed(in Inputs, now time.Time) int32 {
	if in.Stream.NoReadSide {
		return 0
	}
	n, _ := readTarget(in.Consumer.MaxIteratorAgeSeconds, in.OpenShards, observeRead(in, now))
	return n
}

// Which side decided the shard target (Used.ShardSide).
const (
	SideWrite = "write"
	SideRead  = "read"
)

// applyReadSide raises the write side's shard target t to the read side's
// when that is higher, within [lo, hi], and says which side decided.
func applyReadSide(in Inputs, now time.Time, t int32, reason string, d *Decision) (int32, string) {
	d.Used.ShardSide = SideWrite
	if d.Held || in.StreamUpdating || in.Stream.NoReadSide {
		return t, reason
	}
	lo := clamp32(in.Stream.MinShards, 1, MaxShardsPerStream)
	hi := clamp32(in.Stream.MaxShards, lo, MaxShardsPerStream)
	if in.Stream.MaxShards <= 0 {
		hi = MaxShardsPerStream
	}
	n, why := readTarget(in.Consumer.MaxIteratorAgeSeconds, in.OpenShards, observeRead(in, now))
	if n = clamp32(n, lo, hi); why == "" || n <= t || n <= in.OpenShards {
		return t, reason
	}
	d.Used.ShardSide = SideRead
	d.ShardRule = ShardReadSide
	return n, fmt.Sprintf("read side: scaling up %d→%d: %s", in.OpenShards, n, why)
}
