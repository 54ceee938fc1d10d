package meter

import (
	"encoding/json"
	"testing"
	"time"
)

// TestModeSwitchesLimitedToTwoPer24Hours: kinesis-local accepts any number
// of UpdateStreamMode calls; the meter refuses the third within 24 hours
// with LimitExceededException, unforwarded, per stream, and allows one again
// once the oldest ages out. A switch kinesis-local refused does not count.
func TestModeSwitchesLimitedToTwoPer24Hours(t *testing.T) {
	u := newUnit(t, Options{})
	body := func(arn, mode string) []byte {
		return []byte(`{"StreamARN":"` + arn + `","StreamModeDetails":{"StreamMode":"` + mode + `"}}`)
	}
	const a, b = "arn:aws:kinesis:us-east-1:000000000000:stream/a", "arn:aws:kinesis:us-east-1:000000000000:stream/b"
	forwarded := func() int {
		u.upstream.mu.Lock()
		defer u.upstream.mu.Unlock()
		return len(u.upstream.bodies)
	}
	errType := func(raw []byte) string {
		var e struct {
			Type string `json:"__type"`
		}
		_ = json.Unmarshal(raw, &e)
		return e.Type
	}
	u.upstream.answer = func([]byte) (int, string) { return 400, `{"__type":"ResourceInUseException","message":"busy"}` }
	if w := u.do("UpdateStreamMode", jsonType, body(a, "ON_DEMAND")); w.Code != 400 {
		t.Fatalf("refused upstream: %d %s", w.Code, w.Body)
	}
	u.upstream.answer = func([]byte) (int, string) { return 200, "" }
	for i, mode := range []string{"ON_DEMAND", "PROVISIONED"} {
		if w := u.do("UpdateStreamMode", jsonType, body(a, mode)); w.Code != 200 {
			t.Fatalf("switch %d: %d %s", i+1, w.Code, w.Body)
		}
		u.clock.Step(time.Hour)
	}
	w := u.do("UpdateStreamMode", jsonType, body(a, "ON_DEMAND"))
	if w.Code != 400 || errType(w.Body.Bytes()) != "LimitExceededException" || forwarded() != 3 {
		t.Fatalf("third switch within 24 h: %d %s (%d forwarded), want 400 LimitExceededException, not forwarded", w.Code, w.Body, forwarded())
	}
	if w := u.do("UpdateStreamMode", jsonType, body(b, "ON_DEMAND")); w.Code != 200 {
		t.Fatalf("another stream: %d %s", w.Code, w.Body)
	}
	u.clock.Step(22 * time.Hour) // the first counted switch is now 24 h old
	if w := u.do("UpdateStreamMode", jsonType, body(a, "ON_DEMAND")); w.Code != 200 {
		t.Fatalf("after the oldest aged out: %d %s", w.Code, w.Body)
	}
}
