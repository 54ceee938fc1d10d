package scaling

import (
	"slices"
	"time"
)

// cutShortNeed is the need the last reshard call was sized from (the
// record of the call's minute), read at a pass that sees the stream ACTIVE
// after that call kept it UPDATING for climbStep or longer (updatingSeen,
// the newest pass that saw it UPDATING, in Unix seconds). When the need is
// above the open count the call fell short of it (the 2× law of one call)
// and the climb it began is not finished. 0 otherwise: no call, the stream
// UPDATING (no call can be made), ACTIVE again sooner, or the call's record
// gone from the window.
//
// The up step reads the newest minutes only (upWindow, 7 minutes), so it
// goes on with a climb at the next ACTIVE pass only while the minute that
// set the need is still among them. The rule stack was measured with calls
// that land within climbStep; a longer UPDATING (a larger model time, an
// AWS that takes longer) forgot a need no call had met yet. Waiting for the
// observed ACTIVE instead of an assumed length keeps that need; with the
// stream ACTIVE again within climbStep nothing changes.
func cutShortNeed(in Inputs, recs []Rec, updatingSeen int64) int32 {
	if in.StreamUpdating || len(in.ReshardHistory) == 0 {
		return 0
	}
	last := slices.MaxFunc(in.ReshardHistory, time.Time.Compare)
	if updatingSeen-last.Unix() < int64(climbStep/time.Second) {
		return 0
	}
	for _, r := range recs {
		if r.At/60 == last.Unix()/60 {
			return r.N
		}
	}
	return 0
}
