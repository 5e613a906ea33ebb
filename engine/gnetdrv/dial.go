package gnetdrv

import (
	"net"

	"github.com/msrprelay/msrprelay/engine"
	"github.com/msrprelay/msrprelay/engine/netdrv"
)

// Attach implements netdrv.Transport: a connection dialed for ec goes to
// gnet, whose OnOpen attaches it to ec.
func (s *Server) Attach(ec *engine.Conn, c netdrv.Conn) {
	l := &link{srv: s, ec: ec, dialed: true, tls: c.Session, peer: c.Peer}
	nc := c.Socket
	defer l.recoverHandOff(&nc)
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
