package accounting

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/msrprelay/msrprelay/endpoint"
	"github.com/msrprelay/msrprelay/engine"
	"github.com/msrprelay/msrprelay/engine/e2etest"
	"github.com/msrprelay/msrprelay/engine/gnetdrv/gnettest"
	"github.com/msrprelay/msrprelay/engine/sqldb"
	"github.com/msrprelay/msrprelay/engine/sqldb/dbtest"
)

// relay is a gnet relay writing accounting rows through its own Writer.
type relay struct {
	t    testing.TB
	addr string
	uri  string
	stop func()
}

func startRelay(t testing.TB, db *sqldb.DB, mod func(*engine.Config)) *relay {
	t.Helper()
	w, err := New(db, Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := engine.Config{Hostname: "127.0.0.1", Realm: e2etest.Realm, Credentials: e2etest.Credentials(t), Accounting: w,
		TransactionTimeout: 10 * time.Second, ProbationTimeout: 20 * time.Second,
		Logger: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)}
	if mod != nil {
		mod(&cfg)
	}
	closeWriter := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		w.Close(ctx)
	}
	t.Cleanup(closeWriter) // after the relay's stop (cleanups run last first)
	g := gnettest.Start(t, cfg)
	stop := func() {
		g.Stop()
		closeWriter()
	}
	return &relay{t: t, addr: g.Addr, uri: fmt.Sprintf("msrp://%s:%d;tcp", e2etest.Realm, g.Port), stop: stop}
}

func (r *relay) dial() *endpoint.Conn {
	r.t.Helper()
	c, err := endpoint.Dial(r.addr, nil, 20*time.Second)
	if err != nil {
		r.t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(30 * time.Second))
	r.t.Cleanup(func() { c.Close() })
	return c
}

// auth AUTHs user on a new connection; it returns the connection, its
// Use-Path and the session's prefix (the row's session column).
func (r *relay) auth(user string, expires int) (*endpoint.Conn, string, string) {
	r.t.Helper()
	c := r.dial()
	res, err := c.Auth(endpoint.AuthOptions{RelayURI: r.uri, FromURI: userURI(user), User: user, Password: e2etest.Password, Expires: expires})
	if err != nil {
		r.t.Fatal(err)
	}
	sid := res.UsePath[strings.LastIndexByte(res.UsePath, '/')+1:]
	return c, res.UsePath, sid[:6]
}

func userURI(user string) string { return "msrp://" + user + ".example.com:9/" + user + ";tcp" }

// deliver sends body from one client to another along to and checks it
// arrives; both hop-by-hop answers are read.
func deliver(t testing.TB, from, to *endpoint.Conn, path, fromURI string, body string) {
	t.Helper()
	req := endpoint.Request{Method: "SEND", ToPath: path, FromPath: fromURI,
		Headers:     [][2]string{{"Message-ID", endpoint.NewTID()}, {"Byte-Range", fmt.Sprintf("1-%d/%d", len(body), len(body))}},
		ContentType: "text/plain", Body: []byte(body)}
	if err := from.Send(&req); err != nil {
		t.Fatal(err)
	}
	if f, err := from.ReadFrame(); err != nil || f.Code != 200 {
		t.Fatalf("SEND answered %+v %v", f, err)
	}
	f, err := to.ReadFrame()
	if err != nil || f.Method != "SEND" || string(f.Body) != body {
		t.Fatalf("delivered %+v %v", f, err)
	}
	if err := to.Respond(f, 200, "OK"); err != nil {
		t.Fatal(err)
	}
}

func bodyOf(n int) string { return strings.Repeat("x", n) }

// expectTraffic checks a row's counts: body bytes and messages from the
// client and toward it.
func expectTraffic(t testing.TB, r row, user, reason string, bytesFrom, bytesTo, msgsFrom, msgsTo int64) {
	t.Helper()
	if r.User != user || r.Reason != reason || r.BytesFrom != bytesFrom || r.BytesTo != bytesTo || r.MessagesFrom != msgsFrom || r.MessagesTo != msgsTo {
		t.Fatalf("row %+v, want user %s reason %q bytes from/to %d/%d messages from/to %d/%d", r, user, reason, bytesFrom, bytesTo, msgsFrom, msgsTo)
	}
	if r.Domain != e2etest.Realm || r.Relay != "127.0.0.1" || !strings.HasPrefix(r.Remote, "127.0.0.1:") || r.End.Before(r.Start) {
		t.Fatalf("row %+v", r)
	}
}

// TestSingleHopDropped: alice sends straight to bob's relay; bob's
// connection drops.
func TestSingleHopDropped(t *testing.T) {
	eachServer(t, func(t *testing.T, s *dbtest.Server) {
		db := s.Open(t)
		r := startRelay(t, db, nil)
		bob, use, sid := r.auth("bob", 0)
		alice := r.dial()
		for _, n := range []int{5, 100, 3000} {
			deliver(t, alice, bob, use+" "+userURI("bob"), userURI("alice"), bodyOf(n))
		}
		for _, n := range []int{7, 50} {
			deliver(t, bob, alice, use+" "+userURI("alice"), userURI("bob"), bodyOf(n))
		}
		bob.Close()
		expectTraffic(t, waitRow(t, db, sid), "bob", "connection closed", 57, 3105, 2, 3)
	})
}

// TestSharedRelay: alice and bob both on this relay: two rows, each
// counting its own client's side.
func TestSharedRelay(t *testing.T) {
	eachServer(t, func(t *testing.T, s *dbtest.Server) {
		db := s.Open(t)
		r := startRelay(t, db, nil)
		alice, useA, sa := r.auth("alice", 0)
		bob, useB, sb := r.auth("bob", 0)
		for _, n := range []int{10, 25} {
			deliver(t, alice, bob, useA+" "+useB+" "+userURI("bob"), userURI("alice"), bodyOf(n))
		}
		deliver(t, bob, alice, useB+" "+useA+" "+userURI("alice"), userURI("bob"), bodyOf(40))
		alice.Close()
		bob.Close()
		expectTraffic(t, waitRow(t, db, sa), "alice", "connection closed", 35, 40, 2, 1)
		expectTraffic(t, waitRow(t, db, sb), "bob", "connection closed", 40, 35, 1, 2)
	})
}

// TestTwoRelays: alice on one relay, bob on another; each relay's row
// counts its own client.
func TestTwoRelays(t *testing.T) {
	eachServer(t, func(t *testing.T, s *dbtest.Server) {
		db := s.Open(t)
		ra, rb := startRelay(t, db, nil), startRelay(t, db, nil)
		alice, useA, sa := ra.auth("alice", 0)
		bob, useB, sb := rb.auth("bob", 0)
		for _, n := range []int{11, 22} {
			deliver(t, alice, bob, useA+" "+useB+" "+userURI("bob"), userURI("alice"), bodyOf(n))
		}
		deliver(t, bob, alice, useB+" "+useA+" "+userURI("alice"), userURI("bob"), bodyOf(44))
		alice.Close()
		bob.Close()
		expectTraffic(t, waitRow(t, db, sa), "alice", "connection closed", 33, 44, 2, 1)
		expectTraffic(t, waitRow(t, db, sb), "bob", "connection closed", 44, 33, 1, 2)
	})
}

// TestExpiredAndShutdown: a session whose Expires ran out, and one still
// live when the relay stops: both rows are written, the second before
// the writer's Close returns.
func TestExpiredAndShutdown(t *testing.T) {
	eachServer(t, func(t *testing.T, s *dbtest.Server) {
		db := s.Open(t)
		r := startRelay(t, db, func(c *engine.Config) { c.ExpiresMin = time.Second })
		_, _, se := r.auth("carol", 1)
		bob, use, sb := r.auth("bob", 0)
		alice := r.dial()
		deliver(t, alice, bob, use+" "+userURI("bob"), userURI("alice"), bodyOf(9))
		expired := waitRow(t, db, se)
		expectTraffic(t, expired, "carol", "expired", 0, 0, 0, 0)
		if expired.DurationMS < 1000 || expired.DurationMS > 5000 {
			t.Fatalf("expired after %d ms, Expires 1 s", expired.DurationMS)
		}
		r.stop()
		if n := countRows(t, db, "session = "+quoteText(sb)); n != 1 {
			t.Fatalf("%d rows for the session live at shutdown once the writer closed", n)
		}
		expectTraffic(t, waitRow(t, db, sb), "bob", "connection closed", 0, 9, 0, 1)
	})
}

// quoteText quotes a session prefix (base32 letters and digits) for SQL.
func quoteText(s string) string { return "'" + s + "'" }
