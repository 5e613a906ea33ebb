package engine_test

// A Conn as its driver sees it, through enginetest's fake Link:
// forwarding, timeouts, backpressure and partial writes.

import (
	"bytes"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/msrprelay/msrprelay/endpoint"
	"github.com/msrprelay/msrprelay/engine"
	"github.com/msrprelay/msrprelay/engine/enginetest"
)

const (
	aliceURI = "msrp://alice.example.com:9/a;tcp"
	bobURI   = "msrp://bob.example.com:9/b;tcp"
)

// setup is bob AUTHed on r, and alice connected: to is the To-Path from
// alice to bob.
func setup(t *testing.T, r *engine.Relay, w *engine.Worker) (alice, bob *enginetest.Link, to string) {
	_, bob = enginetest.Open(r, engine.Listener{Port: enginetest.Port}, engine.PeerInfo{})
	sess := enginetest.Auth(t, w, bob.Conn(), bob, "bob", bobURI)
	_, alice = enginetest.Open(r, engine.Listener{Port: enginetest.Port}, engine.PeerInfo{})
	return alice, bob, sess + " " + bobURI
}

// sendFrame is alice's SEND of the chunk rng of message msg1.
func sendFrame(tid, to, rng string, body []byte) []byte {
	req := endpoint.Request{TID: tid, Method: "SEND", ToPath: to, FromPath: aliceURI,
		Headers:     [][2]string{{"Message-ID", "msg1"}, {"Byte-Range", rng}},
		ContentType: "application/octet-stream", Body: body}
	return req.Append(nil)
}

func TestForwardWholeChunk(t *testing.T) {
	r, _ := enginetest.NewRelay(t, nil)
	var w engine.Worker
	la, lb, to := setup(t, r, &w)
	enginetest.Feed(t, &w, la.Conn(), sendFrame("tid00001", to, "1-5/5", []byte("hello")))
	got := enginetest.Decode(t, lb.Out())
	if len(got) != 1 || string(got[0].Body) != "hello" || got[0].Header("To-Path") != bobURI ||
		got[0].Header("From-Path") != strings.Fields(to)[0]+" "+aliceURI || got[0].Header("Byte-Range") != "1-5/5" {
		t.Fatalf("forwarded %+v", got)
	}
	ack := enginetest.Decode(t, la.Out())
	if len(ack) != 1 || ack[0].Code != 200 || ack[0].TID != "tid00001" || ack[0].Header("To-Path") != aliceURI {
		t.Fatalf("ack %+v", ack)
	}
}

func TestTransactionTimeoutReport(t *testing.T) {
	r, clk := enginetest.NewRelay(t, func(c *engine.Config) { c.TransactionTimeout = 30 * time.Second })
	var w engine.Worker
	la, lb, to := setup(t, r, &w)
	enginetest.Feed(t, &w, la.Conn(), sendFrame("tid00004", to, "1-5/5", []byte("hello")))
	lb.Out()
	la.Out()
	clk.Advance(29 * time.Second)
	r.Tick(&w)
	if out := la.Out(); len(out) != 0 {
		t.Fatalf("early: %q", out)
	}
	clk.Advance(2 * time.Second)
	r.Tick(&w)
	got := enginetest.Decode(t, la.Out())
	if len(got) != 1 || got[0].Method != "REPORT" || got[0].Header("Status") != "000 408 Request Timeout" ||
		got[0].Header("Message-ID") != "msg1" || got[0].Header("Byte-Range") != "1-5/5" {
		t.Fatalf("REPORT: %+v", got)
	}
}

// countMetrics counts what the engine reports.
type countMetrics struct {
	n [engine.NumCounters]atomic.Int64
}

func (m *countMetrics) Add(c engine.Counter, n int64) { m.n[c].Add(n) }

func TestBackpressurePausesAndResumes(t *testing.T) {
	m := &countMetrics{}
	r, _ := enginetest.NewRelay(t, func(c *engine.Config) { c.HighWater = 64 << 10; c.LowWater = 16 << 10; c.Metrics = m })
	var w engine.Worker
	la, lb, to := setup(t, r, &w)
	alice := la.Conn()
	wire := sendFrame("tid00005", to, "1-*/*", make([]byte, 1<<20))
	n, err := alice.Receive(&w, wire[:200<<10])
	if err != nil || !alice.Paused() || n >= 200<<10 {
		t.Fatalf("consumed %d, paused %v, %v", n, alice.Paused(), err)
	}
	if bl := lb.Conn().Backlog(); bl > 64<<10+64<<10 {
		t.Fatalf("backlog %d", bl)
	}
	lb.Out() // bob's socket takes everything
	if la.Resumes() != 1 || alice.Paused() {
		t.Fatalf("not resumed: %d", la.Resumes())
	}
	if got := m.n[engine.SenderPauses].Load(); got != 1 {
		t.Fatalf("sender_pauses %d, want 1", got)
	}
}

// A driver that takes only part of the queued bytes (its socket is full)
// gets the rest again on the next Flush, in order, with new frames after
// it; the rest counts against HighWater until it is taken.
func TestFlushKeepsWhatTheDriverDidNotTake(t *testing.T) {
	r, _ := enginetest.NewRelay(t, func(c *engine.Config) { c.HighWater = 64 << 10; c.LowWater = 16 << 10 })
	var w engine.Worker
	la, lb, to := setup(t, r, &w)
	bob := lb.Conn()
	enginetest.Feed(t, &w, la.Conn(), sendFrame("tid00010", to, "1-5000/5000", bytes.Repeat([]byte{'a'}, 5000)))
	lb.Take = enginetest.AtMost(1000)
	if again := lb.Flush(); !again {
		t.Fatal("a partial take must ask for another flush")
	}
	if bl := bob.Backlog(); bl < 4000 {
		t.Fatalf("backlog %d after taking 1000 of a 5000-byte body", bl)
	}
	enginetest.Feed(t, &w, la.Conn(), sendFrame("tid00011", to, "1-3/3", []byte("xyz")))
	lb.Take = nil
	if again := lb.Flush(); again {
		t.Fatal("everything was taken")
	}
	got := enginetest.Decode(t, lb.Taken())
	if len(got) != 2 || len(got[0].Body) != 5000 || string(got[1].Body) != "xyz" {
		t.Fatalf("frames out of order or damaged: %d frames", len(got))
	}
	if bl := bob.Backlog(); bl != 0 {
		t.Fatalf("backlog %d after everything was taken", bl)
	}
}
