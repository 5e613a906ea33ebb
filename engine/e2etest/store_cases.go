package e2etest

import (
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/msrprelay/msrprelay/endpoint"
	"github.com/msrprelay/msrprelay/engine"
	"github.com/msrprelay/msrprelay/engine/digest"
)

// Cases where AUTH asks a slow user database (engine.UserStore): the AUTH
// waits with its connection paused while the event loops serve everyone
// else.
var storeCases = []suiteCase{
	{"StoreAuth", testStoreAuth},
	{"StorePipelinedAuths", testStorePipelinedAuths},
	{"StoreSlowKeepsForwarding", testStoreSlowKeepsForwarding},
	{"StoreDown", testStoreDown},
	{"StoreClientGoneWhileWaiting", testStoreClientGone},
}

// slowStore is an in-process user database that answers every lookup
// after delay and caches nothing, or fails while down.
type slowStore struct {
	delay   time.Duration
	down    atomic.Bool
	lookups atomic.Int64
}

func (s *slowStore) Cached([]byte, []byte) (engine.Secret, bool) { return engine.Secret{}, false }

func (s *slowStore) Lookup(user, realm string, done func(engine.Secret)) {
	s.lookups.Add(1)
	time.AfterFunc(s.delay, func() {
		if s.down.Load() {
			done(engine.Secret{Err: errors.New("database down")})
			return
		}
		var sec engine.Secret
		switch user {
		case "alice", "bob", "carol":
			copy(sec.HA1[:], digest.HA1(user, realm, Password))
			sec.Known = true
		}
		done(sec)
	})
}

func startStoreEnv(t *testing.T, start *suite, st *slowStore) *env {
	return startEnv(t, start, func(c *engine.Config) {
		c.Credentials = nil
		c.Users = st
	})
}

func testStoreAuth(t *testing.T, start *suite) {
	st := &slowStore{delay: 100 * time.Millisecond}
	e := startStoreEnv(t, start, st)
	c := e.dial()
	began := time.Now()
	if err := authWithPassword(c, e, Password); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(began); waited < st.delay || st.lookups.Load() != 1 {
		t.Fatalf("AUTH answered after %v with %d lookups: the store was not asked", waited, st.lookups.Load())
	}
	if err := authWithPassword(e.dial(), e, "wrong"); !errors.Is(err, endpoint.ErrAuth) || !strings.Contains(err.Error(), "401") {
		t.Fatalf("wrong password: %v", err)
	}
	m := e.dial()
	_, err := m.Auth(endpoint.AuthOptions{RelayURI: e.uri, FromURI: aliceURI, User: "mallory", Password: Password})
	if !errors.Is(err, endpoint.ErrAuth) || !strings.Contains(err.Error(), "401") {
		t.Fatalf("unknown user: %v", err)
	}
}

// testStorePipelinedAuths: two authenticated AUTHs in one write; each
// waits for the store, and the answers come in order.
func testStorePipelinedAuths(t *testing.T, start *suite) {
	st := &slowStore{delay: 100 * time.Millisecond}
	e := startStoreEnv(t, start, st)
	c := e.dial()
	bare := endpoint.Request{Method: "AUTH", ToPath: e.uri, FromPath: aliceURI}
	if err := c.Send(&bare); err != nil {
		t.Fatal(err)
	}
	ch := expectResponse(t, c, bare.TID, 401)
	o := endpoint.AuthOptions{RelayURI: e.uri, FromURI: aliceURI, User: "alice", Password: Password}
	var wire []byte
	var reqs []endpoint.Request
	for _, nc := range []string{"00000001", "00000002"} {
		a, err := endpoint.Authorization(o, ch, nc)
		if err != nil {
			t.Fatal(err)
		}
		r := endpoint.Request{Method: "AUTH", ToPath: e.uri, FromPath: aliceURI, Headers: [][2]string{{"Authorization", a}}}
		wire = r.Append(wire)
		reqs = append(reqs, r)
	}
	if err := c.Write(wire); err != nil {
		t.Fatal(err)
	}
	for _, r := range reqs {
		f := expectResponse(t, c, r.TID, 200)
		e.noteUsePath(f.Header("Use-Path"))
	}
	if n := st.lookups.Load(); n != 2 {
		t.Fatalf("%d lookups for two AUTHs", n)
	}
}

// testStoreSlowKeepsForwarding: while many AUTHs wait for a store that
// takes storeDelay, a session's messages keep flowing: a lookup never
// holds an event loop.
func testStoreSlowKeepsForwarding(t *testing.T, start *suite) {
	const storeDelay = 800 * time.Millisecond
	st := &slowStore{delay: storeDelay}
	e := startStoreEnv(t, start, st)
	bob, use := e.auth("bob", endpoint.FormRFC)
	alice := e.dial()

	const waiting = 40
	var wg sync.WaitGroup
	authErrs := make(chan error, waiting)
	for i := 0; i < waiting; i++ {
		c := e.dial()
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.Auth(endpoint.AuthOptions{RelayURI: e.uri, FromURI: "msrp://carol.example.com:9/c;tcp", User: "carol", Password: Password})
			authErrs <- err
		}()
	}
	authsDone := make(chan struct{})
	go func() { wg.Wait(); close(authsDone) }()

	began := time.Now()
	var slowest time.Duration
	sent := 0
	for running := true; running; sent++ {
		select {
		case <-authsDone:
			running = false
		default:
		}
		t0 := time.Now()
		req := send(t, alice, use+" "+bobURI, aliceURI, "k", []byte("keep flowing"))
		expectResponse(t, alice, req.TID, 200)
		got := expectRequest(t, bob, "SEND")
		bob.Respond(got, 200, "OK")
		slowest = max(slowest, time.Since(t0))
	}
	window := time.Since(began)
	close(authErrs)
	for err := range authErrs {
		if err != nil {
			t.Fatalf("AUTH while the store is slow: %v", err)
		}
	}
	t.Logf("%d AUTHs waited %v for the store; meanwhile %d messages went through, slowest %v", waiting, window, sent, slowest)
	// Were a lookup to hold its event loop, the AUTHs on one loop would
	// wait for each other (twenty of them, 16 s) and the messages with
	// them; the bounds leave room for a machine under heavy load.
	if window < storeDelay || window > 4*storeDelay || sent < 10 || slowest > 2*storeDelay {
		t.Fatalf("%d messages in %v, slowest %v: forwarding waited for the store (delay %v)", sent, window, slowest, storeDelay)
	}
}

// testStoreDown: a store that fails gets a 500 for each AUTH, within its
// answer time; the client is not counted as failing (its connection
// stays open past MaxAuthFailures); a session established before keeps
// working; AUTHs succeed again once the store is back.
func testStoreDown(t *testing.T, start *suite) {
	st := &slowStore{delay: 50 * time.Millisecond}
	e := startStoreEnv(t, start, st)
	bob, use := e.auth("bob", endpoint.FormRFC)
	alice := e.dial()
	st.down.Store(true)
	c := e.dial()
	for i := 0; i < 4; i++ {
		began := time.Now()
		err := authWithPassword(c, e, Password)
		if !errors.Is(err, endpoint.ErrAuth) || !strings.Contains(err.Error(), "500") {
			t.Fatalf("AUTH %d while the store is down: %v", i, err)
		}
		if took := time.Since(began); took > 5*time.Second {
			t.Fatalf("the 500 took %v", took)
		}
	}
	req := send(t, alice, use+" "+bobURI, aliceURI, "d1", []byte("still here"))
	expectResponse(t, alice, req.TID, 200)
	if got := expectRequest(t, bob, "SEND"); string(got.Body) != "still here" {
		t.Fatalf("forwarded %q", got.Body)
	}
	st.down.Store(false)
	if err := authWithPassword(c, e, Password); err != nil {
		t.Fatalf("the store is back, the same connection: %v", err)
	}
	e.logs.mu.Lock()
	logs := e.logs.buf.String()
	e.logs.mu.Unlock()
	if !strings.Contains(logs, "user database unavailable") {
		t.Fatal("no log line says the user database is unavailable")
	}
}

// testStoreClientGone: a client that closes while its AUTH waits costs
// nothing: the late answer finds the connection gone, and the relay
// serves the next client.
func testStoreClientGone(t *testing.T, start *suite) {
	st := &slowStore{delay: 200 * time.Millisecond}
	e := startStoreEnv(t, start, st)
	c := e.dial()
	bare := endpoint.Request{Method: "AUTH", ToPath: e.uri, FromPath: aliceURI}
	if err := c.Send(&bare); err != nil {
		t.Fatal(err)
	}
	ch := expectResponse(t, c, bare.TID, 401)
	a, err := endpoint.Authorization(endpoint.AuthOptions{RelayURI: e.uri, FromURI: aliceURI, User: "alice", Password: Password}, ch, "00000001")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Send(&endpoint.Request{Method: "AUTH", ToPath: e.uri, FromPath: aliceURI, Headers: [][2]string{{"Authorization", a}}}); err != nil {
		t.Fatal(err)
	}
	c.Close()
	time.Sleep(2 * st.delay)
	if err := authWithPassword(e.dial(), e, Password); err != nil {
		t.Fatal(err)
	}
	e.logs.mu.Lock()
	logs := e.logs.buf.String()
	e.logs.mu.Unlock()
	if strings.Contains(logs, "recovered a panic") {
		t.Fatal("the late answer panicked")
	}
}
