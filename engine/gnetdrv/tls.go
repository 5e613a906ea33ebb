package gnetdrv

import (
	"net"
	"time"

	"github.com/msrprelay/msrprelay/engine"
	"github.com/msrprelay/msrprelay/tlsshim"
)

// handshake runs a server handshake off the loops, then enrolls the
// connection. At most cap(s.handshakes) run at once, so a storm of
// handshakes queues here instead of starving forwarding of CPU.
func (s *Server) handshake(nc net.Conn, l *link) {
	s.handshakes <- struct{}{}
	sess, err := tlsshim.Server(nc, s.opts.TLS.Server(), s.opts.TLS.HandshakeTimeoutOr(10*time.Second))
	<-s.handshakes
	if err != nil {
		s.log.Debug().Err(err).Str("remote", nc.RemoteAddr().String()).Msg("TLS handshake failed")
		_ = nc.Close()
		s.caps.Release(l.src)
		return
	}
	l.tls = sess
	l.peer = engine.PeerInfo{RelayNames: tlsshim.VerifyRelay(sess.State(), s.opts.TLS.RelayRoots)}
	s.enroll(nc, l)
}
