package client

import (
	"crypto/tls"
	"net"
	"time"

	"github.com/msrprelay/msrprelay/endpoint"
)

type (
	Frame       = endpoint.Frame
	Conn        = endpoint.Conn
	Request     = endpoint.Request
	AuthForm    = endpoint.AuthForm
	AuthOptions = endpoint.AuthOptions
	AuthResult  = endpoint.AuthResult
)

const (
	FormRFC     = endpoint.FormRFC
	FormMsrplib = endpoint.FormMsrplib
	FormURI     = endpoint.FormURI
)

var ErrAuth = endpoint.ErrAuth

func Dial(addr string, cfg *tls.Config, timeout time.Duration) (*Conn, error) {
	return endpoint.Dial(addr, cfg, timeout)
}

func New(nc net.Conn) *Conn { return endpoint.New(nc) }

func NewTID() string { return endpoint.NewTID() }

func Authorization(o AuthOptions, ch *Frame, nc string) (string, error) {
	return endpoint.Authorization(o, ch, nc)
}
