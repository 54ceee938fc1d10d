package fargate

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat:
// 100 on every Linux architecture Go supports (it is fixed by the kernel ABI).
const clockTicks = 100

// meter samples the task processes' CPU time and resident memory and
// publishes, for each closed minute and each service, the AWS/ECS
// CPUUtilization and MemoryUtilization a Fargate service reports.
type meter struct {
	s       *Supervisor
	samples map[string]*usage // by task id, for the open minute
	minute  time.Time         // the open minute, by Options.Now
	pending []*cloudwatch.PutMetricDataInput
}

// usage is one task's samples within the open minute.
type usage struct {
	cluster, service string
	cpuUnits, memMiB int
	firstCPU         float64 // CPU seconds at the first sample of the minute
	firstAt          time.Time
	lastCPU          float64
	lastAt           time.Time
	rssSum           float64 // bytes, summed over samples
	n                int
}

func newMeter(s *Supervisor) *meter {
	return &meter{s: s, samples: map[string]*usage{}}
}

func (m *meter) run(ctx context.Context) {
	tick := time.NewTicker(m.s.opts.MetricsSampleInterval)
	defer tick.Stop()
	for {
		m.step(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// step closes the open minute when the clock has left it, samples the live
// tasks and publishes whatever is waiting.
func (m *meter) step(ctx context.Context) {
	now := m.s.opts.Now()
	minute := now.Truncate(time.Minute)
	if !m.minute.IsZero() && minute.After(m.minute) {
		if in := m.close(m.minute); in != nil {
			m.pending = append(m.pending, in)
		}
		// Each task's next minute starts where this one ended.
		for id, u := range m.samples {
			m.samples[id] = &usage{cluster: u.cluster, service: u.service, cpuUnits: u.cpuUnits, memMiB: u.memMiB,
				firstCPU: u.lastCPU, firstAt: u.lastAt, lastCPU: u.lastCPU, lastAt: u.lastAt}
		}
	}
	m.minute = minute
	m.sample()
	m.publish(ctx)
}

// sample reads /proc for every task with a live process.
func (m *meter) sample() {
	live := map[string]bool{}
	for _, t := range m.s.Tasks() {
		if t.PID == 0 || t.LastStatus == StatusStopped {
			continue
		}
		cpu, rss, err := readProc(t.PID)
		if err != nil {
			continue // exited between the listing and the read
		}
		live[t.ID] = true
		at := time.Now()
		u := m.samples[t.ID]
		if u == nil {
			// A process started during this minute used its CPU within it.
			u = &usage{cluster: t.Cluster, service: t.Service, cpuUnits: t.CPU, memMiB: t.MemoryMiB, firstAt: t.PullStartedAt}
			if u.firstAt.IsZero() || at.Sub(u.firstAt) > 2*m.s.opts.MetricsSampleInterval {
				u.firstCPU, u.firstAt = cpu, at // not seen start: measure from now
			}
			m.samples[t.ID] = u
		}
		u.lastCPU, u.lastAt = cpu, at
		u.rssSum += float64(rss)
		u.n++
	}
	for id, u := range m.samples {
		if !live[id] && u.n == 0 {
			delete(m.samples, id) // gone, and nothing left to report
		}
	}
}

// close returns the data of minute (nil when no task ran in it) and drops
// tasks that have stopped.
func (m *meter) close(minute time.Time) *cloudwatch.PutMetricDataInput {
	type agg struct{ cpu, mem cwtypes.StatisticSet }
	per := map[[2]string]*agg{}
	add := func(set *cwtypes.StatisticSet, v float64) {
		if aws.ToFloat64(set.SampleCount) == 0 {
			set.Minimum, set.Maximum = aws.Float64(v), aws.Float64(v)
		}
		set.Sum = aws.Float64(aws.ToFloat64(set.Sum) + v)
		set.SampleCount = aws.Float64(aws.ToFloat64(set.SampleCount) + 1)
		set.Minimum = aws.Float64(min(aws.ToFloat64(set.Minimum), v))
		set.Maximum = aws.Float64(max(aws.ToFloat64(set.Maximum), v))
	}
	for id, u := range m.samples {
		if u.n == 0 {
			delete(m.samples, id)
			continue
		}
		key := [2]string{u.cluster, u.service}
		a := per[key]
		if a == nil {
			a = &agg{}
			per[key] = a
		}
		cpuPct := 0.0
		if secs := u.lastAt.Sub(u.firstAt).Seconds(); secs > 0 && u.cpuUnits > 0 {
			cpuPct = (u.lastCPU - u.firstCPU) / secs / (float64(u.cpuUnits) / 1024) * 100
		}
		memPct := 0.0
		if u.memMiB > 0 {
			memPct = u.rssSum / float64(u.n) / float64(u.memMiB<<20) * 100
		}
		add(&a.cpu, cpuPct)
		add(&a.mem, memPct)
	}
	if len(per) == 0 {
		return nil
	}
	in := &cloudwatch.PutMetricDataInput{Namespace: aws.String("AWS/ECS")}
	for key, a := range per {
		dims := []cwtypes.Dimension{
			{Name: aws.String("ClusterName"), Value: aws.String(key[0])},
			{Name: aws.String("ServiceName"), Value: aws.String(key[1])},
		}
		for _, d := range []struct {
			name string
			set  cwtypes.StatisticSet
		}{{"CPUUtilization", a.cpu}, {"MemoryUtilization", a.mem}} {
			set := d.set
			in.MetricData = append(in.MetricData, cwtypes.MetricDatum{
				MetricName: aws.String(d.name), Dimensions: dims, Timestamp: aws.Time(minute),
				Unit: cwtypes.StandardUnitPercent, StatisticValues: &set,
			})
		}
	}
	return in
}

// publish sends the closed minutes in order; a failure keeps them for the
// next step. Each minute is sent once: the emulator adds up repeats.
func (m *meter) publish(ctx context.Context) {
	for len(m.pending) > 0 {
		in := m.pending[0]
		const maxPerCall = 1000 // PutMetricData's limit
		for start := 0; start < len(in.MetricData); start += maxPerCall {
			part := *in
			part.MetricData = in.MetricData[start:min(start+maxPerCall, len(in.MetricData))]
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			_, err := m.s.opts.CloudWatch.PutMetricData(cctx, &part)
			cancel()
			if err != nil {
				if ctx.Err() == nil {
					m.s.opts.Logger.Error(err, "Publishing AWS/ECS metrics failed; retrying")
				}
				in.MetricData = in.MetricData[start:]
				return
			}
		}
		m.pending = m.pending[1:]
		minute := aws.ToTime(in.MetricData[0].Timestamp)
		m.s.opts.Logger.V(1).Info("Published AWS/ECS metrics", "minute", minute, "datapoints", len(in.MetricData))
		if m.s.opts.OnPublish != nil {
			m.s.opts.OnPublish(minute)
		}
	}
}

// readProc returns a process's CPU time (user + system, seconds) and its
// resident set size (bytes).
func readProc(pid int) (cpu float64, rss int64, err error) {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, err
	}
	// The command name (field 2) may hold spaces; fields restart after ')'.
	i := strings.LastIndexByte(string(stat), ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	f := strings.Fields(string(stat[i+1:]))
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, 0, fmt.Errorf("parse /proc/%d/stat: %d fields", pid, len(f)+2)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("parse /proc/%d/stat: utime %q stime %q", pid, f[11], f[12])
	}
	status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, 0, err
	}
	for line := range strings.SplitSeq(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0, 0, fmt.Errorf("parse VmRSS of /proc/%d/status: %w", pid, err)
			}
			rss = kb << 10
		}
	}
	return float64(utime+stime) / clockTicks, rss, nil
}
