package sim

import (
	"reflect"
	"testing"
)

// TestLossEpisodes: two lossy runs split by a gap longer than EpisodeGap,
// and one whose lossless minute is within it; each says what was open, for
// how long, the calm level, the peak and the first call.
func TestLossEpisodes(t *testing.T) {
	row := func(off, acc float64, open, to int32) Minute {
		return Minute{OfferedMiBps: off, AcceptedMiBps: acc, OpenShards: open, ReshardTo: to}
	}
	var tl []Minute
	// Minutes 0-2: calm at 1 shard; 3-4 lose (a call 1→2 at the end of 3);
	// 5 lossless; 6 loses at 2.
	tl = append(tl, row(0.1, 0.1, 1, 0), row(0.2, 0.2, 1, 0), row(0.5, 0.5, 1, 0))
	tl = append(tl, row(1.5, 1, 1, 2), row(2, 1, 1, 0), row(1, 1, 2, 0), row(2.5, 2, 2, 0))
	// Minutes 7-18 calm at 2 (12 minutes: longer than the gap); 19 loses
	// more than 3-6 did, so it comes first though it started later.
	for range 12 {
		tl = append(tl, row(0.1, 0.1, 2, 0))
	}
	tl = append(tl, row(5, 2, 2, 0))
	var total float64
	for _, m := range tl {
		total += m.OfferedMiBps
	}
	got := LossEpisodes(tl)
	want := []Episode{
		{Start: 19, End: 19, LostPercent: 100 * 3 / total, OpenAtStart: 2, HeldMinutes: 14, CalmMiBps: 0.1, PeakMiBps: 5, FirstCall: -1},
		{Start: 3, End: 6, LostPercent: 100 * 2 / total, OpenAtStart: 1, HeldMinutes: 3, CalmMiBps: 0.1, PeakMiBps: 2.5, FirstCall: 3, CallTo: 2},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d episodes %+v, want %+v", len(got), got, want)
	}
	for i := range want {
		g, w := got[i], want[i]
		if !near(g.LostPercent, w.LostPercent) {
			t.Errorf("episode %d: lost %v, want %v", i, g.LostPercent, w.LostPercent)
		}
		g.LostPercent = w.LostPercent
		if !reflect.DeepEqual(g, w) {
			t.Errorf("episode %d: got %+v, want %+v", i, g, w)
		}
	}
}
