package engine

import (
	"testing"
	"time"
)

// Each way a connection ends is counted under its own reason.
func TestCloseReasons(t *testing.T) {
	m := &countMetrics{}
	r, clk := testRelay(t, func(c *Config) {
		c.Metrics = m
		c.ProbationTimeout = time.Second
		c.IdleTimeout = time.Hour
	})
	var w Worker

	peer, _ := open(r) // the peer goes away
	peer.Closed(nil)

	garbage, _ := open(r) // a frame that cannot be parsed
	if _, err := garbage.Receive(&w, []byte("HELLO WORLD\r\n\r\n")); err == nil {
		t.Fatal("malformed start line accepted")
	}
	garbage.Closed(nil) // the driver closes after the error

	slow, _ := open(r) // never makes a successful request
	clk.t = clk.t.Add(2 * time.Second)
	r.Tick(&w)
	if !slow.closed.Load() {
		t.Fatal("probation did not close")
	}

	for c, want := range map[Counter]int64{ConnsClosed: 1, ConnsClosedProtocolError: 1, ConnsClosedProbation: 1, ConnsClosedIdle: 0} {
		if got := m.n[c].Load(); got != want {
			t.Errorf("%s{%s}: %d, want %d", c.Name(), label(c), got, want)
		}
	}
	if got := m.n[ConnsOpened].Load(); got != 3 {
		t.Errorf("connections opened over tcp: %d, want 3", got)
	}
}

func label(c Counter) string { n, v := c.Label(); return n + "=" + v }
