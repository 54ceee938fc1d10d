package main

import (
	"flag"
	"io"
	"slices"
	"strings"
	"testing"
)

func parse(args ...string) (options, error) {
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return parseOptions(fs, args)
}

// TestJudgeFlags: -peaks and -seeds parse lists and ranges; bad values and
// flags the judge would ignore are errors naming the flag.
func TestJudgeFlags(t *testing.T) {
	o, err := parse("-judge", "-peaks", "40 5,400", "-seeds", "1-3,7", "-workers", "2")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(o.judge.peaks, []float64{40, 5, 400}) || !slices.Equal(o.judge.seeds, []uint64{1, 2, 3, 7}) || o.judge.workers != 2 {
		t.Errorf("peaks %v seeds %v workers %d", o.judge.peaks, o.judge.seeds, o.judge.workers)
	}
	if o, _ := parse("-judge"); !slices.Equal(o.judge.peaks, []float64{5, 40, 400}) || !slices.Equal(o.judge.seeds, []uint64{1}) {
		t.Errorf("defaults: peaks %v seeds %v", o.judge.peaks, o.judge.seeds)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-judge", "-peaks", "0"}, "-peaks"},
		{[]string{"-judge", "-peaks", "5,x"}, "-peaks"},
		{[]string{"-judge", "-peaks", "5,5"}, "twice"},
		{[]string{"-judge", "-peaks", ""}, "no peak"},
		{[]string{"-judge", "-seeds", "4-1"}, "-seeds"},
		{[]string{"-judge", "-seeds", "1,1-2"}, "twice"},
		{[]string{"-judge", "-workers", "0"}, "-workers"},
		{[]string{"-judge", "-peak-mibps", "400"}, "-peak-mibps"},
		{[]string{"-judge", "-seed", "2"}, "-seed"},
		{[]string{"-judge", "-bench"}, "one mode"},
		{[]string{"-bench", "-peaks", "5"}, "only with -judge"},
		{[]string{"-bench", "-baseline", "x.json"}, "only with -judge"},
	} {
		if _, err := parse(tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want one containing %q", tc.args, err, tc.want)
		}
	}
}
