package endpoint

import (
	"crypto/tls"
	"net"
	"time"
)

// DefaultReadBuffer is the read buffer of a Conn made by Dial or New: it
// holds any header block the codec accepts with room to spare.
const DefaultReadBuffer = 256 << 10

// Conn is one MSRP connection: a Reader for one goroutine, and writes of
// whole frames any goroutine may make (each is one write on the socket).
type Conn struct {
	nc net.Conn
	rd *Reader
}

// Dial connects to addr (host:port), over TLS when cfg is not nil.
func Dial(addr string, cfg *tls.Config, timeout time.Duration) (*Conn, error) {
	d := net.Dialer{Timeout: timeout}
	var nc net.Conn
	var err error
	if cfg != nil {
		nc, err = tls.DialWithDialer(&d, "tcp", addr, cfg)
	} else {
		nc, err = d.Dial("tcp", addr)
	}
	if err != nil {
		return nil, err
	}
	return New(nc), nil
}

// New wraps an established connection.
func New(nc net.Conn) *Conn { return NewSize(nc, DefaultReadBuffer) }

// NewSize wraps an established connection with a read buffer of size
// bytes: a connection that reads only small frames (an AUTH exchange)
// needs little.
func NewSize(nc net.Conn, size int) *Conn {
	return &Conn{nc: nc, rd: NewReader(nc, size)}
}

// Raw is the underlying connection.
func (c *Conn) Raw() net.Conn { return c.nc }

// Reader is the connection's frame reader.
func (c *Conn) Reader() *Reader { return c.rd }

// Close closes the connection.
func (c *Conn) Close() error { return c.nc.Close() }

// Write writes raw bytes.
func (c *Conn) Write(b []byte) error {
	_, err := c.nc.Write(b)
	return err
}

// SetDeadline sets the read and write deadline.
func (c *Conn) SetDeadline(t time.Time) { _ = c.nc.SetDeadline(t) }

// ReadFrame reads the next frame with its body (see Reader.ReadFrame).
func (c *Conn) ReadFrame() (*Frame, error) { return c.rd.ReadFrame() }

// ReadFrameFunc reads the next frame, handing its body to onBody piece by
// piece (see Reader.ReadFrameFunc).
func (c *Conn) ReadFrameFunc(onBody func([]byte) error) (*Frame, error) {
	return c.rd.ReadFrameFunc(onBody)
}

// Send writes r.
func (c *Conn) Send(r *Request) error { return c.Write(r.Append(nil)) }

// Respond answers request f with code, from the first URI of its To-Path.
func (c *Conn) Respond(f *Frame, code int, comment string) error {
	return c.Write(AppendResponse(nil, f, code, comment, FirstURI(f.Header("To-Path"))))
}
