package engine

import (
	"bytes"
	"fmt"
	"testing"
)

// TestBacklogCountsEveryWireByte: once a driver has taken everything, the
// backlog senders weigh is zero again, whatever the out wrote itself
// (chunk headers, end-lines, cuts). A count that drifted below zero would
// let a long-lived connection queue ever more before its senders pause.
func TestBacklogCountsEveryWireByte(t *testing.T) {
	r, _ := testRelay(t, nil)
	alice, bob, _, lb, to := setup(t, r)
	var w Worker
	body := bytes.Repeat([]byte("0123456789"), 1000)
	for i := range 20 {
		tid := fmt.Sprintf("tid%05d", i)
		wire := sendFrame(tid, to, aliceURI, fmt.Sprintf("1-%d/%d", len(body), len(body)), body)
		hdrEnd := bytes.Index(wire, []byte("\r\n\r\n")) + 4
		// In pieces, so the chunk streams with a header the out writes.
		receive(t, &w, alice, wire[:hdrEnd+3000])
		if got := bob.out.backlog(); got < 3000 {
			t.Fatalf("chunk %d: backlog %d with 3000 body bytes queued", i, got)
		}
		receive(t, &w, alice, wire[hdrEnd+3000:])
		if len(lb.flush()) == 0 {
			t.Fatal("nothing forwarded")
		}
		if got := bob.out.backlog(); got != 0 {
			t.Fatalf("after chunk %d was written: backlog %d, want 0", i, got)
		}
	}
}
