package enginetest

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/msrprelay/msrprelay/endpoint"
	"github.com/msrprelay/msrprelay/engine"
)

const (
	aliceURI = "msrp://alice.example.com:9/a;tcp"
	bobURI   = "msrp://bob.example.com:9/b;tcp"
)

// pair is bob AUTHed on r (on lis) and alice connected: to is the
// To-Path from alice to bob.
func pair(t *testing.T, r *engine.Relay, w *engine.Worker, lis engine.Listener, messages bool) (alice, bob *Link, to string) {
	_, bob = Open(r, lis, engine.PeerInfo{})
	bob.Messages = messages
	sess := Auth(t, w, bob.Conn(), bob, "bob", bobURI)
	if !strings.HasPrefix(sess, "msrp://"+Hostname+":2855/") {
		t.Fatalf("session URI %q", sess)
	}
	_, alice = Open(r, engine.Listener{Port: Port}, engine.PeerInfo{})
	return alice, bob, sess + " " + bobURI
}

func send(tid, to string, body []byte) []byte {
	req := endpoint.Request{TID: tid, Method: "SEND", ToPath: to, FromPath: aliceURI, ContentType: "text/plain", Body: body,
		Headers: [][2]string{{"Message-ID", "m-" + tid}, {"Byte-Range", fmt.Sprintf("1-%d/%d", len(body), len(body))}}}
	return req.Append(nil)
}

// A SEND fed in any cuts is forwarded whole to the AUTHed session's
// owner, whose link was woken, and alice gets her 200.
func TestForwardThroughLinks(t *testing.T) {
	wire := send("tid1", "", []byte("hello"))
	for _, cuts := range [][]int{nil, {1}, {10, 11, 12}, {len(wire) - 1}} {
		r, _ := NewRelay(t, nil)
		var w engine.Worker
		alice, bob, to := pair(t, r, &w, engine.Listener{Port: Port}, false)
		wakes := bob.Wakes()
		Feed(t, &w, alice.Conn(), send("tid1", to, []byte("hello")), cuts...)
		if bob.Wakes() == wakes {
			t.Fatalf("cuts %v: bob's link not woken", cuts)
		}
		got := Decode(t, bob.Out())
		if len(got) != 1 || got[0].Method != "SEND" || string(got[0].Body) != "hello" || got[0].Flag != '$' || got[0].Header("To-Path") != bobURI {
			t.Fatalf("cuts %v: forwarded %+v", cuts, got)
		}
		ack := Decode(t, alice.Out())
		if len(ack) != 1 || ack[0].Code != 200 || ack[0].TID != "tid1" {
			t.Fatalf("cuts %v: alice got %+v", cuts, ack)
		}
	}
}

// A socket with no room takes nothing, one with little takes that much,
// and what it took in the end is the frames whole and in order.
func TestTakeModelsAFullSocket(t *testing.T) {
	r, _ := NewRelay(t, nil)
	var w engine.Worker
	alice, bob, to := pair(t, r, &w, engine.Listener{Port: Port}, false)
	Feed(t, &w, alice.Conn(), send("tid1", to, bytes.Repeat([]byte("a"), 3000)))
	Feed(t, &w, alice.Conn(), send("tid2", to, []byte("b")))
	alice.Out() // her 200s: only bob's bytes stay queued
	bob.Take = Nothing
	if !bob.Flush() || len(bob.Out()) != 0 {
		t.Fatal("a full socket took bytes, or Flush did not ask to be called again")
	}
	bob.Take = AtMost(1000)
	first := bob.Out()
	if len(first) != 1000 || r.Drained() {
		t.Fatalf("took %d bytes, want 1000 with the rest still queued", len(first))
	}
	bob.Take = nil
	got := Decode(t, append(first, bob.Out()...))
	if len(got) != 2 || len(got[0].Body) != 3000 || string(got[1].Body) != "b" || !r.Drained() {
		t.Fatalf("%d frames after the socket drained", len(got))
	}
}

// A Messages link records where frames end: each message it hands over
// is one frame, also when the driver took a frame in two Flushes and put
// it on the wire in pieces.
func TestMessagesAreFrames(t *testing.T) {
	r, _ := NewRelay(t, nil)
	var w engine.Worker
	alice, bob, to := pair(t, r, &w, engine.Listener{Port: Port, WebSocket: true}, true)
	for i := range 3 {
		Feed(t, &w, alice.Conn(), send(fmt.Sprintf("tid%d", i), to, bytes.Repeat([]byte{'x'}, 100*(i+1))))
	}
	bob.Take, bob.Send = AtMost(700), AtMost(150)
	msgs := bob.OutMessages()
	bob.Take, bob.Send = nil, nil
	bob.Drain(-1)
	msgs = append(msgs, bob.OutMessages()...)
	if len(msgs) != 3 {
		t.Fatalf("%d messages, want 3", len(msgs))
	}
	for i, m := range msgs {
		if got := Decode(t, m); len(got) != 1 || len(got[0].Body) != 100*(i+1) {
			t.Fatalf("message %d is %d frames", i, len(got))
		}
	}
}

// Bytes the driver took but holds off the wire count against HighWater:
// the sender stays paused until Drain puts them on the wire and tells the
// engine, which then resumes it.
func TestHeldBytesCountUntilDrained(t *testing.T) {
	r, _ := NewRelay(t, func(c *engine.Config) { c.HighWater = 64 << 10; c.LowWater = 16 << 10 })
	var w engine.Worker
	alice, bob, to := pair(t, r, &w, engine.Listener{Port: Port}, false)
	wire := send("tid1", to, make([]byte, 1<<20))
	n, err := alice.Conn().Receive(&w, wire)
	if err != nil || !alice.Conn().Paused() {
		t.Fatalf("consumed %d of %d, paused %v, %v", n, len(wire), alice.Conn().Paused(), err)
	}
	bob.Send = Nothing
	bob.Flush()
	if bob.Held() == 0 || len(bob.Taken()) != 0 || !alice.Conn().Paused() || alice.Resumes() != 0 {
		t.Fatalf("held %d: alice paused %v, resumed %d times", bob.Held(), alice.Conn().Paused(), alice.Resumes())
	}
	held := bob.Held()
	if waiting := bob.Drain(-1); waiting || bob.Held() != 0 || alice.Resumes() != 1 || alice.Conn().Paused() {
		t.Fatalf("after Drain: senders waiting %v, held %d, alice resumed %d times", waiting, bob.Held(), alice.Resumes())
	}
	if got := len(bob.Taken()); got != held {
		t.Fatalf("%d bytes on the wire, %d were held", got, held)
	}
}

// With DeferClose the engine's close is only counted: the connection is
// open until the test closes it as its driver.
func TestDeferClose(t *testing.T) {
	r, clk := NewRelay(t, func(c *engine.Config) { c.ProbationTimeout = time.Minute })
	var w engine.Worker
	c, l := Open(r, engine.Listener{Port: Port}, engine.PeerInfo{})
	l.DeferClose = true
	clk.Advance(2 * time.Minute)
	r.Tick(&w)
	if l.Closes() != 1 || r.Conns() != 1 {
		t.Fatalf("closes %d, %d connections", l.Closes(), r.Conns())
	}
	c.Closed(&w)
	if r.Conns() != 0 {
		t.Fatalf("%d connections after Closed", r.Conns())
	}
}

// The engine's asks are counted: a close (the probation timer's), a ping
// of a quiet WebSocket connection; a close reaches the engine.
func TestLinkCountsWhatTheEngineAsks(t *testing.T) {
	r, clk := NewRelay(t, func(c *engine.Config) { c.ProbationTimeout = time.Minute; c.WSPing = time.Second })
	var w engine.Worker
	_, ws := Open(r, engine.Listener{Port: Port, WebSocket: true}, engine.PeerInfo{})
	_, idle := Open(r, engine.Listener{Port: Port}, engine.PeerInfo{})
	clk.Advance(2 * time.Second)
	r.Tick(&w)
	if ws.Pings() != 1 || idle.Pings() != 0 {
		t.Fatalf("pings: WebSocket %d, TCP %d", ws.Pings(), idle.Pings())
	}
	clk.Advance(time.Minute)
	r.Tick(&w)
	if idle.Closes() != 1 || ws.Closes() != 1 || r.Conns() != 0 {
		t.Fatalf("closes %d %d, %d connections left", idle.Closes(), ws.Closes(), r.Conns())
	}
}

// The decoder returns the same frames whatever the cuts its bytes come
// in, a body larger than its buffer included, and only whole ones.
func TestDecoderAnyCuts(t *testing.T) {
	var wire []byte
	wire = append(wire, send("tidA", bobURI, []byte("hello"))...)
	wire = append(wire, (&endpoint.Request{TID: "tidB", Method: "NICKNAME", ToPath: bobURI, FromPath: aliceURI}).Append(nil)...)
	wire = append(wire, send("tidC", bobURI, bytes.Repeat([]byte("-------tidA$\r\n"), 20000))...)
	want := Decode(t, wire)
	if len(want) != 3 || want[1].HasBody || len(want[2].Body) != 20000*14 {
		t.Fatalf("whole: %d frames", len(want))
	}
	for _, step := range []int{1, 7, 4096, 100000} {
		d := NewDecoder()
		var got []*endpoint.Frame
		for i := 0; i < len(wire); i += step {
			d.Write(wire[i:min(i+step, len(wire))])
			fs, err := d.Frames()
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, fs...)
		}
		if d.Partial() || len(got) != 3 {
			t.Fatalf("step %d: %d frames, partial %v", step, len(got), d.Partial())
		}
		for i := range got {
			if got[i].TID != want[i].TID || !bytes.Equal(got[i].Body, want[i].Body) || got[i].Flag != want[i].Flag {
				t.Fatalf("step %d: frame %d differs", step, i)
			}
		}
	}
}

func TestDecoderRefusesWhatNoPeerReads(t *testing.T) {
	frame := send("tidA", bobURI, []byte("hello"))
	tests := []struct {
		name    string
		wire    []byte
		err     bool
		partial bool
	}{
		{"garbage", []byte("HELLO WORLD\r\n\r\n"), true, false},
		{"cut in the header", frame[:10], false, true},
		{"cut in the body", frame[:len(frame)-3], false, true},
	}
	for _, tc := range tests {
		d := NewDecoder()
		d.Write(tc.wire)
		fs, err := d.Frames()
		if (err != nil) != tc.err || len(fs) != 0 || (err == nil && d.Partial() != tc.partial) {
			t.Errorf("%s: %d frames, %v, partial %v", tc.name, len(fs), err, d.Partial())
		}
	}
}
