package engine

// Regression tests for the relay bugs the stateful fuzzer
// (statefuzz_test.go) found, fixed in b51ced9: each failed before. Some
// replace the tid generator to put the relay's own next end-line in a
// body, as only a peer that learned the tid could.

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/msrprelay/msrprelay/codec"
)

// A SEND whose Byte-Range says it is small (collected whole, not streamed)
// and whose body holds the end-line the relay forwards it under arrives
// whole under another tid (receiveBody called collide on a nil stream:
// panic).
func TestSFCollectedBodyHoldsItsEndLine(t *testing.T) {
	next := predictTIDs(t, 1)[0] // the tid forward() will draw
	r, _ := testRelay(t, nil)
	alice, _, _, lb, to := setup(t, r)
	var w Worker
	body := append(bytes.Repeat([]byte("x"), 100), "\r\n-------"...)
	body = append(body, next.bytes()...)
	body = append(body, "$\r\nmore"...)
	wire := sendFrame("tid00001", to, aliceURI, "1-10/10", body)
	hdrEnd := bytes.Index(wire, []byte("\r\n\r\n")) + 4
	receive(t, &w, alice, wire[:hdrEnd+10]) // header and a little: collected
	receive(t, &w, alice, wire[hdrEnd+10:])
	got := decode(t, lb.flush())
	if len(got) != 1 || !bytes.Equal(got[0].body, body) {
		t.Fatalf("%d frames forwarded, want the whole body in one", len(got))
	}
}

// A SEND without a body (its header ends with the end-line) whose
// Byte-Range end is '*': its failure REPORT's range end comes from the
// (empty) body (RFC 4975 §7.1.2); it copied the '*'.
func TestSFBodylessSendReportRange(t *testing.T) {
	r, clk := testRelay(t, nil)
	alice, _, la, lb, to := setup(t, r)
	var w Worker
	b := codec.AppendRequestLine(nil, []byte("tid00001"), "SEND")
	b = codec.AppendHeaderString(b, "To-Path", to)
	b = codec.AppendHeaderString(b, "From-Path", aliceURI)
	b = codec.AppendHeaderString(b, "Message-ID", "msg1")
	b = codec.AppendHeaderString(b, "Byte-Range", "1-*/*")
	b = codec.AppendEndLine(b, []byte("tid00001"), '$')
	receive(t, &w, alice, b)
	lb.flush()
	la.flush()
	clk.t = clk.t.Add(31 * time.Second)
	r.Tick(&w)
	got := decode(t, la.flush())
	if len(got) != 1 || string(got[0].f.Method()) != "REPORT" {
		t.Fatalf("want a REPORT, got %d frames", len(got))
	}
	if rng, err := got[0].f.ByteRange(); err != nil || rng.End == codec.Unknown {
		t.Fatalf("REPORT Byte-Range %q: the end must come from the body (1-0/*)", header(got[0], "Byte-Range"))
	}
}

// A streamed chunk's body holds the end-line of the tid the relay forwards
// it under (a receiver sees that tid in the first piece's header and can
// tell its sender). When those bytes started a Receive call's buffer, the
// relay cut the chunk but returned having consumed nothing, not paused: a
// driver waited for more bytes from the socket, and the rest of the chunk,
// already in its buffer, waited with it.
func TestSFCollisionAtReadStart(t *testing.T) {
	next := predictTIDs(t, 1)[0] // the tid forward() will draw
	r, _ := testRelay(t, nil)
	alice, _, _, _, to := setup(t, r)
	var w Worker
	first := bytes.Repeat([]byte("x"), 3000)
	second := append([]byte("\r\n-------"), next.bytes()...)
	second = append(second, "+ and the rest of the chunk"...)
	wire := sendFrame("tid00001", to, aliceURI, "1-*/*", append(append([]byte(nil), first...), second...))
	hdrEnd := bytes.Index(wire, []byte("\r\n\r\n")) + 4
	receive(t, &w, alice, wire[:hdrEnd+len(first)]) // streams
	rest := wire[hdrEnd+len(first):]
	n, err := alice.Receive(&w, rest)
	if err == nil && n < len(rest) && !alice.Paused() {
		t.Fatalf("Receive consumed %d of the %d bytes that end the chunk, not paused: the driver waits for more", n, len(rest))
	}
}

// A sender that starts a streamed chunk toward a client and stalls after
// fewer than 2048 body bytes held that client's connection: whatever else
// the relay had for the client (here the 401 to the client's own AUTH;
// equally frames from other senders, REPORTs, hop-by-hop 200s) queued
// behind the open chunk, which was cut only once it carried 2048 bytes or
// when its own sender sent again.
func TestSFStalledChunkDoesNotBlockTarget(t *testing.T) {
	r, clk := testRelay(t, nil)
	alice, bob, _, lb, to := setup(t, r)
	var w Worker
	wire := sendFrame("tid00001", to, aliceURI, "1-*/*", bytes.Repeat([]byte("a"), 5000))
	hdrEnd := bytes.Index(wire, []byte("\r\n\r\n")) + 4
	receive(t, &w, alice, wire[:hdrEnd+100]) // 100 body bytes, then alice stalls
	out := lb.flush()
	auth := codec.AppendRequestLine(nil, []byte("tid00002"), "AUTH")
	auth = codec.AppendHeaderString(auth, "To-Path", "msrp://relay.example.com:2855;tcp")
	auth = codec.AppendHeaderString(auth, "From-Path", bobURI)
	auth = codec.AppendEndLine(auth, []byte("tid00002"), '$')
	receive(t, &w, bob, auth)
	for i := 0; i < 5; i++ {
		clk.t = clk.t.Add(10 * time.Second)
		r.Tick(&w)
		out = append(out, lb.flush()...)
		if bytes.Contains(out, []byte("MSRP tid00002 401")) {
			return
		}
	}
	t.Fatalf("bob's AUTH never answered: %d bytes queued behind alice's stalled chunk", bob.out.backlog())
}

// A streamed chunk that waits behind another open chunk (its target is
// busy) and whose body holds the end-line of the tid the relay chose for
// it: collide() switched st.tid to a new prefix, but the first piece's
// header was st.hdr, built in newStream with the old tid. The chunk went
// out under the old tid, with its end-line in the body (a frame boundary
// the receiver believed), and ended under the new one.
func TestSFCollisionWhileQueued(t *testing.T) {
	second := predictTIDs(t, 2)[1] // carol's forward (alice's draws the first)
	r, _ := testRelay(t, nil)
	alice, bob, _, lb, to := setup(t, r)
	carol, _ := open(r)
	var w Worker
	// alice's chunk is open on bob's connection and unfinished.
	a := sendFrame("tida0001", to, aliceURI, "1-*/*", bytes.Repeat([]byte("a"), 3000))
	aEnd := bytes.Index(a, []byte("\r\n\r\n")) + 4
	receive(t, &w, alice, a[:aEnd+100])
	// carol comes through another relay (not bound); her chunk waits.
	sid := strings.Fields(to)[0]
	body := append(bytes.Repeat([]byte("c"), 500), "\r\n-------"...)
	body = append(body, second.bytes()...)
	body = append(body, "$\r\nforged"...)
	c := sendFrame("tidc0001", sid+" "+bobURI, "msrp://far.example.net:2855/x;tcp msrp://carol.example.com:9/c;tcp", "1-*/*", body)
	cEnd := bytes.Index(c, []byte("\r\n\r\n")) + 4
	receive(t, &w, carol, c[:cEnd+100])
	receive(t, &w, carol, c[cEnd+100:])
	receive(t, &w, alice, a[aEnd+100:])
	_ = bob
	var got []byte
	for _, d := range decode(t, lb.flush()) { // fails: undecodable output
		if len(d.body) > 0 && d.body[0] == 'c' {
			got = append(got, d.body...)
			if d.flag == '$' && !bytes.Equal(got, body) {
				t.Fatalf("carol's chunk ended ('$' under tid %s) after %d of %d bytes: at the forged end-line", d.f.TID(), len(got), len(body))
			}
		}
	}
	if !bytes.Equal(got, body) {
		t.Fatalf("carol's chunk: %d of %d bytes", len(got), len(body))
	}
}

// A receiver answers a forwarded NICKNAME with a To-Path that does not
// start with this relay: the origin still gets an answer (the relay took
// the transaction and dropped the answer: nothing, not even a 408).
func TestSFUnroutableAnswerStillAnswers(t *testing.T) {
	r, clk := testRelay(t, nil)
	alice, bob, la, lb, to := setup(t, r)
	var w Worker
	sid := strings.Fields(to)[0]
	// alice binds the session (her first request reaches bob).
	receive(t, &w, alice, sendFrame("tid00001", to, aliceURI, "1-1/1", []byte("x")))
	lb.flush()
	la.flush()
	nick := codec.AppendRequestLine(nil, []byte("tid00002"), "NICKNAME")
	nick = codec.AppendHeaderString(nick, "To-Path", sid+" "+aliceURI)
	nick = codec.AppendHeaderString(nick, "From-Path", bobURI)
	nick = codec.AppendEndLine(nick, []byte("tid00002"), '$')
	receive(t, &w, bob, nick)
	got := decode(t, la.flush())
	if len(got) != 1 {
		t.Fatalf("alice got %d frames", len(got))
	}
	ans := codec.AppendResponseLine(nil, got[0].f.TID(), 200, "OK")
	ans = codec.AppendHeaderString(ans, "To-Path", "msrp://nowhere.example.org:9/x;tcp")
	ans = codec.AppendHeaderString(ans, "From-Path", aliceURI)
	ans = codec.AppendEndLine(ans, got[0].f.TID(), '$')
	receive(t, &w, alice, ans)
	clk.t = clk.t.Add(time.Minute)
	r.Tick(&w)
	for _, d := range decode(t, lb.flush()) {
		if d.f.IsResponse() && string(d.f.TID()) == "tid00002" {
			return
		}
	}
	t.Fatal("bob's NICKNAME was never answered")
}

// Deadlock between two senders and a receiver, no misbehaving peer:
// alice's chunk opens on bob's connection with a few body bytes while
// bob's backlog is already at HighWater, so alice pauses at once; nothing
// waits yet, so yield did not cut her chunk. carol's chunk then queued
// behind it: maybeCut left alice's piece alone (under minChunk bytes) and
// carol paused too. Once bob had read everything he could, his backlog was
// carol's queued bytes, above LowWater: nobody was resumed, ever.
func TestSFPausedSenderNoDeadlock(t *testing.T) {
	r, clk := testRelay(t, func(c *Config) { c.HighWater = 8 << 10; c.LowWater = 2 << 10 })
	alice, bob, _, lb, to := setup(t, r)
	sid := strings.Fields(to)[0]
	via := func(name string) string {
		return "msrp://far.example.net:2855/" + name + ";tcp msrp://" + name + ".example.com:9/x;tcp"
	}
	dave, _ := open(r)
	carol, _ := open(r)
	var w Worker
	// dave fills bob's backlog to HighWater with a whole chunk.
	dave.Receive(&w, sendFrame("tidd0001", sid+" "+bobURI, via("dave"), "1-9000/9000", bytes.Repeat([]byte("d"), 9000)))
	// alice starts a chunk: 100 body bytes, then she is paused.
	a := sendFrame("tida0001", to, aliceURI, "1-*/*", bytes.Repeat([]byte("a"), 5000))
	aEnd := bytes.Index(a, []byte("\r\n\r\n")) + 4
	alice.Receive(&w, a[:aEnd+100])
	if !alice.Paused() {
		t.Fatal("setup: alice not paused")
	}
	// carol's chunk queues behind alice's.
	c := sendFrame("tidc0001", sid+" "+bobURI, via("carol"), "1-*/*", bytes.Repeat([]byte("c"), 20000))
	cEnd := bytes.Index(c, []byte("\r\n\r\n")) + 4
	carol.Receive(&w, c[:cEnd+20000])
	// bob reads everything the relay gives him, for a minute.
	for i := 0; i < 6; i++ {
		lb.flush()
		clk.t = clk.t.Add(10 * time.Second)
		r.Tick(&w)
	}
	if alice.Paused() && carol.Paused() {
		t.Fatalf("deadlock: alice and carol paused for good; bob's backlog %d (LowWater 2048) is carol's bytes behind alice's open %d-byte piece",
			bob.out.backlog(), bob.out.open.chunkBody)
	}
}

// A request from the session's peer whose To-Path is only the session URI
// (nothing after this relay) is not forwarded with an empty To-Path (as it
// was; from the client itself it got 400).
func TestSFInwardToSessionURIOnly(t *testing.T) {
	r, _ := testRelay(t, nil)
	alice, _, _, lb, to := setup(t, r)
	var w Worker
	sid := strings.Fields(to)[0]
	receive(t, &w, alice, sendFrame("tid00001", sid, aliceURI, "1-5/5", []byte("hello")))
	for _, d := range decode(t, lb.flush()) {
		if len(d.f.ToPath()) == 0 {
			t.Fatalf("forwarded with an empty To-Path:\n%s", d.raw)
		}
	}
}

// TestReproRenameCollectedTwice: a collected frame renamed after a
// collision must not take a tid whose end-line is already in its body.
func TestReproRenameCollectedTwice(t *testing.T) {
	tids := predictTIDs(t, 2)
	t1, t2 := tids[0], tids[1] // forward()'s tid, the one it would be renamed to
	r, _ := testRelay(t, nil)
	alice, _, _, lb, to := setup(t, r)
	var w Worker
	body := append(bytes.Repeat([]byte("x"), 100), "\r\n-------"...)
	body = append(append(body, t2.bytes()...), "$\r\n"...)
	body = append(body, bytes.Repeat([]byte("y"), 100)...)
	body = append(append(body, "\r\n-------"...), t1.bytes()...)
	body = append(body, "$\r\nzzz"...)
	wire := sendFrame("tid00001", to, aliceURI, "1-10/10", body) // collected
	hdrEnd := bytes.Index(wire, []byte("\r\n\r\n")) + 4
	receive(t, &w, alice, wire[:hdrEnd+10])
	receive(t, &w, alice, wire[hdrEnd+10:])
	got := decode(t, lb.flush())
	if len(got) != 1 || !bytes.Equal(got[0].body, body) {
		t.Fatalf("%d frames", len(got))
	}
}
