package userdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/msrprelay/msrprelay/digest"
	"github.com/msrprelay/msrprelay/endpoint"
	"github.com/msrprelay/msrprelay/engine"
	"github.com/msrprelay/msrprelay/engine/gnetdrv/gnettest"
	"github.com/msrprelay/msrprelay/engine/sqldb"
	"github.com/msrprelay/msrprelay/engine/sqldb/dbtest"
)

// relay is a gnet relay whose AUTH asks a Store.
type relay struct {
	t    testing.TB
	addr string
	uri  string
}

func startRelay(t testing.TB, st *Store) *relay {
	t.Helper()
	cfg := engine.Config{Hostname: "127.0.0.1", Realm: realm, Users: st, TransactionTimeout: 10 * time.Second,
		ProbationTimeout: 20 * time.Second, Logger: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)}
	g := gnettest.Start(t, cfg)
	return &relay{t: t, addr: g.Addr, uri: fmt.Sprintf("msrp://%s:%d;tcp", realm, g.Port)}
}

func (r *relay) dial() *endpoint.Conn {
	r.t.Helper()
	c, err := endpoint.Dial(r.addr, nil, 20*time.Second)
	if err != nil {
		r.t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(60 * time.Second))
	r.t.Cleanup(func() { c.Close() })
	return c
}

func (r *relay) auth(c *endpoint.Conn, user, password string) (*endpoint.AuthResult, error) {
	return c.Auth(endpoint.AuthOptions{RelayURI: r.uri, FromURI: "msrp://client.example.com:9/x;tcp", User: user, Password: password})
}

// pair is a session: bob AUTHed on the relay, alice sending to him.
type pair struct {
	t          testing.TB
	alice, bob *endpoint.Conn
	to         string
}

func newPair(t testing.TB, r *relay, bobUser, password string) *pair {
	t.Helper()
	bob := r.dial()
	res, err := r.auth(bob, bobUser, password)
	if err != nil {
		t.Fatal(err)
	}
	return &pair{t: t, alice: r.dial(), bob: bob, to: res.UsePath + " msrp://bob.example.com:9/b;tcp"}
}

// roundTrip sends one message from alice to bob and waits for it.
func (p *pair) roundTrip() error {
	body := "hello"
	req := endpoint.Request{Method: "SEND", ToPath: p.to, FromPath: "msrp://alice.example.com:9/a;tcp",
		Headers: [][2]string{{"Message-ID", "m"}, {"Byte-Range", fmt.Sprintf("1-%d/%d", len(body), len(body))}}, ContentType: "text/plain", Body: []byte(body)}
	if err := p.alice.Send(&req); err != nil {
		return err
	}
	if f, err := p.alice.ReadFrame(); err != nil || f.Code != 200 {
		return fmt.Errorf("SEND answered %v %v", f, err)
	}
	f, err := p.bob.ReadFrame()
	if err != nil || f.Method != "SEND" || string(f.Body) != body {
		return fmt.Errorf("bob got %v %v", f, err)
	}
	return p.bob.Respond(f, 200, "OK")
}

func expectAuthCode(t testing.TB, err error, code string) {
	t.Helper()
	if !errors.Is(err, endpoint.ErrAuth) || !strings.Contains(err.Error(), code) {
		t.Fatalf("want AUTH refused with %s, got %v", code, err)
	}
}

func TestRelayAuth(t *testing.T) {
	eachServer(t, func(t *testing.T, s *dbtest.Server) {
		addUser(t, s, "ra_plain", realm, "", "pw1")
		addUser(t, s, "ra_ha1", realm, ha1Of("ra_ha1", "pw2"), "")
		r := startRelay(t, newStore(t, s, Options{CacheTTL: time.Minute}))
		for _, u := range [][2]string{{"ra_plain", "pw1"}, {"ra_ha1", "pw2"}} {
			if _, err := r.auth(r.dial(), u[0], u[1]); err != nil {
				t.Fatalf("%s: %v", u[0], err)
			}
		}
		_, err := r.auth(r.dial(), "ra_plain", "wrong")
		expectAuthCode(t, err, "401")
		_, err = r.auth(r.dial(), "ra_nobody", "pw1")
		expectAuthCode(t, err, "401")
		_, err = r.auth(r.dial(), "ra_plain' OR '1'='1", "pw1")
		expectAuthCode(t, err, "401")
	})
}

// TestRelayDatabaseStops: with the database stopped, AUTH gets a 500
// within the timeout and the established session keeps forwarding; once
// the database is back, AUTH works again by itself.
func TestRelayDatabaseStops(t *testing.T) {
	eachServer(t, func(t *testing.T, s *dbtest.Server) {
		addUser(t, s, "rs_bob", realm, "", "pw")
		addUser(t, s, "rs_carol", realm, "", "pw")
		const timeout = time.Second
		r := startRelay(t, newStore(t, s, Options{Timeout: timeout}))
		p := newPair(t, r, "rs_bob", "pw")
		if err := p.roundTrip(); err != nil {
			t.Fatal(err)
		}
		s.Stop()
		restarted := false
		defer func() {
			if !restarted {
				s.Start()
			}
		}()
		c := r.dial()
		for i := 0; i < 4; i++ { // more than MaxAuthFailures: not counted
			began := time.Now()
			_, err := r.auth(c, "rs_carol", "pw")
			expectAuthCode(t, err, "500")
			if took := time.Since(began); took > timeout+2*time.Second {
				t.Fatalf("the 500 took %v", took)
			}
			if err := p.roundTrip(); err != nil {
				t.Fatalf("the session while the database is down: %v", err)
			}
		}
		if err := s.Start(); err != nil {
			t.Fatal(err)
		}
		restarted = true
		deadline := time.Now().Add(10 * time.Second)
		_, err := r.auth(c, "rs_carol", "pw")
		for ; err != nil && time.Now().Before(deadline); _, err = r.auth(c, "rs_carol", "pw") {
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			t.Fatalf("after the database came back: %v", err)
		}
	})
}

// TestThousandSlowAuths: 1000 AUTHs (distinct users, no cache) against a
// database that takes dbDelay per query, while a session's messages go
// through the same relay. Every AUTH succeeds, and the messages keep
// flowing without stalls.
func TestThousandSlowAuths(t *testing.T) {
	eachServer(t, func(t *testing.T, s *dbtest.Server) {
		const users, clients, workers, dbDelay = 1000, 50, 32, 40 * time.Millisecond
		var rows []string
		for i := 0; i < users; i++ {
			rows = append(rows, fmt.Sprintf("('ts_%d', '%s', '', 'pw')", i, realm))
		}
		if err := s.Admin("INSERT INTO subscriber (username, domain, ha1, password) VALUES " + strings.Join(rows, ", ")); err != nil {
			t.Fatal(err)
		}
		addUser(t, s, "ts_bob", realm, "", "pw")
		p, err := s.Proxy()
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		db, err := sqldb.Open(p.URL, workers)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		warmPool(t, db, workers)
		// The timeout is generous: this test is about the event loops,
		// and a 500 from a starved machine would only blur it.
		st, err := New(db, Options{Workers: workers, Timeout: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		r := startRelay(t, st)
		pr := newPair(t, r, "ts_bob", "pw")
		baseline := measureRoundTrips(t, pr, nil, 500*time.Millisecond)
		p.SetDelay(dbDelay)

		var wg sync.WaitGroup
		errs := make(chan error, users)
		for c := 0; c < clients; c++ {
			conn := r.dial()
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := c; i < users; i += clients {
					if _, err := r.auth(conn, fmt.Sprintf("ts_%d", i), "pw"); err != nil {
						errs <- fmt.Errorf("ts_%d: %w", i, err)
						return
					}
				}
			}()
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		during := measureRoundTrips(t, pr, done, 0)
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		t.Logf("%d AUTHs, database %v per query: done in %v; meanwhile %d round trips (%.0f/s, slowest %v); before: %.0f/s, slowest %v",
			users, dbDelay, during.window, during.n, during.rate(), during.slowest, baseline.rate(), baseline.slowest)
		if during.window < users*dbDelay/workers {
			t.Fatalf("1000 AUTHs in %v: the database was not asked for each", during.window)
		}
		// Held loops would answer the AUTHs two at a time (20 s here, the
		// messages stalling behind them for most of a second); the pool
		// answers 32 at a time. The bounds leave a loaded machine room.
		if during.window > users*dbDelay/4 || during.n < 20 || during.slowest > 2*time.Second {
			t.Fatalf("forwarding stalled while AUTHs waited: %d round trips in %v, slowest %v", during.n, during.window, during.slowest)
		}
	})
}

type roundTrips struct {
	n       int
	window  time.Duration
	slowest time.Duration
}

func (r roundTrips) rate() float64 { return float64(r.n) / r.window.Seconds() }

// measureRoundTrips runs round trips until done is closed, or for d.
func measureRoundTrips(t testing.TB, p *pair, done <-chan struct{}, d time.Duration) roundTrips {
	t.Helper()
	var r roundTrips
	began := time.Now()
	for {
		if done != nil {
			select {
			case <-done:
				r.window = time.Since(began)
				return r
			default:
			}
		} else if time.Since(began) >= d {
			r.window = time.Since(began)
			return r
		}
		t0 := time.Now()
		if err := p.roundTrip(); err != nil {
			t.Fatal(err)
		}
		r.slowest = max(r.slowest, time.Since(t0))
		r.n++
	}
}

func ha1Of(user, password string) string { return digest.HA1(user, realm, password) }

// warmPool opens n connections and leaves them idle in the pool, so that
// the test measures queries, not connection setups.
func warmPool(t testing.TB, db *sqldb.DB, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var conns []*sql.Conn
	for i := 0; i < n; i++ {
		c, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	for _, c := range conns {
		c.Close()
	}
}
