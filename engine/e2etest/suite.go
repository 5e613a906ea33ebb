package e2etest

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/msrprelay/msrprelay/bench/client"
)

// Run runs the whole suite against relays made by start.
func Run(t *testing.T, start Start) {
	tests := []struct {
		name string
		fn   func(*testing.T, Start)
	}{
		{"AuthForms", testAuthForms},
		{"SingleHopSend", testSingleHopSend},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, start) })
	}
}

func testAuthForms(t *testing.T, start Start) {
	e := startEnv(t, start, nil)
	for _, form := range []client.AuthForm{client.FormRFC, client.FormMsrplib, client.FormURI} {
		_, use := e.auth("alice", form)
		if !strings.HasPrefix(use, "msrp://127.0.0.1:") || !strings.HasSuffix(use, ";tcp") {
			t.Fatalf("form %d: Use-Path %q", form, use)
		}
	}
}

// testSingleHopSend: alice has no relay and connects to bob's (RFC 4976
// §3): To-Path <relay/bob-session> <bob>.
func testSingleHopSend(t *testing.T, start Start) {
	e := startEnv(t, start, nil)
	bob, use := e.auth("bob", client.FormRFC)
	alice := e.dial()
	body := []byte("hello bob")
	req := client.Request{Method: "SEND", ToPath: use + " msrp://bob.example.com:9/bob;tcp", FromPath: "msrp://alice.example.com:9/a1;tcp",
		Headers: [][2]string{{"Message-ID", "m1"}, {"Byte-Range", "1-9/9"}}, ContentType: "text/plain", Body: body}
	if err := alice.Send(&req); err != nil {
		t.Fatal(err)
	}
	expectResponse(t, alice, req.TID, 200)
	got := expectRequest(t, bob, "SEND")
	if !bytes.Equal(got.Body, body) || got.Header("To-Path") != "msrp://bob.example.com:9/bob;tcp" ||
		got.Header("From-Path") != use+" msrp://alice.example.com:9/a1;tcp" || got.TID == req.TID {
		t.Fatalf("forwarded: %+v", got)
	}
	if err := bob.Respond(got, 200, "OK"); err != nil {
		t.Fatal(err)
	}
	// Bob answers through the same session: the relay sends it on alice's
	// connection, which bound the session.
	back := client.Request{Method: "SEND", ToPath: use + " msrp://alice.example.com:9/a1;tcp", FromPath: "msrp://bob.example.com:9/bob;tcp",
		Headers: [][2]string{{"Message-ID", "m2"}, {"Byte-Range", "1-2/2"}}, ContentType: "text/plain", Body: []byte("hi")}
	if err := bob.Send(&back); err != nil {
		t.Fatal(err)
	}
	expectResponse(t, bob, back.TID, 200)
	got2 := expectRequest(t, alice, "SEND")
	if string(got2.Body) != "hi" {
		t.Fatalf("back: %+v", got2)
	}
	_ = time.Second
}
