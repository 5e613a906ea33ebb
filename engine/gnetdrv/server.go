package gnetdrv

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"

	"github.com/panjf2000/gnet/v2"
	"github.com/rs/zerolog"

	"github.com/msrprelay/msrprelay/engine"
	"github.com/msrprelay/msrprelay/engine/netdrv"
)

// Options configure a Server. The zero value of each field means its default.
type Options struct {
	netdrv.Options
	// Loops is the number of event loops; default one per core.
	Loops int
	// MaxParkedInbound is how much a paused connection may buffer before
	// it is parked. Default 256 KiB.
	MaxParkedInbound int
	// ReadBuffer is the most one read takes from a socket, in one buffer
	// per event loop (not per connection). Default 256 KiB: larger reads
	// than gnet's 64 KiB mean fewer system calls per large chunk (the
	// README's benchmarks say by how much).
	ReadBuffer int
	// NoSettle keeps connections on the loop they were accepted on instead
	// of moving an endpoint next to its session's owner (for comparison).
	NoSettle bool
}

// Server runs a Relay on gnet.
//
// Its Front accepts connections (one goroutine per listener, under the
// caps) and dials next hops, and hands each to gnet's loops: gnet's own
// acceptor keeps accepting while its loops have not yet run OnOpen, so
// under a connection storm it could reach the open-files limit, where
// accept fails with EMFILE and gnet stops every loop.
type Server struct {
	gnet.BuiltinEventEngine
	*netdrv.Front
	relay *engine.Relay
	opts  Options
	log   zerolog.Logger
	cli   *gnet.Client

	loopsMu sync.Mutex
	loops   map[gnet.EventLoop]*loopState

	// parked is the input parked links hold in memory (read before they
	// were parked, not yet taken by the engine); parkedPeak is its
	// highest value, for tests that prove it bounded.
	parked, parkedPeak atomic.Int64
	// parkedLinks are the links parked now (keys; *link): gnet no longer
	// knows their sockets, so Run closes them when the loops have stopped.
	parkedLinks sync.Map
}

// loopState is one event loop's scratch: only that loop touches it.
type loopState struct {
	// worker is the loop's engine.Worker: a Wake from it comes from this
	// loop (its address says so).
	worker   engine.Worker
	dirty    []*link
	spare    []*link
	flushing bool
	loop     gnet.EventLoop
}

// New makes a server for relay.
func New(relay *engine.Relay, opts Options) *Server {
	if opts.MaxParkedInbound <= 0 {
		opts.MaxParkedInbound = 256 << 10
	}
	if opts.ReadBuffer <= 0 {
		opts.ReadBuffer = 256 << 10
	}
	s := &Server{
		relay: relay,
		opts:  opts,
		log:   opts.Logger,
		loops: make(map[gnet.EventLoop]*loopState),
	}
	s.Front = netdrv.NewFront(relay, opts.Options, netdrv.TLSFed, s)
	return s
}

// Run listens, serves until Stop, and returns the first listen error.
func (s *Server) Run() error {
	opts := []gnet.Option{
		gnet.WithMulticore(true),
		gnet.WithLoadBalancing(gnet.LeastConnections),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay),
		gnet.WithLogger(gnetLogger{s.log}),
	}
	if s.opts.Loops > 0 {
		opts = append(opts, gnet.WithNumEventLoop(s.opts.Loops))
	}
	opts = append(opts, gnet.WithReadBufferCap(s.opts.ReadBuffer))
	cli, err := gnet.NewClient(s, opts...)
	if err != nil {
		return err
	}
	s.cli = cli
	if err := cli.Start(); err != nil {
		return err
	}
	if err := s.Open(); err != nil {
		_ = cli.Stop()
		return err
	}
	<-s.Stopped()
	s.CloseListeners()
	s.relay.GoAway()
	err = cli.Stop()
	s.closeParked()
	return err
}

// closeParked ends the links still parked once no loop runs.
func (s *Server) closeParked() {
	s.parkedLinks.Range(func(k, _ any) bool {
		l := k.(*link)
		if fd, ok := l.st.closeParked(); ok {
			l.end(nil, fd)
		}
		return true
	})
}

// Serve implements netdrv.Transport: an accepted connection goes to gnet,
// whose OnOpen tells the engine.
func (s *Server) Serve(c netdrv.Conn) {
	l := newLink(s, c.Source, c.Listener)
	l.tls, l.ws, l.peer = c.Session, s.WebSocket(c), c.Peer
	nc := c.Socket
	defer l.recoverHandOff(&nc)
	if _, err := s.cli.EnrollContext(nc, l); err != nil {
		l.enrollFailed(err)
	}
}

// ParkedBytes is the input parked connections hold in memory; paused
// senders' further input waits in the kernel.
func (s *Server) ParkedBytes() int64 { return s.parked.Load() }

func (s *Server) parkedBytes(delta int) {
	n := s.parked.Add(int64(delta))
	for peak := s.parkedPeak.Load(); n > peak && !s.parkedPeak.CompareAndSwap(peak, n); peak = s.parkedPeak.Load() {
	}
}

func (s *Server) loopState(c gnet.Conn) *loopState {
	el := c.EventLoop()
	s.loopsMu.Lock()
	defer s.loopsMu.Unlock()
	ls := s.loops[el]
	if ls == nil {
		ls = &loopState{loop: el}
		s.loops[el] = ls
	}
	return ls
}

func (s *Server) OnOpen(c gnet.Conn) (out []byte, action gnet.Action) {
	l, ok := c.Context().(*link)
	if !ok {
		return nil, gnet.Close
	}
	defer l.recoverCallback(&action)
	if !l.attach(c, s.loopState(c)) {
		return nil, gnet.Close
	}
	if l.ec == nil {
		l.ec = s.relay.Open(l, netdrv.AddrPort(c.RemoteAddr()), l.lis, l.peer)
		if l.tls != nil {
			// The handshake may have read the first records already; they
			// wait inside the session, not in the socket.
			_ = c.Wake(nil)
		}
	}
	return nil, gnet.None
}

func (s *Server) OnClose(c gnet.Conn, err error) gnet.Action {
	l, ok := c.Context().(*link)
	if !ok {
		return gnet.None
	}
	defer func() {
		if v := recover(); v != nil {
			s.relay.Panicked(l.ec, v)
		}
	}()
	ls := s.loopState(c)
	switch st, fd := l.st.gnetClosed(); st {
	case stepEnd:
		if err != nil && !errors.Is(err, net.ErrClosed) && l.ec != nil {
			l.ec.Log(zerolog.DebugLevel).Err(err).Msg("socket closed")
		}
		l.end(&ls.worker, fd)
	case stepParkedLoop:
		// After gnet's teardown of the old connection, which follows
		// OnClose on this loop.
		h := l.st.home.Load()
		_ = h.el.Execute(context.Background(), (*parkedTask)(h))
	}
	ls.flushDirty()
	return gnet.None
}

func (s *Server) OnTraffic(c gnet.Conn) (action gnet.Action) {
	l, ok := c.Context().(*link)
	if !ok || l.ec == nil {
		return gnet.Close
	}
	defer l.recoverCallback(&action)
	h := l.st.home.Load()
	if !l.ec.Paused() {
		action = l.receive(h)
		h.loop.flushDirty()
		if action != gnet.None {
			return action
		}
	}
	if l.ec.Paused() {
		if c.InboundBuffered() > s.opts.MaxParkedInbound {
			return l.park(h)
		}
		return gnet.None
	}
	if !l.settled && !s.opts.NoSettle {
		return l.settle(h)
	}
	return gnet.None
}

// flushDirty flushes the connections of this loop that were woken while it
// ran a callback. Every callback that can queue bytes ends with it. A write
// that fails closes its connection inside the call, and that OnClose comes
// back here: the guard leaves the new entries to the outer loop.
func (ls *loopState) flushDirty() {
	if ls.flushing {
		return
	}
	ls.flushing = true
	for len(ls.dirty) > 0 {
		batch := ls.dirty
		ls.dirty, ls.spare = ls.spare[:0], nil
		for i, d := range batch {
			batch[i] = nil
			d.inDirty.Store(false)
			d.flushOn(ls)
		}
		ls.spare = batch[:0]
	}
	ls.flushing = false
}

// flushOn flushes l from ls's dirty list: here, or on the loop it moved to.
func (l *link) flushOn(ls *loopState) {
	defer l.recoverOnLoop()
	if h := l.st.home.Load(); h.loop == ls {
		l.flush(h)
	} else {
		l.Wake(nil)
	}
}

type gnetLogger struct{ l zerolog.Logger }

func (g gnetLogger) Debugf(f string, a ...any) { g.l.Debug().Msgf(f, a...) }
func (g gnetLogger) Infof(f string, a ...any)  { g.l.Debug().Msgf(f, a...) }
func (g gnetLogger) Warnf(f string, a ...any)  { g.l.Warn().Msgf(f, a...) }
func (g gnetLogger) Errorf(f string, a ...any) { g.l.Error().Msgf(f, a...) }
func (g gnetLogger) Fatalf(f string, a ...any) { g.l.Error().Msgf(f, a...) }
