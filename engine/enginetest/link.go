package enginetest

import (
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/msrprelay/msrprelay/engine"
)

// Link is a fake engine.Link (and engine.Pinger). It counts what the
// engine asks and, on Flush, plays the driver's part: it calls Conn.Flush
// (Conn.FlushMessages when Messages is set), holds what it took as a
// socket buffer does, and puts on the wire what its peer may read, until
// Taken or Out hands that over. Every method is safe from any goroutine;
// the fields are the test's to set on the goroutine that drives the
// engine, between the calls that use them.
type Link struct {
	// Take is how many of n queued bytes a Flush takes (nil: all of
	// them); Nothing and AtMost model a driver whose buffer is full.
	Take func(n int) int
	// Send is how many of the n bytes the driver holds go on the wire
	// at once on a Flush (nil: all of them). The rest stays held,
	// counted against the connection's HighWater, until Drain.
	Send func(n int) int
	// Messages makes the Link flush as a WebSocket driver does, with
	// Conn.FlushMessages, and record where the messages it takes end.
	Messages bool
	// DeferClose makes Close only count: the test calls Conn.Closed
	// when its driver would, as a real one does after the call that
	// asked has returned. Otherwise Close calls it at once.
	DeferClose bool

	mu      sync.Mutex
	conn    *engine.Conn
	wire    []byte // on the wire, not yet handed over
	held    []byte // taken, not yet on the wire
	ends    []int  // message ends in wire and held, as one stream
	wakes   int
	resumes int
	closes  int
	pings   int
}

// Nothing is a Take or Send with no room at all.
func Nothing(int) int { return 0 }

// AtMost is a Take or Send with room for max bytes each time.
func AtMost(max int) func(int) int {
	return func(n int) int { return min(n, max) }
}

var lastPort atomic.Uint32

// Open opens a connection on r accepted on lis from peer, each from a
// port of its own on 127.0.0.1, with a new Link.
func Open(r *engine.Relay, lis engine.Listener, peer engine.PeerInfo) (*engine.Conn, *Link) {
	l := &Link{}
	port := uint16(40000 + lastPort.Add(1)%20000)
	remote := netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), port)
	c := r.Open(l, remote, lis, peer)
	l.mu.Lock()
	l.conn = c
	l.mu.Unlock()
	return c, l
}

// Attach makes l the link of c, a connection the relay dialed, as a
// Dialer does once the dial succeeded.
func (l *Link) Attach(c *engine.Conn, peer engine.PeerInfo) {
	l.mu.Lock()
	l.conn = c
	l.mu.Unlock()
	c.Attach(l, peer)
}

// Wake counts a request for Flush; the test decides when to flush.
func (l *Link) Wake(*engine.Worker) { l.count(&l.wakes) }

// Resume counts a paused connection's resumption.
func (l *Link) Resume() { l.count(&l.resumes) }

// Ping counts a WebSocket ping the engine asked for.
func (l *Link) Ping() { l.count(&l.pings) }

// Close counts the close and, unless DeferClose, tells the engine at
// once with Conn.Closed, as a driver does once the socket is shut.
func (l *Link) Close() {
	l.count(&l.closes)
	if c := l.Conn(); c != nil && !l.DeferClose {
		c.Closed(nil)
	}
}

func (l *Link) count(n *int) {
	l.mu.Lock()
	*n++
	l.mu.Unlock()
}

func (l *Link) read(n *int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return *n
}

// Wakes, Resumes, Closes and Pings are how many times the engine asked.
func (l *Link) Wakes() int   { return l.read(&l.wakes) }
func (l *Link) Resumes() int { return l.read(&l.resumes) }
func (l *Link) Closes() int  { return l.read(&l.closes) }
func (l *Link) Pings() int   { return l.read(&l.pings) }

// Conn is the connection l is the link of.
func (l *Link) Conn() *engine.Conn {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.conn
}

// Held is how many bytes the driver took and holds off the wire.
func (l *Link) Held() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.held)
}

// Flush is one Flush of the driver's, on the test's goroutine, taking
// and sending as Take and Send say. It returns what Conn.Flush returned:
// whether the driver must flush again.
func (l *Link) Flush() (again bool) {
	c := l.Conn()
	if l.Messages {
		return c.FlushMessages(l.writeMessages)
	}
	return c.Flush(l.write)
}

func (l *Link) write(b []byte) (taken, held int) { return l.take(b, nil) }

func (l *Link) writeMessages(b []byte, ends []int) (taken, held int) { return l.take(b, ends) }

// take holds what the driver takes of b, with the message ends within
// it, and sends what Send allows.
func (l *Link) take(b []byte, ends []int) (taken, held int) {
	n := len(b)
	if l.Take != nil {
		n = l.Take(n)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range ends {
		if e <= n {
			l.ends = append(l.ends, len(l.wire)+len(l.held)+e)
		}
	}
	l.held = append(l.held, b[:n]...)
	s := len(l.held)
	if l.Send != nil {
		s = l.Send(s)
	}
	l.send(s)
	return n, len(l.held)
}

// send puts the first n held bytes on the wire. l.mu is held.
func (l *Link) send(n int) {
	l.wire = append(l.wire, l.held[:n]...)
	l.held = append(l.held[:0], l.held[n:]...)
}

// Drain puts up to n held bytes on the wire (all of them when n < 0)
// and tells the engine how many are still held, as a driver does when
// its socket drained. It returns Conn.Drained's answer: whether senders
// still wait for the connection.
func (l *Link) Drain(n int) (sendersWaiting bool) {
	l.mu.Lock()
	if n < 0 || n > len(l.held) {
		n = len(l.held)
	}
	l.send(n)
	held, c := len(l.held), l.conn
	l.mu.Unlock()
	return c.Drained(held)
}

// Taken hands over what went on the wire since the last Taken (or Out),
// as one byte stream.
func (l *Link) Taken() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.handOver(len(l.wire))
}

// handOver removes the first n bytes of the wire and returns them. l.mu
// is held.
func (l *Link) handOver(n int) []byte {
	out := l.wire[:n:n]
	l.wire = append([]byte(nil), l.wire[n:]...)
	kept := l.ends[:0]
	for _, e := range l.ends {
		if e > n {
			kept = append(kept, e-n)
		}
	}
	l.ends = kept
	return out
}

// Out flushes once and hands over what went on the wire: Flush, then
// Taken.
func (l *Link) Out() []byte {
	l.Flush()
	return l.Taken()
}

// OutMessages is Out for a Messages link: the messages complete on the
// wire, each one frame for a WebSocket peer. The start of a message not
// all on the wire yet stays for the next call.
func (l *Link) OutMessages() [][]byte {
	l.Flush()
	l.mu.Lock()
	defer l.mu.Unlock()
	var msgs [][]byte
	start := 0
	for _, e := range l.ends {
		if e > len(l.wire) {
			break
		}
		msgs = append(msgs, l.wire[start:e])
		start = e
	}
	l.handOver(start)
	return msgs
}
