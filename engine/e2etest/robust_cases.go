package e2etest

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/msrprelay/msrprelay/endpoint"
	"github.com/msrprelay/msrprelay/engine"
)

// robustCases: inputs and client behaviours that once took the relay down
// or cut live sessions.
var robustCases = []suiteCase{
	{"FailureReportNoStreams", testFailureReportNoStreams},
	{"UnderscoreMethodForwarded", testUnderscoreMethod},
	{"SessionWithoutExpiresOutlivesIt", testSoftExpiry},
	{"SessionWithoutExpiresIdles", testSoftExpiryIdle},
	{"RefreshAUTH", testRefreshAuth},
	{"SharedTopologyAccounting", testSharedAccounting},
	{"PipelinedAuthFailuresStop", testPipelinedAuthFailures},
	{"TLSLogsNormalCloseQuietly", testTLSLogLevels},
}

// logged reports whether the relay logged a line holding all of parts.
func (e *env) logged(parts ...string) bool {
	e.logs.mu.Lock()
	defer e.logs.mu.Unlock()
	for _, l := range strings.Split(e.logs.buf.String(), "\n") {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(l, p)
		}
		if all && l != "" {
			return true
		}
	}
	return false
}

// testTLSLogLevels: a client's normal TLS close is not an error in the
// log; a failed handshake (here a plain-TCP client on the TLS port) is
// logged at info with its reason.
func testTLSLogLevels(t *testing.T, start *suite) {
	e := startEnv(t, start, nil)
	if e.tls == nil {
		t.Skip("TLS only")
	}
	c, _ := e.auth("bob", endpoint.FormRFC)
	c.Close()
	raw, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	raw.Write([]byte("MSRP abcd AUTH\r\nTo-Path: msrp://x:1;tcp\r\n\r\n"))
	deadline := time.Now().Add(10 * time.Second)
	for !e.logged(`"level":"info"`, "TLS handshake failed") {
		if time.Now().After(deadline) {
			t.Fatal("no info line for the failed handshake")
		}
		time.Sleep(20 * time.Millisecond)
	}
	raw.Close()
	if e.logged("closing: TLS error") {
		t.Fatal("a normal TLS close logged as a TLS error")
	}
}

// panicCases: a bug in one connection's handling costs that connection.
var panicCases = []suiteCase{
	{"PanicCostsOneConnection", testPanicContained},
}

// testFailureReportNoStreams: a SEND that asks for no failure reports
// (Failure-Report no, or a value the relay does not know) and whose body
// arrives over several reads is streamed like any other; it once made the
// relay dereference a transaction it never kept, killing the process.
func testFailureReportNoStreams(t *testing.T, start *suite) {
	p := newPair(t, startEnv(t, start, nil))
	for i, fr := range []string{"no", "maybe"} {
		body := make([]byte, 200<<10)
		rand.Read(body)
		req := p.frame(fmt.Sprintf("frno%d", i), body, '$', [2]string{"Failure-Report", fr})
		wire := req.Append(nil)
		// The header and a little of the body first, the rest later:
		// the relay must stream, not forward the frame whole.
		cut := bytes.Index(wire, []byte("\r\n\r\n")) + 4 + 100
		if err := p.alice.Write(wire[:cut]); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
		if err := p.alice.Write(wire[cut:]); err != nil {
			t.Fatal(err)
		}
		p.expectDelivered(t, body)
	}
	// The relay is alive, and alice's connection too.
	req := send(t, p.alice, p.to, aliceURI, "after", []byte("still here"))
	expectResponse(t, p.alice, req.TID, 200)
	p.expectDelivered(t, []byte("still here"))
}

// testUnderscoreMethod: sipsimple (Blink, SylkServer) asks FILE_OFFSET
// before each outgoing file transfer; the relay forwards it like any
// method it does not know, and its response back.
func testUnderscoreMethod(t *testing.T, start *suite) {
	p := newPair(t, startEnv(t, start, nil))
	req := endpoint.Request{Method: "FILE_OFFSET", ToPath: p.to, FromPath: aliceURI, Headers: [][2]string{{"Message-ID", "fo1"}}}
	if err := p.alice.Send(&req); err != nil {
		t.Fatal(err)
	}
	got := expectRequest(t, p.bob, "FILE_OFFSET")
	if got.Header("Message-ID") != "fo1" {
		t.Fatalf("forwarded: %+v", got.Headers)
	}
	p.bob.Respond(got, 200, "OK")
	expectResponse(t, p.alice, req.TID, 200)
}

// testSoftExpiry: python msrplib sends no Expires and never refreshes. Its
// session, once in use, outlives the Expires the relay gave it (RFC 4976
// §6.3 makes expiry binding only when the AUTH asked for it); an unused
// one does not.
func testSoftExpiry(t *testing.T, start *suite) {
	// Long enough to set up and use the pair on a busy machine.
	const expires = 4 * time.Second
	e := startEnv(t, start, func(c *engine.Config) {
		c.ExpiresMin, c.ExpiresDefault = time.Second, expires
	})
	p := newPair(t, e)
	_, unusedUse := e.auth("alice", endpoint.FormMsrplib)
	// The relay gave both sessions their lifetimes before their 200s
	// reached us: measured from here, the wait below outlasts them.
	authed := time.Now()
	req := send(t, p.alice, p.to, aliceURI, "s1", []byte("in use"))
	expectResponse(t, p.alice, req.TID, 200)
	p.expectDelivered(t, []byte("in use"))
	time.Sleep(time.Until(authed.Add(expires + time.Second)))
	req2 := send(t, p.alice, p.to, aliceURI, "s2", []byte("past Expires"))
	expectResponse(t, p.alice, req2.TID, 200)
	p.expectDelivered(t, []byte("past Expires"))
	other := e.dial()
	req3 := send(t, other, unusedUse+" "+aliceURI, bobURI, "s3", []byte("too late"))
	expectResponse(t, other, req3.TID, 481)
}

// testSoftExpiryIdle: a session without Expires ends after IdleTimeout
// without a request.
func testSoftExpiryIdle(t *testing.T, start *suite) {
	e := startEnv(t, start, func(c *engine.Config) {
		// Expires long enough to set up and use the pair on a busy
		// machine; idleness ends it long before.
		c.ExpiresMin, c.ExpiresDefault = time.Second, time.Minute
		c.IdleTimeout = 500 * time.Millisecond
	})
	p := newPair(t, e)
	req := send(t, p.alice, p.to, aliceURI, "i1", []byte("once"))
	expectResponse(t, p.alice, req.TID, 200)
	p.expectDelivered(t, []byte("once"))
	time.Sleep(1500 * time.Millisecond)
	c := e.dial()
	req2 := send(t, c, p.to, aliceURI, "i2", []byte("after idle"))
	expectResponse(t, c, req2.TID, 481)
}

// testRefreshAuth: an AUTH to the session's own URI on the connection that
// holds it refreshes it: 200, the same Use-Path, a new Expires. Others may
// not refresh it.
func testRefreshAuth(t *testing.T, start *suite) {
	e := startEnv(t, start, func(c *engine.Config) { c.ExpiresMin = time.Second })
	bob := e.dial()
	const expires = 4 * time.Second // long enough to refresh on a busy machine
	authed := time.Now()
	res, err := bob.Auth(endpoint.AuthOptions{RelayURI: e.uri, FromURI: bobURI, User: "bob", Password: Password, Expires: int(expires / time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	e.noteUsePath(res.UsePath)
	ref, err := bob.Auth(endpoint.AuthOptions{RelayURI: res.UsePath, FromURI: bobURI, User: "bob", Password: Password, Expires: 60})
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if ref.UsePath != res.UsePath || ref.Expires != 60 {
		t.Fatalf("refresh gave Use-Path %q Expires %d, want %q 60", ref.UsePath, ref.Expires, res.UsePath)
	}
	// The first Expires no longer ends it.
	time.Sleep(time.Until(authed.Add(expires + 500*time.Millisecond)))
	alice := e.dial()
	req := send(t, alice, res.UsePath+" "+bobURI, aliceURI, "r1", []byte("refreshed"))
	expectResponse(t, alice, req.TID, 200)
	bob.SetDeadline(time.Now().Add(20 * time.Second))
	if got := expectRequest(t, bob, "SEND"); string(got.Body) != "refreshed" {
		t.Fatalf("bob got %q", got.Body)
	}
	// Another connection, even with bob's password, may not refresh it.
	mallory := e.dial()
	_, err = mallory.Auth(endpoint.AuthOptions{RelayURI: res.UsePath, FromURI: bobURI, User: "bob", Password: Password})
	if err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("refresh from another connection: %v", err)
	}
	// An unknown session URI is not one to refresh.
	gone := fmt.Sprintf("%s://127.0.0.1:%d/aaaaaaaaaaaaaaaaaaaaaaaaaa;tcp", e.scheme(), e.port)
	_, err = e.dial().Auth(endpoint.AuthOptions{RelayURI: gone, FromURI: bobURI, User: "bob", Password: Password})
	if err == nil || !strings.Contains(err.Error(), "481") {
		t.Fatalf("refresh of an unknown session: %v", err)
	}
}

// sessionEnd is the relay's end-of-session log line.
type sessionEnd struct {
	User            string `json:"user"`
	Why             string `json:"why"`
	BytesFromClient int64  `json:"bytes_from_client"`
	BytesToClient   int64  `json:"bytes_to_client"`
	ReqsFromClient  int64  `json:"requests_from_client"`
	ReqsToClient    int64  `json:"requests_to_client"`
}

// sessionEnds waits until the relay logged n session ends and returns them.
func (e *env) sessionEnds(t testing.TB, n int) []sessionEnd {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var ends []sessionEnd
		e.logs.mu.Lock()
		lines := bytes.Split(e.logs.buf.Bytes(), []byte("\n"))
		for _, l := range lines {
			if bytes.Contains(l, []byte(`"message":"session ended"`)) {
				var s sessionEnd
				if err := json.Unmarshal(l, &s); err != nil {
					t.Fatal(err)
				}
				ends = append(ends, s)
			}
		}
		e.logs.mu.Unlock()
		if len(ends) >= n || time.Now().After(deadline) {
			return ends
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// testSharedAccounting: alice and bob on one relay; each end-of-session
// line counts what its own client sent and received.
func testSharedAccounting(t *testing.T, start *suite) {
	e := startEnv(t, start, nil)
	alice, useA := e.auth("alice", endpoint.FormRFC)
	bob, useB := e.auth("bob", endpoint.FormMsrplib)
	req := send(t, alice, useA+" "+useB+" "+bobURI, aliceURI, "a1", []byte("twelve bytes"))
	expectResponse(t, alice, req.TID, 200)
	bob.Respond(expectRequest(t, bob, "SEND"), 200, "OK")
	back := send(t, bob, useB+" "+useA+" "+aliceURI, bobURI, "b1", []byte("five!"))
	expectResponse(t, bob, back.TID, 200)
	alice.Respond(expectRequest(t, alice, "SEND"), 200, "OK")
	alice.Close()
	bob.Close()
	ends := e.sessionEnds(t, 2)
	want := map[string]sessionEnd{
		"alice": {User: "alice", BytesFromClient: 12, BytesToClient: 5, ReqsFromClient: 1, ReqsToClient: 1},
		"bob":   {User: "bob", BytesFromClient: 5, BytesToClient: 12, ReqsFromClient: 1, ReqsToClient: 1},
	}
	if len(ends) != 2 {
		t.Fatalf("session ends: %+v", ends)
	}
	for _, got := range ends {
		w := want[got.User]
		w.Why = got.Why
		if got != w {
			t.Errorf("%s: got %+v, want %+v", got.User, got, w)
		}
	}
}

// testPipelinedAuthFailures: wrong passwords pipelined in one write, the
// right one last, never get past the failure limit: the relay stops
// reading the connection at the limit, and the right one gets no 200.
func testPipelinedAuthFailures(t *testing.T, start *suite) {
	e := startEnv(t, start, func(c *engine.Config) { c.AuthFailureDelay = 100 * time.Millisecond })
	c := e.dial()
	o := endpoint.AuthOptions{RelayURI: e.uri, FromURI: aliceURI, User: "alice", Password: "wrong"}
	bare := endpoint.Request{Method: "AUTH", ToPath: e.uri, FromPath: aliceURI}
	if err := c.Send(&bare); err != nil {
		t.Fatal(err)
	}
	ch := expectResponse(t, c, bare.TID, 401)
	var wire []byte
	for i := 1; i <= 40; i++ {
		if i == 40 {
			o.Password = Password
		}
		a, err := endpoint.Authorization(o, ch, fmt.Sprintf("%08x", i))
		if err != nil {
			t.Fatal(err)
		}
		req := endpoint.Request{Method: "AUTH", ToPath: e.uri, FromPath: aliceURI, Headers: [][2]string{{"Authorization", a}}}
		wire = req.Append(wire)
	}
	// The relay may close while the write is still going: its error is
	// not the test's business, the answers are.
	_ = c.Write(wire)
	c.SetDeadline(time.Now().Add(10 * time.Second))
	answers := 0
	for {
		f, err := c.ReadFrame()
		if err != nil {
			break
		}
		answers++
		if f.Code == 200 {
			t.Fatalf("AUTH %d of 40 succeeded past the failure limit", answers)
		}
	}
	if answers > 10 {
		t.Fatalf("%d AUTHs answered: the limit did not stop reading", answers)
	}
}

// panicMetrics counts the Panics counter.
type panicMetrics struct{ n atomic.Int64 }

func (m *panicMetrics) Add(c engine.Counter, n int64) {
	if c == engine.Panics {
		m.n.Add(n)
	}
}

// testPanicContained: a bug that panics while one connection's request is
// handled closes that connection; the process and other sessions go on.
func testPanicContained(t *testing.T, start *suite) {
	m := &panicMetrics{}
	e := startEnv(t, start, func(c *engine.Config) {
		c.Metrics = m
		c.TestHook = func(method []byte) {
			if string(method) == "BOOM" {
				panic("injected by the test")
			}
		}
	})
	p := newPair(t, e)
	req := send(t, p.alice, p.to, aliceURI, "before", []byte("before"))
	expectResponse(t, p.alice, req.TID, 200)
	p.expectDelivered(t, []byte("before"))
	victim := e.dial()
	boom := endpoint.Request{Method: "BOOM", ToPath: p.to, FromPath: aliceURI}
	if err := victim.Send(&boom); err != nil {
		t.Fatal(err)
	}
	expectClosed(t, victim)
	req2 := send(t, p.alice, p.to, aliceURI, "after", []byte("after"))
	expectResponse(t, p.alice, req2.TID, 200)
	p.expectDelivered(t, []byte("after"))
	e.auth("carol", endpoint.FormRFC)
	if got := m.n.Load(); got != 1 {
		t.Fatalf("panics counted: %d, want 1", got)
	}
}
