package controllers

import (
	"encoding/json"
	"reflect"
	"testing"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
	"github.com/kdp-io/streamprocessor-operator/internal/scaling"
)

// TestScalingStateSurvivesStatus: every list of the policy's State goes
// into status.scaling and comes back after a restart (JSON, as the API
// server stores it), the week's demand peaks included.
func TestScalingStateSurvivesStatus(t *testing.T) {
	in := scaling.State{
		Shards:     []scaling.Rec{{At: 1, N: 2}},
		ShardPeaks: []scaling.Rec{{At: 3600, N: 4}},
		Producer:   []scaling.Rec{{At: 5, N: 6}},
		Consumer:   []scaling.Rec{{At: 7, N: 8}},
		WeekPeaks:  []scaling.Rec{{At: 0, N: 150}, {At: 3600, N: 1049}},
		MergeFrom:  64, MergeSince: 7200, UpdatingSeen: 7260,
	}
	b, err := json.Marshal(toAPIState(in))
	if err != nil {
		t.Fatal(err)
	}
	var stored streamingv1alpha1.ScalingState
	if err := json.Unmarshal(b, &stored); err != nil {
		t.Fatal(err)
	}
	if got := fromAPIState(&stored); !reflect.DeepEqual(got, in) {
		t.Fatalf("after status: %+v\nwant %+v", got, in)
	}
}
