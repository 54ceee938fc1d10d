package meter

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	kintypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// The published series: namespace, dimension and metric names as AWS's.
const (
	namespace = "AWS/Kinesis"

	incomingBytes        = "IncomingBytes"
	incomingRecords      = "IncomingRecords"
	putRecordsBytes      = "PutRecords.Bytes"
	putRecordsRecords    = "PutRecords.Records"
	writeThrottled       = "WriteProvisionedThroughputExceeded"
	readThrottled        = "ReadProvisionedThroughputExceeded"
	getRecordsBytes      = "GetRecords.Bytes"
	getRecordsRecords    = "GetRecords.Records"
	getRecordsIteratorMs = "GetRecords.IteratorAgeMilliseconds"
)

var metricUnits = map[string]cwtypes.StandardUnit{
	incomingBytes:        cwtypes.StandardUnitBytes,
	incomingRecords:      cwtypes.StandardUnitCount,
	putRecordsBytes:      cwtypes.StandardUnitBytes,
	putRecordsRecords:    cwtypes.StandardUnitCount,
	writeThrottled:       cwtypes.StandardUnitCount,
	readThrottled:        cwtypes.StandardUnitCount,
	getRecordsBytes:      cwtypes.StandardUnitBytes,
	getRecordsRecords:    cwtypes.StandardUnitCount,
	getRecordsIteratorMs: cwtypes.StandardUnitMilliseconds,
}

// zeroFilled are the metrics an active stream gets a zero for in a minute
// without them, as AWS publishes them. GetRecords.* are published only for
// minutes with reads: an iterator age of 0 for a stream nobody reads would
// tell a scaler the consumers keep up.
var zeroFilled = []string{incomingBytes, incomingRecords, writeThrottled, readThrottled}

// statSet is one datapoint's statistics.
type statSet struct{ sum, count, min, max float64 }

func (s *statSet) add(v float64) {
	if s.count == 0 {
		s.min, s.max = v, v
	}
	s.sum += v
	s.count++
	s.min, s.max = math.Min(s.min, v), math.Max(s.max, v)
}

// streamMinute holds one stream's statistics of one minute, by metric name.
type streamMinute map[string]*statSet

func (sm streamMinute) add(metric string, v float64) {
	s := sm[metric]
	if s == nil {
		s = &statSet{}
		sm[metric] = s
	}
	s.add(v)
}

// minuteBook collects statistics per minute and stream until they are
// published; guarded by Meter.mu.
type minuteBook struct {
	pending map[time.Time]map[string]streamMinute
	// closed is the first minute not yet zero-filled: every earlier minute
	// has its zeros in pending (or was published).
	closed time.Time
}

func newMinuteBook(start time.Time) *minuteBook {
	return &minuteBook{pending: map[time.Time]map[string]streamMinute{}, closed: start.Truncate(time.Minute)}
}

func (b *minuteBook) at(now time.Time, stream string) streamMinute {
	minute := now.Truncate(time.Minute)
	byStream := b.pending[minute]
	if byStream == nil {
		byStream = map[string]streamMinute{}
		b.pending[minute] = byStream
	}
	sm := byStream[stream]
	if sm == nil {
		sm = streamMinute{}
		byStream[stream] = sm
	}
	return sm
}

// put adds one put call: a sample of records and bytes when some were stored,
// and always a sample of the records throttled (0 or more), as AWS samples
// WriteProvisionedThroughputExceeded per call.
func (b *minuteBook) put(now time.Time, stream string, p putSample) {
	sm := b.at(now, stream)
	if p.records > 0 {
		sm.add(incomingRecords, float64(p.records))
		sm.add(incomingBytes, float64(p.bytes))
		if p.batch {
			sm.add(putRecordsRecords, float64(p.records))
			sm.add(putRecordsBytes, float64(p.bytes))
		}
	}
	sm.add(writeThrottled, float64(p.throttled))
}

// read adds one GetRecords call, answered or throttled.
func (b *minuteBook) read(now time.Time, stream string, r readSample) {
	sm := b.at(now, stream)
	if r.throttled {
		sm.add(readThrottled, 1)
		return
	}
	sm.add(readThrottled, 0)
	sm.add(getRecordsRecords, float64(r.records))
	sm.add(getRecordsBytes, float64(r.bytes))
	sm.add(getRecordsIteratorMs, float64(r.ageMs))
}

// maxZeroFill bounds how many minutes back zeros are written after a long
// pause (a laptop asleep): older minutes keep only what was metered.
const maxZeroFill = 60 * time.Minute

// Run keeps the Meter's state fresh until ctx ends, then returns nil. Every
// RefreshInterval of the clock it reloads the shard maps of streams used in
// the last minute (and of streams resharding, until the new shards show),
// forgets expired iterators, and publishes every minute that closed at least
// PublishDelay ago. A failure is logged and retried at the next tick.
func (m *Meter) Run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-m.clock.After(m.opts.RefreshInterval):
		}
		m.refreshShardMaps(ctx)
		if err := m.publish(ctx); err != nil && ctx.Err() == nil {
			m.log.Error(err, "Publishing Kinesis metrics failed; retrying at the next tick")
		}
	}
}

// refreshShardMaps reloads the maps of streams in use or resharding; a stream
// that no longer exists is forgotten.
func (m *Meter) refreshShardMaps(ctx context.Context) {
	now := m.clock.Now()
	var streams []string
	m.mu.Lock()
	m.iterators.expire(now)
	for name, s := range m.streams {
		resharding := s.resharding != nil && now.Sub(s.reshardAt) < iteratorLifetime
		if s.shards != nil && (now.Sub(s.lastUsed) < time.Minute || resharding) {
			streams = append(streams, name)
		}
	}
	m.mu.Unlock()
	for _, name := range streams {
		if _, err := m.loadShards(ctx, name); err != nil {
			var notFound *kintypes.ResourceNotFoundException
			if errors.As(err, &notFound) {
				m.mu.Lock()
				m.streams[name].shards = nil
				m.mu.Unlock()
				continue
			}
			m.log.V(1).Info("Reloading shard map failed", "stream", name, "error", err.Error())
		}
	}
}

// publish zero-fills the minutes that became due for every active stream and
// sends every due minute to CloudWatch, oldest first. What was sent is
// dropped, so no minute is sent twice (CloudWatch would add them up); what
// failed stays for the next call.
func (m *Meter) publish(ctx context.Context) error {
	due := m.clock.Now().Add(-m.opts.PublishDelay).Truncate(time.Minute) // minutes before due are published
	m.mu.Lock()
	needZeros := m.minutes.closed.Before(due)
	m.mu.Unlock()
	if needZeros {
		active, err := m.activeStreams(ctx)
		if err != nil {
			return err
		}
		m.mu.Lock()
		b := m.minutes
		b.closed = maxTime(b.closed, due.Add(-maxZeroFill))
		for ; b.closed.Before(due); b.closed = b.closed.Add(time.Minute) {
			for _, stream := range active {
				sm := b.at(b.closed, stream)
				for _, metric := range zeroFilled {
					if sm[metric] == nil {
						sm.add(metric, 0)
					}
				}
			}
		}
		m.mu.Unlock()
	}

	for {
		minute, batch := m.nextBatch(due)
		if len(batch) == 0 {
			return nil
		}
		if err := m.putMetricData(ctx, minute, batch); err != nil {
			return err
		}
		m.mu.Lock()
		for stream := range batch {
			delete(m.minutes.pending[minute], stream)
			m.stream(stream).stats.PublishedMinutes++
		}
		if len(m.minutes.pending[minute]) == 0 {
			delete(m.minutes.pending, minute)
		}
		m.mu.Unlock()
	}
}

// maxDatumsPerCall keeps a PutMetricData call well under AWS's 1,000 metrics
// and 1 MB.
const maxDatumsPerCall = 200

// nextBatch returns streams of the oldest pending minute before due, as many
// as fit one PutMetricData call. The returned minutes are copies.
func (m *Meter) nextBatch(due time.Time) (time.Time, map[string]streamMinute) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var minutes []time.Time
	for minute := range m.minutes.pending {
		if minute.Before(due) {
			minutes = append(minutes, minute)
		}
	}
	if len(minutes) == 0 {
		return time.Time{}, nil
	}
	sort.Slice(minutes, func(i, j int) bool { return minutes[i].Before(minutes[j]) })
	minute := minutes[0]
	batch, datums := map[string]streamMinute{}, 0
	for stream, sm := range m.minutes.pending[minute] {
		if datums > 0 && datums+len(sm) > maxDatumsPerCall {
			break
		}
		cp := streamMinute{}
		for metric, s := range sm {
			c := *s
			cp[metric] = &c
		}
		batch[stream] = cp
		datums += len(sm)
	}
	return minute, batch
}

func (m *Meter) putMetricData(ctx context.Context, minute time.Time, batch map[string]streamMinute) error {
	var data []cwtypes.MetricDatum
	for stream, sm := range batch {
		for metric, s := range sm {
			data = append(data, cwtypes.MetricDatum{
				MetricName: aws.String(metric),
				Dimensions: []cwtypes.Dimension{{Name: aws.String("StreamName"), Value: aws.String(stream)}},
				Timestamp:  aws.Time(minute),
				Unit:       metricUnits[metric],
				StatisticValues: &cwtypes.StatisticSet{
					Sum: aws.Float64(s.sum), SampleCount: aws.Float64(s.count),
					Minimum: aws.Float64(s.min), Maximum: aws.Float64(s.max),
				},
			})
		}
	}
	if _, err := m.opts.CloudWatch.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{Namespace: aws.String(namespace), MetricData: data}); err != nil {
		return fmt.Errorf("put %d metrics of minute %s: %w", len(data), minute.Format("15:04"), err)
	}
	return nil
}

// activeStreams lists the streams of kinesis-local that are ACTIVE or
// UPDATING (a resharding stream still takes traffic, and AWS keeps publishing
// its metrics). kinesis-local's ListStreams returns names only; each is then
// described.
func (m *Meter) activeStreams(ctx context.Context) ([]string, error) {
	var names []string
	status := map[string]kintypes.StreamStatus{}
	in := &kinesis.ListStreamsInput{}
	for {
		out, err := m.opts.Kinesis.ListStreams(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("list streams: %w", err)
		}
		names = append(names, out.StreamNames...)
		for _, s := range out.StreamSummaries {
			status[aws.ToString(s.StreamName)] = s.StreamStatus
		}
		if !aws.ToBool(out.HasMoreStreams) || len(out.StreamNames) == 0 {
			break
		}
		in = &kinesis.ListStreamsInput{ExclusiveStartStreamName: aws.String(out.StreamNames[len(out.StreamNames)-1])}
		if out.NextToken != nil {
			in = &kinesis.ListStreamsInput{NextToken: out.NextToken}
		}
	}
	var active []string
	for _, name := range names {
		st, ok := status[name]
		if !ok {
			out, err := m.opts.Kinesis.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
			if err != nil {
				continue // deleted since it was listed
			}
			st = out.StreamDescriptionSummary.StreamStatus
		}
		if st == kintypes.StreamStatusActive || st == kintypes.StreamStatusUpdating {
			active = append(active, name)
		}
	}
	return active, nil
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
