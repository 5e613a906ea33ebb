package gnetdrv

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/panjf2000/gnet/v2"
	"github.com/valyala/bytebufferpool"
	"golang.org/x/sys/unix"

	"github.com/msrprelay/msrprelay/engine"
	"github.com/msrprelay/msrprelay/internal/bufpool"
	"github.com/msrprelay/msrprelay/tlsshim"
	"github.com/msrprelay/msrprelay/wsshim"
)

// home is where a link lives: its gnet connection and that connection's
// loop. Parking keeps the home (its loop owns the parked link, its gnet
// connection is closed); enrolling again gives the link a new one.
type home struct {
	l    *link
	c    gnet.Conn
	loop *loopState
	el   gnet.EventLoop
}

// A home's tasks for its loop, as types rather than closures: closures
// per connection would weigh on every idle connection. Each asks the
// link's state first: run on a stale home, a task passes the work on or
// drops it.
type (
	flushTask   home // write what the engine queued
	pingTask    home // ping a quiet WebSocket peer
	byeTask     home // send a WebSocket close frame, then close
	resumeTask  home // let a live connection's OnTraffic feed the engine again
	recheckTask home // look again at a connection whose output did not drain
	parkedTask  home // feed a parked link what it holds, enroll it when the engine wants more
	closeTask   home // end a parked link
)

func (t *flushTask) Run(context.Context) error {
	h, l := (*home)(t), t.l
	defer l.recoverOnLoop()
	l.queued.Store(false)
	l.flush(h)
	h.loop.flushDirty()
	return nil
}

func (t *pingTask) Run(context.Context) error {
	h, l := (*home)(t), t.l
	defer l.recoverOnLoop()
	l.ping(h)
	return nil
}

func (t *byeTask) Run(context.Context) error {
	h, l := (*home)(t), t.l
	defer l.recoverOnLoop()
	l.sayBye(h)
	return nil
}

func (t *resumeTask) Run(context.Context) error {
	h, l := (*home)(t), t.l
	defer l.recoverOnLoop()
	if l.st.where(h) == here {
		return h.c.Wake(nil)
	}
	// It moved or parked since: ask again where it is now.
	l.Resume()
	return nil
}

func (t *recheckTask) Run(context.Context) error {
	h, l := (*home)(t), t.l
	defer l.recoverOnLoop()
	l.rechecking.Store(false)
	l.recheck(h)
	h.loop.flushDirty()
	return nil
}

func (t *parkedTask) Run(context.Context) error {
	h, l := (*home)(t), t.l
	defer l.recoverOnLoop()
	if l.st.where(h) == heldHere {
		l.resumeParked(h)
	}
	h.loop.flushDirty()
	return nil
}

func (t *closeTask) Run(context.Context) error {
	h, l := (*home)(t), t.l
	defer l.recoverOnLoop()
	if fd, ok := l.st.closeParked(); ok {
		l.end(&h.loop.worker, fd)
	}
	h.loop.flushDirty()
	return nil
}

// link is the engine's Link for one connection. Fields are owned by whoever
// owns the link in its current phase (see park.go) unless marked atomic.
type link struct {
	srv    *Server
	ec     *engine.Conn
	st     parkState
	src    netip.Addr
	lis    engine.Listener // where it came in; zero when dialed
	tls    *tlsshim.Session
	ws     *wsshim.Session // on a WebSocket listener
	peer   engine.PeerInfo
	plain  *bytebufferpool.ByteBuffer // decoded bytes the engine has not consumed
	parked *bytebufferpool.ByteBuffer // bytes read before parking, fed to the engine first; nil when none
	// Re-checks back off while the socket takes nothing (a receiver that
	// stopped reading): stalls counts them, lastHeld is what was held at
	// the last one, wrote says the last flush put bytes on the socket.
	lastHeld int
	wireSent int32       // bytes of the wire output (wireOutput) already written
	closed   atomic.Bool // ended: the engine was told
	queued   atomic.Bool // a flush task is posted to the loop
	// inDirty says the link waits in a loop's dirty list. Atomic: a loop
	// it left may still clear it while its new loop sets it.
	inDirty    atomic.Bool
	rechecking atomic.Bool // a drain re-check is scheduled
	stalls     uint8
	wrote      bool
	dialed     bool // opened by Dial: the engine Conn waits for Attach
	lingering  bool // a failed WebSocket: input is dropped until the close
	lingerLeft int  // and at most this much more of it
	// bye is the close frame the engine asked for (code, reason), sent on
	// the loop before the connection closes.
	bye     atomic.Pointer[wsBye]
	settled bool // a move next to its peer's loop was considered
}

func newLink(s *Server, src netip.Addr, lis engine.Listener) *link {
	return &link{srv: s, src: src, lis: lis}
}

// attach is OnOpen for the link: it lives on c from now on. False means it
// must not open (closed while opening): the caller returns gnet.Close.
func (l *link) attach(c gnet.Conn, ls *loopState) bool {
	h := &home{l: l, c: c, loop: ls, el: c.EventLoop()}
	c.SetContext(l)
	if !l.st.opened(h) {
		return false
	}
	switch {
	case l.dialed:
		l.dialed = false
		l.ec.Attach(l, l.peer)
		if l.tls != nil {
			_ = c.Wake(nil) // records read during the handshake
		}
	case l.ec != nil:
		// Enrolled again after parking or a move: what the TLS session
		// produced while parked goes first, then what the engine queued,
		// then what is held and what arrived is fed.
		l.flush(h)
		_ = c.Wake(nil)
	}
	return true
}

// receive feeds the engine what is held and what gnet has buffered, on the
// loop.
func (l *link) receive(h *home) gnet.Action {
	w := &h.loop.worker
	if err := l.feedHeld(w); err != nil {
		return l.fail(err)
	}
	if l.ec.Paused() {
		// New input stays in gnet, and goes to the kernel (parking) if
		// it grows: what the relay holds for a paused sender only shrinks.
		return gnet.None
	}
	if l.coded() {
		return l.receiveCoded(h)
	}
	c := h.c
	in, _ := c.Peek(-1)
	if l.parked != nil {
		// What is held is the start of a frame: it needs what follows.
		if len(in) == 0 {
			return gnet.None
		}
		l.holdParked(in)
		discard(c, len(in))
		return l.fail(l.feedHeld(w))
	}
	n, err := l.ec.Receive(w, in)
	discard(c, n)
	return l.fail(err)
}

// receiveCoded decodes all that arrived (TLS records, WebSocket frames)
// and feeds the engine the MSRP bytes; what the engine does not consume
// waits in l.plain. Called only when the engine is not paused, so l.plain
// holds at most the start of a frame before this decoding. What decoding
// answered (a TLS alert, the upgrade's answer, a pong, a close) goes out
// first, an error's last words included.
func (l *link) receiveCoded(h *home) gnet.Action {
	c := h.c
	in, _ := c.Peek(-1)
	arrived := len(in)
	if l.lingering {
		discard(c, arrived)
		if l.lingerLeft -= arrived; l.lingerLeft < 0 {
			return gnet.Close // a peer that keeps sending is not read for long
		}
		return gnet.None
	}
	err := l.decode(in)
	discard(c, arrived)
	l.sendWireLive(c)
	// What was decoded before a close (close_notify, a close frame) or a
	// fault goes to the engine first: a client that writes its last
	// REPORT and closes at once must not lose the REPORT.
	if ferr := l.feedPlain(&h.loop.worker); ferr != nil || err == nil {
		if ferr != nil && l.ws != nil {
			l.ws.Close(1002, "MSRP protocol error") // a clean close that says why
			if l.sealWS() == nil {
				l.sendWireLive(c)
			}
		}
		return l.fail(ferr)
	}
	if l.ws != nil && !errors.Is(err, wsshim.ErrClosed) && !errors.As(err, new(tlsFailure)) {
		return l.linger(h, err)
	}
	return l.fail(err)
}

// lingerTimeout and lingerMax bound how long, and how much, a refused or
// failed WebSocket connection is read and discarded after its last words.
const (
	lingerTimeout = time.Second
	lingerMax     = 64 << 10
)

// linger ends a WebSocket connection whose session failed (a refused
// upgrade, a protocol error, a message too big): its last words (the HTTP
// error or close frame) are out or in gnet's buffer; from now on what the
// peer sends is read and dropped until it closes, for lingerTimeout at
// most. Closing with its bytes unread would reset the connection, and a
// reset can destroy the last words before the peer reads them.
func (l *link) linger(h *home, err error) gnet.Action {
	_ = l.fail(err) // the log line
	l.lingering, l.lingerLeft = true, lingerMax
	if h.c.OutboundBuffered() == 0 && l.wirePending() == 0 {
		_ = unix.Shutdown(h.c.Fd(), unix.SHUT_WR)
	}
	time.AfterFunc(lingerTimeout, l.Close)
	return gnet.None
}

// coded reports whether the socket's bytes are decoded before the engine
// sees them: TLS, WebSocket or both.
func (l *link) coded() bool { return l.tls != nil || l.ws != nil }

// feedHeld gives the engine the input held in memory, oldest first: the
// plaintext a TLS session decrypted, then the bytes read before parking.
// It stops where the engine pauses and never reads the socket, so while
// the engine stays paused the held input only shrinks. Runs on the loop
// that owns the link, attached or parked.
func (l *link) feedHeld(w *engine.Worker) error {
	if !l.coded() {
		if l.parked == nil {
			return nil
		}
		n, err := l.ec.Receive(w, l.parked.B)
		l.consumeParked(n)
		return err
	}
	if err := l.feedPlain(w); err != nil || l.ec.Paused() || l.parked == nil {
		return err
	}
	// The plaintext left, if any, is the start of a frame: decode what
	// was parked behind it.
	err := l.decode(l.parked.B)
	l.dropParked()
	if ferr := l.feedPlain(w); ferr != nil {
		return ferr
	}
	return err
}

// feedPlain gives the engine the decrypted bytes it has not consumed.
func (l *link) feedPlain(w *engine.Worker) error {
	if l.plain == nil {
		return nil
	}
	n, err := l.ec.Receive(w, l.plain.B)
	l.plain.B = l.plain.B[:copy(l.plain.B, l.plain.B[n:])]
	if len(l.plain.B) == 0 {
		plainPool.Put(l.plain)
		l.plain = nil
	}
	return err
}

// tlsFailure marks an error of the TLS session (for the log).
type tlsFailure struct{ error }

func (f tlsFailure) Unwrap() error { return f.error }

// wsFailure marks an error of the WebSocket session (for the log).
type wsFailure struct{ error }

func (f wsFailure) Unwrap() error { return f.error }

// decode appends the MSRP bytes that in carries to l.plain: in is TLS
// records, WebSocket frames, or WebSocket frames in TLS records.
func (l *link) decode(in []byte) error {
	if l.plain == nil {
		l.plain = plainPool.Get()
	}
	if l.ws == nil {
		return l.decrypt(&l.plain.B, in)
	}
	var tlsErr error
	if l.tls != nil {
		clear := plainPool.Get()
		defer plainPool.Put(clear)
		// The records before a close_notify or a bad record still count.
		tlsErr = l.decrypt(&clear.B, in)
		in = clear.B
	}
	var err error
	l.plain.B, err = l.ws.Feed(l.plain.B, in)
	if serr := l.sealWS(); serr != nil {
		return serr
	}
	if err != nil {
		return wsFailure{err}
	}
	return tlsErr
}

// decrypt appends the plaintext of ciphertext to *dst.
func (l *link) decrypt(dst *[]byte, ciphertext []byte) error {
	var err error
	*dst, err = l.tls.Feed(*dst, ciphertext)
	if err != nil {
		return tlsFailure{err}
	}
	return nil
}

// sealWS moves what the WebSocket session wrote into TLS records, when
// both run and the records sealed before are all out: what waits stays
// one flush's worth, and the session's replies (pongs) wait in it, where
// it keeps one at a time, not in TLS output a peer that never reads would
// grow.
func (l *link) sealWS() error {
	if l.tls == nil || l.ws == nil || len(l.ws.Output()) == 0 || len(l.tls.Output()) > 0 {
		return nil
	}
	err := l.tls.Seal(l.ws.Output())
	l.ws.Written()
	if err != nil {
		return tlsFailure{err}
	}
	return nil
}

// parkPool holds the bytes a parked connection had read: a sender paused
// and resumed a hundred times a second by a slow receiver would otherwise
// allocate them afresh each time.
var parkPool bufpool.Pool

// holdParked appends in to the bytes fed to the engine before new ones.
func (l *link) holdParked(in []byte) {
	if len(in) == 0 {
		return
	}
	if l.parked == nil {
		l.parked = parkPool.Get()
	}
	l.parked.B = append(l.parked.B, in...)
	l.srv.parkedBytes(len(in))
}

// consumeParked drops the first n parked bytes, which the engine took.
func (l *link) consumeParked(n int) {
	l.parked.B = l.parked.B[:copy(l.parked.B, l.parked.B[n:])]
	l.srv.parkedBytes(-n)
	if len(l.parked.B) == 0 {
		l.dropParked()
	}
}

func (l *link) dropParked() {
	if l.parked != nil {
		l.srv.parkedBytes(-len(l.parked.B))
		parkPool.Put(l.parked)
		l.parked = nil
	}
}

// releaseCoded returns the sessions' and the plaintext buffers.
func (l *link) releaseCoded() {
	if l.tls != nil {
		l.tls.Release()
	}
	if l.ws != nil {
		l.ws.Release()
	}
	if l.plain != nil {
		plainPool.Put(l.plain)
		l.plain = nil
	}
}

// wireOutput is what the sessions produced for the socket: TLS records
// (WebSocket frames sealed in them), or WebSocket frames; nil for a plain
// link.
func (l *link) wireOutput() []byte {
	switch {
	case l.tls != nil:
		return l.tls.Output()
	case l.ws != nil:
		return l.ws.Output()
	}
	return nil
}

// wireWritten gives the wire output's buffer back once all of it is out.
func (l *link) wireWritten() {
	if l.tls != nil {
		l.tls.Written()
	} else {
		l.ws.Written()
	}
}

// sendWire writes the wire output not yet sent (records, alerts,
// post-handshake messages, WebSocket frames and control replies), with
// write, which takes what the socket takes now; it returns how much is
// left for later.
func (l *link) sendWire(write func([]byte) (int, error)) (int, error) {
	for {
		if err := l.sealWS(); err != nil {
			return l.wirePending(), err
		}
		out := l.wireOutput()
		if len(out) == int(l.wireSent) {
			return 0, nil
		}
		n, err := write(out[l.wireSent:])
		l.wireSent += int32(n)
		l.wrote = l.wrote || n > 0
		if int(l.wireSent) < len(out) || err != nil {
			return l.wirePending(), err
		}
		l.wireWritten()
		l.wireSent = 0
		// All out: WebSocket frames that waited for it are sealed next.
	}
}

// encodeAndSend encodes b (into WebSocket messages ending at ends, into TLS
// records) once what was encoded before is out, then writes what the
// socket takes: the encoded bytes waiting stay one flush's worth, and are
// reported held.
func (l *link) encodeAndSend(b []byte, ends []int, write func([]byte) (int, error)) (taken, held int, err error) {
	if held, err := l.sendWire(write); err != nil || held > 0 {
		return 0, held, err
	}
	if l.ws != nil {
		l.ws.WriteMessages(b, ends)
		err = l.sealWS()
	} else {
		if serr := l.tls.Seal(b); serr != nil {
			err = tlsFailure{serr}
		}
	}
	if err != nil {
		return len(b), 0, err
	}
	held, err = l.sendWire(write)
	return len(b), held, err
}

// wirePending is what the sessions encoded and the socket has not taken,
// WebSocket frames waiting to be sealed included.
func (l *link) wirePending() int {
	n := len(l.wireOutput()) - int(l.wireSent)
	if l.tls != nil && l.ws != nil {
		n += len(l.ws.Output())
	}
	return n
}

// sendWireLive sends the wire output through the live connection, and
// looks again later at what the socket did not take.
func (l *link) sendWireLive(c gnet.Conn) {
	if left, _ := l.sendWire(liveWriter(c)); left > 0 {
		l.scheduleRecheck()
	}
}

// liveWriter writes through gnet as writeSome does.
func liveWriter(c gnet.Conn) func([]byte) (int, error) {
	return func(p []byte) (int, error) {
		n, _ := writeSome(c, p)
		return n, nil
	}
}

var plainPool bufpool.Pool

// discard drops n consumed bytes. gnet's Discard(0) drops everything, so
// zero must not reach it.
func discard(c gnet.Conn, n int) {
	if n > 0 {
		_, _ = c.Discard(n)
	}
}

// fail closes the connection for bad input.
func (l *link) fail(err error) gnet.Action {
	if err == nil {
		return gnet.None
	}
	switch {
	case errors.Is(err, io.EOF):
		// The peer's close_notify: a normal close, not an error.
		l.ec.Log(zerolog.DebugLevel).Msg("peer closed TLS")
	case errors.Is(err, wsshim.ErrClosed):
		l.ec.Log(zerolog.DebugLevel).Msg("peer closed the WebSocket")
	case errors.Is(err, wsshim.ErrRefused):
		l.ec.Note(zerolog.InfoLevel, "closing: WebSocket upgrade refused").Err(err).Send()
	case errors.As(err, new(wsFailure)):
		l.ec.Note(zerolog.InfoLevel, "closing: WebSocket error").Err(err).Send()
	case errors.As(err, new(tlsFailure)):
		l.ec.Note(zerolog.InfoLevel, "closing: TLS error").Err(err).Send()
	default:
		l.ec.Note(zerolog.InfoLevel, "closing: protocol violation").Err(err).Send()
	}
	return gnet.Close
}

// Wake implements engine.Link.
func (l *link) Wake(from *engine.Worker) {
	if l.closed.Load() {
		return
	}
	h := l.st.home.Load()
	if h == nil {
		return
	}
	if ls := h.loop; from == &ls.worker {
		// Woken by its own loop's work: flushed at the end of the callback.
		if l.inDirty.CompareAndSwap(false, true) {
			ls.dirty = append(ls.dirty, l)
		}
		return
	}
	if l.queued.CompareAndSwap(false, true) {
		if err := h.el.Execute(context.Background(), (*flushTask)(h)); err != nil {
			l.queued.Store(false)
		}
	}
}

// flush writes what the engine queued, on h's loop: through gnet while
// the link is live there, straight to the held socket while it is parked
// there. A link opening elsewhere is flushed when it opens.
func (l *link) flush(h *home) {
	switch l.st.where(h) {
	case here:
		l.flushLive(h)
	case heldHere:
		l.flushHeld()
	case moved:
		l.Wake(nil)
	}
}

func (l *link) flushLive(h *home) {
	c := h.c
	l.wrote = false
	if !l.coded() {
		again := l.ec.Flush(func(b []byte) (int, int) {
			taken, held := writeSome(c, b)
			l.wrote = l.wrote || taken > 0
			return taken, held
		})
		l.flushed(again)
		return
	}
	_, _ = l.sendWire(liveWriter(c)) // encoded earlier: before anything new
	l.flushed(l.flushCoded(func(b []byte, ends []int) (int, int) {
		taken, held, err := l.encodeAndSend(b, ends, liveWriter(c))
		if err != nil {
			_ = c.Close()
			return len(b), 0
		}
		if l.closed.Load() {
			return len(b), 0
		}
		return taken, held + c.OutboundBuffered()
	}))
}

// flushCoded asks the engine for its bytes with the frame ends a
// WebSocket link needs.
func (l *link) flushCoded(write func(b []byte, ends []int) (int, int)) (again bool) {
	if l.ws != nil {
		return l.ec.FlushMessages(write)
	}
	return l.ec.Flush(func(b []byte) (int, int) { return write(b, nil) })
}

// flushed ends a flush: the socket took bytes, or the output is looked at
// again shortly.
func (l *link) flushed(again bool) {
	if l.wrote {
		l.stalls = 0
	}
	if again || l.wirePending() > 0 {
		l.scheduleRecheck()
	}
}

// flushHeld writes what the engine queued for a parked link to the held
// socket, as much as it takes now: a parked sender still gets its answers
// while what it sent waits in the kernel.
func (l *link) flushHeld() {
	var failed error
	l.wrote = false
	if l.coded() {
		_, failed = l.sendWire(l.writeHeldFD)
	}
	again := l.flushCoded(func(b []byte, ends []int) (int, int) {
		if failed != nil {
			return len(b), 0
		}
		taken, held, err := l.writeHeld(b, ends)
		if err != nil {
			failed = err
			return len(b), 0
		}
		return taken, held
	})
	if failed != nil {
		l.ec.Log(zerolog.DebugLevel).Err(failed).Msg("parked socket failed")
		l.Close()
		return
	}
	l.flushed(again)
}

// writeHeld writes b to the held socket and reports how much of b it took
// and how many encoded bytes wait. Over TLS or WebSocket, new bytes are
// encoded only once the last encoded ones are out, so what waits stays one
// flush's worth.
func (l *link) writeHeld(b []byte, ends []int) (taken, held int, err error) {
	if l.coded() {
		return l.encodeAndSend(b, ends, l.writeHeldFD)
	}
	n, err := l.writeHeldFD(b)
	l.wrote = l.wrote || n > 0
	return n, 0, err
}

// writeHeldFD writes p to the held socket, what it takes now. A link that
// ended meanwhile has no socket: its bytes count as written, to nobody.
func (l *link) writeHeldFD(p []byte) (int, error) {
	n, ok, err := l.st.writeHeld(p)
	if !ok {
		return len(p), nil
	}
	return n, err
}

// gnetRestMax is the most this driver leaves to gnet's outbound buffer:
// what fits its static ring. gnet keeps anything beyond in buffers it
// allocates per write, with no bound: a fast sender into a slower
// receiver grew the relay's heap with it (see docs/STATUS.md).
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

// scheduleRecheck looks again at the output shortly: gnet reports no
// "drained" event, and paused senders wait for this one to drain.
func (l *link) scheduleRecheck() {
	if !l.rechecking.CompareAndSwap(false, true) {
		return
	}
	time.AfterFunc(recheckDelay<<l.stalls, l.postRecheck)
}

// postRecheck runs on a timer's goroutine: the re-check itself runs on the
// loop that owns the link.
func (l *link) postRecheck() {
	defer l.recoverOffLoop()
	h := l.st.home.Load()
	if err := h.el.Execute(context.Background(), (*recheckTask)(h)); err != nil {
		l.rechecking.Store(false)
	}
}

// recheck flushes again and tells the engine what is still held, backing
// off while the socket takes nothing.
func (l *link) recheck(h *home) {
	p := l.st.where(h)
	if p != here && p != heldHere {
		if p == moved {
			l.Wake(nil)
		}
		return
	}
	drained := l.outHeld(h, p) < l.lastHeld
	if drained {
		l.stalls = 0
	}
	l.flush(h)
	if l.closed.Load() {
		return
	}
	if !drained && !l.wrote && l.stalls < maxRecheckStalls {
		l.stalls++
	}
	l.lastHeld = l.outHeld(h, p)
	// Flush reports what is held only when it wrote; senders waiting on
	// what drained since need it said here.
	if l.ec.Drained(l.lastHeld) {
		l.scheduleRecheck()
	}
}

// outHeld is what was written but not yet taken by the socket: gnet's
// outbound buffer when live, sealed TLS bytes when parked.
func (l *link) outHeld(h *home, p place) int {
	if p == here {
		return h.c.OutboundBuffered() + l.wirePending()
	}
	return l.wirePending()
}

// Resume implements engine.Link.
func (l *link) Resume() {
	if l.closed.Load() {
		return
	}
	switch s, h := l.st.resumeAsked(); s {
	case stepWakeGnet:
		_ = h.el.Execute(context.Background(), (*resumeTask)(h))
	case stepParkedLoop:
		_ = h.el.Execute(context.Background(), (*parkedTask)(h))
	}
}

// Close implements engine.Link.
func (l *link) Close() {
	if l.closed.Load() {
		return
	}
	switch s, h := l.st.closeAsked(); s {
	case stepCloseGnet:
		_ = h.c.Close()
	case stepParkedLoop:
		if err := h.el.Execute(context.Background(), (*closeTask)(h)); err != nil {
			// The loops are stopping: no task will run again.
			if fd, ok := l.st.closeParked(); ok {
				l.end(nil, fd)
			}
		}
	}
}

// park takes a paused connection off the loop: gnet cannot stop reading a
// socket, so the socket is duplicated and the gnet connection closed; the
// kernel buffers the sender from here on. Called in OnTraffic, on the loop.
func (l *link) park(h *home) gnet.Action {
	c := h.c
	if !moveToKernel(c) {
		// The kernel took not all of what gnet holds, and closing now
		// would drop the rest. A sender that keeps flooding meanwhile is
		// cut off once it exceeds four times the bound.
		if c.InboundBuffered() > 4*l.srv.opts.MaxParkedInbound {
			l.ec.Log(zerolog.WarnLevel).Msg("closing: flooding while not reading")
			return gnet.Close
		}
		return gnet.None
	}
	if l.closed.Load() {
		return gnet.None // the flush failed and closed it
	}
	return l.takeOff(h, nil)
}

// moveToKernel empties gnet's outbound buffer into the socket's send
// buffer, enlarged by as much, and reports whether it is empty: closing
// the gnet connection to park it would drop what it holds. gnet holds at
// most gnetRestMax, so a peer that reads nothing (a client pipelining
// requests and never reading the answers) still gets parked, its answers
// and its input both waiting in the kernel.
func moveToKernel(c gnet.Conn) bool {
	ob := c.OutboundBuffered()
	if ob == 0 {
		return true
	}
	// The kernel reports twice the size set (bookkeeping overhead) and
	// doubles what it is given.
	if cur, err := unix.GetsockoptInt(c.Fd(), unix.SOL_SOCKET, unix.SO_SNDBUF); err == nil {
		_ = c.SetWriteBuffer(cur/2 + 2*ob)
	}
	_ = c.Flush()
	return c.OutboundBuffered() == 0
}

// settle moves an endpoint's connection onto the loop of the connection it
// exchanges frames with (its session's owner), once, so that forwarding
// between them is a plain write with no hand-off between loops. The move
// is parking with an immediate resume on the chosen loop. Called in
// OnTraffic on h's loop.
func (l *link) settle(h *home) gnet.Action {
	if l.settled {
		return gnet.None
	}
	p, ok := l.ec.Peer().(*link)
	if !ok {
		return gnet.None
	}
	l.settled = true
	ph := p.st.home.Load()
	if ph == nil || ph.loop == h.loop || h.c.OutboundBuffered() > 0 {
		return gnet.None
	}
	l.ec.Log(zerolog.DebugLevel).Msg("moving next to the session owner's event loop")
	return l.takeOff(h, ph.el)
}

// takeOff starts parking: a duplicate of the socket is held, what gnet
// buffered is kept, and the returned gnet.Close takes the gnet connection
// away. moveTo, when set, is where to enroll at once.
func (l *link) takeOff(h *home, moveTo gnet.EventLoop) gnet.Action {
	fd, err := h.c.Dup()
	if err != nil {
		return gnet.None
	}
	if !l.st.parkStarts(fd, moveTo) {
		_ = unix.Close(fd) // a close was asked: it goes ahead
		return gnet.None
	}
	l.srv.parkedLinks.Store(l, struct{}{})
	in, _ := h.c.Peek(-1)
	l.holdParked(in)
	discard(h.c, len(in))
	// A resume that came since the engine paused found the link live and
	// woke a connection that is going away: it must not be lost.
	if moveTo != nil || !l.ec.Paused() {
		l.st.resumeAsked()
	}
	return gnet.Close
}

// resumeParked runs on a parked link's loop when the engine resumed it:
// the engine gets what the link holds, and the socket goes back to gnet
// only once the engine has taken all it could and asks for more. A sender
// the engine pauses again stays parked, its new input in the kernel.
func (l *link) resumeParked(h *home) {
	w := &h.loop.worker
	err := l.feedHeld(w)
	if l.coded() {
		// What decoding produced (alerts, key updates, pongs, a close).
		if _, serr := l.sendWire(l.writeHeldFD); err == nil {
			err = serr
		}
	}
	if err != nil {
		l.fail(err)
		if fd, ok := l.st.closeParked(); ok {
			l.end(w, fd)
		}
		return
	}
	if l.ec.Paused() {
		return // the next Resume comes back here
	}
	switch s, fd, to := l.st.enrollStarts(); s {
	case stepEnroll:
		l.srv.parkedLinks.Delete(l)
		// Enrolling waits for the target loop: never on a loop.
		go l.unpark(fd, to)
	case stepEnd:
		l.end(w, fd)
	}
}

// errPeerGone: the socket lost its peer while parked.
var errPeerGone = errors.New("the peer reset the connection while it was parked")

// unpark puts a parked socket back on a loop: the one it is moving to, or
// any (gnet balances). It owns the link until gnet's OnOpen.
func (l *link) unpark(fd int, to gnet.EventLoop) {
	var nc net.Conn
	defer l.recoverHandOff(&nc)
	f := os.NewFile(uintptr(fd), "parked")
	nc, err := net.FileConn(f)
	_ = f.Close()
	if err != nil {
		l.enrollFailed(err)
		return
	}
	defer nc.Close() // gnet enrolls a duplicate
	if nc.RemoteAddr() == nil {
		// getpeername failed (ENOTCONN after a reset), and gnet
		// dereferences the peer's address in its own goroutine.
		l.enrollFailed(errPeerGone)
		return
	}
	if to == nil {
		_, err = l.srv.cli.EnrollContext(nc, l)
	} else {
		err = enrollOn(to, nc, l)
	}
	if err != nil {
		l.enrollFailed(err)
	}
}

// errEnrollLost: gnet's enroll goroutine ended without a result (it
// recovers its own panics and closes the channel).
var errEnrollLost = errors.New("gnet's enroll ended without a result")

// enrollOn enrolls nc on el and waits for the result.
func enrollOn(el gnet.EventLoop, nc net.Conn, l *link) error {
	ch, err := el.Enroll(gnet.NewContext(context.Background(), l), nc)
	if err != nil {
		return err
	}
	res, ok := <-ch
	switch {
	case !ok:
		return errEnrollLost
	case res.Err != nil:
		return res.Err
	}
	return nil
}

// enrollFailed ends a link whose socket gnet did not take, unless it
// opened or ended meanwhile.
func (l *link) enrollFailed(err error) {
	if !l.st.enrollFailed() {
		return
	}
	if l.ec != nil {
		l.ec.Log(zerolog.InfoLevel).Err(err).Msg("closing: could not put the connection back on a loop")
	} else {
		l.srv.log.Warn().Err(err).Msg("enroll")
	}
	l.end(nil, -1)
}

// end ends the link, once: its state entered closed and its caller is the
// link's owner. fd is a held descriptor to close, or -1.
func (l *link) end(w *engine.Worker, fd int) {
	if fd >= 0 {
		_ = unix.Close(fd)
		l.srv.parkedLinks.Delete(l) // only a parked link holds one
	}
	l.closed.Store(true)
	l.dropParked()
	l.tellClosed(w)
	l.releaseCoded()
	l.srv.Release(l.src)
}

// tellClosed tells the engine the connection is gone. A panic there is
// the engine's (state a bug left half-changed): it is recorded, and the
// driver's side still ends.
func (l *link) tellClosed(w *engine.Worker) {
	if l.ec == nil {
		return
	}
	defer func() {
		if v := recover(); v != nil {
			l.srv.relay.Panicked(l.ec, v)
		}
	}()
	l.ec.Closed(w)
}

// Ping implements engine.Pinger: a quiet WebSocket peer is pinged from its
// loop.
func (l *link) Ping() {
	if l.ws == nil || l.closed.Load() {
		return
	}
	if h := l.st.home.Load(); h != nil {
		_ = h.el.Execute(context.Background(), (*pingTask)(h))
	}
}

// ping queues a Ping frame on h's loop and writes it with what the engine
// queued, live or parked.
func (l *link) ping(h *home) {
	switch l.st.where(h) {
	case here, heldHere:
	case moved:
		l.Ping()
		return
	default:
		return
	}
	l.ws.Ping()
	if err := l.sealWS(); err != nil {
		l.Close()
		return
	}
	l.flush(h)
	h.loop.flushDirty()
}

// wsBye is a WebSocket close frame to send.
type wsBye struct {
	code   uint16
	reason string
}

// CloseWith implements engine.Farewell: the close frame goes out on the
// link's loop, after what the engine queued, and then the link closes.
func (l *link) CloseWith(code uint16, reason string) {
	h := l.st.home.Load()
	if l.ws == nil || l.closed.Load() || h == nil || !l.bye.CompareAndSwap(nil, &wsBye{code, reason}) {
		l.Close()
		return
	}
	if err := h.el.Execute(context.Background(), (*byeTask)(h)); err != nil {
		l.Close()
	}
}

// sayBye writes the close frame the engine asked for, live or parked, and
// closes the link.
func (l *link) sayBye(h *home) {
	switch l.st.where(h) {
	case here, heldHere:
	case moved:
		if nh := l.st.home.Load(); nh != nil && nh.el.Execute(context.Background(), (*byeTask)(nh)) == nil {
			return
		}
		l.Close()
		return
	default:
		l.Close()
		return
	}
	l.flush(h) // what the engine queued goes first
	b := l.bye.Load()
	l.ws.Close(b.code, b.reason)
	if l.sealWS() == nil {
		if l.st.where(h) == here {
			l.sendWireLive(h.c)
		} else {
			_, _ = l.sendWire(l.writeHeldFD)
		}
	}
	l.Close()
	h.loop.flushDirty()
}
