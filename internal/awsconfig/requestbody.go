package awsconfig

import (
	"context"
	"fmt"
	"io"

	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// AddRequestBodyWithoutWriteTo is an API option (aws.Config.APIOptions) that
// Load adds to every client it configures; a client built from an aws.Config
// of its own (tests) adds it likewise. It hides io.WriterTo from the request body, which works around a race
// between smithy-go and net/http that fails a call whose answer already came:
//
//  1. net/http's writeLoop copies Content-Length bytes of the body and then
//     reads it once more, with io.Copy, to check that nothing is left over.
//  2. The server may answer as soon as it has those bytes — before that
//     goroutine, descheduled on a loaded machine, gets to its check.
//  3. smithy-go closes the request body as soon as Do returns (client.go),
//     and its closed body's WriteTo (used by io.Copy) returns io.EOF as an
//     error, where Read returns a plain io.EOF.
//  4. net/http takes that error for a failed request write and closes the
//     connection (transport.go, writeLoop) while the SDK is reading the
//     answer: "StatusCode: 200, … deserialization failed, read tcp …: use of
//     closed network connection". The call was carried out, but the caller
//     sees an error — a retry duplicates it, and without retries (producers,
//     the meter's tests) it fails.
//
// Without WriteTo, io.Copy reads the closed body, gets io.EOF and ends cleanly.
// docs/devstack-meter.md ("A 200 lost to a closed connection") has the trace.
func AddRequestBodyWithoutWriteTo(stack *middleware.Stack) error {
	return stack.Finalize.Add(requestBodyWithoutWriteTo{}, middleware.After)
}

// requestBodyWithoutWriteTo runs last in the finalize step, after signing,
// once per attempt.
type requestBodyWithoutWriteTo struct{}

func (requestBodyWithoutWriteTo) ID() string { return "RequestBodyWithoutWriteTo" }

// HandleFinalize wraps a seekable request stream that has WriteTo (the
// bytes.Reader or strings.Reader of every buffered operation) in one that has
// only Read and Seek; other streams (event streams, pipes) are left alone.
func (requestBodyWithoutWriteTo) HandleFinalize(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
	req, ok := in.Request.(*smithyhttp.Request)
	if !ok {
		return next.HandleFinalize(ctx, in)
	}
	stream, ok := req.GetStream().(io.ReadSeeker)
	if _, writerTo := stream.(io.WriterTo); !ok || !writerTo {
		return next.HandleFinalize(ctx, in)
	}
	wrapped, err := req.SetStream(readSeekerOnly{stream})
	if err != nil {
		return middleware.FinalizeOutput{}, middleware.Metadata{}, fmt.Errorf("wrap request body: %w", err)
	}
	in.Request = wrapped
	return next.HandleFinalize(ctx, in)
}

// readSeekerOnly exposes Read and Seek of a stream and nothing else.
type readSeekerOnly struct{ io.ReadSeeker }
