package goroutinedrv

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"

	"github.com/rs/zerolog"

	"github.com/msrprelay/msrprelay/engine"
)

// link is one connection: a reader goroutine feeding the engine and a
// writer goroutine flushing what the engine queued.
type link struct {
	srv    *Server
	nc     net.Conn
	ec     *engine.Conn
	src    netip.Addr
	wake   chan struct{} // writer: something to flush
	resume chan struct{} // reader: paused no more
	done   chan struct{} // closed when the reader ended: the writer stops
	ended  sync.Once
	// hangUp is closed by Close: a reader paused until a drain that will
	// never come (its writer is gone) must still end.
	hangUp    chan struct{}
	hangUpOne sync.Once
}

func newLink(s *Server, nc net.Conn, src netip.Addr) *link {
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	return &link{srv: s, nc: nc, src: src, wake: make(chan struct{}, 1), resume: make(chan struct{}, 1), done: make(chan struct{}), hangUp: make(chan struct{})}
}

func (l *link) start() {
	l.srv.live.Store(l, struct{}{})
	l.srv.wg.Add(2)
	go l.readLoop()
	go l.writeLoop()
}

// Wake implements engine.Link.
func (l *link) Wake(*engine.Worker) {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// Resume implements engine.Link.
func (l *link) Resume() {
	select {
	case l.resume <- struct{}{}:
	default:
	}
}

// Close implements engine.Link: closing the socket ends both goroutines,
// a paused reader included.
func (l *link) Close() {
	l.hangUpOne.Do(func() { close(l.hangUp) })
	l.nc.Close()
}

// contain turns a panic on one of this connection's goroutines into its
// close: the process and every other connection go on.
func (l *link) contain() {
	if v := recover(); v != nil {
		l.srv.relay.Panicked(l.ec, v)
		l.ec.Abort()
	}
}

func (l *link) readLoop() {
	defer l.srv.wg.Done()
	defer l.finish()
	defer l.contain()
	var w engine.Worker
	buf := make([]byte, l.srv.opts.ReadBuffer)
	have := 0
	for {
		if have == len(buf) {
			// A header larger than the buffer: grow up to the parser's
			// limits (the parser refuses anything larger).
			buf = append(buf, make([]byte, len(buf))...)[:len(buf)*2]
		}
		n, err := l.nc.Read(buf[have:])
		have += n
		for have > 0 {
			used, rerr := l.ec.Receive(&w, buf[:have])
			if rerr != nil {
				l.ec.Note(zerolog.InfoLevel, "closing: protocol violation").Err(rerr).Send()
				return
			}
			have = copy(buf, buf[used:have])
			if !l.ec.Paused() {
				break
			}
			select {
			case <-l.resume:
			case <-l.hangUp:
				return
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				l.ec.Log(zerolog.DebugLevel).Err(err).Msg("read")
			}
			return
		}
	}
}

func (l *link) writeLoop() {
	defer l.srv.wg.Done()
	defer func() {
		// The reader owns the engine's inbound state: the writer only
		// closes the socket, and the reader ends the connection.
		if v := recover(); v != nil {
			l.srv.relay.Panicked(l.ec, v)
			l.Close()
		}
	}()
	for {
		select {
		case <-l.wake:
		case <-l.done:
			return
		}
		var werr error
		l.ec.Flush(func(b []byte) (int, int) {
			if werr == nil {
				_, werr = l.nc.Write(b)
			}
			return len(b), 0 // a blocking write leaves nothing behind
		})
		if werr != nil {
			l.Close()
			return
		}
	}
}

// finish runs once when the reader ends: the connection is gone.
func (l *link) finish() {
	l.ended.Do(func() {
		close(l.done)
		l.nc.Close()
		l.ec.Closed(nil)
		l.srv.live.Delete(l)
		l.srv.Release(l.src)
	})
}
