package e2etest

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/msrprelay/msrprelay/endpoint"
	"github.com/msrprelay/msrprelay/engine"
)

// pair is bob AUTHed on a relay and alice connected to bob's session.
type pair struct {
	e          *env
	alice, bob *endpoint.Conn
	use, to    string
}

func newPair(t testing.TB, e *env) *pair {
	bob, use := e.auth("bob", endpoint.FormRFC)
	return &pair{e: e, alice: e.dial(), bob: bob, use: use, to: use + " " + bobURI}
}

func (p *pair) frame(msgID string, body []byte, flag byte, extra ...[2]string) endpoint.Request {
	return endpoint.Request{Method: "SEND", ToPath: p.to, FromPath: aliceURI, Flag: flag,
		Headers:     append([][2]string{{"Message-ID", msgID}, {"Byte-Range", fmt.Sprintf("1-%d/%d", len(body), len(body))}}, extra...),
		ContentType: "application/octet-stream", Body: body}
}

// expectDelivered reads SENDs at bob until want bodies arrived in order
// (re-assembling chunks the relay may have cut) and answers each.
func (p *pair) expectDelivered(t testing.TB, want ...[]byte) {
	t.Helper()
	for i, w := range want {
		expectMessage(t, p.bob, w, fmt.Sprintf("message %d", i))
	}
}

// expectMessage reads SENDs at c until a message ends ('$'), answering
// each, and checks that its chunks carry want.
func expectMessage(t testing.TB, c *endpoint.Conn, want []byte, what string) {
	t.Helper()
	var got []byte
	for {
		f := expectRequest(t, c, "SEND")
		got = append(got, f.Body...)
		c.Respond(f, 200, "OK")
		if f.Flag == '$' {
			break
		}
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: got %d bytes, want %d (first diff at %d)", what, len(got), len(want), firstDiff(got, want))
	}
}

func firstDiff(a, b []byte) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func testPipelinedFrames(t *testing.T, start *suite) {
	p := newPair(t, startEnv(t, start, nil))
	var wire []byte
	var bodies [][]byte
	var tids []string
	for i := 0; i < 50; i++ {
		b := []byte(fmt.Sprintf("pipelined message %d", i))
		req := p.frame(fmt.Sprintf("p%d", i), b, '$')
		wire = req.Append(wire)
		bodies = append(bodies, b)
		tids = append(tids, req.TID)
	}
	if err := p.alice.Write(wire); err != nil {
		t.Fatal(err)
	}
	for _, tid := range tids {
		expectResponse(t, p.alice, tid, 200)
	}
	p.expectDelivered(t, bodies...)
}

func testByteAtATime(t *testing.T, start *suite) {
	p := newPair(t, startEnv(t, start, nil))
	body := []byte("one byte at a time\r\n-------x$\r\n")
	req := p.frame("b1", body, '$')
	for _, c := range req.Append(nil) {
		if err := p.alice.Write([]byte{c}); err != nil {
			t.Fatal(err)
		}
	}
	expectResponse(t, p.alice, req.TID, 200)
	p.expectDelivered(t, body)
}

// testFakeEndLines: binary bodies holding end-line look-alikes, this
// chunk's tid with a wrong flag, another tid's end-line.
func testFakeEndLines(t *testing.T, start *suite) {
	p := newPair(t, startEnv(t, start, nil))
	tid := endpoint.NewTID()
	body := []byte("\x00\xff\r\n-------\r\n-------" + tid + "x$\r\n\r\n-------" + tid[:10] + "$\r\n\r\n-------" + tid + " \r\n\r\n-------other1234$\r\n")
	rnd := make([]byte, 5000)
	rand.Read(rnd)
	body = append(body, rnd...)
	req := p.frame("f1", body, '$')
	req.TID = tid
	p.alice.Send(&req)
	expectResponse(t, p.alice, tid, 200)
	p.expectDelivered(t, body)
}

// testLargeChunk streams one 64 MiB chunk through the relay; bob sees the
// same bytes (possibly in several chunks if the relay had to cut, which it
// must not do with nothing else waiting).
func testLargeChunk(t *testing.T, start *suite) {
	if testing.Short() {
		t.Skip("short")
	}
	// The body is made before alice connects: on a busy machine, under
	// -race, making it can outlast the relay's probation period, which
	// closes a connection that has sent nothing.
	body := make([]byte, 64<<20)
	rand.Read(body)
	// Toward a WebSocket client the chunk goes in pieces, each waiting for
	// its 200 from a client that reads slowly under -race: transaction
	// timers long enough for that.
	p := newPair(t, startEnv(t, start, func(c *engine.Config) { c.TransactionTimeout = 2 * time.Minute }))
	req := p.frame("big", body, '$')
	p.alice.SetDeadline(time.Now().Add(2 * time.Minute))
	p.bob.SetDeadline(time.Now().Add(2 * time.Minute))
	errc := make(chan error, 1)
	go func() { errc <- p.alice.Send(&req) }()
	watchdog := time.AfterFunc(60*time.Second, func() {
		buf := make([]byte, 1<<20)
		n := runtime.Stack(buf, true)
		os.WriteFile(os.TempDir()+"/largechunk-stacks.txt", buf[:n], 0o644)
	})
	defer watchdog.Stop()
	if p.e.wsAddr != "" {
		// Toward a WebSocket client the relay must cut: each piece is one
		// WebSocket message of at most WSMaxChunk body bytes.
		expectPieces(t, p.bob, body, engine.DefaultWSMaxChunk)
	} else {
		f := expectRequest(t, p.bob, "SEND")
		if f.Flag != '$' || !bytes.Equal(f.Body, body) {
			t.Fatalf("got %d bytes flag %c", len(f.Body), f.Flag)
		}
		if f.Header("Byte-Range") != fmt.Sprintf("1-*/%d", len(body)) {
			t.Fatalf("a chunk the relay may cut says '*': %q", f.Header("Byte-Range"))
		}
		p.bob.Respond(f, 200, "OK")
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	expectResponse(t, p.alice, req.TID, 200)
}

// testInterleavedStreams: two senders stream large chunks to one receiver
// connection (both sessions are bob's); the relay interleaves them by
// cutting chunks, and each message arrives whole with correct ranges.
func testInterleavedStreams(t *testing.T, start *suite) {
	e := startEnv(t, start, nil)
	bob := e.dial()
	var uses []string
	for i := 0; i < 2; i++ {
		res, err := bob.Auth(endpoint.AuthOptions{RelayURI: e.uri, FromURI: bobURI, User: "bob", Password: Password})
		if err != nil {
			t.Fatal(err)
		}
		uses = append(uses, res.UsePath)
	}
	size := 4 << 20
	bodies := make([][]byte, 2)
	for i := range bodies {
		bodies[i] = make([]byte, size)
		rand.Read(bodies[i])
	}
	for i := range bodies {
		c := e.dial()
		req := endpoint.Request{Method: "SEND", ToPath: uses[i] + " " + bobURI, FromPath: fmt.Sprintf("msrp://s%d.example.com:9/x;tcp", i),
			Headers: [][2]string{{"Message-ID", fmt.Sprintf("i%d", i)}, {"Byte-Range", fmt.Sprintf("1-%d/%d", size, size)}}, ContentType: "application/octet-stream", Body: bodies[i]}
		go c.Send(&req)
	}
	got := map[string][]byte{}
	chunks := 0
	bob.SetDeadline(time.Now().Add(time.Minute))
	for done := 0; done < 2; {
		f := expectRequest(t, bob, "SEND")
		chunks++
		id := f.Header("Message-ID")
		var start, total int64
		fmt.Sscanf(f.Header("Byte-Range"), "%d-", &start)
		fmt.Sscanf(f.Header("Byte-Range")[len(fmt.Sprint(start))+1:], "*/%d", &total)
		if int(start) != len(got[id])+1 {
			t.Fatalf("%s: chunk starts at %d after %d bytes (%s)", id, start, len(got[id]), f.Header("Byte-Range"))
		}
		got[id] = append(got[id], f.Body...)
		bob.Respond(f, 200, "OK")
		if f.Flag == '$' {
			done++
		}
	}
	for i := range bodies {
		if !bytes.Equal(got[fmt.Sprintf("i%d", i)], bodies[i]) {
			t.Fatalf("message %d corrupted", i)
		}
	}
	t.Logf("%d chunks for 2 messages", chunks)
}

// expectPieces reads the pieces of one chunk carrying body, answering
// each: their Byte-Ranges follow each other, none is longer than max, all
// but the last end with '+', and together they are body.
func expectPieces(t testing.TB, c *endpoint.Conn, body []byte, max int64) {
	t.Helper()
	var got []byte
	for {
		f := expectRequest(t, c, "SEND")
		var start int64
		fmt.Sscanf(f.Header("Byte-Range"), "%d-", &start)
		if start != int64(len(got))+1 || int64(len(f.Body)) > max {
			t.Fatalf("piece %q of %d bytes after %d bytes (at most %d each)", f.Header("Byte-Range"), len(f.Body), len(got), max)
		}
		got = append(got, f.Body...)
		c.Respond(f, 200, "OK")
		if f.Flag == '$' {
			break
		}
		if f.Flag != '+' {
			t.Fatalf("piece %q ends with %c", f.Header("Byte-Range"), f.Flag)
		}
	}
	if !bytes.Equal(got, body) {
		t.Fatalf("the pieces carry %d bytes that are not the body (first diff at %d)", len(got), firstDiff(got, body))
	}
}
