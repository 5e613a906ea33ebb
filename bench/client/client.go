package client

import (
	"bufio"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/msrprelay/msrprelay/codec"
	"github.com/msrprelay/msrprelay/engine/digest"
)

// Frame is a received frame, copied out of the read buffer.
type Frame struct {
	TID     string
	Method  string // empty for a response
	Code    int
	Comment string
	Headers [][2]string
	Body    []byte
	Flag    byte
}

// Header returns the first value of the named header ("" if absent).
func (f *Frame) Header(name string) string {
	for _, h := range f.Headers {
		if strings.EqualFold(h[0], name) {
			return h[1]
		}
	}
	return ""
}

// Conn is one MSRP connection.
type Conn struct {
	nc    net.Conn
	rd    *bufio.Reader
	buf   []byte // unread bytes, a window of store
	store []byte
	prog  codec.Progress
	f     codec.Frame
	scan  codec.BodyScanner
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
func New(nc net.Conn) *Conn {
	return &Conn{nc: nc, rd: bufio.NewReaderSize(nc, 64<<10), store: make([]byte, 0, 256<<10)}
}

// Raw is the underlying connection.
func (c *Conn) Raw() net.Conn { return c.nc }

// Close closes the connection.
func (c *Conn) Close() error { return c.nc.Close() }

// Write writes raw bytes.
func (c *Conn) Write(b []byte) error {
	_, err := c.nc.Write(b)
	return err
}

// NewTID returns a random transaction id (16 base-62 characters).
func NewTID() string {
	const abc = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	var b [16]byte
	_, _ = rand.Read(b[:])
	for i := range b {
		b[i] = abc[int(b[i])%len(abc)]
	}
	return string(b[:])
}

// ReadFrame reads the next whole frame.
func (c *Conn) ReadFrame() (*Frame, error) { return c.ReadFrameFunc(nil) }

// ReadFrameFunc reads the next frame; when onBody is not nil the body is
// handed to it piece by piece (valid only during the call) instead of being
// collected in Frame.Body, so bodies of any size take constant memory.
func (c *Conn) ReadFrameFunc(onBody func([]byte) error) (*Frame, error) {
	for {
		n, err := c.f.Parse(c.buf, nil, &c.prog)
		if err == nil || (err != codec.ErrNeedMore && !codec.IsClose(err)) {
			fr := &Frame{TID: string(c.f.TID()), Method: string(c.f.Method()), Code: c.f.Code(), Comment: string(c.f.Comment())}
			for i := 0; i < c.f.NumHeaders(); i++ {
				k, v := c.f.HeaderAt(i)
				fr.Headers = append(fr.Headers, [2]string{string(k), string(v)})
			}
			if !c.f.HasBody() {
				fr.Flag = c.f.Flag()
				c.buf = c.buf[n:]
				return fr, err
			}
			c.buf = c.buf[n:]
			c.scan.Reset(c.f.TID(), 0)
			if berr := c.readBody(fr, onBody); berr != nil {
				return fr, berr
			}
			return fr, err // a malformed but delimited frame keeps its status
		}
		if err != codec.ErrNeedMore {
			return nil, err
		}
		if err := c.fill(); err != nil {
			return nil, err
		}
	}
}

func (c *Conn) readBody(fr *Frame, onBody func([]byte) error) error {
	for {
		r, err := c.scan.Scan(c.buf)
		if err != nil {
			return err
		}
		if onBody == nil {
			fr.Body = append(fr.Body, c.buf[:r.Body]...)
		} else if r.Body > 0 {
			if err := onBody(c.buf[:r.Body]); err != nil {
				return err
			}
		}
		if r.End > 0 {
			fr.Flag = r.Flag
			c.buf = c.buf[r.End:]
			return nil
		}
		c.buf = c.buf[r.Body:]
		if err := c.fill(); err != nil {
			return err
		}
	}
}

func (c *Conn) fill() error {
	if len(c.buf) == 0 {
		c.buf = c.store[:0]
	}
	if cap(c.buf)-len(c.buf) < 64<<10 && len(c.buf) < cap(c.store)/2 {
		// Move the unread tail to the front so the buffer does not grow.
		c.buf = c.store[:copy(c.store[:cap(c.store)], c.buf)]
	}
	if cap(c.buf)-len(c.buf) < 64<<10 {
		c.buf = append(c.buf, make([]byte, 64<<10)...)[:len(c.buf)]
		c.store = c.buf[:0]
	}
	n, err := c.rd.Read(c.buf[len(c.buf):cap(c.buf)])
	if n > 0 {
		c.buf = c.buf[:len(c.buf)+n]
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// SetDeadline sets the read and write deadline.
func (c *Conn) SetDeadline(t time.Time) { _ = c.nc.SetDeadline(t) }

// Request is a request to write.
type Request struct {
	TID      string // random when empty
	Method   string
	ToPath   string
	FromPath string
	Headers  [][2]string // after the paths, before Content-Type
	// ContentType and Body: a body is written when ContentType is set.
	ContentType string
	Body        []byte
	Flag        byte // '$' when zero
}

// Append writes r as a frame.
func (r *Request) Append(dst []byte) []byte {
	if r.TID == "" {
		r.TID = NewTID()
	}
	if r.Flag == 0 {
		r.Flag = '$'
	}
	tid := []byte(r.TID)
	dst = codec.AppendRequestLine(dst, tid, r.Method)
	dst = codec.AppendHeaderString(dst, "To-Path", r.ToPath)
	dst = codec.AppendHeaderString(dst, "From-Path", r.FromPath)
	for _, h := range r.Headers {
		dst = codec.AppendHeaderString(dst, h[0], h[1])
	}
	if r.ContentType == "" {
		return codec.AppendEndLine(dst, tid, r.Flag)
	}
	dst = codec.AppendHeaderString(dst, "Content-Type", r.ContentType)
	dst = append(dst, "\r\n"...)
	dst = append(dst, r.Body...)
	return codec.AppendBodyEnd(dst, tid, r.Flag)
}

// Send writes r.
func (c *Conn) Send(r *Request) error { return c.Write(r.Append(nil)) }

// Respond answers request f with code.
func (c *Conn) Respond(f *Frame, code int, comment string) error {
	to := f.Header("From-Path")
	if f.Method == "SEND" {
		to, _, _ = strings.Cut(to, " ")
	}
	from, _, _ := strings.Cut(f.Header("To-Path"), " ")
	b := codec.AppendResponseLine(nil, []byte(f.TID), code, comment)
	b = codec.AppendHeaderString(b, "To-Path", to)
	b = codec.AppendHeaderString(b, "From-Path", from)
	b = codec.AppendEndLine(b, []byte(f.TID), '$')
	return c.Write(b)
}

// AuthForm is how the Authorization header is written.
type AuthForm int

const (
	// FormRFC: unquoted qop and nc, no uri= (RFC 4976 §9.1).
	FormRFC AuthForm = iota
	// FormMsrplib: quoted qop and nc, no uri=, opaque echoed (python msrplib).
	FormMsrplib
	// FormURI: RFC form plus uri= (what Kamailio's relay needs).
	FormURI
)

// AuthOptions configure Auth.
type AuthOptions struct {
	RelayURI string // the AUTH To-Path: msrp[s]://domain[:port];tcp
	FromURI  string
	User     string
	Password string
	Form     AuthForm
	Expires  int // seconds; 0 sends none
}

// AuthResult is what a successful AUTH returned.
type AuthResult struct {
	UsePath string
	Expires int
	// Challenge and Final are the 401 and the final response.
	Challenge, Final *Frame
}

// ErrAuth is returned when the relay refuses the AUTH.
var ErrAuth = errors.New("AUTH refused")

// Auth runs the AUTH exchange: a bare AUTH, the 401 challenge, the
// authenticated AUTH, the 200 (RFC 4976 §5.1). Other frames arriving
// meanwhile are an error.
func (c *Conn) Auth(o AuthOptions) (*AuthResult, error) {
	res := &AuthResult{}
	req := Request{Method: "AUTH", ToPath: o.RelayURI, FromPath: o.FromURI}
	if o.Expires > 0 {
		req.Headers = append(req.Headers, [2]string{"Expires", strconv.Itoa(o.Expires)})
	}
	ch, err := c.authStep(&req, 401)
	if ch == nil {
		return nil, err
	}
	res.Challenge = ch
	if err != nil {
		return res, err
	}
	a, err := Authorization(o, ch, "00000001")
	if err != nil {
		return res, err
	}
	req2 := Request{Method: "AUTH", ToPath: o.RelayURI, FromPath: o.FromURI, Headers: append(req.Headers[:len(req.Headers):len(req.Headers)], [2]string{"Authorization", a})}
	if res.Final, err = c.authStep(&req2, 200); err != nil {
		return res, err
	}
	res.UsePath = res.Final.Header("Use-Path")
	res.Expires, _ = strconv.Atoi(res.Final.Header("Expires"))
	return res, nil
}

// authStep sends one AUTH and reads its response; a code other than want
// is an ErrAuth error (the response is returned with it). A nil frame means
// the exchange itself failed.
func (c *Conn) authStep(req *Request, want int) (*Frame, error) {
	if err := c.Send(req); err != nil {
		return nil, err
	}
	f, err := c.expectResponse(req.TID)
	if err != nil {
		return nil, err
	}
	if f.Code != want {
		return f, fmt.Errorf("%w: %d %s", ErrAuth, f.Code, f.Comment)
	}
	return f, nil
}

// Authorization answers the 401 challenge ch for o, with nonce count nc
// (eight hex digits) and a fresh cnonce, in o's form.
func Authorization(o AuthOptions, ch *Frame, nc string) (string, error) {
	var d codec.Digest
	if err := codec.ParseDigest([]byte(ch.Header("WWW-Authenticate")), &d); err != nil {
		return "", fmt.Errorf("bad challenge: %w", err)
	}
	realm, nonce, opaque := string(d.Realm), string(d.Nonce), string(d.Opaque)
	cnonce := NewTID()
	uri := lastURI(o.RelayURI)
	resp := digest.ClientResponse(o.User, realm, o.Password, uri, nonce, nc, cnonce)
	a := []byte("Digest ")
	a = codec.AppendDigestParam(a, true, "username", []byte(o.User), true)
	a = codec.AppendDigestParam(a, false, "realm", []byte(realm), true)
	a = codec.AppendDigestParam(a, false, "nonce", []byte(nonce), true)
	if o.Form == FormURI {
		a = codec.AppendDigestParam(a, false, "uri", []byte(uri), true)
	}
	quoted := o.Form == FormMsrplib
	a = codec.AppendDigestParam(a, false, "qop", []byte("auth"), quoted)
	a = codec.AppendDigestParam(a, false, "nc", []byte(nc), quoted)
	a = codec.AppendDigestParam(a, false, "cnonce", []byte(cnonce), true)
	a = codec.AppendDigestParam(a, false, "response", []byte(resp), true)
	if opaque != "" {
		a = codec.AppendDigestParam(a, false, "opaque", []byte(opaque), true)
	}
	return string(a), nil
}

func (c *Conn) expectResponse(tid string) (*Frame, error) {
	f, err := c.ReadFrame()
	if err != nil {
		return nil, err
	}
	if f.Method != "" || f.TID != tid {
		return f, fmt.Errorf("expected the response to %s, got %s %s %d", tid, f.TID, f.Method, f.Code)
	}
	return f, nil
}

func lastURI(path string) string {
	f := strings.Fields(path)
	if len(f) == 0 {
		return ""
	}
	return f[len(f)-1]
}
