package e2etest

import (
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/msrprelay/msrprelay/digest"
	"github.com/msrprelay/msrprelay/endpoint"
	"github.com/msrprelay/msrprelay/engine"
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
	// gate, when set, holds every answer until it is closed (instead of
	// delay); pending counts the lookups waiting at it.
	gate    chan struct{}
	pending atomic.Int64
	// cached is a user the store has at hand (Cached answers at once).
	cached string
}

func (s *slowStore) Cached(user, realm []byte) (engine.Secret, bool) {
	if s.cached == "" || string(user) != s.cached {
		return engine.Secret{}, false
	}
	var sec engine.Secret
	copy(sec.HA1[:], digest.HA1(s.cached, string(realm), Password))
	sec.Known = true
	return sec, true
}

func (s *slowStore) Lookup(user, realm string, done func(engine.Secret)) {
	s.lookups.Add(1)
	if s.gate != nil {
		s.pending.Add(1)
		go func() {
			<-s.gate
			s.pending.Add(-1)
			s.answer(user, realm, done)
		}()
		return
	}
	time.AfterFunc(s.delay, func() { s.answer(user, realm, done) })
}

func (s *slowStore) answer(user, realm string, done func(engine.Secret)) {
	{
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
	}
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
// has not answered, a session's messages keep flowing: a lookup never
// holds an event loop. Nothing here is timed: the store answers only once
// the messages went through.
func testStoreSlowKeepsForwarding(t *testing.T, start *suite) {
	st := &slowStore{gate: make(chan struct{}), cached: "bob"}
	t.Cleanup(func() {
		select {
		case <-st.gate:
		default:
			close(st.gate)
		}
	})
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
	for deadline := time.Now().Add(30 * time.Second); st.pending.Load() < waiting; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d AUTHs reached the store", st.pending.Load(), waiting)
		}
	}

	const messages = 20
	for i := 0; i < messages; i++ {
		req := send(t, alice, use+" "+bobURI, aliceURI, "k", []byte("keep flowing"))
		expectResponse(t, alice, req.TID, 200)
		got := expectRequest(t, bob, "SEND")
		bob.Respond(got, 200, "OK")
	}
	if n := st.pending.Load(); n != waiting {
		t.Fatalf("the store answered %d lookups before it was let go", waiting-n)
	}

	close(st.gate)
	wg.Wait()
	close(authErrs)
	for err := range authErrs {
		if err != nil {
			t.Fatalf("AUTH answered once the store did: %v", err)
		}
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
