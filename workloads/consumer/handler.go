package consumer

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/kdp-io/streamprocessor-operator/workloads/kcl"
)

// Record is one user record with the shard it came from.
type Record struct {
	ShardID string
	kcl.Record
}

// Handler processes one user record; it is the consumer's plug-in point. An
// error makes the consumer retry the record with backoff and finally
// dead-letter it. Handle is called from one goroutine per shard.
type Handler interface {
	Handle(ctx context.Context, r Record) error
}

// Flusher is implemented by handlers that buffer: Flush makes everything
// handled so far durable enough to checkpoint; it runs before each checkpoint.
type Flusher interface {
	Flush() error
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, r Record) error

// Handle calls f.
func (f HandlerFunc) Handle(ctx context.Context, r Record) error { return f(ctx, r) }

// Line is the JSON form of a record written by JSONLines and the dead-letter
// destinations. Data is the payload as text when it is valid UTF-8; otherwise
// it is base64 and Base64 is true.
type Line struct {
	ShardID           string `json:"shardId"`
	SequenceNumber    string `json:"sequenceNumber"`
	SubSequenceNumber int64  `json:"subSequenceNumber"`
	PartitionKey      string `json:"partitionKey"`
	Data              string `json:"data"`
	Base64            bool   `json:"base64,omitempty"`
	// Set only on dead letters:
	Error    string     `json:"error,omitempty"`
	Attempts int        `json:"attempts,omitempty"`
	FailedAt *time.Time `json:"failedAt,omitempty"`
}

// LineOf returns the JSON line form of r.
func LineOf(r Record) Line {
	l := Line{ShardID: r.ShardID, SequenceNumber: r.SequenceNumber, SubSequenceNumber: r.SubSequenceNumber, PartitionKey: r.PartitionKey}
	if utf8.Valid(r.Data) {
		l.Data = string(r.Data)
	} else {
		l.Data, l.Base64 = base64.StdEncoding.EncodeToString(r.Data), true
	}
	return l
}

// JSONLines is the default Handler: it writes one JSON line per record to w,
// buffered, safe for concurrent shards; Flush pushes the buffer to w.
type JSONLines struct {
	mu  sync.Mutex
	buf *bufio.Writer
}

// NewJSONLines returns a JSONLines writing to w.
func NewJSONLines(w io.Writer) *JSONLines { return &JSONLines{buf: bufio.NewWriterSize(w, 64<<10)} }

// Handle writes r as one JSON line.
func (j *JSONLines) Handle(_ context.Context, r Record) error {
	b, err := json.Marshal(LineOf(r))
	if err != nil {
		return fmt.Errorf("encode record %s/%d: %w", r.SequenceNumber, r.SubSequenceNumber, err)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, err := j.buf.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("write record %s/%d: %w", r.SequenceNumber, r.SubSequenceNumber, err)
	}
	return nil
}

// Flush writes buffered lines through.
func (j *JSONLines) Flush() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := j.buf.Flush(); err != nil {
		return fmt.Errorf("flush output: %w", err)
	}
	return nil
}

// DeadLetter receives records that failed every attempt, with the last error.
// Write returns only when the record is stored (or with an error).
type DeadLetter interface {
	Write(ctx context.Context, r Record, cause error, attempts int) error
}

func deadLine(r Record, cause error, attempts int) ([]byte, error) {
	l := LineOf(r)
	now := time.Now().UTC()
	l.Error, l.Attempts, l.FailedAt = cause.Error(), attempts, &now
	b, err := json.Marshal(l)
	if err != nil {
		return nil, fmt.Errorf("encode dead letter %s/%d: %w", r.SequenceNumber, r.SubSequenceNumber, err)
	}
	return b, nil
}

// FileDeadLetter appends dead letters as JSON lines (with error, attempts and
// failedAt) to a writer, typically a file opened for append.
type FileDeadLetter struct {
	mu sync.Mutex
	W  io.Writer
}

// Write appends one dead letter; the write is unbuffered.
func (f *FileDeadLetter) Write(_ context.Context, r Record, cause error, attempts int) error {
	b, err := deadLine(r, cause, attempts)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.W.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("write dead letter %s/%d: %w", r.SequenceNumber, r.SubSequenceNumber, err)
	}
	return nil
}

// PutRecordAPI is the Kinesis call a StreamDeadLetter needs.
type PutRecordAPI interface {
	PutRecord(ctx context.Context, in *kinesis.PutRecordInput, optFns ...func(*kinesis.Options)) (*kinesis.PutRecordOutput, error)
}

// StreamDeadLetter puts dead letters, as the same JSON document, on a second
// Kinesis stream with the record's partition key.
type StreamDeadLetter struct {
	API    PutRecordAPI
	Stream string
	// Timeout bounds each PutRecord call (0: none).
	Timeout time.Duration
}

// Write puts one dead letter on the stream.
func (s *StreamDeadLetter) Write(ctx context.Context, r Record, cause error, attempts int) error {
	b, err := deadLine(r, cause, attempts)
	if err != nil {
		return err
	}
	pk := r.PartitionKey
	if pk == "" {
		pk = r.SequenceNumber
	}
	if s.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.Timeout)
		defer cancel()
	}
	if _, err := s.API.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String(s.Stream), PartitionKey: aws.String(pk), Data: b}); err != nil {
		return fmt.Errorf("put dead letter %s/%d on stream %q: %w", r.SequenceNumber, r.SubSequenceNumber, s.Stream, err)
	}
	return nil
}
