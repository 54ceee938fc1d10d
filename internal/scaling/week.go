package scaling

import (
	"cmp"
	"slices"
	"time"
)

// A week of hourly demand peaks (State.WeekPeaks), for the horizon
// planner's forecast of the same hour of the previous week.
//
// Why demand in shards at 100 %, not the recommendation ShardPeaks keeps:
// the forecast needs "how many shards would this hour have needed", and one
// number covers both per-shard limits (bytes and records); measured at
// 100 % it stays true when spec.stream.targetUtilizationPercent or the
// shard bounds change during the week (a recommendation is clamped to the
// bounds and divided by the target of its day). Bytes and records kept
// apart would double the entries for nothing the forecast uses.

const (
	// weekHours is how many hours before the current one WeekPeaks keeps:
	// the same hour a week ago is the oldest the forecast reads.
	weekHours = 7 * 24
	// DemandPerShard is the unit of WeekPeaks' N: hundredths of a shard at
	// 100 % (1 % of a shard's write limit; small numbers keep the status
	// short).
	DemandPerShard = 100
	// dayHours: risesOutOfQuiet reads the day before now's hour, and
	// oneOffTop needs a day of WeekPeaks known.
	dayHours = 24
)

// demandShards is the write demand of the pass's newest minutes in shards
// at 100 % of a shard's limits (the larger of the bytes and records
// shares), and whether the pass saw fresh data at all: without data
// nothing is recorded (missing data is not zero load).
func demandShards(u Used) (float64, bool) {
	if u.NewestPoint == 0 {
		return 0, false
	}
	return max(u.BytesPerSec/ShardWriteBytesPerSec, u.RecordsPerSec/ShardWriteRecordsPerSec), true
}

// keepWeek returns the last hours' hourly peaks with the demand of this
// pass's decision (demandShards of used; nothing without fresh data)
// recorded in the bucket of now's hour. It is bounded:
// one entry per hour from the hour hours before now's to now's (at most
// hours+1), sorted, entries of the same hour merged by their maximum,
// older ones dropped. An entry stamped after now's hour (the clock went
// back, or another replica's clock runs ahead) is merged into now's hour,
// not dropped: a peak that is kept too high costs shards, one that is lost
// may cost records. A stamp not on the hour is read as its hour.
func keepWeek(prev []Rec, now time.Time, used Used, hours int64) []Rec {
	hour := now.Truncate(time.Hour).Unix()
	cut := hour - hours*3600
	out := make([]Rec, 0, len(prev)+1)
	if demand, ok := demandShards(used); ok {
		out = append(out, Rec{At: hour, N: ceil32(demand * DemandPerShard)})
	}
	for _, r := range prev {
		at := r.At - r.At%3600
		if r.At < 0 || r.N < 0 || at < cut {
			continue
		}
		out = append(out, Rec{At: min(at, hour), N: r.N})
	}
	slices.SortStableFunc(out, func(a, b Rec) int { return cmp.Compare(a.At, b.At) })
	return slices.CompactFunc(mergeMax(out), func(a, b Rec) bool { return a.At == b.At })
}

// mergeMax gives each run of records of the same At the run's highest N,
// so that compacting keeps the maximum.
func mergeMax(recs []Rec) []Rec {
	for i := len(recs) - 2; i >= 0; i-- {
		if recs[i].At == recs[i+1].At {
			recs[i].N = max(recs[i].N, recs[i+1].N)
		}
	}
	return recs
}

// weekNeed is the need at utilization u (shards) of the hour t falls in,
// from the week's peaks; 0 when that hour is not known.
func weekNeed(week []Rec, t time.Time, u float64) float64 {
	if n := peakOfHour(week, t); n > 0 && u > 0 {
		return float64(n) / DemandPerShard / u
	}
	return 0
}
