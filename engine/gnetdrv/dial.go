package gnetdrv

import (
	"context"
	"errors"
	"net"

	"github.com/msrprelay/msrprelay/engine"
)

var errSecureHop = errors.New("msrps next hop: TLS is not configured for outbound connections")

// Dial implements engine.Dialer: resolve and connect off the event loops
// (net.Dialer tries every address the name has, A and AAAA, within the
// timeout), then hand the socket to a loop.
func (s *Server) Dial(c *engine.Conn, hostport string, secure bool, serverName string) {
	if secure {
		c.DialFailed(errSecureHop)
		return
	}
	if s.opts.MaxConns > 0 && s.conns.Load() >= int64(s.opts.MaxConns) {
		c.DialFailed(errors.New("connection cap reached"))
		return
	}
	s.conns.Add(1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), s.opts.DialTimeout)
		defer cancel()
		d := net.Dialer{}
		nc, err := d.DialContext(ctx, "tcp", hostport)
		if err != nil {
			s.conns.Add(-1)
			c.DialFailed(err)
			return
		}
		l := &link{srv: s, ec: c, dialed: true}
		if _, err := s.cli.EnrollContext(nc, l); err != nil {
			s.conns.Add(-1)
			c.DialFailed(err)
		}
	}()
}
