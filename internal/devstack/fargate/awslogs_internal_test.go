package fargate

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/go-logr/logr"
)

// recordingLogs keeps what was put; the first failPuts puts fail.
type recordingLogs struct {
	mu       sync.Mutex
	failPuts int
	puts     [][]string
}

func (r *recordingLogs) CreateLogStream(context.Context, *cloudwatchlogs.CreateLogStreamInput, ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.CreateLogStreamOutput, error) {
	return &cloudwatchlogs.CreateLogStreamOutput{}, nil
}

func (r *recordingLogs) PutLogEvents(_ context.Context, in *cloudwatchlogs.PutLogEventsInput, _ ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.PutLogEventsOutput, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failPuts > 0 {
		r.failPuts--
		return nil, errors.New("unavailable")
	}
	var batch []string
	for _, e := range in.LogEvents {
		batch = append(batch, aws.ToString(e.Message))
	}
	r.puts = append(r.puts, batch)
	return &cloudwatchlogs.PutLogEventsOutput{}, nil
}

// TestShipperPutsEveryLineOnce: lines written in pieces arrive whole and in
// order, a line over 16 KiB in 16 KiB events, the last line without a
// newline at close; a put CloudWatch Logs refuses is retried, not lost.
func TestShipperPutsEveryLineOnce(t *testing.T) {
	api := &recordingLogs{failPuts: 1}
	s, err := openLogShipper(api, "g", "p/c/t", time.Hour, time.Now, logr.Discard())
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", maxLineBytes+10)
	for _, piece := range []string{"first li", "ne\nsecond\n", long + "\n", "\n", "no newline"} {
		if _, err := s.Write([]byte(piece)); err != nil {
			t.Fatal(err)
		}
	}
	s.flush() // refused: kept
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range api.puts {
		got = append(got, b...)
	}
	want := []string{"first line", "second", long[:maxLineBytes], long[maxLineBytes:], "no newline"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("put %d events %.80q…, want %d %.80q…", len(got), got, len(want), want)
	}
}
