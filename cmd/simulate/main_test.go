package main

import (
	"strings"
	"testing"
)

// TestOneModeAtATime: two modes on one command line are an error naming
// both, whichever they are (run would otherwise pick one silently).
func TestOneModeAtATime(t *testing.T) {
	for _, args := range [][]string{
		{"-bench", "-excess"},
		{"-excess", "-merge-floor"},
		{"-episodes", "-refusals"},
		{"-trace", "x.csv", "-onset"},
		{"-next-size", "-onset-budget"},
		{"-frontier", "-first-onset-budget"},
	} {
		_, err := parse(args...)
		if err == nil || !strings.Contains(err.Error(), "one mode at a time") {
			t.Errorf("%q: error %v, want one mode at a time", args, err)
			continue
		}
		for _, a := range args {
			if strings.HasPrefix(a, "-") && !strings.Contains(err.Error(), a) {
				t.Errorf("%q: error %q does not name %s", args, err, a)
			}
		}
	}
	for _, args := range [][]string{{"-bench"}, {"-merge-floor"}, {"-judge"}, {"-timeline", "-only", "ec2"}, {"-frontier", "-frontier-lag"}} {
		if _, err := parse(args...); err != nil {
			t.Errorf("%q: %v", args, err)
		}
	}
}
