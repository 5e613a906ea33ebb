package e2etest

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/msrprelay/msrprelay/endpoint"
	"github.com/msrprelay/msrprelay/engine"
)

// dropCases: peers that vanish or stall while the relay holds their
// traffic (parked senders, slow receivers, resets).
var dropCases = []suiteCase{
	{"ParkedSenderResets", testParkedSenderResets},
	{"ReceiverClosesOnParkedSender", testReceiverClosesOnParkedSender},
	{"ParkedSenderResetsReceiverCloses", testParkedSenderResetsReceiverCloses},
}

// dropBody is large enough that a sender into a receiver that does not
// read fills every buffer on the way (the relay's queue, both sockets'
// kernel buffers) and the relay stops reading it: the gnet driver parks it.
const dropBody = 24 << 20

// lowWater makes the relay pause a sender early, so that the kernel
// buffers rather than the relay's queue decide when the sender stalls.
func lowWater(c *engine.Config) {
	c.HighWater = 64 << 10
	c.LowWater = 16 << 10
}

// dropWriter writes a frame from a goroutine and counts what the socket
// took, so a test can tell when the relay stopped reading the sender.
type dropWriter struct {
	sent atomic.Int64
	done chan error
}

func startDropWriter(c *endpoint.Conn, wire []byte) *dropWriter {
	w := &dropWriter{done: make(chan error, 1)}
	go func() {
		for len(wire) > 0 {
			n := min(len(wire), 64<<10)
			if err := c.Write(wire[:n]); err != nil {
				w.done <- err
				return
			}
			w.sent.Add(int64(n))
			wire = wire[n:]
		}
		w.done <- nil
	}()
	return w
}

// waitHeldBack waits until the relay takes no more of the writer's bytes
// for a while: every buffer between the sender and the relay is full.
func (w *dropWriter) waitHeldBack(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	last := int64(-1)
	for {
		select {
		case err := <-w.done:
			t.Fatalf("the relay took the whole body without the receiver reading (%v)", err)
		case <-time.After(300 * time.Millisecond):
		}
		now := w.sent.Load()
		if now == last {
			return
		}
		last = now
		if time.Now().After(deadline) {
			t.Fatalf("the sender was never held back (%d bytes taken)", now)
		}
	}
}

// resetConn closes c's TCP connection with a reset (SO_LINGER 0), as a
// crashed client or a middlebox would.
func resetConn(t testing.TB, c *endpoint.Conn) {
	t.Helper()
	raw := c.Raw()
	// Under TLS or WebSocket (or both) lies the TCP socket.
	for {
		inner, ok := raw.(interface{ NetConn() net.Conn })
		if !ok {
			break
		}
		raw = inner.NetConn()
	}
	tcp, ok := raw.(*net.TCPConn)
	if !ok {
		t.Fatalf("not a TCP connection: %T", raw)
	}
	if err := tcp.SetLinger(0); err != nil {
		t.Fatal(err)
	}
	tcp.Close()
}

// parkedSender is a pair whose alice streams one large chunk that bob does
// not read, until the relay holds her back.
func parkedSender(t *testing.T, start *suite) (*pair, []byte, *dropWriter) {
	p := newPair(t, startEnv(t, start, lowWater))
	body := make([]byte, dropBody)
	rand.Read(body)
	req := p.frame("big", body, '$')
	p.alice.SetDeadline(time.Now().Add(time.Minute))
	p.bob.SetDeadline(time.Now().Add(time.Minute))
	w := startDropWriter(p.alice, req.Append(nil))
	w.waitHeldBack(t)
	return p, body, w
}

// expectAbortedChunk reads SENDs at bob until the chunk ends with '#' and
// checks that what arrived is the start of body.
func (p *pair) expectAbortedChunk(t testing.TB, body []byte) {
	t.Helper()
	var got []byte
	for {
		f := expectRequest(t, p.bob, "SEND")
		got = append(got, f.Body...)
		if f.Flag == '#' {
			break
		}
		if f.Flag == '$' {
			t.Fatal("a chunk whose sender vanished must not end with '$'")
		}
	}
	if !bytes.HasPrefix(body, got) {
		t.Fatalf("the %d bytes delivered are not the start of the body (first diff at %d)", len(got), firstDiff(got, body))
	}
}

// expectServing proves the relay still works: a fresh AUTH, a SEND through
// it, its 200 and its delivery.
func expectServing(t testing.TB, e *env) {
	t.Helper()
	q := newPair(t, e)
	body := []byte("still serving")
	req := q.frame("after", body, '$')
	if err := q.alice.Send(&req); err != nil {
		t.Fatal(err)
	}
	expectResponse(t, q.alice, req.TID, 200)
	q.expectDelivered(t, body)
}

// testParkedSenderResets: alice is held back by a receiver slower than
// her, then resets her connection. When bob drains, the relay resumes a
// socket that is gone: bob gets the chunk ended as aborted and the relay
// goes on (the gnet driver once re-enrolled the dead socket and gnet
// panicked in its own goroutine, taking the process down).
func testParkedSenderResets(t *testing.T, start *suite) {
	p, body, _ := parkedSender(t, start)
	resetConn(t, p.alice)
	p.expectAbortedChunk(t, body)
	expectServing(t, p.e)
}

// testReceiverClosesOnParkedSender: bob never reads and hangs up while
// alice is held back. Alice is resumed into a session that is gone: the
// relay reads the rest of her chunk, tells her every byte failed, and goes
// on.
func testReceiverClosesOnParkedSender(t *testing.T, start *suite) {
	p, body, w := parkedSender(t, start)
	p.bob.Close()
	select {
	case err := <-w.done:
		if err != nil {
			t.Fatalf("alice could not finish her chunk: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the relay stopped reading alice (%d of %d bytes taken)", w.sent.Load(), len(body))
	}
	expectFailureReports(t, p.alice, int64(len(body)))
	expectServing(t, p.e)
}

// testParkedSenderResetsReceiverCloses: both ends vanish while alice is
// held back (a client program that exits): her reset comes first, then
// bob hangs up with her bytes unread, which resumes her dead socket.
func testParkedSenderResetsReceiverCloses(t *testing.T, start *suite) {
	p, _, _ := parkedSender(t, start)
	resetConn(t, p.alice)
	time.Sleep(50 * time.Millisecond)
	p.bob.Close()
	expectServing(t, p.e)
}

// expectFailureReports reads frames at c until REPORTs cover bytes 1 to
// size, in order.
func expectFailureReports(t testing.TB, c *endpoint.Conn, size int64) {
	t.Helper()
	next := int64(1)
	for next <= size {
		f := readFrame(t, c)
		if f.Method != "REPORT" {
			continue
		}
		var first, last, total int64
		if _, err := fmt.Sscanf(f.Header("Byte-Range"), "%d-%d/%d", &first, &last, &total); err != nil || first != next || last < first {
			t.Fatalf("REPORT %q after bytes up to %d (%v)", f.Header("Byte-Range"), next-1, err)
		}
		next = last + 1
	}
}

// testLastFrameBeforeClose: a client writes its last request and closes
// at once (msrpclient after its last REPORT; TLS close_notify or a
// WebSocket close frame in the same read as the request): the request is
// still forwarded.
func testLastFrameBeforeClose(t *testing.T, start *suite) {
	p := newPair(t, startEnv(t, start, nil))
	body := []byte("last words")
	req := p.frame("last", body, '$')
	if err := p.alice.Send(&req); err != nil {
		t.Fatal(err)
	}
	p.alice.Close()
	p.expectDelivered(t, body)
}
