package goroutinedrv

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/msrprelay/msrprelay/engine"
	"github.com/msrprelay/msrprelay/wsshim"
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

	// ws is the WebSocket session of a connection from a ws or wss
	// listener: the reader feeds it, the writer frames through it, both
	// under wsMu. Only the writer writes the socket (writeMu), so a reader
	// never blocks behind a peer that does not read; its replies (the
	// upgrade's answer, pongs) go out with the writer's next turn.
	ws        *wsshim.Session
	wsMu      sync.Mutex
	writeMu   sync.Mutex
	byeQueued atomic.Bool // a close frame waits for the writer, then the close
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
	var raw []byte // what a WebSocket link reads, before decoding
	if l.ws != nil {
		raw = make([]byte, l.srv.opts.ReadBuffer)
	}
	have := 0
	for {
		if have == len(buf) {
			// A header larger than the buffer: grow up to the parser's
			// limits (the parser refuses anything larger).
			buf = append(buf, make([]byte, len(buf))...)[:len(buf)*2]
		}
		var n int
		var err, wsErr error
		if l.ws == nil {
			n, err = l.nc.Read(buf[have:])
			have += n
		} else {
			n, err = l.nc.Read(raw)
			var msrp []byte
			msrp, wsErr = l.decode(buf[:have], raw[:n])
			buf, have = msrp[:cap(msrp)], len(msrp)
		}
		for have > 0 {
			used, rerr := l.ec.Receive(&w, buf[:have])
			if rerr != nil {
				l.ec.Note(zerolog.InfoLevel, "closing: protocol violation").Err(rerr).Send()
				if l.ws != nil {
					l.wsMu.Lock()
					l.ws.Close(1002, "MSRP protocol error") // a clean close that says why
					l.wsMu.Unlock()
					l.writeLastWords()
					l.linger()
				}
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
		if wsErr != nil {
			// What came before the close frame or the fault went in first.
			l.lastWords(wsErr)
			return
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
	var out []byte // a WebSocket link's frames, copied out of its session
	for {
		select {
		case <-l.wake:
		case <-l.done:
			return
		}
		var werr error
		if l.ws != nil {
			bye := l.byeQueued.Load() // queued before this write: it goes with it
			werr = l.flushWS(&out)
			if bye && werr == nil {
				l.Close()
				return
			}
		} else {
			l.ec.Flush(func(b []byte) (int, int) {
				if werr == nil {
					_, werr = l.nc.Write(b)
				}
				return len(b), 0 // a blocking write leaves nothing behind
			})
		}
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
		if l.ws != nil {
			l.wsMu.Lock()
			l.ws.Release()
			l.wsMu.Unlock()
		}
		l.ec.Closed(nil)
		l.srv.live.Delete(l)
		l.srv.Release(l.src)
	})
}

// decode appends the MSRP bytes the WebSocket frames in raw carry to msrp.
// What the session answered (the upgrade's answer, pongs) is the writer's
// to send.
func (l *link) decode(msrp, raw []byte) ([]byte, error) {
	l.wsMu.Lock()
	msrp, err := l.ws.Feed(msrp, raw)
	reply := len(l.ws.Output()) > 0
	l.wsMu.Unlock()
	if reply {
		l.Wake(nil)
	}
	return msrp, err
}

// flushWS frames what the engine queued into WebSocket messages and writes
// them, after the session's own replies, with one blocking write. The
// write happens inside the engine's callback: a connection the engine is
// closing closes once the callback returns.
func (l *link) flushWS(out *[]byte) error {
	var err error
	l.ec.FlushMessages(func(b []byte, ends []int) (int, int) {
		l.wsMu.Lock()
		l.ws.WriteMessages(b, ends)
		l.wsMu.Unlock()
		err = l.writeWS(out)
		return len(b), 0
	})
	if err != nil {
		return err
	}
	return l.writeWS(out) // replies queued since, or with nothing from the engine
}

// writeWS writes what the WebSocket session has for the socket.
func (l *link) writeWS(out *[]byte) error {
	l.wsMu.Lock()
	*out = append((*out)[:0], l.ws.Output()...)
	l.ws.Written()
	l.wsMu.Unlock()
	if len(*out) == 0 {
		return nil
	}
	l.writeMu.Lock()
	defer l.writeMu.Unlock()
	_, err := l.nc.Write(*out)
	return err
}

// lastWordsTimeout bounds sending a refused upgrade's answer or a close
// frame to a peer that may not read.
const lastWordsTimeout = time.Second

// lastWords ends a WebSocket connection whose session failed or closed:
// what the session answered (an HTTP error, a close frame) is written
// first, within lastWordsTimeout; a writer blocked on the same peer is cut
// off by the same deadline.
func (l *link) lastWords(err error) {
	switch {
	case errors.Is(err, wsshim.ErrClosed):
		l.ec.Log(zerolog.DebugLevel).Msg("peer closed the WebSocket")
	case errors.Is(err, wsshim.ErrRefused):
		l.ec.Note(zerolog.InfoLevel, "closing: WebSocket upgrade refused").Err(err).Send()
	default:
		l.ec.Note(zerolog.InfoLevel, "closing: WebSocket error").Err(err).Send()
	}
	l.writeLastWords()
	if !errors.Is(err, wsshim.ErrClosed) {
		l.linger()
	}
}

// writeLastWords writes what the session has for the socket (its HTTP
// error or close frame), within lastWordsTimeout: a writer blocked on the
// same peer is cut off by the same deadline.
func (l *link) writeLastWords() {
	_ = l.nc.SetWriteDeadline(time.Now().Add(lastWordsTimeout))
	l.wsMu.Lock()
	words := append([]byte(nil), l.ws.Output()...)
	l.ws.Written()
	l.wsMu.Unlock()
	l.writeMu.Lock()
	_, _ = l.nc.Write(words)
	l.writeMu.Unlock()
}

// linger ends the sending side and reads what the peer still sends until
// it closes, for at most lastWordsTimeout and lingerMax bytes: closing with its bytes unread
// would reset the connection, and a reset can destroy the close frame or
// HTTP error on its way to the peer before it is read (RFC 6455 §7.1.1
// has the server close first, cleanly).
func (l *link) linger() {
	if cw, ok := l.nc.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	_ = l.nc.SetReadDeadline(time.Now().Add(lastWordsTimeout))
	_, _ = io.CopyN(io.Discard, l.nc, lingerMax)
}

// lingerMax bounds what a lingering connection reads: a peer that keeps
// sending is not read for long, and is reset.
const lingerMax = 64 << 10

// CloseWith implements engine.Farewell without blocking its caller (the
// engine's timers among them): the close frame is queued for the writer,
// which closes the link once it wrote it; a writer blocked on a peer that
// does not read is cut off after lastWordsTimeout.
func (l *link) CloseWith(code uint16, reason string) {
	if l.ws == nil {
		l.Close()
		return
	}
	l.wsMu.Lock()
	l.ws.Close(code, reason)
	l.wsMu.Unlock()
	l.byeQueued.Store(true)
	l.Wake(nil)
	time.AfterFunc(lastWordsTimeout, l.Close)
}

// Ping implements engine.Pinger: the writer sends it with its next turn.
func (l *link) Ping() {
	if l.ws == nil {
		return
	}
	l.wsMu.Lock()
	l.ws.Ping()
	l.wsMu.Unlock()
	l.Wake(nil)
}
