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
	// The link exists from here, under the cap just taken: whatever ends
	// the dial ends the link, once.
	go s.dial(&link{srv: s, ec: c, dialed: true}, hostport, secure, serverName)
}

func (s *Server) dial(l *link, hostport string, secure bool, serverName string) {
	var nc net.Conn
	defer l.recoverHandOff(&nc)
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.DialTimeout)
	defer cancel()
	d := net.Dialer{}
	nc, err := d.DialContext(ctx, "tcp", hostport)
	if err != nil {
		s.dialFailed(l, nil, err)
		return
	}
	if secure {
		// The next relay proves its name; this relay presents its own
		// certificate (RFC 4976 §9.2).
		sess, err := tlsshim.Client(nc, s.opts.TLS.Client(serverName), s.opts.TLS.HandshakeTimeoutOr(10*time.Second))
		if err != nil {
			s.dialFailed(l, nc, err)
			return
		}
		l.tls = sess
		l.peer = engine.PeerInfo{RelayNames: []string{serverName}}
	}
	if _, err := s.cli.EnrollContext(nc, l); err != nil {
		s.dialFailed(l, nil, err)
	}
}

// dialFailed ends a dialed link that never opened.
func (s *Server) dialFailed(l *link, nc net.Conn, err error) {
	if nc != nil {
		_ = nc.Close()
	}
	if l.st.enrollFailed() {
		defer l.end(nil, -1)
		l.ec.DialFailed(err)
	}
}
