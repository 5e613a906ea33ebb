package tlsshim

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/valyala/bytebufferpool"

	"github.com/msrprelay/msrprelay/internal/bufpool"
)

// Pools for the shim's own buffers: ciphertext waiting for crypto/tls, and
// ciphertext crypto/tls produced for the socket. A session carrying chat
// and one carrying a file share them, so they keep large buffers after
// many small ones (package bufpool says why not bytebufferpool.Pool).
var inPool, outPool bufpool.Pool

// errWouldBlock is what the adapter returns in fed mode when it has no
// ciphertext: a temporary net.Error, so tls.Conn keeps its state.
var errWouldBlock = wouldBlock{}

type wouldBlock struct{}

func (wouldBlock) Error() string   { return "tlsshim: no ciphertext buffered" }
func (wouldBlock) Timeout() bool   { return true }
func (wouldBlock) Temporary() bool { return true }

// adapter is the net.Conn crypto/tls sees. During the handshake it is the
// socket; after it, reads come from fed ciphertext and writes go to out.
type adapter struct {
	net.Conn // the socket: addresses, and I/O during the handshake
	mu       sync.Mutex
	fed      bool
	in       *bytebufferpool.ByteBuffer
	inOff    int
	out      *bytebufferpool.ByteBuffer
}

func (a *adapter) Read(p []byte) (int, error) {
	if !a.fed {
		return a.Conn.Read(p)
	}
	if a.in == nil || a.inOff == len(a.in.B) {
		return 0, errWouldBlock
	}
	n := copy(p, a.in.B[a.inOff:])
	a.inOff += n
	if a.inOff == len(a.in.B) {
		inPool.Put(a.in)
		a.in, a.inOff = nil, 0
	}
	return n, nil
}

func (a *adapter) Write(p []byte) (int, error) {
	if !a.fed {
		return a.Conn.Write(p)
	}
	if a.out == nil {
		a.out = outPool.Get()
	}
	a.out.B = append(a.out.B, p...)
	return len(p), nil
}

// Close does not close the socket: the event loop owns it after the
// handshake.
func (a *adapter) Close() error { return nil }

// SetDeadline and friends reach the socket only during the handshake.
func (a *adapter) SetDeadline(t time.Time) error {
	if a.fed {
		return nil
	}
	return a.Conn.SetDeadline(t)
}
func (a *adapter) SetReadDeadline(t time.Time) error {
	if a.fed {
		return nil
	}
	return a.Conn.SetReadDeadline(t)
}
func (a *adapter) SetWriteDeadline(t time.Time) error {
	if a.fed {
		return nil
	}
	return a.Conn.SetWriteDeadline(t)
}

// Session is one TLS connection in fed mode. Feed, Seal and Output must be
// called from one goroutine at a time (the connection's event loop).
type Session struct {
	ad  adapter
	tc  *tls.Conn
	err error
}

// Server runs a server handshake on nc, bounded by timeout, and returns the
// session in fed mode. nc is not closed on error.
func Server(nc net.Conn, cfg *tls.Config, timeout time.Duration) (*Session, error) {
	s := &Session{ad: adapter{Conn: nc}}
	s.tc = tls.Server(&s.ad, cfg)
	return s, s.handshake(timeout)
}

// Client runs a client handshake on nc; cfg should carry ServerName.
func Client(nc net.Conn, cfg *tls.Config, timeout time.Duration) (*Session, error) {
	s := &Session{ad: adapter{Conn: nc}}
	s.tc = tls.Client(&s.ad, cfg)
	return s, s.handshake(timeout)
}

func (s *Session) handshake(timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	_ = s.ad.Conn.SetDeadline(time.Now().Add(timeout))
	err := s.tc.HandshakeContext(ctx)
	_ = s.ad.Conn.SetDeadline(time.Time{})
	if err != nil {
		return err
	}
	s.ad.fed = true
	return nil
}

// State is the negotiated connection state (peer certificates, version).
func (s *Session) State() tls.ConnectionState { return s.tc.ConnectionState() }

// Feed decrypts ciphertext and appends the plaintext to dst. A partial
// record is kept for the next Feed. After an error the session is dead.
func (s *Session) Feed(dst, ciphertext []byte) ([]byte, error) {
	if s.err != nil {
		return dst, s.err
	}
	if len(ciphertext) > 0 {
		if s.ad.in == nil {
			s.ad.in = inPool.Get()
		}
		s.ad.in.B = append(s.ad.in.B, ciphertext...)
	}
	for {
		if cap(dst)-len(dst) < 16<<10 {
			dst = append(dst, make([]byte, 16<<10)...)[:len(dst)]
		}
		n, err := s.tc.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if err == nil {
			continue
		}
		if errors.Is(err, errWouldBlock) {
			return dst, nil
		}
		s.err = err
		return dst, err
	}
}

// Seal encrypts plaintext; the ciphertext waits in Output.
func (s *Session) Seal(plaintext []byte) error {
	if s.err != nil {
		return s.err
	}
	if _, err := s.tc.Write(plaintext); err != nil {
		s.err = err
		return err
	}
	return nil
}

// Output is the ciphertext waiting for the socket (handshake leftovers,
// Seal's records, post-handshake messages). Write it, then call Written.
func (s *Session) Output() []byte {
	if s.ad.out == nil {
		return nil
	}
	return s.ad.out.B
}

// Written tells the session its Output reached the socket; the buffer goes
// back to the pool, so an idle session holds none.
func (s *Session) Written() {
	if s.ad.out != nil {
		outPool.Put(s.ad.out)
		s.ad.out = nil
	}
}

// Release returns the session's buffers; call it when the connection is
// gone. (A close_notify is not sent: the socket is already closing.)
func (s *Session) Release() {
	if s.ad.in != nil {
		inPool.Put(s.ad.in)
		s.ad.in = nil
	}
	if s.ad.out != nil {
		outPool.Put(s.ad.out)
		s.ad.out = nil
	}
}
