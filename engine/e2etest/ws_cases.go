package e2etest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/msrprelay/msrprelay/endpoint"
	"github.com/msrprelay/msrprelay/engine"
	"github.com/msrprelay/msrprelay/wsshim"
)

// wsCases run only in the WebSocket suites (RunWS, RunWSS): what RFC 7977
// and RFC 6455 ask of the relay beyond what every transport does.
var wsCases = []suiteCase{
	{"WSOneChunkPerMessage", testWSOneChunkPerMessage},
	{"WSFragmentedMessage", testWSFragmentedMessage},
	{"WSMixedSession", testWSMixedSession},
	{"WSUpgradeRefused", testWSUpgradeRefused},
	{"WSOriginRefused", testWSOriginRefused},
	{"WSMessageTooBig", testWSMessageTooBig},
	{"WSCloseHandshake", testWSCloseHandshake},
	{"WSPingOnQuiet", testWSPingOnQuiet},
	{"WSCloseSaysWhy", testWSCloseSaysWhy},
	{"WSProtocolErrorSaysWhy", testWSProtocolErrorSaysWhy},
	{"WSGoingAway", testWSGoingAway},
}

// rawWS is a WebSocket client that sees frames: the cases check the
// relay's framing itself, which endpoint.WSConn hides.
type rawWS struct {
	t  testing.TB
	nc net.Conn
	br *bufio.Reader
}

// dialRawWS upgrades a connection to e's WebSocket listener with the given
// subprotocols and headers; it returns the HTTP refusal's status when the
// relay refuses (and a nil rawWS).
func dialRawWS(t testing.TB, e *env, protocols []string, header http.Header) (*rawWS, int) {
	t.Helper()
	scheme := "ws://"
	var cfg *tls.Config
	if e.tls != nil {
		scheme, cfg = "wss://", e.tls
	}
	status := 0
	d := ws.Dialer{Protocols: protocols, TLSConfig: cfg, Header: ws.HandshakeHeaderHTTP(header),
		OnStatusError: func(code int, _ []byte, _ io.Reader) { status = code }}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	nc, br, hs, err := d.Dial(ctx, scheme+e.wsAddr+"/")
	if err != nil {
		if status == 0 {
			t.Fatalf("upgrade: %v", err)
		}
		return nil, status
	}
	if hs.Protocol != "msrp" {
		t.Fatalf("101 with subprotocol %q, want msrp (RFC 7977 §4.1)", hs.Protocol)
	}
	t.Cleanup(func() { nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(30 * time.Second))
	if br == nil {
		br = bufio.NewReader(nc)
	}
	return &rawWS{t: t, nc: nc, br: br}, 101
}

// readMessage reads one whole data message, answering nothing: its frames'
// payloads joined, and the opcode of its first frame. Control frames in
// between are returned as messages of their own.
func (c *rawWS) readMessage() (ws.OpCode, []byte) {
	c.t.Helper()
	var msg []byte
	var op ws.OpCode
	for {
		f, err := ws.ReadFrame(c.br)
		if err != nil {
			c.t.Fatalf("read frame: %v", err)
		}
		if f.Header.Masked {
			c.t.Fatal("a server frame is masked (RFC 6455 §5.1)")
		}
		if f.Header.OpCode.IsControl() {
			return f.Header.OpCode, f.Payload
		}
		if op == 0 {
			if f.Header.OpCode == ws.OpContinuation {
				c.t.Fatal("a continuation frame opens a message")
			}
			op = f.Header.OpCode
		} else if f.Header.OpCode != ws.OpContinuation {
			c.t.Fatalf("a %v frame inside an open message", f.Header.OpCode)
		}
		msg = append(msg, f.Payload...)
		if f.Header.Fin {
			return op, msg
		}
	}
}

// write sends one masked frame.
func (c *rawWS) write(op ws.OpCode, fin bool, p []byte) {
	c.t.Helper()
	f := ws.NewFrame(op, fin, append([]byte(nil), p...))
	f = ws.MaskFrameInPlace(f)
	if err := ws.WriteFrame(c.nc, f); err != nil {
		c.t.Fatalf("write frame: %v", err)
	}
}

// oneFrame parses msg as exactly one MSRP frame.
func oneFrame(t testing.TB, msg []byte) *endpoint.Frame {
	t.Helper()
	r := endpoint.NewReader(bytes.NewReader(msg), len(msg)+1)
	f, err := r.ReadFrame()
	if err != nil {
		t.Fatalf("a WebSocket message that is not one MSRP frame: %v\n%q", err, msg[:min(len(msg), 300)])
	}
	if r.Buffered() {
		t.Fatalf("a WebSocket message holds more than one MSRP frame (RFC 7977 §5.1): %q", msg[:min(len(msg), 300)])
	}
	return f
}

// authRaw AUTHs bob over a raw WebSocket, one frame per message, and
// returns his Use-Path.
func authRaw(t testing.TB, e *env, c *rawWS) string {
	t.Helper()
	// The endpoint library does the digest; each frame it writes is one
	// message on the same socket, read back here frame by frame.
	ep := endpoint.New(&rawAuthConn{rawWS: c})
	res, err := ep.Auth(endpoint.AuthOptions{RelayURI: e.uri, FromURI: bobWSURI, User: "bob", Password: Password})
	if err != nil {
		t.Fatalf("AUTH over WebSocket: %v", err)
	}
	e.noteUsePath(res.UsePath)
	return res.UsePath
}

// rawAuthConn lets the endpoint library talk through a rawWS, each Write
// one message and each Read one message checked to be one frame.
type rawAuthConn struct {
	*rawWS
	buf []byte
	// closed is the payload of the close frame that ended the stream.
	closed []byte
}

func (c *rawAuthConn) Read(p []byte) (int, error) {
	for len(c.buf) == 0 {
		op, msg := c.readMessage()
		if op == ws.OpClose {
			c.closed = msg
			return 0, io.EOF
		}
		if op.IsControl() {
			continue
		}
		oneFrame(c.t, msg)
		c.buf = msg
	}
	n := copy(p, c.buf)
	c.buf = c.buf[n:]
	return n, nil
}

func (c *rawAuthConn) Write(p []byte) (int, error) {
	c.write(ws.OpText, true, p)
	return len(p), nil
}

func (c *rawAuthConn) Close() error                       { return c.nc.Close() }
func (c *rawAuthConn) LocalAddr() net.Addr                { return c.nc.LocalAddr() }
func (c *rawAuthConn) RemoteAddr() net.Addr               { return c.nc.RemoteAddr() }
func (c *rawAuthConn) SetDeadline(t time.Time) error      { return c.nc.SetDeadline(t) }
func (c *rawAuthConn) SetReadDeadline(t time.Time) error  { return c.nc.SetReadDeadline(t) }
func (c *rawAuthConn) SetWriteDeadline(t time.Time) error { return c.nc.SetWriteDeadline(t) }

// bobWSURI is bob's own URI as a browser makes it: a random .invalid host
// and transport ws (RFC 7977 Appendix A); nothing ever resolves it.
const bobWSURI = "msrp://k3xq9z2b.invalid:2855/b1;ws"

// testWSOneChunkPerMessage: whatever a TCP sender sends (a small chunk, a
// chunk longer than a WebSocket client takes, a bodiless keepalive SEND),
// every WebSocket message the relay sends holds exactly one MSRP frame,
// no chunk body is longer than WSMaxChunk, and the pieces carry the body.
func testWSOneChunkPerMessage(t *testing.T, start *suite) {
	e := startEnv(t, start, nil)
	bob, _ := dialRawWS(t, e, []string{"msrp"}, nil)
	use := authRaw(t, e, bob)
	alice := e.dialTCP()
	to := use + " " + bobWSURI
	small := []byte("hello over WebSocket")
	big := make([]byte, 300<<10)
	rand.Read(big)
	first := send(t, alice, to, aliceURI, "small", small)
	req := endpoint.Request{Method: "SEND", ToPath: to, FromPath: aliceURI, ContentType: "application/octet-stream", Body: big,
		Headers: [][2]string{{"Message-ID", "big"}, {"Byte-Range", fmt.Sprintf("1-*/%d", len(big))}}}
	go alice.Send(&req)
	answer := endpoint.New(&rawAuthConn{rawWS: bob}) // writes 200s, one message each
	got := map[string][]byte{}
	for done := 0; done < 2; {
		op, msg := bob.readMessage()
		if op.IsControl() {
			continue
		}
		f := oneFrame(t, msg)
		if f.Method != "SEND" {
			t.Fatalf("want SEND, got %q %d", f.Method, f.Code)
		}
		if int64(len(f.Body)) > engine.DefaultWSMaxChunk {
			t.Fatalf("a chunk of %d body bytes toward a WebSocket client (at most %d)", len(f.Body), engine.DefaultWSMaxChunk)
		}
		id := f.Header("Message-ID")
		var first int64
		fmt.Sscanf(f.Header("Byte-Range"), "%d-", &first)
		if first != int64(len(got[id]))+1 {
			t.Fatalf("%s: piece %q after %d bytes", id, f.Header("Byte-Range"), len(got[id]))
		}
		got[id] = append(got[id], f.Body...)
		answer.Respond(f, 200, "OK")
		if f.Flag == '$' {
			done++
		}
	}
	if !bytes.Equal(got["small"], small) || !bytes.Equal(got["big"], big) {
		t.Fatalf("bodies differ: small %d/%d, big %d/%d bytes", len(got["small"]), len(small), len(got["big"]), len(big))
	}
	// A bodiless SEND (the keepalive of RFC 7977 §6) is one message too.
	expectResponse(t, alice, first.TID, 200)
	expectResponse(t, alice, req.TID, 200)
	keep := endpoint.Request{Method: "SEND", ToPath: to, FromPath: aliceURI, Headers: [][2]string{{"Message-ID", "keepalive"}}}
	alice.Send(&keep)
	expectResponse(t, alice, keep.TID, 200)
	for {
		op, msg := bob.readMessage()
		if op.IsControl() {
			continue
		}
		if f := oneFrame(t, msg); f.Method != "SEND" || f.Header("Message-ID") != "keepalive" || len(f.Body) != 0 {
			t.Fatalf("keepalive forwarded as %q %q %d bytes", f.Method, f.Header("Message-ID"), len(f.Body))
		}
		break
	}
}

// testWSFragmentedMessage: a browser's WebSocket stack may send one MSRP
// chunk as several frames (continuations), with a ping between them; the
// relay joins them into one chunk (Kamailio does not) and answers the
// ping with a pong carrying its payload.
func testWSFragmentedMessage(t *testing.T, start *suite) {
	e := startEnv(t, start, nil)
	alice, _ := dialRawWS(t, e, []string{"msrp"}, nil)
	authAs := endpoint.New(&rawAuthConn{rawWS: alice})
	res, err := authAs.Auth(endpoint.AuthOptions{RelayURI: e.uri, FromURI: "msrp://a7.invalid:2855/a1;ws", User: "alice", Password: Password})
	if err != nil {
		t.Fatal(err)
	}
	e.noteUsePath(res.UsePath)
	bob, useB := e.authTCP("bob")
	body := make([]byte, 100<<10)
	rand.Read(body)
	req := endpoint.Request{Method: "SEND", ToPath: res.UsePath + " " + useB + " " + bobURI, FromPath: "msrp://a7.invalid:2855/a1;ws",
		ContentType: "application/octet-stream", Body: body,
		Headers: [][2]string{{"Message-ID", "frag"}, {"Byte-Range", fmt.Sprintf("1-%d/%d", len(body), len(body))}}}
	wire := req.Append(nil)
	// Cut inside the request line, inside the body, and one byte before
	// the end-line's flag.
	cuts := []int{7, 500, len(wire) / 2, len(wire) - 3, len(wire)}
	from := 0
	for i, cut := range cuts {
		op := ws.OpBinary
		if i > 0 {
			op = ws.OpContinuation
		}
		alice.write(op, cut == len(wire), wire[from:cut])
		from = cut
		if i == 1 {
			alice.write(ws.OpPing, true, []byte("are you there"))
		}
	}
	sawPong := false
	for {
		op, msg := alice.readMessage()
		if op == ws.OpPong {
			if string(msg) != "are you there" {
				t.Fatalf("pong payload %q", msg)
			}
			sawPong = true
			continue
		}
		if op.IsControl() {
			continue
		}
		if f := oneFrame(t, msg); f.TID != req.TID || f.Code != 200 {
			t.Fatalf("want 200 for the fragmented SEND, got %q %d", f.TID, f.Code)
		}
		break
	}
	if !sawPong {
		t.Fatal("no pong before the 200")
	}
	f := expectRequest(t, bob, "SEND")
	if !bytes.Equal(f.Body, body) {
		t.Fatalf("the fragmented chunk arrived as %d bytes", len(f.Body))
	}
	bob.Respond(f, 200, "OK")
}

// authTCP AUTHs user over the relay's TCP or TLS listener.
func (e *env) authTCP(user string) (*endpoint.Conn, string) {
	e.t.Helper()
	c := e.dialTCP()
	scheme := "msrp"
	if e.tls != nil {
		scheme = "msrps"
	}
	res, err := c.Auth(endpoint.AuthOptions{RelayURI: fmt.Sprintf("%s://%s:%d;tcp", scheme, Realm, e.port),
		FromURI: "msrp://" + user + ".example.com:9/" + user + ";tcp", User: user, Password: Password})
	if err != nil {
		e.t.Fatalf("AUTH %s over TCP: %v", user, err)
	}
	e.noteUsePath(res.UsePath)
	return c, res.UsePath
}

// testWSMixedSession: a WebSocket client and a TCP (or TLS) client, each
// with a session on the relay, chat and send each other a file both ways.
func testWSMixedSession(t *testing.T, start *suite) {
	e := startEnv(t, start, nil)
	browser, useW := e.auth("alice", endpoint.FormRFC)
	sip, useS := e.authTCP("bob")
	toSIP, toBrowser := useW+" "+useS+" "+bobURI, useS+" "+useW+" "+aliceURI
	file := make([]byte, 2<<20)
	rand.Read(file)
	for _, dir := range []struct {
		name     string
		from, to *endpoint.Conn
		path     string
		fromURI  string
	}{{"browser to SIP", browser, sip, toSIP, aliceURI}, {"SIP to browser", sip, browser, toBrowser, bobURI}} {
		chat := []byte("hi from " + dir.name)
		req := send(t, dir.from, dir.path, dir.fromURI, "chat", chat)
		expectResponse(t, dir.from, req.TID, 200)
		if f := expectRequest(t, dir.to, "SEND"); !bytes.Equal(f.Body, chat) {
			t.Fatalf("%s: chat %q", dir.name, f.Body)
		} else {
			dir.to.Respond(f, 200, "OK")
		}
		// The file in 64 KiB chunks, as a browser's client sends it.
		go func() {
			for off := 0; off < len(file); off += 64 << 10 {
				end := min(off+64<<10, len(file))
				flag := byte('+')
				if end == len(file) {
					flag = '$'
				}
				r := endpoint.Request{Method: "SEND", ToPath: dir.path, FromPath: dir.fromURI, ContentType: "application/octet-stream",
					Body: file[off:end], Flag: flag,
					Headers: [][2]string{{"Message-ID", "file"}, {"Byte-Range", fmt.Sprintf("%d-%d/%d", off+1, end, len(file))}}}
				if dir.from.Send(&r) != nil {
					return
				}
			}
		}()
		expectMessage(t, dir.to, file, dir.name+": the file")
		// The sender's 200s.
		for n := 0; n < len(file)/(64<<10); n++ {
			if f := readFrame(t, dir.from); f.Code != 200 {
				t.Fatalf("%s: %q %d for a file chunk", dir.name, f.Method, f.Code)
			}
		}
	}
}

// testWSUpgradeRefused: a handshake without subprotocol msrp is refused
// with an HTTP error that says so, not upgraded to a connection the
// client would then speak something else on.
func testWSUpgradeRefused(t *testing.T, start *suite) {
	e := startEnv(t, start, nil)
	if _, status := dialRawWS(t, e, nil, nil); status/100 != 4 {
		t.Fatalf("upgrade without subprotocol: status %d, want 4xx", status)
	}
	if _, status := dialRawWS(t, e, []string{"sip"}, nil); status/100 != 4 {
		t.Fatalf("upgrade with subprotocol sip only: status %d, want 4xx", status)
	}
	// The relay still serves.
	c, _ := dialRawWS(t, e, []string{"sip", "msrp"}, nil)
	authRaw(t, e, c)
}

// testWSOriginRefused: with allowed origins set, a page from elsewhere is
// refused (403) and one from an allowed origin is served.
func testWSOriginRefused(t *testing.T, start *suite) {
	e := startEnvOpts(t, start, nil, DriverOptions{WebSocket: wsshim.Config{Origins: []string{"https://chat.example.com"}}})
	if _, status := dialRawWS(t, e, []string{"msrp"}, http.Header{"Origin": {"https://evil.example.net"}}); status != 403 {
		t.Fatalf("foreign origin: status %d, want 403", status)
	}
	c, _ := dialRawWS(t, e, []string{"msrp"}, http.Header{"Origin": {"https://chat.example.com"}})
	authRaw(t, e, c)
}

// testWSMessageTooBig: a message past the relay's limit closes the
// connection with 1009 (RFC 6455 §7.4.1), and the relay goes on.
func testWSMessageTooBig(t *testing.T, start *suite) {
	e := startEnvOpts(t, start, nil, DriverOptions{WebSocket: wsshim.Config{MaxMessage: 64 << 10, MaxFrame: 64 << 10}})
	c, _ := dialRawWS(t, e, []string{"msrp"}, nil)
	use := authRaw(t, e, c)
	// A well-formed chunk, only too long for one message here.
	body := make([]byte, 80<<10)
	req := endpoint.Request{Method: "SEND", ToPath: use + " " + aliceURI, FromPath: bobWSURI, ContentType: "application/octet-stream", Body: body,
		Headers: [][2]string{{"Message-ID", "big"}, {"Byte-Range", fmt.Sprintf("1-%d/%d", len(body), len(body))}}}
	wire := req.Append(nil)
	c.write(ws.OpBinary, false, wire[:40<<10])
	c.write(ws.OpContinuation, true, wire[40<<10:])
	for {
		op, msg := c.readMessage()
		if op != ws.OpClose {
			continue
		}
		code, _ := ws.ParseCloseFrameData(msg)
		if code != ws.StatusMessageTooBig {
			t.Fatalf("close code %d, want 1009", code)
		}
		break
	}
	expectServing(t, e)
}

// testWSCloseHandshake: a client's close frame is answered with one, and
// the relay then closes the TCP connection.
func testWSCloseHandshake(t *testing.T, start *suite) {
	e := startEnv(t, start, nil)
	c, _ := dialRawWS(t, e, []string{"msrp"}, nil)
	authRaw(t, e, c)
	c.write(ws.OpClose, true, ws.NewCloseFrameBody(ws.StatusNormalClosure, "bye"))
	op, _ := c.readMessage()
	if op != ws.OpClose {
		t.Fatalf("got %v, want the close answered", op)
	}
	if _, err := c.br.ReadByte(); err == nil {
		t.Fatal("bytes after the close frame")
	}
}

// testWSPingOnQuiet: a quiet WebSocket connection is pinged (RFC 7977
// §6), so that proxies and NATs on the way keep it; a pong answers it.
func testWSPingOnQuiet(t *testing.T, start *suite) {
	e := startEnv(t, start, func(c *engine.Config) { c.WSPing = 300 * time.Millisecond })
	c, _ := dialRawWS(t, e, []string{"msrp"}, nil)
	authRaw(t, e, c)
	for {
		op, msg := c.readMessage()
		if op == ws.OpPing {
			c.write(ws.OpPong, true, msg)
			return
		}
	}
}

// testWSCloseSaysWhy: when the relay closes a WebSocket connection itself
// (here after too many failed AUTHs), the browser gets the last answer and
// then a close frame whose code says why (1008, policy), not a dropped
// connection (1006).
func testWSCloseSaysWhy(t *testing.T, start *suite) {
	e := startEnv(t, start, nil)
	c, _ := dialRawWS(t, e, []string{"msrp"}, nil)
	conn := &rawAuthConn{rawWS: c}
	ep := endpoint.New(conn)
	// The third failure (BaseConfig's MaxAuthFailures) closes.
	for i := 0; i < 3 && conn.closed == nil; i++ {
		if _, err := ep.Auth(endpoint.AuthOptions{RelayURI: e.uri, FromURI: bobWSURI, User: "bob", Password: "wrong"}); !errors.Is(err, endpoint.ErrAuth) {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	for conn.closed == nil {
		op, msg := c.readMessage()
		if op == ws.OpClose {
			conn.closed = msg
		} else if !op.IsControl() {
			t.Fatalf("after the last 401: %q", msg)
		}
	}
	code, reason := ws.ParseCloseFrameData(conn.closed)
	if code != ws.StatusPolicyViolation || reason == "" {
		t.Fatalf("close %d %q, want 1008 with a reason", code, reason)
	}
}

// testWSProtocolErrorSaysWhy: bytes that are not MSRP in a WebSocket
// message close the connection with 1002, not a dropped connection.
func testWSProtocolErrorSaysWhy(t *testing.T, start *suite) {
	e := startEnv(t, start, nil)
	c, _ := dialRawWS(t, e, []string{"msrp"}, nil)
	c.write(ws.OpText, true, []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	for {
		op, msg := c.readMessage()
		if op != ws.OpClose {
			continue
		}
		if code, _ := ws.ParseCloseFrameData(msg); code != ws.StatusProtocolError {
			t.Fatalf("close code %d, want 1002", code)
		}
		return
	}
}

// testWSGoingAway: a relay that stops tells its WebSocket clients so with
// a close frame (1001), and they can tell a restart from a failure.
func testWSGoingAway(t *testing.T, start *suite) {
	e := startEnv(t, start, nil)
	c, _ := dialRawWS(t, e, []string{"msrp"}, nil)
	authRaw(t, e, c)
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		e.stop()
	}()
	for {
		op, msg := c.readMessage()
		if op != ws.OpClose {
			continue
		}
		if code, _ := ws.ParseCloseFrameData(msg); code != ws.StatusGoingAway {
			t.Fatalf("close code %d, want 1001", code)
		}
		break
	}
	<-stopped
}
