package engine

import (
	"bytes"
	"fmt"
	"testing"
)

// A peer relay that ignores the window (it sends on while its 200s are
// held) is stopped at the shared bound: its connection pauses once the
// target holds HighWater plus four windows, and the 200s held for it stay
// within their bound until the target drains, when they all go out.
func TestSharedSenderIgnoringWindowIsBounded(t *testing.T) {
	r, _ := testRelay(t, func(c *Config) { c.HighWater, c.LowWater, c.RelayWindow = 64<<10, 16<<10, 32<<10 })
	peer, bob, lp, lb, to := setup(t, r)
	var w Worker
	from := "msrp://relay-a.example.com:2855/s;tcp " + aliceURI // came through a relay
	body := bytes.Repeat([]byte("x"), 8<<10)
	limit := sharedLimit(&r.cfg)
	sent := 0
	for i := 0; !peer.Paused(); i++ {
		if int64(sent) > 4*limit {
			t.Fatalf("%d bytes taken from a peer whose target reads nothing", sent)
		}
		receive(t, &w, peer, sendFrame(fmt.Sprintf("tid%05d", i), to, from, fmt.Sprintf("1-%d/%d", len(body), len(body)), body))
		sent += len(body)
	}
	if got := bob.out.backlog(); got > limit+int64(2*len(body)) {
		t.Fatalf("target holds %d bytes, bound %d", got, limit)
	}
	bob.out.mu.Lock()
	held := len(bob.out.acks)
	bob.out.mu.Unlock()
	if held == 0 || held > maxHeldAcks {
		t.Fatalf("%d 200s held", held)
	}
	acks := func() int { return bytes.Count(lp.flush(), []byte(" 200 OK\r\n")) }
	early := acks()
	// The target drains: every held 200 goes out and the peer resumes.
	lb.flush()
	bob.Drained(0)
	if got := early + acks(); got != sent/len(body) {
		t.Fatalf("%d 200s for %d chunks", got, sent/len(body))
	}
	if peer.Paused() {
		t.Fatal("the peer stays paused after its target drained")
	}
}
