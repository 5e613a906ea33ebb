package e2etest

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/msrprelay/msrprelay/endpoint"
	"github.com/msrprelay/msrprelay/engine"
)

// sendUntil sends a one-chunk SEND on c until the relay answers it with
// want, for at most 20 s: the relay learns of a peer's close a moment
// after the peer made it, later on a busy machine. Frames other than the
// answer (REPORTs for the tries before) are skipped.
func sendUntil(t testing.TB, c *endpoint.Conn, to, from string, want int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for try := 0; ; try++ {
		req := send(t, c, to, from, fmt.Sprintf("try%d", try), []byte("after the close"))
		f := readFrame(t, c)
		for f.Method != "" || f.TID != req.TID {
			f = readFrame(t, c)
		}
		if f.Code == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still %d %s, want %d", f.Code, f.Comment, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func expectClosed(t testing.TB, c *endpoint.Conn) {
	t.Helper()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	for {
		_, err := c.ReadFrame()
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatal("connection not closed")
		}
		return
	}
}

func testUnknownSession(t *testing.T, start *suite) {
	e := startEnv(t, start, nil)
	c := e.dial()
	bogus := fmt.Sprintf("%s://127.0.0.1:%d/aaaaaaaaaaaaaaaaaaaaaaaaaa;tcp %s", e.scheme(), e.port, bobURI)
	req := send(t, c, bogus, aliceURI, "u1", []byte("x"))
	expectResponse(t, c, req.TID, 481)
	// Failure-Report: no gets no answer; the next frame's answer comes first.
	send(t, c, bogus, aliceURI, "u2", []byte("x"), [2]string{"Failure-Report", "no"})
	req3 := send(t, c, bogus, aliceURI, "u3", []byte("x"))
	expectResponse(t, c, req3.TID, 481)
	// Another relay's URI (same host, other port) is not ours.
	other := fmt.Sprintf("%s://127.0.0.1:%d/aaaaaaaaaaaaaaaaaaaaaaaaaa;tcp %s", e.scheme(), e.port+1, bobURI)
	req4 := send(t, c, other, aliceURI, "u4", []byte("x"))
	expectResponse(t, c, req4.TID, 481)
	// A live session's URI with another transport is another URI.
	// It is this connection's fifth failure before any success: the
	// answer still arrives, then the relay closes the connection.
	_, use := e.auth("bob", endpoint.FormRFC)
	req5 := send(t, c, strings.TrimSuffix(use, ";tcp")+";udp "+bobURI, aliceURI, "u5", []byte("x"))
	expectResponse(t, c, req5.TID, 481)
	if f, err := c.ReadFrame(); err == nil {
		t.Fatalf("connection still open after five failures: %+v", f)
	}
}

func testSecondBinding(t *testing.T, start *suite) {
	p := newPair(t, startEnv(t, start, nil))
	req := send(t, p.alice, p.to, aliceURI, "a", []byte("first"))
	expectResponse(t, p.alice, req.TID, 200)
	p.expectDelivered(t, []byte("first"))
	mallory := p.e.dial()
	req2 := send(t, mallory, p.to, "msrp://m.example.com:9/m;tcp", "m", []byte("second"))
	expectResponse(t, mallory, req2.TID, 506)
	// Once alice leaves, the binding is free again.
	p.alice.Close()
	carol := p.e.dial()
	sendUntil(t, carol, p.to, "msrp://c.example.com:9/c;tcp", 200)
	p.expectDelivered(t, []byte("after the close"))
}

func testSessionExpiry(t *testing.T, start *suite) {
	e := startEnv(t, start, func(c *engine.Config) { c.ExpiresMin = time.Second })
	bob := e.dial()
	// Long enough for alice to connect and send on a busy machine.
	const expires = 5 * time.Second
	res, err := bob.Auth(endpoint.AuthOptions{RelayURI: e.uri, FromURI: bobURI, User: "bob", Password: Password, Expires: int(expires / time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	// The relay started the lifetime before its 200 reached us: measured
	// from here, the wait below outlasts it however slow the machine.
	authed := time.Now()
	alice := e.dial()
	req := send(t, alice, res.UsePath+" "+bobURI, aliceURI, "e1", []byte("before"))
	expectResponse(t, alice, req.TID, 200)
	bob.Respond(expectRequest(t, bob, "SEND"), 200, "OK")
	time.Sleep(time.Until(authed.Add(expires + 500*time.Millisecond)))
	req2 := send(t, alice, res.UsePath+" "+bobURI, aliceURI, "e2", []byte("after"))
	expectResponse(t, alice, req2.TID, 481)
}

func testSessionDiesWithConnection(t *testing.T, start *suite) {
	p := newPair(t, startEnv(t, start, nil))
	p.bob.Close()
	sendUntil(t, p.alice, p.to, aliceURI, 481)
}

// expectReport reads frames at c until a REPORT arrives.
func expectReport(t testing.TB, c *endpoint.Conn, msgID string, status string) *endpoint.Frame {
	t.Helper()
	for {
		f := readFrame(t, c)
		if f.Method != "REPORT" {
			continue
		}
		if f.Header("Message-ID") != msgID || !strings.HasPrefix(f.Header("Status"), status) {
			t.Fatalf("REPORT %+v", f.Headers)
		}
		return f
	}
}

func testTransactionTimeoutReport(t *testing.T, start *suite) {
	p := newPair(t, startEnv(t, start, func(c *engine.Config) { c.TransactionTimeout = 500 * time.Millisecond }))
	req := send(t, p.alice, p.to, aliceURI, "t1", []byte("nobody answers"))
	expectResponse(t, p.alice, req.TID, 200)
	expectRequest(t, p.bob, "SEND") // and never answered
	r := expectReport(t, p.alice, "t1", "000 408")
	if r.Header("To-Path") != aliceURI || r.Header("From-Path") != p.use || r.Header("Byte-Range") != "1-14/14" {
		t.Fatalf("REPORT %+v", r.Headers)
	}
}

func testDownstreamErrorReport(t *testing.T, start *suite) {
	p := newPair(t, startEnv(t, start, nil))
	req := send(t, p.alice, p.to, aliceURI, "x1", []byte("unsupported"))
	expectResponse(t, p.alice, req.TID, 200)
	f := expectRequest(t, p.bob, "SEND")
	p.bob.Respond(f, 415, "Unsupported Media Type")
	expectReport(t, p.alice, "x1", "000 415")
	// The REPORT's range end comes from the body, whatever the SEND said
	// ('*' or a wrong end): RFC 4975 §7.1.2.
	for _, rng := range []string{"1-*/*", "1-3/11"} {
		req := endpoint.Request{Method: "SEND", ToPath: p.to, FromPath: aliceURI, ContentType: "text/plain", Body: []byte("unsupported"),
			Headers: [][2]string{{"Message-ID", "x2"}, {"Byte-Range", rng}}}
		p.alice.Send(&req)
		expectResponse(t, p.alice, req.TID, 200)
		f := expectRequest(t, p.bob, "SEND")
		p.bob.Respond(f, 415, "Unsupported Media Type")
		want := "1-11/" + strings.SplitN(rng, "/", 2)[1]
		if r := expectReport(t, p.alice, "x2", "000 415"); r.Header("Byte-Range") != want {
			t.Fatalf("SEND %s: REPORT Byte-Range %q, want %q", rng, r.Header("Byte-Range"), want)
		}
	}
}

func testPeerVanishes(t *testing.T, start *suite) {
	p := newPair(t, startEnv(t, start, nil))
	body := make([]byte, 8<<20)
	go func() {
		req := p.frame("v1", body, '$')
		p.alice.Send(&req)
	}()
	// Bob reads a little of the chunk and disappears.
	buf := make([]byte, 4096)
	io.ReadFull(p.bob.Raw(), buf)
	p.bob.Close()
	// The session died with bob's connection; alice hears about her whole
	// chunk: what was on its way to bob, and what she sent after.
	p.alice.SetDeadline(time.Now().Add(20 * time.Second))
	next := int64(1)
	for next <= int64(len(body)) {
		f := readFrame(t, p.alice)
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

func testSenderVanishes(t *testing.T, start *suite) {
	p := newPair(t, startEnv(t, start, nil))
	body := make([]byte, 1<<20)
	rand.Read(body)
	req := p.frame("s1", body, '$')
	wire := req.Append(nil)
	p.alice.Write(wire[:len(wire)/2])
	time.Sleep(100 * time.Millisecond)
	p.alice.Close()
	// Bob gets what was sent, ended as aborted ('#'), and the relay goes on.
	var got []byte
	for {
		f := expectRequest(t, p.bob, "SEND")
		got = append(got, f.Body...)
		if f.Flag == '#' {
			break
		}
		if f.Flag == '$' {
			t.Fatal("an interrupted chunk must not end with '$'")
		}
	}
	if !bytes.HasPrefix(body, got) {
		t.Fatal("delivered bytes are not a prefix of the body")
	}
	alice2 := p.e.dial()
	req2 := send(t, alice2, p.to, aliceURI, "s2", []byte("again"))
	expectResponse(t, alice2, req2.TID, 200)
}

// testEndToEndMethods: NICKNAME and unknown methods are forwarded, not
// answered by the relay, and the endpoint's response comes back.
func testEndToEndMethods(t *testing.T, start *suite) {
	p := newPair(t, startEnv(t, start, nil))
	for _, m := range []string{"NICKNAME", "FROBNICATE"} {
		req := endpoint.Request{Method: m, ToPath: p.to, FromPath: aliceURI, Headers: [][2]string{{"Use-Nickname", `"Alice"`}}}
		p.alice.Send(&req)
		f := expectRequest(t, p.bob, m)
		if f.Header("Use-Nickname") != `"Alice"` {
			t.Fatalf("%s: %+v", m, f.Headers)
		}
		p.bob.Respond(f, 501, "Not Implemented")
		r := expectResponse(t, p.alice, req.TID, 501)
		if r.Header("To-Path") != aliceURI || r.Header("From-Path") != p.use+" "+bobURI {
			t.Fatalf("%s response %+v", m, r.Headers)
		}
	}
}

func testAllowMethods(t *testing.T, start *suite) {
	p := newPair(t, startEnv(t, start, func(c *engine.Config) { c.AllowMethods = []string{"SEND", "REPORT"} }))
	req := endpoint.Request{Method: "NICKNAME", ToPath: p.to, FromPath: aliceURI}
	p.alice.Send(&req)
	expectResponse(t, p.alice, req.TID, 501)
}

func testGarbage(t *testing.T, start *suite) {
	e := startEnv(t, start, nil)
	c := e.dial()
	c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	expectClosed(t, c)
	// Everyone else is still served.
	e.auth("alice", endpoint.FormRFC)
}

func testHugeHeaderLine(t *testing.T, start *suite) {
	e := startEnv(t, start, nil)
	c := e.dial()
	c.Write([]byte("MSRP abcd SEND\r\nTo-Path: "))
	chunk := bytes.Repeat([]byte("a"), 64<<10)
	for i := 0; i < 32; i++ { // 2 MiB without a line end
		if c.Write(chunk) != nil {
			break
		}
	}
	expectClosed(t, c)
	e.auth("alice", endpoint.FormRFC)
}

func testMalformed400(t *testing.T, start *suite) {
	p := newPair(t, startEnv(t, start, nil))
	p.alice.Write([]byte("MSRP bad0001 SEND\r\nTo-Path: " + p.to + "\r\nFrom-Path: " + aliceURI + "\r\nNo colon here\r\nContent-Type: text/plain\r\n\r\nbody\r\n-------bad0001$\r\n"))
	expectResponse(t, p.alice, "bad0001", 400)
	// The stream stays in sync.
	req := send(t, p.alice, p.to, aliceURI, "ok1", []byte("fine"))
	expectResponse(t, p.alice, req.TID, 200)
}

func testConnectionCap(t *testing.T, start *suite) {
	e := startEnvOpts(t, start, nil, DriverOptions{MaxConns: 5})
	var conns []*endpoint.Conn
	for i := 0; i < 5; i++ {
		c, _ := e.auth("alice", endpoint.FormRFC)
		conns = append(conns, c)
	}
	// Refused at once: over TLS the handshake itself fails.
	if extra, err := endpoint.Dial(e.addr, e.tls, 5*time.Second); err == nil {
		expectClosed(t, extra)
		extra.Close()
	}
	// The relay counts the closed connection out a moment after the
	// close, later on a busy machine.
	conns[0].Close()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		c, err := endpoint.Dial(e.addr, e.tls, 5*time.Second)
		if err == nil {
			c.SetDeadline(time.Now().Add(20 * time.Second))
			_, err = c.Auth(endpoint.AuthOptions{RelayURI: e.uri, FromURI: bobURI, User: "bob", Password: Password})
			c.Close()
		}
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no room after a connection closed: %v", err)
		}
	}
}

func testProbation(t *testing.T, start *suite) {
	e := startEnv(t, start, func(c *engine.Config) { c.ProbationTimeout = 500 * time.Millisecond })
	idle := e.dial()
	expectClosed(t, idle)
	// A connection that AUTHed is past probation and stays.
	c, _ := e.auth("alice", endpoint.FormRFC)
	time.Sleep(1200 * time.Millisecond)
	req := endpoint.Request{Method: "AUTH", ToPath: e.uri, FromPath: aliceURI}
	c.Send(&req)
	expectResponse(t, c, req.TID, 401)
}

func testConcurrentPairs(t *testing.T, start *suite) {
	e := startEnv(t, start, nil)
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			p := newPair(t, e)
			for j := 0; j < 20; j++ {
				body := []byte(fmt.Sprintf("pair %d message %d", i, j))
				req := p.frame(fmt.Sprintf("c%d-%d", i, j), body, '$')
				if err := p.alice.Send(&req); err != nil {
					errs <- err
					return
				}
				f, err := p.bob.ReadFrame()
				if err != nil {
					errs <- fmt.Errorf("pair %d: bob: %v", i, err)
					return
				}
				if !bytes.Equal(f.Body, body) {
					errs <- fmt.Errorf("pair %d: bob got %q, want %q", i, f.Body, body)
					return
				}
				p.bob.Respond(f, 200, "OK")
				if r, err := p.alice.ReadFrame(); err != nil || r.Code != 200 {
					errs <- fmt.Errorf("pair %d: response %v", i, err)
					return
				}
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
