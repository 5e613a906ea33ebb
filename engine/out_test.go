package engine

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"
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

// TestIdleCutStreamFailsWhenTargetCloses: alice's chunk is cut when
// another frame arrives for bob and sits idle waiting for her next bytes;
// bob leaves. What alice sends of the chunk afterwards, and what was cut
// off before, is reported failed: never acknowledged and lost.
func TestIdleCutStreamFailsWhenTargetCloses(t *testing.T) {
	r, clk := testRelay(t, nil)
	alice, bob, la, lb, to := setup(t, r)
	var w Worker
	body := bytes.Repeat([]byte("0123456789"), 1000) // 10000 bytes
	wire := sendFrame("tid00002", to, aliceURI, "1-10000/10000", body)
	hdrEnd := bytes.Index(wire, []byte("\r\n\r\n")) + 4
	receive(t, &w, alice, wire[:hdrEnd+3000])
	// A REPORT of the relay's own for bob cuts alice's chunk; she has
	// nothing more for now, so her stream is idle, out of bob's queue.
	clk.t = clk.t.Add(time.Second)
	reportTo(&w, r, bob)
	alice.Receive(&w, nil) // her read ends: the open chunk yields
	if got := decode(t, lb.flush()); len(got) != 2 || got[0].flag != '+' {
		t.Fatalf("want the cut piece and the REPORT, got %d frames", len(got))
	}
	bob.Closed(&w)
	receive(t, &w, alice, wire[hdrEnd+3000:])
	var reports []string
	for _, d := range decode(t, la.flush()) {
		if string(d.f.Method()) == "REPORT" {
			reports = append(reports, header(d, "Byte-Range")+" "+header(d, "Status"))
		}
	}
	// The first 3000 bytes went out in a piece whose transaction failed
	// with bob's close; the 7000 after it were dropped.
	want := []string{"1-3000/10000 000 481 Session Does Not Exist", "3001-10000/10000 000 481 Session Does Not Exist"}
	if strings.Join(reports, "|") != strings.Join(want, "|") {
		t.Fatalf("REPORTs %q, want %q", reports, want)
	}
}

// TestTransactionBytesPause: transactions keep their origin's From-Path;
// a sender whose requests carry huge ones toward a receiver that does not
// answer pauses once they hold HighWater bytes, long before the count cap.
func TestTransactionBytesPause(t *testing.T) {
	r, _ := testRelay(t, nil)
	alice, bob, _, lb, to := setup(t, r)
	var w Worker
	from := "msrp://alice.example.com:9/" + strings.Repeat("a", 15<<10) + ";tcp"
	sent := 0
	for ; sent < 1000 && !alice.Paused(); sent++ {
		receive(t, &w, alice, sendFrame(fmt.Sprintf("tid%05d", sent), to, from, "1-1/1", []byte("x")))
		lb.flush() // bob's socket takes everything; he never answers
	}
	if !alice.Paused() {
		t.Fatalf("alice not paused after %d requests holding %d bytes", sent, bob.out.txns.bytes())
	}
	if held := bob.out.txns.bytes(); held > 2*r.cfg.HighWater {
		t.Fatalf("transactions hold %d bytes at the pause", held)
	}
}
