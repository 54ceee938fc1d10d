package meter

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// AWS allows two capacity-mode switches per stream per rolling 24 hours
// ("Quotas and limits", and the developer guide's "Switching between
// capacity modes"; docs/scaling.md). kinesis-local accepts any number: the
// meter refuses a third within 24 hours as AWS documents it, with
// LimitExceededException, before it reaches kinesis-local.
const (
	modeSwitchesPerWindow = 2
	modeSwitchWindow      = 24 * time.Hour
)

// modeLedger is the accepted UpdateStreamMode calls by stream ARN, in the
// meter's memory (a restarted meter forgets them; AWS would not).
type modeLedger struct {
	mu       sync.Mutex
	switches map[string][]time.Time
}

// recent returns arn's switches within the window before now.
func (l *modeLedger) recent(arn string, now time.Time) []time.Time {
	var keep []time.Time
	for _, t := range l.switches[arn] {
		if now.Sub(t) < modeSwitchWindow {
			keep = append(keep, t)
		}
	}
	return keep
}

// updateStreamMode refuses a switch beyond the limit with
// LimitExceededException and forwards the others; a switch kinesis-local
// accepted is counted.
func (m *Meter) updateStreamMode(w http.ResponseWriter, r *http.Request, body []byte) {
	var in struct {
		StreamARN string `json:"StreamARN"`
	}
	if json.Unmarshal(body, &in) != nil || in.StreamARN == "" {
		m.forwardBuffered(w, r, body) // upstream answers the bad request
		return
	}
	now := m.clock.Now()
	m.modes.mu.Lock()
	recent := m.modes.recent(in.StreamARN, now)
	m.modes.mu.Unlock()
	if len(recent) >= modeSwitchesPerWindow {
		writeError(w, http.StatusBadRequest, "LimitExceededException", fmt.Sprintf(
			"Stream %s has had %d capacity mode updates in the last 24 hours; the next is allowed after %s.",
			in.StreamARN, len(recent), recent[len(recent)-modeSwitchesPerWindow].Add(modeSwitchWindow).UTC().Format(time.RFC3339)))
		return
	}
	resp, ok := m.call(w, r, body)
	if !ok {
		return
	}
	if resp.status == http.StatusOK {
		m.modes.mu.Lock()
		if m.modes.switches == nil {
			m.modes.switches = map[string][]time.Time{}
		}
		m.modes.switches[in.StreamARN] = append(m.modes.recent(in.StreamARN, now), now)
		m.modes.mu.Unlock()
	}
	resp.write(w)
}
