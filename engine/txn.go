package engine

import (
	"sync"
	"sync/atomic"

	"github.com/msrprelay/msrprelay/codec"
)

// txnKind says what a response to a forwarded request means.
type txnKind uint8

const (
	// txnSend: a SEND chunk. Responses are hop by hop: absorb the 200, turn
	// an error or silence into a failure REPORT as Failure-Report asks.
	txnSend txnKind = iota
	// txnEndToEnd: another method (AUTH through this relay, NICKNAME,
	// unknown ones). The response travels back to the origin.
	txnEndToEnd
	// txnAuth: like txnEndToEnd, but silence gets a 408 answer: a client
	// must never wait for an AUTH forever.
	txnAuth
)

// refusal is the status a request is refused or failed with, and why:
// route refusals answer it at once, a transaction that gets no good
// response carries it back to its origin.
type refusal struct {
	code   int
	reason string
}

// txn is a request this relay forwarded and the way back to its origin.
type txn struct {
	key     tid
	kind    txnKind
	origin  *Conn
	origTID tid
	fr      codec.Report
	rng     codec.ByteRange
	sent    int64 // unix nanos when it reached the wire
	credit  int64 // window bytes the origin gets back when it ends (window.go)
	// data holds the origin's From-Path, this relay's URI as the origin
	// addressed it, and the Message-ID; the offsets split it.
	data            []byte
	fromEnd, uriEnd int
}

func (t *txn) fromPath() []byte  { return t.data[:t.fromEnd] }
func (t *txn) ourURI() []byte    { return t.data[t.fromEnd:t.uriEnd] }
func (t *txn) messageID() []byte { return t.data[t.uriEnd:] }

// setBodyLen makes a SEND's range end what its body carried, whatever its
// Byte-Range said ('*' or a wrong end): a failure REPORT "MUST calculate
// the range-end field from the actual body data" (RFC 4975 §7.1.2). t may
// be nil (no transaction kept).
func (t *txn) setBodyLen(n int) {
	if t != nil && t.kind == txnSend {
		t.rng.End = t.rng.Start + int64(n) - 1
	}
}

func (t *txn) setData(fromPath, ourURI, msgID []byte) {
	t.data = append(append(append(t.data[:0], fromPath...), ourURI...), msgID...)
	t.fromEnd = len(fromPath)
	t.uriEnd = t.fromEnd + len(ourURI)
}

var txnPool = sync.Pool{New: func() any { return new(txn) }}

func newTxn() *txn { return txnPool.Get().(*txn) }

func freeTxn(t *txn) {
	if t == nil {
		return
	}
	if t.credit > 0 {
		t.origin.returnCredit(t.credit)
		t.credit = 0
	}
	t.origin = nil
	t.data = t.data[:0]
	txnPool.Put(t)
}

// txnTable holds one connection's outstanding transactions by the tid this
// relay gave them. Deadlines are all "sent + TransactionTimeout", so they
// come due in the order they were added: a FIFO of (tid, deadline) finds the
// due ones without a timer per transaction. Entries answered meanwhile are
// skipped when they reach the front.
type txnTable struct {
	m    map[tid]*txn
	fifo []txnDue
	head int
	n    atomic.Int64 // len(m), readable without the lock
	size atomic.Int64 // bytes the transactions in m hold
}

type txnDue struct {
	key  tid
	sent int64
}

func (tt *txnTable) len() int { return int(tt.n.Load()) }

func (tt *txnTable) bytes() int64 { return tt.size.Load() }

func (tt *txnTable) add(t *txn, now int64) {
	if t == nil {
		return
	}
	if tt.m == nil {
		tt.m = make(map[tid]*txn)
	}
	t.sent = now
	if old, dup := tt.m[t.key]; dup {
		tt.size.Add(-int64(len(old.data)))
		if old.credit > 0 {
			// Replaced, never answered: its window bytes are not in
			// flight any more.
			old.origin.returnCredit(old.credit)
			old.credit = 0
		}
	} else {
		tt.n.Add(1)
	}
	tt.size.Add(int64(len(t.data)))
	tt.m[t.key] = t
	tt.fifo = append(tt.fifo, txnDue{t.key, now})
}

// take removes and returns the transaction a response names.
func (tt *txnTable) take(k *tid) *txn {
	t, ok := tt.m[*k]
	if !ok {
		return nil
	}
	delete(tt.m, *k)
	tt.n.Add(-1)
	tt.size.Add(-int64(len(t.data)))
	tt.dropAnswered()
	return t
}

// dropAnswered removes answered entries from the FIFO once they outnumber
// the outstanding ones, so it holds O(outstanding) entries, not every
// transaction of the last TransactionTimeout. Amortised O(1) per answer.
func (tt *txnTable) dropAnswered() {
	if len(tt.fifo)-tt.head <= 2*len(tt.m)+64 {
		return
	}
	live := tt.fifo[:0]
	for _, d := range tt.fifo[tt.head:] {
		if t, ok := tt.m[d.key]; ok && t.sent == d.sent {
			live = append(live, d)
		}
	}
	clear(tt.fifo[len(live):])
	tt.fifo, tt.head = live, 0
}

// due removes the transactions sent at or before cutoff and appends them
// to dst.
func (tt *txnTable) due(cutoff int64, dst []*txn) []*txn {
	for tt.head < len(tt.fifo) && tt.fifo[tt.head].sent <= cutoff {
		d := tt.fifo[tt.head]
		tt.head++
		if t, ok := tt.m[d.key]; ok && t.sent == d.sent {
			delete(tt.m, d.key)
			tt.n.Add(-1)
			tt.size.Add(-int64(len(t.data)))
			dst = append(dst, t)
		}
	}
	tt.compact()
	return dst
}

// compact drops the consumed front of the FIFO once it dominates.
func (tt *txnTable) compact() {
	if tt.head == len(tt.fifo) {
		tt.fifo, tt.head = tt.fifo[:0], 0
		if cap(tt.fifo) > 1024 && len(tt.m) == 0 {
			tt.fifo = nil
		}
		return
	}
	if tt.head > 1024 && tt.head > len(tt.fifo)/2 {
		n := copy(tt.fifo, tt.fifo[tt.head:])
		tt.fifo, tt.head = tt.fifo[:n], 0
	}
}

// shrink gives back the map and FIFO of a table with nothing outstanding.
// The timer tick calls it, not the answer path: a busy connection keeps
// its (empty) map and forwards without allocating; an idle one sheds a few
// hundred bytes within a tick.
func (tt *txnTable) shrink() {
	if len(tt.m) == 0 && (tt.m != nil || tt.fifo != nil) {
		tt.m = nil
		tt.fifo, tt.head = nil, 0
	}
}

// drain removes every transaction, in the order they were sent: the
// failure REPORTs of a chunk cut into pieces then come in byte order.
func (tt *txnTable) drain() []*txn {
	var all []*txn
	for _, d := range tt.fifo[tt.head:] {
		if t, ok := tt.m[d.key]; ok {
			all = append(all, t)
			delete(tt.m, d.key)
		}
	}
	for _, t := range tt.m {
		all = append(all, t)
	}
	tt.m = nil
	tt.n.Store(0)
	tt.size.Store(0)
	tt.fifo, tt.head = nil, 0
	return all
}
