package e2etest

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/msrprelay/msrprelay/codec"
	"github.com/msrprelay/msrprelay/endpoint"
)

// hostileCases: peers that try to make the relay hold what they send, or
// send what the next hop would choke on. Each is bounded in bytes and time.
var hostileCases = []suiteCase{
	{"ClaimedSmallBodyIsBounded", testClaimedSmallBody},
	{"UnreadAnswersStopReading", testUnreadAnswers},
	{"MalformedByteRange400", testMalformedByteRange},
	{"ControlCharactersRefused", testControlCharacters},
	{"FromPathGrowthRefused", testFromPathGrowth},
	{"SilentSocketsDoNotLockOutTLS", testSilentSockets},
}

// testSilentSockets: 300 sockets that connect to the TLS port and say
// nothing (more than the relay's handshake slots) do not keep a real
// client from connecting and authenticating: a handshake takes a slot
// only once its peer has spoken.
func testSilentSockets(t *testing.T, start *suite) {
	e := startEnv(t, start, nil)
	if e.tls == nil {
		t.Skip("TLS only")
	}
	for i := 0; i < 300; i++ {
		c, err := net.Dial("tcp", e.addr)
		if err != nil {
			t.Fatalf("silent socket %d: %v", i, err)
		}
		t.Cleanup(func() { c.Close() })
	}
	// Before, the silent sockets held every slot for the whole handshake
	// timeout (10 s here): a client got in only after it. Now it does not
	// wait for them; 7 s leaves a loaded machine room.
	c, err := endpoint.Dial(e.addr, e.tls, 7*time.Second)
	if err != nil {
		t.Fatalf("a real client behind 300 silent sockets: %v", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := c.Auth(endpoint.AuthOptions{RelayURI: e.uri, FromURI: aliceURI, User: "alice", Password: Password}); err != nil {
		t.Fatal(err)
	}
}

// testFromPathGrowth: a From-Path just under the line limit would be over
// it once the relay pushes its own URI on, and the next hop (with limits
// like ours) would drop the connection, with every session on it. The
// sender gets a 400 instead.
func testFromPathGrowth(t *testing.T, start *suite) {
	p := newPair(t, startEnv(t, start, nil))
	// One URI (more would claim a relay, refused over TLS without its
	// certificate) with a session id as long as the line allows.
	pad := codec.DefaultMaxLine - len("From-Path: msrp://alice.example.com:9/;tcp\r\n") - 10
	from := "msrp://alice.example.com:9/" + strings.Repeat("a", pad) + ";tcp"
	req := endpoint.Request{Method: "SEND", ToPath: p.to, FromPath: from, Headers: [][2]string{{"Message-ID", "fp"}, {"Byte-Range", "1-1/1"}}, ContentType: "text/plain", Body: []byte("x")}
	if err := p.alice.Send(&req); err != nil {
		t.Fatal(err)
	}
	expectResponse(t, p.alice, req.TID, 400)
	p.expectStillServed(t)
}

// testClaimedSmallBody: a SEND claims ten bytes and sends megabytes. The
// relay collects claimed-small chunks whole, so the claim must not be its
// bound: it closes the connection instead of buffering the body.
func testClaimedSmallBody(t *testing.T, start *suite) {
	p := newPair(t, startEnv(t, start, nil))
	req := p.frame("liar", nil, '$')
	req.Headers[1] = [2]string{"Byte-Range", "1-10/10"}
	req.ContentType = "text/plain"
	wire := req.Append(nil)
	head := wire[:bytes.Index(wire, []byte("\r\n\r\n"))+4]
	p.alice.SetDeadline(time.Now().Add(20 * time.Second))
	if err := p.alice.Write(head); err != nil {
		t.Fatal(err)
	}
	chunk := bytes.Repeat([]byte("x"), 64<<10)
	sent := 0
	for ; sent < 64<<20; sent += len(chunk) {
		if p.alice.Write(chunk) != nil {
			break
		}
	}
	if sent >= 64<<20 {
		t.Fatal("the relay read 64 MiB of a body that claimed 10 bytes")
	}
	expectClosed(t, p.alice)
	p.e.auth("carol", endpoint.FormRFC)
}

// testUnreadAnswers: a client that pipelines requests the relay answers
// itself (481 for a session that does not exist) and never reads them.
// The relay stops reading it rather than queueing answers without bound:
// the client's writes stall.
func testUnreadAnswers(t *testing.T, start *suite) {
	e := startEnv(t, start, nil)
	// An authenticated client: a connection with no success yet would be
	// closed after a few refusals, which bounds nothing in this test.
	c, _ := e.auth("alice", endpoint.FormRFC)
	bogus := fmt.Sprintf("%s://127.0.0.1:%d/aaaaaaaaaaaaaaaaaaaaaaaaaa;tcp %s", e.scheme(), e.port, bobURI)
	var batch []byte
	for i := 0; i < 500; i++ {
		req := endpoint.Request{Method: "SEND", ToPath: bogus, FromPath: aliceURI, Headers: [][2]string{{"Message-ID", "m"}, {"Byte-Range", "1-1/1"}}, ContentType: "text/plain", Body: []byte("x")}
		batch = req.Append(batch)
	}
	limit := 256 << 20
	written := 0
	c.SetDeadline(time.Now().Add(5 * time.Second))
	for written < limit {
		if err := c.Write(batch); err != nil {
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				t.Fatalf("after %d bytes: %v", written, err)
			}
			break
		}
		written += len(batch)
	}
	if written >= limit {
		t.Fatalf("the relay read %d MiB of requests whose answers nobody read", written>>20)
	}
	t.Logf("writes stalled after %d KiB", written>>10)
	// The relay still serves everyone else.
	e.auth("bob", endpoint.FormRFC)
}

// testMalformedByteRange: a Byte-Range the relay cannot read is a 400,
// not a frame forwarded with it.
func testMalformedByteRange(t *testing.T, start *suite) {
	p := newPair(t, startEnv(t, start, nil))
	req := p.frame("br", []byte("body"), '$')
	req.Headers[1] = [2]string{"Byte-Range", "abc"}
	if err := p.alice.Send(&req); err != nil {
		t.Fatal(err)
	}
	expectResponse(t, p.alice, req.TID, 400)
	p.expectStillServed(t)
}

// testControlCharacters: a NUL in a header value is refused (400), not
// passed on to the next hop.
func testControlCharacters(t *testing.T, start *suite) {
	p := newPair(t, startEnv(t, start, nil))
	req := p.frame("nul", []byte("body"), '$', [2]string{"X-Note", "a\x00b"})
	if err := p.alice.Send(&req); err != nil {
		t.Fatal(err)
	}
	expectResponse(t, p.alice, req.TID, 400)
	p.expectStillServed(t)
}

// expectStillServed checks that after a refusal alice's connection is in
// sync and her messages reach bob.
func (p *pair) expectStillServed(t testing.TB) {
	t.Helper()
	ok := send(t, p.alice, p.to, aliceURI, "ok", []byte("fine"))
	expectResponse(t, p.alice, ok.TID, 200)
	p.expectDelivered(t, []byte("fine"))
}
