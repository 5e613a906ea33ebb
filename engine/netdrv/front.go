package netdrv

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/msrprelay/msrprelay/engine"
	"github.com/msrprelay/msrprelay/tlsshim"
	"github.com/msrprelay/msrprelay/wsshim"
)

// Transport is a driver's own part: it reads and writes the connections
// a Front hands it. Both methods run on the goroutine that accepted,
// secured or dialed the connection, and may block only briefly (an
// accept loop waits on Serve for a plain connection).
type Transport interface {
	// Serve takes an accepted connection: it opens it in the engine
	// (Relay.Open) and calls Front.Release(c.Source) once it has ended.
	Serve(c Conn)
	// Attach takes a connection dialed for ec: it calls ec.Attach once
	// the connection can carry bytes (or ec.DialFailed if it never
	// can), and Front.Release(c.Source) once it has ended.
	Attach(ec *engine.Conn, c Conn)
}

// Conn is a connection handed to a Transport: counted under the caps,
// and past its TLS handshake when its listener or next hop runs TLS.
type Conn struct {
	// Socket is the connection to read and write: the TCP socket, or in
	// TLSStream mode the tls.Conn over it.
	Socket net.Conn
	// Session is the TLS session in TLSFed mode; nil otherwise.
	Session *tlsshim.Session
	// Remote is the peer's address.
	Remote netip.AddrPort
	// Source is what the caps counted: Remote's address for an accepted
	// connection, none for a dialed one.
	Source netip.Addr
	// Listener is what the engine is told of the listener the connection
	// came in on; zero for a dialed connection.
	Listener engine.Listener
	// Peer is what TLS proved of the peer (a relay's names).
	Peer engine.PeerInfo
}

// Front is where connections enter and leave a driver: its listeners and
// their accept loops, the caps, the TLS handshakes, next-hop dials (it is
// the engine's Dialer), and the start and stop of the server. A driver's
// Server embeds it; its Run calls Open, waits for Stopped, then calls
// CloseListeners and closes its own connections.
type Front struct {
	relay      *engine.Relay
	opts       Options
	tlsMode    TLSMode
	transport  Transport
	caps       Limiter
	handshakes Handshakes
	browsers   browserTLS

	started   chan struct{}
	stopped   chan struct{}
	stopOnce  sync.Once
	listeners []ListenSocket
	accepting sync.WaitGroup
}

// NewFront makes the front of a driver whose own part is t, and installs
// it as relay's dialer.
func NewFront(relay *engine.Relay, opts Options, mode TLSMode, t Transport) *Front {
	opts.setDefaults()
	f := &Front{relay: relay, opts: opts, tlsMode: mode, transport: t,
		started: make(chan struct{}), stopped: make(chan struct{})}
	f.caps.Max, f.caps.PerSource = opts.MaxConns, opts.MaxPerSource
	relay.SetDialer(f)
	return f
}

// Open listens, starts accepting and runs the engine's timers until Stop.
// On error nothing is left open.
func (f *Front) Open() error {
	lns, err := Listen(f.opts.Listen, f.opts.TLS != nil)
	if err != nil {
		return err
	}
	f.listeners = lns
	for _, ln := range lns {
		f.accepting.Add(1)
		go f.accept(ln)
	}
	go f.relay.RunTimers(f.opts.TickInterval, f.stopped)
	close(f.started)
	return nil
}

// CloseListeners closes the listeners and waits for their accept loops.
func (f *Front) CloseListeners() {
	for _, ln := range f.listeners {
		_ = ln.Close()
	}
	f.accepting.Wait()
}

// Started is closed once the listeners accept.
func (f *Front) Started() <-chan struct{} { return f.started }

// Stopped is closed by Stop.
func (f *Front) Stopped() <-chan struct{} { return f.stopped }

// Stop asks the server to close the listeners and every connection; the
// driver's Run then returns.
func (f *Front) Stop(context.Context) error {
	f.stopOnce.Do(func() { close(f.stopped) })
	return nil
}

// Drain refuses new connections from now on (graceful shutdown).
func (f *Front) Drain() { f.caps.Drain() }

// Conns is the number of open connections, accepted and dialed.
func (f *Front) Conns() int { return f.caps.Count() }

// Admit counts a connection a driver opens by other means (tests that
// build one by hand); false means the caps refuse it.
func (f *Front) Admit(src netip.Addr) bool { return f.caps.Admit(src) }

// WebSocket starts the WebSocket session of a connection from a ws:// or
// wss:// listener, waiting for the upgrade request; nil for other
// connections. The driver feeds it on the connection's own goroutine.
func (f *Front) WebSocket(c Conn) *wsshim.Session {
	if !c.Listener.WebSocket {
		return nil
	}
	return wsshim.NewServer(&f.opts.WebSocket)
}

// Release gives back the count of a connection handed to the Transport,
// once it has ended.
func (f *Front) Release(src netip.Addr) { f.caps.Release(src) }

// accept admits connections one at a time, under the caps: the process
// never holds more than the cap plus one connection descriptor.
func (f *Front) accept(ln ListenSocket) {
	defer f.accepting.Done()
	lis := engine.Listener{Port: ln.Addr().(*net.TCPAddr).Port, Secure: ln.Kind.Secure(), WebSocket: ln.Kind.WebSocket()}
	for {
		nc, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			f.opts.Logger.Warn().Err(err).Msg("accept")
			time.Sleep(10 * time.Millisecond)
			continue
		}
		f.admit(nc, lis)
	}
}

// admit counts an accepted connection and hands it over, through a TLS
// handshake first on a TLS listener; over the caps it is refused.
func (f *Front) admit(nc net.Conn, lis engine.Listener) {
	remote := AddrPort(nc.RemoteAddr())
	if !f.caps.Admit(remote.Addr()) {
		f.relay.Refused()
		_ = nc.Close()
		return
	}
	c := Conn{Socket: nc, Remote: remote, Source: remote.Addr(), Listener: lis}
	if lis.Secure {
		go f.secureAndServe(c)
		return
	}
	f.serve(c)
}

// serve hands c to the Transport, which owns it from then on: a panic in
// it that the Transport did not contain is recorded here.
func (f *Front) serve(c Conn) {
	defer f.recordPanic()
	f.transport.Serve(c)
}

func (f *Front) recordPanic() {
	if v := recover(); v != nil {
		f.relay.Panicked(nil, v)
	}
}

// secureAndServe runs the server handshake of an accepted connection, then
// hands it over.
func (f *Front) secureAndServe(c Conn) {
	h := handOff{f: f, c: c}
	defer h.recoverPanic()
	if err := f.secureServer(&h.c); err != nil {
		f.relay.Note(zerolog.InfoLevel, "TLS handshake failed", c.Remote).Err(err).Send()
		h.drop()
		return
	}
	h.given = true
	f.transport.Serve(h.c)
}

var (
	errSecureHop = errors.New("msrps next hop: TLS is not configured for outbound connections")
	errCapped    = errors.New("connection cap reached")
)

// Dial implements engine.Dialer: resolve and connect off the event loops
// (net.Dialer tries every address the name has, A and AAAA, within the
// dial timeout), run the client handshake for msrps, then hand the
// connection to the Transport.
func (f *Front) Dial(ec *engine.Conn, hostport string, secure bool, serverName string) {
	if secure && f.opts.TLS == nil {
		ec.DialFailed(errSecureHop)
		return
	}
	if !f.caps.Admit(netip.Addr{}) {
		ec.DialFailed(errCapped)
		return
	}
	go f.dial(ec, hostport, secure, serverName)
}

func (f *Front) dial(ec *engine.Conn, hostport string, secure bool, serverName string) {
	h := handOff{f: f, ec: ec}
	defer h.recoverPanic()
	ctx, cancel := context.WithTimeout(context.Background(), f.opts.DialTimeout)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", hostport)
	if err != nil {
		h.dialFailed(err)
		return
	}
	h.c = Conn{Socket: nc, Remote: AddrPort(nc.RemoteAddr())}
	if secure {
		if err := f.secureClient(&h.c, serverName); err != nil {
			h.dialFailed(err)
			return
		}
	}
	h.given = true
	f.transport.Attach(ec, h.c)
}

// handOff is a connection on its way to the Transport: the goroutine
// accepting or dialing it owns it, and its count under the caps, until
// it is given over or dropped.
type handOff struct {
	f     *Front
	c     Conn
	ec    *engine.Conn // the engine's Conn a dial is for; nil when accepted
	given bool         // to the Transport, or dropped
}

// drop closes the connection and gives back its count, once.
func (h *handOff) drop() {
	if h.given {
		return
	}
	h.given = true
	if h.c.Socket != nil {
		_ = h.c.Socket.Close()
	}
	h.f.caps.Release(h.c.Source)
}

// dialFailed ends a dial that never reached the Transport.
func (h *handOff) dialFailed(err error) {
	h.drop()
	h.ec.DialFailed(err)
}

// recoverPanic is deferred by the goroutines that hand connections over.
// A panic there would end the process: it is recorded, and before the
// hand-over the connection is dropped (and a dial's engine Conn ended);
// after it the Transport owns the connection and carries on.
func (h *handOff) recoverPanic() {
	v := recover()
	if v == nil {
		return
	}
	h.f.relay.Panicked(h.ec, v)
	if h.given {
		return
	}
	h.drop()
	if h.ec != nil {
		h.ec.Abort()
	}
}

// AddrPort is a connection address as the engine takes it.
func AddrPort(a net.Addr) netip.AddrPort {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.AddrPort()
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap
}
