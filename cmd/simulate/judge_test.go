package main

import (
	"encoding/json"
	"flag"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kdp-io/streamprocessor-operator/internal/sim"
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
		{[]string{"-bench", "-judged", "x.json"}, "only with -judge"},
		{[]string{"-judge", "-judged", "x.json", "-seeds", "2"}, "-judged: -seeds not read"},
		{[]string{"-judge", "-judged", "x.json", "-only", "elb"}, "-judged: -only not read"},
	} {
		if _, err := parse(tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want one containing %q", tc.args, err, tc.want)
		}
	}
}

// TestJudgedReadsTheFile: -judged reads a stored judgement instead of
// running, dropping the comparison stored with it.
func TestJudgedReadsTheFile(t *testing.T) {
	load := make([]float64, 120)
	for m := range load {
		load[m] = 0.2 + 0.8*float64(m/60)
	}
	traces := func(uint64) ([]sim.Trace, error) {
		return []sim.Trace{{Name: "nyc_taxi", Start: time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC), Load: load}}, nil
	}
	stored, err := sim.Judge(sim.DefaultConfig(), []float64{5}, []uint64{1}, traces, 1)
	if err != nil {
		t.Fatal(err)
	}
	stored.Comparison = &sim.Comparison{Baseline: "older.json"}
	file := filepath.Join(t.TempDir(), "run.json")
	raw, err := json.Marshal(stored)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	o, err := parse("-judge", "-judged", file)
	if err != nil {
		t.Fatal(err)
	}
	jm, err := o.judge.judgement(o)
	if err != nil {
		t.Fatal(err)
	}
	if jm.Comparison != nil || !reflect.DeepEqual(jm.Cases, stored.Cases) || !reflect.DeepEqual(jm.Summaries, stored.Summaries) {
		t.Errorf("-judged read %+v, want the stored cases %+v without a comparison", jm, stored.Cases)
	}
	if _, err := (&judgeOptions{judged: file + ".missing"}).judgement(o); err == nil || !strings.Contains(err.Error(), "-judged") {
		t.Errorf("a missing file: error %v, want one naming -judged", err)
	}
}
