package engine

import (
	"bytes"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/bytebufferpool"

	"github.com/msrprelay/msrprelay/codec"
	"github.com/msrprelay/msrprelay/internal/bufpool"
)

// minChunk is the body size below which a relay should not cut a chunk
// (RFC 4975 §7.1.1: senders SHOULD NOT make chunks smaller than 2048
// octets, except the last).
const minChunk = 2048

// Pools, one per kind of buffer: wire bytes waiting for a driver, and
// frames or stream bodies waiting behind an open chunk. They keep buffers
// up to maxPooled (package bufpool says why not bytebufferpool.Pool).
var (
	pendingPool = bufpool.Pool{Max: maxPooled}
	waitPool    = bufpool.Pool{Max: maxPooled}
)

// maxPooled is a few times the default high-water mark: buffers beyond
// it come from rare huge frames and are left to the collector.
const maxPooled = 4 << 20

// out is one connection's outbound side: the multiplexer that puts frames
// from many sources onto one wire in an order the receiver can parse.
//
// At most one chunk is open on the wire at a time (its header written, its
// end-line not yet). Whatever arrives for the connection meanwhile waits in
// queue; if the open chunk is a SEND we may cut (its Byte-Range end says
// '*'), it is cut with '+' as soon as it has carried minChunk bytes, the
// waiting items go out, and the rest of it follows as a new chunk with a
// new transaction id (RFC 4975 §7.1.1, RFC 4976 §6.4.1).
type out struct {
	mu      sync.Mutex
	owner   outOwner
	pending *bytebufferpool.ByteBuffer // wire bytes for the driver, in order
	open    *stream
	queue   []outItem
	closed  bool
	woken   bool // a Flush is already asked for
	taken   bool // a Flush is writing the pending bytes (take to release)

	// size is every byte queued here (pending, waiting frames, stream
	// buffers); held is what the driver reported it still holds unsent.
	size atomic.Int64
	held atomic.Int64

	waiters []sender // paused senders to resume when this drains
	txns    txnTable
	// streams are the chunks attached here and not yet ended: open,
	// queued, or idle between a cut and their sender's next bytes. A
	// close must fail every one of them, idle ones included.
	streams []*stream
	// acks are hop-by-hop 200s held back from relays sending to this
	// congested connection (window.go).
	acks heldAcks
	// ends are where frames end in pending, for a link that sends each
	// frame as one message (websocket.go).
	ends messageEnds
}

// outOwner is what an out asks of the connection it belongs to (*Conn):
// the out reaches no further up than this.
type outOwner interface {
	// now is the relay's clock, in nanoseconds.
	now() int64
	// config is the relay's policy: the out's limits and timeouts.
	config() *Config
	// shared reports whether the connection carries other relays'
	// traffic (window.go).
	shared() bool
	// wake asks the connection's driver for a Flush.
	wake(from *Worker)
	// failTxn ends a transaction that will get no good response.
	failTxn(from *Worker, t *txn, code int, reason string)
}

// sender is a connection sending toward an out: it is resumed once the
// out drains, and a chunk it stopped feeding is cut short.
type sender interface {
	Paused() bool
	// lastHeard is when bytes last arrived on it (the relay's clock).
	lastHeard() int64
	resume()
}

// outItem is a waiting complete frame (buf) or a stream with data (st).
type outItem struct {
	buf *bytebufferpool.ByteBuffer
	txn *txn
	st  *stream
}

// backlog is what a sender weighs before sending more.
func (o *out) backlog() int64 { return o.size.Load() + o.held.Load() }

// full reports whether senders to this connection must pause: too many
// bytes queued, or too many transactions waiting for its answers, or
// transactions holding too many bytes (each keeps its origin's From-Path,
// which may be many kilobytes).
func (o *out) full(cfg *Config) bool {
	return o.backlog() >= cfg.HighWater || o.txns.len() >= cfg.MaxPendingTransactions || o.txns.bytes() >= cfg.HighWater
}

// lowEnough reports whether paused senders may resume.
func (o *out) lowEnough(cfg *Config) bool {
	return o.backlog() < cfg.LowWater && o.txns.len() < cfg.MaxPendingTransactions && o.txns.bytes() < cfg.HighWater
}

// fullForShared is full for a sender on a shared connection.
func (o *out) fullForShared(cfg *Config) bool {
	return o.backlog() >= sharedLimit(cfg) || o.txns.len() >= cfg.MaxPendingTransactions || o.txns.bytes() >= cfg.HighWater
}

// writeFrame queues one complete frame made of parts, and registers t (may
// be nil) as the transaction awaiting its response once it reaches the
// wire. It reports whether the connection still takes frames.
func (o *out) writeFrame(from *Worker, t *txn, parts ...[]byte) bool {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return false
	}
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	o.size.Add(int64(n))
	if o.open == nil && len(o.queue) == 0 {
		b := o.pendingBuf()
		for _, p := range parts {
			b.B = append(b.B, p...)
		}
		o.ends.mark(len(b.B))
		o.addTxn(t, o.owner.now())
	} else {
		b := waitPool.Get()
		for _, p := range parts {
			b.B = append(b.B, p...)
		}
		o.queue = append(o.queue, outItem{buf: b, txn: t})
		o.maybeCut(false)
	}
	o.unlockAndWake(from)
	return true
}

// addTxn registers t as awaiting its response here. A SEND that a client
// put on a shared connection, asking for a 200, takes window credit from
// that client until the transaction ends (freeTxn gives it back).
// Called with mu held.
func (o *out) addTxn(t *txn, now int64) {
	if t == nil {
		return
	}
	o.txns.add(t, now)
	if t.kind != txnSend || t.fr != codec.ReportYes || t.rng.End < t.rng.Start || t.credit > 0 {
		return
	}
	if org := t.origin; org != nil && !org.shared() && o.owner.shared() {
		t.credit = t.rng.End - t.rng.Start + 1
		org.window.take(t.credit)
	}
}

func (o *out) pendingBuf() *bytebufferpool.ByteBuffer {
	if o.pending == nil {
		o.pending = pendingPool.Get()
	}
	return o.pending
}

// askFlush reports whether the driver must be asked for a Flush: once per
// batch of queued bytes. Called with mu held.
func (o *out) askFlush() bool {
	if o.woken || o.pending == nil || len(o.pending.B) == 0 {
		return false
	}
	o.woken = true
	return true
}

// maybeCut cuts the open chunk if something waits behind it and the chunk
// may be cut: it is a SEND whose Byte-Range end we wrote as '*', and it has
// carried minChunk bytes (or force: its sender has nothing more right now).
func (o *out) maybeCut(force bool) {
	st := o.open
	if st == nil || len(o.queue) == 0 || st.chunkBody == 0 {
		return
	}
	if st.chunkBody < minChunk && !force && !o.stalled(st) {
		return
	}
	o.cutPiece(st)
	st.queued = true
	o.queue = append(o.queue, outItem{st: st})
	o.drainQueue()
}

// stallCut is how long a chunk's sender may send nothing before what
// waits behind the chunk goes first, however little of it was sent.
const stallCut = 100 * time.Millisecond

// stalled reports whether st's sender has stopped: paused by backpressure
// (possibly on this very connection, whose backlog then waits behind st),
// or silent for stallCut. Cutting a chunk short is a SHOULD NOT of RFC
// 4975 §7.1.1; holding a connection for a stalled sender is worse.
func (o *out) stalled(st *stream) bool {
	s := st.sender
	return s != nil && (s.Paused() || o.owner.now()-s.lastHeard() >= int64(stallCut))
}

// cutStalled cuts the open chunk if its sender stalled while something
// waits behind it; the timers call it.
func (o *out) cutStalled(from *Worker) {
	o.mu.Lock()
	if st := o.open; st != nil && len(o.queue) > 0 && o.stalled(st) {
		o.maybeCut(true)
	}
	o.unlockAndWake(from)
}

// cutPiece ends st's open piece with '+': the rest of its chunk follows as
// a new piece with its own transaction.
func (o *out) cutPiece(st *stream) {
	b := o.pendingBuf()
	n := len(b.B)
	b.B = codec.AppendBodyEnd(b.B, st.tid.bytes(), '+')
	o.ends.mark(len(b.B))
	o.size.Add(int64(len(b.B) - n))
	o.addTxn(st.pieceTxn(), o.owner.now())
	st.nextPiece()
	o.open = nil
}

// pieceLimit is the longest piece of a chunk this connection takes: a
// WebSocket client's message limit, a relay's quarter window, or none
// (0). Called with mu held.
func (o *out) pieceLimit() int64 {
	cfg := o.owner.config()
	switch {
	case o.ends.on:
		return cfg.WSMaxChunk
	case o.owner.shared():
		return relayPiece(cfg)
	}
	return 0
}

// pieceRoom is how many of n more body bytes of st fit in its open piece.
// Called with mu held.
func (o *out) pieceRoom(st *stream, n int) int {
	limit := o.pieceLimit()
	if limit == 0 || int64(n) <= limit-st.chunkBody || st.chunkBody >= limit {
		return n
	}
	return int(limit - st.chunkBody)
}

// cutLongPiece cuts the open piece of st once it carried pieceLimit
// bytes, before more of it is written: on a shared connection so that its
// 200 comes back while the rest of the chunk is still arriving, toward a
// WebSocket client so that each piece fits one message. What waits behind
// st goes first. Called with mu held.
func (o *out) cutLongPiece(st *stream) {
	limit := o.pieceLimit()
	if o.open != st || !st.headerOut || limit == 0 || st.chunkBody < limit {
		return
	}
	o.cutPiece(st)
	if len(o.queue) == 0 {
		o.open = st
		return
	}
	o.drainQueue()
}

// drainQueue moves waiting items onto the wire until a chunk stays open.
func (o *out) drainQueue() {
	for o.open == nil && len(o.queue) > 0 {
		it := o.queue[0]
		o.queue[0] = outItem{}
		o.queue = o.queue[1:]
		if len(o.queue) == 0 {
			o.queue = o.queue[:0:0]
		}
		if it.st == nil {
			b := o.pendingBuf()
			b.B = append(b.B, it.buf.B...)
			o.ends.mark(len(b.B))
			waitPool.Put(it.buf)
			o.addTxn(it.txn, o.owner.now())
			continue
		}
		st := it.st
		st.queued = false
		if len(st.wait.B) == 0 && !st.ended {
			continue // idle: it re-enters the queue when data arrives
		}
		o.open = st
		n := o.pieceRoom(st, len(st.wait.B))
		o.writeStreamData(st, st.wait.B[:n])
		if n < len(st.wait.B) {
			// The piece is as long as this connection takes: the
			// rest waits for its turn again.
			st.wait.B = st.wait.B[:copy(st.wait.B, st.wait.B[n:])]
			o.cutPiece(st)
			st.queued = true
			o.queue = append(o.queue, outItem{st: st})
			continue
		}
		st.wait.B = st.wait.B[:0]
		if st.ended {
			o.finishStream(st)
		}
	}
}

// writeStreamData puts body bytes of the open stream on the wire, writing
// the chunk's header first if this is the chunk's first byte.
func (o *out) writeStreamData(st *stream, p []byte) {
	o.writeStreamHeader(st)
	b := o.pendingBuf()
	b.B = append(b.B, p...)
	st.chunkBody += int64(len(p))
}

// writeStreamHeader writes the open chunk's header once, before its first
// body byte or its end-line. Like every byte the out writes itself, it
// counts in size, which release takes it out of again.
func (o *out) writeStreamHeader(st *stream) {
	if st.headerOut {
		return
	}
	b := o.pendingBuf()
	n := len(b.B)
	b.B = st.appendHeader(b.B)
	o.size.Add(int64(len(b.B) - n))
	st.headerOut = true
}

// finishStream writes the open stream's end-line and closes it.
func (o *out) finishStream(st *stream) {
	o.writeStreamHeader(st)
	b := o.pendingBuf()
	n := len(b.B)
	b.B = codec.AppendBodyEnd(b.B, st.tid.bytes(), st.flag)
	o.ends.mark(len(b.B))
	o.size.Add(int64(len(b.B) - n))
	o.addTxn(st.pieceTxn(), o.owner.now())
	st.done = true
	o.detach(st)
	o.open = nil
	o.drainQueue()
}

// detach forgets a stream that ended. Called with mu held.
func (o *out) detach(st *stream) {
	for i, s := range o.streams {
		if s == st {
			last := len(o.streams) - 1
			o.streams[i] = o.streams[last]
			o.streams[last] = nil
			o.streams = o.streams[:last]
			if last == 0 {
				o.streams = nil
			}
			return
		}
	}
}

// startStream attaches a new stream. Its bytes come with streamData.
func (o *out) startStream(st *stream) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return false
	}
	o.streams = append(o.streams, st)
	return true
}

// streamData queues body bytes of st (copied).
func (o *out) streamData(from *Worker, st *stream, p []byte) {
	o.mu.Lock()
	st.received += int64(len(p))
	if o.closed || st.done {
		o.mu.Unlock()
		return
	}
	o.size.Add(int64(len(p)))
	for {
		if o.onWire(st) {
			o.cutLongPiece(st)
		}
		if !o.onWire(st) {
			st.wait.B = append(st.wait.B, p...)
			o.queueStream(st)
			break
		}
		n := o.pieceRoom(st, len(p))
		o.writeStreamData(st, p[:n])
		if p = p[n:]; len(p) == 0 {
			break
		}
	}
	o.unlockAndWake(from)
}

// streamEnd ends st with flag once all its bytes are out.
func (o *out) streamEnd(from *Worker, st *stream, flag byte) {
	o.mu.Lock()
	if o.closed || st.done {
		t, status := st.droppedTxn(), st.failed
		st.failed = nil
		o.mu.Unlock()
		if t != nil {
			o.owner.failTxn(from, t, status.code, status.reason)
		}
		return
	}
	st.ended, st.flag = true, flag
	if o.onWire(st) {
		o.finishStream(st)
	} else {
		o.queueStream(st)
	}
	o.unlockAndWake(from)
}

// collide handles a body that contains the stream's own end-line prefix:
// the open piece (which may hold bytes up to the collision) is ended, and
// later pieces use a fresh prefix, which the sender then watches instead.
func (o *out) collide(from *Worker, st *stream) (newPrefix tid) {
	o.mu.Lock()
	if o.open == st && st.headerOut {
		o.cutPiece(st)
		if len(o.queue) > 0 {
			st.queued = true
			o.queue = append(o.queue, outItem{st: st})
			o.drainQueue()
		} else {
			o.open = st
		}
	}
	// Bytes waiting to go out under the new prefix must not hold it.
	for newTIDPrefix(&st.prefix); bytes.Contains(st.wait.B, st.prefix.bytes()); {
		newTIDPrefix(&st.prefix)
	}
	st.tid.withPiece(&st.prefix, st.pieces)
	if st.pieces == 0 && !st.headerOut {
		// The first piece's header is kept whole in hdr, tid included:
		// it must carry the new one too (same length).
		copy(st.hdr.B[len("MSRP "):], st.tid.bytes())
	}
	p := st.prefix
	o.unlockAndWake(from)
	return p
}

// onWire reports whether st's bytes may go on the wire now: its chunk is
// the open one, or nothing else is open or waiting. Called with mu held.
func (o *out) onWire(st *stream) bool {
	if o.open == st {
		return true
	}
	if o.open == nil && len(o.queue) == 0 {
		o.open = st
		return true
	}
	return false
}

// queueStream puts st in line behind the open chunk (once) and cuts that
// chunk if it may be cut. Called with mu held.
func (o *out) queueStream(st *stream) {
	if !st.queued {
		st.queued = true
		o.queue = append(o.queue, outItem{st: st})
	}
	o.maybeCut(false)
}

// unlockAndWake releases mu and asks the driver for a flush if bytes are
// waiting and none is asked for yet.
func (o *out) unlockAndWake(from *Worker) {
	wake := o.askFlush()
	o.mu.Unlock()
	if wake {
		o.owner.wake(from)
	}
}

// yield is called when a stream's sender has nothing more for now: if others
// wait behind its open chunk, cut it even if short, so a stalled sender
// cannot hold the connection.
func (o *out) yield(from *Worker, st *stream) {
	o.mu.Lock()
	if o.open != st || len(o.queue) == 0 {
		o.mu.Unlock()
		return
	}
	o.maybeCut(true)
	o.unlockAndWake(from)
}

// take hands the driver the queued wire bytes, and where frames end in
// them on a framed connection; it must return the buffer with release.
func (o *out) take() (*bytebufferpool.ByteBuffer, []int) {
	o.mu.Lock()
	b := o.pending
	o.pending = nil
	o.woken = false
	o.taken = b != nil
	ends := o.ends.take()
	o.mu.Unlock()
	return b, ends
}

// hasPending reports whether wire bytes wait for the driver.
func (o *out) hasPending() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.pending != nil && len(o.pending.B) > 0
}

// release returns the buffer take handed out, of which the driver took
// the first taken bytes; the rest goes back in front of whatever was queued
// meanwhile. It reports whether bytes were left.
func (o *out) release(b *bytebufferpool.ByteBuffer, taken, held int) (left bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.taken = false
	o.size.Add(-int64(taken))
	o.held.Store(int64(held))
	if taken >= len(b.B) {
		o.ends.released(taken, 0)
		pendingPool.Put(b)
		return false
	}
	if o.closed {
		o.size.Add(-int64(len(b.B) - taken))
		pendingPool.Put(b)
		return false
	}
	o.ends.released(taken, len(b.B)-taken)
	b.B = b.B[:copy(b.B, b.B[taken:])]
	if o.pending != nil {
		b.B = append(b.B, o.pending.B...)
		pendingPool.Put(o.pending)
	}
	o.pending = b
	return true
}

// addWaiter records a paused sender to resume when this drains. It reports
// false when the connection has drained already (resume at once).
func (o *out) addWaiter(s sender) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed || o.lowEnough(o.owner.config()) {
		return false
	}
	for _, w := range o.waiters {
		if w == s {
			return true
		}
	}
	o.waiters = append(o.waiters, s)
	return true
}

// drained resumes paused senders once the backlog is below LowWater. It
// reports whether senders still wait (the driver should look again later).
func (o *out) drained() (stillWaiting bool) {
	o.mu.Lock()
	if len(o.waiters) == 0 && len(o.acks) == 0 {
		o.mu.Unlock()
		return false
	}
	if !o.lowEnough(o.owner.config()) {
		o.mu.Unlock()
		return true
	}
	ws, acks := o.waiters, o.acks.all()
	o.waiters = nil
	o.mu.Unlock()
	sendAcks(nil, acks)
	for _, w := range ws {
		w.resume()
	}
	return false
}

// holdAck keeps b, the 200 for a chunk from the shared connection to,
// until this connection drains; it reports false when the 200 should go at
// once (nothing congested here, or too many held already).
func (o *out) holdAck(to *out, b []byte) bool {
	cfg := o.owner.config()
	o.mu.Lock()
	hold := !o.closed && o.full(cfg) && o.acks.hold(to, b, o.owner.now())
	o.mu.Unlock()
	return hold
}

// releaseAcks sends every held 200. Called when this connection drained,
// closed, or before a failure REPORT about a chunk sent to it: a REPORT
// must not reach a sender before the 200 for the chunk it reports on.
func (o *out) releaseAcks(w *Worker) {
	o.mu.Lock()
	acks := o.acks.all()
	o.mu.Unlock()
	sendAcks(w, acks)
}

// releaseAgedAcks sends the 200s held longer than half a transaction
// timeout: the relay that sent the chunk would otherwise time it out and
// report a failure for bytes that are only slow.
func (o *out) releaseAgedAcks(w *Worker, now int64) {
	limit := int64(o.owner.config().TransactionTimeout / 2)
	o.mu.Lock()
	aged := o.acks.aged(now, limit)
	o.mu.Unlock()
	sendAcks(w, aged)
}

// shut closes the out: queued bytes are dropped, streams end (what their
// senders still send is reported failed with status once they end the
// chunk), waiting transactions fail, paused senders resume (to find the
// target gone).
func (o *out) shut(status *refusal) (failed []*txn, waiters []sender, acks []heldAck) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return nil, nil, nil
	}
	o.closed = true
	o.ends.at = nil
	if o.pending != nil {
		o.size.Add(-int64(len(o.pending.B)))
		pendingPool.Put(o.pending)
		o.pending = nil
	}
	now := o.owner.now()
	if o.open != nil && o.open.headerOut {
		o.addTxn(o.open.pieceTxn(), now)
	}
	for _, it := range o.queue {
		if it.buf != nil {
			o.size.Add(-int64(len(it.buf.B)))
			waitPool.Put(it.buf)
			o.addTxn(it.txn, now)
		} else if it.st != o.open {
			o.size.Add(-int64(len(it.st.wait.B)))
		}
	}
	// Every chunk not finished on the wire (on it, waiting or idle after
	// a cut) fails from its first byte not in a piece already sent. One
	// its sender already ended waits in the queue and will hear nothing
	// more from its sender: its failure goes with the others now.
	var ended []*txn
	for _, st := range o.streams {
		st.fail(status)
		if st.ended {
			if t := st.droppedTxn(); t != nil {
				ended = append(ended, t)
			}
			st.failed, st.done = nil, true
		}
	}
	o.streams = nil
	o.queue = nil
	o.open = nil
	waiters, o.waiters = o.waiters, nil
	acks = o.acks.all()
	return append(o.txns.drain(), ended...), waiters, acks
}
