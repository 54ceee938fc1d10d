package main

import (
	"strings"
	"testing"
	"time"

	"github.com/kdp-io/streamprocessor-operator/internal/sim"
)

// TestTimelineFlags: -from and -to take a time or a minute index; a bad
// bound, a span that ends before it begins, -timeline without -only, with
// another mode or a policy without a timeline, and -timeline's flags
// without it are errors naming the flag.
func TestTimelineFlags(t *testing.T) {
	o, err := parse("-timeline", "-only", "ec2", "-from", "2014-04-15T16:30", "-to", "300", "-policy", "seed")
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2014, 4, 15, 16, 30, 0, 0, time.UTC)
	if tl := o.timeline; !tl.on || !tl.from.isTime || !tl.from.at.Equal(want) || tl.to.isTime || tl.to.index != 300 || tl.policy != "seed" {
		t.Errorf("got %+v", o.timeline)
	}
	if o, _ := parse("-timeline", "-only", "ec2"); o.timeline.policy != "operator" || o.timeline.from.set || o.timeline.to.set {
		t.Errorf("defaults: %+v", o.timeline)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-timeline"}, "-timeline: needs -only"},
		{[]string{"-timeline", "-only", "ec2", "-from", "yesterday"}, "-from: \"yesterday\""},
		{[]string{"-timeline", "-only", "ec2", "-from", "2014-04-15T25:00"}, "-from"},
		{[]string{"-timeline", "-only", "ec2", "-to", "-3"}, "-to: minute -3"},
		{[]string{"-timeline", "-only", "ec2", "-from", "20", "-to", "10"}, "-to 10 is before -from 20"},
		{[]string{"-timeline", "-only", "ec2", "-from", "2014-04-15T17:00", "-to", "2014-04-15 16:00"}, "-to 2014-04-15 16:00 is before -from 2014-04-15T17:00"},
		{[]string{"-timeline", "-only", "ec2", "-policy", "clairvoyant"}, "-policy \"clairvoyant\""},
		{[]string{"-timeline", "-only", "ec2", "-bench"}, "one mode"},
		{[]string{"-timeline", "-only", "ec2", "-judge"}, "one mode"},
		{[]string{"-timeline", "-only", "ec2", "-trace", "x.csv"}, "one mode"},
		{[]string{"-episodes", "-from", "10"}, "-from: only with -timeline"},
		{[]string{"-bench", "-policy", "seed"}, "-policy: only with -timeline"},
	} {
		if _, err := parse(tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want one containing %q", tc.args, err, tc.want)
		}
	}
}

// TestTimelineSpan: the bounds become minute indices on the trace (a time
// within a minute is that minute); a span outside the trace or ending
// before it begins once resolved is an error.
func TestTimelineSpan(t *testing.T) {
	start := time.Date(2014, 4, 15, 16, 0, 0, 0, time.UTC)
	tr := sim.Trace{Name: "t", Start: start, Load: make([]float64, 120)}
	for _, tc := range []struct {
		from, to         string
		wantFrom, wantTo int
		err              string
	}{
		{"", "", 0, 119, ""},
		{"2014-04-15T16:30", "40", 30, 40, ""},
		{"10", "2014-04-15T16:45:30", 10, 45, ""},
		{"2014-04-15T15:59", "", 0, 0, "-from 2014-04-15T15:59: outside the trace t"},
		{"120", "", 0, 0, "-from 120: outside"},
		{"", "2014-04-15T15:00", 0, 0, "-to 2014-04-15T15:00: before the trace t starts"},
		{"50", "2014-04-15T16:40", 0, 0, "-to 2014-04-15T16:40 is before -from 50"},
	} {
		args := []string{"-timeline", "-only", "t"}
		if tc.from != "" {
			args = append(args, "-from", tc.from)
		}
		if tc.to != "" {
			args = append(args, "-to", tc.to)
		}
		o, err := parse(args...)
		if err != nil {
			t.Fatalf("%q: %v", args, err)
		}
		from, to, err := o.timeline.span(tr)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want one containing %q", args, err, tc.err)
			}
			continue
		}
		if err != nil || from != tc.wantFrom || to != tc.wantTo {
			t.Errorf("%q: %d–%d, %v; want %d–%d", args, from, to, err, tc.wantFrom, tc.wantTo)
		}
	}
}
