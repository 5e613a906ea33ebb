package load

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/msrprelay/msrprelay/endpoint"
)

// AuthsPerConn is how many AUTHs a client sends on one connection before
// it dials a new one. Reusing the connection keeps TCP (and TLS) setup out
// of what is measured; each AUTH still creates a session, which the
// connection holds until it closes, and the relay refuses more than its
// per-connection bound (64 by default): 32 stays below it.
const AuthsPerConn = 32

// AuthUser is one user an AUTH-rate run authenticates as.
type AuthUser struct {
	Name, Password string
}

// AuthRate measures the digest AUTHs per second a relay completes:
// sc.Pairs clients each run full AUTH exchanges (bare AUTH, 401, AUTH
// with Authorization, 200: one new session each) back to back for
// sc.Duration, AuthsPerConn on a connection before dialling the next.
// Client i's k-th AUTH is users[(i+k*Pairs) % len(users)], so that every
// user is looked up in turn (a user database's cache sees each of them
// warm up); with no users it is the Target's User and Password. The
// Result counts AUTHs as messages: MsgsPerSec is AUTHs per second,
// Latency the time from the bare AUTH to the 200, Relay the relay's CPU
// per AUTH.
func AuthRate(ctx context.Context, t Target, sc Scenario, users []AuthUser) (*Result, error) {
	if len(users) == 0 {
		users = []AuthUser{{t.User, t.Password}}
	}
	if t.User == "" {
		t.User = users[0].Name // the users given stand for the Target's
	}
	if err := t.validate(); err != nil {
		return nil, err
	}
	if t.Kind != KindRelay {
		return nil, errors.New("an AUTH rate needs a relay target")
	}
	if sc.Pairs <= 0 || sc.Duration <= 0 {
		return nil, errors.New("an AUTH rate needs Pairs (parallel clients) and Duration")
	}
	d := newDialer(&t)
	cnt := newRateCounts(authFailureKinds[:]...)
	res := measureRate(ctx, &t, sc, "auth", cnt, func(i int) rateClient {
		return &authClient{d: d, addr: t.Addrs[i%len(t.Addrs)], idx: i, stride: sc.Pairs, users: users, cnt: cnt}
	})
	res.Setup = Setup{Auths: int(res.Delivered), Seconds: res.Seconds, AuthsPerSec: res.MsgsPerSec}
	return res, ctx.Err()
}

// The kinds of an AUTH-rate failure. dial: no connection; refused: the
// relay answered other than 401 then 200; conn: the connection failed
// mid-exchange.
const (
	authDial = iota
	authRefused
	authConn
)

var authFailureKinds = [...]string{authDial: "auth-dial", authRefused: "auth-refused", authConn: "auth-conn"}

// authClient is one client of an AUTH-rate run: its connection, reused
// for AuthsPerConn AUTHs, and which user it AUTHs as next.
type authClient struct {
	d           *dialer
	addr        string
	idx, stride int
	users       []AuthUser
	cnt         *rateCounts
	nc          net.Conn
	ec          *endpoint.Conn
	from        string
	onConn      int // AUTHs on the current connection
	k           int // AUTHs sent in all
}

func (c *authClient) close() {
	if c.nc != nil {
		c.nc.Close()
		c.nc, c.ec = nil, nil
	}
}

// exchange runs one AUTH exchange and reports how long it took and
// whether it succeeded; a failure is counted, and the connection is
// dropped, since what the relay makes of it next is not this run's
// question.
func (c *authClient) exchange(ctx context.Context) (time.Duration, bool) {
	if c.nc == nil || c.onConn >= AuthsPerConn {
		c.close()
		nc, err := c.d.dial(ctx, c.d.receiver.Transport, c.addr)
		if err != nil {
			if ctx.Err() == nil {
				c.cnt.fail(authDial, err)
			}
			return 0, false
		}
		c.nc, c.ec, c.onConn = nc, endpoint.NewSize(nc, 16<<10), 0
		c.from = endpointURI(c.d.receiver.Transport, nc, "auth"+strconv.Itoa(c.idx))
	}
	u := c.users[(c.idx+c.k*c.stride)%len(c.users)]
	c.k++
	c.onConn++
	_, port, _ := net.SplitHostPort(c.addr)
	tr := c.d.receiver.Transport
	o := endpoint.AuthOptions{RelayURI: scheme(tr) + "://" + c.d.t.RealmHost + ":" + port + ";" + uriTransport(tr),
		FromURI: c.from, User: u.Name, Password: u.Password, Form: c.d.t.AuthForm}
	t0 := time.Now()
	c.ec.SetDeadline(t0.Add(authTimeout))
	_, err := c.ec.Auth(o)
	took := time.Since(t0)
	if err != nil {
		c.close()
		if ctx.Err() != nil {
			return 0, false
		}
		kind := authConn
		if errors.Is(err, endpoint.ErrAuth) {
			kind = authRefused
		}
		c.cnt.fail(kind, fmt.Errorf("client %d, user %s: %w", c.idx, u.Name, err))
		return 0, false
	}
	return took, true
}
