package engine

// What the internal tests (package engine) share: a relay, connections
// without a driver, and a decoder for what the relay queued. They cannot
// use enginetest (it imports engine); tests that need nothing inside the
// core are external, on enginetest (conn_test.go).

import (
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/msrprelay/msrprelay/codec"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

// testRelay is a relay on port 2855 with a fake clock.
func testRelay(t testing.TB, mod func(*Config)) (*Relay, *fakeClock) {
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	cfg := Config{Hostname: "relay.example.com", Now: clk.now, Logger: zerolog.Nop()}
	if mod != nil {
		mod(&cfg)
	}
	r, err := New(cfg, []Listener{{Port: 2855}, {Port: 2856, WebSocket: true}})
	if err != nil {
		t.Fatal(err)
	}
	return r, clk
}

// open is a connection on r without a driver: it has no Link, as a
// connection the relay dialed has none until it opens, so nothing is woken
// or resumed and a close reaches Closed at once. The returned socket takes
// what the relay queues for it. Tests that watch what the engine asks of
// a driver are external ones, on enginetest's fake Link.
func open(r *Relay) (*Conn, socket) {
	c := r.Open(nil, netip.MustParseAddrPort("127.0.0.1:40000"), Listener{Port: 2855}, PeerInfo{})
	return c, socket{c}
}

// socket is a test connection's side of the wire.
type socket struct{ c *Conn }

// flush takes everything queued for the connection, as a driver whose
// socket has room does.
func (s socket) flush() []byte {
	var out []byte
	s.c.Flush(func(b []byte) (int, int) { out = append(out, b...); return len(b), 0 })
	return out
}

// receive feeds wire to c in one piece and requires it all consumed.
func receive(t testing.TB, w *Worker, c *Conn, wire []byte) {
	t.Helper()
	n, err := c.Receive(w, wire)
	if err != nil || n != len(wire) {
		t.Fatalf("Receive: consumed %d of %d, %v", n, len(wire), err)
	}
}

// frames decodes a byte stream into header views and bodies.
type decodedFrame struct {
	f    codec.Frame
	raw  []byte
	body []byte
	flag byte
}

func decode(t testing.TB, wire []byte) []*decodedFrame {
	t.Helper()
	var out []*decodedFrame
	for len(wire) > 0 {
		d := &decodedFrame{}
		n, err := d.f.Parse(wire, nil, nil)
		if err != nil {
			t.Fatalf("undecodable output %v:\n%q", err, wire)
		}
		d.raw = append([]byte(nil), wire[:n]...)
		d.f.Rebase(d.raw)
		wire = wire[n:]
		if !d.f.HasBody() {
			d.flag = d.f.Flag()
		} else {
			var s codec.BodyScanner
			s.Reset(d.f.TID(), 0)
			r, _ := s.Scan(wire)
			if r.End == 0 {
				t.Fatalf("unterminated body in output:\n%q", wire)
			}
			d.body = append([]byte(nil), wire[:r.Body]...)
			d.flag = r.Flag
			wire = wire[r.End:]
		}
		out = append(out, d)
	}
	return out
}

func sendFrame(tid, to, from, rng string, body []byte) []byte {
	b := codec.AppendRequestLine(nil, []byte(tid), "SEND")
	b = codec.AppendHeaderString(b, "To-Path", to)
	b = codec.AppendHeaderString(b, "From-Path", from)
	b = codec.AppendHeaderString(b, "Message-ID", "msg1")
	b = codec.AppendHeaderString(b, "Byte-Range", rng)
	b = codec.AppendHeaderString(b, "Content-Type", "application/octet-stream")
	b = append(b, "\r\n"...)
	b = append(b, body...)
	return codec.AppendBodyEnd(b, []byte(tid), '$')
}

const (
	aliceURI = "msrp://alice.example.com:9/a;tcp"
	bobURI   = "msrp://bob.example.com:9/b;tcp"
)

// setup is bob with a session on r, and alice connected.
func setup(t testing.TB, r *Relay) (alice, bob *Conn, la, lb socket, to string) {
	bob, lb = open(r)
	s := bob.newSession("bob", "example.com", time.Hour, true)
	bob.succeeded.Store(true) // as after its AUTH
	alice, la = open(r)
	return alice, bob, la, lb, string(s.uri) + " " + bobURI
}

func header(d *decodedFrame, name string) string { return string(d.f.Header(name)) }

// predictTIDs makes the tid generator a counter for the rest of the test
// and returns the first n tids it will draw: a test puts the end-line of
// one the relay is about to forward under in a body, as only a peer that
// learned it could.
func predictTIDs(t testing.TB, n int) []tid {
	seq := uint64(0)
	tidRandom = func() uint64 { seq++; return seq * 0x9e3779b97f4a7c15 }
	t.Cleanup(func() { tidRandom = randUint64 })
	tids := make([]tid, n)
	for i := range tids {
		newTIDPrefix(&tids[i])
	}
	seq = 0
	return tids
}

// countMetrics counts what the engine reports.
type countMetrics struct{ n [NumCounters]atomic.Int64 }

func (m *countMetrics) Add(c Counter, n int64) { m.n[c].Add(n) }
