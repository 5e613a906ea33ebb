package engine

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// TestSessionEndLogCounts: the end-of-session line counts body bytes from
// the client and toward it, and every request forwarded either way.
func TestSessionEndLogCounts(t *testing.T) {
	var logs bytes.Buffer
	r, _ := testRelay(t, func(c *Config) { c.Logger = zerolog.New(&logs) })
	alice, bob, _, _, to := setup(t, r)
	var w Worker
	receive(t, &w, alice, sendFrame("tid00001", to, aliceURI, "1-5/5", []byte("hello")))
	receive(t, &w, alice, sendFrame("tid00002", to, aliceURI, "1-2/2", []byte("hi")))
	sid := strings.Fields(to)[0]
	receive(t, &w, bob, sendFrame("tid00003", sid+" "+aliceURI, bobURI, "1-3/3", []byte("abc")))
	r.endSession(bob.owned[0], "test")
	var line struct {
		Message         string  `json:"message"`
		BytesFromClient int64   `json:"bytes_from_client"`
		BytesToClient   int64   `json:"bytes_to_client"`
		ReqsFromClient  int64   `json:"requests_from_client"`
		ReqsToClient    int64   `json:"requests_to_client"`
		DurationS       float64 `json:"duration_s"`
	}
	for _, l := range bytes.Split(logs.Bytes(), []byte("\n")) {
		if bytes.Contains(l, []byte("session ended")) {
			if err := json.Unmarshal(l, &line); err != nil {
				t.Fatal(err)
			}
		}
	}
	if line.Message != "session ended" || line.BytesFromClient != 3 || line.BytesToClient != 7 ||
		line.ReqsFromClient != 1 || line.ReqsToClient != 2 {
		t.Fatalf("session end line %+v in\n%s", line, logs.Bytes())
	}
}

// TestLogRateLimit: a source that provokes one refusal per request gets
// logBurst lines a second for that event; the next line that passes says
// how many were dropped, and the metric counts them.
func TestLogRateLimit(t *testing.T) {
	var logs bytes.Buffer
	m := &countMetrics{}
	r, clk := testRelay(t, func(c *Config) { c.Logger = zerolog.New(&logs); c.Metrics = m })
	c, _ := open(r)
	for range 100 {
		c.Note(zerolog.InfoLevel, "request refused").Int("status", 481).Send()
	}
	if n := bytes.Count(logs.Bytes(), []byte("request refused")); n != logBurst {
		t.Fatalf("%d lines in one second, want %d", n, logBurst)
	}
	clk.t = clk.t.Add(time.Second)
	logs.Reset()
	c.Note(zerolog.InfoLevel, "request refused").Send()
	if !bytes.Contains(logs.Bytes(), []byte(`"suppressed_before":95`)) || m.n[LogsSuppressed].Load() != 95 {
		t.Fatalf("next line %s, metric %d", logs.Bytes(), m.n[LogsSuppressed].Load())
	}
}

func TestSessionIDRoundTrip(t *testing.T) {
	id := newSessionID()
	text := id.appendText(nil)
	got, ok := parseSessionID(text)
	if len(text) != sessionIDLen || !ok || got != id {
		t.Fatalf("%s", text)
	}
	for _, bad := range []string{"", "short", strings.Repeat("A", sessionIDLen), strings.Repeat("1", sessionIDLen)} {
		if _, ok := parseSessionID([]byte(bad)); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}
