package engine

import (
	"bytes"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/rs/zerolog"
	"github.com/valyala/bytebufferpool"

	"github.com/msrprelay/msrprelay/codec"
)

// PeerInfo is what the transport proved about the peer.
type PeerInfo struct {
	// RelayNames are the DNS names of a verified client certificate
	// (mutual TLS): the peer is a relay. Empty for endpoints.
	RelayNames []string
}

// Conn is the engine's side of one connection. See the package doc for
// which goroutine may call what.
type Conn struct {
	relay  *Relay
	link   atomic.Pointer[Link] // nil until a dialed connection opens
	pinged int64                // when keepAlive last pinged (timers only)
	id     uint64
	remote netip.AddrPort
	lis    *Listener // nil for connections this relay dialed
	peer   PeerInfo
	hopKey string // for dialed connections: the next hop they reach

	// Inbound state: the Receive goroutine only. in is nil between frames
	// (see inState); midFrame says whether it is set, for other goroutines.
	in       *inState
	midFrame atomic.Bool
	// refusals counts requests refused before any succeeded (Receive
	// goroutine only); authRefusals counts the AUTHs refused since the
	// last one accepted, whatever the cause (credentials, a replayed
	// nonce count, the form, a limit), and is read by the timers too.
	refusals     int
	authRefusals atomic.Int32
	replay       *replayGuard // allocated on the first authenticated AUTH

	paused atomic.Bool
	// window is this client's credit on shared relay connections
	// (window.go).
	window     window
	relayed    atomic.Bool // carried a request that came through a relay
	authWait   atomic.Bool // an AUTH waits for the UserStore (see users.go)
	closed     atomic.Bool
	closing    atomic.Bool  // close once the queued bytes are out
	closeWhy   atomic.Int32 // the Counter saying why this relay closed it; 0 until it decides
	succeeded  atomic.Bool  // made a successful request (RFC 4976 §6.1)
	opened     int64
	lastActive atomic.Int64

	sessMu sync.Mutex
	owned  []*Session // sessions AUTHed on this connection
	bound  []*Session // sessions this connection bound as their peer

	delayed []delayedFrame // answers held back for a failing source (sessMu)

	out out
}

// inState is the frame being received. It exists only while a frame is
// (or may be) half received and goes back to inPool between frames: an
// idle connection, the common case at density, holds none of it.
type inState struct {
	prog codec.Progress
	scan codec.BodyScanner
	cur  inbound
}

var inPool = sync.Pool{New: func() any { return new(inState) }}

// takeIn gives the connection its inbound state for a Receive.
func (c *Conn) takeIn() {
	if c.in == nil {
		c.in = inPool.Get().(*inState)
		c.midFrame.Store(true)
	}
}

// putIn returns the inbound state once nothing of a frame is pending: no
// body in progress and no header search to resume.
func (c *Conn) putIn() {
	if in := c.in; in != nil && in.cur.mode == modeHeader && in.cur.ack == nil && in.prog == (codec.Progress{}) {
		// Nothing to clear: cur is zero between frames, prog was just
		// checked, and the scanner is Reset before each body.
		inPool.Put(in)
		c.in = nil
		c.midFrame.Store(false)
	}
}

// inbound is the frame being received.
type inbound struct {
	mode inMode
	// target is where the frame goes (modeCollect and modeStream).
	target *Conn
	// For modeCollect: the forwarded frame being assembled.
	buf  *bytebufferpool.ByteBuffer
	txn  *txn
	tid  tid // the tid the forwarded frame ends with
	head int // header bytes in buf: the body follows
	// For modeStream.
	st *stream
	// For every mode: the sessions the frame counts toward.
	acct traffic
	// ack is the hop-by-hop 200 to send when the frame is complete.
	ack *bytebufferpool.ByteBuffer
}

type inMode uint8

const (
	modeHeader  inMode = iota // between frames
	modeSkip                  // discard the body
	modeCollect               // assemble the whole frame, then queue it
	modeStream                // forward body bytes as they arrive
)

// authLimitReached reports whether the connection has used up its AUTH
// attempts: it closes once the answers held back for it are out.
func (c *Conn) authLimitReached() bool {
	return int(c.authRefusals.Load()) >= c.relay.cfg.MaxAuthFailures
}

func (c *Conn) inFrame() bool { return c.midFrame.Load() }

// Paused reports whether Receive stopped early, for backpressure or while
// an AUTH waits for the user database; the driver must not call Receive
// again until the Link's Resume.
func (c *Conn) Paused() bool { return c.paused.Load() || c.authWait.Load() }

// ID is the connection's number in logs.
func (c *Conn) ID() uint64 { return c.id }

// Log starts a log event about this connection, or returns nil (on which
// every zerolog call is a no-op) when the level is off. The connection
// keeps no logger of its own: at tens of thousands of idle connections the
// per-connection context would cost more than the rare line it serves.
func (c *Conn) Log(level zerolog.Level) *zerolog.Event {
	return c.logAt(level)
}

func (c *Conn) logAt(level zerolog.Level) *zerolog.Event {
	e := c.relay.log.WithLevel(level)
	if e == nil {
		return nil
	}
	return e.Uint64("conn", c.id).Stringer("remote", c.remote)
}

// Receive consumes frames from buf, which the driver owns and may reuse
// once Receive returns. It returns how many bytes it consumed: the driver
// keeps the rest and offers it again with more. A non-nil error means the
// connection must be closed (the error says why, for the log).
func (c *Conn) Receive(w *Worker, buf []byte) (int, error) {
	if len(buf) > 0 {
		c.lastActive.Store(c.relay.now())
		c.relay.cfg.Metrics.Add(BytesIn, int64(len(buf)))
	}
	c.takeIn()
	defer c.putIn()
	done := 0
	for done < len(buf) && !c.Paused() {
		if c.closing.Load() {
			// Turned away: what the peer still sends is dropped rather
			// than buffered until the close.
			return len(buf), nil
		}
		var n int
		var err error
		if c.in.cur.mode == modeHeader {
			n, err = c.receiveHeader(w, buf[done:])
		} else {
			n, err = c.receiveBody(w, buf[done:])
		}
		done += n
		if err != nil {
			c.decideClose(ConnsClosedProtocolError)
			return done, err
		}
		if n == 0 {
			break
		}
	}
	if c.in.cur.mode == modeStream && c.in.cur.st != nil {
		c.in.cur.target.out.yield(w, c.in.cur.st)
	}
	return done, nil
}

func (c *Conn) receiveHeader(w *Worker, buf []byte) (int, error) {
	f := &w.frame
	n, err := f.Parse(buf, &c.relay.cfg.Limits, &c.in.prog)
	if err == codec.ErrNeedMore {
		return 0, nil
	}
	if err != nil && codec.IsClose(err) {
		c.relay.cfg.Metrics.Add(ProtocolErrors, 1)
		return 0, err
	}
	c.relay.cfg.Metrics.Add(FramesIn, 1)
	if err != nil {
		c.rejectMalformed(w, f, err)
	} else if f.IsResponse() {
		c.handleResponse(w, f)
	} else {
		n += c.handleRequest(w, f, buf[n:])
	}
	if !f.HasBody() {
		c.finishInbound(w, f.Flag())
	}
	return n, nil
}

// maxBodySlice bounds the body bytes handled between two backpressure
// checks, so a sender pauses within this much of the high-water mark.
const maxBodySlice = 64 << 10

func (c *Conn) receiveBody(w *Worker, buf []byte) (int, error) {
	if len(buf) > maxBodySlice {
		buf = buf[:maxBodySlice]
	}
	r, err := c.in.scan.Scan(buf)
	body := buf[:r.Body]
	switch c.in.cur.mode {
	case modeCollect:
		c.in.cur.buf.B = append(c.in.cur.buf.B, body...)
	case modeStream:
		if len(body) > 0 {
			c.in.cur.target.out.streamData(w, c.in.cur.st, body)
		}
	}
	c.in.cur.acct.countBody(len(body))
	if err != nil {
		c.relay.cfg.Metrics.Add(ProtocolErrors, 1)
		return r.Body, err
	}
	if r.Collision {
		c.renameForwarded(w)
		if r.Body == 0 {
			// Consumed nothing: go on at once, or Receive would take
			// the 0 for "need more bytes" and stall on bytes it has.
			n, err := c.receiveBody(w, buf)
			return n, err
		}
		return r.Body, nil
	}
	if r.End == 0 {
		if c.in.cur.mode == modeStream {
			c.checkBackpressure(w, c.in.cur.target)
		}
		return r.Body, nil
	}
	c.finishInbound(w, r.Flag)
	return r.End, nil
}

// renameForwarded gives the frame being forwarded a new transaction id
// after its body turned out to hold the end-line of the current one.
func (c *Conn) renameForwarded(w *Worker) {
	cur := &c.in.cur
	if cur.mode == modeStream {
		p := cur.target.out.collide(w, cur.st)
		c.in.scan.Watch(p.bytes())
		return
	}
	// A collected frame is not on the wire yet: its tid, at a fixed
	// place in the start line, is rewritten in place (same length). The
	// new one must not occur in what was collected either.
	for newTIDPrefix(&cur.tid); bytes.Contains(cur.buf.B[cur.head:], cur.tid.bytes()); {
		newTIDPrefix(&cur.tid)
	}
	copy(cur.buf.B[len("MSRP "):], cur.tid.bytes())
	if cur.txn != nil {
		cur.txn.key = cur.tid
	}
	c.in.scan.Watch(cur.tid.bytes())
}

// finishInbound completes the frame whose end-line just arrived.
func (c *Conn) finishInbound(w *Worker, flag byte) {
	cur := &c.in.cur
	// The hop-by-hop 200 goes first: the forward below may fail at once
	// (a next hop that just closed) or be answered very fast, and the
	// failure or success REPORT must not reach the sender before the 200
	// for the request it reports on.
	c.sendAck(w, cur.ackTarget())
	switch cur.mode {
	case modeCollect:
		cur.txn.setBodyLen(len(cur.buf.B) - cur.head)
		cur.buf.B = codec.AppendBodyEnd(cur.buf.B, cur.tid.bytes(), flag)
		c.deliver(w, cur.target, cur.txn, cur.buf.B)
		waitPool.Put(cur.buf)
	case modeStream:
		cur.target.out.streamEnd(w, cur.st, flag)
		c.checkBackpressure(w, cur.target)
	}
	*cur = inbound{}
}

// deliver queues a complete frame, made of parts, on target; if target is
// gone, the transaction fails at once.
func (c *Conn) deliver(w *Worker, target *Conn, t *txn, parts ...[]byte) {
	if target.out.writeFrame(w, t, parts...) {
		c.relay.cfg.Metrics.Add(FramesForwarded, 1)
		c.checkBackpressure(w, target)
		return
	}
	if t != nil {
		st := target.goneStatus()
		c.relay.failTxn(w, t, st.code, st.reason)
	}
}

// checkBackpressure pauses this connection's reading while target holds
// more than HighWater bytes, or too many unanswered transactions (or
// transactions holding too many bytes of paths).
func (c *Conn) checkBackpressure(w *Worker, target *Conn) {
	cfg := &c.relay.cfg
	o := &target.out
	c.checkWindow()
	if target != c && c.shared() {
		// Other sessions share this connection: the target's own sender
		// is paced by the 200s held for it (window.go).
		if !o.fullForShared(cfg) {
			return
		}
	} else if !o.full(cfg) {
		return
	}
	was := c.paused.Swap(true)
	if !o.addWaiter(c) {
		c.paused.Store(false)
		return
	}
	if !was {
		cfg.Metrics.Add(SenderPauses, 1)
	}
	// Make the target look at its backlog even if it has nothing new to
	// write: its driver then re-checks until the backlog drains.
	target.wake(w)
}

// shared reports whether this connection carries traffic of other relays:
// one this relay dialed, one whose peer showed a relay certificate, or one
// that has carried a request that came through a relay.
func (c *Conn) shared() bool { return c.isRelay() || c.relayed.Load() }

// checkWindow pauses this client while too many of its bytes on shared
// connections wait for their 200s. Called on the Receive goroutine.
func (c *Conn) checkWindow() {
	size := c.relay.cfg.RelayWindow
	if !c.window.over(size) || c.shared() {
		return
	}
	was := c.paused.Swap(true)
	if !c.window.wait(size) {
		c.paused.Store(was)
		return
	}
	if !was {
		c.relay.cfg.Metrics.Add(SenderPauses, 1)
	}
}

// returnCredit ends a transaction's share of the window, resuming the
// client once half the window is free. Any goroutine.
func (c *Conn) returnCredit(n int64) {
	if c.window.give(n, c.relay.cfg.RelayWindow) {
		c.resume()
	}
}

func (c *Conn) resume() {
	if c.paused.CompareAndSwap(true, false) {
		if l := c.link.Load(); l != nil {
			(*l).Resume()
		}
	}
}

// now, config and failTxn are what the connection's out asks of it
// (outOwner, out.go).
func (c *Conn) now() int64      { return c.relay.now() }
func (c *Conn) config() *Config { return &c.relay.cfg }
func (c *Conn) failTxn(w *Worker, t *txn, code int, reason string) {
	c.relay.failTxn(w, t, code, reason)
}

// lastHeard is when bytes last arrived on the connection (sender, out.go).
func (c *Conn) lastHeard() int64 { return c.lastActive.Load() }

func (c *Conn) wake(from *Worker) {
	if l := c.link.Load(); l != nil && !c.closed.Load() {
		(*l).Wake(from)
	}
}

// Flush hands the queued wire bytes to write, on the connection's own
// goroutine. write returns how many of them it took and how many bytes it
// still holds unsent: a driver that writes only what the socket accepts
// takes fewer, and the rest stays queued here, in order, counted against
// HighWater. Flush reports whether the driver must call it again later:
// bytes remain queued, or senders wait for this connection to drain.
func (c *Conn) Flush(write func([]byte) (taken, held int)) (again bool) {
	return c.flush(write, nil)
}

// FlushMessages is Flush for a link that sends each frame as one message
// (WebSocket): write also gets the offsets in b where frames end, in
// order. What write does not take comes back the next time, its ends
// with it.
func (c *Conn) FlushMessages(write func(b []byte, ends []int) (taken, held int)) (again bool) {
	return c.flush(nil, write)
}

func (c *Conn) flush(write func([]byte) (int, int), writeMessages func([]byte, []int) (int, int)) (again bool) {
	b, ends := c.out.take()
	left := false
	if b != nil {
		taken, held := 0, 0
		if len(b.B) > 0 {
			if writeMessages != nil {
				taken, held = writeMessages(b.B, ends)
			} else {
				taken, held = write(b.B)
			}
			c.relay.cfg.Metrics.Add(BytesOut, int64(taken))
		}
		left = c.out.release(b, taken, held)
	}
	if c.closing.Load() {
		// Bytes queued while this Flush wrote (the answer that decided
		// the close, typically) go out with the next one, which closes.
		if !left && c.out.hasPending() {
			return true
		}
		// The driver sends what it took before closing. A rest it could
		// not take means a peer that stopped reading while it was being
		// turned away: waiting for it would keep the connection open for
		// as long as the peer likes, so the rest is dropped.
		c.close()
	}
	return c.out.drained() || left
}

// Drained reports what the driver still holds after a write; it resumes
// waiting senders when the backlog is low and reports whether some still
// wait.
func (c *Conn) Drained(held int) (sendersWaiting bool) {
	c.out.held.Store(int64(held))
	return c.out.drained()
}

// Peer is the link of the one connection this one exchanges frames with,
// when there is exactly one: the session owner of an endpoint connection
// that bound a single session. A driver may put both on one event loop.
func (c *Conn) Peer() Link {
	c.sessMu.Lock()
	defer c.sessMu.Unlock()
	if len(c.bound) != 1 || len(c.owned) > 0 {
		return nil
	}
	if l := c.bound[0].owner.link.Load(); l != nil {
		return *l
	}
	return nil
}

// Attach gives a dialed connection its link once the dial succeeded.
func (c *Conn) Attach(link Link, peer PeerInfo) {
	c.out.mu.Lock()
	c.peer = peer
	c.link.Store(&link)
	c.out.woken = false // a wake asked before the link existed went nowhere
	wake := c.out.askFlush()
	c.out.mu.Unlock()
	if wake {
		link.Wake(nil)
	}
}

// DialFailed ends a dialed connection that never opened.
func (c *Conn) DialFailed(err error) {
	c.relay.noteDialFailed(c.hopKey)
	c.Note(zerolog.WarnLevel, "dial failed").Err(err).Str("next_hop", c.hopKey).Send()
	c.Closed(nil)
}

// Closed tells the engine the connection is gone. Sessions AUTHed on it end
// (RFC 4976 §6.3), sessions it bound are released, and every transaction
// waiting on it fails toward its origin.
func (c *Conn) Closed(w *Worker) {
	if !c.closed.CompareAndSwap(false, true) {
		return
	}
	if w == nil {
		w = new(Worker)
	}
	r := c.relay
	r.forget(c)
	r.cfg.Metrics.Add(c.closeReason(), 1)
	if in := c.in; in != nil {
		if in.cur.mode == modeStream {
			in.cur.target.out.streamEnd(w, in.cur.st, '#')
		}
		if in.cur.mode == modeCollect {
			waitPool.Put(in.cur.buf)
			freeTxn(in.cur.txn) // never registered: nobody else holds it
		}
		if in.cur.ack != nil {
			waitPool.Put(in.cur.ack)
		}
		in.cur = inbound{}
		in.prog = codec.Progress{}
		c.putIn()
	}
	c.sessMu.Lock()
	owned, bound := c.owned, c.bound
	c.owned, c.bound = nil, nil
	c.delayed = nil
	c.sessMu.Unlock()
	for _, s := range owned {
		r.endSession(s, "connection closed")
	}
	for _, s := range bound {
		if b := s.bound.Load(); b != nil && b.conn == c {
			s.bound.CompareAndSwap(b, nil)
		}
		s.hop.CompareAndSwap(c, nil)
	}
	status := c.goneStatus()
	failed, waiters, acks := c.out.shut(status)
	sendAcks(w, acks) // before the failure REPORTs for the same chunks
	for _, t := range failed {
		r.failTxn(w, t, status.code, status.reason)
	}
	for _, p := range waiters {
		p.resume()
	}
	c.logAt(zerolog.DebugLevel).Msg("connection closed")
}

// closeFor records why this relay closes the connection (the first reason
// wins) and asks the driver to close it.
func (c *Conn) closeFor(why Counter) {
	c.decideClose(why)
	c.close()
}

// decideClose records why this relay is closing the connection, for the
// connections_closed metric; the first reason wins.
func (c *Conn) decideClose(why Counter) { c.closeWhy.CompareAndSwap(0, int32(why)) }

// closeReason is the counter for the close: the relay's reason, or the
// peer's doing (or the network's) when the relay decided nothing.
func (c *Conn) closeReason() Counter {
	if why := Counter(c.closeWhy.Load()); why != 0 {
		return why
	}
	return ConnsClosed
}

// goneStatus is what a request forwarded to this connection fails with
// once it closed: toward a client whose connection is gone the session is
// gone too (481); a relay connection that dropped is a next hop that did
// not answer (408).
func (c *Conn) goneStatus() *refusal {
	if c.hopKey != "" || c.isRelay() {
		return &stHopClosed
	}
	return &stNoSession
}

// close asks the driver to close the connection.
func (c *Conn) close() {
	if l := c.link.Load(); l != nil {
		c.closeLink(*l)
	} else {
		c.Closed(nil)
	}
}

// ackTarget is the connection the frame being received goes to, if any.
func (cur *inbound) ackTarget() *Conn {
	switch cur.mode {
	case modeCollect:
		return cur.target
	case modeStream:
		if cur.st != nil {
			return cur.target
		}
	}
	return nil
}
