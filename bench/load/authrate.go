package load

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
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
	lat := newLatencyShards(sc.Pairs)
	procs := procSet(append([]int{t.PID}, t.PIDs...))
	if t.PID == 0 {
		procs = procs[1:]
	}
	relay0, relayErr := procs.sample()
	self0 := selfCPU()
	var cnt authCounts
	start := time.Now()
	// AUTHs under way at the deadline finish: cutting them would count
	// as failures what is only the end of the run.
	deadline := start.Add(sc.Duration)
	var wg sync.WaitGroup
	for i := range sc.Pairs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := authClient{d: d, addr: t.Addrs[i%len(t.Addrs)], idx: i, stride: sc.Pairs, users: users, cnt: &cnt}
			defer c.close()
			us := make([]int64, 0, 64)
			defer func() { lat.record(i, us) }()
			for ctx.Err() == nil && time.Now().Before(deadline) {
				took, ok := c.authOnce(ctx)
				if !ok {
					continue
				}
				us = append(us, took.Microseconds())
				if len(us) == cap(us) {
					lat.record(i, us)
					us = us[:0]
				}
			}
		}()
	}
	wg.Wait()
	wall := time.Since(start)
	relay1, relayErr1 := procs.sample()
	n := cnt.done.Load()
	res := &Result{Target: t.Name, Scenario: sc.Name, Pairs: sc.Pairs, Window: 1, Topology: "auth",
		Sent: n + cnt.failed.Load(), Delivered: n, Seconds: wall.Seconds(), At: start.UTC()}
	res.MsgsPerSec = float64(n) / wall.Seconds()
	res.Setup = Setup{Auths: int(n), Seconds: wall.Seconds(), AuthsPerSec: res.MsgsPerSec}
	res.Latency = summarize(lat.merged())
	res.Generator = usage(selfCPU()-self0, n, wall)
	res.Errors, res.FirstError = cnt.errors()
	if len(procs) > 0 && relayErr == nil && relayErr1 == nil {
		u := usage(relay1.cpu-relay0.cpu, n, wall)
		u.RSSStartKB, u.RSSEndKB = relay0.rssKB, relay1.rssKB
		res.Relay = &u
	}
	return res, ctx.Err()
}

// authCounts are an AUTH-rate run's counts, shared by its clients.
type authCounts struct {
	done, failed atomic.Int64
	// dial: no connection; refused: the relay answered other than 401
	// then 200; conn: the connection failed mid-exchange.
	dial, refused, conn atomic.Int64
	firstErr            atomic.Value
}

func (c *authCounts) fail(kind *atomic.Int64, err error) {
	c.failed.Add(1)
	kind.Add(1)
	c.firstErr.CompareAndSwap(nil, err.Error())
}

func (c *authCounts) errors() (map[string]int64, string) {
	m := map[string]int64{}
	for kind, n := range map[string]int64{"auth-dial": c.dial.Load(), "auth-refused": c.refused.Load(), "auth-conn": c.conn.Load()} {
		if n > 0 {
			m[kind] = n
		}
	}
	if len(m) == 0 {
		return nil, ""
	}
	first, _ := c.firstErr.Load().(string)
	return m, first
}

// authClient is one client of an AUTH-rate run: its connection, reused
// for AuthsPerConn AUTHs, and which user it AUTHs as next.
type authClient struct {
	d           *dialer
	addr        string
	idx, stride int
	users       []AuthUser
	cnt         *authCounts
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

// authOnce runs one AUTH exchange and reports how long it took and
// whether it succeeded; a failure is counted, and the connection is
// dropped, since what the relay makes of it next is not this run's
// question.
func (c *authClient) authOnce(ctx context.Context) (time.Duration, bool) {
	if c.nc == nil || c.onConn >= AuthsPerConn {
		c.close()
		nc, err := c.d.dial(ctx, c.addr)
		if err != nil {
			if ctx.Err() == nil {
				c.cnt.fail(&c.cnt.dial, err)
			}
			return 0, false
		}
		c.nc, c.ec, c.onConn = nc, endpoint.NewSize(nc, 16<<10), 0
		c.from = c.d.endpointURI(nc, "auth"+strconv.Itoa(c.idx))
	}
	u := c.users[(c.idx+c.k*c.stride)%len(c.users)]
	c.k++
	c.onConn++
	_, port, _ := net.SplitHostPort(c.addr)
	o := endpoint.AuthOptions{RelayURI: c.d.scheme() + "://" + c.d.t.RealmHost + ":" + port + ";tcp",
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
		kind := &c.cnt.conn
		if errors.Is(err, endpoint.ErrAuth) {
			kind = &c.cnt.refused
		}
		c.cnt.fail(kind, fmt.Errorf("client %d, user %s: %w", c.idx, u.Name, err))
		return 0, false
	}
	c.cnt.done.Add(1)
	return took, true
}
