package engine

import (
	"sync/atomic"

	"github.com/msrprelay/msrprelay/codec"
)

// Fairness on connections shared between relays.
//
// One connection to a next hop carries every session that crosses it. If
// the relay at its far end stopped reading it whenever one session's
// receiver was slow, every other session on it would stall too. Instead:
//
//   - The receiving relay keeps reading a shared connection while the
//     chunk's target is congested, and holds the chunk's hop-by-hop 200
//     back until that target drains (out.holdAck).
//   - The sending relay counts, per client, the bytes of chunks it put on
//     shared connections whose 200 has not come back (window), and
//     pauses that client beyond Config.RelayWindow (Conn.checkWindow).
//     Long chunks are cut into pieces of a quarter window so that 200s
//     flow while they arrive.
//   - A peer that ignores the window (or sends without asking for 200s,
//     Failure-Report no or partial) is stopped at HighWater plus four
//     windows queued toward one target: then its connection is paused,
//     as any sender's would be. Memory stays bounded either way.

// relayPiece is the longest piece of a chunk sent on a shared connection.
func relayPiece(cfg *Config) int64 { return cfg.RelayWindow / 4 }

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

// sharedLimit is the backlog toward one target past which a shared
// connection sending to it is paused after all.
func sharedLimit(cfg *Config) int64 { return cfg.HighWater + 4*cfg.RelayWindow }

// fullForShared is full for a sender on a shared connection.
func (o *out) fullForShared(cfg *Config) bool {
	return o.backlog() >= sharedLimit(cfg) || o.txns.len() >= cfg.MaxPendingTransactions || o.txns.bytes() >= cfg.HighWater
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

// window is a client's credit on shared connections: the bytes of its
// chunks put there whose 200 has not come back yet.
type window struct {
	inflight atomic.Int64
	waiting  atomic.Bool // the client is paused until half the window is free
}

// take counts n bytes of a chunk put on a shared connection.
func (w *window) take(n int64) { w.inflight.Add(n) }

// over reports whether more than size bytes wait for their 200s.
func (w *window) over(size int64) bool { return w.inflight.Load() > size }

// wait marks the client as paused for its window. It reports false when
// half the window came back meanwhile, so the client need not pause:
// give, having seen no one waiting, will resume no one.
func (w *window) wait(size int64) bool {
	w.waiting.Store(true)
	return w.inflight.Load() >= size/2 || !w.waiting.CompareAndSwap(true, false)
}

// give ends n bytes' share of the window. It reports whether the client
// waited and half the window is free now: the caller resumes it.
func (w *window) give(n, size int64) (resume bool) {
	return w.inflight.Add(-n) < size/2 && w.waiting.CompareAndSwap(true, false)
}

// heldAck is a hop-by-hop 200 held back from a relay sending to a
// congested target.
type heldAck struct {
	to    *out
	b     []byte
	since int64
}

// maxHeldAcks bounds the 200s one target holds; past it they go at once
// and only the backlog bound (sharedLimit) holds the sender.
const maxHeldAcks = 4096

// holdAck keeps b, the 200 for a chunk from the shared connection to,
// until this connection drains; it reports false when the 200 should go at
// once (nothing congested here, or too many held already).
func (o *out) holdAck(to *out, b []byte) bool {
	cfg := o.owner.config()
	o.mu.Lock()
	hold := !o.closed && o.full(cfg) && len(o.acks) < maxHeldAcks
	if hold {
		o.acks = append(o.acks, heldAck{to: to, b: append([]byte(nil), b...), since: o.owner.now()})
	}
	o.mu.Unlock()
	return hold
}

// releaseAcks sends every held 200. Called when this connection drained,
// closed, or before a failure REPORT about a chunk sent to it: a REPORT
// must not reach a sender before the 200 for the chunk it reports on.
func (o *out) releaseAcks(w *Worker) {
	o.mu.Lock()
	acks := o.acks
	o.acks = nil
	o.mu.Unlock()
	sendAcks(w, acks)
}

// releaseAgedAcks sends the 200s held longer than half a transaction
// timeout: the relay that sent the chunk would otherwise time it out and
// report a failure for bytes that are only slow.
func (o *out) releaseAgedAcks(w *Worker, now int64) {
	limit := int64(o.owner.config().TransactionTimeout / 2)
	o.mu.Lock()
	n := 0
	for n < len(o.acks) && now-o.acks[n].since >= limit {
		n++
	}
	var aged []heldAck
	if n > 0 {
		aged = append(aged, o.acks[:n]...)
		o.acks = append(o.acks[:0], o.acks[n:]...)
	}
	o.mu.Unlock()
	sendAcks(w, aged)
}

func sendAcks(w *Worker, acks []heldAck) {
	for _, a := range acks {
		a.to.writeFrame(w, nil, a.b)
	}
}

// hasAcks reports whether 200s are held here. Called with mu held.
func (o *out) hasAcks() bool { return len(o.acks) > 0 }

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
