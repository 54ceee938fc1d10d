package controllers

import (
	"fmt"
	"time"
)

// waitError is "not ready yet": the pass ends and is retried after a delay,
// without the error backoff (a stream UPDATING, a throttled call).
type waitError struct {
	msg   string
	after time.Duration
}

func (e *waitError) Error() string { return e.msg }

func waitFor(after time.Duration, format string, args ...any) error {
	return &waitError{msg: fmt.Sprintf(format, args...), after: after}
}

// invalidSpecError is a mistake in the spec that AWS refused (a subnet that
// does not exist, a key that cannot be used): retrying the same request will
// not help, so it is reported and retried only after a long delay.
type invalidSpecError struct{ err error }

func (e *invalidSpecError) Error() string { return e.err.Error() }
func (e *invalidSpecError) Unwrap() error { return e.err }
