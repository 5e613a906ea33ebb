package engine

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/msrprelay/msrprelay/codec"
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
	_, rest := streamThenReport(t, &w, r, clk, alice, bob, to)
	// She has nothing more for now, so her stream is idle, out of bob's
	// queue.
	alice.Receive(&w, nil) // her read ends: the open chunk yields
	if got := decode(t, lb.flush()); len(got) != 2 || got[0].flag != '+' {
		t.Fatalf("want the cut piece and the REPORT, got %d frames", len(got))
	}
	bob.Closed(&w)
	receive(t, &w, alice, rest)
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

// TestStreamCutOnlyWhenSomethingWaits: a chunk arriving in pieces streams
// with Byte-Range end '*'; nothing else waiting, it is not cut. A REPORT for
// the same connection arriving mid-chunk cuts it after minChunk bytes, and
// the rest follows as a new chunk with the right start.
func TestStreamCutOnlyWhenSomethingWaits(t *testing.T) {
	r, clk := testRelay(t, nil)
	alice, bob, _, lb, to := setup(t, r)
	var w Worker
	body, unsent := streamThenReport(t, &w, r, clk, alice, bob, to)
	receive(t, &w, alice, unsent)
	got := decode(t, lb.flush())
	if len(got) != 3 {
		t.Fatalf("want chunk, REPORT, rest; got %d frames", len(got))
	}
	first, rep, rest := got[0], got[1], got[2]
	if header(first, "Byte-Range") != "1-*/10000" || first.flag != '+' || len(first.body) != 3000 {
		t.Fatalf("first piece: %s flag %c body %d", header(first, "Byte-Range"), first.flag, len(first.body))
	}
	if string(rep.f.Method()) != "REPORT" || header(rep, "Status") != "000 408 Request Timeout" {
		t.Fatalf("REPORT %q", rep.raw)
	}
	if header(rest, "Byte-Range") != "3001-*/10000" || rest.flag != '$' || !bytes.Equal(append(first.body, rest.body...), body) {
		t.Fatalf("rest: %s flag %c", header(rest, "Byte-Range"), rest.flag)
	}
	if !bytes.HasPrefix(rest.f.TID(), first.f.TID()) || bytes.Equal(rest.f.TID(), first.f.TID()) {
		t.Fatalf("tids %s then %s", first.f.TID(), rest.f.TID())
	}
	if got := bob.out.backlog(); got != 0 {
		t.Fatalf("everything written, backlog %d", got)
	}
}

// streamThenReport has alice stream the first 3000 bytes of a 10000-byte
// chunk to bob, then, a second later, queues a failure REPORT of the
// relay's own for bob, which cuts her chunk. It returns the chunk's body
// and the rest of its wire, not yet received.
func streamThenReport(t *testing.T, w *Worker, r *Relay, clk *fakeClock, alice, bob *Conn, to string) (body, rest []byte) {
	body = bytes.Repeat([]byte("0123456789"), 1000)
	wire := sendFrame("tid00002", to, aliceURI, "1-10000/10000", body)
	hdrEnd := bytes.Index(wire, []byte("\r\n\r\n")) + 4
	receive(t, w, alice, wire[:hdrEnd+3000])
	clk.t = clk.t.Add(time.Second)
	reportTo(w, r, bob)
	return body, wire[hdrEnd+3000:]
}

// reportTo queues on c a failure REPORT of the relay's own (for an
// earlier SEND of c's): a frame for c that does not come from a sender.
func reportTo(w *Worker, r *Relay, c *Conn) {
	tr := newTxn()
	tr.kind, tr.origin, tr.fr = txnSend, c, codec.ReportYes
	tr.rng = codec.ByteRange{Start: 1, End: 3, Total: 3}
	tr.setData([]byte(bobURI), []byte("msrp://relay.example.com:2855/x;tcp"), []byte("m0"))
	r.sendReport(w, tr, 408, "Request Timeout")
	freeTxn(tr)
}

// TestForwardedBodyNeverHoldsItsEndLine: the sender's body contains the end
// line the relay will use (the generator is made predictable here); the
// relay cuts the chunk before it and continues under a new tid.
func TestForwardedBodyNeverHoldsItsEndLine(t *testing.T) {
	probe := predictTIDs(t, 1)[0] // the tid forward() will draw
	r, _ := testRelay(t, nil)
	alice, _, _, lb, to := setup(t, r)
	var w Worker
	body := append(bytes.Repeat([]byte("x"), 5000), "\r\n-------"...)
	body = append(body, probe.bytes()...)
	body = append(body, "$\r\nforged frame after it"...)
	body = append(body, bytes.Repeat([]byte("y"), 5000)...)
	wire := sendFrame("tid00003", to, aliceURI, "1-*/*", body)
	hdrEnd := bytes.Index(wire, []byte("\r\n\r\n")) + 4
	receive(t, &w, alice, wire[:hdrEnd+100]) // starts a stream
	receive(t, &w, alice, wire[hdrEnd+100:])
	got := decode(t, lb.flush())
	var all []byte
	for _, d := range got {
		all = append(all, d.body...)
	}
	if !bytes.Equal(all, body) || len(got) < 2 {
		t.Fatalf("%d chunks, body intact %v", len(got), bytes.Equal(all, body))
	}
	if !bytes.Equal(got[0].f.TID(), probe.bytes()) {
		t.Fatalf("test setup: forward tid %s, predicted %s", got[0].f.TID(), probe.bytes())
	}
}
