package sim

import (
	"cmp"
	"slices"

	"github.com/kdp-io/streamprocessor-operator/internal/scaling"
)

// EpisodeGap is the most minutes without loss inside one loss episode.
const EpisodeGap = 10

// Episode is a run of minutes in which the operator lost records (no
// lossless gap longer than EpisodeGap minutes), and what the stream held
// when it began.
type Episode struct {
	// Start and End are the first and last lossy minutes, from the
	// trace's start.
	Start, End int
	// LostPercent is the episode's lost records, of the whole trace's
	// demand (offered less accepted bytes; the model's records are all
	// one size).
	LostPercent float64
	// OpenAtStart is the open shard count in the first lossy minute;
	// HeldMinutes how long that count had been open before it.
	OpenAtStart int32
	HeldMinutes int
	// CalmMiBps is the lowest load of the EpisodeGap minutes before Start
	// (where the rise began); PeakMiBps the episode's highest load.
	CalmMiBps, PeakMiBps float64
	// FirstCall is the first minute at whose end a reshard was accepted
	// from EpisodeGap minutes before Start to End (-1: none), and CallTo
	// its target.
	FirstCall int
	CallTo    int32
}

// LossEpisodes splits a timeline's lossy minutes into episodes, largest
// loss first (ties: earlier first).
func LossEpisodes(tl []Minute) []Episode {
	var total float64
	for _, m := range tl {
		total += m.OfferedMiBps
	}
	var eps []Episode
	for i, m := range tl {
		lost := m.OfferedMiBps - m.AcceptedMiBps
		if !(lost > 1e-9) || total == 0 {
			continue
		}
		if n := len(eps); n > 0 && i-eps[n-1].End <= EpisodeGap {
			eps[n-1].End = i
			eps[n-1].LostPercent += 100 * lost / total
			eps[n-1].PeakMiBps = max(eps[n-1].PeakMiBps, m.OfferedMiBps)
			continue
		}
		eps = append(eps, newEpisode(tl, i, 100*lost/total))
	}
	for k := range eps {
		eps[k].FirstCall, eps[k].CallTo = firstCall(tl, max(eps[k].Start-EpisodeGap, 0), eps[k].End)
	}
	sortEpisodes(eps)
	return eps
}

// newEpisode is the episode that begins at minute i with lost percent.
func newEpisode(tl []Minute, i int, lost float64) Episode {
	e := Episode{Start: i, End: i, LostPercent: lost, OpenAtStart: tl[i].OpenShards, PeakMiBps: tl[i].OfferedMiBps, CalmMiBps: tl[i].OfferedMiBps}
	for j := i - 1; j >= 0 && tl[j].OpenShards == e.OpenAtStart; j-- {
		e.HeldMinutes++
	}
	for j := max(i-EpisodeGap, 0); j < i; j++ {
		e.CalmMiBps = min(e.CalmMiBps, tl[j].OfferedMiBps)
	}
	return e
}

// firstCall is the first accepted reshard in minutes [from, to] and its
// target, or -1 and 0.
func firstCall(tl []Minute, from, to int) (int, int32) {
	for j := from; j <= to; j++ {
		if tl[j].ReshardTo > 0 {
			return j, tl[j].ReshardTo
		}
	}
	return -1, 0
}

// sortEpisodes orders episodes by loss, largest first, then by start.
func sortEpisodes(eps []Episode) {
	slices.SortFunc(eps, func(a, b Episode) int {
		if c := cmp.Compare(b.LostPercent, a.LostPercent); c != 0 {
			return c
		}
		return cmp.Compare(a.Start, b.Start)
	})
}

// OperatorEpisodes runs the operator on t (as the bench does) and returns
// its result and its loss episodes. It is for finding where a trace's loss
// comes from; it decides nothing.
func OperatorEpisodes(cfg Config, t Trace) (Result, []Episode) {
	cfg = cfg.withDefaults()
	cfg.Timeline = true
	res := Run(cfg, t, NewOperator(cfg, scaling.MaxShardsPerStream))
	return res, LossEpisodes(res.Timeline)
}
