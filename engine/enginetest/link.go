package enginetest

import (
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/msrprelay/msrprelay/engine"
)

// Link is a fake engine.Link (and engine.Pinger). It counts what the
// engine asks and, on Flush, plays the driver's part: it calls Conn.Flush
// (Conn.FlushMessages when Messages is set) and keeps what its socket
// took, until Taken or Out hands it over. Every method is safe from any
// goroutine.
type Link struct {
	// Take is how many of n queued bytes the socket takes on a Flush
	// (nil: all of them). TakeNone and TakeUpTo model a full socket.
	Take func(n int) int
	// Messages makes the Link flush as a WebSocket driver does, with
	// Conn.FlushMessages, and record where the taken messages end.
	Messages bool

	mu      sync.Mutex
	conn    *engine.Conn
	wire    []byte // taken and not yet handed over
	ends    []int  // message ends in wire
	wakes   int
	resumes int
	closes  int
	pings   int
}

// TakeNone is a socket with no room.
func TakeNone(int) int { return 0 }

// TakeUpTo is a socket that takes at most max bytes per Flush.
func TakeUpTo(max int) func(int) int {
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

// Close counts the close and, as a driver does once the socket is shut,
// tells the engine with Conn.Closed.
func (l *Link) Close() {
	l.count(&l.closes)
	if c := l.Conn(); c != nil {
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

// Flush is one Flush of the driver's, on the test's goroutine: the socket
// takes what Take allows of the queued bytes. It returns what Conn.Flush
// returned: whether the driver must flush again.
func (l *Link) Flush() (again bool) {
	c := l.Conn()
	if l.Messages {
		return c.FlushMessages(l.writeMessages)
	}
	return c.Flush(l.write)
}

func (l *Link) write(b []byte) (taken, held int) { return l.take(b, nil), 0 }

func (l *Link) writeMessages(b []byte, ends []int) (taken, held int) { return l.take(b, ends), 0 }

// take keeps what the socket takes of b, and the message ends within it.
func (l *Link) take(b []byte, ends []int) int {
	n := len(b)
	if l.Take != nil {
		n = l.Take(n)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range ends {
		if e <= n {
			l.ends = append(l.ends, len(l.wire)+e)
		}
	}
	l.wire = append(l.wire, b[:n]...)
	return n
}

// Taken hands over everything the socket took since the last Taken (or
// Out), as one byte stream.
func (l *Link) Taken() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.wire
	l.wire, l.ends = nil, nil
	return out
}

// Out flushes once and hands over what the socket took: Flush, then
// Taken.
func (l *Link) Out() []byte {
	l.Flush()
	return l.Taken()
}

// OutMessages is Out for a Messages link: the messages complete in what
// the socket took, each one frame for a WebSocket peer. The start of a
// message the socket took only part of stays for the next call.
func (l *Link) OutMessages() [][]byte {
	l.Flush()
	l.mu.Lock()
	defer l.mu.Unlock()
	var msgs [][]byte
	start := 0
	for _, e := range l.ends {
		msgs = append(msgs, l.wire[start:e])
		start = e
	}
	l.wire = append([]byte(nil), l.wire[start:]...)
	l.ends = nil
	return msgs
}
