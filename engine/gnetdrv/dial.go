package gnetdrv

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"time"

	"github.com/msrprelay/msrprelay/engine"
	"github.com/msrprelay/msrprelay/tlsshim"
)

var errSecureHop = errors.New("msrps next hop: TLS is not configured for outbound connections")

// Dial implements engine.Dialer: resolve and connect off the event loops
// (net.Dialer tries every address the name has, A and AAAA, within the
// timeout), then hand the socket to a loop.
func (s *Server) Dial(c *engine.Conn, hostport string, secure bool, serverName string) {
	if secure && s.opts.TLS == nil {
		c.DialFailed(errSecureHop)
		return
	}
	if !s.caps.Admit(netip.Addr{}) {
		c.DialFailed(errors.New("connection cap reached"))
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), s.opts.DialTimeout)
		defer cancel()
		d := net.Dialer{}
		nc, err := d.DialContext(ctx, "tcp", hostport)
		if err != nil {
			s.caps.Release(netip.Addr{})
			c.DialFailed(err)
			return
		}
		l := &link{srv: s, ec: c, dialed: true}
		if secure {
			// The next relay proves its name; this relay presents its
			// own certificate (RFC 4976 §9.2).
			sess, err := tlsshim.Client(nc, s.opts.TLS.Client(serverName), s.opts.TLS.HandshakeTimeoutOr(10*time.Second))
			if err != nil {
				_ = nc.Close()
				s.caps.Release(netip.Addr{})
				c.DialFailed(err)
				return
			}
			l.tls = sess
			l.peer = engine.PeerInfo{RelayNames: []string{serverName}}
		}
		if _, err := s.cli.EnrollContext(nc, l); err != nil {
			s.caps.Release(netip.Addr{})
			c.DialFailed(err)
		}
	}()
}
