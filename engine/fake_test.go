package engine

import (
	"bytes"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/msrprelay/msrprelay/codec"
)

// fakeLink is a driver without sockets: it records what the engine asks.
type fakeLink struct {
	mu      sync.Mutex
	c       *Conn
	wire    bytes.Buffer
	woken   int
	resumed int
	closed  bool
}

func (l *fakeLink) Wake(*Worker) { l.mu.Lock(); l.woken++; l.mu.Unlock() }
func (l *fakeLink) Resume()      { l.mu.Lock(); l.resumed++; l.mu.Unlock() }
func (l *fakeLink) Close() {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	l.c.Closed(nil)
}

// flush takes what the engine queued, as a driver would on its loop.
func (l *fakeLink) flush() []byte {
	l.c.Flush(func(b []byte) (int, int) { l.wire.Write(b); return len(b), 0 })
	out := append([]byte(nil), l.wire.Bytes()...)
	l.wire.Reset()
	return out
}

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

// testRelay is a relay on port 2855 with a fake clock.
func testRelay(t testing.TB, mod func(*Config)) (*Relay, *fakeClock) {
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	cfg := Config{Hostname: "relay.example.com", Now: clk.now, Logger: zerolog.Nop()}
	if mod != nil {
		mod(&cfg)
	}
	r, err := New(cfg, []Listener{{Port: 2855}})
	if err != nil {
		t.Fatal(err)
	}
	return r, clk
}

func open(r *Relay) (*Conn, *fakeLink) {
	l := &fakeLink{}
	c := r.Open(l, netip.MustParseAddrPort("127.0.0.1:40000"), Listener{Port: 2855}, PeerInfo{})
	l.c = c
	return c, l
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
func setup(t testing.TB, r *Relay) (alice, bob *Conn, la, lb *fakeLink, to string) {
	bob, lb = open(r)
	s := bob.newSession("bob", "example.com", time.Hour, true)
	bob.succeeded.Store(true) // as after its AUTH
	alice, la = open(r)
	return alice, bob, la, lb, string(s.uri) + " " + bobURI
}

func header(d *decodedFrame, name string) string { return string(d.f.Header(name)) }

func TestForwardWholeChunk(t *testing.T) {
	r, _ := testRelay(t, nil)
	alice, _, la, lb, to := setup(t, r)
	var w Worker
	receive(t, &w, alice, sendFrame("tid00001", to, aliceURI, "1-5/5", []byte("hello")))
	got := decode(t, lb.flush())
	if len(got) != 1 || string(got[0].body) != "hello" || header(got[0], "To-Path") != bobURI ||
		header(got[0], "From-Path") != strings.Fields(to)[0]+" "+aliceURI || header(got[0], "Byte-Range") != "1-5/5" {
		t.Fatalf("forwarded %+v", got)
	}
	ack := decode(t, la.flush())
	if len(ack) != 1 || ack[0].f.Code() != 200 || string(ack[0].f.TID()) != "tid00001" || header(ack[0], "To-Path") != aliceURI {
		t.Fatalf("ack %q", ack[0].raw)
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
	body := bytes.Repeat([]byte("0123456789"), 1000) // 10000 bytes
	wire := sendFrame("tid00002", to, aliceURI, "1-10000/10000", body)
	hdrEnd := bytes.Index(wire, []byte("\r\n\r\n")) + 4
	receive(t, &w, alice, wire[:hdrEnd+3000])
	// The relay's REPORT for an earlier transaction of bob's, queued on
	// bob's connection.
	clk.t = clk.t.Add(time.Second)
	reportTo(&w, r, bob)
	receive(t, &w, alice, wire[hdrEnd+3000:])
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
	seq := uint64(0)
	tidRandom = func() uint64 { seq++; return seq * 0x9e3779b97f4a7c15 }
	defer func() { tidRandom = randUint64 }()
	var probe tid
	newTIDPrefix(&probe) // the ack's or the forward's prefix: learn the sequence
	seq = 0
	r, _ := testRelay(t, nil)
	alice, _, _, lb, to := setup(t, r)
	var w Worker
	// forward() draws the first prefix after a reset sequence.
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

func TestTransactionTimeoutReport(t *testing.T) {
	r, clk := testRelay(t, func(c *Config) { c.TransactionTimeout = 30 * time.Second })
	alice, _, la, lb, to := setup(t, r)
	var w Worker
	receive(t, &w, alice, sendFrame("tid00004", to, aliceURI, "1-5/5", []byte("hello")))
	lb.flush()
	la.flush()
	clk.t = clk.t.Add(29 * time.Second)
	r.Tick(&w)
	if out := la.flush(); len(out) != 0 {
		t.Fatalf("early: %q", out)
	}
	clk.t = clk.t.Add(2 * time.Second)
	r.Tick(&w)
	got := decode(t, la.flush())
	if len(got) != 1 || string(got[0].f.Method()) != "REPORT" || header(got[0], "Status") != "000 408 Request Timeout" ||
		header(got[0], "Message-ID") != "msg1" || header(got[0], "Byte-Range") != "1-5/5" {
		t.Fatalf("REPORT: %d frames, first %q", len(got), got[0].raw)
	}
}

// countMetrics counts what the engine reports.
type countMetrics struct{ n [NumCounters]atomic.Int64 }

func (m *countMetrics) Add(c Counter, n int64) { m.n[c].Add(n) }

func TestBackpressurePausesAndResumes(t *testing.T) {
	m := &countMetrics{}
	r, _ := testRelay(t, func(c *Config) { c.HighWater = 64 << 10; c.LowWater = 16 << 10; c.Metrics = m })
	alice, _, la, lb, to := setup(t, r)
	var w Worker
	body := make([]byte, 1<<20)
	wire := sendFrame("tid00005", to, aliceURI, "1-*/*", body)
	n, err := alice.Receive(&w, wire[:200<<10])
	if err != nil || !alice.Paused() || n >= 200<<10 {
		t.Fatalf("consumed %d, paused %v, %v", n, alice.Paused(), err)
	}
	if bl := bob(r).out.backlog(); bl > 64<<10+64<<10 {
		t.Fatalf("backlog %d", bl)
	}
	lb.flush() // bob's socket takes everything
	if la.resumed != 1 || alice.Paused() {
		t.Fatalf("not resumed: %d", la.resumed)
	}
	if got := m.n[SenderPauses].Load(); got != 1 {
		t.Fatalf("sender_pauses %d, want 1", got)
	}
}

// bob finds the owner connection of the relay's only session.
func bob(r *Relay) *Conn {
	for i := range r.sessions.shards {
		for _, s := range r.sessions.shards[i].m {
			return s.owner
		}
	}
	return nil
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

func TestTIDs(t *testing.T) {
	var a, b, p tid
	newTIDPrefix(&a)
	newTIDPrefix(&b)
	if a == b || !codec.ValidTID(a.bytes()) {
		t.Fatalf("%s %s", a.bytes(), b.bytes())
	}
	p.withPiece(&a, 37)
	if string(p.bytes()) != string(a.bytes())+"-11" || !codec.ValidTID(p.bytes()) {
		t.Fatalf("%s", p.bytes())
	}
}

// A driver that takes only part of the queued bytes (its socket is full)
// gets the rest again on the next Flush, in order, with new frames after
// it; the rest counts against HighWater until it is taken.
func TestFlushKeepsWhatTheDriverDidNotTake(t *testing.T) {
	r, _ := testRelay(t, func(c *Config) { c.HighWater = 64 << 10; c.LowWater = 16 << 10 })
	alice, bob, _, _, to := setup(t, r)
	var w Worker
	receive(t, &w, alice, sendFrame("tid00010", to, aliceURI, "1-5000/5000", bytes.Repeat([]byte{'a'}, 5000)))
	var wire []byte
	again := bob.Flush(func(b []byte) (int, int) { wire = append(wire, b[:1000]...); return 1000, 0 })
	if !again {
		t.Fatal("a partial take must ask for another flush")
	}
	if bl := bob.out.backlog(); bl < 4000 {
		t.Fatalf("backlog %d after taking 1000 of a 5000-byte body", bl)
	}
	receive(t, &w, alice, sendFrame("tid00011", to, aliceURI, "1-3/3", []byte("xyz")))
	if again := bob.Flush(func(b []byte) (int, int) { wire = append(wire, b...); return len(b), 0 }); again {
		t.Fatal("everything was taken")
	}
	got := decode(t, wire)
	if len(got) != 2 || len(got[0].body) != 5000 || string(got[1].body) != "xyz" {
		t.Fatalf("frames out of order or damaged: %d frames", len(got))
	}
	if bl := bob.out.backlog(); bl != 0 {
		t.Fatalf("backlog %d after everything was taken", bl)
	}
}
