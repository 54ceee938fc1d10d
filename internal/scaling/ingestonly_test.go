package scaling

import (
	"strings"
	"testing"
	"time"
)

// ingestAhead is baseInputs at 10 MiB/s with AWS/Kinesis's newest lag
// minutes missing (published late) and the producers' IngestBytes of every
// minute, the newest lag ones at newMiBps.
func ingestAhead(lag int, newMiBps float64) Inputs {
	in := baseInputs(now0, 15, 10)
	m := &in.Metrics
	m.IncomingBytes = m.IncomingBytes[:len(m.IncomingBytes)-lag]
	m.IncomingRecords = m.IncomingRecords[:len(m.IncomingRecords)-lag]
	m.WriteThrottled = m.WriteThrottled[:len(m.WriteThrottled)-lag]
	m.IngestBytes = series(now0, 14, 10*MiB*60)
	for i := len(m.IngestBytes) - lag; i < len(m.IngestBytes); i++ {
		m.IngestBytes[i].Value = newMiBps * MiB * 60
	}
	return in
}

// TestDecideIngestAheadOfKinesis: a minute the producers have published and
// AWS/Kinesis not yet counts for the need at once, records at the Kinesis
// minutes' bytes per record; it only raises the need: a lower one (a calm
// minute) leaves the count to the Kinesis minutes.
func TestDecideIngestAheadOfKinesis(t *testing.T) {
	tests := []struct {
		name     string
		lag      int
		newMiBps float64
		want     int32
		reason   string
	}{
		{"surge seen before Kinesis shows it", 2, 20, 30, "scaling up 15→30"},
		{"newest minute alone", 1, 30, 45, "scaling up 15→45"},
		{"steady: same count", 2, 10, 15, "holding at 15"},
		{"calm producer minutes do not bring it down", 3, 1, 15, "holding at 15"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, _ := Decide(ingestAhead(tc.lag, tc.newMiBps), State{}, now0)
			if d.Shards != tc.want || !strings.Contains(d.ShardReason, tc.reason) {
				t.Fatalf("shards %d (%s); want %d, %q", d.Shards, d.ShardReason, tc.want, tc.reason)
			}
			if tc.newMiBps > 10 {
				if got, want := d.Used.NewestPoint, now0.Add(-time.Minute).Unix(); got != want {
					t.Errorf("newest point %d; want the minute just ended, %d", got, want)
				}
				if r := d.Used.RecordsPerSec; r < 0.99*tc.newMiBps*MiB/1000 || r > 1.01*tc.newMiBps*MiB/1000 {
					t.Errorf("records/s %.0f; want the bytes at 1000 bytes a record, %.0f", r, tc.newMiBps*MiB/1000)
				}
			}
		})
	}
}

// TestIngestRunningMinuteIgnored: the minute still running (its 10-s
// points so far) is not a load: a pass 20 s into it sees the minutes that
// ended only.
func TestIngestRunningMinuteIgnored(t *testing.T) {
	in := ingestAhead(2, 10)
	in.Metrics.IngestBytes = append(in.Metrics.IngestBytes, Point{Time: now0, Value: 40 * MiB * 60})
	if d, _ := Decide(in, State{}, now0.Add(20*time.Second)); d.Shards != 15 {
		t.Fatalf("shards %d (%s); want 15: the running minute is partial", d.Shards, d.ShardReason)
	}
}

// TestIngestOnlyNeedsKinesis: with no AWS/Kinesis minute the producers'
// minutes alone are not planned from (records per byte unknown, and the
// stream's own data is missing): the target is held.
func TestIngestOnlyNeedsKinesis(t *testing.T) {
	in := ingestAhead(14, 30)
	d, _ := Decide(in, State{}, now0)
	if !d.Held || d.Shards != 15 {
		t.Fatalf("shards %d held %v (%s); want held at 15", d.Shards, d.Held, d.ShardReason)
	}
}

// TestWithIngestOnlyOnePerMinute: a second point for a minute already
// appended, or one older than it, is left out; the loads stay one per
// minute, oldest first.
func TestWithIngestOnlyOnePerMinute(t *testing.T) {
	kin := []minuteLoad{{at: now0.Add(-4 * time.Minute), bytes: 1000, recs: 1}}
	ingest := []Point{
		{Time: now0.Add(-3 * time.Minute), Value: 60 * 2000},
		{Time: now0.Add(-2 * time.Minute), Value: 60 * 3000},
		{Time: now0.Add(-3 * time.Minute), Value: 60 * 9000}, // out of order
		{Time: now0.Add(-2 * time.Minute), Value: 60 * 9000}, // the same minute again
		{Time: now0.Add(-1 * time.Minute), Value: 60 * 4000},
	}
	got := withIngestOnly(kin, ingest, now0)
	want := []float64{1000, 2000, 3000, 4000}
	if len(got) != len(want) {
		t.Fatalf("%d loads, want %d: %+v", len(got), len(want), got)
	}
	for i, l := range got {
		if l.bytes != want[i] || (i > 0 && !l.at.After(got[i-1].at)) {
			t.Errorf("load %d: %.0f bytes/s at %v, want %.0f, after the one before", i, l.bytes, l.at, want[i])
		}
	}
}
