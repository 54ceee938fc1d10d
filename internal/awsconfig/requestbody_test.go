package awsconfig

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// TestAnswerBeforeTheBodyCheckKeepsTheConnection makes, on purpose, the
// interleaving that failed the meter's TestPutRecordsThrottlesPerRecordAtItsIndex
// in CI: net/http's writer reaches its check for left-over body bytes only
// after the answer came and the SDK closed the request body. With a client
// from Load the write must still end cleanly; otherwise net/http closes the
// connection the answer is being read from.
func TestAnswerBeforeTheBodyCheckKeepsTheConnection(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			t.Errorf("read request body: %v", err)
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		_, _ = io.WriteString(w, `{"FailedRecordCount":0,"Records":[{"SequenceNumber":"1","ShardId":"shardId-000000000000"}]}`)
	}))
	t.Cleanup(srv.Close)
	cfg, err := Load(context.Background(), "us-east-1", config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("a", "b", "")))
	if err != nil {
		t.Fatal(err)
	}
	late := newLateBodyCheck(t)
	client := kinesis.NewFromConfig(cfg, func(o *kinesis.Options) {
		o.BaseEndpoint = aws.String(srv.URL)
		o.RetryMaxAttempts = 1 // the failure must show, not be retried away
		o.HTTPClient = late
	})
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		WroteRequest: func(info httptrace.WroteRequestInfo) { late.wrote <- info.Err },
	})

	_, err = client.PutRecords(ctx, &kinesis.PutRecordsInput{
		StreamName: aws.String("s"),
		Records:    []types.PutRecordsRequestEntry{{PartitionKey: aws.String("k"), Data: make([]byte, 64<<10)}},
	})
	if err != nil {
		t.Errorf("PutRecords: %v", err)
	}
	if late.writeErr != nil {
		t.Errorf("net/http failed the request write after the answer came (%v), so it closes the connection the answer is read from", late.writeErr)
	}
}

// lateBodyCheck is an HTTP client that holds net/http's check for left-over
// request body bytes until the SDK has started to read the answer, and then
// holds that read until net/http has reported how the request write ended.
type lateBodyCheck struct {
	t        *testing.T
	client   *http.Client
	answered chan struct{} // closed at the SDK's first read of the answer
	once     sync.Once
	wrote    chan error // net/http's WroteRequest
	writeErr error
}

func newLateBodyCheck(t *testing.T) *lateBodyCheck {
	l := &lateBodyCheck{
		t:        t,
		client:   &http.Client{Transport: &http.Transport{}},
		answered: make(chan struct{}),
		wrote:    make(chan error, 1),
	}
	t.Cleanup(l.open) // never leave the writer blocked
	return l
}

func (l *lateBodyCheck) open() { l.once.Do(func() { close(l.answered) }) }

// Do sends a copy of req whose body blocks reads past Content-Length (the
// check) until the answer is read, keeping WriteTo when the SDK's body has it.
func (l *lateBodyCheck) Do(req *http.Request) (*http.Response, error) {
	out := req.Clone(req.Context())
	if req.Body != nil {
		gated := &gatedBody{ReadCloser: req.Body, left: req.ContentLength, gate: l.answered}
		out.Body = gated
		if _, ok := req.Body.(io.WriterTo); ok {
			out.Body = gatedWriterToBody{gated}
		}
	}
	resp, err := l.client.Do(out)
	if err != nil {
		return nil, err
	}
	resp.Body = &firstRead{ReadCloser: resp.Body, first: l.answerRead}
	return resp, nil
}

// answerRead lets the body check run and waits for the write's outcome.
func (l *lateBodyCheck) answerRead() {
	l.open()
	select {
	case l.writeErr = <-l.wrote:
	case <-time.After(10 * time.Second):
		l.t.Errorf("net/http did not finish writing the request")
	}
}

// gatedBody blocks any read past the first left bytes until gate is closed.
type gatedBody struct {
	io.ReadCloser
	left int64
	gate <-chan struct{}
}

func (b *gatedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		<-b.gate
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	return n, err
}

// gatedWriterToBody is a gatedBody whose body has WriteTo, which io.Copy
// (net/http's check) prefers to Read.
type gatedWriterToBody struct{ *gatedBody }

func (b gatedWriterToBody) WriteTo(w io.Writer) (int64, error) {
	<-b.gate
	wt, ok := b.ReadCloser.(io.WriterTo)
	if !ok {
		return 0, errors.New("body lost WriteTo")
	}
	return wt.WriteTo(w)
}

// firstRead calls first before the first Read.
type firstRead struct {
	io.ReadCloser
	first func()
	once  sync.Once
}

func (f *firstRead) Read(p []byte) (int, error) {
	f.once.Do(f.first)
	return f.ReadCloser.Read(p)
}
