package e2etest

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/msrprelay/msrprelay/codec"
	"github.com/msrprelay/msrprelay/digest"
	"github.com/msrprelay/msrprelay/endpoint"
	"github.com/msrprelay/msrprelay/engine"
)

const aliceURI = "msrp://alice.example.com:9/a1;tcp"

func testAuthForms(t *testing.T, start *suite) {
	e := startEnv(t, start, nil)
	for _, form := range []endpoint.AuthForm{endpoint.FormRFC, endpoint.FormMsrplib, endpoint.FormURI} {
		c := e.dial()
		res, err := c.Auth(endpoint.AuthOptions{RelayURI: e.uri, FromURI: aliceURI, User: "alice", Password: Password, Form: form, Expires: 600})
		if err != nil {
			t.Fatalf("form %d: %v", form, err)
		}
		if !strings.HasPrefix(res.UsePath, e.scheme()+"://127.0.0.1:") || !strings.HasSuffix(res.UsePath, ";tcp") || res.Expires != 600 {
			t.Fatalf("form %d: Use-Path %q Expires %d", form, res.UsePath, res.Expires)
		}
		// The 200 proves the relay knows the password too (rspauth).
		var d codec.Digest
		if err := codec.ParseDigest([]byte(res.Final.Header("Authentication-Info")), &d); err != nil || len(d.RspAuth) != 32 || string(d.QOP) != "auth" || len(d.CNonce) == 0 || string(d.NC) != "00000001" {
			t.Fatalf("Authentication-Info %q", res.Final.Header("Authentication-Info"))
		}
		if res.Final.Header("To-Path") != aliceURI || res.Final.Header("From-Path") != e.uri {
			t.Fatalf("200 paths: %+v", res.Final.Headers)
		}
	}
}

func testAuthChallenge(t *testing.T, start *suite) {
	e := startEnv(t, start, nil)
	c := e.dial()
	req := endpoint.Request{Method: "AUTH", ToPath: e.uri, FromPath: aliceURI}
	if err := c.Send(&req); err != nil {
		t.Fatal(err)
	}
	f := expectResponse(t, c, req.TID, 401)
	var d codec.Digest
	if err := codec.ParseDigest([]byte(f.Header("WWW-Authenticate")), &d); err != nil {
		t.Fatal(err)
	}
	if string(d.Realm) != Realm || len(d.Nonce) == 0 || len(d.Opaque) == 0 || string(d.QOP) != "auth" {
		t.Fatalf("challenge %q", f.Header("WWW-Authenticate"))
	}
	if !strings.Contains(f.Header("WWW-Authenticate"), `qop="auth"`) {
		t.Fatalf("qop must be quoted in a challenge: %q", f.Header("WWW-Authenticate"))
	}
}

func authWithPassword(c *endpoint.Conn, e *env, pw string) error {
	_, err := c.Auth(endpoint.AuthOptions{RelayURI: e.uri, FromURI: aliceURI, User: "alice", Password: pw})
	return err
}

func testAuthFailuresClose(t *testing.T, start *suite) {
	e := startEnv(t, start, nil)
	c := e.dial()
	for i := 0; i < 2; i++ {
		if err := authWithPassword(c, e, "wrong"); !errors.Is(err, endpoint.ErrAuth) {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	// The third failure is answered, then the connection closes.
	err := authWithPassword(c, e, "wrong")
	if !errors.Is(err, endpoint.ErrAuth) {
		t.Fatalf("third attempt: %v", err)
	}
	if _, err := c.ReadFrame(); !closedByRelay(err) {
		t.Fatalf("connection still open: %v", err)
	}
	// Another connection from the same source still works.
	if err := authWithPassword(e.dial(), e, Password); err != nil {
		t.Fatal(err)
	}
}

func testAuthStaleNonce(t *testing.T, start *suite) {
	e := startEnv(t, start, func(c *engine.Config) { c.NonceTTL = 300 * time.Millisecond })
	c := e.dial()
	req := endpoint.Request{Method: "AUTH", ToPath: e.uri, FromPath: aliceURI}
	c.Send(&req)
	ch := expectResponse(t, c, req.TID, 401)
	time.Sleep(400 * time.Millisecond)
	var d codec.Digest
	codec.ParseDigest([]byte(ch.Header("WWW-Authenticate")), &d)
	req2 := authorized(e, &d, "00000001")
	c.Send(&req2)
	f := expectResponse(t, c, req2.TID, 401)
	if !strings.Contains(f.Header("WWW-Authenticate"), "stale=TRUE") {
		t.Fatalf("no stale=TRUE: %q", f.Header("WWW-Authenticate"))
	}
}

// authorized builds an AUTH answering challenge d with the right password.
func authorized(e *env, d *codec.Digest, nc string) endpoint.Request {
	cnonce := "0a4f113b"
	resp := digest.ClientResponse("alice", string(d.Realm), Password, e.uri, string(d.Nonce), nc, cnonce)
	a := `Digest username="alice", realm="` + string(d.Realm) + `", nonce="` + string(d.Nonce) + `", qop=auth, nc=` + nc +
		`, cnonce="` + cnonce + `", response="` + resp + `", opaque="` + string(d.Opaque) + `"`
	return endpoint.Request{Method: "AUTH", ToPath: e.uri, FromPath: aliceURI, Headers: [][2]string{{"Authorization", a}}}
}

func testAuthReplayedNC(t *testing.T, start *suite) {
	e := startEnv(t, start, nil)
	c := e.dial()
	req := endpoint.Request{Method: "AUTH", ToPath: e.uri, FromPath: aliceURI}
	c.Send(&req)
	ch := expectResponse(t, c, req.TID, 401)
	var d codec.Digest
	codec.ParseDigest([]byte(ch.Header("WWW-Authenticate")), &d)
	ok := authorized(e, &d, "00000001")
	c.Send(&ok)
	expectResponse(t, c, ok.TID, 200)
	replay := authorized(e, &d, "00000001")
	c.Send(&replay)
	expectResponse(t, c, replay.TID, 401)
	next := authorized(e, &d, "00000002")
	c.Send(&next)
	expectResponse(t, c, next.TID, 200)
}

func testAuthExpiresBounds(t *testing.T, start *suite) {
	e := startEnv(t, start, func(c *engine.Config) { c.ExpiresMin = time.Minute; c.ExpiresMax = time.Hour })
	for _, tc := range []struct {
		expires string
		code    int
		header  string
		want    string
	}{
		{"10", 423, "Min-Expires", "60"},
		{"7200", 423, "Max-Expires", "3600"},
		{"99999999999999999999999", 423, "Max-Expires", "3600"},
		{"abc", 400, "", ""},
		{"-5", 400, "", ""},
	} {
		c := e.dial()
		req := endpoint.Request{Method: "AUTH", ToPath: e.uri, FromPath: aliceURI, Headers: [][2]string{{"Expires", tc.expires}}}
		c.Send(&req)
		f := expectResponse(t, c, req.TID, tc.code)
		if tc.header != "" && f.Header(tc.header) != tc.want {
			t.Fatalf("Expires %s: %+v", tc.expires, f.Headers)
		}
	}
}

func testAuthDomains(t *testing.T, start *suite) {
	e := startEnv(t, start, func(c *engine.Config) { c.Domains = []string{"example.com"} })
	// The AUTH host is the SIP domain, not the relay's name: accepted.
	if err := authWithPassword(e.dial(), e, Password); err != nil {
		t.Fatal(err)
	}
	c := e.dial()
	req := endpoint.Request{Method: "AUTH", ToPath: "msrp://other.example.org:2855;tcp", FromPath: aliceURI}
	c.Send(&req)
	expectResponse(t, c, req.TID, 403)
}

// testAuthAlwaysAnswered: from a source that keeps failing, answers to
// failed AUTHs are held back; an AUTH arriving while the answer to the
// connection's last allowed failure is held back is still answered before
// the connection closes.
func testAuthAlwaysAnswered(t *testing.T, start *suite) {
	e := startEnv(t, start, func(c *engine.Config) {
		// Long against the 100 ms between the last two AUTHs: the last
		// must arrive before the held-back answer goes out and closes.
		c.AuthFailureDelay = 2 * time.Second
		c.ProbationTimeout = time.Minute // the held-back answers take a while
	})
	for i := 0; i < 2; i++ { // two connections fail three times each
		c := e.dial()
		for j := 0; j < 3; j++ {
			if err := authWithPassword(c, e, "wrong"); !errors.Is(err, endpoint.ErrAuth) {
				t.Fatalf("connection %d attempt %d: %v", i, j, err)
			}
		}
	}
	c := e.dial()
	for j := 0; j < 2; j++ {
		if err := authWithPassword(c, e, "wrong"); !errors.Is(err, endpoint.ErrAuth) {
			t.Fatalf("attempt %d: %v", j, err)
		}
	}
	req := endpoint.Request{Method: "AUTH", ToPath: e.uri, FromPath: aliceURI}
	c.Send(&req)
	ch := expectResponse(t, c, req.TID, 401)
	want := map[string]bool{}
	var tids []string
	for _, nc := range []string{"00000001", "00000002"} {
		a, err := endpoint.Authorization(endpoint.AuthOptions{RelayURI: e.uri, User: "alice", Password: "wrong"}, ch, nc)
		if err != nil {
			t.Fatal(err)
		}
		r := endpoint.Request{Method: "AUTH", ToPath: e.uri, FromPath: aliceURI, Headers: [][2]string{{"Authorization", a}}}
		c.Send(&r)
		want[r.TID] = true
		tids = append(tids, r.TID)
		time.Sleep(100 * time.Millisecond) // the first answer is still held back
	}
	// The first is the connection's last allowed failure (401, held
	// back); the second comes past the limit and is refused unchecked.
	codes := map[string]int{}
	for len(want) > 0 {
		f := readFrame(t, c)
		codes[f.TID] = f.Code
		if f.Method != "" || !want[f.TID] || (f.Code != 401 && f.Code != 403) {
			t.Fatalf("unexpected %s %s %d", f.TID, f.Method, f.Code)
		}
		delete(want, f.TID)
	}
	if codes[tids[0]] != 401 || codes[tids[1]] != 403 {
		t.Fatalf("answers %v, want 401 then 403", codes)
	}
	if _, err := c.ReadFrame(); !closedByRelay(err) {
		t.Fatalf("connection still open: %v", err)
	}
}

// closedByRelay reports whether err is the relay closing the connection:
// EOF, or over WebSocket its close frame (which says why).
func closedByRelay(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, endpoint.ErrWSClosed)
}
