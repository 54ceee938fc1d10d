package kcl

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/kdp-io/streamprocessor-operator/internal/awsconfig"
	"github.com/kdp-io/streamprocessor-operator/internal/testenv"
)

// The lease state machine against DynamoDB (dynalite): each step is a
// conditional write that succeeds or fails with ErrLeaseConflict, and leaves
// the row in the stated KCL-schema state.
func TestLeaseStateMachine(t *testing.T) {
	testenv.Require(t, testenv.DynamoDB)
	ctx := context.Background()
	cfg, err := awsconfig.Load(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	db := dynamodb.NewFromConfig(cfg)
	s := &LeaseStore{DB: db, Table: testenv.UniqueName("kcl-lease")}
	t.Cleanup(func() { _, _ = db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: &s.Table}) })
	if err := s.EnsureTable(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.EnsureTable(ctx); err != nil {
		t.Fatalf("EnsureTable on an existing table: %v", err)
	}
	created, err := s.Create(ctx, Lease{Key: "shardId-000000000002", Checkpoint: ExtendedSequenceNumber{SequenceNumber: CheckpointTrimHorizon},
		ParentShardIDs: []string{"shardId-000000000001", "shardId-000000000000"}})
	if err != nil || !created {
		t.Fatalf("create: %v, %v", created, err)
	}
	again, err := s.Create(ctx, Lease{Key: "shardId-000000000002", Checkpoint: ExtendedSequenceNumber{SequenceNumber: CheckpointLatest}})
	if err != nil || again {
		t.Fatalf("second create of the same lease: created=%v err=%v; want false, nil", again, err)
	}

	// at reads the lease before each step: what a worker would have observed.
	at := func() Lease {
		ls, err := s.List(ctx)
		if err != nil || len(ls) != 1 {
			t.Fatalf("list: %v %v", ls, err)
		}
		return ls[0]
	}
	with := func(l Lease, owner string, counter int64) Lease { l.Owner, l.Counter = owner, counter; return l }
	cp := ExtendedSequenceNumber{SequenceNumber: "49590338271490256608559692538361571095921575989136588898", SubSequenceNumber: 7}

	steps := []struct {
		name     string
		do       func(cur Lease) error
		conflict bool
		want     Lease // Key and ParentShardIDs are checked once, below
	}{
		{"take unowned", func(l Lease) error { _, err := s.Take(ctx, l, "A"); return err }, false,
			Lease{Owner: "A", Counter: 1, OwnerSwitchesSinceCheckpoint: 1, Checkpoint: ExtendedSequenceNumber{SequenceNumber: CheckpointTrimHorizon}}},
		{"take with a stale counter conflicts", func(l Lease) error { _, err := s.Take(ctx, with(l, "", 0), "B"); return err }, true,
			Lease{Owner: "A", Counter: 1, OwnerSwitchesSinceCheckpoint: 1, Checkpoint: ExtendedSequenceNumber{SequenceNumber: CheckpointTrimHorizon}}},
		{"renew by owner", func(l Lease) error { _, err := s.Renew(ctx, l); return err }, false,
			Lease{Owner: "A", Counter: 2, OwnerSwitchesSinceCheckpoint: 1, Checkpoint: ExtendedSequenceNumber{SequenceNumber: CheckpointTrimHorizon}}},
		{"renew by non-owner conflicts", func(l Lease) error { _, err := s.Renew(ctx, with(l, "B", l.Counter)); return err }, true,
			Lease{Owner: "A", Counter: 2, OwnerSwitchesSinceCheckpoint: 1, Checkpoint: ExtendedSequenceNumber{SequenceNumber: CheckpointTrimHorizon}}},
		{"renew with a stale counter conflicts", func(l Lease) error { _, err := s.Renew(ctx, with(l, "A", 1)); return err }, true,
			Lease{Owner: "A", Counter: 2, OwnerSwitchesSinceCheckpoint: 1, Checkpoint: ExtendedSequenceNumber{SequenceNumber: CheckpointTrimHorizon}}},
		{"checkpoint by owner resets owner switches", func(l Lease) error { _, err := s.Checkpoint(ctx, l, cp); return err }, false,
			Lease{Owner: "A", Counter: 3, OwnerSwitchesSinceCheckpoint: 0, Checkpoint: cp}},
		{"steal (take of an owned lease) by B", func(l Lease) error { _, err := s.Take(ctx, l, "B"); return err }, false,
			Lease{Owner: "B", Counter: 4, OwnerSwitchesSinceCheckpoint: 1, Checkpoint: cp}},
		{"zombie A renews with its old counter: conflict", func(l Lease) error { _, err := s.Renew(ctx, with(l, "A", 3)); return err }, true,
			Lease{Owner: "B", Counter: 4, OwnerSwitchesSinceCheckpoint: 1, Checkpoint: cp}},
		{"zombie A checkpoints: conflict, checkpoint unchanged", func(l Lease) error {
			_, err := s.Checkpoint(ctx, with(l, "A", 3), ExtendedSequenceNumber{SequenceNumber: CheckpointShardEnd})
			return err
		}, true, Lease{Owner: "B", Counter: 4, OwnerSwitchesSinceCheckpoint: 1, Checkpoint: cp}},
		{"release by non-owner conflicts", func(l Lease) error { return s.Release(ctx, with(l, "A", l.Counter)) }, true,
			Lease{Owner: "B", Counter: 4, OwnerSwitchesSinceCheckpoint: 1, Checkpoint: cp}},
		{"release by owner removes leaseOwner", func(l Lease) error { return s.Release(ctx, l) }, false,
			Lease{Owner: "", Counter: 5, OwnerSwitchesSinceCheckpoint: 1, Checkpoint: cp}},
		{"take of the released (expired-or-free) lease by A", func(l Lease) error { _, err := s.Take(ctx, l, "A"); return err }, false,
			Lease{Owner: "A", Counter: 6, OwnerSwitchesSinceCheckpoint: 2, Checkpoint: cp}},
		{"delete of an unfinished lease conflicts", func(l Lease) error { return s.DeleteFinished(ctx, l.Key) }, true,
			Lease{Owner: "A", Counter: 6, OwnerSwitchesSinceCheckpoint: 2, Checkpoint: cp}},
		{"checkpoint SHARD_END", func(l Lease) error {
			_, err := s.Checkpoint(ctx, l, ExtendedSequenceNumber{SequenceNumber: CheckpointShardEnd})
			return err
		}, false, Lease{Owner: "A", Counter: 7, Checkpoint: ExtendedSequenceNumber{SequenceNumber: CheckpointShardEnd}}},
	}
	for _, st := range steps {
		err := st.do(at())
		switch {
		case st.conflict && !errors.Is(err, ErrLeaseConflict):
			t.Fatalf("%s: err = %v, want ErrLeaseConflict", st.name, err)
		case !st.conflict && err != nil:
			t.Fatalf("%s: %v", st.name, err)
		}
		got := at()
		if got.Owner != st.want.Owner || got.Counter != st.want.Counter || got.Checkpoint != st.want.Checkpoint ||
			got.OwnerSwitchesSinceCheckpoint != st.want.OwnerSwitchesSinceCheckpoint {
			t.Fatalf("%s: lease = %+v, want %+v", st.name, got, st.want)
		}
	}
	l := at()
	if len(l.ParentShardIDs) != 2 || l.ParentShardIDs[0] != "shardId-000000000000" {
		t.Errorf("parentShardIds = %v, want both parents", l.ParentShardIDs)
	}
	if err := s.DeleteFinished(ctx, l.Key); err != nil {
		t.Fatalf("delete of a finished lease: %v", err)
	}
}

// Expiry is judged by a counter standing still on the observer's own clock.
func TestExpiryTracker(t *testing.T) {
	t0 := time.Unix(1000, 0)
	d := 10 * time.Second
	l := Lease{Key: "s", Owner: "A", Counter: 5}
	var tr expiryTracker
	tests := []struct {
		name    string
		observe *Lease
		at      time.Duration
		want    bool
	}{
		{"first sight is never expired", &l, 0, false},
		{"unchanged for less than the duration", &l, 9 * time.Second, false},
		{"unchanged for longer than the duration", &l, 11 * time.Second, true},
		{"renewed (counter moved): fresh again", &Lease{Key: "s", Owner: "A", Counter: 6}, 12 * time.Second, false},
		{"still fresh within the duration of the renewal", &Lease{Key: "s", Owner: "A", Counter: 6}, 21 * time.Second, false},
		{"expired again after the duration", &Lease{Key: "s", Owner: "A", Counter: 6}, 23 * time.Second, true},
	}
	for _, tt := range tests {
		tr.observe([]Lease{*tt.observe}, t0.Add(tt.at))
		if got := tr.expired(*tt.observe, t0.Add(tt.at), d); got != tt.want {
			t.Errorf("%s: expired = %v, want %v", tt.name, got, tt.want)
		}
	}
	if tr.expired(Lease{Key: "never-seen", Counter: 1}, t0.Add(time.Hour), d) {
		t.Error("a lease never observed counts as expired")
	}
}
