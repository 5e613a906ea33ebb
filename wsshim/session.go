package wsshim

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gobwas/ws"
	"github.com/valyala/bytebufferpool"

	"github.com/msrprelay/msrprelay/internal/bufpool"
)

// Defaults for a Config's zero fields.
const (
	DefaultMaxRequest = 8 << 10
	DefaultMaxFrame   = 1 << 20
	DefaultMaxMessage = 1 << 20
)

// Config is what a server accepts. It is read, never written, by sessions,
// so one Config serves all of a listener's connections.
type Config struct {
	// Protocol is the subprotocol a client must offer (RFC 7977: "msrp").
	Protocol string
	// Origins are the allowed Origin values (compared without regard to
	// case); empty allows any. A request without Origin comes from no
	// browser and is allowed: Origin guards against scripts of other
	// sites, and a client outside a browser may write any Origin it likes.
	Origins []string
	// MaxRequest bounds the upgrade request, blank line included (431).
	MaxRequest int
	// MaxFrame and MaxMessage bound a data frame's payload and a
	// message's (its frames together); past them the session closes with
	// 1009.
	MaxFrame   int64
	MaxMessage int64
}

// Errors Feed returns. ErrClosed is the peer's close handshake, answered
// in Output; the others are wrapped with the details.
var (
	ErrClosed   = errors.New("wsshim: closed by peer")
	ErrRefused  = errors.New("wsshim: upgrade refused")
	ErrProtocol = errors.New("wsshim: protocol error")
	ErrTooBig   = errors.New("wsshim: frame or message too big")
)

// Pools for the request being buffered and the bytes waiting for the
// socket (handshake answer, frames written, control replies).
var reqPool, outPool bufpool.Pool

type phase uint8

const (
	phaseRequest phase = iota // buffering the upgrade request
	phaseOpen                 // upgraded, frames flow
	phaseDead                 // refused, failed or closed
)

// Session is one server-side WebSocket connection. Its methods must be
// called from one goroutine at a time (the connection's event loop).
type Session struct {
	cfg      *Config
	phase    phase
	upgraded bool
	refused  bool
	err      error
	origin   string
	req      *bytebufferpool.ByteBuffer
	out      *bytebufferpool.ByteBuffer

	// The frame being read: header bytes gathered so far, then the parsed
	// header and how much of its payload is still to come.
	hdr      [ws.MaxHeaderSize]byte
	hdrN     int
	inFrame  bool
	frame    ws.Header
	left     int64
	maskOff  int
	ctl      [ws.MaxControlFramePayloadSize]byte
	ctlN     int
	fragment bool  // a data message is open: only continuations may follow
	msgLen   int64 // payload of the open message so far

	writing    bool // an outgoing message is open: continuations next
	closeSent  bool
	pongQueued bool // a pong waits in Output (Written clears it)
	scratch    [ws.MaxHeaderSize]byte
	headerRead bytes.Reader

	// Set during the handshake by the Upgrader's callbacks.
	protocolOK bool
}

// NewServer returns a session waiting for the upgrade request.
func NewServer(cfg *Config) *Session {
	return &Session{cfg: cfg}
}

// Upgraded reports whether the handshake completed with 101.
func (s *Session) Upgraded() bool { return s.upgraded }

// Refused reports whether the handshake was answered with an HTTP error:
// write Output, then close.
func (s *Session) Refused() bool { return s.refused }

// Origin is the Origin of the upgrade request ("" when it had none).
func (s *Session) Origin() string { return s.origin }

// Feed takes bytes from the socket (after TLS) and appends the payload of
// data frames to dst. See the package doc for the handshake and errors.
func (s *Session) Feed(dst, raw []byte) ([]byte, error) {
	if s.err != nil {
		return dst, s.err
	}
	if s.phase == phaseRequest {
		var rest []byte
		var done bool
		rest, done = s.bufferRequest(raw)
		if !done || s.err != nil {
			return dst, s.err
		}
		raw = rest
	}
	return s.readFrames(dst, raw)
}

func (s *Session) maxRequest() int {
	if s.cfg.MaxRequest > 0 {
		return s.cfg.MaxRequest
	}
	return DefaultMaxRequest
}

func (s *Session) maxFrame() int64 {
	if s.cfg.MaxFrame > 0 {
		return s.cfg.MaxFrame
	}
	return DefaultMaxFrame
}

func (s *Session) maxMessage() int64 {
	if s.cfg.MaxMessage > 0 {
		return s.cfg.MaxMessage
	}
	return DefaultMaxMessage
}

// bufferRequest adds raw to the request; once the blank line has arrived it
// answers it and returns the bytes that followed it (frames).
func (s *Session) bufferRequest(raw []byte) (rest []byte, done bool) {
	if s.req == nil {
		s.req = reqPool.Get()
	}
	old := len(s.req.B)
	s.req.B = append(s.req.B, raw...)
	if !hasGETPrefix(s.req.B) {
		s.refuse(http.StatusBadRequest, "not a WebSocket upgrade request (expected GET)")
		return nil, true
	}
	end := requestEnd(s.req.B, max(0, old-3))
	switch {
	case end < 0 && len(s.req.B) <= s.maxRequest():
		return nil, false
	case end < 0 || end > s.maxRequest():
		s.refuse(http.StatusRequestHeaderFieldsTooLarge,
			"upgrade request longer than "+strconv.Itoa(s.maxRequest())+" bytes")
		return nil, true
	}
	s.upgrade(s.req.B[:end])
	rest = raw[end-old:]
	reqPool.Put(s.req)
	s.req = nil
	return rest, true
}

// hasGETPrefix is false as soon as the first bytes cannot start "GET ", so
// an MSRP or TLS client on a WebSocket port is answered at once.
func hasGETPrefix(b []byte) bool {
	const get = "GET "
	n := min(len(b), len(get))
	return string(b[:n]) == get[:n]
}

// requestEnd is the length of the request up to and including its blank
// line ("\r\n\r\n", or bare "\n" line ends), or -1; from is where a
// terminator may start, so fed bytes are scanned once.
func requestEnd(b []byte, from int) int {
	for i := from; i < len(b); i++ {
		if b[i] != '\n' {
			continue
		}
		switch {
		case i+1 < len(b) && b[i+1] == '\n':
			return i + 2
		case i+2 < len(b) && b[i+1] == '\r' && b[i+2] == '\n':
			return i + 3
		}
	}
	return -1
}

// upgrade answers the whole request req into Output.
func (s *Session) upgrade(req []byte) {
	if s.out == nil {
		s.out = outPool.Get()
	}
	before := len(s.out.B)
	u := ws.Upgrader{
		ReadBufferSize: len(req) + 1,
		ProtocolCustom: s.selectProtocol,
		OnHeader:       s.onHeader,
		OnBeforeUpgrade: func() (ws.HandshakeHeader, error) {
			return s.checkAfterHeaders()
		},
	}
	s.headerRead.Reset(req)
	_, err := u.Upgrade(struct {
		*bytes.Reader
		*bytebufferpool.ByteBuffer
	}{&s.headerRead, s.out})
	if err == nil {
		s.phase, s.upgraded = phaseOpen, true
		return
	}
	s.refused = true
	s.phase = phaseDead
	s.err = fmt.Errorf("%w: %v", ErrRefused, err)
	if len(s.out.B) == before {
		// The Upgrader answers every rejection it decides; a request it
		// could not even read gets a plain 400.
		s.writeHTTPError(http.StatusBadRequest, "malformed upgrade request")
	}
}

// selectProtocol picks Config.Protocol from a Sec-WebSocket-Protocol list.
// A list without it is well formed, not chosen: the upgrade is refused
// after all headers (checkAfterHeaders) with a reason naming the protocol.
func (s *Session) selectProtocol(v []byte) (string, bool) {
	for tok := range strings.SplitSeq(string(v), ",") {
		if strings.TrimSpace(tok) == s.cfg.Protocol {
			s.protocolOK = true
			return s.cfg.Protocol, true
		}
	}
	return "", true
}

func (s *Session) onHeader(key, value []byte) error {
	if string(key) == "Origin" {
		s.origin = string(value)
	}
	return nil
}

func (s *Session) checkAfterHeaders() (ws.HandshakeHeader, error) {
	if s.cfg.Protocol != "" && !s.protocolOK {
		return nil, ws.RejectConnectionError(
			ws.RejectionStatus(http.StatusBadRequest),
			ws.RejectionReason("subprotocol "+strconv.Quote(s.cfg.Protocol)+" required in Sec-WebSocket-Protocol"),
		)
	}
	if s.origin != "" && !s.originAllowed() {
		return nil, ws.RejectConnectionError(
			ws.RejectionStatus(http.StatusForbidden),
			ws.RejectionReason("origin "+strconv.Quote(s.origin)+" not allowed"),
		)
	}
	// OnBeforeUpgrade must return a header or an error.
	return ws.HandshakeHeaderString(""), nil
}

func (s *Session) originAllowed() bool {
	if len(s.cfg.Origins) == 0 {
		return true
	}
	for _, o := range s.cfg.Origins {
		if strings.EqualFold(o, s.origin) {
			return true
		}
	}
	return false
}

// refuse answers the request with an HTTP error of the session's own (the
// Upgrader never saw the request).
func (s *Session) refuse(code int, reason string) {
	if s.out == nil {
		s.out = outPool.Get()
	}
	s.writeHTTPError(code, reason)
	s.refused = true
	s.phase = phaseDead
	s.err = fmt.Errorf("%w: %d %s", ErrRefused, code, reason)
	reqPool.Put(s.req)
	s.req = nil
}

func (s *Session) writeHTTPError(code int, reason string) {
	b := s.out.B
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, ' ')
	b = append(b, http.StatusText(code)...)
	b = append(b, "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(reason)), 10)
	b = append(b, "\r\n\r\n"...)
	b = append(b, reason...)
	s.out.B = b
}

// readFrames consumes raw as frames, appending data payloads to dst.
func (s *Session) readFrames(dst, raw []byte) ([]byte, error) {
	for len(raw) > 0 {
		if !s.inFrame {
			n, ok := s.gatherHeader(raw)
			raw = raw[n:]
			if !ok {
				return dst, nil
			}
			if err := s.startFrame(); err != nil {
				return dst, err
			}
			if s.left == 0 {
				if err := s.endFrame(); err != nil {
					return dst, err
				}
				continue
			}
		}
		n := int(min(int64(len(raw)), s.left))
		if s.frame.OpCode.IsControl() {
			copy(s.ctl[s.ctlN:], raw[:n])
			ws.Cipher(s.ctl[s.ctlN:s.ctlN+n], s.frame.Mask, s.maskOff)
			s.ctlN += n
		} else {
			dst = append(dst, raw[:n]...)
			ws.Cipher(dst[len(dst)-n:], s.frame.Mask, s.maskOff)
		}
		s.maskOff += n
		s.left -= int64(n)
		raw = raw[n:]
		if s.left == 0 {
			if err := s.endFrame(); err != nil {
				return dst, err
			}
		}
	}
	return dst, nil
}

// gatherHeader copies header bytes from raw until the header is whole; it
// returns how many bytes it took and whether the header is complete.
func (s *Session) gatherHeader(raw []byte) (int, bool) {
	took := 0
	for {
		need := headerSize(s.hdr[:s.hdrN])
		if s.hdrN == need {
			return took, true
		}
		n := copy(s.hdr[s.hdrN:need], raw[took:])
		s.hdrN += n
		took += n
		if s.hdrN < need {
			return took, false
		}
	}
}

// headerSize is the size of a frame header given its first bytes: 2 until
// those are known, then 2 + extended length + mask.
func headerSize(b []byte) int {
	if len(b) < 2 {
		return 2
	}
	n := 2
	if b[1]&0x80 != 0 {
		n += 4
	}
	switch b[1] & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	return n
}

// startFrame parses and checks the gathered header.
func (s *Session) startFrame() error {
	s.headerRead.Reset(s.hdr[:s.hdrN])
	h, err := ws.ReadHeaderBuffer(&s.headerRead, s.scratch[:])
	s.hdrN = 0
	if err != nil {
		return s.fail(ws.StatusProtocolError, ErrProtocol, err.Error())
	}
	state := ws.StateServerSide
	if s.fragment {
		state = state.Set(ws.StateFragmented)
	}
	if err := ws.CheckHeader(h, state); err != nil {
		return s.fail(ws.StatusProtocolError, ErrProtocol, err.Error())
	}
	if !h.OpCode.IsControl() {
		if h.Length > s.maxFrame() {
			return s.fail(ws.StatusMessageTooBig, ErrTooBig, "frame longer than "+strconv.FormatInt(s.maxFrame(), 10)+" bytes")
		}
		if s.msgLen+h.Length > s.maxMessage() {
			return s.fail(ws.StatusMessageTooBig, ErrTooBig, "message longer than "+strconv.FormatInt(s.maxMessage(), 10)+" bytes")
		}
		s.msgLen += h.Length
	}
	s.frame, s.left, s.maskOff, s.ctlN, s.inFrame = h, h.Length, 0, 0, true
	return nil
}

// endFrame acts on a frame whose payload has all arrived.
func (s *Session) endFrame() error {
	s.inFrame = false
	switch s.frame.OpCode {
	case ws.OpPing:
		// After our close frame nothing more is sent (RFC 6455 §5.5.1).
		// One pong at a time in Output: a peer that pings and never
		// reads would otherwise grow it without bound. Answering fewer
		// pings than were sent is allowed (RFC 6455 §5.5.3).
		if !s.closeSent && !s.pongQueued {
			s.queueFrame(ws.OpPong, true, s.ctl[:s.ctlN])
			s.pongQueued = true
		}
	case ws.OpPong:
	case ws.OpClose:
		return s.peerClosed()
	default:
		s.fragment = !s.frame.Fin
		if s.frame.Fin {
			s.msgLen = 0
		}
	}
	return nil
}

// peerClosed answers the peer's close frame with the same status code
// (RFC 6455 §5.5.1), or fails the connection on a malformed one.
func (s *Session) peerClosed() error {
	body := s.ctl[:s.ctlN]
	switch {
	case len(body) == 1:
		return s.fail(ws.StatusProtocolError, ErrProtocol, "close frame with a one-byte body")
	case len(body) >= 2:
		code := ws.StatusCode(binary.BigEndian.Uint16(body))
		if err := ws.CheckCloseFrameData(code, string(body[2:])); err != nil {
			return s.fail(ws.StatusProtocolError, ErrProtocol, err.Error())
		}
		s.queueClose(code, "")
	default:
		s.queueClose(0, "")
	}
	s.phase = phaseDead
	s.err = ErrClosed
	return s.err
}

// fail queues a close frame with code and kills the session.
func (s *Session) fail(code ws.StatusCode, kind error, detail string) error {
	s.queueClose(code, detail)
	s.phase = phaseDead
	s.err = fmt.Errorf("%w: %s", kind, detail)
	return s.err
}

// Write frames p as part of the current outgoing message; end ends the
// message (FIN). The first frame of a message is binary (see the package
// doc), the next ones continuations. Frames wait in Output. Nothing is
// written after a close frame.
func (s *Session) Write(p []byte, end bool) {
	if s.phase != phaseOpen || s.closeSent {
		return
	}
	if len(p) == 0 && !end {
		return
	}
	op := ws.OpBinary
	if s.writing {
		op = ws.OpContinuation
	}
	s.queueFrame(op, end, p)
	s.writing = !end
}

// Ping queues a ping, the keepalive of an idle connection; the client's
// pong is read and ignored (any bytes from it show it is alive).
func (s *Session) Ping() {
	if s.phase != phaseOpen || s.closeSent {
		return
	}
	s.queueFrame(ws.OpPing, true, nil)
}

// Close queues a close frame with code and reason (cut to fit a control
// frame); nothing is written after it.
func (s *Session) Close(code uint16, reason string) {
	if s.phase != phaseOpen {
		return
	}
	s.queueClose(ws.StatusCode(code), reason)
}

func (s *Session) queueClose(code ws.StatusCode, reason string) {
	if s.closeSent {
		return
	}
	var body [ws.MaxControlFramePayloadSize]byte
	n := 0
	if code != 0 {
		reason = validPrefix(reason, len(body)-2)
		ws.PutCloseFrameBody(body[:], code, reason)
		n = 2 + len(reason)
	}
	s.queueFrame(ws.OpClose, true, body[:n])
	s.closeSent = true
}

func (s *Session) queueFrame(op ws.OpCode, fin bool, p []byte) {
	if s.out == nil {
		s.out = outPool.Get()
	}
	h := ws.Header{Fin: fin, OpCode: op, Length: int64(len(p))}
	// A ByteBuffer's Write never fails.
	_ = ws.WriteHeaderBuffer(s.out, h, s.scratch[:])
	s.out.B = append(s.out.B, p...)
}

// Output is what waits for the socket: the handshake answer, frames
// written, control replies. Write it, then call Written.
func (s *Session) Output() []byte {
	if s.out == nil {
		return nil
	}
	return s.out.B
}

// Written tells the session its Output reached the socket; the buffer goes
// back to the pool, so an idle session holds none.
func (s *Session) Written() {
	s.pongQueued = false
	if s.out != nil {
		outPool.Put(s.out)
		s.out = nil
	}
}

// Release returns the session's buffers; call it when the connection is
// gone.
func (s *Session) Release() {
	if s.req != nil {
		reqPool.Put(s.req)
		s.req = nil
	}
	s.Written()
}

// validPrefix is reason cut to at most n bytes on a UTF-8 boundary: a
// close reason must be UTF-8 (RFC 6455 §5.5.1).
func validPrefix(reason string, n int) string {
	if len(reason) <= n {
		return reason
	}
	reason = reason[:n]
	for len(reason) > 0 && !utf8.ValidString(reason) {
		reason = reason[:len(reason)-1]
	}
	return reason
}
