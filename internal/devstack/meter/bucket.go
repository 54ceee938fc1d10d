package meter

import (
	"math"
	"time"
)

// bucket is a token bucket refilled continuously at rate tokens a second up to
// burst tokens. A bucket starts full.
//
// The balance may go below zero: take lets a single request larger than the
// whole burst through when the bucket is full (a 1 MiB blob plus its partition
// key is more than one second of a shard's 1 MiB/s), and charge records a cost
// only known afterwards (the bytes a GetRecords call returned). Either way the
// debt is paid back by the refill before the next request fits.
type bucket struct {
	rate, burst float64
	tokens      float64
	last        time.Time
}

func newBucket(rate float64, now time.Time) *bucket {
	return &bucket{rate: rate, burst: rate, tokens: rate, last: now}
}

func (b *bucket) refill(now time.Time) {
	if elapsed := now.Sub(b.last); elapsed > 0 {
		b.tokens = math.Min(b.burst, b.tokens+elapsed.Seconds()*b.rate)
		b.last = now
	}
}

// take removes n tokens and reports true when the bucket holds n of them (or
// is full, for n above the burst); otherwise it removes nothing.
func (b *bucket) take(now time.Time, n float64) bool {
	b.refill(now)
	if b.tokens < math.Min(n, b.burst) {
		return false
	}
	b.tokens -= n
	return true
}

// positive reports whether the bucket holds any tokens at all: whether it has
// paid back every debt.
func (b *bucket) positive(now time.Time) bool {
	b.refill(now)
	return b.tokens > 0
}

// charge removes n tokens unconditionally, going at most debt below zero.
func (b *bucket) charge(now time.Time, n, debt float64) {
	b.refill(now)
	b.tokens = math.Max(b.tokens-n, -debt)
}

// shardBuckets are the four budgets of one shard.
type shardBuckets struct {
	writeBytes, writeRecords, readCalls, readBytes *bucket
}

func newShardBuckets(l Limits, now time.Time) *shardBuckets {
	return &shardBuckets{
		writeBytes:   newBucket(l.WriteBytesPerSecond, now),
		writeRecords: newBucket(l.WriteRecordsPerSecond, now),
		readCalls:    newBucket(l.ReadCallsPerSecond, now),
		readBytes:    newBucket(l.ReadBytesPerSecond, now),
	}
}

// admitWrite takes one record of size bytes from both write budgets, or
// nothing when either lacks it.
func (s *shardBuckets) admitWrite(now time.Time, size int) bool {
	if !s.writeRecords.take(now, 1) {
		return false
	}
	if !s.writeBytes.take(now, float64(size)) {
		s.writeRecords.tokens++ // give the record back: it was not written
		return false
	}
	return true
}

// admitRead takes one GetRecords call when the shard has a call left and has
// paid back the bytes of earlier calls.
func (s *shardBuckets) admitRead(now time.Time) bool {
	if !s.readBytes.positive(now) {
		return false
	}
	return s.readCalls.take(now, 1)
}
