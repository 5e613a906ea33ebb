package e2etest

import (
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/msrprelay/msrprelay/endpoint"
	"github.com/msrprelay/msrprelay/engine"
)

// fairnessCases are about sessions sharing one relay-to-relay connection.
var fairnessCases = []suiteCase{
	{"SharedHopStalledReceiver", testSharedHopStalledReceiver},
}

// authAs AUTHs user on e from a client whose URI is uri.
func authAs(t *testing.T, e *env, user, uri string) (*endpoint.Conn, string) {
	t.Helper()
	c := e.dial()
	res, err := c.Auth(endpoint.AuthOptions{RelayURI: e.uri, FromURI: uri, User: user, Password: Password, Form: endpoint.FormRFC})
	if err != nil {
		t.Fatalf("AUTH %s: %v", user, err)
	}
	e.noteUsePath(res.UsePath)
	return c, res.UsePath
}

// testSharedHopStalledReceiver: two sessions cross relay A to relay B on
// the one connection A dialed. Bob1 stops reading while alice1 sends as
// fast as she may. Alice2's messages to bob2 still arrive: a stalled
// receiver pauses its own sender, not the connection every session shares.
func testSharedHopStalledReceiver(t *testing.T, start *suite) {
	small := func(c *engine.Config) {
		c.HighWater, c.LowWater = 256<<10, 64<<10
		c.TransactionTimeout = time.Minute // the stalled session must not end by timing out
	}
	a := startEnv(t, start, small)
	b := startEnv(t, start, small)
	const (
		a1URI = "msrp://alice1.example.com:9/a1;tcp"
		a2URI = "msrp://alice2.example.com:9/a2;tcp"
		b1URI = "msrp://bob1.example.com:9/b1;tcp"
		b2URI = "msrp://bob2.example.com:9/b2;tcp"
	)
	alice1, useA1 := authAs(t, a, "alice", a1URI)
	alice2, useA2 := authAs(t, a, "carol", a2URI)
	bob1, useB1 := authAs(t, b, "bob", b1URI)
	bob2, useB2 := authAs(t, b, "bob", b2URI)
	to1 := useA1 + " " + useB1 + " " + b1URI
	to2 := useA2 + " " + useB2 + " " + b2URI

	// Both sessions work, over one A->B connection.
	for _, p := range []struct {
		alice, bob *endpoint.Conn
		to, from   string
	}{{alice1, bob1, to1, a1URI}, {alice2, bob2, to2, a2URI}} {
		req := send(t, p.alice, p.to, p.from, "hello", []byte("hello"))
		expectResponse(t, p.alice, req.TID, 200)
		got := expectRequest(t, p.bob, "SEND")
		p.bob.Respond(got, 200, "OK")
	}

	// Bob1 reads no more. Alice1 floods him (answers drained, so that
	// only the relays' pacing can stop her).
	go func() {
		for {
			if _, err := alice1.ReadFrame(); err != nil {
				return
			}
		}
	}()
	var written atomic.Int64
	stop := make(chan struct{})
	flooded := make(chan error, 1)
	go func() {
		body := make([]byte, 64<<10)
		const limit = 256 << 20
		alice1.SetDeadline(time.Now().Add(2 * time.Minute))
		for i := 0; written.Load() < limit; i++ {
			select {
			case <-stop:
				flooded <- nil
				return
			default:
			}
			req := endpoint.Request{Method: "SEND", ToPath: to1, FromPath: a1URI, ContentType: "application/octet-stream", Body: body,
				Headers: [][2]string{{"Message-ID", fmt.Sprintf("f%d", i)}, {"Byte-Range", fmt.Sprintf("1-%d/%d", len(body), len(body))}}}
			if err := alice1.Send(&req); err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					flooded <- nil
				} else {
					flooded <- err
				}
				return
			}
			written.Add(int64(len(body)))
		}
		flooded <- fmt.Errorf("alice1 wrote %d MiB toward a receiver that reads nothing: nobody paused her", limit>>20)
	}()
	t.Cleanup(func() { close(stop) })
	waitStalled(t, &written, flooded)

	// Alice2's messages reach bob2 meanwhile.
	alice2.SetDeadline(time.Now().Add(30 * time.Second))
	bob2.SetDeadline(time.Now().Add(30 * time.Second))
	for i := 0; i < 5; i++ {
		body := []byte(fmt.Sprintf("while bob1 stalls %d", i))
		req := send(t, alice2, to2, a2URI, fmt.Sprintf("m%d", i), body)
		expectResponse(t, alice2, req.TID, 200)
		got := expectRequest(t, bob2, "SEND")
		if string(got.Body) != string(body) {
			t.Fatalf("bob2 got %q, want %q", got.Body, body)
		}
		bob2.Respond(got, 200, "OK")
	}
	t.Logf("alice1 stalled after %d MiB", written.Load()>>20)
}

// waitStalled waits until the flood's writes stop making progress: the
// relays stopped reading alice1 once the bytes toward bob1 reached their
// bounds (and the sockets' buffers filled).
func waitStalled(t *testing.T, written *atomic.Int64, flooded chan error) {
	t.Helper()
	last, since := int64(-1), time.Now()
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); {
		select {
		case err := <-flooded:
			if err != nil {
				t.Fatal(err)
			}
			return
		case <-time.After(100 * time.Millisecond):
		}
		if n := written.Load(); n != last {
			last, since = n, time.Now()
		} else if time.Since(since) > time.Second {
			return
		}
	}
	t.Fatal("alice1's writes never stalled")
}
