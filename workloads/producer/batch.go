package producer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
)

type batchResult struct {
	Accepted int          `json:"accepted"`
	Rejected int          `json:"rejected"`
	Results  []itemResult `json:"results"`
}

type itemResult struct {
	Status         string `json:"status"` // ok, accepted, invalid, too_large
	Error          string `json:"error,omitempty"`
	PartitionKey   string `json:"partitionKey,omitempty"`
	ShardID        string `json:"shardId,omitempty"`
	SequenceNumber string `json:"sequenceNumber,omitempty"`
}

// errTooManyRecords stops a batch decode at the first record beyond the limit.
var errTooManyRecords = fmt.Errorf("records exceed the limit of %d per request", MaxRecordsPerRequest)

// errNotArray is a JSON batch that is not an array of values.
type errNotArray struct{ err error }

func (e errNotArray) Error() string { return "body must be a JSON array of records: " + e.err.Error() }

// readItems decodes a batch body as a stream into its record texts (each a
// copy), stopping at the first record beyond MaxRecordsPerRequest: nothing is
// allocated for what follows, so a body of millions of tiny values costs no
// more than 10,001 of them. NDJSON: one record per non-blank line.
func readItems(body io.Reader, ndjson bool, maxLine int64) ([][]byte, error) {
	var items [][]byte
	if ndjson {
		sc := bufio.NewScanner(body)
		sc.Buffer(make([]byte, 0, 64<<10), int(maxLine)+1)
		for sc.Scan() {
			line := bytes.TrimSpace(sc.Bytes())
			if len(line) == 0 {
				continue
			}
			if len(items) == MaxRecordsPerRequest {
				return nil, errTooManyRecords
			}
			items = append(items, bytes.Clone(line))
		}
		return items, sc.Err()
	}
	dec := json.NewDecoder(body)
	tok, err := dec.Token()
	if err != nil {
		return nil, readErr(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return nil, errNotArray{fmt.Errorf("starts with %v", tok)}
	}
	for dec.More() {
		if len(items) == MaxRecordsPerRequest {
			return nil, errTooManyRecords
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, readErr(err)
		}
		items = append(items, raw)
	}
	if _, err := dec.Token(); err != nil { // the closing ]
		return nil, readErr(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		if err == nil {
			err = errors.New("data after the array")
		}
		return nil, readErr(err)
	}
	return items, nil
}

// readErr keeps read failures (size limit, deadline) apart from JSON errors.
func readErr(err error) error {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) || errors.Is(err, os.ErrDeadlineExceeded) {
		return err
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return errNotArray{err}
}

// ingestBatch handles POST /records: every valid record is buffered (all or,
// on back-pressure, none); invalid ones are reported in their result and not
// sent. 400 only when no record is valid. release ends the body admission once
// the records are buffered.
func (h *Handler) ingestBatch(w http.ResponseWriter, r *http.Request, body io.Reader, ndjson, async bool, release func()) {
	items, err := readItems(body, ndjson, h.cfg.MaxRequestBytes)
	var notArray errNotArray
	switch {
	case errors.Is(err, errTooManyRecords):
		w.Header().Set("Connection", "close") // the rest of the body is not read
		h.fail(w, "/records", http.StatusRequestEntityTooLarge, "too_large", err.Error())
		return
	case errors.As(err, &notArray):
		h.fail(w, "/records", http.StatusBadRequest, "invalid", err.Error())
		return
	case errors.Is(err, bufio.ErrTooLong):
		h.fail(w, "/records", http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("body exceeds the limit of %d bytes", h.cfg.MaxRequestBytes))
		return
	case err != nil:
		h.bodyError(w, "/records", err)
		return
	}
	if len(items) == 0 {
		h.fail(w, "/records", http.StatusBadRequest, "invalid", "no records")
		return
	}
	h.metrics.received.Add(float64(len(items)))
	res := batchResult{Results: make([]itemResult, len(items))}
	recs := make([]Record, 0, len(items))
	index := make([]int, 0, len(items))
	for i, it := range items {
		rec, reason, msg := parseRecord(it)
		if reason != "" {
			h.metrics.rejected.WithLabelValues(reason).Inc()
			res.Results[i] = itemResult{Status: reason, Error: msg}
			res.Rejected++
			continue
		}
		res.Results[i].PartitionKey = rec.PartitionKey
		recs = append(recs, rec)
		index = append(index, i)
	}
	items = nil // records that alias their text keep it; the rest can go
	if len(recs) == 0 {
		b, _ := json.Marshal(res)
		h.reply(w, "/records", http.StatusBadRequest, b)
		return
	}
	var t *Ticket
	if !async {
		t = NewTicket(len(recs))
	}
	if !h.enqueue(w, "/records", recs, t) {
		return
	}
	release()
	res.Accepted = len(recs)
	code := http.StatusAccepted
	if async {
		for _, i := range index {
			res.Results[i].Status = "accepted"
		}
	} else {
		if !h.await(w, r, "/records", t) {
			return
		}
		for k, i := range index {
			a := t.Acks()[k]
			res.Results[i].Status, res.Results[i].ShardID, res.Results[i].SequenceNumber = "ok", a.ShardID, a.SequenceNumber
		}
		code = http.StatusOK
	}
	b, _ := json.Marshal(res)
	h.reply(w, "/records", code, b)
}
