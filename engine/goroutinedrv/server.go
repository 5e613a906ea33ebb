package goroutinedrv

import (
	"net/netip"
	"sync"

	"github.com/rs/zerolog"

	"github.com/msrprelay/msrprelay/engine"
	"github.com/msrprelay/msrprelay/engine/netdrv"
)

// Options configure a Server. The zero value of each field means its default.
type Options struct {
	netdrv.Options
	ReadBuffer int // default 64 KiB
}

// Server runs a Relay with two goroutines per connection. Its Front
// accepts, runs TLS handshakes with crypto/tls directly (the tls.Conn is
// the connection from then on, as this design would have it) and dials.
type Server struct {
	*netdrv.Front
	relay *engine.Relay
	opts  Options
	log   zerolog.Logger
	live  sync.Map // *link -> struct{}
	wg    sync.WaitGroup
}

// New makes a server for relay.
func New(relay *engine.Relay, opts Options) *Server {
	if opts.ReadBuffer <= 0 {
		opts.ReadBuffer = 64 << 10
	}
	s := &Server{relay: relay, opts: opts, log: opts.Logger}
	s.Front = netdrv.NewFront(relay, opts.Options, netdrv.TLSStream, s)
	return s
}

// Run listens and serves until Stop.
func (s *Server) Run() error {
	if err := s.Open(); err != nil {
		return err
	}
	<-s.Stopped()
	s.CloseListeners()
	s.relay.GoAway()
	s.live.Range(func(k, _ any) bool {
		k.(*link).Close()
		return true
	})
	s.wg.Wait()
	return nil
}

// Serve implements netdrv.Transport.
func (s *Server) Serve(c netdrv.Conn) {
	l := newLink(s, c.Socket, c.Source)
	l.ws = s.WebSocket(c)
	l.ec = s.relay.Open(l, c.Remote, c.Listener, c.Peer)
	l.start()
}

// Attach implements netdrv.Transport.
func (s *Server) Attach(ec *engine.Conn, c netdrv.Conn) {
	l := newLink(s, c.Socket, netip.Addr{})
	l.ec = ec
	ec.Attach(l, c.Peer)
	l.start()
}
