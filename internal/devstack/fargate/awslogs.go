package fargate

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/go-logr/logr"
)

// LogsAPI is what a task's output is put into CloudWatch Logs with: the two
// calls the awslogs driver makes.
type LogsAPI interface {
	CreateLogStream(ctx context.Context, in *cloudwatchlogs.CreateLogStreamInput, optFns ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.CreateLogStreamOutput, error)
	PutLogEvents(ctx context.Context, in *cloudwatchlogs.PutLogEventsInput, optFns ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.PutLogEventsOutput, error)
}

// Limits of the awslogs driver and of PutLogEvents that the shipper keeps.
const (
	// maxLineBytes: Docker splits a line longer than 16 KiB into several
	// messages, each its own log event.
	maxLineBytes = 16 * 1024
	// maxBatchEvents and maxBatchBytes: PutLogEvents takes at most 10,000
	// events and 1,048,576 bytes, counting 26 bytes per event.
	maxBatchEvents = 10_000
	maxBatchBytes  = 1_048_576
	eventOverhead  = 26
	// maxPendingEvents bounds what is kept for a retry while CloudWatch
	// Logs refuses; older lines are dropped (and counted) beyond it. They
	// stay in the task's log file.
	maxPendingEvents = 100_000
)

// awslogsStream is the stream the awslogs driver writes a Fargate task's
// container to: <prefix>/<container>/<task id>.
func awslogsStream(prefix, container, taskID string) string {
	return prefix + "/" + container + "/" + taskID
}

// logShipper is the awslogs driver of one task: an io.WriteCloser that
// splits what the process writes into lines (a line over 16 KiB into several
// events, as Docker does) and puts them into the task's stream, in batches,
// every flush interval and when closed.
type logShipper struct {
	api           LogsAPI
	group, stream string
	now           func() time.Time
	log           logr.Logger

	mu      sync.Mutex
	partial []byte
	pending []types.InputLogEvent
	dropped int // since the last flush, for its log line
	shifted int // events ever dropped from the front of pending

	stop chan struct{}
	done chan struct{}
}

// openLogShipper creates the task's stream, as the awslogs driver does before
// the container starts: a group that does not exist (or any other refusal)
// fails the task's start. It then flushes every interval until closed.
func openLogShipper(api LogsAPI, group, stream string, interval time.Duration, now func() time.Time, log logr.Logger) (*logShipper, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := api.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: aws.String(group), LogStreamName: aws.String(stream)}); err != nil {
		return nil, fmt.Errorf("failed to create CloudWatch log stream %s in log group %s: %w", stream, group, err)
	}
	s := &logShipper{api: api, group: group, stream: stream, now: now, log: log, stop: make(chan struct{}), done: make(chan struct{})}
	go s.loop(interval)
	return s, nil
}

func (s *logShipper) loop(interval time.Duration) {
	defer close(s.done)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			s.flush()
		case <-s.stop:
			s.flush()
			return
		}
	}
}

// Write takes the process's output; complete lines become events stamped now.
func (s *logShipper) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.partial = append(s.partial, p...)
	for {
		i := bytes.IndexByte(s.partial, '\n')
		if i < 0 {
			break
		}
		s.addLine(s.partial[:i])
		s.partial = s.partial[i+1:]
	}
	for len(s.partial) >= maxLineBytes {
		s.addLine(s.partial[:maxLineBytes])
		s.partial = s.partial[maxLineBytes:]
	}
	return len(p), nil
}

// addLine queues one line (split at 16 KiB); empty lines are skipped, as the
// driver does. Called with s.mu held.
func (s *logShipper) addLine(line []byte) {
	ts := s.now().UnixMilli()
	for len(line) > 0 {
		n := min(len(line), maxLineBytes)
		s.pending = append(s.pending, types.InputLogEvent{Message: aws.String(string(line[:n])), Timestamp: aws.Int64(ts)})
		line = line[n:]
	}
	if over := len(s.pending) - maxPendingEvents; over > 0 {
		s.pending = s.pending[over:]
		s.dropped += over
		s.shifted += over
	}
}

// Close puts the last partial line and everything pending, then stops.
func (s *logShipper) Close() error {
	s.mu.Lock()
	if len(s.partial) > 0 {
		s.addLine(s.partial)
		s.partial = nil
	}
	s.mu.Unlock()
	close(s.stop)
	<-s.done
	return nil
}

// flush puts the pending events in batches within PutLogEvents' limits. A
// batch CloudWatch Logs refuses stays pending for the next flush.
func (s *logShipper) flush() {
	for {
		s.mu.Lock()
		batch, size := 0, 0
		for batch < len(s.pending) && batch < maxBatchEvents {
			n := len(aws.ToString(s.pending[batch].Message)) + eventOverhead
			if size+n > maxBatchBytes {
				break
			}
			size += n
			batch++
		}
		events := s.pending[:batch:batch]
		dropped, shifted := s.dropped, s.shifted
		s.dropped = 0
		s.mu.Unlock()
		if dropped > 0 {
			s.log.Info("Dropped task output lines CloudWatch Logs did not take in time; they are in the task's log file", "logGroup", s.group, "logStream", s.stream, "lines", dropped)
		}
		if len(events) == 0 {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := s.api.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{LogGroupName: aws.String(s.group), LogStreamName: aws.String(s.stream), LogEvents: events})
		cancel()
		if err != nil {
			s.log.Info("Putting task output into CloudWatch Logs failed; retrying", "logGroup", s.group, "logStream", s.stream, "error", err.Error())
			return
		}
		s.mu.Lock()
		// Events dropped meanwhile were the oldest: some of this batch may
		// have left pending already.
		s.pending = s.pending[max(0, len(events)-(s.shifted-shifted)):]
		s.mu.Unlock()
	}
}
