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
	bob, alice *link
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
	t                *Target
	sender, receiver Side
	spread           bool
	next             atomic.Int64
}

func newDialer(t *Target) *dialer {
	d := &dialer{t: t, sender: t.side(t.Sender), receiver: t.side(t.Receiver)}
	if !t.NoSourceSpread {
		host, _, err := net.SplitHostPort(d.receiver.Addrs[0])
		ip := net.ParseIP(host)
		d.spread = err == nil && ip != nil && ip.IsLoopback() && ip.To4() != nil
	}
	return d
}

// dial connects to addr over tr: TCP, then TLS for tls and wss, then the
// WebSocket upgrade for ws and wss.
func (d *dialer) dial(ctx context.Context, tr Transport, addr string) (*link, error) {
	nd := net.Dialer{Timeout: dialTimeout}
	if d.spread {
		k := d.next.Add(1)
		nd.LocalAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+k%sourceAddrs))}
	}
	var nc net.Conn
	var err error
	if tr.Secure() {
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
	if !tr.WebSocket() {
		return &link{Conn: nc}, nil
	}
	sock := newWSSocket(nc)
	uctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	wc, err := endpoint.UpgradeWS(uctx, sock, string(tr)+"://"+addr+"/")
	if err != nil {
		nc.Close()
		return nil, err
	}
	return &link{Conn: wc, ws: sock}, nil
}

func scheme(tr Transport) string {
	if tr.Secure() {
		return "msrps"
	}
	return "msrp"
}

// uriTransport is the transport parameter of the URIs of an endpoint on
// tr (RFC 7977 §5.2.1: ws for WebSocket).
func uriTransport(tr Transport) string {
	if tr.WebSocket() {
		return "ws"
	}
	return "tcp"
}

// endpointURI names an endpoint by its real local address: a relay that
// ever dialled it would reach loopback, never resolve a name. A WebSocket
// client cannot be reached at an address of its own, so its host is a
// name under .invalid (RFC 7977 §5.2.1).
func endpointURI(tr Transport, nc net.Conn, name string) string {
	a, _ := nc.LocalAddr().(*net.TCPAddr)
	port := 9
	if a != nil {
		port = a.Port
	}
	host := "127.0.0.1"
	if tr.WebSocket() {
		host = name + ".invalid"
	}
	return scheme(tr) + "://" + host + ":" + strconv.Itoa(port) + "/" + name + ";" + uriTransport(tr)
}

// auth runs the AUTH exchange on nc, connected to addr over tr, and
// returns the Use-Path.
func (d *dialer) auth(nc net.Conn, tr Transport, addr, from string) (string, error) {
	_, port, _ := net.SplitHostPort(addr)
	// The AUTH exchange reads small frames only.
	c := endpoint.NewSize(nc, 16<<10)
	c.SetDeadline(time.Now().Add(authTimeout))
	res, err := c.Auth(endpoint.AuthOptions{
		RelayURI: scheme(tr) + "://" + d.t.RealmHost + ":" + port + ";" + uriTransport(tr),
		FromURI:  from, User: d.t.User, Password: d.t.Password, Form: d.t.AuthForm,
	})
	c.SetDeadline(time.Time{})
	if err != nil {
		return "", fmt.Errorf("AUTH: %w", err)
	}
	return res.UsePath, nil
}

// setupPair connects and authenticates pair p: bob on the receivers'
// side, alice on the senders'.
func (d *dialer) setupPair(ctx context.Context, p *pair, sc *Scenario) error {
	rs, ss := d.receiver, d.sender
	raddr, saddr := rs.Addrs[p.idx%len(rs.Addrs)], ss.Addrs[p.idx%len(ss.Addrs)]
	var err error
	if p.bob, err = d.dial(ctx, rs.Transport, raddr); err != nil {
		return fmt.Errorf("bob: %w", err)
	}
	bob := endpointURI(rs.Transport, p.bob, "bob"+strconv.Itoa(p.idx))
	p.bobURI = []byte(bob)
	toPath := bob
	if d.t.Kind == KindRelay {
		use, err := d.auth(p.bob, rs.Transport, raddr, bob)
		if err != nil {
			return fmt.Errorf("bob: %w", err)
		}
		p.authsDone++
		toPath = use + " " + bob
	}
	if p.alice, err = d.dial(ctx, ss.Transport, saddr); err != nil {
		return fmt.Errorf("alice: %w", err)
	}
	alice := endpointURI(ss.Transport, p.alice, "alice"+strconv.Itoa(p.idx))
	if d.t.Kind == KindRelay && sc.Topology == Shared {
		use, err := d.auth(p.alice, ss.Transport, saddr, alice)
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
