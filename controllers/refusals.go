package controllers

import (
	"slices"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// refusals remembers the steps whose AWS call was refused as a spec or
// permission mistake, per object generation, so that a pass run for another
// reason (a reshard being polled, a task starting) does not make the refused
// call again before the long retry. A spec change (a new generation) or the
// retry lifts the refusal; an operator restart forgets it, which costs one
// call.
type refusals struct {
	mu sync.Mutex
	m  map[refusalKey]refusedCall
}

type refusalKey struct {
	uid  types.UID
	step string
}

type refusedCall struct {
	generation int64
	until      time.Time
	err        error
}

// active returns the refusal's error if the step was refused for this
// generation and the retry time has not come; otherwise it forgets the step
// and returns nil.
func (f *refusals) active(k refusalKey, generation int64, now time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.m[k]
	if !ok {
		return nil
	}
	if r.generation == generation && now.Before(r.until) {
		return r.err
	}
	delete(f.m, k)
	return nil
}

// record remembers that the step was refused with err until until.
func (f *refusals) record(k refusalKey, generation int64, until time.Time, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.m == nil {
		f.m = map[refusalKey]refusedCall{}
	}
	f.m[k] = refusedCall{generation: generation, until: until, err: err}
}

// forget drops every step of the object, when its refusal no longer holds
// (the step succeeded) or the object is gone.
func (f *refusals) forget(uid types.UID, steps ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for k := range f.m {
		if k.uid == uid && (len(steps) == 0 || slices.Contains(steps, k.step)) {
			delete(f.m, k)
		}
	}
}
