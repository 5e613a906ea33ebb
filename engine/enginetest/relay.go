package enginetest

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/msrprelay/msrprelay/digest"
	"github.com/msrprelay/msrprelay/endpoint"
	"github.com/msrprelay/msrprelay/engine"
)

// The relay NewRelay makes: its name, its one listener (TCP) and the URI
// an AUTH is sent to.
const (
	Hostname = "relay.example.com"
	Port     = 2855
	RelayURI = "msrp://relay.example.com:2855;tcp"
)

// Users may AUTH on NewRelay's relay, each with Password.
var Users = []string{"alice", "bob", "carol"}

// Password is every user's password.
const Password = "test-pw"

// Clock is a relay's clock that moves only when the test says.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// Now is the Config.Now of NewRelay's relay.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// NewRelay is a relay named Hostname listening on Port, whose time is the
// returned Clock and whose users are Users; mod, if not nil, changes the
// configuration first. It logs nothing unless mod sets a Logger.
func NewRelay(t testing.TB, mod func(*engine.Config)) (*engine.Relay, *Clock) {
	t.Helper()
	clk := &Clock{now: time.Unix(1_700_000_000, 0)}
	var htd []byte
	for _, u := range Users {
		htd = digest.AppendEntry(htd, u, Hostname, Password)
	}
	creds, err := digest.ParseCredentials(bytes.NewReader(htd))
	if err != nil {
		t.Fatal(err)
	}
	cfg := engine.Config{Hostname: Hostname, Credentials: creds, Now: clk.Now, Logger: zerolog.Nop()}
	if mod != nil {
		mod(&cfg)
	}
	r, err := engine.New(cfg, []engine.Listener{{Port: Port}})
	if err != nil {
		t.Fatal(err)
	}
	return r, clk
}

// Auth runs the AUTH exchange of RFC 4976 §5.1 for user on c, whose link
// is l, as an endpoint whose URI is from: it returns the session URI the
// relay granted (Use-Path). The test fails unless the relay answers 401,
// then 200. Whatever else l's socket took meanwhile is dropped.
func Auth(t testing.TB, w *engine.Worker, c *engine.Conn, l *Link, user, from string) string {
	t.Helper()
	o := endpoint.AuthOptions{RelayURI: RelayURI, FromURI: from, User: user, Password: Password}
	challenge := exchange(t, w, c, l, endpoint.AuthRequest(o, ""), 401)
	authz, err := endpoint.Authorization(o, challenge, "00000001")
	if err != nil {
		t.Fatal(err)
	}
	return exchange(t, w, c, l, endpoint.AuthRequest(o, authz), 200).Header("Use-Path")
}

// exchange sends req on c and returns its response, which must have code.
func exchange(t testing.TB, w *engine.Worker, c *engine.Conn, l *Link, req *endpoint.Request, code int) *endpoint.Frame {
	t.Helper()
	Feed(t, w, c, req.Append(nil))
	for _, f := range Decode(t, l.Out()) {
		if f.Method == "" && f.TID == req.TID {
			if f.Code != code {
				t.Fatalf("%s answered %d %s, want %d", req.Method, f.Code, f.Comment, code)
			}
			return f
		}
	}
	t.Fatalf("%s not answered", req.Method)
	return nil
}
