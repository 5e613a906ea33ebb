package goroutinedrv

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/msrprelay/msrprelay/engine"
	"github.com/msrprelay/msrprelay/engine/conncap"
	"github.com/msrprelay/msrprelay/tlsshim"
)

// Options configure a Server. The zero value of each field means its default.
type Options struct {
	Listen []string // "tcp://host:port" or "tls://host:port"
	// TLS configures tls:// listeners and msrps next hops.
	TLS          *tlsshim.Options
	MaxConns     int
	MaxPerSource int
	TickInterval time.Duration // default 1 s
	DialTimeout  time.Duration // default 10 s
	ReadBuffer   int           // default 64 KiB
	Logger       zerolog.Logger
}

// Server runs a Relay with two goroutines per connection.
type Server struct {
	relay *engine.Relay
	// handshakes bounds TLS handshakes in progress, as the gnet driver's.
	handshakes conncap.Handshakes
	opts       Options
	log        zerolog.Logger
	caps       conncap.Limiter
	started    chan struct{}
	stopped    chan struct{}
	stopOnce   sync.Once
	listeners  []net.Listener
	live       sync.Map // *link -> struct{}
	wg         sync.WaitGroup
}

// New makes a server for relay.
func New(relay *engine.Relay, opts Options) *Server {
	if opts.TickInterval <= 0 {
		opts.TickInterval = time.Second
	}
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = 10 * time.Second
	}
	if opts.ReadBuffer <= 0 {
		opts.ReadBuffer = 64 << 10
	}
	s := &Server{relay: relay, opts: opts, log: opts.Logger,
		started: make(chan struct{}), stopped: make(chan struct{})}
	s.caps.Max, s.caps.PerSource = opts.MaxConns, opts.MaxPerSource
	relay.SetDialer(s)
	return s
}

// Run listens and serves until Stop.
func (s *Server) Run() error {
	lns, err := conncap.Listen(s.opts.Listen, s.opts.TLS != nil)
	if err != nil {
		return err
	}
	for _, ln := range lns {
		s.listeners = append(s.listeners, ln.Listener)
		s.wg.Add(1)
		go s.accept(ln.Listener, ln.Secure)
	}
	go s.relay.RunTimers(s.opts.TickInterval, s.stopped)
	close(s.started)
	<-s.stopped
	for _, ln := range s.listeners {
		ln.Close()
	}
	s.live.Range(func(k, _ any) bool {
		k.(*link).Close()
		return true
	})
	s.wg.Wait()
	return nil
}

// Started is closed once the listeners accept.
func (s *Server) Started() <-chan struct{} { return s.started }

// Stop closes the listeners and every connection.
func (s *Server) Stop(context.Context) error {
	s.stopOnce.Do(func() { close(s.stopped) })
	return nil
}

// Drain refuses new connections from now on.
func (s *Server) Drain() { s.caps.Drain() }

// Conns is the number of open connections.
func (s *Server) Conns() int { return s.caps.Count() }

func (s *Server) accept(ln net.Listener, secure bool) {
	defer s.wg.Done()
	port := ln.Addr().(*net.TCPAddr).Port
	for {
		nc, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Warn().Err(err).Msg("accept")
			time.Sleep(10 * time.Millisecond)
			continue
		}
		remote := nc.RemoteAddr().(*net.TCPAddr).AddrPort()
		if !s.caps.Admit(remote.Addr()) {
			s.relay.Refused()
			nc.Close()
			continue
		}
		if secure {
			go s.handshake(nc, remote, port)
			continue
		}
		l := newLink(s, nc, remote.Addr())
		l.ec = s.relay.Open(l, remote, engine.Listener{Port: port}, engine.PeerInfo{})
		l.start()
	}
}

// handshake runs crypto/tls directly on the connection, as this design
// would: the tls.Conn is the connection from then on.
func (s *Server) handshake(nc net.Conn, remote netip.AddrPort, port int) {
	defer func() {
		if v := recover(); v != nil {
			s.relay.Panicked(nil, v)
			nc.Close()
		}
	}()
	if err := conncap.WaitFirstByte(nc, conncap.FirstByteTimeout); err != nil {
		s.relay.Note(zerolog.InfoLevel, "TLS handshake failed", remote).Err(err).Send()
		nc.Close()
		s.caps.Release(remote.Addr())
		return
	}
	if !s.handshakes.Acquire(remote.Addr()) {
		s.relay.Note(zerolog.InfoLevel, "TLS handshake failed", remote).Err(conncap.ErrShare).Send()
		nc.Close()
		s.caps.Release(remote.Addr())
		return
	}
	defer s.handshakes.Release(remote.Addr())
	tc := tls.Server(nc, s.opts.TLS.Server())
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.TLS.HandshakeTimeoutOr(10*time.Second))
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		s.relay.Note(zerolog.InfoLevel, "TLS handshake failed", remote).Err(err).Send()
		nc.Close()
		s.caps.Release(remote.Addr())
		return
	}
	l := newLink(s, tc, remote.Addr())
	peer := engine.PeerInfo{RelayNames: tlsshim.VerifyRelay(tc.ConnectionState(), s.opts.TLS.RelayRoots)}
	l.ec = s.relay.Open(l, remote, engine.Listener{Port: port, Secure: true}, peer)
	l.start()
}

// Dial implements engine.Dialer.
func (s *Server) Dial(c *engine.Conn, hostport string, secure bool, serverName string) {
	if secure && s.opts.TLS == nil {
		c.DialFailed(errors.New("msrps next hop: TLS is not configured for outbound connections"))
		return
	}
	if !s.caps.Admit(netip.Addr{}) {
		c.DialFailed(errors.New("connection cap reached"))
		return
	}
	go func() {
		defer func() {
			if v := recover(); v != nil {
				s.relay.Panicked(c, v)
				c.Abort()
			}
		}()
		ctx, cancel := context.WithTimeout(context.Background(), s.opts.DialTimeout)
		defer cancel()
		var d net.Dialer
		nc, err := d.DialContext(ctx, "tcp", hostport)
		if err != nil {
			s.caps.Release(netip.Addr{})
			c.DialFailed(err)
			return
		}
		peer := engine.PeerInfo{}
		if secure {
			tc := tls.Client(nc, s.opts.TLS.Client(serverName))
			if err := tc.HandshakeContext(ctx); err != nil {
				nc.Close()
				s.caps.Release(netip.Addr{})
				c.DialFailed(err)
				return
			}
			nc = tc
			peer.RelayNames = []string{serverName}
		}
		l := newLink(s, nc, netip.Addr{})
		l.ec = c
		c.Attach(l, peer)
		l.start()
	}()
}
