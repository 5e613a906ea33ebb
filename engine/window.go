package engine

import "sync/atomic"

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

// sharedLimit is the backlog toward one target past which a shared
// connection sending to it is paused after all.
func sharedLimit(cfg *Config) int64 { return cfg.HighWater + 4*cfg.RelayWindow }

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

// heldAcks are the 200s one out holds, oldest first. Guarded by the out's
// mutex.
type heldAcks []heldAck

// hold keeps a copy of b, the 200 for a chunk from the shared connection
// whose out is to; false when too many are held already.
func (h *heldAcks) hold(to *out, b []byte, now int64) bool {
	if len(*h) >= maxHeldAcks {
		return false
	}
	*h = append(*h, heldAck{to: to, b: append([]byte(nil), b...), since: now})
	return true
}

// all hands over every held 200.
func (h *heldAcks) all() []heldAck {
	acks := *h
	*h = nil
	return acks
}

// aged hands over the 200s held for limit or longer at now.
func (h *heldAcks) aged(now, limit int64) []heldAck {
	n := 0
	for n < len(*h) && now-(*h)[n].since >= limit {
		n++
	}
	if n == 0 {
		return nil
	}
	aged := append([]heldAck(nil), (*h)[:n]...)
	*h = append((*h)[:0], (*h)[n:]...)
	return aged
}

// sendAcks writes each 200 to the out it goes to.
func sendAcks(w *Worker, acks []heldAck) {
	for _, a := range acks {
		a.to.writeFrame(w, nil, a.b)
	}
}
