package capacity

import (
	"slices"
	"time"
)

// HeldHour is what a provisioned stream held in one clock hour, as the
// operator observed it: the most open shards it saw in the hour while the
// stream was provisioned. Auto prices such hours of provisioned mode at
// this count instead of at its model of a scaler (EstimateWindow): the
// operator's scaler keeps shards the model does not know of — after a
// spike, the calls it would need to climb back keep it from coming down
// for up to a day (docs/scaling.md, "Capacity modes").
type HeldHour struct {
	Start  time.Time // the hour's start
	Shards int32
}

// RecordHeld returns held with one observation at now added: when the
// stream is provisioned with open shards, the hour of now holds at least
// open; hours older than a week are dropped. Oldest first; held is not
// modified.
func RecordHeld(held []HeldHour, now time.Time, mode Mode, open int32) []HeldHour {
	hour := now.Truncate(time.Hour)
	out := make([]HeldHour, 0, len(held)+1)
	for _, h := range held {
		if now.Sub(h.Start) < Week+time.Hour && !h.Start.After(hour) {
			out = append(out, h)
		}
	}
	if mode == OnDemand || open < 1 {
		return out
	}
	if i := slices.IndexFunc(out, func(h HeldHour) bool { return h.Start.Equal(hour) }); i >= 0 {
		out[i].Shards = max(out[i].Shards, open)
		return out
	}
	out = append(out, HeldHour{Start: hour, Shards: open})
	slices.SortFunc(out, func(a, b HeldHour) int { return a.Start.Compare(b.Start) })
	return out
}

// heldByHour maps the hours of held to their counts.
func heldByHour(held []HeldHour) map[time.Time]int32 {
	m := make(map[time.Time]int32, len(held))
	for _, h := range held {
		m[h.Start.Truncate(time.Hour)] = max(m[h.Start.Truncate(time.Hour)], h.Shards)
	}
	return m
}
