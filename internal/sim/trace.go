package sim

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Trace is a load shape at one-minute steps: Load[m] is the fraction of the
// peak rate in minute m, in [0, 1] with max 1 (unless all zero).
type Trace struct {
	Name  string
	Start time.Time
	Load  []float64
	// Source says where the shape came from (file and its native step, or
	// the synthetic generator and its seed), for reproducing a run.
	Source string
	// Surges (synthetic traces only) are the minutes each surge of the
	// generator spans, in order, not overlapping; empty for files.
	Surges []Surge
}

// Surge is the span [Start, End) of minutes of one surge of a trace: its
// first minute above the calm level and the first one back at it.
type Surge struct{ Start, End int }

// Minutes is the trace's length in minutes.
func (t Trace) Minutes() int { return len(t.Load) }

var timeLayouts = []string{"2006-01-02 15:04:05", time.RFC3339, "2006-01-02T15:04:05", "2006-01-02 15:04"}

// parseTime reads the layouts above, or a Unix time in seconds (or in
// milliseconds when it is too large to be seconds: beyond the year 5138).
func parseTime(s string) (time.Time, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) && f >= 0 {
		if f >= 1e11 {
			f /= 1000
		}
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
	}
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("unrecognised timestamp %q", s)
}

// LoadTraceFile reads a CSV trace with the header `timestamp,value` (as in
// the NAB corpus; timestamps as "2006-01-02 15:04:05", RFC 3339 or Unix
// seconds or milliseconds), interpolates it linearly to one-minute steps and
// normalises it to a peak of 1. This is the only function of the simulator
// that touches files.
func LoadTraceFile(path string) (Trace, error) {
	f, err := os.Open(path)
	if err != nil {
		return Trace{}, fmt.Errorf("open trace: %w", err)
	}
	defer f.Close()
	name := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	t, err := ParseTrace(f, name)
	if err != nil {
		return Trace{}, fmt.Errorf("read trace %s: %w", path, err)
	}
	return t, nil
}

// ParseTrace is LoadTraceFile on a reader.
func ParseTrace(r io.Reader, name string) (Trace, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = 2
	header, err := cr.Read()
	if err != nil {
		return Trace{}, fmt.Errorf("header: %w", err)
	}
	header[0] = strings.TrimPrefix(header[0], "\ufeff") // a byte-order mark from spreadsheet exports
	if !strings.EqualFold(strings.TrimSpace(header[0]), "timestamp") || !strings.EqualFold(strings.TrimSpace(header[1]), "value") {
		return Trace{}, fmt.Errorf("header is %q, want \"timestamp,value\"", strings.Join(header, ","))
	}
	type pt struct {
		t time.Time
		v float64
	}
	var pts []pt
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return Trace{}, err
		}
		ts, err := parseTime(strings.TrimSpace(rec[0]))
		if err != nil {
			return Trace{}, fmt.Errorf("line %d: %w", line, err)
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(rec[1]), 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			return Trace{}, fmt.Errorf("line %d: value %q is not a non-negative number", line, rec[1])
		}
		pts = append(pts, pt{ts, v})
	}
	if len(pts) < 2 {
		return Trace{}, fmt.Errorf("need at least 2 rows, got %d", len(pts))
	}
	sort.SliceStable(pts, func(i, j int) bool { return pts[i].t.Before(pts[j].t) })
	start := pts[0].t.Truncate(time.Minute)
	n := int(pts[len(pts)-1].t.Sub(start)/time.Minute) + 1
	load := make([]float64, n)
	j := 0
	for m := range n {
		at := start.Add(time.Duration(m) * time.Minute)
		for j+1 < len(pts) && !pts[j+1].t.After(at) {
			j++
		}
		switch {
		case !at.After(pts[0].t):
			load[m] = pts[0].v
		case j+1 >= len(pts):
			load[m] = pts[len(pts)-1].v
		default:
			a, b := pts[j], pts[j+1]
			span := b.t.Sub(a.t).Seconds()
			if span <= 0 {
				load[m] = b.v
				continue
			}
			w := at.Sub(a.t).Seconds() / span
			load[m] = a.v + w*(b.v-a.v)
		}
	}
	step := pts[1].t.Sub(pts[0].t)
	return Trace{Name: name, Start: start, Load: normalise(load),
		Source: fmt.Sprintf("%s: %d rows, native step %v, linear to 1 min", name, len(pts), step)}, nil
}

func normalise(load []float64) []float64 {
	peak := 0.0
	for _, v := range load {
		peak = max(peak, v)
	}
	if peak > 0 {
		for i := range load {
			load[i] /= peak
		}
	}
	return load
}
