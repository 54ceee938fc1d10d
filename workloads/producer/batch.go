package producer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
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

// ingestBatch handles POST /records: every valid record is buffered (all or,
// on back-pressure, none); invalid ones are reported in their result and not
// sent. 400 only when no record is valid.
func (h *Handler) ingestBatch(w http.ResponseWriter, r *http.Request, body []byte, ndjson, async bool) {
	var items [][]byte
	if ndjson {
		for _, line := range bytes.Split(body, []byte("\n")) {
			line = bytes.TrimSpace(line)
			if len(line) > 0 {
				items = append(items, line)
			}
		}
	} else {
		var raw []json.RawMessage
		if err := json.Unmarshal(body, &raw); err != nil {
			h.fail(w, "/records", http.StatusBadRequest, "invalid", "body must be a JSON array of records: "+err.Error())
			return
		}
		for _, m := range raw {
			items = append(items, m)
		}
	}
	if len(items) == 0 {
		h.fail(w, "/records", http.StatusBadRequest, "invalid", "no records")
		return
	}
	if len(items) > MaxRecordsPerRequest {
		h.fail(w, "/records", http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("%d records exceed the limit of %d per request", len(items), MaxRecordsPerRequest))
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
