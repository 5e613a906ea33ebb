package e2etest

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/msrprelay/msrprelay/endpoint"
)

const bobURI = "msrp://bob.example.com:9/b1;tcp"

// send writes a one-chunk text SEND and returns it.
func send(t testing.TB, c *endpoint.Conn, to, from, msgID string, body []byte, extra ...[2]string) endpoint.Request {
	t.Helper()
	req := endpoint.Request{Method: "SEND", ToPath: to, FromPath: from,
		Headers:     append([][2]string{{"Message-ID", msgID}, {"Byte-Range", fmt.Sprintf("1-%d/%d", len(body), len(body))}}, extra...),
		ContentType: "text/plain", Body: body}
	if err := c.Send(&req); err != nil {
		t.Fatal(err)
	}
	return req
}

// testSingleHopSend: alice has no relay and connects to bob's (RFC 4976
// §3): To-Path <relay/bob-session> <bob>.
func testSingleHopSend(t *testing.T, start *suite) {
	e := startEnv(t, start, nil)
	bob, use := e.auth("bob", endpoint.FormRFC)
	alice := e.dial()
	req := send(t, alice, use+" "+bobURI, aliceURI, "m1", []byte("hello bob"))
	expectResponse(t, alice, req.TID, 200)
	got := expectRequest(t, bob, "SEND")
	if string(got.Body) != "hello bob" || got.Header("To-Path") != bobURI ||
		got.Header("From-Path") != use+" "+aliceURI || got.TID == req.TID || got.Header("Message-ID") != "m1" {
		t.Fatalf("forwarded: %+v", got)
	}
	bob.Respond(got, 200, "OK")
	// Bob answers through his session: the relay uses the connection
	// alice's first SEND bound to it.
	back := send(t, bob, use+" "+aliceURI, bobURI, "m2", []byte("hi"))
	expectResponse(t, bob, back.TID, 200)
	got2 := expectRequest(t, alice, "SEND")
	if string(got2.Body) != "hi" || got2.Header("From-Path") != use+" "+bobURI {
		t.Fatalf("back: %+v", got2)
	}
}

// testSharedTopology: both users on this relay; the relay must take both
// hops in process (To-Path <relay/A> <relay/B> <bob>).
func testSharedTopology(t *testing.T, start *suite) {
	e := startEnv(t, start, nil)
	alice, useA := e.auth("alice", endpoint.FormRFC)
	bob, useB := e.auth("bob", endpoint.FormMsrplib)
	req := send(t, alice, useA+" "+useB+" "+bobURI, aliceURI, "s1", []byte("shared"))
	expectResponse(t, alice, req.TID, 200)
	got := expectRequest(t, bob, "SEND")
	if string(got.Body) != "shared" || got.Header("To-Path") != bobURI || got.Header("From-Path") != useB+" "+useA+" "+aliceURI {
		t.Fatalf("forwarded: %+v", got.Headers)
	}
	bob.Respond(got, 200, "OK")
	back := send(t, bob, useB+" "+useA+" "+aliceURI, bobURI, "s2", []byte("back"))
	expectResponse(t, bob, back.TID, 200)
	got2 := expectRequest(t, alice, "SEND")
	if string(got2.Body) != "back" || got2.Header("From-Path") != useA+" "+useB+" "+bobURI {
		t.Fatalf("back: %+v", got2.Headers)
	}
}

// testTwoRelays: alice behind relay A, bob behind relay B; A opens one
// connection to B and reuses it.
func testTwoRelays(t *testing.T, start *suite) {
	a := startEnv(t, start, nil)
	b := startEnv(t, start, nil)
	alice, useA := a.auth("alice", endpoint.FormRFC)
	bob, useB := b.auth("bob", endpoint.FormRFC)
	for i := 0; i < 3; i++ {
		body := []byte(fmt.Sprintf("over two relays %d", i))
		req := send(t, alice, useA+" "+useB+" "+bobURI, aliceURI, fmt.Sprintf("t%d", i), body)
		expectResponse(t, alice, req.TID, 200)
		got := expectRequest(t, bob, "SEND")
		if !bytes.Equal(got.Body, body) || got.Header("From-Path") != useB+" "+useA+" "+aliceURI || got.Header("To-Path") != bobURI {
			t.Fatalf("forwarded: %+v", got.Headers)
		}
		bob.Respond(got, 200, "OK")
		back := send(t, bob, useB+" "+useA+" "+aliceURI, bobURI, fmt.Sprintf("r%d", i), []byte("ack"))
		expectResponse(t, bob, back.TID, 200)
		got2 := expectRequest(t, alice, "SEND")
		if string(got2.Body) != "ack" || got2.Header("From-Path") != useA+" "+useB+" "+bobURI {
			t.Fatalf("back: %+v", got2.Headers)
		}
		alice.Respond(got2, 200, "OK")
	}
}

// testClientBehindTwoRelays: RFC 4976 §5.1, a client AUTHs at its relay,
// then AUTHs at a second relay through the first.
func testClientBehindTwoRelays(t *testing.T, start *suite) {
	inner := startEnv(t, start, nil)
	outer := startEnv(t, start, nil)
	alice, u1 := inner.auth("alice", endpoint.FormRFC)
	// The outer relay is named by address: tests resolve no names.
	outerURI := fmt.Sprintf("%s://127.0.0.1:%d;tcp", outer.scheme(), outer.port)
	res, err := alice.Auth(endpoint.AuthOptions{RelayURI: u1 + " " + outerURI, FromURI: aliceURI, User: "alice", Password: Password})
	if err != nil {
		t.Fatal(err)
	}
	uses := strings.Fields(res.UsePath)
	if len(uses) != 2 || uses[0] != u1 || !strings.Contains(uses[1], fmt.Sprintf(":%d/", outer.port)) {
		t.Fatalf("Use-Path %q", res.UsePath)
	}
	// An AUTH through a session issued to another connection is refused.
	mallory := inner.dial()
	req := endpoint.Request{Method: "AUTH", ToPath: u1 + " " + outerURI, FromPath: aliceURI}
	mallory.Send(&req)
	expectResponse(t, mallory, req.TID, 403)
	// The connection to the outer relay carries only what is for it: an
	// AUTH for a third relay (one that hangs up) is not sent to it.
	third := fmt.Sprintf("%s://127.0.0.1:%d;tcp", outer.scheme(), hangUpPort(t))
	req3 := endpoint.Request{Method: "AUTH", ToPath: u1 + " " + third, FromPath: aliceURI}
	alice.Send(&req3)
	expectResponse(t, alice, req3.TID, 408)
}

// testOwnerRoutesByPath: the session's client sends where its To-Path
// says (RFC 4976 §6.4). The bound endpoint gets only requests that name it
// as the next hop; a request for another party goes there (here: a peer
// that hangs up, so a failure REPORT), never to alice.
func testOwnerRoutesByPath(t *testing.T, start *suite) {
	p := newPair(t, startEnv(t, start, nil))
	req := send(t, p.alice, p.to, aliceURI, "b1", []byte("binds"))
	expectResponse(t, p.alice, req.TID, 200)
	p.expectDelivered(t, []byte("binds"))
	carol := fmt.Sprintf("%s://127.0.0.1:%d/carol;tcp", p.e.scheme(), hangUpPort(t))
	other := send(t, p.bob, p.use+" "+carol, bobURI, "o1", []byte("for carol"))
	expectResponse(t, p.bob, other.TID, 200)
	expectReport(t, p.bob, "o1", "000 408")
	// The same URI alice sent, written in another case, still names her.
	aliceUpper := strings.Replace(aliceURI, "alice.example.com", "ALICE.example.com", 1)
	send(t, p.bob, p.use+" "+aliceUpper, bobURI, "o2", []byte("for alice"))
	if f := readFrame(t, p.bob); f.Method != "" || f.Code != 200 {
		t.Fatalf("want 200 for the SEND to alice, got %s %d %+v", f.Method, f.Code, f.Headers)
	}
	if got := expectRequest(t, p.alice, "SEND"); string(got.Body) != "for alice" {
		t.Fatalf("alice received %q", got.Body)
	}
}

// testInwardLoopForbidden: a request from someone other than the session's
// client goes inward to that client; a path that then names this relay
// again (mallory: <sidA> <sidB> <bob>) is refused and binds nothing.
func testInwardLoopForbidden(t *testing.T, start *suite) {
	e := startEnv(t, start, nil)
	alice, useA := e.auth("alice", endpoint.FormRFC)
	_, useB := e.auth("bob", endpoint.FormRFC)
	mallory := e.dial()
	req := send(t, mallory, useA+" "+useB+" "+bobURI, "msrp://m.example.com:9/m;tcp", "m1", []byte("x"))
	expectResponse(t, mallory, req.TID, 403)
	carol := e.dial()
	req2 := send(t, carol, useA+" "+aliceURI, "msrp://c.example.com:9/c;tcp", "c1", []byte("hi alice"))
	expectResponse(t, carol, req2.TID, 200)
	if got := expectRequest(t, alice, "SEND"); string(got.Body) != "hi alice" {
		t.Fatalf("alice received %q", got.Body)
	}
}
