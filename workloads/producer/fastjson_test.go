package producer

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzSimpleRecord checks that the fast path agrees with encoding/json on every
// input it accepts, and that appendJSONString writes JSON that decodes back.
func FuzzSimpleRecord(f *testing.F) {
	f.Add([]byte(`{"data":"This is a load testing record"}`))
	f.Add([]byte(`{"data":"x","partitionKey":"k"}`))
	f.Add([]byte(`{"data":"\u00e9"}`))
	f.Add([]byte("{\"data\":\"\xff\"}"))
	f.Fuzz(func(t *testing.T, body []byte) {
		data, pk, hasPK, ok := parseSimpleRecord(body)
		if ok {
			var in recordIn
			if err := json.Unmarshal(body, &in); err != nil {
				t.Fatalf("fast path accepted %q, encoding/json refuses: %v", body, err)
			}
			var s string
			if err := json.Unmarshal(in.Data, &s); err != nil || s != string(data) {
				t.Fatalf("data %q vs %q (%v)", data, s, err)
			}
			if hasPK != (in.PartitionKey != nil) || (hasPK && *in.PartitionKey != pk) {
				t.Fatalf("partition key differs for %q", body)
			}
		}
		enc := appendJSONString(nil, string(body))
		var back string
		if err := json.Unmarshal(enc, &back); err != nil {
			t.Fatalf("appendJSONString(%q) = %s: %v", body, enc, err)
		}
		want, _ := json.Marshal(string(body))
		var wantBack string
		json.Unmarshal(want, &wantBack)
		if back != wantBack {
			t.Fatalf("appendJSONString(%q) decodes to %q, encoding/json to %q", body, back, wantBack)
		}
	})
}

func TestParseSimpleRecordShapes(t *testing.T) {
	for body, wantOK := range map[string]bool{
		`{"data":"abc"}`:                      true,
		`{"data":"abc","partitionKey":"k"}`:   true,
		`{"data":"a\"bc"}`:                    false, // escape: slow path
		`{"data":"abc"} `:                     false, // trailing space: slow path
		`{"data":"abc","other":1}`:            false,
		`{"data":1}`:                          false,
		"{\"data\":\"\xff\"}":                 false,
		`{"data":"abc","partitionKey":"k"} x`: false,
	} {
		if _, _, _, ok := parseSimpleRecord([]byte(body)); ok != wantOK {
			t.Errorf("parseSimpleRecord(%s) ok = %v, want %v", body, ok, wantOK)
		}
	}
	// The slow path still decodes what the fast path declines.
	rec, reason, _ := parseRecord([]byte(`{"data":"a\"bc"} `))
	if reason != "" || !bytes.Equal(rec.Data, []byte(`a"bc`)) {
		t.Fatalf("slow path: %q %s", rec.Data, reason)
	}
}
