package gnetdrv

import (
	"context"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/panjf2000/gnet/v2"
	"github.com/valyala/bytebufferpool"
	"golang.org/x/sys/unix"

	"github.com/msrprelay/msrprelay/engine"
	"github.com/msrprelay/msrprelay/engine/bufpool"
	"github.com/msrprelay/msrprelay/tlsshim"
)

// home is where a link currently lives: its gnet connection and that
// connection's loop. Parking and migration give a link a new home; other
// loops read it atomically to reach the link.
type home struct {
	l    *link
	c    gnet.Conn
	loop *loopState
	el   gnet.EventLoop
}

// flushTask and resumeTask are a home's tasks for its loop, as types rather
// than closures: two closures per connection were 64 bytes of every idle
// connection. Run on a stale home (the link moved since they were posted),
// they pass the work on to the current one.
type (
	flushTask  home
	resumeTask home
)

func (t *flushTask) Run(context.Context) error {
	h, l := (*home)(t), t.l
	l.queued.Store(false)
	if l.home.Load() != h {
		l.Wake(nil)
		return nil
	}
	l.flush(h)
	h.loop.flushDirty()
	return nil
}

func (t *resumeTask) Run(context.Context) error {
	h, l := (*home)(t), t.l
	if cur := l.home.Load(); cur != h {
		_ = cur.el.Execute(context.Background(), (*resumeTask)(cur))
		return nil
	}
	return h.c.Wake(nil)
}

// link is the engine's Link for one gnet connection. Fields are owned by the
// connection's current loop unless marked atomic or guarded by mu.
type link struct {
	srv     *Server
	ec      *engine.Conn
	home    atomic.Pointer[home]
	src     netip.Addr
	port    int // the listener's port
	tls     *tlsshim.Session
	peer    engine.PeerInfo
	plain   *bytebufferpool.ByteBuffer // decrypted bytes the engine has not consumed
	inDirty bool
	dialed  bool // opened by Dial: the engine Conn waits for Attach
	settled bool // a move next to its peer's loop was considered
	closed  atomic.Bool
	queued  atomic.Bool // a flush task is posted to the loop
	recheck atomic.Bool // a drain re-check is scheduled
	// Re-checks back off while the socket takes nothing (a receiver that
	// stopped reading): stalls counts them, lastHeld is what gnet held at
	// the last one, wrote says the last flush put bytes on the socket.
	stalls   uint8
	lastHeld int
	wrote    bool

	// Parking (see the package doc).
	mu      sync.Mutex
	parking bool
	parkFD  int
	closedG bool                       // the parked gnet connection's OnClose has run
	parked  *bytebufferpool.ByteBuffer // bytes read before parking, fed to the engine first; nil when none
	resumed bool                       // Resume arrived while parking
	moveTo  gnet.EventLoop             // the loop to enrol in after parking (migration)
}

func (l *link) attach(c gnet.Conn, ls *loopState) {
	h := &home{l: l, c: c, loop: ls, el: c.EventLoop()}
	l.home.Store(h)
	c.SetContext(l)
	if l.dialed {
		l.dialed = false
		l.ec.Attach(l, l.peer)
		if l.tls != nil {
			_ = c.Wake(nil) // records read during the handshake
		}
		return
	}
	l.mu.Lock()
	wasParked := l.parking
	l.parking = false
	l.mu.Unlock()
	if wasParked {
		l.flush(h)
		_ = c.Wake(nil) // feed the parked bytes
	}
}

// receive feeds the engine what gnet has buffered, on the loop.
func (l *link) receive(h *home) gnet.Action {
	if l.tls != nil {
		return l.receiveTLS(h)
	}
	c, w := h.c, &h.loop.worker
	if l.parked != nil {
		in, _ := c.Peek(-1)
		l.keepParked(in)
		discard(c, len(in))
		n, err := l.ec.Receive(w, l.parked.B)
		l.parked.B = l.parked.B[:copy(l.parked.B, l.parked.B[n:])]
		if len(l.parked.B) == 0 {
			l.dropParked()
		}
		return l.result(err)
	}
	in, _ := c.Peek(-1)
	n, err := l.ec.Receive(w, in)
	discard(c, n)
	return l.result(err)
}

// receiveTLS decrypts all that arrived and feeds the engine the plaintext;
// what the engine does not consume waits in l.plain.
func (l *link) receiveTLS(h *home) gnet.Action {
	c := h.c
	in, _ := c.Peek(-1)
	arrived := len(in)
	if l.parked != nil {
		l.keepParked(in)
		in = l.parked.B
	}
	if l.plain == nil {
		l.plain = plainPool.Get()
	}
	var err error
	l.plain.B, err = l.tls.Feed(l.plain.B, in)
	discard(c, arrived)
	l.dropParked()
	if err != nil {
		l.ec.Log(zerolog.InfoLevel).Err(err).Msg("closing: TLS error")
		return gnet.Close
	}
	l.writeTLSOutput(c)
	n, rerr := l.ec.Receive(&h.loop.worker, l.plain.B)
	l.plain.B = l.plain.B[:copy(l.plain.B, l.plain.B[n:])]
	if len(l.plain.B) == 0 {
		plainPool.Put(l.plain)
		l.plain = nil
	}
	return l.result(rerr)
}

// parkPool holds the bytes a parked connection had read: a sender paused
// and resumed a hundred times a second by a slow receiver would otherwise
// allocate them afresh each time.
var parkPool bufpool.Pool

// keepParked appends in to the bytes fed to the engine before new ones.
func (l *link) keepParked(in []byte) {
	if len(in) == 0 {
		return
	}
	if l.parked == nil {
		l.parked = parkPool.Get()
	}
	l.parked.B = append(l.parked.B, in...)
}

func (l *link) dropParked() {
	if l.parked != nil {
		parkPool.Put(l.parked)
		l.parked = nil
	}
}

// releaseTLS returns the session's and the plaintext buffers.
func (l *link) releaseTLS() {
	if l.tls != nil {
		l.tls.Release()
	}
	if l.plain != nil {
		plainPool.Put(l.plain)
		l.plain = nil
	}
}

// writeTLSOutput sends what the TLS session produced (records, alerts,
// post-handshake messages).
func (l *link) writeTLSOutput(c gnet.Conn) {
	if out := l.tls.Output(); len(out) > 0 {
		_, _ = c.Write(out)
	}
	l.tls.Written()
}

var plainPool bufpool.Pool

// discard drops n consumed bytes. gnet's Discard(0) drops everything, so
// zero must not reach it.
func discard(c gnet.Conn, n int) {
	if n > 0 {
		_, _ = c.Discard(n)
	}
}

func (l *link) result(err error) gnet.Action {
	if err != nil {
		l.ec.Log(zerolog.InfoLevel).Err(err).Msg("closing: protocol violation")
		return gnet.Close
	}
	return gnet.None
}

// Wake implements engine.Link.
func (l *link) Wake(from *engine.Worker) {
	if l.closed.Load() {
		return
	}
	h := l.home.Load()
	if h == nil {
		return
	}
	if from != nil {
		if ls, ok := from.Driver.(*loopState); ok && ls == h.loop {
			if !l.inDirty {
				l.inDirty = true
				ls.dirty = append(ls.dirty, l)
			}
			return
		}
	}
	if l.queued.CompareAndSwap(false, true) {
		if err := h.el.Execute(context.Background(), (*flushTask)(h)); err != nil {
			l.queued.Store(false)
		}
	}
}

// flush writes what the engine queued; it runs on h's loop.
func (l *link) flush(h *home) {
	if l.closed.Load() || l.isParked() {
		return
	}
	c := h.c
	l.wrote = false
	again := l.ec.Flush(func(b []byte) (int, int) {
		if l.tls == nil {
			taken, held := writeSome(c, b)
			l.wrote = l.wrote || taken > 0
			return taken, held
		}
		l.wrote = true
		if err := l.tls.Seal(b); err != nil {
			_ = c.Close()
			return len(b), 0
		}
		l.writeTLSOutput(c)
		if l.closed.Load() {
			return len(b), 0
		}
		return len(b), c.OutboundBuffered()
	})
	if l.wrote {
		l.stalls = 0
	}
	if again {
		l.scheduleRecheck()
	}
}

// gnetRestMax is the most this driver leaves to gnet's outbound buffer:
// what fits its static ring. gnet keeps anything beyond in buffers it
// allocates per write, with no bound; measured with a receiver reading
// 256 MB/s, that held the relay's heap at 65 MiB and its RSS at 300 MB.
const gnetRestMax = 64 << 10

// writeSome writes what the socket takes now and reports how much of b it
// took and how much gnet holds. A rest up to gnetRestMax goes to gnet,
// which then watches the socket; a larger rest stays queued in the engine,
// counted against its high-water mark, for the next flush.
func writeSome(c gnet.Conn, b []byte) (taken, held int) {
	if ob := c.OutboundBuffered(); ob > 0 {
		// gnet is draining already: after it, in order, if it fits.
		if ob+len(b) > gnetRestMax {
			return 0, ob
		}
		_, _ = c.Write(b)
		return len(b), c.OutboundBuffered()
	}
	n, err := unix.Write(c.Fd(), b)
	switch {
	case err == unix.EAGAIN || err == unix.EINTR:
		n = 0 // the next flush or re-check tries again
	case err != nil:
		_ = c.Close()
		return len(b), 0
	}
	if rest := len(b) - n; rest > 0 && rest <= gnetRestMax {
		_, _ = c.Write(b[n:])
		return len(b), c.OutboundBuffered()
	}
	return n, 0
}

// Re-check delays: 2 ms while the socket drains, doubling up to 64 ms
// while it takes nothing, so that a thousand stalled receivers cost a few
// thousand wake-ups per second rather than half a million.
const (
	recheckDelay     = 2 * time.Millisecond
	maxRecheckStalls = 5
)

// scheduleRecheck looks again at the outbound buffer shortly: gnet reports
// no "drained" event, and paused senders wait for this one to drain.
func (l *link) scheduleRecheck() {
	if !l.recheck.CompareAndSwap(false, true) {
		return
	}
	time.AfterFunc(recheckDelay<<l.stalls, func() {
		h := l.home.Load()
		_ = h.el.Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
			l.recheck.Store(false)
			if l.closed.Load() || l.isParked() || l.home.Load() != h {
				l.Wake(nil)
				return nil
			}
			drained := h.c.OutboundBuffered() < l.lastHeld
			if drained {
				l.stalls = 0
			}
			l.flush(h)
			if !drained && !l.wrote && l.stalls < maxRecheckStalls {
				l.stalls++
			}
			l.lastHeld = h.c.OutboundBuffered()
			// Flush reports what gnet holds only when it wrote; senders
			// waiting on what gnet drained since need it said here.
			if l.ec.Drained(h.c.OutboundBuffered()) {
				l.scheduleRecheck()
			}
			h.loop.flushDirty()
			return nil
		}))
	})
}

// Resume implements engine.Link.
func (l *link) Resume() {
	if l.closed.Load() {
		return
	}
	l.mu.Lock()
	if l.parking {
		if fd, ok := l.takeParkedFD(); ok {
			l.mu.Unlock()
			// Resume runs on whatever loop freed the space, and enrolling
			// onto a loop waits for that loop: never wait on a loop.
			go l.enroll(fd)
			return
		}
		l.resumed = true
		l.mu.Unlock()
		return
	}
	l.mu.Unlock()
	h := l.home.Load()
	_ = h.el.Execute(context.Background(), (*resumeTask)(h))
}

// Close implements engine.Link.
func (l *link) Close() {
	if l.closed.Load() {
		return
	}
	l.mu.Lock()
	if l.parking {
		fd := l.parkFD
		l.parkFD = -1
		l.mu.Unlock()
		if fd >= 0 {
			_ = unix.Close(fd)
		}
		l.closed.Store(true)
		l.ec.Closed(nil)
		l.srv.caps.Release(l.src)
		return
	}
	l.mu.Unlock()
	_ = l.home.Load().c.Close()
}

func (l *link) isParked() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.parking
}

// park takes a paused connection off the loop: gnet cannot stop reading a
// socket, so the socket is duplicated and the gnet connection closed; the
// kernel buffers the sender from here on. Called in OnTraffic, on the loop.
func (l *link) park(h *home) gnet.Action {
	c := h.c
	if c.OutboundBuffered() > 0 {
		// Closing now would drop what the peer has not read. A sender
		// that does not read its own answers while flooding a slow
		// receiver gets cut off once it exceeds four times the bound.
		if c.InboundBuffered() > 4*l.srv.opts.MaxParkedInbound {
			l.ec.Log(zerolog.WarnLevel).Msg("closing: flooding while not reading")
			return gnet.Close
		}
		return gnet.None
	}
	fd, err := c.Dup()
	if err != nil {
		return gnet.None
	}
	in, _ := c.Peek(-1)
	l.keepParked(in)
	discard(c, len(in))
	l.mu.Lock()
	l.parking = true
	l.parkFD = fd
	l.closedG = false
	l.resumed = !l.ec.Paused()
	l.mu.Unlock()
	return gnet.Close
}

// takeParkedFD hands out the parked descriptor once, and only after the old
// gnet connection is fully closed: a new registration must never overlap
// the old one's teardown. Called with mu held.
func (l *link) takeParkedFD() (int, bool) {
	if !l.closedG || l.parkFD < 0 {
		return -1, false
	}
	fd := l.parkFD
	l.parkFD = -1
	return fd, true
}

// parkedClosed is OnClose for a connection being parked: from here on it
// may be enrolled again, at once if a Resume came meanwhile.
func (l *link) parkedClosed() {
	l.mu.Lock()
	l.closedG = true
	fd, ok := -1, false
	if l.resumed {
		l.resumed = false
		fd, ok = l.takeParkedFD()
	}
	l.mu.Unlock()
	if ok {
		go l.enroll(fd)
	}
}

// settle moves an endpoint's connection onto the loop of the connection it
// exchanges frames with (its session's owner), once, so that forwarding
// between them is a plain write with no hand-off between loops. The move
// is the parking mechanism with an immediate resume on the chosen loop.
// Called in OnTraffic on h's loop.
func (l *link) settle(h *home) gnet.Action {
	if l.settled {
		return gnet.None
	}
	p, ok := l.ec.Peer().(*link)
	if !ok {
		return gnet.None
	}
	l.settled = true
	ph := p.home.Load()
	if ph == nil || ph.loop == h.loop || h.c.OutboundBuffered() > 0 {
		return gnet.None
	}
	fd, err := h.c.Dup()
	if err != nil {
		return gnet.None
	}
	in, _ := h.c.Peek(-1)
	l.keepParked(in)
	discard(h.c, len(in))
	l.mu.Lock()
	l.parking = true
	l.parkFD = fd
	l.closedG = false
	l.resumed = true
	l.moveTo = ph.el
	l.mu.Unlock()
	l.ec.Log(zerolog.DebugLevel).Msg("moving next to the session owner's event loop")
	return gnet.Close
}

// enroll puts a parked socket back on a loop: the one it is moving to, or
// any (gnet balances).
func (l *link) enroll(fd int) {
	f := os.NewFile(uintptr(fd), "parked")
	nc, err := net.FileConn(f)
	_ = f.Close()
	if err != nil {
		l.failParked(err)
		return
	}
	l.mu.Lock()
	to := l.moveTo
	l.moveTo = nil
	l.mu.Unlock()
	if to == nil {
		if _, err := l.srv.cli.EnrollContext(nc, l); err != nil {
			l.failParked(err)
		}
		return
	}
	ch, err := to.Enroll(gnet.NewContext(context.Background(), l), nc)
	if err != nil {
		_ = nc.Close()
		l.failParked(err)
		return
	}
	if res := <-ch; res.Err != nil {
		l.failParked(res.Err)
	}
}

func (l *link) failParked(err error) {
	l.ec.Log(zerolog.WarnLevel).Err(err).Msg("could not resume a parked connection")
	l.releaseTLS()
	l.closed.Store(true)
	l.ec.Closed(nil)
	l.srv.caps.Release(l.src)
}
