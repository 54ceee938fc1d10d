package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// MaxPacingWait is the longest a reconcile waits inside an AWS call for its
// operation's client-side token. A longer wait would hold one of the few
// workers while other objects' passes could go on: the call fails instead
// with a *pacedError, the pass requeues after the delay (RequeueAfter), and
// the token stays reserved for that object until then, so objects get their
// turns in the order they asked and no token is wasted.
const MaxPacingWait = 250 * time.Millisecond

// heldTokenExpiry drops a reserved token whose object never came back (it
// was deleted, or its next pass made other calls).
const heldTokenExpiry = 10 * time.Minute

// pacedError is an AWS call not made because its operation's client-side
// pace would have made it wait longer than MaxPacingWait.
type pacedError struct {
	op    string
	after time.Duration
}

func (e *pacedError) Error() string {
	return fmt.Sprintf("%s paced on the operator's side (account rate): next turn in %s", e.op, e.after.Round(time.Millisecond))
}

// pacedDelay returns the delay of a call that err says was paced.
func pacedDelay(err error) (time.Duration, bool) {
	var p *pacedError
	if errors.As(err, &p) {
		return p.after, true
	}
	return 0, false
}

type pacingKeyType struct{}

// withPacingKey marks the AWS calls made with ctx as the reconcile of key:
// they never wait longer than MaxPacingWait for a token. An empty key (the
// metrics batcher, whose one fetch serves every object) waits.
func withPacingKey(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, pacingKeyType{}, key)
}

func pacingKeyOf(ctx context.Context) string {
	k, _ := ctx.Value(pacingKeyType{}).(string)
	return k
}

// reserveFor returns how long key must wait for a token: the rest of the
// wait of a token already reserved for it (used, and forgotten, once that
// is at most maxWait), or the wait of a new one — reserved for key when
// longer than maxWait.
func (l *limiter) reserveFor(key string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if at, ok := l.held[key]; ok {
		if d := at.Sub(now); d > l.maxWait {
			return d
		}
		delete(l.held, key)
		return max(0, at.Sub(now))
	}
	d := l.take(now)
	if d > l.maxWait {
		l.expireHeld(now)
		l.held[key] = now.Add(d)
	}
	return d
}

// admit passes a call through the strict bucket at the moment it is made:
// 0 when it may go now, else how long until it may. The reservations keep
// the objects' turns in order and spread their requeues, but a turn used
// late (the requeue came after it, the workers were busy) could bunch up
// with the turns after it and exceed the rate; this bucket never can. A
// keyed caller told to wait longer than maxWait keeps its turn (held) for
// when it comes back.
func (l *limiter) admit(key string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if !l.callLast.IsZero() {
		l.callTokens = min(l.rate.Burst, l.callTokens+now.Sub(l.callLast).Seconds()*l.rate.PerSecond)
	}
	l.callLast = now
	if l.callTokens >= 1 {
		l.callTokens--
		return 0
	}
	d := time.Duration((1 - l.callTokens) / l.rate.PerSecond * float64(time.Second))
	if key != "" && d > l.maxWait {
		l.held[key] = now.Add(d)
	}
	return d
}

// expireHeld forgets tokens reserved long ago (l.mu held).
func (l *limiter) expireHeld(now time.Time) {
	for k, at := range l.held {
		if now.Sub(at) > heldTokenExpiry {
			delete(l.held, k)
		}
	}
}
