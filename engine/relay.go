package engine

import (
	"cmp"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/msrprelay/msrprelay/codec"
	"github.com/msrprelay/msrprelay/digest"
)

// Link is a driver's handle on one transport connection: what the engine
// asks of the I/O side. Every method is safe from any goroutine.
type Link interface {
	// Wake asks for Conn.Flush on the connection's own goroutine soon.
	// from is the caller's Worker (nil off the driver's goroutines), so a
	// driver can batch flushes for connections on the caller's own loop.
	Wake(from *Worker)
	// Resume tells a paused connection to call Receive again.
	Resume()
	// Close closes the connection; the driver then calls Conn.Closed.
	Close()
}

// Dialer opens connections to next-hop relays for the engine. Dial must not
// block: it starts the dial and later calls c.Attach or c.DialFailed.
type Dialer interface {
	Dial(c *Conn, hostport string, secure bool, serverName string)
}

// Listener describes where a connection came in: it decides the scheme,
// port and transport of the URIs this relay hands out on it.
type Listener struct {
	Secure bool
	Port   int
	// WebSocket: MSRP over WebSocket (RFC 7977); each frame toward its
	// connections is one WebSocket message. Other relays and SIP clients
	// cannot reach a WebSocket listener, so the sessions of its clients
	// get URIs of a TCP or TLS listener (sessionListener); only a relay
	// without one hands out ";ws" URIs.
	WebSocket bool
}

// transport is the URI transport parameter of the listener's URIs.
func (l *Listener) transport() string {
	if l.WebSocket {
		return "ws"
	}
	return "tcp"
}

// Relay is the relay core. One Relay serves every connection of a process.
type Relay struct {
	cfg       Config
	log       zerolog.Logger
	names     []string // hosts that mean "this relay", lower case
	listeners []Listener
	nonces    *digest.Nonces
	creds     atomic.Pointer[digest.Credentials]
	sessions  registry
	methods   map[string]bool
	dialer    Dialer

	connMu    sync.Mutex
	conns     map[*Conn]struct{}
	nextID    atomic.Uint64
	hopsMu    sync.Mutex
	hops      map[string]*Conn
	hopFailed map[string]int64 // next hop -> until when it is not dialed
	logs      logLimiter
	failMu    sync.Mutex
	failing   map[netip.Addr]*sourceFailures
}

// New validates cfg and returns a relay for the given listeners.
func New(cfg Config, listeners []Listener) (*Relay, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	r := &Relay{
		cfg:       cfg,
		log:       cfg.Logger,
		listeners: listeners,
		nonces:    digest.NewNonces(cfg.NonceTTL),
		conns:     make(map[*Conn]struct{}),
		hops:      make(map[string]*Conn),
		hopFailed: make(map[string]int64),
		failing:   make(map[netip.Addr]*sourceFailures),
	}
	for _, n := range append([]string{cfg.Hostname}, cfg.Aliases...) {
		r.names = append(r.names, strings.ToLower(n))
	}
	if len(cfg.AllowMethods) > 0 {
		r.methods = make(map[string]bool)
		for _, m := range cfg.AllowMethods {
			r.methods[strings.ToUpper(m)] = true
		}
	}
	r.creds.Store(cfg.Credentials)
	return r, nil
}

// SetCredentials swaps the user store (SIGHUP reload); sessions stay.
func (r *Relay) SetCredentials(c *digest.Credentials) { r.creds.Store(c) }

// Refused counts a connection the driver refused (caps, shutdown).
func (r *Relay) Refused() { r.cfg.Metrics.Add(ConnsRefused, 1) }

// SetDialer installs the driver's dialer for relay-to-relay connections.
func (r *Relay) SetDialer(d Dialer) { r.dialer = d }

// Sessions is the number of live sessions.
func (r *Relay) Sessions() int { return int(r.sessions.count.Load()) }

func (r *Relay) now() int64 { return r.cfg.Now().UnixNano() }

// Open registers a new connection accepted on lis. The driver calls
// Receive, Flush and Closed on the result.
func (r *Relay) Open(link Link, remote netip.AddrPort, lis Listener, peer PeerInfo) *Conn {
	return r.newConn(link, remote, &lis, peer, "", lis.Secure)
}

func (r *Relay) newConn(link Link, remote netip.AddrPort, lis *Listener, peer PeerInfo, hopKey string, secure bool) *Conn {
	c := &Conn{relay: r, id: r.nextID.Add(1), remote: remote, lis: lis, peer: peer, hopKey: hopKey}
	if link != nil {
		c.link.Store(&link)
	}
	c.out.owner = c
	c.out.ends.on = lis != nil && lis.WebSocket
	now := r.now()
	c.opened = now
	c.lastActive.Store(now)
	r.connMu.Lock()
	r.conns[c] = struct{}{}
	r.connMu.Unlock()
	r.cfg.Metrics.Add(openedCounter(lis, secure), 1)
	return c
}

// isOurs reports whether u names this relay: one of its host names, and the
// scheme and port of one of its listeners (RFC 4975 §6.1, RFC 4976 §6.2).
func (r *Relay) isOurs(u *codec.URI) bool { return r.listenerOf(u) != nil }

// listenerOf is the listener whose URIs u is like (host, scheme, port), or
// nil when u does not name this relay.
func (r *Relay) listenerOf(u *codec.URI) *Listener {
	if !r.isOurHost(u.Host) {
		return nil
	}
	for i := range r.listeners {
		if l := &r.listeners[i]; l.Port == u.Port && l.Secure == u.Secure() {
			return l
		}
	}
	return nil
}

func (r *Relay) isOurHost(host []byte) bool {
	for _, n := range r.names {
		if codec.EqualFold(host, n) {
			return true
		}
	}
	return false
}

// Tick runs the timers: transaction timeouts, session expiry, probation
// and idle connections. A driver calls it about once a second from any
// goroutine, with its own Worker.
func (r *Relay) Tick(w *Worker) {
	now := r.now()
	for _, s := range r.sessions.expired(now, r.cfg.IdleTimeout, nil) {
		why := "expired"
		if !s.hard.Load() && now < s.expires.Load() {
			why = "idle"
		}
		r.endSession(s, why)
	}
	r.connMu.Lock()
	conns := make([]*Conn, 0, len(r.conns))
	for c := range r.conns {
		conns = append(conns, c)
	}
	r.connMu.Unlock()
	for _, c := range conns {
		c.tickContained(w, now)
	}
	r.expireSourceFailures(now)
	r.expireDialFailures(now)
	r.logs.expire(now)
}

// RunTimers calls Tick every interval until stop is closed, with a Worker
// of its own: drivers start it in a goroutine.
func (r *Relay) RunTimers(interval time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(interval)
	defer t.Stop()
	var w Worker
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			r.Tick(&w)
		}
	}
}

// Drained reports whether nothing is queued toward any connection and no
// frame is half received: a graceful shutdown waits for it.
func (r *Relay) Drained() bool {
	r.connMu.Lock()
	defer r.connMu.Unlock()
	for c := range r.conns {
		if c.out.backlog() > 0 || c.inFrame() {
			return false
		}
	}
	return true
}

// Conns is the number of open connections.
func (r *Relay) Conns() int {
	r.connMu.Lock()
	defer r.connMu.Unlock()
	return len(r.conns)
}

func (r *Relay) forget(c *Conn) {
	r.connMu.Lock()
	delete(r.conns, c)
	r.connMu.Unlock()
	if c.hopKey != "" {
		r.hopsMu.Lock()
		if r.hops[c.hopKey] == c {
			delete(r.hops, c.hopKey)
		}
		r.hopsMu.Unlock()
	}
}

// endSession removes a session: its URI is invalid from now on (481).
func (r *Relay) endSession(s *Session, why string) {
	if !r.sessions.remove(s) {
		return
	}
	r.cfg.Metrics.Add(SessionsEnded, 1)
	rec := r.sessionRecord(s, why)
	s.owner.logAt(zerolog.InfoLevel).Str("session", s.logID).Str("user", s.user).Str("why", why).
		Int64("bytes_from_client", rec.BytesFromClient).Int64("bytes_to_client", rec.BytesToClient).
		Int64("requests_from_client", rec.RequestsFromClient).Int64("requests_to_client", rec.RequestsToClient).
		Float64("duration_s", rec.End.Sub(rec.Start).Seconds()).
		Msg("session ended")
	if r.cfg.Accounting != nil {
		r.cfg.Accounting.Record(rec)
	}
}

// sessionListener is the listener whose URI names a session AUTHed on a
// connection from lis (nil: one this relay dialed): lis itself, or for a
// WebSocket listener one that other relays and clients can reach, of the
// same security if there is one.
func (r *Relay) sessionListener(lis *Listener) *Listener {
	if lis != nil && !lis.WebSocket {
		return lis
	}
	var reachable *Listener
	for i := range r.listeners {
		l := &r.listeners[i]
		switch {
		case l.WebSocket:
		case lis == nil || l.Secure == lis.Secure:
			return l
		case reachable == nil:
			reachable = l
		}
	}
	if reachable != nil || lis != nil {
		return cmp.Or(reachable, lis)
	}
	if len(r.listeners) > 0 {
		return &r.listeners[0]
	}
	return nil
}

// openedCounter is the connections_opened series a new connection counts
// in: its listener's transport, or tcp/tls for one this relay dialed.
func openedCounter(lis *Listener, secure bool) Counter {
	switch {
	case lis != nil && lis.WebSocket && secure:
		return ConnsOpenedWSS
	case lis != nil && lis.WebSocket:
		return ConnsOpenedWS
	case secure:
		return ConnsOpenedTLS
	}
	return ConnsOpened
}
