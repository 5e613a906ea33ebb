package endpoint

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gobwas/ws"
)

// WSProtocol is the WebSocket subprotocol of MSRP (RFC 7977 §4.1).
const WSProtocol = "msrp"

// DialWS connects to a relay's WebSocket listener at addr (host:port):
// ws://addr/, or wss://addr/ when cfg is not nil. Each frame the Conn
// writes is one WebSocket message (RFC 7977 §5.1).
func DialWS(addr string, cfg *tls.Config, timeout time.Duration) (*Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	d := net.Dialer{}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	scheme := "ws"
	if cfg != nil {
		tc := tls.Client(nc, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, err
		}
		nc, scheme = tc, "wss"
	}
	wc, err := UpgradeWS(ctx, nc, scheme+"://"+addr+"/")
	if err != nil {
		nc.Close()
		return nil, err
	}
	return New(wc), nil
}

// UpgradeWS runs the client side of the WebSocket handshake with
// subprotocol msrp on nc, connected (and through TLS for wss) to the host
// of rawURL, bounded by ctx. nc is not closed on error.
func UpgradeWS(ctx context.Context, nc net.Conn, rawURL string) (*WSConn, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
		defer nc.SetDeadline(time.Time{})
	}
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	var refusal string
	d := ws.Dialer{
		Protocols: []string{WSProtocol},
		OnStatusError: func(status int, reason []byte, resp io.Reader) {
			refusal = refusalText(resp)
		},
	}
	br, hs, err := d.Upgrade(nc, u)
	if err != nil {
		if refusal != "" {
			return nil, fmt.Errorf("WebSocket upgrade at %s: %w: %s", rawURL, err, refusal)
		}
		return nil, fmt.Errorf("WebSocket upgrade at %s: %w", rawURL, err)
	}
	if hs.Protocol != WSProtocol {
		return nil, fmt.Errorf("WebSocket upgrade at %s: the server did not accept subprotocol %q", rawURL, WSProtocol)
	}
	return NewWSConn(nc, br), nil
}

// refusalText is the body of an HTTP error answering the upgrade, which
// says why (a relay names the missing subprotocol or the refused Origin).
func refusalText(resp io.Reader) string {
	r, err := http.ReadResponse(bufio.NewReader(resp), nil)
	if err != nil {
		return ""
	}
	defer r.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(r.Body, 512))
	return strings.TrimSpace(string(body))
}

// ErrWSClosed is the server's close handshake, answered.
var ErrWSClosed = errors.New("websocket: closed by the server")

// WSConn is an MSRP connection over WebSocket as a net.Conn: Read yields
// the payloads of the server's data messages, text and binary alike
// (RFC 7977 §4.2), joined; pings are answered and a close is answered and
// ends the stream with io.EOF. Each Write is one WebSocket message (a
// binary frame, masked as a client's must be), so a caller that writes
// each MSRP frame in one Write sends one chunk per message. One goroutine
// reads; any may write.
type WSConn struct {
	net.Conn
	src io.Reader // the socket, after the bytes the handshake read ahead

	// Reading, by the one reader.
	left   int64 // payload bytes of the current data frame not yet read
	inMsg  bool  // a data message is open: continuations follow
	hdr    [ws.MaxHeaderSize]byte
	ctl    [ws.MaxControlFramePayloadSize]byte
	closed bool

	// Writing, under wmu.
	wmu       sync.Mutex
	wbuf      frameBuf
	whdr      [ws.MaxHeaderSize]byte
	writing   bool // an outgoing message is open (WriteFragment)
	closeSent bool
}

// NewWSConn wraps a connection whose client handshake is done; br holds
// bytes the handshake read past the response (nil when none).
func NewWSConn(nc net.Conn, br *bufio.Reader) *WSConn {
	c := &WSConn{Conn: nc, src: nc}
	if br != nil {
		c.src = io.MultiReader(br, nc)
	}
	return c
}

// Read reads payload bytes of data messages.
func (c *WSConn) Read(p []byte) (int, error) {
	for c.left == 0 {
		if c.closed {
			return 0, io.EOF
		}
		if err := c.nextFrame(); err != nil {
			return 0, err
		}
	}
	n, err := c.src.Read(p[:min(int64(len(p)), c.left)])
	c.left -= int64(n)
	switch {
	case err == io.EOF && c.left > 0:
		err = io.ErrUnexpectedEOF // the socket ended inside a frame
	case err == io.EOF:
		err = nil // the frame is whole; the next Read finds the end
	}
	return n, err
}

// nextFrame reads a frame header and handles a control frame whole.
func (c *WSConn) nextFrame() error {
	h, err := ws.ReadHeaderBuffer(c.src, c.hdr[:])
	if err != nil {
		return err
	}
	state := ws.StateClientSide
	if c.inMsg {
		state = state.Set(ws.StateFragmented)
	}
	if err := ws.CheckHeader(h, state); err != nil {
		c.sendClose(ws.StatusProtocolError)
		return fmt.Errorf("websocket: %w", err)
	}
	if !h.OpCode.IsControl() {
		c.left, c.inMsg = h.Length, !h.Fin
		return nil
	}
	body := c.ctl[:h.Length]
	if _, err := io.ReadFull(c.src, body); err != nil {
		return err
	}
	switch h.OpCode {
	case ws.OpPing:
		return c.writeFrame(ws.OpPong, true, body)
	case ws.OpClose:
		code := ws.StatusCode(0)
		if len(body) >= 2 {
			code = ws.StatusCode(binary.BigEndian.Uint16(body))
		}
		c.sendClose(code)
		c.closed = true
		if code != 0 && code != ws.StatusNormalClosure {
			return fmt.Errorf("%w: %d %s", ErrWSClosed, code, body[2:])
		}
		return io.EOF
	}
	return nil
}

// Write sends p as one WebSocket message.
func (c *WSConn) Write(p []byte) (int, error) {
	if err := c.WriteFragment(p, true); err != nil {
		return 0, err
	}
	return len(p), nil
}

// WriteFragment sends p as a frame of the open message, end closing it:
// a chunk streamed in several writes is still one message.
func (c *WSConn) WriteFragment(p []byte, end bool) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closeSent {
		return net.ErrClosed
	}
	op := ws.OpBinary
	if c.writing {
		op = ws.OpContinuation
	}
	if err := c.writeFrameLocked(op, end, p); err != nil {
		return err
	}
	c.writing = !end
	return nil
}

func (c *WSConn) writeFrame(op ws.OpCode, fin bool, p []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.writeFrameLocked(op, fin, p)
}

// writeFrameLocked writes one masked frame in one write on the socket.
func (c *WSConn) writeFrameLocked(op ws.OpCode, fin bool, p []byte) error {
	h := ws.Header{Fin: fin, OpCode: op, Length: int64(len(p)), Masked: true}
	_, _ = rand.Read(h.Mask[:])
	c.wbuf = c.wbuf[:0]
	if err := ws.WriteHeaderBuffer(&c.wbuf, h, c.whdr[:]); err != nil {
		return err
	}
	start := len(c.wbuf)
	c.wbuf = append(c.wbuf, p...)
	ws.Cipher(c.wbuf[start:], h.Mask, 0)
	_, err := c.Conn.Write(c.wbuf)
	return err
}

// frameBuf collects a frame to write; the header encoder writes into it.
type frameBuf []byte

func (b *frameBuf) Write(p []byte) (int, error) {
	*b = append(*b, p...)
	return len(p), nil
}

// sendClose answers or starts the close handshake, once.
func (c *WSConn) sendClose(code ws.StatusCode) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.sendCloseLocked(code)
}

func (c *WSConn) sendCloseLocked(code ws.StatusCode) {
	if c.closeSent {
		return
	}
	c.closeSent = true
	var body []byte
	if code != 0 {
		body = binary.BigEndian.AppendUint16(nil, uint16(code))
	}
	_ = c.writeFrameLocked(ws.OpClose, true, body)
}

// Close sends a close frame when no write is under way (one blocked on a
// peer that does not read must not hold Close up), then closes the socket.
func (c *WSConn) Close() error {
	if c.wmu.TryLock() {
		_ = c.Conn.SetWriteDeadline(time.Now().Add(time.Second))
		c.sendCloseLocked(ws.StatusNormalClosure)
		c.wmu.Unlock()
	}
	return c.Conn.Close()
}

// NetConn is the connection under the WebSocket (a tls.Conn for wss), as
// tls.Conn's NetConn gives the socket under TLS.
func (c *WSConn) NetConn() net.Conn { return c.Conn }
