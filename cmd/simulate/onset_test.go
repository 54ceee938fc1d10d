package main

import (
	"strings"
	"testing"
)

// TestFirstOnsetStrideFlag: -first-onset-stride defaults to 30; below 1 it
// is an error naming the flag.
func TestFirstOnsetStrideFlag(t *testing.T) {
	if o, err := parse("-onset"); err != nil || o.firstOnsetStride != 30 {
		t.Errorf("default: stride %d, error %v; want 30", o.firstOnsetStride, err)
	}
	if o, err := parse("-onset", "-first-onset-stride", "1"); err != nil || o.firstOnsetStride != 1 {
		t.Errorf("-first-onset-stride 1: stride %d, error %v", o.firstOnsetStride, err)
	}
	for _, v := range []string{"0", "-3"} {
		if _, err := parse("-onset", "-first-onset-stride", v); err == nil || !strings.Contains(err.Error(), "-first-onset-stride") {
			t.Errorf("-first-onset-stride %s: error %v, want one naming the flag", v, err)
		}
	}
}
