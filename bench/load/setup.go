package load

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/msrprelay/msrprelay/endpoint"
)

const (
	dialTimeout = 5 * time.Second
	authTimeout = 10 * time.Second
	// sourceAddrs is how many loopback source addresses sockets spread
	// over: 127.0.0.2 .. 127.0.0.65, ~28k ephemeral ports each.
	sourceAddrs = 64
)

// pair is one alice sending to one bob.
type pair struct {
	idx        int
	bob, alice net.Conn
	bobURI     []byte
	tpl        *sendTemplate
	credits    chan struct{} // bob -> alice: a window slot is free
	quota      int64         // messages to send; 0: until told to stop
	sent       atomic.Int64
	delivered  atomic.Int64
	lastAt     atomic.Int64 // ns since start of the last delivery batch
	aliceDone  atomic.Bool
	closing    atomic.Bool // errors from here on are the shutdown's
	bobStats   bobStats
	aliceStats aliceStats
	authsDone  int
}

func (p *pair) close() {
	p.closing.Store(true)
	if p.bob != nil {
		p.bob.Close()
	}
	if p.alice != nil {
		p.alice.Close()
	}
}

// dialer opens the run's sockets.
type dialer struct {
	t      *Target
	spread bool
	next   atomic.Int64
}

func newDialer(t *Target) *dialer {
	d := &dialer{t: t}
	if !t.NoSourceSpread {
		host, _, err := net.SplitHostPort(t.Addrs[0])
		ip := net.ParseIP(host)
		d.spread = err == nil && ip != nil && ip.IsLoopback() && ip.To4() != nil
	}
	return d
}

func (d *dialer) dial(ctx context.Context, addr string) (net.Conn, error) {
	nd := net.Dialer{Timeout: dialTimeout}
	if d.spread {
		k := d.next.Add(1)
		nd.LocalAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+k%sourceAddrs))}
	}
	var nc net.Conn
	var err error
	if d.t.TLS != nil {
		td := tls.Dialer{NetDialer: &nd, Config: d.t.TLS}
		nc, err = td.DialContext(ctx, "tcp", addr)
	} else {
		nc, err = nd.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	return nc, nil
}

func (d *dialer) scheme() string {
	if d.t.TLS != nil {
		return "msrps"
	}
	return "msrp"
}

// endpointURI names an endpoint by its real local address: a relay that
// ever dialled it would reach loopback, never resolve a name.
func (d *dialer) endpointURI(nc net.Conn, name string) string {
	a, _ := nc.LocalAddr().(*net.TCPAddr)
	port := 9
	if a != nil {
		port = a.Port
	}
	return d.scheme() + "://127.0.0.1:" + strconv.Itoa(port) + "/" + name + ";tcp"
}

// auth runs the AUTH exchange on nc and returns the Use-Path.
func (d *dialer) auth(nc net.Conn, addr, from string) (string, error) {
	_, port, _ := net.SplitHostPort(addr)
	// The AUTH exchange reads small frames only.
	c := endpoint.NewSize(nc, 16<<10)
	c.SetDeadline(time.Now().Add(authTimeout))
	res, err := c.Auth(endpoint.AuthOptions{
		RelayURI: d.scheme() + "://" + d.t.RealmHost + ":" + port + ";tcp",
		FromURI:  from, User: d.t.User, Password: d.t.Password, Form: d.t.AuthForm,
	})
	c.SetDeadline(time.Time{})
	if err != nil {
		return "", fmt.Errorf("AUTH: %w", err)
	}
	return res.UsePath, nil
}

// setupPair connects and authenticates pair p.
func (d *dialer) setupPair(ctx context.Context, p *pair, sc *Scenario) error {
	addr := d.t.Addrs[p.idx%len(d.t.Addrs)]
	var err error
	if p.bob, err = d.dial(ctx, addr); err != nil {
		return fmt.Errorf("bob: %w", err)
	}
	bob := d.endpointURI(p.bob, "bob"+strconv.Itoa(p.idx))
	p.bobURI = []byte(bob)
	toPath := bob
	if d.t.Kind == KindRelay {
		use, err := d.auth(p.bob, addr, bob)
		if err != nil {
			return fmt.Errorf("bob: %w", err)
		}
		p.authsDone++
		toPath = use + " " + bob
	}
	if p.alice, err = d.dial(ctx, addr); err != nil {
		return fmt.Errorf("alice: %w", err)
	}
	alice := d.endpointURI(p.alice, "alice"+strconv.Itoa(p.idx))
	if d.t.Kind == KindRelay && sc.Topology == Shared {
		use, err := d.auth(p.alice, addr, alice)
		if err != nil {
			return fmt.Errorf("alice: %w", err)
		}
		p.authsDone++
		toPath = use + " " + toPath
	}
	p.tpl = newChunkTemplate(toPath, alice, sc.BodySize, sc.FileSize)
	return nil
}

// setupAll sets every pair up. Relay pairs set up in parallel; forwarder
// pairs one after another, because the forwarder pairs connections in the
// order it accepts them.
func (d *dialer) setupAll(ctx context.Context, pairs []*pair, sc *Scenario) error {
	par := sc.SetupParallel
	if d.t.Kind == KindForwarder {
		par = 1
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	sem := make(chan struct{}, par)
	for _, p := range pairs {
		mu.Lock()
		failed := first != nil
		mu.Unlock()
		if failed {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := d.setupPair(ctx, p, sc); err != nil {
				mu.Lock()
				if first == nil {
					first = fmt.Errorf("pair %d: %w", p.idx, err)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return first
}
