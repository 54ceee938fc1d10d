package scaling

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"
)

// fresh is a pass's Used with fresh data at the given rates.
func fresh(bytesPerSec, recordsPerSec float64) Used {
	return Used{NewestPoint: 1, BytesPerSec: bytesPerSec, RecordsPerSec: recordsPerSec}
}

func TestDemandShards(t *testing.T) {
	tests := []struct {
		name string
		used Used
		want float64
		ok   bool
	}{
		{"no fresh data is not zero load", Used{BytesPerSec: 5 * MiB}, 0, false},
		{"bytes bind", fresh(3*MiB, 1500), 3, true},
		{"records bind", fresh(1*MiB, 2500), 2.5, true},
		{"idle stream with data: zero", fresh(0, 0), 0, true},
	}
	for _, tc := range tests {
		if got, ok := demandShards(tc.used); got != tc.want || ok != tc.ok {
			t.Errorf("%s: %v, %v; want %v, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

func TestKeepWeek(t *testing.T) {
	now := now0.Add(25 * time.Minute) // 12:25
	hour := now0.Unix()               // 12:00
	h := func(back int) int64 { return hour - int64(back)*3600 }
	tests := []struct {
		name string
		prev []Rec
		used Used
		want []Rec
	}{
		{"fresh object, no data: none", nil, Used{}, []Rec{}},
		{"fresh object: this hour, hundredths of a shard rounded up", nil, fresh(2.501*MiB, 0), []Rec{{hour, 251}}},
		{"same hour: the higher stays", []Rec{{h(1), 90}, {hour, 400}}, fresh(3*MiB, 0), []Rec{{h(1), 90}, {hour, 400}}},
		{"same hour: a new high replaces it", []Rec{{hour, 100}}, fresh(3*MiB, 0), []Rec{{hour, 300}}},
		{"no data: nothing recorded, nothing lost", []Rec{{h(2), 7}, {hour, 5}}, Used{}, []Rec{{h(2), 7}, {hour, 5}}},
		{"the hour a week ago stays, older goes", []Rec{{h(170), 1}, {h(169), 2}, {h(168), 3}, {h(167), 4}}, Used{}, []Rec{{h(168), 3}, {h(167), 4}}},
		{"duplicates merged by the maximum, sorted", []Rec{{h(3), 5}, {h(5), 9}, {h(3), 8}, {h(3), 2}}, Used{}, []Rec{{h(5), 9}, {h(3), 8}}},
		{"a stamp off the hour is read as its hour", []Rec{{h(4) + 1799, 6}, {h(4), 3}}, Used{}, []Rec{{h(4), 6}}},
		{"clock went back: later hours merge into now's", []Rec{{h(1), 4}, {hour + 3600, 50}, {hour + 7200, 20}}, fresh(0.1*MiB, 0), []Rec{{h(1), 4}, {hour, 50}}},
		{"negative entries are not data", []Rec{{-5, 3}, {h(1), -1}, {h(2), 2}}, Used{}, []Rec{{h(2), 2}}},
	}
	for _, tc := range tests {
		got := keepWeek(slices.Clone(tc.prev), now, tc.used, weekHours)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s:\n got %v\nwant %v", tc.name, got, tc.want)
		}
	}
}

// TestKeepWeekBounded runs ten days of passes at random intervals with a
// clock that sometimes steps back: the week stays sorted, one entry an hour,
// at most weekHours+1, and the newest hour keeps the highest demand seen.
func TestKeepWeekBounded(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var week []Rec
	now := now0
	for range 30000 {
		step := time.Duration(r.IntN(90)) * time.Second
		if r.IntN(500) == 0 {
			step = -time.Duration(r.IntN(7200)) * time.Second
		}
		now = now.Add(step)
		week = keepWeek(week, now, fresh(float64(r.IntN(40))*MiB, 0), weekHours)
		if len(week) > weekHours+1 {
			t.Fatalf("at %v: %d entries", now, len(week))
		}
		for i := 1; i < len(week); i++ {
			if week[i].At <= week[i-1].At {
				t.Fatalf("at %v: not sorted or not unique: %v", now, week)
			}
		}
		if last := week[len(week)-1]; last.At != now.Truncate(time.Hour).Unix() {
			t.Fatalf("at %v: newest entry %v is not now's hour", now, last)
		}
	}
	if now.Sub(now0) < 9*24*time.Hour || len(week) != weekHours+1 {
		t.Fatalf("after %v: %d entries, want a full week (%d)", now.Sub(now0), len(week), weekHours+1)
	}
}

// TestWeekPeaksStatusSize states what a full week adds to status.scaling:
// 168 hours of a stream at 40 shards of demand (N = 4000) and of one at
// 10,000 (N = 1,000,000, the longest likely numbers).
func TestWeekPeaksStatusSize(t *testing.T) {
	empty, _ := json.Marshal(State{})
	for _, n := range []int32{4000, 1_000_000} {
		var week []Rec
		for i := range weekHours {
			week = append(week, Rec{At: now0.Add(time.Duration(i) * time.Hour).Unix(), N: n})
		}
		b, err := json.Marshal(State{WeekPeaks: week})
		if err != nil {
			t.Fatal(err)
		}
		added := len(b) - len(empty)
		t.Logf("168 entries of n=%d add %d bytes to status.scaling", n, added)
		if added > 168*30+len(`,"weekPeaks":[]`) {
			t.Fatalf("168 entries of n=%d add %d bytes, want at most 30 an entry", n, added)
		}
	}
}

func TestWeekPeaksRoundTrip(t *testing.T) {
	in, prev := baseInputs(now0, 15, 10), State{}
	// The rules planner reads the week too (oneOffTop): from a week it
	// keeps the week and now's hour.
	var week []Rec
	for i := range weekHours {
		week = append(week, Rec{At: now0.Add(time.Duration(i-weekHours) * time.Hour).Unix(), N: 100})
	}
	if _, rules := Decide(in, State{WeekPeaks: week}, now0); len(rules.WeekPeaks) != weekHours+1 || rules.WeekPeaks[0].At != now0.Add(-weekHours*time.Hour).Unix() {
		t.Fatalf("the rules planner kept %d hours from %v, want %d from a week before", len(rules.WeekPeaks), rules.WeekPeaks[0], weekHours+1)
	}
	in.Stream.Planner = PlannerHorizon
	_, next := Decide(in, prev, now0)
	if len(next.WeekPeaks) != 1 || next.WeekPeaks[0].At != now0.Unix() || next.WeekPeaks[0].N != 1049 {
		// 10 MiB/s in 1000-byte records: 10,486 records/s, 10.49 shards.
		t.Fatalf("a pass at 10 MiB/s recorded %v, want [{%d 1049}]", next.WeekPeaks, now0.Unix())
	}
	b, err := json.Marshal(next)
	if err != nil {
		t.Fatal(err)
	}
	var back State
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.WeekPeaks, next.WeekPeaks) {
		t.Fatalf("JSON round trip: %v, want %v", back.WeekPeaks, next.WeekPeaks)
	}
	if cp := next.DeepCopy(); !reflect.DeepEqual(cp.WeekPeaks, next.WeekPeaks) {
		t.Fatalf("DeepCopy: %v", cp.WeekPeaks)
	}
	// A fresh object without data records nothing.
	in.Metrics = StreamMetrics{}
	if _, st := Decide(in, State{}, now0); len(st.WeekPeaks) != 0 {
		t.Fatalf("no data: %v, want none", st.WeekPeaks)
	}
	// Both planners keep it (switching planners keeps the week).
	in = baseInputs(now0.Add(time.Hour), 15, 5)
	in.Stream.Planner = PlannerHorizon
	if _, st := Decide(in, next, now0.Add(time.Hour)); len(st.WeekPeaks) != 2 || st.WeekPeaks[0] != next.WeekPeaks[0] {
		t.Fatalf("horizon planner, an hour later: %v", st.WeekPeaks)
	}
}
