package meter

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
)

// Size limits of buffered bodies. A PutRecords call carries at most 5 MiB of
// data and partition keys, about 6.7 MiB once base64-encoded in JSON; a
// GetRecords response at most 10 MiB of data, about 13.4 MiB encoded.
const (
	maxRequestBody  = 8 << 20
	maxResponseBody = 24 << 20
)

// upstreamResponse is a buffered answer of kinesis-local.
type upstreamResponse struct {
	status int
	header http.Header
	body   []byte
}

// readBody reads a metered request's body, refusing one larger than any valid
// Kinesis request with AWS's error for it.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusBadRequest, "InvalidArgumentException",
				fmt.Sprintf("Request body exceeds %d bytes: more than the 5 MiB of records a PutRecords call may carry.", maxRequestBody))
			return nil, false
		}
		writeError(w, http.StatusBadRequest, "SerializationException", "Cannot read the request body: "+err.Error())
		return nil, false
	}
	return body, true
}

// hopHeaders are per-connection headers a proxy does not forward.
var hopHeaders = []string{"Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// roundTrip sends body upstream with r's path and headers and buffers the
// answer. The signature no longer matches a changed body; kinesis-local does
// not check signatures.
func (m *Meter) roundTrip(r *http.Request, body []byte) (*upstreamResponse, error) {
	u := *m.opts.Upstream
	u.Path, u.RawPath = r.URL.Path, r.URL.RawPath
	u.RawQuery = r.URL.RawQuery
	out, err := http.NewRequestWithContext(r.Context(), http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("build upstream request: %w", err)
	}
	out.Header = r.Header.Clone()
	for _, h := range hopHeaders {
		out.Header.Del(h)
	}
	// Let the transport negotiate compression and undo it, so the body read
	// here is plain JSON.
	out.Header.Del("Accept-Encoding")
	out.Header.Del("Content-Length")
	out.ContentLength = int64(len(body))
	out.Host = r.Host
	resp, err := m.forward.RoundTrip(out)
	if err != nil {
		return nil, fmt.Errorf("forward to kinesis-local: %w", err)
	}
	defer resp.Body.Close()
	buf, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody+1))
	if err != nil {
		return nil, fmt.Errorf("read kinesis-local's answer: %w", err)
	}
	if len(buf) > maxResponseBody {
		return nil, fmt.Errorf("kinesis-local's answer exceeds %d bytes", maxResponseBody)
	}
	return &upstreamResponse{status: resp.StatusCode, header: resp.Header, body: buf}, nil
}

// call sends body upstream and returns the answer for the caller to account
// for and then relay with write — in that order, so that a client's next
// request already meets the budgets and iterators this answer changed. When
// upstream cannot be reached it answers w itself and returns false.
func (m *Meter) call(w http.ResponseWriter, r *http.Request, body []byte) (*upstreamResponse, bool) {
	resp, err := m.roundTrip(r, body)
	if err != nil {
		m.log.V(1).Info("Forward failed", "error", err.Error())
		writeError(w, http.StatusBadGateway, "InternalFailure", err.Error())
		return nil, false
	}
	return resp, true
}

// forwardBuffered sends body upstream and relays the answer as it is.
func (m *Meter) forwardBuffered(w http.ResponseWriter, r *http.Request, body []byte) {
	if resp, ok := m.call(w, r, body); ok {
		resp.write(w)
	}
}

func (u *upstreamResponse) write(w http.ResponseWriter) { writeResponse(w, u.status, u.header, u.body) }

// writeResponse writes an answer with upstream's headers and a new body.
func writeResponse(w http.ResponseWriter, status int, header http.Header, body []byte) {
	for k, vs := range header {
		w.Header()[k] = append([]string(nil), vs...)
	}
	for _, h := range append(hopHeaders, "Content-Length", "Content-Encoding") {
		w.Header().Del(h)
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writeError writes an error the way Kinesis's JSON protocol does, which the
// SDK turns into the typed exception named by errType.
func writeError(w http.ResponseWriter, status int, errType, message string) {
	body, _ := json.Marshal(map[string]string{"__type": errType, "message": message})
	h := http.Header{}
	h.Set("Content-Type", "application/x-amz-json-1.1")
	h.Set("X-Amzn-Errortype", errType)
	h.Set("X-Amzn-Requestid", requestID())
	writeResponse(w, status, h, body)
}

// errThrottled is the code of a shard over its budget.
const errThrottled = "ProvisionedThroughputExceededException"
