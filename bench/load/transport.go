package load

import (
	"bufio"
	"fmt"
	"net"
	"sync"
)

// Transport is how an endpoint reaches the relay: MSRP over TCP or TLS
// (RFC 4975), or over WebSocket, plain or through TLS (RFC 7977).
type Transport string

const (
	TransportTCP Transport = "tcp"
	TransportTLS Transport = "tls"
	TransportWS  Transport = "ws"
	TransportWSS Transport = "wss"
)

// ParseTransport reads tcp, tls, ws or wss.
func ParseTransport(s string) (Transport, error) {
	switch t := Transport(s); t {
	case TransportTCP, TransportTLS, TransportWS, TransportWSS:
		return t, nil
	}
	return "", fmt.Errorf("transport %q: want tcp, tls, ws or wss", s)
}

// Secure is whether the transport runs over TLS (msrps URIs).
func (t Transport) Secure() bool { return t == TransportTLS || t == TransportWSS }

// WebSocket is whether MSRP goes over WebSocket.
func (t Transport) WebSocket() bool { return t == TransportWS || t == TransportWSS }

// Side is where one endpoint of every pair connects and over what.
type Side struct {
	Transport Transport
	Addrs     []string
}

// link is one endpoint's connection. Reading it yields the MSRP byte
// stream (over WebSocket, the payloads of the relay's messages, joined);
// writeFrames sends a batch of whole frames.
type link struct {
	net.Conn
	ws *wsSocket // nil on tcp and tls
}

// writeFrames writes the frames in b, frame i ending at ends[i]. On tcp
// and tls that is one write. Over WebSocket every frame is a message of
// its own (RFC 7977 §5.1), and the batch still leaves in one write on the
// socket, so that the relay sees the same reads on every transport and
// the ws rows compare with the tcp ones.
func (l *link) writeFrames(b []byte, ends []int) error {
	if len(b) == 0 {
		return nil
	}
	if l.ws == nil {
		_, err := l.Conn.Write(b)
		return err
	}
	l.ws.hold()
	start := 0
	for _, end := range ends {
		if _, err := l.Conn.Write(b[start:end]); err != nil {
			l.ws.release()
			return err
		}
		start = end
	}
	return l.ws.release()
}

// readAhead is whether bytes read from the socket wait under the
// WebSocket layer: it hands over one message per read, so a reader that
// answers whenever its own buffer runs dry would answer every message
// with a write of its own, where on tcp it answers a read's worth at once.
func (l *link) readAhead() bool { return l.ws != nil && l.ws.in.Buffered() > 0 }

// wsSocket is the connection under a WebSocket client (TCP, or the TLS
// connection for wss). Between hold and the end of release it gathers what
// the WebSocket layer writes, whole WebSocket frames, and release writes
// them in one go; otherwise it writes through. A pong the reader answers
// meanwhile joins the next write instead of waiting on the socket: a
// reader that blocked behind a sender the relay holds back would stop
// reading the relay's answers, and the relay would never take the
// sender's bytes. Reads are buffered: the WebSocket layer reads a frame's
// header and then its payload, which would otherwise be two system calls
// for every message.
type wsSocket struct {
	net.Conn
	in *bufio.Reader

	mu      sync.Mutex
	holding bool
	buf     []byte // gathered, not yet written
	spare   []byte // the other buffer, while buf's bytes are written
}

// wsReadBuffer is the read buffer under a WebSocket client: many small
// messages per system call.
const wsReadBuffer = 64 << 10

func newWSSocket(nc net.Conn) *wsSocket {
	return &wsSocket{Conn: nc, in: bufio.NewReaderSize(nc, wsReadBuffer)}
}

func (s *wsSocket) Read(p []byte) (int, error) { return s.in.Read(p) }

func (s *wsSocket) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.holding {
		s.buf = append(s.buf, p...)
		return len(p), nil
	}
	return s.Conn.Write(p)
}

func (s *wsSocket) hold() {
	s.mu.Lock()
	s.holding = true
	s.mu.Unlock()
}

// release writes what was gathered, and what was gathered while that was
// written, then writes through again. The two buffers take turns, so
// nothing is allocated once they have grown.
func (s *wsSocket) release() error {
	var err error
	s.mu.Lock()
	for len(s.buf) > 0 {
		out := s.buf
		s.buf, s.spare = s.spare[:0], nil
		s.mu.Unlock()
		if err == nil {
			_, err = s.Conn.Write(out)
		}
		s.mu.Lock()
		s.spare = out[:0]
	}
	s.holding = false
	s.mu.Unlock()
	return err
}
