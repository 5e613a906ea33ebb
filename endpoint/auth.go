package endpoint

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/msrprelay/msrprelay/codec"
	"github.com/msrprelay/msrprelay/digest"
)

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

// ParseAuthForm reads a form by its name: rfc, msrplib or uri.
func ParseAuthForm(s string) (AuthForm, error) {
	switch s {
	case "rfc":
		return FormRFC, nil
	case "msrplib":
		return FormMsrplib, nil
	case "uri":
		return FormURI, nil
	}
	return 0, fmt.Errorf("auth form must be rfc, msrplib or uri, not %q", s)
}

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
	req := AuthRequest(o, "")
	ch, err := c.authStep(req, 401)
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
	if res.Final, err = c.authStep(AuthRequest(o, a), 200); err != nil {
		return res, err
	}
	res.UsePath = res.Final.Header("Use-Path")
	res.Expires, _ = strconv.Atoi(res.Final.Header("Expires"))
	return res, nil
}

// AuthRequest is the AUTH for o, carrying the Authorization header authz
// unless it is empty (the bare AUTH that asks for a challenge).
func AuthRequest(o AuthOptions, authz string) *Request {
	req := &Request{Method: "AUTH", ToPath: o.RelayURI, FromPath: o.FromURI}
	if o.Expires > 0 {
		req.Headers = append(req.Headers, [2]string{"Expires", strconv.Itoa(o.Expires)})
	}
	if authz != "" {
		req.Headers = append(req.Headers, [2]string{"Authorization", authz})
	}
	return req
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

// Authorization answers the 401 challenge ch for o, with nonce count nc
// (eight hex digits) and a fresh cnonce, in o's form.
func Authorization(o AuthOptions, ch *Frame, nc string) (string, error) {
	var d codec.Digest
	if err := codec.ParseDigest([]byte(ch.Header("WWW-Authenticate")), &d); err != nil {
		return "", fmt.Errorf("bad challenge: %w", err)
	}
	realm, nonce, opaque := string(d.Realm), string(d.Nonce), string(d.Opaque)
	cnonce := NewTID()
	uri := LastURI(o.RelayURI)
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
