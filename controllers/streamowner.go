package controllers

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"k8s.io/apimachinery/pkg/types"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
	kinesisaws "github.com/kdp-io/streamprocessor-operator/internal/aws/kinesis"
)

// streamOwners remembers, per stream, the tags last read and found to name
// the StreamProcessor that read them, so that a pass in the steady state
// needs no ListTagsForStream (5 calls a second per account: read on every
// pass, it capped a 60 s interval at about 270 objects). What it remembers
// never decides anything that changes the stream: a pass whose plan changes
// the stream reads the tags again and plans again (observeAndPlan).
//
// An entry holds for one stream ARN and creation time (a stream deleted and
// created again under the same name is read again), for one object uid, and
// until its recheck is due (recheckDue: once per drift recheck interval, at
// a point of it that is the object's own). It lives in memory only: a
// restarted operator reads every stream's tags once. Entries past their
// recheck are swept at most once per recheck interval (sweepDue), so the
// memory holds at most the streams read in the last two intervals, and a
// read costs O(1) but for the one read an interval that sweeps. Safe for
// concurrent use; a nil *streamOwners remembers nothing.
type streamOwners struct {
	mu      sync.Mutex
	m       map[string]ownerMemory // by stream ARN
	sweptAt time.Time              // the last sweep; zero: none yet
}

// ownerMemory is the tags of one stream as read at readAt.
type ownerMemory struct {
	uid     types.UID
	created time.Time
	tags    map[string]string
	readAt  time.Time
}

// due reports whether m's recheck moment (recheckDue) has come at now.
func (m ownerMemory) due(now time.Time, every time.Duration) bool {
	return recheckDue(m.readAt, true, now, every, recheckPhase(m.uid, recheckStreamOwner, every))
}

func newStreamOwners() *streamOwners { return &streamOwners{m: map[string]ownerMemory{}} }

// recall returns the tags remembered for the stream d as sp's, if they are
// still to be trusted at now.
func (s *streamOwners) recall(sp *streamingv1alpha1.StreamProcessor, d ktypes.StreamDescriptionSummary, now time.Time, every time.Duration) (map[string]string, bool) {
	arn, created := aws.ToString(d.StreamARN), aws.ToTime(d.StreamCreationTimestamp)
	if s == nil || arn == "" || created.IsZero() {
		return nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.m[arn]
	if !ok || m.uid != sp.UID || !m.created.Equal(created) || m.due(now, every) {
		return nil, false
	}
	return maps.Clone(m.tags), true
}

// remember keeps the tags of o, read in this pass at now, when they name sp
// as the owner; forget drops what is remembered of o's stream. Entries past
// their recheck are dropped on the way when a sweep is due.
func (s *streamOwners) remember(sp *streamingv1alpha1.StreamProcessor, o streamObservation, now time.Time, every time.Duration) {
	arn, created := aws.ToString(o.summary.StreamARN), aws.ToTime(o.summary.StreamCreationTimestamp)
	if s == nil || arn == "" || created.IsZero() || o.owner.Ownership != Ours {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if sweepDue(s.sweptAt, now, every) {
		s.sweep(now, every)
	}
	s.m[arn] = ownerMemory{uid: sp.UID, created: created, tags: maps.Clone(o.tags), readAt: now}
}

// sweepDue reports whether the stale entries are to be swept at now: on the
// first remember, then once every interval (every read with no interval,
// when the memory holds at most one entry). A clock set back sweeps too.
// Pure.
func sweepDue(sweptAt, now time.Time, every time.Duration) bool {
	return sweptAt.IsZero() || !now.Before(sweptAt.Add(every)) || now.Before(sweptAt)
}

// sweep drops the entries whose recheck has come at now. Every entry's
// recheck comes at most an interval after its read, and sweeps are at most
// an interval apart, so none outlives its read by more than two intervals.
// The caller holds s.mu.
func (s *streamOwners) sweep(now time.Time, every time.Duration) {
	for k, m := range s.m {
		if m.due(now, every) {
			delete(s.m, k)
		}
	}
	s.sweptAt = now
}

func (s *streamOwners) forget(o streamObservation) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, aws.ToString(o.summary.StreamARN))
}

// observeAndPlan observes and plans one pass. When the plan changes the
// stream (tags, retention, encryption, mode, shards) and the stream's tags
// came from memory, it reads them again and plans again on what they say
// now: nothing is done to a stream on the word of a remembered owner. A
// pass that read the tags and changes nothing on the stream remembers them;
// one that changes the stream forgets them, as its change may alter them.
func (r *StreamProcessorReconciler) observeAndPlan(ctx context.Context, sp *streamingv1alpha1.StreamProcessor, names Names, c Clients) plan {
	now := r.Clock.Now()
	obs := r.observe(ctx, sp, names, c)
	pl := planPass(sp, obs, now, r.passSettings())
	if obs.stream.remembered && changesStream(pl.actions) {
		obs.stream = r.readStreamOwner(ctx, sp, c.Kinesis, names.Stream, obs.stream)
		pl = planPass(sp, obs, now, r.passSettings())
	}
	switch {
	case changesStream(pl.actions):
		r.owners.forget(obs.stream)
	case !obs.stream.remembered && obs.stream.err == nil:
		r.owners.remember(sp, obs.stream, now, r.driftRecheck())
	}
	return pl
}

// changesStream reports whether any action changes the stream.
func changesStream(actions []action) bool {
	for _, a := range actions {
		if a.part() == streamPart {
			return true
		}
	}
	return false
}

// readStreamOwner reads the tags of the stream described in o and decides
// its owner: sp, another StreamProcessor (and whether that one still
// exists), or nobody.
func (r *StreamProcessorReconciler) readStreamOwner(ctx context.Context, sp *streamingv1alpha1.StreamProcessor, k KinesisAPI, name string, o streamObservation) streamObservation {
	o.remembered, o.ownerGone = false, false
	if o.tags, o.err = (kinesisaws.Streams{API: k}).Tags(ctx, name); o.err != nil {
		return o
	}
	o.owner = ownerOf(sp, o.tags)
	if o.owner.Ownership == Others {
		var err error
		if o.ownerGone, err = r.ownerGone(ctx, o.owner); err != nil {
			o.err = fmt.Errorf("look up the owner %s of stream %q: %w", o.owner, name, err)
		}
	}
	return o
}
