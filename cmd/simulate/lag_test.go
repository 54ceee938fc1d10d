package main

import (
	"strings"
	"testing"
)

// TestMetricLagFlags: -metric-lag takes 0 (1-3 at random) to 3 and
// -producer-metric-lag -1 (AWS/Kinesis's lag) to 3, default 0 (the
// producers' high-resolution points); anything else is an error naming the
// flag.
func TestMetricLagFlags(t *testing.T) {
	o, err := parse("-bench")
	if err != nil || o.cfg.MetricLagMinutes != 0 || o.cfg.ProducerMetricLagMinutes != 0 {
		t.Fatalf("defaults: %d, %d, error %v; want 0, 0", o.cfg.MetricLagMinutes, o.cfg.ProducerMetricLagMinutes, err)
	}
	for _, tc := range []struct {
		flag, v string
		ok      bool
	}{
		{"-metric-lag", "3", true}, {"-metric-lag", "4", false}, {"-metric-lag", "-1", false},
		{"-producer-metric-lag", "-1", true}, {"-producer-metric-lag", "3", true},
		{"-producer-metric-lag", "-2", false}, {"-producer-metric-lag", "4", false},
	} {
		_, err := parse("-bench", tc.flag, tc.v)
		if tc.ok != (err == nil) || err != nil && !strings.Contains(err.Error(), tc.flag) {
			t.Errorf("%s %s: error %v; want ok %v, or an error naming the flag", tc.flag, tc.v, err, tc.ok)
		}
	}
}
